#include "testkit/nats_server.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "testkit/port.hpp"

namespace ccp::testkit {
namespace {

// After SIGTERM nats-server shuts down in milliseconds; past this bound it gets SIGKILL.
constexpr auto term_bound = std::chrono::seconds(5);
// Startup bound of the constructor (restart() takes its own).
constexpr auto start_bound = std::chrono::seconds(10);
constexpr auto poll_step = std::chrono::milliseconds(10);

std::runtime_error sys_error(const std::string& what) {
  return std::runtime_error("nats_server: " + what + ": " + std::strerror(errno));
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

// Writes all of `text` to `fd` and closes it; false when the write fell short.
bool write_and_close(int fd, const std::string& text) {
  const bool written = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
  ::close(fd);
  return written;
}

}  // namespace

nats_server::nats_server(const std::string& config, std::vector<std::string> args)
    : args_(std::move(args)) {
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
  stop();
}

std::string nats_server::url() const {
  return "nats://127.0.0.1:" + std::to_string(port_);
}

void nats_server::stop() {
  if (!server_) return;
  server_->stop(std::chrono::duration_cast<std::chrono::milliseconds>(term_bound));
  server_.reset();
}

void nats_server::kill() {
  if (!server_) return;
  server_->kill();
  server_.reset();
}

void nats_server::pause() {
  if (server_) server_->signal(SIGSTOP);
}

void nats_server::resume() {
  if (server_) server_->signal(SIGCONT);
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
  args.insert(args.end(), args_.begin(), args_.end());
  // Dies with the test process (if it crashes, no orphaned server keeps the port; strictly,
  // with the thread that started it, which for a GoogleTest fixture is the main thread), and
  // keeps the test's output clean.
  spawn_options options;
  options.quiet = true;
  options.parent_death_signal = SIGKILL;
  server_ = std::make_unique<process>(std::move(args), std::move(options));

  const auto deadline = std::chrono::steady_clock::now() + bound;
  while (true) {
    if (accepts(port_)) return;
    if (const auto status = server_->wait(std::chrono::milliseconds(0))) {
      server_.reset();
      throw std::runtime_error("nats_server: " + binary + " exited at start on port " + port +
                               " (status " + std::to_string(*status) + "; port taken?)");
    }
    if (std::chrono::steady_clock::now() >= deadline) {
      server_->kill();
      server_.reset();
      throw std::runtime_error("nats_server: " + binary + " did not accept connections on port " +
                               port + " within " + std::to_string(bound.count()) + " ms");
    }
    std::this_thread::sleep_for(poll_step);
  }
}

}  // namespace ccp::testkit
