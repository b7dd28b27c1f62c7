#pragma once
// A real nats-server for tests and benchmarks: started on 127.0.0.1 on a free port, stopped
// by its PID (SIGTERM, then SIGKILL after a bound) by stop() or the destructor. Needs the
// `nats-server` binary in $CCP_NATS_SERVER, on PATH or in /usr/sbin
// (scripts/install-deps.sh installs it). The server dies with the thread that started it,
// so a crashed run leaves none behind.

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "testkit/process.hpp"

namespace ccp::testkit {

class nats_server {
 public:
  // Starts the server and waits (bounded) until it accepts connections. Throws
  // std::runtime_error naming the cause when it cannot. `config`: the text of a
  // configuration file for it (such as "max_payload: 4096"), written to a temporary file
  // that the destructor removes; empty for none. `args`: more command-line options, after
  // `-a 127.0.0.1 -p PORT` (such as a cluster's `--cluster URL --routes URL,...`), kept for
  // restart(); they leave no file behind even when the caller is killed.
  explicit nats_server(const std::string& config = {}, std::vector<std::string> args = {});
  ~nats_server();
  nats_server(const nats_server&) = delete;
  nats_server& operator=(const nats_server&) = delete;

  [[nodiscard]] int port() const noexcept { return port_; }
  [[nodiscard]] std::string url() const;  // nats://127.0.0.1:PORT

  // Stops the server as the destructor does (SIGTERM, then SIGKILL after 5 s), for a caller
  // that will not run it (one that leaves with _Exit).
  void stop();
  // Kills the server (SIGKILL) and waits for it; the port stays reserved for restart().
  void kill();
  // Starts it again on the same port and waits until it accepts connections.
  void restart(std::chrono::milliseconds bound = std::chrono::seconds(10));
  // Replaces the text of the configuration file of a server started with one; the next
  // restart() reads it (a server reconfigured under its clients). Throws when it cannot.
  void set_config(const std::string& config);
  [[nodiscard]] bool running() const noexcept { return server_ != nullptr; }
  // Stops the server (SIGSTOP) without closing anything: it reads and answers nothing until
  // resume() (SIGCONT), as a hung server would.
  void pause();
  void resume();

 private:
  void start(std::chrono::milliseconds bound);
  int port_ = 0;
  std::unique_ptr<process> server_;  // null when not running
  std::string config_path_;          // empty: no configuration file
  std::vector<std::string> args_;    // more command-line options
};

}  // namespace ccp::testkit
