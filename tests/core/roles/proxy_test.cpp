// The proxy role on its own: link and bus events in, the exact actions out.
#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <rapidcheck.h>
#include <rapidcheck/gtest.h>

#include "core/control.hpp"
#include "core/proxy.hpp"
#include "tests/core/roles/role_driver.hpp"

namespace ccp::test::roles {
namespace {

using core::ms;
using core::seconds;

constexpr std::string_view kProxy = "ccp://proxy/10.0.1.1/p1";
constexpr std::string_view kOtherProxy = "ccp://proxy/10.0.1.2/p2";
constexpr std::string_view kAgent = "ccp://agent/10.0.0.7/agent";
constexpr std::string_view kHost = "10.0.0.7";
constexpr std::string_view kHostSubject = "ccp.host.10_0_0_7";
constexpr std::string_view kAgent2 = "ccp://agent/10.0.0.8/agent";
constexpr std::string_view kEndpoint = "ccp://endpoint/10.0.0.7/e1";
constexpr std::string_view kMgmt = "ccp://mgmt/10.0.2.1/m1";
constexpr std::string_view kMgmtSubject = "ccp.mgmt.10_0_2_1.m1";
constexpr std::string_view kSecret = "s3cret";

std::string hello_body(std::uint64_t epoch, std::string_view token,
                       const std::vector<std::string>& endpoints) {
  return core::flat_json_writer{}
      .add("epoch", epoch)
      .add("token", token)
      .add("endpoints", endpoints)
      .finish();
}

message hello(std::uint64_t id, std::string_view agent, std::uint64_t epoch, std::string_view token,
              const std::vector<std::string>& endpoints) {
  message m = make_message(msg_kind::request, id, agent, "ccp://proxy/any", "ccp.hello",
                           hello_body(epoch, token, endpoints));
  m.ttl_ms = 5000;
  return m;
}

// A route announcement of another proxy, as it arrives on ccp.ctl.route.
message route_of(std::string_view proxy, std::string_view op, std::string_view host,
                 std::uint64_t epoch) {
  return make_message(
      msg_kind::notification, 900, proxy, "ccp://proxy/all", "ccp.route",
      core::flat_json_writer{}.add("op", op).add("host", host).add("epoch", epoch).finish());
}

// A request of a mgmt node for an endpoint, as it arrives on the host's subject.
message mgmt_request(std::uint64_t id, std::string_view to, std::string type = "status") {
  return make_message(msg_kind::request, id, kMgmt, to, std::move(type), R"({"q":1})");
}

class ProxyTest : public ::testing::Test {
 protected:
  ProxyTest() { p.start(0); }

  // link_up, then a good hello on `link`; returns the hello's actions.
  std::vector<action> attach(link_id link, std::string_view agent = kAgent, std::uint64_t epoch = 1,
                             const std::vector<std::string>& endpoints = {"e1"}, micros now = 0) {
    EXPECT_TRUE(no_actions(p.link_up(link, now)));
    return p.link_frame(link, hello(7, agent, epoch, kSecret, endpoints), now);
  }

  core::shared_secret_verifier verifier{std::string(kSecret)};
  driver<core::proxy> p{address_of(kProxy), 1, verifier};
};

TEST(ProxyStart, SubscribesItsOwnSubjectsAndNoAgentGroup) {
  core::shared_secret_verifier verifier{"x"};
  driver<core::proxy> p{address_of(kProxy), 1, verifier};
  // Not ccp.agent.any nor ccp.endpoint.any: a proxy holding no agents never takes an `any`.
  EXPECT_TRUE(actions_are(
      p.start(0),
      {
          want::subscribe{bus_kind::backbone, "ccp.proxy.10_0_1_1.p1", ""},
          want::subscribe{bus_kind::backbone, "ccp.proxy.any", "ccp.proxy"},
          want::subscribe{bus_kind::backbone, "ccp.proxy.all", ""},
          want::subscribe{bus_kind::backbone, "ccp.proxy.10_0_1_1.any", "ccp.proxy.10_0_1_1"},
          want::subscribe{bus_kind::backbone, "ccp.proxy.10_0_1_1.all", ""},
          want::subscribe{bus_kind::backbone, "ccp.ctl.route", ""},
          want::subscribe{bus_kind::backbone, "ccp.ctl.hb", ""},
      }));
  EXPECT_EQ(p->next_wake(), 0);  // its first heartbeat is due at once
}

TEST_F(ProxyTest, FirstTickAnnouncesAHeartbeatWithItsHostCount) {
  EXPECT_TRUE(actions_are(p.tick(0), {want::publish{bus_kind::backbone,
                                                    "ccp.ctl.hb",
                                                    {.kind = msg_kind::notification,
                                                     .type = "ccp.hb",
                                                     .from = std::string(kProxy),
                                                     .to = "ccp://proxy/all",
                                                     .body = R"({"hosts":0,"digest":0})"}}}));
  EXPECT_EQ(p->next_wake(), 1 * seconds);
}

TEST_F(ProxyTest, HelloWithGoodTokenAttachesTheHost) {
  EXPECT_TRUE(actions_are(
      attach(1),
      {
          want::subscribe{bus_kind::backbone, std::string(kHostSubject), ""},
          want::publish{
              bus_kind::backbone,
              "ccp.ctl.route",
              {.kind = msg_kind::notification,
               .type = "ccp.route",
               .from = std::string(kProxy),
               .to = "ccp://proxy/all",
               .body =
                   R"({"op":"attach","host":"10.0.0.7","epoch":1,"agent":"agent","endpoints":["e1"]})"}},
          want::subscribe{bus_kind::backbone, "ccp.agent.any", "ccp.agent"},
          want::subscribe{bus_kind::backbone, "ccp.agent.all", ""},
          want::subscribe{bus_kind::backbone, "ccp.endpoint.any", "ccp.endpoint"},
          want::subscribe{bus_kind::backbone, "ccp.endpoint.all", ""},
          want::send{1,
                     {.kind = msg_kind::response,
                      .type = "ccp.hello",
                      .from = std::string(kProxy),
                      .to = std::string(kAgent),
                      .correlation = 7,
                      .body = R"({"proxy":"ccp://proxy/10.0.1.1/p1"})"}},
      }));
  EXPECT_TRUE(p->holds(kHost));
  EXPECT_EQ(p->attached(), 1u);
  ASSERT_NE(p->directory().find(kHost), nullptr);
  EXPECT_EQ(p->directory().find(kHost)->proxy, kProxy);
}

TEST_F(ProxyTest, AgentWithoutEndpointsTakesNoEndpointAny) {
  auto acts = attach(1, kAgent, 1, {});
  EXPECT_TRUE(one_of(acts, want::subscribe{bus_kind::backbone, "ccp.agent.any", "ccp.agent"}));
  EXPECT_EQ(count_of<act::subscribe>(acts), 3u);  // host, agent.any, agent.all
  for (const action& a : acts) {
    if (const auto* s = std::get_if<act::subscribe>(&a)) {
      EXPECT_FALSE(s->subject.starts_with("ccp.endpoint.")) << describe(acts);
    }
  }
}

TEST_F(ProxyTest, HelloWithBadTokenIsRefusedAndTheLinkClosed) {
  ASSERT_TRUE(no_actions(p.link_up(1, 0)));
  EXPECT_TRUE(actions_are(p.link_frame(1, hello(7, kAgent, 1, "wrong!", {"e1"}), 0),
                          {
                              want::send{1,
                                         {.kind = msg_kind::error,
                                          .type = "ccp.hello",
                                          .from = std::string(kProxy),
                                          .to = std::string(kAgent),
                                          .correlation = 7,
                                          .code = errc::rejected,
                                          .text = "bad credentials"}},
                              want::close{1, errc::rejected},
                          }));
  EXPECT_FALSE(p->holds(kHost));
  EXPECT_EQ(p->directory().find(kHost), nullptr);
}

// The host kernel passes every frame on (host/kernel.hpp): a link the proxy closed is
// forgotten here, and what was in flight on it is dropped.
TEST_F(ProxyTest, FramesOfALinkItClosedAreDropped) {
  ASSERT_TRUE(no_actions(p.link_up(1, 0)));
  ASSERT_TRUE(some_of(p.link_frame(1, hello(7, kAgent, 1, "wrong!", {"e1"}), 0),
                      want::close{1, errc::rejected}));
  EXPECT_TRUE(no_actions(p.link_frame(1, hello(8, kAgent, 1, kSecret, {"e1"}), 1000)));
  EXPECT_TRUE(no_actions(p.flushed(1, 1, 1000)));
  EXPECT_FALSE(p->holds(kHost));
}

TEST_F(ProxyTest, FirstFrameThatIsNotAHelloIsRefused) {
  ASSERT_TRUE(no_actions(p.link_up(1, 0)));
  message m = make_message(msg_kind::notification, 3, kAgent, "ccp://mgmt/any", "status");
  EXPECT_TRUE(
      actions_are(p.link_frame(1, m, 0), {
                                             want::send{1,
                                                        {.kind = msg_kind::error,
                                                         .type = "status",
                                                         .to = std::string(kAgent),
                                                         .correlation = 3,
                                                         .code = errc::bad_request,
                                                         .text = "expected ccp.hello first"}},
                                             want::close{1, errc::bad_request},
                                         }));
}

TEST_F(ProxyTest, FrameFromAnotherHostIsRefusedNotPublished) {
  attach(1);
  // The agent of 10.0.0.7 speaks for an endpoint of 10.0.0.8: spoofing.
  message spoof = make_message(msg_kind::notification, 11, "ccp://endpoint/10.0.0.8/e1",
                               "ccp://mgmt/any", "status", "{}");
  EXPECT_TRUE(actions_are(p.link_frame(1, spoof, 0),
                          {
                              want::send{1,
                                         {.kind = msg_kind::error,
                                          .type = "status",
                                          .from = std::string(kProxy),
                                          .to = std::string(kAgent),
                                          .correlation = 11,
                                          .code = errc::rejected,
                                          .text = "source ccp://endpoint/10.0.0.8/e1 is not on "
                                                  "host 10.0.0.7"}},
                          }));
  EXPECT_EQ(p->stats().forwarded, 0u);
}

TEST_F(ProxyTest, FrameFromItsOwnHostIsPublishedWithOneMoreHop) {
  attach(1);
  message m = make_message(msg_kind::notification, 11, kEndpoint, "ccp://mgmt/any", "status", "{}");
  EXPECT_TRUE(actions_are(
      p.link_frame(1, m, 0),
      {want::publish{
          bus_kind::backbone,
          "ccp.mgmt.any",
          {.type = "status", .from = std::string(kEndpoint), .id = 11, .body = "{}", .hops = 1}}}));
  message r = make_reply(msg_kind::response, 12, 40, kAgent, kMgmt, "status", "{}");
  EXPECT_TRUE(actions_are(p.link_frame(1, r, 0),
                          {want::publish{bus_kind::backbone,
                                         std::string(kMgmtSubject),
                                         {.kind = msg_kind::response, .id = 12, .hops = 1}}}));
}

TEST_F(ProxyTest, BusFrameForAnAttachedHostIsSentOnItsLinkUntouchedButTheHop) {
  attach(1);
  message m = mgmt_request(42, kEndpoint);
  auto acts = p.bus(m, 0, kHostSubject);
  ASSERT_TRUE(actions_are(acts, {want::send{1, {.id = 42, .hops = 1}}}));
  message hopped = m;
  hopped.hops = 1;
  EXPECT_EQ(sent_message(acts), hopped);
}

TEST_F(ProxyTest, BusFrameForAHostNotAttachedHereIsBouncedUnreachable) {
  attach(1);
  EXPECT_TRUE(actions_are(p.bus(mgmt_request(42, "ccp://endpoint/10.0.0.8/e1"), 0),
                          {want::publish{bus_kind::backbone,
                                         std::string(kMgmtSubject),
                                         {.kind = msg_kind::error,
                                          .type = "status",
                                          .from = std::string(kProxy),
                                          .to = std::string(kMgmt),
                                          .correlation = 42,
                                          .code = errc::unreachable,
                                          .text = "host 10.0.0.8 is not attached here"}}}));
}

TEST_F(ProxyTest, BusFrameAtTheHopLimitIsBounced) {
  attach(1);
  message m = mgmt_request(42, kEndpoint);
  m.hops = core::max_hops;
  EXPECT_TRUE(actions_are(
      p.bus(m, 0), {want::publish{bus_kind::backbone,
                                  std::string(kMgmtSubject),
                                  {.kind = msg_kind::error,
                                   .correlation = 42,
                                   .code = errc::hop_limit,
                                   .text = "hop limit reached at " + std::string(kProxy)}}}));
}

TEST_F(ProxyTest, LinkDownDetachesTheHost) {
  attach(1);
  EXPECT_TRUE(
      actions_are(p.link_down(1, 5),
                  {
                      want::unsubscribe{bus_kind::backbone, std::string(kHostSubject)},
                      want::publish{bus_kind::backbone,
                                    "ccp.ctl.route",
                                    {.type = "ccp.route",
                                     .from = std::string(kProxy),
                                     .body = R"({"op":"detach","host":"10.0.0.7","epoch":1})"}},
                      want::unsubscribe{bus_kind::backbone, "ccp.agent.any"},
                      want::unsubscribe{bus_kind::backbone, "ccp.agent.all"},
                      want::unsubscribe{bus_kind::backbone, "ccp.endpoint.any"},
                      want::unsubscribe{bus_kind::backbone, "ccp.endpoint.all"},
                  }));
  EXPECT_FALSE(p->holds(kHost));
  EXPECT_EQ(p->directory().find(kHost), nullptr);
  // A frame for the host that was already on its way is answered, not lost.
  EXPECT_TRUE(actions_are(
      p.bus(mgmt_request(42, kEndpoint), 6),
      {want::publish{bus_kind::backbone,
                     std::string(kMgmtSubject),
                     {.kind = msg_kind::error, .correlation = 42, .code = errc::unreachable}}}));
}

TEST_F(ProxyTest, ByeFromTheAgentDetachesAndClosesTheLink) {
  attach(1);
  message bye = make_message(msg_kind::notification, 20, kAgent, kProxy, "ccp.bye");
  auto acts = p.link_frame(1, bye, 5);
  EXPECT_TRUE(one_of(acts, want::unsubscribe{bus_kind::backbone, std::string(kHostSubject)}));
  EXPECT_TRUE(
      one_of(acts, want::publish{bus_kind::backbone,
                                 "ccp.ctl.route",
                                 {.body = R"({"op":"detach","host":"10.0.0.7","epoch":1})"}}));
  ASSERT_FALSE(acts.empty());
  EXPECT_TRUE(mismatch(acts.back(), want::close{1, errc{}}).empty()) << describe(acts);
  EXPECT_FALSE(p->holds(kHost));
}

TEST_F(ProxyTest, StopDrainsTellsEveryAgentToMoveAndKeepsRoutingForThem) {
  attach(1, kAgent);
  attach(2, kAgent2);
  // No bye and no leaving the groups: the hosts are still here (make-before-break).
  EXPECT_TRUE(actions_are(p.stop(10), {
                                          want::send{1,
                                                     {.kind = msg_kind::notification,
                                                      .type = "ccp.drain",
                                                      .from = std::string(kProxy),
                                                      .to = std::string(kAgent)}},
                                          want::send{2,
                                                     {.kind = msg_kind::notification,
                                                      .type = "ccp.drain",
                                                      .from = std::string(kProxy),
                                                      .to = std::string(kAgent2)}},
                                      }));
  EXPECT_TRUE(p->draining());
  // Make-before-break: the hosts stay routed until their agents attach elsewhere.
  EXPECT_TRUE(p->holds(kHost));
  EXPECT_TRUE(actions_are(p.bus(mgmt_request(42, kEndpoint), 11), {want::send{1, {.id = 42}}}));
  // A new agent is refused.
  ASSERT_TRUE(no_actions(p.link_up(3, 12)));
  EXPECT_TRUE(actions_are(
      p.link_frame(3, hello(7, "ccp://agent/10.0.0.9/agent", 1, kSecret, {}), 12),
      {
          want::send{
              3,
              {.kind = msg_kind::error, .code = errc::shutting_down, .text = "proxy is draining"}},
          want::close{3, errc::shutting_down},
      }));
}

// The agent attached elsewhere while draining: its new attachment fences this one. The
// proxy stops routing to the host (the new proxy has every frame for it now: no
// `unreachable` for it) but reads what the agent sent before it switched, until its bye.
TEST_F(ProxyTest, FencedWhileDrainingReadsTheLinkUntilTheAgentsBye) {
  attach(1, kAgent, 1);
  p.stop(10);
  EXPECT_TRUE(actions_are(p.bus(route_of(kOtherProxy, "attach", kHost, 2), 20),
                          {
                              want::unsubscribe{bus_kind::backbone, std::string(kHostSubject)},
                              want::unsubscribe{bus_kind::backbone, "ccp.agent.any"},
                              want::unsubscribe{bus_kind::backbone, "ccp.agent.all"},
                              want::unsubscribe{bus_kind::backbone, "ccp.endpoint.any"},
                              want::unsubscribe{bus_kind::backbone, "ccp.endpoint.all"},
                              want::publish{bus_kind::backbone,
                                            "ccp.ctl.route",
                                            {.type = "ccp.bye", .from = std::string(kProxy)}},
                          }));
  EXPECT_FALSE(p->holds(kHost));
  // A frame for the host that was in flight: the new holder got it too.
  EXPECT_TRUE(no_actions(p.bus(mgmt_request(42, kEndpoint), 21)));
  // The agent's last frames on this link still reach the backbone.
  message up = make_message(msg_kind::request, 8, kEndpoint, "ccp://mgmt/any", "ping", "{}");
  EXPECT_TRUE(one_of(p.link_frame(1, up, 22),
                     want::publish{bus_kind::backbone, "ccp.mgmt.any", {.id = 8}}));
  message bye = make_message(msg_kind::notification, 9, kAgent, kProxy, "ccp.bye");
  auto acts = p.link_frame(1, bye, 23);
  EXPECT_TRUE(one_of(acts, want::close{1, errc{}}));
  EXPECT_TRUE(one_of(acts, want::drained{}));
}

// The host closes a draining proxy when it says drained: once its last link is gone,
// whether the agent left (link down), said bye, or was refused and closed by the proxy.
TEST_F(ProxyTest, DrainedComesOnceWhenTheLastLinkIsGone) {
  attach(1, kAgent);
  attach(2, kAgent2);
  EXPECT_EQ(count_of<act::drained>(p.stop(10)), 0u);
  ASSERT_TRUE(no_actions(p.link_up(3, 11)));  // an agent that has not said hello yet
  EXPECT_EQ(count_of<act::drained>(p.link_down(1, 12)), 0u);
  // The newcomer is refused: the proxy closes and forgets that link itself.
  EXPECT_EQ(count_of<act::drained>(
                p.link_frame(3, hello(7, "ccp://agent/10.0.0.9/agent", 1, kSecret, {}), 13)),
            0u);
  EXPECT_TRUE(one_of(p.link_down(2, 14), want::drained{}));
  EXPECT_EQ(count_of<act::drained>(p.tick(p->next_wake())), 0u);  // once
}

TEST_F(ProxyTest, DrainWithNoLinkIsDrainedAtOnce) {
  EXPECT_TRUE(one_of(p.stop(10), want::drained{}));
}

// Every backbone member handles ccp.bye by forgetting the proxy's routes: said while the
// proxy still holds hosts, it made mgmt nodes and the other proxies answer `unreachable`
// for them until each agent had re-attached elsewhere. No bye while a host is held; the bye
// when the last attached host is gone.
TEST_F(ProxyTest, DrainSaysByeOnlyOnceItHoldsNoHost) {
  attach(1);
  auto acts = p.stop(10);
  for (const action& a : acts) {
    if (const auto* pub = std::get_if<act::publish>(&a)) {
      auto m = decoded(pub->frame);
      EXPECT_FALSE(m && m->type == "ccp.bye") << "bye while holding 10.0.0.7:\n" << describe(acts);
    }
  }
  // The agent moves away: the last host is gone, now the proxy may say bye.
  EXPECT_TRUE(one_of(
      p.link_down(1, 500),
      want::publish{
          bus_kind::backbone, "ccp.ctl.route", {.type = "ccp.bye", .from = std::string(kProxy)}}));
}

// The proxy's own heartbeat, as it comes back over the backbone.
message own_heartbeat(std::uint64_t hosts) {
  return make_message(msg_kind::notification, 901, kProxy, "ccp://proxy/all", "ccp.hb",
                      core::flat_json_writer{}.add("hosts", hosts).finish());
}

// Cut off from the backbone, the proxy cannot tell its own partition from an outage of the
// whole bus; its agents can (another proxy welcomes them, or refuses because it is cut off
// too). It asks them to move, and says stay once its heartbeat comes back.
TEST_F(ProxyTest, CutOffAsksAgentsToMoveAndSaysStayWhenTheBackboneIsBack) {
  attach(1);
  message agent_hb = make_message(msg_kind::notification, 50, kAgent, kProxy, "ccp.hb", "{}");
  std::vector<action> acts;
  micros t = 0;
  while (!p->cut_off()) {
    ASSERT_LT(t, 10 * seconds) << "never cut off";
    t = p->next_wake();
    p.link_frame(1, agent_hb, t);
    acts = p.tick(t);
  }
  EXPECT_GT(t, core::idle_timeout);
  EXPECT_TRUE(one_of(acts, want::send{1, {.type = "ccp.drain", .to = std::string(kAgent)}}));
  // Its hosts stay routed meanwhile: the agent leaves only if another proxy takes it.
  EXPECT_TRUE(p->holds(kHost));
  EXPECT_TRUE(no_actions(p.bus(own_heartbeat(1), t + 1)));
  acts = p.tick(t + 2);
  EXPECT_FALSE(p->cut_off());
  EXPECT_TRUE(one_of(acts, want::send{1, {.type = "ccp.stay", .to = std::string(kAgent)}}));
  EXPECT_TRUE(one_of(acts, want::subscribe{bus_kind::backbone, "ccp.agent.any", "ccp.agent"}));
  // Its directory expired every peer meanwhile: until it could hear them all again, a host
  // it does not know is left to the bus, not answered `unreachable`; then its word stands.
  EXPECT_FALSE(p->learnt());
  auto ask = [](std::uint64_t id) {
    return make_message(msg_kind::request, id, kEndpoint, "ccp://endpoint/10.0.0.9/e1", "echo",
                        "{}");
  };
  EXPECT_TRUE(actions_are(p.link_frame(1, ask(60), t + 3),
                          {want::publish{bus_kind::backbone, "ccp.host.10_0_0_9", {.id = 60}}}));
  const micros relearnt = t + 2 + core::heartbeat_interval + core::heartbeat_interval / 5;
  EXPECT_LE(p->next_wake(), relearnt);
  for (int i = 0; i < 10 && !p->learnt(); ++i) {
    const micros w = p->next_wake();
    p.link_frame(1, agent_hb, w);
    p.tick(w);
  }
  ASSERT_TRUE(p->learnt());
  EXPECT_TRUE(one_of(
      p.link_frame(1, ask(61), relearnt + 1),
      want::send{1, {.kind = msg_kind::error, .correlation = 61, .code = errc::unreachable}}));
}

// A proxy that was not run for longer than stall_threshold past its own timer (SIGSTOP, a
// long pause) may have been given up by its agents and peers meanwhile. On its first call
// after that it leaves the `any` groups; an `any` it took during the stall goes back to
// the group; a frame for a host it does not hold is not answered `unreachable` from its
// stale view; it rejoins once its own heartbeat came back and its peers had time to beat.
TEST_F(ProxyTest, ResumedAfterAStallRevalidatesBeforeItServesAgain) {
  attach(1);
  ASSERT_TRUE(some_of(p.tick(0), want::publish{bus_kind::backbone, "ccp.ctl.hb"}));
  const micros resumed = 8 * seconds;  // its timer was due at 1 s
  message any = make_message(msg_kind::request, 60, kMgmt, "ccp://agent/any", "ping", "{}");
  EXPECT_TRUE(actions_are(p.bus(any, resumed),
                          {
                              want::unsubscribe{bus_kind::backbone, "ccp.agent.any"},
                              want::unsubscribe{bus_kind::backbone, "ccp.agent.all"},
                              want::unsubscribe{bus_kind::backbone, "ccp.endpoint.any"},
                              want::unsubscribe{bus_kind::backbone, "ccp.endpoint.all"},
                              want::publish{bus_kind::backbone, "ccp.agent.any", {.id = 60}},
                          }));
  EXPECT_TRUE(p->revalidating());
  EXPECT_TRUE(no_actions(p.bus(mgmt_request(61, "ccp://endpoint/10.0.0.9/e1"), resumed)));
  // Its link is not blamed for the proxy's own silence.
  auto acts = p.tick(resumed);
  EXPECT_EQ(count_of<act::close>(acts), 0u);
  EXPECT_TRUE(p->holds(kHost));
  EXPECT_TRUE(no_actions(p.bus(own_heartbeat(1), resumed + 1 * ms)));
  acts = p.tick(p->next_wake());
  while (p->revalidating()) {
    ASSERT_LT(p->next_wake(), resumed + 3 * seconds) << "never revalidated";
    acts = p.tick(p->next_wake());
  }
  EXPECT_TRUE(one_of(acts, want::subscribe{bus_kind::backbone, "ccp.agent.any", "ccp.agent"}));
}

TEST_F(ProxyTest, LinkQueueBoundBouncesOverloadedAndFlushingFreesRoom) {
  attach(1);
  ASSERT_TRUE(no_actions(p.flushed(1, 1, 0)));  // the welcome is written
  std::uint64_t id = 100;
  for (std::size_t i = 0; i < core::link_queue_frames; ++i) {
    ++id;
    auto acts = p.bus(mgmt_request(id, kEndpoint), 1);
    ASSERT_TRUE(actions_are(acts, {want::send{1, {.id = id}}})) << "frame " << i;
  }
  // One more than the queue holds: bounced to its sender, not queued.
  ++id;
  EXPECT_TRUE(actions_are(p.bus(mgmt_request(id, kEndpoint), 1),
                          {want::publish{bus_kind::backbone,
                                         std::string(kMgmtSubject),
                                         {.kind = msg_kind::error,
                                          .from = std::string(kProxy),
                                          .to = std::string(kMgmt),
                                          .correlation = id,
                                          .code = errc::overloaded,
                                          .text = "link queue to 10.0.0.7 is full"}}}));
  // The host wrote one frame: there is room for exactly one more.
  ASSERT_TRUE(no_actions(p.flushed(1, 1, 2)));
  ++id;
  EXPECT_TRUE(actions_are(p.bus(mgmt_request(id, kEndpoint), 2), {want::send{1, {.id = id}}}));
  ++id;
  EXPECT_TRUE(actions_are(p.bus(mgmt_request(id, kEndpoint), 2),
                          {want::publish{bus_kind::backbone,
                                         std::string(kMgmtSubject),
                                         {.correlation = id, .code = errc::overloaded}}}));
}

// A proxy's own request to a group comes back to it over the bus, and it routes it as any
// member of the group does. A member it cannot reach there (its link is full) is a
// router's error like any other proxy's: that member stays silent until the deadline. It
// is not a failure before the request left, which would make every member unreachable.
TEST_F(ProxyTest, ItsOwnAllBouncedByItsOwnFullLinkIsARoutersAnswer) {
  attach(1);
  ASSERT_TRUE(no_actions(p.flushed(1, 1, 0)));  // the welcome is written
  for (int i = 0; i < 10 && !p->learnt(); ++i)  // so that it knows the group's members
    p.tick(p->next_wake());
  ASSERT_TRUE(p->learnt());
  const micros t = p->next_wake() - 1;  // before the next link scan: nothing else queues
  std::uint64_t id = 100;
  bool full = false;
  for (std::size_t i = 0; i <= core::link_queue_frames && !full; ++i)
    full = count_of<act::publish>(p.bus(mgmt_request(++id, kEndpoint), t)) == 1;
  ASSERT_TRUE(full) << "the link's queue never filled";
  std::uint64_t all = 0;
  auto acts = p.app([&](core::proxy& n) {
    all = *n.request(address_of("ccp://agent/all"), "ping", "{}", 2 * seconds, t);
  });
  ASSERT_TRUE(actions_are(
      acts, {want::publish{
                bus_kind::backbone, "ccp.agent.all", {.kind = msg_kind::request, .id = all}}}));
  EXPECT_TRUE(no_actions(p.bus(published_message(acts), t + 1 * ms, "ccp.agent.all")));
  auto done = p.tick(t + 2 * seconds);
  ASSERT_TRUE(one_of(done, want::complete{all, errc::timeout, 1}));
  const act::complete& c = *first_of<act::complete>(done);
  ASSERT_EQ(c.members.size(), 1u);
  EXPECT_EQ(c.members[0].member.str(), kAgent);
  EXPECT_EQ(c.members[0].result, act::member_result::answer::silent);
  EXPECT_EQ(c.replies[0].code, errc::overloaded);
}

// Before its directory is learnt (act::ready), a proxy that does not hold a host leaves a
// frame for it to the bus (the host's proxy takes it, or the deadline answers) instead of
// answering `unreachable` from a directory that has not heard the other proxies yet.
TEST_F(ProxyTest, BeforeItsDirectoryIsLearntAHostItDoesNotKnowIsLeftToTheBus) {
  attach(1);
  ASSERT_TRUE(no_actions(p.flushed(1, 1, 0)));
  ASSERT_FALSE(p->learnt());
  auto ask = [](std::uint64_t id) {
    return make_message(msg_kind::request, id, kEndpoint, "ccp://endpoint/10.0.0.9/any", "echo",
                        "{}");
  };
  EXPECT_TRUE(actions_are(p.link_frame(1, ask(50), 1 * ms),
                          {want::publish{bus_kind::backbone, "ccp.host.10_0_0_9", {.id = 50}}}));
  for (int i = 0; i < 10 && !p->learnt(); ++i)
    p.tick(p->next_wake());
  ASSERT_TRUE(p->learnt());
  const micros t = p->next_wake() - 1;
  EXPECT_TRUE(actions_are(p.link_frame(1, ask(51), t), {want::send{1,
                                                                   {.kind = msg_kind::error,
                                                                    .to = std::string(kEndpoint),
                                                                    .correlation = 51,
                                                                    .code = errc::unreachable}}}));
}

// A client that never reads: the link heartbeat counts against the bound too.
TEST_F(ProxyTest, AFullLinkGetsNoHeartbeat) {
  attach(1);
  ASSERT_TRUE(no_actions(p.flushed(1, 1, 0)));  // the welcome is written
  std::uint64_t id = 100;
  for (std::size_t i = 0; i < core::link_queue_frames; ++i) {
    ++id;
    ASSERT_TRUE(actions_are(p.bus(mgmt_request(id, kEndpoint), 1), {want::send{1, {.id = id}}}));
  }
  // Link scans while the agent is still heard from (it sends, it does not read).
  for (micros now = core::seconds; now <= 2 * core::seconds; now += core::seconds / 2) {
    ASSERT_TRUE(no_actions(p.link_frame(
        1, make_message(msg_kind::notification, ++id, kAgent, kProxy, "ccp.hb"), now)));
    for (const action& a : p.tick(now))
      EXPECT_FALSE(std::holds_alternative<act::send>(a)) << describe(a);
  }
}

TEST_F(ProxyTest, NewerAttachmentElsewhereFencesThisOne) {
  attach(1, kAgent, 1);
  // No detach announcement: the newer owner announced its route.
  EXPECT_TRUE(actions_are(p.bus(route_of(kOtherProxy, "attach", kHost, 2), 5),
                          {
                              want::unsubscribe{bus_kind::backbone, std::string(kHostSubject)},
                              want::unsubscribe{bus_kind::backbone, "ccp.agent.any"},
                              want::unsubscribe{bus_kind::backbone, "ccp.agent.all"},
                              want::unsubscribe{bus_kind::backbone, "ccp.endpoint.any"},
                              want::unsubscribe{bus_kind::backbone, "ccp.endpoint.all"},
                              want::close{1, errc::rejected},
                          }));
  EXPECT_FALSE(p->holds(kHost));
  EXPECT_EQ(p->directory().find(kHost)->proxy, kOtherProxy);
}

TEST_F(ProxyTest, OlderAttachmentElsewhereDoesNotFenceThisOne) {
  attach(1, kAgent, 3);
  EXPECT_TRUE(no_actions(p.bus(route_of(kOtherProxy, "attach", kHost, 2), 5)));
  EXPECT_TRUE(p->holds(kHost));
}

TEST_F(ProxyTest, AgentsRequestListsTheAttachedHosts) {
  attach(1, kAgent, 4, {"e1", "e2"});
  message m = make_message(msg_kind::request, 42, kMgmt, kProxy, "agents");
  EXPECT_TRUE(actions_are(
      p.bus(m, 0),
      {want::publish{bus_kind::backbone,
                     std::string(kMgmtSubject),
                     {.kind = msg_kind::response,
                      .type = "agents",
                      .from = std::string(kProxy),
                      .to = std::string(kMgmt),
                      .correlation = 42,
                      .body = R"({"proxy":"ccp://proxy/10.0.1.1/p1","agents":[{"agent":)"
                              R"("ccp://agent/10.0.0.7/agent","host":"10.0.0.7","epoch":4,)"
                              R"("endpoints":2}]})"}}}));
}

// ---- ownership: no value an agent sends keeps another out (issue 23, item 5)

TEST_F(ProxyTest, AFreshAttachmentTakesTheHostFromALiveClaimWithTheNextEpoch) {
  // Another proxy holds the host with epoch 5 (the agent restarted with its clock stepped
  // back, or its old link is half-open there): the fresh hello with epoch 5 takes the host
  // with epoch 6, which fences the old claim wherever it is.
  ASSERT_TRUE(no_actions(p.bus(route_of(kOtherProxy, "attach", kHost, 5), 0)));
  auto acts = attach(1, kAgent, 5, {});
  EXPECT_TRUE(one_of(acts, want::publish{bus_kind::backbone,
                                         "ccp.ctl.route",
                                         {.type = "ccp.route",
                                          .body = R"({"op":"attach","host":"10.0.0.7","epoch":6,)"
                                                  R"("agent":"agent","endpoints":[]})"}}));
  EXPECT_TRUE(one_of(acts, want::send{1, {.kind = msg_kind::response, .correlation = 7}}));
  EXPECT_TRUE(p->holds(kHost));
  ASSERT_NE(p->directory().find(kHost), nullptr);
  EXPECT_EQ(p->directory().find(kHost)->proxy, kProxy);
  EXPECT_EQ(p->directory().find(kHost)->epoch, 6u);
}

TEST_F(ProxyTest, AFreshAttachmentTakesTheHostFromTheLargestEpochAnAgentMaySend) {
  ASSERT_TRUE(no_actions(p.bus(route_of(kOtherProxy, "attach", kHost, core::max_agent_epoch), 0)));
  attach(1, kAgent, 3, {});
  EXPECT_TRUE(p->holds(kHost));
  ASSERT_NE(p->directory().find(kHost), nullptr);
  EXPECT_EQ(p->directory().find(kHost)->epoch, core::max_agent_epoch + 1);
}

TEST_F(ProxyTest, AnImpostorWithTheLargestEpochLocksNobodyOut) {
  // Epoch 2^64-1 is refused: a proxy must always be able to give the next claim a higher one.
  ASSERT_TRUE(no_actions(p.link_up(1, 0)));
  EXPECT_TRUE(actions_are(p.link_frame(1, hello(7, kAgent, UINT64_MAX, kSecret, {}), 0),
                          {
                              want::send{1,
                                         {.kind = msg_kind::error,
                                          .type = "ccp.hello",
                                          .correlation = 7,
                                          .code = errc::bad_request,
                                          .text = "epoch above 4611686018427387904"}},
                              want::close{1, errc::bad_request},
                          }));
  EXPECT_FALSE(p->holds(kHost));
  // The real agent of the host, whose epoch is small, attaches with its own epoch.
  auto acts = attach(2, kAgent, 1, {});
  EXPECT_TRUE(one_of(acts, want::send{2, {.kind = msg_kind::response, .correlation = 7}}));
  EXPECT_TRUE(p->holds(kHost));
  ASSERT_NE(p->directory().find(kHost), nullptr);
  EXPECT_EQ(p->directory().find(kHost)->epoch, 1u);
}

TEST_F(ProxyTest, AClaimThatEndedLeavesNoEpochBehind) {
  // An impostor attached elsewhere with a huge epoch and left: nothing of it remains.
  ASSERT_TRUE(no_actions(p.bus(route_of(kOtherProxy, "attach", kHost, UINT64_MAX - 1), 0)));
  ASSERT_TRUE(no_actions(p.bus(route_of(kOtherProxy, "detach", kHost, UINT64_MAX - 1), 1)));
  auto acts = attach(1, kAgent, 1, {});
  EXPECT_TRUE(one_of(acts, want::send{1, {.kind = msg_kind::response, .correlation = 7}}));
  ASSERT_NE(p->directory().find(kHost), nullptr);
  EXPECT_EQ(p->directory().find(kHost)->epoch, 1u);
}

TEST_F(ProxyTest, AClaimWhoseProxyWentSilentLeavesNoEpochBehind) {
  ASSERT_TRUE(no_actions(p.bus(route_of(kOtherProxy, "attach", kHost, UINT64_MAX - 1), 0)));
  // The other proxy is heard no more; ours is (its heartbeat comes back over the bus).
  const micros later = core::idle_timeout + core::heartbeat_interval;
  message beat = make_message(msg_kind::notification, 50, kProxy, "ccp://proxy/all", "ccp.hb",
                              R"({"hosts":0})");
  (void)p.bus(beat, later);
  (void)p.tick(later);
  ASSERT_EQ(p->directory().find(kHost), nullptr);
  auto acts = attach(1, kAgent, 1, {}, later);
  EXPECT_TRUE(one_of(acts, want::send{1, {.kind = msg_kind::response, .correlation = 7}}));
  ASSERT_NE(p->directory().find(kHost), nullptr);
  EXPECT_EQ(p->directory().find(kHost)->epoch, 1u);
}

TEST_F(ProxyTest, ARouteAnnouncementNotFromAProxyIsIgnored) {
  // Whoever can publish on the backbone under another role's name announces nothing.
  EXPECT_TRUE(no_actions(p.bus(route_of(kAgent2, "attach", kHost, UINT64_MAX), 0)));
  EXPECT_EQ(p->directory().find(kHost), nullptr);
  EXPECT_EQ(p->directory().proxies(), 0u);
}

TEST_F(ProxyTest, AnAgentsControlFrameForTheBackboneIsNotPublished) {
  attach(1);
  // A route announcement in a proxy's stead (a request, so that it is not taken as the
  // link's own control traffic): it must not reach the backbone.
  message m = make_message(msg_kind::request, 11, kAgent, "ccp://proxy/all", "ccp.route",
                           R"({"op":"attach","host":"10.0.0.8","epoch":99})");
  EXPECT_TRUE(no_actions(p.link_frame(1, m, 0)));
  EXPECT_EQ(p->stats().forwarded, 0u);
}

// ---- bounded under any client behaviour (issue 23, item 6)

message spoofed(std::uint64_t id) {
  return make_message(msg_kind::notification, id, "ccp://endpoint/10.0.0.8/e1", "ccp://mgmt/any",
                      "status", "{}");
}

TEST_F(ProxyTest, ErrorRepliesToALinkCountAgainstItsQueueBound) {
  attach(1);
  ASSERT_TRUE(no_actions(p.flushed(1, 1, 0)));  // the welcome is written
  std::uint64_t id = 100;
  for (std::size_t i = 0; i < core::link_queue_frames; ++i)
    ASSERT_EQ(count_of<act::send>(p.bus(mgmt_request(++id, kEndpoint), 0)), 1u) << "frame " << i;
  // The agent reads nothing: the error its spoofed frame earns is not queued.
  EXPECT_TRUE(no_actions(p.link_frame(1, spoofed(5000), 1)));
  // The host wrote one frame: the next error fits, exactly.
  ASSERT_TRUE(no_actions(p.flushed(1, 1, 2)));
  EXPECT_TRUE(actions_are(
      p.link_frame(1, spoofed(5001), 2),
      {want::send{1, {.kind = msg_kind::error, .correlation = 5001, .code = errc::rejected}}}));
  EXPECT_TRUE(no_actions(p.link_frame(1, spoofed(5002), 2)));
}

TEST_F(ProxyTest, ALinkWhoseFramesAreRefusedFasterThanTheStatedRateIsClosed) {
  attach(1);
  std::uint64_t id = 100;
  // A burst of refusal_burst refused frames: each is answered, and the link stays.
  for (std::uint64_t i = 0; i < core::refusal_burst; ++i)
    ASSERT_TRUE(actions_are(p.link_frame(1, spoofed(++id), 0),
                            {want::send{1, {.kind = msg_kind::error, .code = errc::rejected}}}))
        << "frame " << i;
  // A second later there is room for refusals_per_second more, exactly.
  for (std::uint64_t i = 0; i < core::refusals_per_second; ++i)
    ASSERT_EQ(count_of<act::close>(p.link_frame(1, spoofed(++id), 1 * seconds)), 0u)
        << "frame " << i;
  // One more: the link is closed and its host detached (announced).
  auto acts = p.link_frame(1, spoofed(++id), 1 * seconds);
  EXPECT_TRUE(one_of(acts, want::close{1, errc::rejected}));
  EXPECT_TRUE(one_of(
      acts, want::publish{
                bus_kind::backbone,
                "ccp.ctl.route",
                {.type = "ccp.route", .body = R"({"op":"detach","host":"10.0.0.7","epoch":1})"}}));
  EXPECT_FALSE(p->holds(kHost));
  EXPECT_TRUE(no_actions(p.link_frame(1, spoofed(++id), 1 * seconds)));  // gone
}

TEST_F(ProxyTest, MalformedFramesCountAsRefusedToo) {
  attach(1);
  std::vector<action> acts;
  for (std::uint64_t i = 0; i <= core::refusal_burst; ++i)
    acts = p.handle(in::link_frame{1, std::make_shared<std::string>("not a frame")}, 0);
  EXPECT_TRUE(one_of(acts, want::close{1, errc::rejected}));
  EXPECT_EQ(p->stats().malformed, core::refusal_burst + 1);
}

// ---- a node takes only replies addressed to it that answer something of its own

// Found by a fuzzer driving the proxy (issue 23), given on the bus after the proxy's first
// heartbeat: an error of type ccp.hello from ccp://endpoint/10.1.0.1/e1 to ccp://mgmt/any,
// code unreachable, correlation 1 (the heartbeat's id before ids carried an incarnation).
constexpr std::string_view kFuzzedError =
    "cc0104005d000000010000000000000001000000000000000000000001001a000e0009000000000000000000"
    "6363703a2f2f656e64706f696e742f31302e312e302e312f65316363703a2f2f6d676d742f616e7963637"
    "02e68656c6c6f";

std::string from_hex(std::string_view hex) {
  std::string out;
  for (std::size_t i = 0; i + 1 < hex.size(); i += 2)
    out.push_back(static_cast<char>(std::stoi(std::string(hex.substr(i, 2)), nullptr, 16)));
  return out;
}

TEST_F(ProxyTest, AnErrorForMgmtAnyIsNotDeliveredToTheProxy) {
  const message beat = published_message(p.tick(0));
  ASSERT_EQ(beat.type, "ccp.hb");
  EXPECT_TRUE(no_actions(p.bus_bytes(from_hex(kFuzzedError), 1)));
  // The same error answering the heartbeat this proxy really sent (today's ids).
  message e = make_reply(msg_kind::error, 1, beat.id, "ccp://endpoint/10.1.0.1/e1",
                         "ccp://mgmt/any", "ccp.hello", {}, errc::unreachable);
  EXPECT_TRUE(no_actions(p.bus(e, 1)));
  // Addressed to the proxy itself, it answers the core's heartbeat, not the application.
  e.to = address_of(kProxy);
  e.type = "ccp.hb";
  EXPECT_TRUE(no_actions(p.bus(e, 1)));
  EXPECT_EQ(p->stats().delivered, 0u);
}

// ---------------------------------------------------------------------------------------
// Rebalancing and `any` over members.

// A peer's heartbeat, as it arrives on ccp.ctl.hb.
message peer_heartbeat(std::string_view proxy, std::uint64_t hosts, bool open = true) {
  core::flat_json_writer w;
  w.add("hosts", hosts);
  if (!open) w.add("open", 0);
  return make_message(msg_kind::notification, 902, proxy, "ccp://proxy/all", "ccp.hb", w.finish());
}

std::string agent_of(int i) {
  return "ccp://agent/10.0.0." + std::to_string(10 + i) + "/agent";
}

// The ccp.move notices among `acts`, each checked to name `to`.
std::size_t moves_in(const std::vector<action>& acts, std::string_view to) {
  std::size_t n = 0;
  for (const action& a : acts)
    if (const auto* s = std::get_if<act::send>(&a))
      if (auto m = decoded(s->frame); m && m->type == "ccp.move") {
        EXPECT_EQ(m->body, R"({"to":")" + std::string(to) + R"("})");
        EXPECT_EQ(m->kind, msg_kind::notification);
        ++n;
      }
  return n;
}

class RebalanceTest : public ProxyTest {
 protected:
  // `n` agents attached here, on links 1..n.
  void attach_agents(int n) {
    agents_ = n;
    for (int i = 0; i < n; ++i)
      attach(static_cast<link_id>(i + 1), agent_of(i), 1, {"e1"});
  }
  // The other proxy announces that it holds `n` hosts (its heartbeats say so from now on).
  void peer_holds(int n) {
    for (int i = 0; i < n; ++i)
      p.bus(route_of(kOtherProxy, "attach", "10.0.9." + std::to_string(i + 1), 1), now_);
    peer_hosts_ = static_cast<std::uint64_t>(n);
  }
  // Runs the proxy as a host would until `to`: a tick at each of its wakes, our agents
  // beating, and (as set) our own heartbeat coming back and the peer's arriving just
  // before each tick. Returns every action of those ticks.
  std::vector<action> run_until(micros to) {
    std::vector<action> all;
    while (true) {
      const micros t = std::max(now_, p->next_wake());
      if (t > to) break;
      for (int i = 0; i < agents_; ++i)
        p.link_frame(static_cast<link_id>(i + 1),
                     make_message(msg_kind::notification, 50, agent_of(i), kProxy, "ccp.hb", "{}"),
                     t);
      if (own_beats_) p.bus(own_heartbeat(p->attached()), t);
      if (peer_beats_) p.bus(peer_heartbeat(kOtherProxy, peer_hosts_, peer_open_), t);
      auto acts = p.tick(t);
      all.insert(all.end(), acts.begin(), acts.end());
      now_ = t + 1;
    }
    now_ = to;
    return all;
  }
  int agents_ = 0;
  micros now_ = 0;
  std::uint64_t peer_hosts_ = 0;
  bool own_beats_ = true, peer_beats_ = true, peer_open_ = true;
};

// An overloaded proxy asks a few of its agents (rebalance_min_batch, or 5%) to move to the
// least loaded proxy it sees alive, once its view settled.
TEST_F(RebalanceTest, AnOverloadedProxyAsksAFewAgentsToMoveToTheLeastLoaded) {
  attach_agents(10);
  // Before rebalance_settle: nothing, whatever the counts.
  EXPECT_EQ(moves_in(run_until(core::rebalance_settle - 1), kOtherProxy), 0u);
  EXPECT_EQ(moves_in(run_until(core::rebalance_settle + 500 * ms), kOtherProxy),
            core::rebalance_min_batch);
  EXPECT_EQ(p->rebalance_moves(), core::rebalance_min_batch);
}

// Asked agents that have not moved hold the next round back; once they gave up
// (rebalance_move_timeout) the next round goes on.
TEST_F(RebalanceTest, NoNewRoundWhileAskedAgentsHaveNotMoved) {
  attach_agents(10);
  const micros first = core::rebalance_settle;
  ASSERT_EQ(moves_in(run_until(first + 500 * ms), kOtherProxy), core::rebalance_min_batch);
  EXPECT_EQ(moves_in(run_until(first + core::rebalance_move_timeout), kOtherProxy), 0u);
  // They gave up: 10 vs 0 still, so a later round asks again.
  EXPECT_EQ(moves_in(run_until(first + core::rebalance_move_timeout + core::rebalance_interval + 1),
                     kOtherProxy),
            core::rebalance_min_batch);
}

// Within the tolerance, with a peer that takes no agents (draining, cut off: "open":0), or
// with a peer whose heartbeat stopped, nobody is asked to move.
TEST_F(RebalanceTest, NoMoveWithinToleranceTowardsAClosedPeerOrOnAStaleView) {
  attach_agents(11);
  peer_holds(9);
  // 11 vs 9: each within 10% of fair (10), though one move would make them equal.
  EXPECT_EQ(moves_in(run_until(5 * seconds), kOtherProxy), 0u);
  p.bus(route_of(kOtherProxy, "detach", "10.0.9.1", 1), now_);  // 11 vs 8: too many here
  peer_hosts_ = 8;
  peer_open_ = false;
  EXPECT_EQ(moves_in(run_until(9 * seconds), kOtherProxy), 0u);  // but the peer is closed
  peer_open_ = true;
  peer_beats_ = false;
  EXPECT_EQ(moves_in(run_until(15 * seconds), kOtherProxy), 0u);  // the peer went silent
}

// Never while our own heartbeat does not come back (a partition, a global outage), nor
// while draining.
TEST_F(RebalanceTest, NoMoveWithoutOurOwnHeartbeatOrWhileDraining) {
  attach_agents(10);
  own_beats_ = false;
  EXPECT_EQ(moves_in(run_until(5 * seconds), kOtherProxy), 0u);
  own_beats_ = true;
  p.stop(now_);
  EXPECT_EQ(moves_in(run_until(12 * seconds), kOtherProxy), 0u);
}

// The moves stop short of swapping places: with 5 agents here and 1 there, at most
// (5 - 1) / 2 = 2 move, and never below ceil(fair) = 3.
TEST_F(RebalanceTest, AMoveNeverOvershootsTheFairShare) {
  attach_agents(5);
  peer_holds(1);
  EXPECT_EQ(moves_in(run_until(core::rebalance_settle + 500 * ms), kOtherProxy), 2u);
}

// The heartbeat says whether the proxy takes agents: a draining one does not.
TEST_F(ProxyTest, HeartbeatSaysNotOpenWhileDraining) {
  attach(1);
  p.stop(10);
  auto acts = p.tick(10);
  ASSERT_TRUE(one_of(acts, want::publish{bus_kind::backbone, "ccp.ctl.hb"}));
  for (const action& a : acts)
    if (const auto* pub = std::get_if<act::publish>(&a); pub && pub->subject == "ccp.ctl.hb") {
      EXPECT_EQ(decoded(pub->frame)->body,
                R"({"hosts":1,"digest":)" +
                    std::to_string(core::route_directory::route_digest(kHost, 1)) +
                    R"(,"open":0})");
    }
}

// A hello that moves for balance names its proxy: another refuses it, the named one takes it.
TEST_F(ProxyTest, AHelloMovingForBalanceToAnotherProxyIsRefused) {
  ASSERT_TRUE(no_actions(p.link_up(1, 0)));
  message h = hello(7, kAgent, 1, kSecret, {});
  h.body = R"({"epoch":1,"token":"s3cret","endpoints":[],"move_to":"ccp://proxy/10.0.1.2/p2"})";
  EXPECT_TRUE(actions_are(p.link_frame(1, h, 0),
                          {want::send{1, {.kind = msg_kind::error, .code = errc::rejected}},
                           want::close{1, errc::rejected}}));
  ASSERT_TRUE(no_actions(p.link_up(2, 0)));
  h.body = R"({"epoch":1,"token":"s3cret","endpoints":[],"move_to":"ccp://proxy/10.0.1.1/p1"})";
  p.link_frame(2, h, 0);
  EXPECT_TRUE(p->holds(kHost));
}

// Asked to move for balance, the agent attaches elsewhere: the new attachment fences this
// one, and the proxy reads the old link until the agent's bye (make-before-break).
TEST_F(RebalanceTest, FencedAfterAMoveForBalanceReadsTheLinkUntilTheBye) {
  attach_agents(10);
  auto acts = run_until(core::rebalance_settle + 500 * ms);
  ASSERT_EQ(moves_in(acts, kOtherProxy), core::rebalance_min_batch);
  link_id link = 0;
  for (const action& a : acts)
    if (const auto* snd = std::get_if<act::send>(&a);
        snd && decoded(snd->frame)->type == "ccp.move")
      link = snd->link;
  ASSERT_NE(link, 0u);
  const std::string agent = agent_of(static_cast<int>(link) - 1);
  const std::string host(address_of(agent).host());
  const micros t = now_ + 1 * ms;
  acts = p.bus(route_of(kOtherProxy, "attach", host, 2), t);
  EXPECT_EQ(count_of<act::close>(acts), 0u);
  EXPECT_FALSE(p->holds(host));
  message up = make_message(msg_kind::request, 8, agent, "ccp://mgmt/any", "ping", "{}");
  EXPECT_TRUE(one_of(p.link_frame(link, up, t + 1 * ms),
                     want::publish{bus_kind::backbone, "ccp.mgmt.any", {.id = 8}}));
  message bye = make_message(msg_kind::notification, 9, agent, kProxy, "ccp.bye");
  EXPECT_TRUE(one_of(p.link_frame(link, bye, t + 2 * ms), want::close{link, errc{}}));
}

// What the host logs and counts of rebalancing (net/daemons.cpp, /metrics): the round's
// record, agents asked, and each asked agent that left counted once, whether its new
// proxy's route (the fence) or its bye comes first; an agent not asked counts nothing.
TEST_F(RebalanceTest, MovesAreRecordedAndEachAskedAgentThatLeftCountsOnce) {
  attach_agents(10);
  auto acts = run_until(core::rebalance_settle + 500 * ms);
  ASSERT_EQ(moves_in(acts, kOtherProxy), core::rebalance_min_batch);
  EXPECT_EQ(p->stats().moves_asked, core::rebalance_min_batch);
  const auto& round = p->last_rebalance();
  EXPECT_EQ(round.to, kOtherProxy);
  EXPECT_EQ(round.why, "above its fair share");
  EXPECT_EQ(round.mine, 10u);
  EXPECT_EQ(round.target_hosts, 0u);
  EXPECT_EQ(round.fair, 5u);
  EXPECT_EQ(round.proxies, 2u);
  std::vector<link_id> asked;
  for (const action& a : acts)
    if (const auto* snd = std::get_if<act::send>(&a);
        snd && decoded(snd->frame)->type == "ccp.move")
      asked.push_back(snd->link);
  ASSERT_EQ(asked.size(), round.agents.size());
  for (std::size_t i = 0; i < asked.size(); ++i)
    EXPECT_EQ(round.agents[i].str(), agent_of(static_cast<int>(asked[i]) - 1));
  auto host_of = [](link_id l) {
    return std::string(address_of(agent_of(static_cast<int>(l) - 1)).host());
  };
  auto bye = [&](link_id l, micros t) {
    p.link_frame(l,
                 make_message(msg_kind::notification, 9, agent_of(static_cast<int>(l) - 1), kProxy,
                              "ccp.bye"),
                 t);
  };
  micros t = now_ + 1 * ms;
  p.bus(route_of(kOtherProxy, "attach", host_of(asked[0]), 2), t);  // fenced, then its bye
  EXPECT_EQ(p->stats().moved_away, 1u);
  bye(asked[0], t + 1 * ms);
  EXPECT_EQ(p->stats().moved_away, 1u);
  bye(asked[1], t + 2 * ms);  // its bye, then the new proxy's route
  EXPECT_EQ(p->stats().moved_away, 2u);
  p.bus(route_of(kOtherProxy, "attach", host_of(asked[1]), 2), t + 3 * ms);
  EXPECT_EQ(p->stats().moved_away, 2u);
  link_id unasked = 1;
  while (std::find(asked.begin(), asked.end(), unasked) != asked.end())
    ++unasked;
  bye(unasked, t + 4 * ms);
  EXPECT_EQ(p->stats().moved_away, 2u);
  EXPECT_EQ(p->stats().moves_received, 0u);
}

// A hello that names this proxy as its move's target counts as received; a plain one not.
TEST_F(ProxyTest, AHelloMovingForBalanceHereCountsAsReceived) {
  ASSERT_TRUE(no_actions(p.link_up(1, 0)));
  message h = hello(7, kAgent, 1, kSecret, {});
  p.link_frame(1, h, 0);
  ASSERT_TRUE(p->holds(kHost));
  EXPECT_EQ(p->stats().moves_received, 0u);
  ASSERT_TRUE(no_actions(p.link_up(2, 0)));
  h.body = R"({"epoch":2,"token":"s3cret","endpoints":[],"move_to":"ccp://proxy/10.0.1.1/p1"})";
  p.link_frame(2, h, 1);
  EXPECT_EQ(p->stats().moves_received, 1u);
}

// Another proxy's attachment of a host, with who lives there.
message route_with(std::string_view proxy, std::string_view host, std::uint64_t epoch,
                   const std::vector<std::string>& endpoints) {
  return make_message(msg_kind::notification, 903, proxy, "ccp://proxy/all", "ccp.route",
                      core::flat_json_writer{}
                          .add("op", "attach")
                          .add("host", host)
                          .add("epoch", epoch)
                          .add("agent", "agent")
                          .add("endpoints", endpoints)
                          .finish());
}

std::vector<std::string> endpoint_ids(int n) {
  std::vector<std::string> ids;
  for (int i = 1; i <= n; ++i)
    ids.push_back("e" + std::to_string(i));
  return ids;
}

// With 1 endpoint here and 35 behind the other proxy, the queue group hands each proxy
// half of the `any`s: this one keeps 2 * 1/36 of what it takes and forwards the rest,
// unchanged, to the other proxy's own subject; one forwarded to us is served here.
TEST_F(ProxyTest, AnAnyIsForwardedToTheProxyHoldingMoreMembers) {
  attach(1, kAgent, 1, {"e1"});
  p.bus(route_with(kOtherProxy, "10.0.0.8", 1, endpoint_ids(35)), 0);
  const std::string peer_subject = "ccp.proxy.10_0_1_2.p2";
  int kept = 0, forwarded = 0;
  for (std::uint64_t id = 1; id <= 720; ++id) {
    message any = make_message(msg_kind::request, id, kMgmt, "ccp://endpoint/any", "ping", "{}");
    auto acts = p.bus(any, 1, "ccp.endpoint.any");
    ASSERT_EQ(acts.size(), 1u) << describe(acts);
    if (std::holds_alternative<act::send>(acts[0])) {
      ++kept;
    } else {
      ASSERT_TRUE(one_of(acts, want::publish{bus_kind::backbone, peer_subject, {.id = id}}));
      ++forwarded;
    }
  }
  // Expected 40 kept (720 * 2/36): within 2x either way.
  EXPECT_GT(kept, 20);
  EXPECT_LT(kept, 80);
  // Forwarded to us: served here, never forwarded again.
  for (std::uint64_t id = 1000; id < 1100; ++id) {
    message any = make_message(msg_kind::request, id, kMgmt, "ccp://endpoint/any", "ping", "{}");
    EXPECT_TRUE(actions_are(p.bus(any, 2, "ccp.proxy.10_0_1_1.p1"), {want::send{1, {.id = id}}}));
  }
}

// Equal shares: nothing is forwarded (the queue group's choice is already fair).
TEST_F(ProxyTest, WithEqualSharesNoAnyIsForwarded) {
  attach(1, kAgent, 1, {"e1", "e2"});
  p.bus(route_with(kOtherProxy, "10.0.0.8", 1, endpoint_ids(2)), 0);
  for (std::uint64_t id = 1; id <= 200; ++id) {
    message any = make_message(msg_kind::request, id, kMgmt, "ccp://endpoint/any", "ping", "{}");
    EXPECT_TRUE(actions_are(p.bus(any, 1, "ccp.endpoint.any"), {want::send{1, {.id = id}}}));
  }
}

// Among its own links, an endpoint `any` goes to a host in proportion to its endpoints.
TEST_F(ProxyTest, AnEndpointAnyPicksALinkByItsEndpoints) {
  attach(1, kAgent, 1, {"e1"});
  attach(2, kAgent2, 1, endpoint_ids(9));
  int to_first = 0;
  for (std::uint64_t id = 1; id <= 1000; ++id) {
    message any = make_message(msg_kind::request, id, kMgmt, "ccp://endpoint/any", "ping", "{}");
    auto acts = p.bus(any, 1, "ccp.endpoint.any");
    const auto* s = first_of<act::send>(acts);
    ASSERT_NE(s, nullptr) << describe(acts);
    to_first += s->link == 1;
  }
  EXPECT_GT(to_first, 50);  // expected 100
  EXPECT_LT(to_first, 200);
}

// The plan is exact: with the queue group handing each of the k proxies 1/k of the `any`s,
// keeping and forwarding as planned reaches proxy j with probability w_j / W, whatever the
// weights; and a proxy forwards only what it holds too few members for.
RC_GTEST_PROP(AnyPlan, ReachesEachProxyInProportionToItsMembers, ()) {
  const auto weights = *rc::gen::container<std::vector<std::uint64_t>>(
      *rc::gen::inRange<std::size_t>(1, 9), rc::gen::inRange<std::uint64_t>(1, 2049));
  const std::size_t k = weights.size();
  long double all = 0;
  for (std::uint64_t w : weights)
    all += static_cast<long double>(w);
  std::vector<long double> reach(k, 0);
  for (std::size_t i = 0; i < k; ++i) {
    const core::any_plan plan = core::plan_any(weights, i);
    RC_ASSERT(plan.keep <= plan.total);
    const long double kept = plan.total == 0 ? 1 : static_cast<long double>(plan.keep) / plan.total;
    reach[i] += kept / static_cast<long double>(k);
    if (kept >= 1) continue;
    RC_ASSERT(!plan.excess.empty());
    RC_ASSERT(weights[i] * k < all);  // only a proxy short of its share forwards
    std::uint64_t before = 0;
    const auto excess = static_cast<long double>(plan.excess.back().first);
    for (const auto& [upto, j] : plan.excess) {
      RC_ASSERT(j != i);
      reach[j] += (1 - kept) / static_cast<long double>(k) *
                  static_cast<long double>(upto - before) / excess;
      before = upto;
    }
  }
  for (std::size_t j = 0; j < k; ++j)
    RC_ASSERT(std::abs(reach[j] - static_cast<long double>(weights[j]) / all) < 1e-12L);
}

TEST(AnyPlan, EqualSharesKeepEverything) {
  for (std::size_t i = 0; i < 3; ++i) {
    const core::any_plan plan = core::plan_any({5, 5, 5}, i);
    EXPECT_EQ(plan.keep, plan.total);
    EXPECT_TRUE(plan.excess.empty());
  }
}

}  // namespace
}  // namespace ccp::test::roles
