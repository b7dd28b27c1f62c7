// The endpoint role on its own: host-bus frames, ticks and the application API in, the
// exact actions out.
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "core/control.hpp"
#include "core/endpoint.hpp"
#include "tests/core/roles/role_driver.hpp"

namespace ccp::test::roles {
namespace {

using core::ms;
using core::seconds;

constexpr std::string_view kEndpoint = "ccp://endpoint/10.0.0.7/e1";
constexpr std::string_view kAgent = "ccp://agent/10.0.0.7/agent";
constexpr std::string_view kAgentAny = "ccp://agent/10.0.0.7/any";
constexpr std::string_view kMgmt = "ccp://mgmt/10.0.2.1/m1";

std::string nonce_body(std::uint64_t nonce) {
  return core::flat_json_writer{}.add("nonce", nonce).finish();
}

message mgmt_request(std::uint64_t id, std::string type, std::string_view to = kEndpoint) {
  return make_message(msg_kind::request, id, kMgmt, to, std::move(type), R"({"q":1})");
}

class EndpointTest : public ::testing::Test {
 protected:
  EndpointTest() : nonce(e->nonce()) {
    register_id = published_message(e.start(0)).id;
    inbox = "ccp.epi." + std::to_string(nonce);
  }

  // The agent's answer to the registration, as it arrives on the instance inbox.
  message agent_answer(msg_kind kind, errc code = {}) const {
    return make_reply(kind, 300, register_id, kAgent, kEndpoint, "ccp.register", {}, code);
  }

  // The agent accepts the registration at `now`.
  void registered(micros now = 0) {
    EXPECT_TRUE(actions_are(e.bus(agent_answer(msg_kind::response), now, inbox),
                            {want::subscribe{bus_kind::host, "ccp.ep.e1", ""}}));
    ASSERT_EQ(e->state(), core::endpoint::status::registered);
  }

  driver<core::endpoint> e{address_of(kEndpoint), 1};
  std::uint64_t nonce;
  std::uint64_t register_id = 0;
  std::string inbox;
};

TEST(EndpointStart, SubscribesItsInstanceInboxAndRegistersWithTheAgent) {
  driver<core::endpoint> e{address_of(kEndpoint), 1};
  const std::uint64_t nonce = e->nonce();
  ASSERT_NE(nonce, 0u);
  EXPECT_TRUE(actions_are(
      e.start(0), {
                      want::subscribe{bus_kind::host, "ccp.epi." + std::to_string(nonce), ""},
                      want::subscribe{bus_kind::host, "ccp.eps", ""},
                      want::publish{bus_kind::host,
                                    "ccp.agent",
                                    {.kind = msg_kind::request,
                                     .type = "ccp.register",
                                     .from = std::string(kEndpoint),
                                     .to = std::string(kAgentAny),
                                     .body = nonce_body(nonce)}},
                  }));
  EXPECT_EQ(e->state(), core::endpoint::status::registering);
  EXPECT_EQ(e->next_wake(), 1 * seconds);  // the registration is retried then
}

TEST_F(EndpointTest, AcceptanceSubscribesItsInboxAndStartsHeartbeats) {
  registered(20 * ms);
  EXPECT_EQ(e->next_wake(), 20 * ms + 1 * seconds);
}

TEST_F(EndpointTest, RejectionIsDeliveredToTheApplicationAndNotRetried) {
  EXPECT_TRUE(actions_are(e.bus(agent_answer(msg_kind::error, errc::rejected), 0, inbox),
                          {want::deliver{{.kind = msg_kind::error,
                                          .type = "ccp.register",
                                          .from = std::string(kAgent),
                                          .correlation = register_id,
                                          .code = errc::rejected}}}));
  EXPECT_EQ(e->state(), core::endpoint::status::rejected);
  EXPECT_EQ(e->next_wake(), core::never);
}

// SUSPECTED BUG (disabled until decided): a rejection is final. The agent rejects a claim
// while the id's holder was heard of within idle_timeout, and it cannot tell a live holder
// from one that just crashed: an application restarted within idle_timeout of a crash (or
// stopped while its registration was in flight: stop() unregisters only when registered)
// is rejected, and never registers again although the old holder expires 3 s later. What
// we believe right: the rejected endpoint asks again once the holder could have expired
// (a live holder keeps it rejected: no flapping).
TEST_F(EndpointTest, DISABLED_RejectedRegistrationIsAskedAgainOnceTheHolderCouldHaveExpired) {
  ASSERT_EQ(count_of<act::deliver>(e.bus(agent_answer(msg_kind::error, errc::rejected), 0, inbox)),
            1u);
  ASSERT_EQ(e->state(), core::endpoint::status::rejected);
  std::vector<action> later;
  for (micros t = 100 * ms; t <= core::idle_timeout + core::heartbeat_interval; t += 100 * ms)
    for (action& a : e.tick(t))
      later.push_back(std::move(a));
  EXPECT_TRUE(some_of(later, want::publish{bus_kind::host,
                                           "ccp.agent",
                                           {.type = "ccp.register", .body = nonce_body(nonce)}}));
}

TEST_F(EndpointTest, UnansweredRegistrationIsRetried) {
  EXPECT_TRUE(no_actions(e.tick(1 * seconds - 1)));
  auto acts = e.tick(1 * seconds);
  ASSERT_TRUE(actions_are(
      acts, {want::publish{
                bus_kind::host,
                "ccp.agent",
                {.kind = msg_kind::request, .type = "ccp.register", .body = nonce_body(nonce)}}}));
  // A fresh id: a late answer to the first registration is not taken for this one.
  EXPECT_NE(published_message(acts).id, register_id);
  EXPECT_TRUE(no_actions(e.bus(agent_answer(msg_kind::response), 1 * seconds, inbox)));
  EXPECT_EQ(e->state(), core::endpoint::status::registering);
}

TEST_F(EndpointTest, ServedRequestIsDeliveredAsItWasSent) {
  registered();
  e->serve("status");
  message m = mgmt_request(42, "status");
  m.hops = 4;
  m.ttl_ms = 2000;
  auto acts = e.bus(m, 0, "ccp.ep.e1");
  ASSERT_TRUE(actions_are(acts, {want::deliver{{.kind = msg_kind::request, .id = 42}}}));
  EXPECT_EQ(first_of<act::deliver>(acts)->msg, m);
  EXPECT_EQ(e->stats().delivered, 1u);
}

TEST_F(EndpointTest, UnservedRequestIsAnsweredNoHandler) {
  registered();
  e->serve("status");
  EXPECT_TRUE(actions_are(e.bus(mgmt_request(42, "reboot"), 0, "ccp.ep.e1"),
                          {want::publish{bus_kind::host,
                                         "ccp.agent",
                                         {.kind = msg_kind::error,
                                          .type = "reboot",
                                          .from = std::string(kEndpoint),
                                          .to = std::string(kMgmt),
                                          .correlation = 42,
                                          .code = errc::no_handler,
                                          .text = "no handler for reboot at "
                                                  "ccp://endpoint/10.0.0.7/e1"}}}));
}

TEST_F(EndpointTest, UnservedNotificationIsDroppedSilently) {
  registered();
  message n = make_message(msg_kind::notification, 42, kMgmt, kEndpoint, "reboot");
  EXPECT_TRUE(no_actions(e.bus(n, 0, "ccp.ep.e1")));
  EXPECT_EQ(e->stats().dropped, 1u);
}

TEST_F(EndpointTest, PingIsAnsweredByTheCore) {
  registered();
  EXPECT_TRUE(actions_are(
      e.bus(mgmt_request(42, "ping"), 0, "ccp.ep.e1"),
      {want::publish{bus_kind::host,
                     "ccp.agent",
                     {.kind = msg_kind::response,
                      .type = "ping",
                      .from = std::string(kEndpoint),
                      .to = std::string(kMgmt),
                      .correlation = 42,
                      .body = R"({"role":"endpoint","address":"ccp://endpoint/10.0.0.7/e1"})"}}}));
}

TEST_F(EndpointTest, GroupRequestOfItsHostIsDelivered) {
  registered();
  e->serve("status");
  EXPECT_TRUE(actions_are(e.bus(mgmt_request(42, "status", "ccp://endpoint/10.0.0.7/all"), 0),
                          {want::deliver{{.to = "ccp://endpoint/10.0.0.7/all", .id = 42}}}));
}

TEST_F(EndpointTest, FrameForAnotherEndpointIsDropped) {
  registered();
  e->serve("status");
  EXPECT_TRUE(no_actions(e.bus(mgmt_request(42, "status", "ccp://endpoint/10.0.0.7/e2"), 0)));
  EXPECT_TRUE(no_actions(e.bus(mgmt_request(43, "status", "ccp://endpoint/10.0.0.8/all"), 0)));
  EXPECT_EQ(e->stats().dropped, 2u);
}

TEST_F(EndpointTest, HeartbeatsOnTickEveryInterval) {
  registered(0);
  EXPECT_TRUE(no_actions(e.tick(1 * seconds - 1)));
  const want::publish beat{bus_kind::host,
                           "ccp.agent",
                           {.kind = msg_kind::notification,
                            .type = "ccp.hb",
                            .from = std::string(kEndpoint),
                            .to = std::string(kAgentAny),
                            .body = nonce_body(nonce)}};
  auto first = e.tick(1 * seconds);
  EXPECT_TRUE(actions_are(first, {beat}));
  EXPECT_EQ(e->next_wake(), 2 * seconds);
  auto second = e.tick(2 * seconds);
  EXPECT_TRUE(actions_are(second, {beat}));
  EXPECT_NE(published_message(first).id, published_message(second).id);  // restamped
}

TEST_F(EndpointTest, StopUnregistersAndUnsubscribes) {
  registered();
  EXPECT_TRUE(actions_are(e.stop(5 * ms), {
                                              want::publish{bus_kind::host,
                                                            "ccp.agent",
                                                            {.kind = msg_kind::notification,
                                                             .type = "ccp.unregister",
                                                             .from = std::string(kEndpoint),
                                                             .to = std::string(kAgentAny),
                                                             .body = nonce_body(nonce)}},
                                              want::unsubscribe{bus_kind::host, "ccp.ep.e1"},
                                              want::unsubscribe{bus_kind::host, inbox},
                                              want::unsubscribe{bus_kind::host, "ccp.eps"},
                                          }));
  EXPECT_EQ(e->state(), core::endpoint::status::idle);
  EXPECT_EQ(e->next_wake(), core::never);
}

TEST_F(EndpointTest, RequestBeforeRegistrationFailsAtOnce) {
  std::uint64_t id = 0;
  auto acts = e.app([&](core::endpoint& n) {
    id = *n.request(address_of(kMgmt), "status", "{}", 2 * seconds, 0);
  });
  ASSERT_TRUE(actions_are(acts, {want::complete{id, errc::unreachable, 1}}));
  EXPECT_EQ(first_of<act::complete>(acts)->replies[0].text,
            "endpoint not registered with its agent");
  EXPECT_EQ(e->pending_requests(), 0u);
}

TEST_F(EndpointTest, RequestIsPublishedAndItsResponseCompletesIt) {
  registered();
  std::uint64_t id = 0;
  auto acts = e.app([&](core::endpoint& n) {
    id = *n.request(address_of(kMgmt), "status", R"({"x":1})", 2 * seconds, 0);
  });
  EXPECT_TRUE(actions_are(acts, {want::publish{bus_kind::host,
                                               "ccp.agent",
                                               {.kind = msg_kind::request,
                                                .type = "status",
                                                .from = std::string(kEndpoint),
                                                .to = std::string(kMgmt),
                                                .id = id,
                                                .body = R"({"x":1})",
                                                .ttl_ms = 2001}}}));
  message r = make_reply(msg_kind::response, 77, id, kMgmt, kEndpoint, "status", R"({"ok":1})");
  auto done = e.bus(r, 10 * ms, "ccp.ep.e1");
  ASSERT_TRUE(actions_are(done, {want::complete{id, errc{}, 1}}));
  EXPECT_EQ(first_of<act::complete>(done)->replies[0], r);
  // A second answer is late: dropped, no second complete.
  EXPECT_TRUE(no_actions(e.bus(r, 20 * ms, "ccp.ep.e1")));
}

TEST_F(EndpointTest, RequestWithoutAnswerTimesOutOnTick) {
  registered(0);
  std::uint64_t id = 0;
  e.app(
      [&](core::endpoint& n) { id = *n.request(address_of(kMgmt), "status", "{}", 1500 * ms, 0); });
  EXPECT_TRUE(actions_are(e.tick(1 * seconds),
                          {want::publish{bus_kind::host, "ccp.agent", {.type = "ccp.hb"}}}));
  EXPECT_EQ(e->next_wake(), 1500 * ms);
  EXPECT_TRUE(actions_are(e.tick(1500 * ms), {want::complete{id, errc::timeout, 0}}));
}

// The agent's beat on the host bus (core/agent.cpp), as every endpoint of the host hears it.
message agent_beat(std::uint64_t id) {
  return make_message(msg_kind::notification, id, kAgent, "ccp://endpoint/10.0.0.7/all", "ccp.hb",
                      "{}");
}

TEST_F(EndpointTest, SilentAgentFailsPendingAndNewRequestsAtOnce) {
  registered(0);
  std::uint64_t id = 0;
  e.app([&](core::endpoint& n) {
    id = *n.request(address_of(kMgmt), "status", "{}", 10 * seconds, 0);
  });
  // Its deadline is far: the endpoint wakes when the agent's silence becomes too long.
  EXPECT_TRUE(actions_are(e.tick(core::agent_silence),
                          {want::publish{bus_kind::host, "ccp.agent", {.type = "ccp.hb"}}}));
  EXPECT_EQ(e->state(), core::endpoint::status::registered);
  EXPECT_EQ(e->next_wake(), core::agent_silence + 1);
  EXPECT_TRUE(actions_are(
      e.tick(core::agent_silence + 1),
      {want::unsubscribe{bus_kind::host, "ccp.ep.e1"}, want::complete{id, errc::unreachable, 0}}));
  EXPECT_EQ(e->state(), core::endpoint::status::agent_gone);
  // A new request fails at once, saying why; no heartbeat goes to the gone agent.
  std::uint64_t again = 0;
  auto acts = e.app([&](core::endpoint& n) {
    again = *n.request(address_of(kMgmt), "status", "{}", 10 * seconds, 3 * seconds);
  });
  ASSERT_TRUE(actions_are(acts, {want::complete{again, errc::unreachable, 1}}));
  EXPECT_NE(first_of<act::complete>(acts)->replies[0].text.find("is gone"), std::string::npos);
  EXPECT_TRUE(no_actions(e.tick(5 * seconds)));
}

TEST_F(EndpointTest, AgentBeatsKeepItRegistered) {
  registered(0);
  for (micros t = 1 * seconds; t <= 10 * seconds; t += 1 * seconds) {
    (void)e.bus(agent_beat(400 + static_cast<std::uint64_t>(t / seconds)), t, "ccp.eps");
    (void)e.tick(t);
  }
  EXPECT_EQ(e->state(), core::endpoint::status::registered);
  EXPECT_EQ(e->next_wake(), 11 * seconds);  // its own heartbeat; the agent's silence ends later
}

TEST_F(EndpointTest, GoneAgentThatBeatsAgainIsRegisteredWith) {
  registered(0);
  (void)e.tick(core::agent_silence + 1);
  ASSERT_EQ(e->state(), core::endpoint::status::agent_gone);
  auto acts = e.bus(agent_beat(500), 4 * seconds, "ccp.eps");
  ASSERT_TRUE(actions_are(
      acts, {want::publish{
                bus_kind::host,
                "ccp.agent",
                {.kind = msg_kind::request, .type = "ccp.register", .body = nonce_body(nonce)}}}));
  EXPECT_EQ(e->state(), core::endpoint::status::registering);
  message ok = make_reply(msg_kind::response, 501, published_message(acts).id, kAgent, kEndpoint,
                          "ccp.register");
  EXPECT_TRUE(actions_are(e.bus(ok, 4 * seconds, inbox),
                          {want::subscribe{bus_kind::host, "ccp.ep.e1", ""}}));
  EXPECT_EQ(e->state(), core::endpoint::status::registered);
}

TEST_F(EndpointTest, GoneAgentReplacedByANewProcessIsRegisteredWith) {
  registered(0);
  (void)e.tick(core::agent_silence + 1);
  message up = make_message(msg_kind::notification, 1, kAgent, "ccp://endpoint/10.0.0.7/all",
                            "ccp.agent-up");
  EXPECT_TRUE(actions_are(e.bus(up, 5 * seconds, "ccp.eps"),
                          {want::publish{bus_kind::host, "ccp.agent", {.type = "ccp.register"}}}));
  EXPECT_EQ(e->state(), core::endpoint::status::registering);
}

TEST_F(EndpointTest, NotificationWithAControlTypeIsRefusedByTheApi) {
  registered();
  std::expected<std::uint64_t, errc> r;
  auto acts =
      e.app([&](core::endpoint& n) { r = n.send(address_of(kMgmt), "ccp.register", "{}", 0); });
  EXPECT_EQ(r, std::unexpected(errc::bad_request));
  EXPECT_TRUE(no_actions(acts));
}

TEST_F(EndpointTest, AgentThatForgotItIsToldAgain) {
  registered();
  message unknown = make_message(msg_kind::notification, 301, kAgent, kEndpoint, "ccp.unknown");
  EXPECT_TRUE(actions_are(
      e.bus(unknown, 0, inbox),
      {
          want::unsubscribe{bus_kind::host, "ccp.ep.e1"},
          want::publish{
              bus_kind::host,
              "ccp.agent",
              {.kind = msg_kind::request, .type = "ccp.register", .body = nonce_body(nonce)}},
      }));
  EXPECT_EQ(e->state(), core::endpoint::status::registering);
}

TEST_F(EndpointTest, NewAgentOnTheHostIsRegisteredWith) {
  registered();
  message up = make_message(msg_kind::notification, 1, kAgent, "ccp://endpoint/10.0.0.7/all",
                            "ccp.agent-up");
  EXPECT_TRUE(actions_are(
      e.bus(up, 0, "ccp.eps"),
      {
          want::unsubscribe{bus_kind::host, "ccp.ep.e1"},
          want::publish{
              bus_kind::host, "ccp.agent", {.type = "ccp.register", .body = nonce_body(nonce)}},
      }));
}

}  // namespace
}  // namespace ccp::test::roles
