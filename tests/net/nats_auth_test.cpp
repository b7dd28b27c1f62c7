// Secured NATS (net/bus.hpp nats_auth, dist/nats/ccp-nats.conf): a real nats-server started
// with the repository's example configuration. Credentials are checked, and a host's user
// cannot publish on another host's subjects.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <boost/asio/io_context.hpp>
#include <fstream>
#include <mutex>
#include <sstream>
#include <string>
#include <vector>

#include "net/bus.hpp"
#include "net/daemons.hpp"
#include "testkit/eventually.hpp"
#include "testkit/io_threads.hpp"
#include "testkit/nats_server.hpp"

namespace ccp::net {
namespace {

using namespace std::chrono_literals;
using testkit::eventually;

std::string example_config() {
  std::ifstream in(CCP_SOURCE_DIR "/dist/nats/ccp-nats.conf");
  std::stringstream ss;
  ss << in.rdbuf();
  if (ss.str().empty()) throw std::runtime_error("cannot read dist/nats/ccp-nats.conf");
  return ss.str();
}

nats_auth user(std::string name, std::string password) {
  nats_auth a;
  a.user = std::move(name);
  a.password = std::move(password);
  return a;
}

// The frames a subscription received, from its executor.
struct seen {
  std::mutex mu;
  std::vector<std::string> frames;
  bus_handler handler() {
    return [this](std::string_view, core::frame_buf f) {
      std::lock_guard lock(mu);
      frames.push_back(*f);
    };
  }
  std::vector<std::string> get() {
    std::lock_guard lock(mu);
    return frames;
  }
  bool has(std::string_view frame) {
    const auto fs = get();
    return std::find(fs.begin(), fs.end(), frame) != fs.end();
  }
};

struct secured : ::testing::Test {
  testkit::nats_server server{example_config()};
  testkit::io_threads rt;

  std::shared_ptr<bus> open(std::string prefix, nats_auth auth) {
    bus_options o;
    o.name = "nats-auth-test";
    o.io_executor = rt.ioc.get_executor();
    o.prefix = std::move(prefix);
    o.auth = std::move(auth);
    auto b = open_bus(server.url(), std::move(o));
    if (!b) throw std::runtime_error(b.error());
    return *b;
  }
};

TEST_F(secured, WrongPasswordOrNoCredentialsAreRefusedAtOpen) {
  bus_options o;
  o.io_executor = rt.ioc.get_executor();
  o.auth = user("host-10.0.0.1", "wrong");
  auto b = open_bus(server.url(), o);
  ASSERT_FALSE(b);
  EXPECT_NE(b.error().find("uthorization"), std::string::npos) << b.error();
  o.auth = {};
  EXPECT_FALSE(open_bus(server.url(), o));
}

TEST_F(secured, UserAndPasswordInTheUrlAreRead) {
  bus_options o;
  o.io_executor = rt.ioc.get_executor();
  const std::string url =
      "nats://host-10.0.0.1:change-me-host-1@127.0.0.1:" + std::to_string(server.port());
  auto b = open_bus(url, o);
  EXPECT_TRUE(b) << b.error();
}

TEST_F(secured, AHostCannotPublishOnAnotherHostsSubjects) {
  // Host B's own subscriber, and a witness that sees every host bus (a subscriber on host
  // A's subjects with host A's user).
  seen at_b, at_a;
  auto b_bus = open("h.10_0_0_2.", user("host-10.0.0.2", "change-me-host-2"));
  auto a_bus = open("h.10_0_0_1.", user("host-10.0.0.1", "change-me-host-1"));
  ASSERT_TRUE(b_bus->subscribe("ccp.ep.x", "", rt.ioc.get_executor(), at_b.handler()));
  ASSERT_TRUE(a_bus->subscribe("ccp.ep.x", "", rt.ioc.get_executor(), at_a.handler()));
  // Host A's credentials on one connection that names subjects of both hosts: first B's
  // (refused by the server), then A's own. One connection keeps the order, so once A's
  // frame came back, B's would have been delivered first had it passed.
  auto rogue = open("h.", user("host-10.0.0.1", "change-me-host-1"));
  // A subscriber of B's subject with B's user hears a frame that B publishes itself: the
  // subscription works, so silence below is the server's refusal, not a deaf subscriber.
  b_bus->publish("ccp.ep.x", std::make_shared<const std::string>("from b"));
  ASSERT_TRUE(eventually([&] { return at_b.has("from b"); }, 10s));
  rogue->publish("10_0_0_2.ccp.ep.x", std::make_shared<const std::string>("spoofed"));
  rogue->publish("10_0_0_1.ccp.ep.x", std::make_shared<const std::string>("own"));
  ASSERT_TRUE(eventually([&] { return at_a.has("own"); }, 10s));
  // The server took "spoofed" before "own", so had it passed it was queued to B before
  // this marker, which B's connection delivers in order.
  b_bus->publish("ccp.ep.x", std::make_shared<const std::string>("marker"));
  ASSERT_TRUE(eventually([&] { return at_b.has("marker"); }, 10s));
  EXPECT_FALSE(at_b.has("spoofed")) << "host A's frame reached host B's subscriber";
}

TEST_F(secured, AHostCannotPublishOnTheBackbone) {
  seen at_mgmt, at_host;
  auto mgmt = open("", user("mgmt", "change-me-mgmt"));
  ASSERT_TRUE(mgmt->subscribe("ccp.mgmt.any", "", rt.ioc.get_executor(), at_mgmt.handler()));
  auto host = open("", user("host-10.0.0.1", "change-me-host-1"));
  ASSERT_TRUE(host->subscribe("h.10_0_0_1.x", "", rt.ioc.get_executor(), at_host.handler()));
  // Acting as mgmt (refused), then a frame on the host's own bus on the same connection.
  host->publish("ccp.mgmt.any", std::make_shared<const std::string>("act as mgmt"));
  host->publish("h.10_0_0_1.x", std::make_shared<const std::string>("own"));
  ASSERT_TRUE(eventually([&] { return at_host.has("own"); }, 10s));
  // Had the first passed, it would be queued to mgmt before this marker.
  mgmt->publish("ccp.mgmt.any", std::make_shared<const std::string>("marker"));
  ASSERT_TRUE(eventually([&] { return at_mgmt.has("marker"); }, 10s));
  EXPECT_FALSE(at_mgmt.has("act as mgmt")) << "a host's user published on the backbone";
}

}  // namespace
}  // namespace ccp::net
