#pragma once
// A real nats-server for tests: started on 127.0.0.1 on a free port, stopped (SIGTERM,
// then SIGKILL after a bound) by the destructor. Needs the `nats-server` binary on PATH
// (scripts/install-deps.sh installs it) or in $CCP_NATS_SERVER.

#include <sys/types.h>

#include <chrono>
#include <string>

namespace ccp::test {

class nats_server {
 public:
  // Starts the server and waits (bounded) until it accepts connections. Throws
  // std::runtime_error naming the cause when it cannot. `config`: the text of a
  // configuration file for it (such as "max_payload: 4096"), written to a temporary file
  // that the destructor removes; empty for none.
  explicit nats_server(const std::string& config = {});
  ~nats_server();
  nats_server(const nats_server&) = delete;
  nats_server& operator=(const nats_server&) = delete;

  [[nodiscard]] int port() const noexcept { return port_; }
  [[nodiscard]] std::string url() const;  // nats://127.0.0.1:PORT

  // Kills the server (SIGKILL) and waits for it; the port stays reserved for restart().
  void kill();
  // Starts it again on the same port and waits until it accepts connections.
  void restart(std::chrono::milliseconds bound = std::chrono::seconds(10));
  // Replaces the text of the configuration file of a server started with one; the next
  // restart() reads it (a server reconfigured under its clients). Throws when it cannot.
  void set_config(const std::string& config);
  [[nodiscard]] bool running() const noexcept { return pid_ > 0; }
  // Stops the server (SIGSTOP) without closing anything: it reads and answers nothing until
  // resume() (SIGCONT), as a hung server would.
  void pause();
  void resume();

 private:
  void start(std::chrono::milliseconds bound);
  int port_ = 0;
  pid_t pid_ = -1;
  std::string config_path_;  // empty: no configuration file
};

}  // namespace ccp::test
