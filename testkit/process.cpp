#include "testkit/process.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>
#include <utility>

namespace ccp::testkit {
namespace {

// How often wait() looks whether the child has exited.
constexpr auto poll_step = std::chrono::milliseconds(10);
// After SIGKILL the kernel ends a process at once; this only bounds a wait for a zombie
// that is not ours any more.
constexpr auto kill_bound = std::chrono::seconds(5);

std::runtime_error start_error(const std::string& what, const std::string& why) {
  return std::runtime_error("cannot start " + what + ": " + why);
}

}  // namespace

process::process(std::vector<std::string> argv, std::string log)
    : process(std::move(argv), spawn_options{std::move(log), false, 0}) {}

process::process(std::vector<std::string> argv, spawn_options options)
    : argv_(std::move(argv)), log_(std::move(options.log)) {
  if (argv_.empty()) throw std::runtime_error("cannot start a process without argv");
  // Everything the child needs is prepared here: after fork it only calls async-signal-safe
  // functions (the parent may have other threads holding locks).
  std::vector<char*> args;
  for (auto& a : argv_)
    args.push_back(a.data());
  args.push_back(nullptr);
  const char* log_path = log_.empty() ? nullptr : log_.c_str();
  const bool quiet = options.quiet;
  const int death_signal = options.parent_death_signal;
  // The child reports a failed exec through this pipe (closed on a successful exec).
  int report[2];
  if (::pipe2(report, O_CLOEXEC) != 0) throw start_error(argv_[0], std::strerror(errno));
  const pid_t parent = ::getpid();

  const pid_t pid = ::fork();
  if (pid < 0) {
    const int e = errno;
    ::close(report[0]);
    ::close(report[1]);
    throw start_error(argv_[0], "fork: " + std::string(std::strerror(e)));
  }
  if (pid == 0) {
    ::close(report[0]);
    if (death_signal != 0) {
      ::prctl(PR_SET_PDEATHSIG, death_signal);
      if (::getppid() != parent) ::_exit(127);  // the parent is already gone
    }
    const int null = ::open("/dev/null", O_RDWR);
    if (null >= 0) ::dup2(null, STDIN_FILENO);
    if (log_path != nullptr) {
      const int out = ::open(log_path, O_WRONLY | O_CREAT | O_APPEND, 0644);
      if (out >= 0) {
        ::dup2(out, STDOUT_FILENO);
        ::dup2(out, STDERR_FILENO);
        if (out > STDERR_FILENO) ::close(out);
      }
    } else if (quiet && null >= 0) {
      ::dup2(null, STDOUT_FILENO);
      ::dup2(null, STDERR_FILENO);
    }
    if (null > STDERR_FILENO) ::close(null);
    ::execv(args[0], args.data());
    const int e = errno;
    (void)!::write(report[1], &e, sizeof e);
    ::_exit(127);
  }

  ::close(report[1]);
  int e = 0;
  ssize_t n = 0;
  do {
    n = ::read(report[0], &e, sizeof e);
  } while (n < 0 && errno == EINTR);
  ::close(report[0]);
  pid_ = pid;
  if (n == static_cast<ssize_t>(sizeof e)) {
    kill();
    throw start_error(argv_[0], std::strerror(e));
  }
}

process::~process() {
  stop();
}

void process::signal(int sig) {
  if (pid_ > 0 && !status_) ::kill(pid_, sig);
}

std::optional<int> process::wait(std::chrono::milliseconds bound) {
  if (status_ || pid_ <= 0) return status_;
  const auto until = std::chrono::steady_clock::now() + bound;
  for (;;) {
    int st = 0;
    const pid_t r = ::waitpid(pid_, &st, WNOHANG);
    if (r == pid_) {
      status_ = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
      return status_;
    }
    if (r < 0 || std::chrono::steady_clock::now() >= until) return std::nullopt;
    std::this_thread::sleep_for(poll_step);
  }
}

void process::stop(std::chrono::milliseconds bound) {
  if (pid_ <= 0 || status_) return;
  signal(SIGTERM);
  if (!wait(bound)) kill();
}

void process::kill() {
  if (pid_ <= 0 || status_) return;
  signal(SIGKILL);
  (void)wait(kill_bound);
}

bool process::running() {
  return pid_ > 0 && !wait(std::chrono::milliseconds(0));
}

std::string process::output() const {
  if (log_.empty()) return {};
  std::ifstream in(log_);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace ccp::testkit
