#include "app/real_netns.hpp"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "testkit/process.hpp"

namespace ccp::app {
namespace {

bool exists(const std::string& ns) {
  return std::filesystem::exists("/run/netns/" + ns);
}
bool link_exists(const std::string& veth) {
  return std::filesystem::exists("/sys/class/net/" + veth);
}
// Whether a shell inside `s` connects to host:port within 1 s.
bool reaches_from(const real_netns& n, const real_netns::space& s, const std::string& host,
                  int port) {
  std::vector<std::string> argv = n.exec_prefix(s);
  for (std::string a : {"timeout", "1", "bash", "-c"})
    argv.push_back(a);
  argv.push_back("exec 3<>/dev/tcp/" + host + "/" + std::to_string(port));
  testkit::spawn_options o;
  o.quiet = true;
  testkit::process p(argv, o);
  return p.wait(std::chrono::seconds(5)) == 0;
}

TEST(RealNetns, InsideUrlPointsLoopbackAtTheRootSide) {
  real_netns::space s{"ccp-1-p0", "ccp1p0", "10.201.0.2", "10.201.0.1"};
  EXPECT_EQ(real_netns::inside_url(s, "nats://127.0.0.1:4222"), "nats://10.201.0.1:4222");
  EXPECT_EQ(real_netns::inside_url(s, "ws://127.0.0.1:1/,ws://127.0.0.1:2/"),
            "ws://10.201.0.1:1/,ws://10.201.0.1:2/");
  EXPECT_EQ(real_netns::inside_url(s, "inproc://real-hosts"), "inproc://real-hosts");
}

// As root with ip and nft: a namespace reaches the machine's loopback through its root
// side until it is cut from that port, and nothing of it is left after remove().
TEST(RealNetns, ReachesLoopbackUntilCutAndLeavesNothing) {
  if (!real_netns::unavailable().empty()) GTEST_SKIP() << real_netns::unavailable();
  const std::string dir = ::testing::TempDir();
  real_netns n(dir);
  const real_netns::space s = n.add("t1");
  EXPECT_TRUE(exists(s.name));
  EXPECT_TRUE(link_exists(s.veth));
  // A listener on 127.0.0.1 of the machine (this process's namespace).
  testkit::spawn_options o;
  o.quiet = true;
  testkit::process server({"/usr/bin/python3", "-c",
                           "import socket,time\n"
                           "s=socket.socket();s.bind(('127.0.0.1',0));s.listen()\n"
                           "open('" +
                               dir +
                               "/port','w').write(str(s.getsockname()[1]))\n"
                               "while True: s.accept()\n"},
                          o);
  int p = 0;
  for (int k = 0; k < 100 && p == 0; ++k) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    std::ifstream in(dir + "/port");
    in >> p;
  }
  ASSERT_GT(p, 0);
  EXPECT_TRUE(reaches_from(n, s, s.outside, p));
  n.cut(s, p);
  EXPECT_FALSE(reaches_from(n, s, s.outside, p));
  n.uncut(s);
  EXPECT_TRUE(reaches_from(n, s, s.outside, p));
  n.remove();
  EXPECT_FALSE(exists(s.name));
  EXPECT_FALSE(link_exists(s.veth));
  std::filesystem::remove(dir + "/port");
}

// A namespace named after a PID that is no live ccp is stale: removed, and named.
TEST(RealNetns, CleansWhatAGoneRunLeft) {
  if (!real_netns::unavailable().empty()) GTEST_SKIP() << real_netns::unavailable();
  const pid_t gone = ::fork();
  if (gone == 0) ::_exit(0);
  ASSERT_GT(gone, 0);
  ::waitpid(gone, nullptr, 0);
  const std::string ns = "ccp-" + std::to_string(gone) + "-p7";
  testkit::spawn_options o;
  o.quiet = true;
  ASSERT_EQ(testkit::process({"/usr/sbin/ip", "netns", "add", ns}, o).wait(std::chrono::seconds(5)),
            0);
  const auto removed = real_netns::clean_stale();
  EXPECT_NE(std::find(removed.begin(), removed.end(), "namespace " + ns), removed.end());
  EXPECT_FALSE(exists(ns));
}

}  // namespace
}  // namespace ccp::app
