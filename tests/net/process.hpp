#pragma once
// A child process for integration tests: started with posix_spawn, output to a log file,
// stopped (SIGTERM, then SIGKILL after a bound) by the destructor at the latest.

#include <sys/types.h>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

namespace ccp::test {

class process {
 public:
  // Starts `argv` (argv[0] a path). Output (stdout and stderr) goes to `log`. Throws
  // std::runtime_error when it cannot start.
  process(std::vector<std::string> argv, std::string log);
  ~process();
  process(const process&) = delete;
  process& operator=(const process&) = delete;

  // Sends `sig` (SIGKILL for a crash, SIGTERM for a graceful stop).
  void signal(int sig);
  // Waits up to `bound` for the exit; its status (WEXITSTATUS, or 128+signal), or nullopt.
  std::optional<int> wait(std::chrono::milliseconds bound);
  // SIGTERM, then SIGKILL when still running after `bound`.
  void stop(std::chrono::milliseconds bound = std::chrono::seconds(3));
  [[nodiscard]] bool running();
  [[nodiscard]] std::string output() const;  // the log so far
  [[nodiscard]] const std::vector<std::string>& argv() const noexcept { return argv_; }

 private:
  std::vector<std::string> argv_;
  std::string log_;
  pid_t pid_ = -1;
  std::optional<int> status_;
};

// A TCP port on 127.0.0.1 that was free a moment ago.
int free_port();

}  // namespace ccp::test
