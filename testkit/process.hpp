#pragma once
// A child process for tests and benchmarks: started with fork + exec, stopped by its PID
// (SIGTERM, then SIGKILL after a bound) by stop() or the destructor at the latest.

#include <sys/types.h>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

namespace ccp::testkit {

struct spawn_options {
  // A file that takes the child's stdout and stderr (created, appended to). Empty: see quiet.
  std::string log;
  // Without a log: true sends stdout and stderr to /dev/null, false leaves them the caller's.
  bool quiet = false;
  // Sent to the child when the thread that started it ends (PR_SET_PDEATHSIG), so that a
  // crashed test or benchmark leaves no process behind; 0: none.
  int parent_death_signal = 0;
};

class process {
 public:
  // Starts `argv` (argv[0] a path; stdin is /dev/null). Throws std::runtime_error naming
  // argv[0] when it cannot fork or exec.
  process(std::vector<std::string> argv, spawn_options options);
  // The same with stdout and stderr appended to the file `log`.
  process(std::vector<std::string> argv, std::string log);
  ~process();
  process(const process&) = delete;
  process& operator=(const process&) = delete;

  // Sends `sig` (SIGKILL for a crash, SIGTERM for a graceful stop, SIGSTOP/SIGCONT for a
  // hung one) unless it has been reaped.
  void signal(int sig);
  // Waits up to `bound` for the exit; its status (WEXITSTATUS, or 128+signal), or nullopt.
  std::optional<int> wait(std::chrono::milliseconds bound);
  // SIGTERM, then SIGKILL when still running after `bound`.
  void stop(std::chrono::milliseconds bound = std::chrono::seconds(3));
  // SIGKILL, and waits until it is reaped.
  void kill();
  [[nodiscard]] bool running();
  [[nodiscard]] pid_t pid() const noexcept { return pid_; }
  [[nodiscard]] std::string output() const;  // the log so far; empty without one
  [[nodiscard]] const std::vector<std::string>& argv() const noexcept { return argv_; }

 private:
  std::vector<std::string> argv_;
  std::string log_;
  pid_t pid_ = -1;
  std::optional<int> status_;
};

}  // namespace ccp::testkit
