#pragma once
// ccp_e2e_bench's processes: nats-server and the agents' child. Started with fork + exec; the
// child asks the kernel for SIGTERM when the thread that started it dies, so nothing
// outlives a crashed run.

#include <sys/types.h>

#include <memory>
#include <string>
#include <vector>

namespace ccp::e2e {

// A TCP port on 127.0.0.1 that was free a moment ago. Throws std::runtime_error.
int free_port();
// Whether something accepts connections on 127.0.0.1:port.
bool accepts(int port);

class child_process {
 public:
  // Runs `argv[0]` (a path, or a name looked up on PATH) with `argv`; `quiet` sends its
  // stdout and stderr to /dev/null. Throws std::runtime_error when it cannot fork.
  explicit child_process(std::vector<std::string> argv, bool quiet = false);
  ~child_process() { stop(); }
  child_process(const child_process&) = delete;
  child_process& operator=(const child_process&) = delete;

  [[nodiscard]] bool exited();
  // SIGTERM, then SIGKILL after 5 s.
  void stop();

 private:
  pid_t pid_ = -1;
};

// Starts `nats-server -a 127.0.0.1 -p <free port>` ($CCP_NATS_SERVER, else from PATH), sets
// `port` and waits (up to 10 s) until it accepts connections. Throws std::runtime_error.
std::unique_ptr<child_process> start_nats_server(int& port);

}  // namespace ccp::e2e
