#include "tests/net/nats_server.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace ccp::test {
namespace {

// After SIGTERM nats-server shuts down in milliseconds; past this bound it gets SIGKILL.
constexpr auto term_bound = std::chrono::seconds(5);
// Startup bound of the constructor (restart() takes its own).
constexpr auto start_bound = std::chrono::seconds(10);
constexpr auto poll_step = std::chrono::milliseconds(10);

std::runtime_error sys_error(const std::string& what) {
  return std::runtime_error("nats_server: " + what + ": " + std::strerror(errno));
}

// A closing RAII for a socket descriptor.
struct fd_closer {
  int fd;
  ~fd_closer() {
    if (fd >= 0) ::close(fd);
  }
};

sockaddr_in loopback(int port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<std::uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return a;
}

// A port that was free a moment ago: bind port 0, read it back, release it. The server
// binds it next; another process taking it in between makes the start fail loudly.
int free_port() {
  fd_closer s{::socket(AF_INET, SOCK_STREAM, 0)};
  if (s.fd < 0) throw sys_error("socket");
  sockaddr_in a = loopback(0);
  if (::bind(s.fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) throw sys_error("bind");
  socklen_t len = sizeof a;
  if (::getsockname(s.fd, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
    throw sys_error("getsockname");
  }
  return ntohs(a.sin_port);
}

bool accepts(int port) {
  fd_closer s{::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)};
  if (s.fd < 0) return false;
  sockaddr_in a = loopback(port);
  return ::connect(s.fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
}

bool executable(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode) && ::access(path.c_str(), X_OK) == 0;
}

// $CCP_NATS_SERVER, else `nats-server` on PATH, else Debian's /usr/sbin (often not on a
// non-root PATH). Resolved before fork: the child only calls async-signal-safe functions.
std::string server_binary() {
  if (const char* env = std::getenv("CCP_NATS_SERVER"); env != nullptr && *env != '\0') {
    if (!executable(env)) {
      throw std::runtime_error(std::string("nats_server: $CCP_NATS_SERVER '") + env +
                               "' is not an executable file");
    }
    return env;
  }
  std::vector<std::string> dirs;
  if (const char* path = std::getenv("PATH"); path != nullptr) {
    std::string p = path;
    std::size_t start = 0;
    while (start <= p.size()) {
      const auto colon = p.find(':', start);
      const auto end = colon == std::string::npos ? p.size() : colon;
      if (end > start) dirs.push_back(p.substr(start, end - start));
      start = end + 1;
    }
  }
  dirs.emplace_back("/usr/sbin");
  dirs.emplace_back("/usr/local/sbin");
  for (const auto& d : dirs) {
    std::string candidate = d + "/nats-server";
    if (executable(candidate)) return candidate;
  }
  throw std::runtime_error(
      "nats_server: nats-server not found on PATH nor in /usr/sbin; install it "
      "(scripts/install-deps.sh) or set $CCP_NATS_SERVER");
}

// Waits for `pid` to exit, up to `bound`; true when it has been reaped.
bool reap_within(pid_t pid, std::chrono::milliseconds bound) {
  const auto deadline = std::chrono::steady_clock::now() + bound;
  while (true) {
    const pid_t r = ::waitpid(pid, nullptr, WNOHANG);
    if (r == pid || (r < 0 && errno == ECHILD)) return true;
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(poll_step);
  }
}

// Writes all of `text` to `fd` and closes it; false when the write fell short.
bool write_and_close(int fd, const std::string& text) {
  const bool written = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
  ::close(fd);
  return written;
}

void kill_and_reap(pid_t pid) {
  ::kill(pid, SIGKILL);
  while (::waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {
  }
}

}  // namespace

nats_server::nats_server(const std::string& config) {
  if (!config.empty()) {
    std::string path = "/tmp/ccp-nats-test-XXXXXX.conf";
    const int fd = ::mkstemps(path.data(), 5);
    if (fd < 0) throw sys_error("mkstemps");
    const bool written = write_and_close(fd, config);
    config_path_ = path;
    if (!written) {
      ::unlink(config_path_.c_str());
      throw std::runtime_error("nats_server: cannot write " + config_path_);
    }
  }
  port_ = free_port();
  try {
    start(std::chrono::duration_cast<std::chrono::milliseconds>(start_bound));
  } catch (...) {
    if (!config_path_.empty()) ::unlink(config_path_.c_str());
    throw;
  }
}

nats_server::~nats_server() {
  if (!config_path_.empty()) ::unlink(config_path_.c_str());
  if (pid_ <= 0) return;
  ::kill(pid_, SIGTERM);
  if (!reap_within(pid_, std::chrono::duration_cast<std::chrono::milliseconds>(term_bound))) {
    kill_and_reap(pid_);
  }
  pid_ = -1;
}

std::string nats_server::url() const {
  return "nats://127.0.0.1:" + std::to_string(port_);
}

void nats_server::kill() {
  if (pid_ <= 0) return;
  kill_and_reap(pid_);
  pid_ = -1;
}

void nats_server::pause() {
  if (pid_ > 0) ::kill(pid_, SIGSTOP);
}

void nats_server::resume() {
  if (pid_ > 0) ::kill(pid_, SIGCONT);
}

void nats_server::restart(std::chrono::milliseconds bound) {
  kill();
  start(bound);
}

void nats_server::set_config(const std::string& config) {
  if (config_path_.empty())
    throw std::runtime_error("nats_server: set_config needs a server started with a config");
  const int fd = ::open(config_path_.c_str(), O_WRONLY | O_TRUNC);
  if (fd < 0) throw sys_error("open " + config_path_);
  if (!write_and_close(fd, config))
    throw std::runtime_error("nats_server: cannot write " + config_path_);
}

void nats_server::start(std::chrono::milliseconds bound) {
  const std::string binary = server_binary();
  const std::string port = std::to_string(port_);
  std::vector<std::string> args = {binary, "-a", "127.0.0.1", "-p", port};
  if (!config_path_.empty()) args.insert(args.end(), {"-c", config_path_});
  std::vector<char*> argv;
  for (auto& a : args)
    argv.push_back(a.data());
  argv.push_back(nullptr);
  const pid_t parent = ::getpid();

  const pid_t pid = ::fork();
  if (pid < 0) throw sys_error("fork");
  if (pid == 0) {
    // Child: async-signal-safe calls only. Die with the test process (if it crashes, no
    // orphaned server keeps the port; strictly, with the thread that forked, which for a
    // GoogleTest fixture is the main thread), and keep the test's output clean.
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(127);
    const int null = ::open("/dev/null", O_RDWR);
    if (null >= 0) {
      ::dup2(null, STDIN_FILENO);
      ::dup2(null, STDOUT_FILENO);
      ::dup2(null, STDERR_FILENO);
      if (null > STDERR_FILENO) ::close(null);
    }
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  pid_ = pid;

  const auto deadline = std::chrono::steady_clock::now() + bound;
  while (true) {
    if (accepts(port_)) return;
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      throw std::runtime_error("nats_server: " + binary + " exited at start on port " + port +
                               " (status " + std::to_string(status) + "; port taken?)");
    }
    if (std::chrono::steady_clock::now() >= deadline) {
      kill_and_reap(pid_);
      pid_ = -1;
      throw std::runtime_error("nats_server: " + binary + " did not accept connections on port " +
                               port + " within " + std::to_string(bound.count()) + " ms");
    }
    std::this_thread::sleep_for(poll_step);
  }
}

}  // namespace ccp::test
