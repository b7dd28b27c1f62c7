// The daemons' signals and systemd readiness as real processes (the ccp binary) with a real
// nats-server on 127.0.0.1: READY=1 and STOPPING=1 reach $NOTIFY_SOCKET (Type=notify
// units), SIGHUP reads the proxy's tokens file again (a token added lets its agent in, a
// file that no longer parses keeps the table in force), and SIGTERM to an agent is a goodbye.
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <csignal>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "testkit/eventually.hpp"
#include "testkit/nats_server.hpp"
#include "testkit/port.hpp"
#include "testkit/process.hpp"

namespace ccp {
namespace {

using namespace std::chrono_literals;
using testkit::eventually;
using testkit::nats_server;
using testkit::process;

std::string read_all(const std::filesystem::path& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Whether one line of `log` holds every one of `parts`.
bool has_line(const std::string& log, std::initializer_list<std::string_view> parts) {
  std::istringstream in(log);
  for (std::string line; std::getline(in, line);) {
    bool all = true;
    for (std::string_view p : parts)
      all = all && line.find(p) != std::string::npos;
    if (all) return true;
  }
  return false;
}

void write_file(const std::filesystem::path& path, const std::string& text) {
  std::ofstream out(path, std::ios::trunc);
  out << text;
}

// A datagram socket bound at a path, as systemd's notification socket is.
class notify_socket {
 public:
  explicit notify_socket(std::filesystem::path path) : path_(std::move(path)) {
    fd_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_un sa{};
    sa.sun_family = AF_UNIX;
    std::strncpy(sa.sun_path, path_.c_str(), sizeof sa.sun_path - 1);
    if (fd_ < 0 || ::bind(fd_, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0)
      throw std::runtime_error("cannot bind " + path_.string() + ": " + std::strerror(errno));
  }
  ~notify_socket() {
    ::close(fd_);
    std::filesystem::remove(path_);
  }
  notify_socket(const notify_socket&) = delete;
  notify_socket& operator=(const notify_socket&) = delete;

  // The next datagram within `bound`; empty when none came.
  std::string next(std::chrono::milliseconds bound) {
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(bound.count())) != 1) return {};
    char buf[512];
    const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
    return n > 0 ? std::string(buf, static_cast<std::size_t>(n)) : std::string();
  }
  [[nodiscard]] const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
  int fd_ = -1;
};

class DaemonSignals : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("ccp-signals-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(dir_);
    nats_ = std::make_unique<nats_server>();
    port_ = testkit::free_port();
  }
  void TearDown() override {
    agents_.clear();
    proxy_.reset();
    nats_.reset();
    if (!HasFailure()) std::filesystem::remove_all(dir_);
  }

  std::vector<std::string> proxy_argv() const {
    return {CCP_BINARY,   "proxy",
            "--address",  "ccp://proxy/127.0.0.1/p1",
            "--listen",   "127.0.0.1:" + std::to_string(port_),
            "--backbone", nats_->url(),
            "--tokens",   (dir_ / "tokens.json").string()};
  }
  void start_agent(const std::string& host, const std::string& token) {
    write_file(dir_ / ("token-" + host), token);
    agents_.push_back(std::make_unique<process>(
        std::vector<std::string>{CCP_BINARY, "agent", "--address", "ccp://agent/" + host + "/a",
                                 "--proxy", "ws://127.0.0.1:" + std::to_string(port_) + "/",
                                 "--token-file", (dir_ / ("token-" + host)).string(), "--host-bus",
                                 nats_->url()},
        (dir_ / ("agent-" + host + ".log")).string()));
  }
  static std::string attached(const std::string& host) {
    return "attached self=ccp://proxy/127.0.0.1/p1 peer=ccp://agent/" + host + "/a";
  }
  std::string proxy_log() const { return read_all(dir_ / "proxy.log"); }

  std::filesystem::path dir_;
  std::unique_ptr<nats_server> nats_;
  int port_ = 0;
  std::unique_ptr<process> proxy_;
  std::vector<std::unique_ptr<process>> agents_;
};

TEST_F(DaemonSignals, ProxyTellsSystemdItIsReadyAndThenStopping) {
  notify_socket sock(dir_ / "notify");
  write_file(dir_ / "tokens.json", R"({"10.0.0.1":"t1"})");
  auto argv = proxy_argv();
  argv.insert(argv.begin(), {"/usr/bin/env", "NOTIFY_SOCKET=" + sock.path().string()});
  proxy_ = std::make_unique<process>(argv, (dir_ / "proxy.log").string());
  EXPECT_EQ(sock.next(10s), "READY=1") << proxy_log();
  proxy_->signal(SIGTERM);
  EXPECT_EQ(sock.next(10s), "STOPPING=1") << proxy_log();
  EXPECT_EQ(proxy_->wait(10s), 0) << proxy_log();
}

TEST_F(DaemonSignals, SighupReadsTheTokensFileAgainAndABrokenFileKeepsTheTable) {
  write_file(dir_ / "tokens.json", R"({"10.0.0.1":"t1"})");
  proxy_ = std::make_unique<process>(proxy_argv(), (dir_ / "proxy.log").string());
  start_agent("10.0.0.1", "t1");
  start_agent("10.0.0.2", "t2");  // not in the table yet
  ASSERT_TRUE(
      eventually([&] { return proxy_log().find(attached("10.0.0.1")) != std::string::npos; }, 15s))
      << proxy_log();
  ASSERT_TRUE(eventually(
      [&] {
        return has_line(proxy_log(), {"agent refused self=ccp://proxy/127.0.0.1/p1",
                                      "agent=ccp://agent/10.0.0.2/a"});
      },
      15s))
      << proxy_log();
  EXPECT_EQ(proxy_log().find(attached("10.0.0.2")), std::string::npos);

  // A broken file: the proxy says so and keeps the table (10.0.0.2 stays out, 10.0.0.3
  // with a token of the new, unread file too).
  write_file(dir_ / "tokens.json", R"({"10.0.0.1":"t1", "10.0.0.2":)");
  proxy_->signal(SIGHUP);
  ASSERT_TRUE(
      eventually([&] { return proxy_log().find("tokens not reloaded") != std::string::npos; }, 10s))
      << proxy_log();
  EXPECT_NE(proxy_log().find("tokens.json"), std::string::npos) << proxy_log();

  // The token added: SIGHUP lets the agent in at its next hello (its backoff is at most
  // 10 s), and the agent attached before stays.
  write_file(dir_ / "tokens.json", R"({"10.0.0.1":"t1", "10.0.0.2":"t2"})");
  proxy_->signal(SIGHUP);
  ASSERT_TRUE(
      eventually([&] { return proxy_log().find("tokens reloaded") != std::string::npos; }, 10s))
      << proxy_log();
  EXPECT_NE(proxy_log().find("tokens=2"), std::string::npos) << proxy_log();
  EXPECT_TRUE(
      eventually([&] { return proxy_log().find(attached("10.0.0.2")) != std::string::npos; }, 25s))
      << proxy_log();
  EXPECT_EQ(proxy_log().find("detached self=ccp://proxy/127.0.0.1/p1 peer=ccp://agent/10.0.0.1"),
            std::string::npos)
      << proxy_log();
  EXPECT_TRUE(proxy_->running()) << proxy_log();
}

TEST_F(DaemonSignals, AnEmptyTokensFileAtStartAcceptsNoAgentUntilReloaded) {
  write_file(dir_ / "tokens.json", "{}");
  proxy_ = std::make_unique<process>(proxy_argv(), (dir_ / "proxy.log").string());
  start_agent("10.0.0.5", "t5");
  ASSERT_TRUE(eventually(
      [&] {
        return has_line(proxy_log(), {"agent refused self=ccp://proxy/127.0.0.1/p1",
                                      "agent=ccp://agent/10.0.0.5/a"});
      },
      15s))
      << proxy_log();
  write_file(dir_ / "tokens.json", R"({"ccp://agent/10.0.0.5/a":"t5"})");
  proxy_->signal(SIGHUP);
  EXPECT_TRUE(
      eventually([&] { return proxy_log().find(attached("10.0.0.5")) != std::string::npos; }, 25s))
      << proxy_log();
}

// A planned stop of an agent (a package upgrade) is a goodbye, not a lost link: the proxy
// withdraws the host's routes at once instead of waiting the agent out.
TEST_F(DaemonSignals, AnAgentStoppedBySigtermSaysGoodbyeBeforeItExits) {
  write_file(dir_ / "tokens.json", R"({"10.0.0.1":"t1"})");
  proxy_ = std::make_unique<process>(proxy_argv(), (dir_ / "proxy.log").string());
  start_agent("10.0.0.1", "t1");
  ASSERT_TRUE(
      eventually([&] { return proxy_log().find(attached("10.0.0.1")) != std::string::npos; }, 15s))
      << proxy_log();
  agents_[0]->signal(SIGTERM);
  EXPECT_EQ(agents_[0]->wait(10s), 0);
  EXPECT_TRUE(eventually(
      [&] {
        return has_line(proxy_log(), {"detached self=ccp://proxy/127.0.0.1/p1",
                                      "peer=ccp://agent/10.0.0.1/a", "reason=goodbye"});
      },
      5s))
      << proxy_log();
  EXPECT_FALSE(has_line(proxy_log(), {"link lost", "peer=ccp://agent/10.0.0.1/a"})) << proxy_log();
}

}  // namespace
}  // namespace ccp
