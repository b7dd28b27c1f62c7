// The agent role on its own: link, host-bus and time events in, the exact actions out.
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "core/agent.hpp"
#include "core/control.hpp"
#include "tests/core/roles/role_driver.hpp"

namespace ccp::test::roles {
namespace {

using core::ms;
using core::seconds;

constexpr std::string_view kAgent = "ccp://agent/10.0.0.7/agent";
constexpr std::string_view kProxy1Url = "ws://10.0.1.1:7700";
constexpr std::string_view kProxy2Url = "ws://10.0.1.2:7700";
constexpr std::string_view kProxy1 = "ccp://proxy/10.0.1.1/p1";
constexpr std::string_view kEndpoint = "ccp://endpoint/10.0.0.7/e1";
constexpr std::string_view kMgmt = "ccp://mgmt/10.0.2.1/m1";
constexpr std::string_view kAgentAny = "ccp://agent/10.0.0.7/any";

core::agent_config config() {
  core::agent_config c;
  c.self = address_of(kAgent);
  c.proxies = {std::string(kProxy1Url), std::string(kProxy2Url)};
  c.token = "s3cret";
  c.epoch_base = 100;
  c.seed = 1;
  return c;
}

std::string nonce_body(std::uint64_t nonce) {
  return core::flat_json_writer{}.add("nonce", nonce).finish();
}

// What an endpoint instance publishes on the agent's inbox to register.
message register_request(std::uint64_t id, std::string_view endpoint, std::uint64_t nonce) {
  return make_message(msg_kind::request, id, endpoint, kAgentAny, "ccp.register",
                      nonce_body(nonce));
}

// The proxy's welcome answering hello `hello_id`.
message welcome(std::uint64_t hello_id) {
  return make_reply(msg_kind::response, 500, hello_id, kProxy1, kAgent, "ccp.hello",
                    R"({"proxy":"ccp://proxy/10.0.1.1/p1"})");
}

class AgentTest : public ::testing::Test {
 protected:
  AgentTest() { a.start(0); }

  // Dials at `now`, the link comes up and the proxy welcomes the hello: the agent is up on
  // link 1 with proxy 1.
  void connect(micros now = 0) {
    EXPECT_TRUE(actions_are(a.tick(now), {want::dial{1, std::string(kProxy1Url)}}));
    message h = sent_message(a.link_up(1, now));
    EXPECT_TRUE(no_actions(a.link_frame(1, welcome(h.id), now)));
    ASSERT_EQ(a->status(), core::agent::link_status::up);
  }

  // Registers `endpoint` with `nonce`; returns the agent's actions.
  std::vector<action> register_endpoint(std::string_view endpoint, std::uint64_t nonce,
                                        std::uint64_t id = 5, micros now = 0) {
    return a.bus(register_request(id, endpoint, nonce), now, "ccp.agent");
  }

  driver<core::agent> a{config()};
};

TEST(AgentStart, SubscribesItsInboxAndTellsTheEndpointsItIsUp) {
  driver<core::agent> a{config()};
  EXPECT_TRUE(actions_are(a.start(0), {
                                          want::subscribe{bus_kind::host, "ccp.agent", ""},
                                          want::publish{bus_kind::host,
                                                        "ccp.eps",
                                                        {.kind = msg_kind::notification,
                                                         .type = "ccp.agent-up",
                                                         .from = std::string(kAgent),
                                                         .to = "ccp://endpoint/10.0.0.7/all"}},
                                      }));
  // The dial to the first proxy is due at once: the host ticks at next_wake().
  EXPECT_EQ(a->next_wake(), 0);
  EXPECT_EQ(a->status(), core::agent::link_status::down);
}

TEST_F(AgentTest, TickAtStartDialsTheFirstProxy) {
  EXPECT_TRUE(actions_are(a.tick(a->next_wake()), {want::dial{1, std::string(kProxy1Url)}}));
  EXPECT_EQ(a->status(), core::agent::link_status::connecting);
  EXPECT_EQ(a->proxy_target(), kProxy1Url);
  EXPECT_EQ(a->next_wake(), 1 * seconds);  // the endpoint expiry scan; the handshake ends at 5 s
}

TEST_F(AgentTest, LinkUpSendsAHelloWithTheEpoch) {
  ASSERT_TRUE(actions_are(a.tick(0), {want::dial{1, std::string(kProxy1Url)}}));
  EXPECT_TRUE(actions_are(a.link_up(1, 10 * ms),
                          {want::send{1,
                                      {.kind = msg_kind::request,
                                       .type = "ccp.hello",
                                       .from = std::string(kAgent),
                                       .to = "ccp://proxy/any",
                                       .body = R"({"epoch":101,"token":"s3cret","endpoints":[]})",
                                       .ttl_ms = 5000}}}));
  EXPECT_EQ(a->status(), core::agent::link_status::handshaking);
  EXPECT_EQ(a->epoch(), 101u);
}

TEST_F(AgentTest, LinkUpOfALinkItGaveUpOnIsClosed) {
  ASSERT_TRUE(actions_are(a.tick(0), {want::dial{1, std::string(kProxy1Url)}}));
  EXPECT_TRUE(actions_are(a.link_up(7, 0), {want::close{7, errc{}}}));
  EXPECT_EQ(a->status(), core::agent::link_status::connecting);
}

TEST_F(AgentTest, WelcomeMakesItUpAndItHeartbeatsToThatProxy) {
  ASSERT_TRUE(actions_are(a.tick(0), {want::dial{1, std::string(kProxy1Url)}}));
  message h = sent_message(a.link_up(1, 0));
  EXPECT_TRUE(no_actions(a.link_frame(1, welcome(h.id), 200 * ms)));
  EXPECT_EQ(a->status(), core::agent::link_status::up);
  // The expiry scan (no endpoint) and the beat to the host's endpoints.
  EXPECT_TRUE(actions_are(a.tick(1 * seconds),
                          {want::publish{bus_kind::host, "ccp.eps", {.type = "ccp.hb"}}}));
  EXPECT_EQ(a->next_wake(), 1200 * ms);
  EXPECT_TRUE(actions_are(a.tick(1200 * ms), {want::send{1,
                                                         {.kind = msg_kind::notification,
                                                          .type = "ccp.hb",
                                                          .from = std::string(kAgent),
                                                          .to = std::string(kProxy1)}}}));
}

TEST_F(AgentTest, AnswerToSomethingElseThanTheHelloIsIgnoredWhileHandshaking) {
  ASSERT_TRUE(actions_are(a.tick(0), {want::dial{1, std::string(kProxy1Url)}}));
  message h = sent_message(a.link_up(1, 0));
  EXPECT_TRUE(no_actions(a.link_frame(1, welcome(h.id + 1), 0)));
  EXPECT_EQ(a->status(), core::agent::link_status::handshaking);
}

TEST_F(AgentTest, RejectedHelloClosesTheLinkAndRedialsTheNextProxy) {
  ASSERT_TRUE(actions_are(a.tick(0), {want::dial{1, std::string(kProxy1Url)}}));
  message h = sent_message(a.link_up(1, 0));
  message no =
      make_reply(msg_kind::error, 500, h.id, kProxy1, kAgent, "ccp.hello", {}, errc::rejected);
  EXPECT_TRUE(actions_are(a.link_frame(1, no, 10 * ms), {want::close{1, errc::rejected}}));
  EXPECT_EQ(a->status(), core::agent::link_status::down);
  const micros redial = a->next_wake();
  EXPECT_GE(redial, 10 * ms);
  EXPECT_LE(redial, 10 * ms + core::backoff_base);  // first attempt: [0, backoff_base]
  EXPECT_TRUE(actions_are(a.tick(redial), {want::dial{2, std::string(kProxy2Url)}}));
}

// The host kernel passes every frame on (host/kernel.hpp): a link the agent closed is
// not its link any more, and what was in flight on it is dropped.
TEST_F(AgentTest, FramesOfALinkItClosedAreDropped) {
  ASSERT_TRUE(actions_are(a.tick(0), {want::dial{1, std::string(kProxy1Url)}}));
  message h = sent_message(a.link_up(1, 0));
  message no =
      make_reply(msg_kind::error, 500, h.id, kProxy1, kAgent, "ccp.hello", {}, errc::rejected);
  ASSERT_TRUE(actions_are(a.link_frame(1, no, 10 * ms), {want::close{1, errc::rejected}}));
  EXPECT_TRUE(no_actions(a.link_frame(1, welcome(h.id), 11 * ms)));
  EXPECT_TRUE(no_actions(a.flushed(1, 1, 11 * ms)));
  EXPECT_EQ(a->status(), core::agent::link_status::down);
}

TEST_F(AgentTest, LinkDownSchedulesARedialAndTheTickAtThatTimeDialsAgain) {
  connect(0);
  EXPECT_TRUE(no_actions(a.link_down(1, 50 * ms)));
  EXPECT_EQ(a->status(), core::agent::link_status::down);
  const micros redial = a->next_wake();
  EXPECT_GE(redial, 50 * ms);
  EXPECT_LE(redial, 50 * ms + core::backoff_base);
  if (redial > 50 * ms) {
    EXPECT_TRUE(no_actions(a.tick(redial - 1)));
  }
  EXPECT_TRUE(actions_are(a.tick(redial), {want::dial{2, std::string(kProxy2Url)}}));
  // The next connect carries a higher epoch: it fences the previous attachment.
  EXPECT_TRUE(actions_are(
      a.link_up(2, redial),
      {want::send{
          2, {.type = "ccp.hello", .body = R"({"epoch":102,"token":"s3cret","endpoints":[]})"}}}));
}

TEST_F(AgentTest, HandshakeThatDoesNotEndInTimeIsClosed) {
  ASSERT_TRUE(actions_are(a.tick(0), {want::dial{1, std::string(kProxy1Url)}}));
  ASSERT_EQ(a->next_wake(), 1 * seconds);
  EXPECT_EQ(count_of<act::close>(a.tick(core::handshake_timeout - 1)), 0u);  // a host beat
  EXPECT_TRUE(actions_are(a.tick(core::handshake_timeout), {want::close{1, errc::timeout}}));
  EXPECT_EQ(a->status(), core::agent::link_status::down);
}

TEST_F(AgentTest, EndpointRegistrationIsAcceptedAndToldToTheProxy) {
  connect(0);
  EXPECT_TRUE(actions_are(register_endpoint(kEndpoint, 11, 5),
                          {
                              want::publish{bus_kind::host,
                                            "ccp.epi.11",
                                            {.kind = msg_kind::response,
                                             .type = "ccp.register",
                                             .from = std::string(kAgent),
                                             .to = std::string(kEndpoint),
                                             .correlation = 5}},
                              want::send{1,
                                         {.kind = msg_kind::notification,
                                          .type = "ccp.endpoints",
                                          .from = std::string(kAgent),
                                          .to = std::string(kProxy1),
                                          .body = R"({"endpoints":["e1"]})"}},
                          }));
  EXPECT_TRUE(a->has_endpoint("e1"));
}

TEST_F(AgentTest, SecondClaimOfAnIdByAnotherLiveInstanceIsRejected) {
  connect(0);
  register_endpoint(kEndpoint, 11, 5, 0);
  EXPECT_TRUE(actions_are(
      register_endpoint(kEndpoint, 13, 6, 1 * seconds),
      {want::publish{bus_kind::host,
                     "ccp.epi.13",
                     {.kind = msg_kind::error,
                      .type = "ccp.register",
                      .from = std::string(kAgent),
                      .to = std::string(kEndpoint),
                      .correlation = 6,
                      .code = errc::rejected,
                      .text = "ccp://endpoint/10.0.0.7/e1 is held by another live instance"}}}));
  EXPECT_EQ(a->endpoint_count(), 1u);
}

TEST_F(AgentTest, ClaimOfAnIdWhoseHolderWentSilentTakesIt) {
  register_endpoint(kEndpoint, 11, 5, 0);
  // The holder has not been heard of for longer than idle_timeout: the new instance wins,
  // and the proxy is told nothing (the list of ids is the same).
  EXPECT_TRUE(actions_are(
      register_endpoint(kEndpoint, 13, 6, core::idle_timeout + 1),
      {want::publish{
          bus_kind::host, "ccp.epi.13", {.kind = msg_kind::response, .correlation = 6}}}));
}

TEST_F(AgentTest, RegistrationWhileDownTravelsWithTheNextHello) {
  EXPECT_TRUE(actions_are(
      register_endpoint(kEndpoint, 11, 5),
      {want::publish{
          bus_kind::host, "ccp.epi.11", {.kind = msg_kind::response, .correlation = 5}}}));
  ASSERT_TRUE(actions_are(a.tick(0), {want::dial{1, std::string(kProxy1Url)}}));
  EXPECT_TRUE(actions_are(
      a.link_up(1, 0),
      {want::send{1, {.body = R"({"epoch":101,"token":"s3cret","endpoints":["e1"]})"}}}));
}

TEST_F(AgentTest, RegistrationDuringTheHandshakeIsSentOnWelcome) {
  ASSERT_TRUE(actions_are(a.tick(0), {want::dial{1, std::string(kProxy1Url)}}));
  message h = sent_message(a.link_up(1, 0));  // its list is empty
  EXPECT_TRUE(actions_are(register_endpoint(kEndpoint, 11, 5, 0),
                          {want::publish{bus_kind::host, "ccp.epi.11", {.correlation = 5}}}));
  EXPECT_TRUE(actions_are(a.link_frame(1, welcome(h.id), 0),
                          {want::send{1,
                                      {.type = "ccp.endpoints",
                                       .to = std::string(kProxy1),
                                       .body = R"({"endpoints":["e1"]})"}}}));
}

TEST_F(AgentTest, LinkQueueBoundBouncesOverloadedToTheEndpoint) {
  connect(0);
  register_endpoint(kEndpoint, 11);             // one frame more on the link: ccp.endpoints
  ASSERT_TRUE(no_actions(a.flushed(1, 2, 0)));  // the hello and ccp.endpoints are written
  message m = make_message(msg_kind::notification, 0, kEndpoint, "ccp://mgmt/any", "status");
  for (std::size_t i = 0; i < core::link_queue_frames; ++i) {
    m.id = 100 + i;
    ASSERT_TRUE(actions_are(a.bus(m, 0), {want::send{1, {.id = m.id}}})) << "frame " << i;
  }
  m.id = 5000;
  EXPECT_TRUE(actions_are(a.bus(m, 0),
                          {want::publish{bus_kind::host,
                                         "ccp.ep.e1",
                                         {.kind = msg_kind::error,
                                          .correlation = 5000,
                                          .code = errc::overloaded,
                                          .text = "link queue of ccp://agent/10.0.0.7/agent is "
                                                  "full"}}}));
  ASSERT_TRUE(no_actions(a.flushed(1, 1, 0)));
  m.id = 5001;
  EXPECT_TRUE(actions_are(a.bus(m, 0), {want::send{1, {.id = 5001}}}));
}

TEST_F(AgentTest, UnregisterOfTheHolderRemovesTheEndpoint) {
  connect(0);
  register_endpoint(kEndpoint, 11);
  message bye = make_message(msg_kind::notification, 9, kEndpoint, kAgentAny, "ccp.unregister",
                             nonce_body(11));
  EXPECT_TRUE(actions_are(a.bus(bye, 0), {want::send{1,
                                                     {.type = "ccp.endpoints",
                                                      .to = std::string(kProxy1),
                                                      .body = R"({"endpoints":[]})"}}}));
  EXPECT_FALSE(a->has_endpoint("e1"));
}

TEST_F(AgentTest, HeartbeatOfAnUnknownInstanceIsToldItIsUnknown) {
  message hb =
      make_message(msg_kind::notification, 9, kEndpoint, kAgentAny, "ccp.hb", nonce_body(21));
  EXPECT_TRUE(actions_are(a.bus(hb, 0), {want::publish{bus_kind::host,
                                                       "ccp.epi.21",
                                                       {.kind = msg_kind::notification,
                                                        .type = "ccp.unknown",
                                                        .from = std::string(kAgent),
                                                        .to = std::string(kEndpoint)}}}));
}

TEST_F(AgentTest, SilentEndpointExpiresAndTheProxyIsTold) {
  connect(0);
  register_endpoint(kEndpoint, 11, 5, 0);
  message proxy_hb = make_message(msg_kind::notification, 600, kProxy1, kAgent, "ccp.hb", "{}");
  for (micros t = 1 * seconds; t <= 3 * seconds; t += 1 * seconds) {
    // Only the agent's own heartbeats (to its proxy, and to its endpoints on the host bus):
    // e1 was heard of idle_timeout ago at most.
    EXPECT_TRUE(
        actions_are(a.tick(t), {want::send{1, {.type = "ccp.hb"}},
                                want::publish{bus_kind::host, "ccp.eps", {.type = "ccp.hb"}}}))
        << "at " << t;
    EXPECT_TRUE(no_actions(a.link_frame(1, proxy_hb, t)));  // the proxy is alive
  }
  auto acts = a.tick(4 * seconds);
  EXPECT_TRUE(
      one_of(acts, want::send{1, {.type = "ccp.endpoints", .body = R"({"endpoints":[]})"}}));
  EXPECT_FALSE(a->has_endpoint("e1"));
}

TEST_F(AgentTest, LinkFrameForARegisteredEndpointIsPublishedOnItsSubject) {
  connect(0);
  register_endpoint(kEndpoint, 11);
  message m = make_message(msg_kind::request, 42, kMgmt, kEndpoint, "status", R"({"q":1})");
  auto acts = a.link_frame(1, m, 0);
  ASSERT_TRUE(actions_are(acts, {want::publish{bus_kind::host, "ccp.ep.e1", {.id = 42}}}));
  message hopped = m;
  hopped.hops = 1;
  EXPECT_EQ(published_message(acts), hopped);
}

TEST_F(AgentTest, LinkFrameForAnUnknownEndpointIsBouncedUnreachable) {
  connect(0);
  message m =
      make_message(msg_kind::request, 42, kMgmt, "ccp://endpoint/10.0.0.7/e9", "status", "{}");
  EXPECT_TRUE(actions_are(a.link_frame(1, m, 0),
                          {want::send{1,
                                      {.kind = msg_kind::error,
                                       .type = "status",
                                       .from = std::string(kAgent),
                                       .to = std::string(kMgmt),
                                       .correlation = 42,
                                       .code = errc::unreachable,
                                       .text = "no endpoint ccp://endpoint/10.0.0.7/e9"}}}));
}

TEST_F(AgentTest, EndpointsRequestIsAnsweredByTheAgent) {
  connect(0);
  register_endpoint(kEndpoint, 11);
  register_endpoint("ccp://endpoint/10.0.0.7/e0", 12, 6);
  message m = make_message(msg_kind::request, 42, kMgmt, kAgent, "endpoints");
  EXPECT_TRUE(actions_are(
      a.link_frame(1, m, 0),
      {want::send{1,
                  {.kind = msg_kind::response,
                   .type = "endpoints",
                   .from = std::string(kAgent),
                   .to = std::string(kMgmt),
                   .correlation = 42,
                   .body = R"({"agent":"ccp://agent/10.0.0.7/agent","endpoints":["e0","e1"]})"}}}));
}

TEST_F(AgentTest, EndpointFrameLeavesOnTheLinkWithOneMoreHop) {
  connect(0);
  register_endpoint(kEndpoint, 11);
  message m = make_message(msg_kind::notification, 7, kEndpoint, "ccp://mgmt/any", "status", "{}");
  EXPECT_TRUE(actions_are(a.bus(m, 0, "ccp.agent"), {want::send{1,
                                                                {.kind = msg_kind::notification,
                                                                 .type = "status",
                                                                 .from = std::string(kEndpoint),
                                                                 .to = "ccp://mgmt/any",
                                                                 .id = 7,
                                                                 .hops = 1}}}));
}

TEST_F(AgentTest, EndpointFrameWithNoProxyLinkFailsAtOnce) {
  register_endpoint(kEndpoint, 11);
  message m = make_message(msg_kind::request, 7, kEndpoint, kMgmt, "status", "{}");
  EXPECT_TRUE(
      actions_are(a.bus(m, 0, "ccp.agent"),
                  {want::publish{bus_kind::host,
                                 "ccp.ep.e1",
                                 {.kind = msg_kind::error,
                                  .from = std::string(kAgent),
                                  .to = std::string(kEndpoint),
                                  .correlation = 7,
                                  .code = errc::unreachable,
                                  .text = "agent ccp://agent/10.0.0.7/agent has no proxy link"}}}));
}

TEST_F(AgentTest, FrameFromAnUnregisteredEndpointIsDropped) {
  connect(0);
  message m = make_message(msg_kind::notification, 7, kEndpoint, "ccp://mgmt/any", "status", "{}");
  EXPECT_TRUE(no_actions(a.bus(m, 0, "ccp.agent")));
  EXPECT_EQ(a->stats().dropped, 1u);
}

TEST_F(AgentTest, FrameFromAnotherHostOnTheHostBusIsDropped) {
  connect(0);
  register_endpoint(kEndpoint, 11);
  message m = make_message(msg_kind::notification, 7, "ccp://endpoint/10.0.0.8/e1",
                           "ccp://mgmt/any", "status", "{}");
  EXPECT_TRUE(no_actions(a.bus(m, 0, "ccp.agent")));
}

TEST_F(AgentTest, StopSaysByeAndClosesTheLink) {
  connect(0);
  EXPECT_TRUE(actions_are(a.stop(10 * ms), {
                                               want::send{1,
                                                          {.kind = msg_kind::notification,
                                                           .type = "ccp.bye",
                                                           .from = std::string(kAgent),
                                                           .to = std::string(kProxy1)}},
                                               want::close{1, errc::shutting_down},
                                               want::unsubscribe{bus_kind::host, "ccp.agent"},
                                           }));
  EXPECT_EQ(a->status(), core::agent::link_status::down);
  EXPECT_EQ(a->next_wake(), core::never);  // no redial
}

TEST_F(AgentTest, StopWhileConnectingClosesWithoutBye) {
  ASSERT_TRUE(actions_are(a.tick(0), {want::dial{1, std::string(kProxy1Url)}}));
  EXPECT_TRUE(actions_are(a.stop(0), {
                                         want::close{1, errc::shutting_down},
                                         want::unsubscribe{bus_kind::host, "ccp.agent"},
                                     }));
}

constexpr std::string_view kProxy2 = "ccp://proxy/10.0.1.2/p2";

// Make-before-break: told to move, the agent keeps its link (and everything on it flows)
// while it dials the next proxy; once that one welcomed it, it says bye on the old link
// and reads it until it closes, so a frame both proxies forwarded reaches the host once.
TEST_F(AgentTest, DrainNoticeMovesItMakeBeforeBreak) {
  connect(0);
  register_endpoint(kEndpoint, 11);
  a.take();
  ASSERT_TRUE(one_of(a.tick(1 * seconds), want::send{1, {.type = "ccp.hb"}}));
  message drain = make_message(msg_kind::notification, 700, kProxy1, kAgent, "ccp.drain");
  EXPECT_TRUE(no_actions(a.link_frame(1, drain, 1 * seconds)));
  EXPECT_EQ(a->status(), core::agent::link_status::up);
  EXPECT_TRUE(a->moving());
  // Spread over a short delay, before the next heartbeat.
  const micros move = a->next_wake();
  EXPECT_LE(move, 1 * seconds + core::move_spread);
  EXPECT_TRUE(actions_are(a.tick(move), {want::dial{2, std::string(kProxy2Url)}}));
  message h = sent_message(a.link_up(2, move));
  EXPECT_EQ(h.body, R"({"epoch":102,"token":"s3cret","endpoints":["e1"]})");
  // Until the new proxy welcomes it, the old link carries both ways.
  message to_ep = make_message(msg_kind::request, 42, kMgmt, kEndpoint, "status", "{}");
  EXPECT_TRUE(actions_are(a.link_frame(1, to_ep, move + 1 * ms),
                          {want::publish{bus_kind::host, "ccp.ep.e1", {.id = 42}}}));
  message up = make_message(msg_kind::notification, 7, kEndpoint, "ccp://mgmt/any", "status", "{}");
  EXPECT_TRUE(actions_are(a.bus(up, move + 1 * ms, "ccp.agent"), {want::send{1, {.id = 7}}}));
  message w = make_reply(msg_kind::response, 501, h.id, kProxy2, kAgent, "ccp.hello", "{}");
  EXPECT_TRUE(
      actions_are(a.link_frame(2, w, move + 2 * ms), {want::send{1,
                                                                 {.kind = msg_kind::notification,
                                                                  .type = "ccp.bye",
                                                                  .from = std::string(kAgent),
                                                                  .to = std::string(kProxy1)}}}));
  EXPECT_EQ(a->status(), core::agent::link_status::up);
  EXPECT_EQ(a->proxy_target(), kProxy2Url);
  EXPECT_FALSE(a->moving());
  // Frame 42 came on the old link already; the new proxy's copy is dropped. Frame 43 comes
  // on the new link first; the old proxy's copy is dropped.
  EXPECT_TRUE(no_actions(a.link_frame(2, to_ep, move + 3 * ms)));
  message to_ep2 = make_message(msg_kind::request, 43, kMgmt, kEndpoint, "status", "{}");
  EXPECT_TRUE(actions_are(a.link_frame(2, to_ep2, move + 3 * ms),
                          {want::publish{bus_kind::host, "ccp.ep.e1", {.id = 43}}}));
  EXPECT_TRUE(no_actions(a.link_frame(1, to_ep2, move + 3 * ms)));
  // A frame only the old proxy had still arrives.
  message to_ep3 = make_message(msg_kind::request, 44, kMgmt, kEndpoint, "status", "{}");
  EXPECT_TRUE(actions_are(a.link_frame(1, to_ep3, move + 3 * ms),
                          {want::publish{bus_kind::host, "ccp.ep.e1", {.id = 44}}}));
  // Frames leave on the new link; the old proxy closes the old one.
  EXPECT_TRUE(actions_are(a.bus(up, move + 4 * ms, "ccp.agent"), {want::send{2, {.id = 7}}}));
  EXPECT_TRUE(no_actions(a.link_down(1, move + 5 * ms)));
  EXPECT_EQ(a->status(), core::agent::link_status::up);
}

// A proxy cut off from the backbone asks its agents to move; when every other proxy is cut
// off too (an outage of the whole backbone) they refuse, and the agent stays where it is,
// trying again later, until its proxy says the reason is gone.
TEST_F(AgentTest, RefusedMoveKeepsTheLinkAndStayEndsTheMove) {
  connect(0);
  message drain = make_message(msg_kind::notification, 700, kProxy1, kAgent, "ccp.drain");
  EXPECT_TRUE(no_actions(a.link_frame(1, drain, 100 * ms)));
  const micros move = a->next_wake();
  ASSERT_TRUE(actions_are(a.tick(move), {want::dial{2, std::string(kProxy2Url)}}));
  message h = sent_message(a.link_up(2, move));
  message no =
      make_reply(msg_kind::error, 501, h.id, kProxy2, kAgent, "ccp.hello", {}, errc::unreachable);
  EXPECT_TRUE(actions_are(a.link_frame(2, no, move + 2 * ms), {want::close{2, errc::unreachable}}));
  EXPECT_EQ(a->status(), core::agent::link_status::up);
  EXPECT_EQ(a->proxy_target(), kProxy1Url);
  EXPECT_TRUE(a->moving());
  // Still attached: the link to proxy 1 carries on.
  register_endpoint(kEndpoint, 11);
  message up = make_message(msg_kind::notification, 7, kEndpoint, "ccp://mgmt/any", "status", "{}");
  EXPECT_TRUE(actions_are(a.bus(up, move + 3 * ms, "ccp.agent"), {want::send{1, {.id = 7}}}));
  // The backbone is back: proxy 1 says stay, and no other dial comes.
  message stay = make_message(msg_kind::notification, 701, kProxy1, kAgent, "ccp.stay");
  EXPECT_TRUE(no_actions(a.link_frame(1, stay, move + 4 * ms)));
  EXPECT_FALSE(a->moving());
  message proxy_hb = make_message(msg_kind::notification, 702, kProxy1, kAgent, "ccp.hb", "{}");
  for (micros t = move + 5 * ms; t < 10 * seconds; t += 100 * ms) {
    EXPECT_TRUE(no_actions(a.link_frame(1, proxy_hb, t)));  // proxy 1 is alive
    EXPECT_EQ(count_of<act::dial>(a.tick(t)), 0u) << "at " << t;
  }
  EXPECT_EQ(a->proxy_target(), kProxy1Url);
}

// The old link goes before the new one is welcomed: the move's link becomes the link.
TEST_F(AgentTest, OldLinkLostDuringAMoveLeavesTheNewOneInCharge) {
  connect(0);
  message drain = make_message(msg_kind::notification, 700, kProxy1, kAgent, "ccp.drain");
  ASSERT_TRUE(no_actions(a.link_frame(1, drain, 100 * ms)));
  const micros move = a->next_wake();
  ASSERT_TRUE(actions_are(a.tick(move), {want::dial{2, std::string(kProxy2Url)}}));
  message h = sent_message(a.link_up(2, move));
  EXPECT_TRUE(no_actions(a.link_down(1, move + 1 * ms)));
  EXPECT_EQ(a->status(), core::agent::link_status::handshaking);
  message w = make_reply(msg_kind::response, 501, h.id, kProxy2, kAgent, "ccp.hello", "{}");
  EXPECT_TRUE(no_actions(a.link_frame(2, w, move + 2 * ms)));
  EXPECT_EQ(a->status(), core::agent::link_status::up);
  EXPECT_EQ(a->proxy_target(), kProxy2Url);
}

// A proxy that welcomes agents and drops them at once does not get them back at the base
// rate forever: the backoff grows across such flaps (capped), and resets only once an
// attachment lasted stable_attachment.
TEST_F(AgentTest, BackoffGrowsAcrossQuickFlapsAndResetsAfterAStableAttachment) {
  connect(0);
  link_id link = 1;
  micros t = 0;
  // The link goes down at `t`: the time of the redial and its link id.
  auto lose = [&]() {
    EXPECT_TRUE(no_actions(a.link_down(link, t)));
    const micros lost = t;
    for (int i = 0; i < 100; ++i) {
      t = a->next_wake();
      auto acts = a.tick(t);
      if (const auto* d = first_of<act::dial>(acts)) {
        link = d->link;
        return t - lost;
      }
    }
    ADD_FAILURE() << "no redial";
    return micros{0};
  };
  auto reconnect = [&]() {
    message h = sent_message(a.link_up(link, t));
    EXPECT_TRUE(no_actions(a.link_frame(link, welcome(h.id), t)));
    ASSERT_EQ(a->status(), core::agent::link_status::up);
  };
  micros longest = 0;
  for (int flap = 0; flap < 8; ++flap) {
    const micros waited = lose();
    EXPECT_LE(waited, core::backoff_cap);
    longest = std::max(longest, waited);
    reconnect();
  }
  EXPECT_GT(longest, core::backoff_base) << "every redial at the base rate: the backoff reset";
  // Stable for stable_attachment (the proxy heartbeats meanwhile): the next loss redials
  // at the base rate again.
  message proxy_hb = make_message(msg_kind::notification, 702, kProxy1, kAgent, "ccp.hb", "{}");
  const micros until = t + core::stable_attachment + 1;
  while (t < until) {
    t = std::min(a->next_wake(), until);
    a.link_frame(link, proxy_hb, t);
    a.tick(t);
  }
  EXPECT_LE(lose(), core::backoff_base);
}

// A move for balance (ccp.move) names the proxy to move to. The agent learned which dial
// target that is from its answers; it moves make-before-break as for a drain, its hello
// naming the proxy, and says bye only once welcomed.
TEST_F(AgentTest, MoveForBalanceDialsTheNamedProxyAndLeavesOnlyOnceWelcomed) {
  connect(0);
  ASSERT_TRUE(one_of(a.tick(1 * seconds), want::send{1, {.type = "ccp.hb"}}));
  message move = make_message(msg_kind::notification, 700, kProxy1, kAgent, "ccp.move",
                              R"({"to":"ccp://proxy/10.0.1.2/p2"})");
  EXPECT_TRUE(no_actions(a.link_frame(1, move, 1 * seconds)));
  EXPECT_TRUE(a->moving());
  const micros at = a->next_wake();
  EXPECT_LE(at, 1 * seconds + core::move_spread);
  EXPECT_TRUE(actions_are(a.tick(at), {want::dial{2, std::string(kProxy2Url)}}));
  message h = sent_message(a.link_up(2, at));
  EXPECT_EQ(h.body,
            R"({"epoch":102,"token":"s3cret","endpoints":[],"move_to":"ccp://proxy/10.0.1.2/p2"})");
  message w = make_reply(msg_kind::response, 501, h.id, kProxy2, kAgent, "ccp.hello", "{}");
  EXPECT_TRUE(actions_are(a.link_frame(2, w, at + 2 * ms),
                          {want::send{1, {.type = "ccp.bye", .to = std::string(kProxy1)}}}));
  EXPECT_EQ(a->proxy_target(), kProxy2Url);
  EXPECT_FALSE(a->moving());
}

// A move for balance is optional: when the named proxy refuses (or no target is it), the
// agent stays where it is, with no backoff and no retry.
TEST_F(AgentTest, RefusedMoveForBalanceStaysAndDoesNotRetry) {
  connect(0);
  message move = make_message(msg_kind::notification, 700, kProxy1, kAgent, "ccp.move",
                              R"({"to":"ccp://proxy/10.0.1.2/p2"})");
  ASSERT_TRUE(no_actions(a.link_frame(1, move, 100 * ms)));
  const micros at = a->next_wake();
  ASSERT_TRUE(actions_are(a.tick(at), {want::dial{2, std::string(kProxy2Url)}}));
  message h = sent_message(a.link_up(2, at));
  message no =
      make_reply(msg_kind::error, 501, h.id, kProxy2, kAgent, "ccp.hello", {}, errc::rejected);
  EXPECT_TRUE(actions_are(a.link_frame(2, no, at + 2 * ms), {want::close{2, errc::rejected}}));
  // Proxy 1 is the only other target and it is the one we are on: the move is over.
  EXPECT_TRUE(no_actions(a.tick(at + 2 * ms)));
  EXPECT_FALSE(a->moving());
  EXPECT_EQ(a->proxy_target(), kProxy1Url);
  message proxy_hb = make_message(msg_kind::notification, 702, kProxy1, kAgent, "ccp.hb", "{}");
  for (micros t = at + 5 * ms; t < 10 * seconds; t += 100 * ms) {
    EXPECT_TRUE(no_actions(a.link_frame(1, proxy_hb, t)));
    EXPECT_EQ(count_of<act::dial>(a.tick(t)), 0u) << "at " << t;
  }
}

// A move for balance that names the proxy we are on, or comes while a drain's move is under
// way, changes nothing.
TEST_F(AgentTest, MoveForBalanceToItsOwnProxyOrDuringADrainIsIgnored) {
  connect(0);
  message self = make_message(msg_kind::notification, 700, kProxy1, kAgent, "ccp.move",
                              R"({"to":"ccp://proxy/10.0.1.1/p1"})");
  EXPECT_TRUE(no_actions(a.link_frame(1, self, 100 * ms)));
  EXPECT_FALSE(a->moving());
  message drain = make_message(msg_kind::notification, 701, kProxy1, kAgent, "ccp.drain");
  ASSERT_TRUE(no_actions(a.link_frame(1, drain, 200 * ms)));
  message move = make_message(msg_kind::notification, 702, kProxy1, kAgent, "ccp.move",
                              R"({"to":"ccp://proxy/10.0.1.2/p2"})");
  EXPECT_TRUE(no_actions(a.link_frame(1, move, 300 * ms)));
  const micros at = a->next_wake();
  ASSERT_TRUE(actions_are(a.tick(at), {want::dial{2, std::string(kProxy2Url)}}));
  // The drain's hello names no proxy: any proxy may take it.
  EXPECT_EQ(sent_message(a.link_up(2, at)).body,
            R"({"epoch":102,"token":"s3cret","endpoints":[]})");
}

// The endpoints' proof that their agent lives (endpoint.hpp, agent_silence): one beat a
// second on the host bus, link or no link.
TEST_F(AgentTest, BeatsOnTheHostBusEverySecond) {
  for (micros t = 1 * seconds; t <= 3 * seconds; t += 1 * seconds)
    EXPECT_TRUE(one_of(a.tick(t), want::publish{bus_kind::host,
                                                "ccp.eps",
                                                {.kind = msg_kind::notification,
                                                 .type = "ccp.hb",
                                                 .from = std::string(kAgent),
                                                 .to = "ccp://endpoint/10.0.0.7/all"}}))
        << "at " << t;
  (void)a.stop(3 * seconds);
  EXPECT_EQ(count_of<act::publish>(a.tick(5 * seconds)), 0u);
}

// A group request of its own host knows its members: the endpoints it holds.
TEST_F(AgentTest, RequestToItsHostsEndpointsWaitsForExactlyThem) {
  connect(0);
  register_endpoint(kEndpoint, 11, 5, 0);
  register_endpoint("ccp://endpoint/10.0.0.7/e2", 12, 6, 0);
  std::uint64_t id = 0;
  auto acts = a.app([&](core::agent& n) {
    id = *n.request(address_of("ccp://endpoint/10.0.0.7/all"), "ping", "{}", 5 * seconds, 0);
  });
  ASSERT_EQ(count_of<act::publish>(acts), 2u);
  EXPECT_TRUE(no_actions(a.bus(make_reply(msg_kind::response, 50, id, kEndpoint, kAgent, "ping"),
                               1 * ms, "ccp.agent")));
  acts = a.bus(make_reply(msg_kind::response, 51, id, "ccp://endpoint/10.0.0.7/e2", kAgent, "ping"),
               2 * ms, "ccp.agent");
  ASSERT_TRUE(actions_are(acts, {want::complete{id, errc{}, 2}}));  // not at its deadline
  EXPECT_EQ(first_of<act::complete>(acts)->members.size(), 2u);
}

}  // namespace
}  // namespace ccp::test::roles
