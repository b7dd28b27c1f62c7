// The mgmt role on its own: backbone frames, ticks and the application API in, the exact
// actions out.
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "core/control.hpp"
#include "core/mgmt.hpp"
#include "core/subject.hpp"
#include "tests/core/roles/role_driver.hpp"

namespace ccp::test::roles {
namespace {

using core::ms;
using core::seconds;

constexpr std::string_view kMgmt = "ccp://mgmt/10.0.2.1/m1";
constexpr std::string_view kProxy1 = "ccp://proxy/10.0.1.1/p1";
constexpr std::string_view kProxy2 = "ccp://proxy/10.0.1.2/p2";
constexpr std::string_view kHost = "10.0.0.7";
constexpr std::string_view kEndpoint = "ccp://endpoint/10.0.0.7/e1";

message route_of(std::string_view proxy, std::string_view op, std::string_view host,
                 std::uint64_t epoch) {
  return make_message(
      msg_kind::notification, 900, proxy, "ccp://proxy/all", "ccp.route",
      core::flat_json_writer{}.add("op", op).add("host", host).add("epoch", epoch).finish());
}

// An attachment as proxies announce it: with who lives on the host (its agent's id and its
// endpoints' ids), which group requests wait for.
message attach_with(std::string_view proxy, std::string_view host, std::uint64_t epoch,
                    std::vector<std::string> endpoints, std::string agent = "agent") {
  return make_message(msg_kind::notification, 900, proxy, "ccp://proxy/all", "ccp.route",
                      core::flat_json_writer{}
                          .add("op", "attach")
                          .add("host", host)
                          .add("epoch", epoch)
                          .add("agent", agent)
                          .add("endpoints", endpoints)
                          .finish());
}

message heartbeat_of(std::string_view proxy, std::uint64_t hosts) {
  return make_message(msg_kind::notification, 901, proxy, "ccp://proxy/all", "ccp.hb",
                      core::flat_json_writer{}.add("hosts", hosts).finish());
}

class MgmtTest : public ::testing::Test {
 protected:
  MgmtTest() { sync_ = published_message(m.start(0)).id; }

  // Makes the directory learnt at `now` (ready): the one proxy answers the start's fleet
  // sync, holding no host yet. Before that the node answers nothing from its directory.
  void learn(micros now = 0) {
    message none = make_reply(msg_kind::response, 70, sync_, kProxy1, kMgmt, "ccp.sync",
                              core::flat_json_writer{}
                                  .add("routes", std::vector<std::string>{})
                                  .add("last", 1)
                                  .add("proxies", std::vector<std::string>{std::string(kProxy1)})
                                  .finish());
    ASSERT_TRUE(actions_are(m.bus(none, now), {want::ready{}}));
    ASSERT_TRUE(m->learnt());
  }

  // Starts a request of the application; returns its id and stores its actions in `acts`.
  std::uint64_t request(std::string_view to, std::string type, micros timeout, micros now) {
    std::uint64_t id = 0;
    acts = m.app([&](core::mgmt& n) {
      auto r = n.request(address_of(to), type, R"({"q":1})", timeout, now);
      ASSERT_TRUE(r.has_value());
      id = *r;
    });
    return id;
  }

  driver<core::mgmt> m{address_of(kMgmt), 1};
  std::vector<action> acts;
  std::uint64_t sync_ = 0;
};

TEST(MgmtStart, SubscribesItsBackboneSubjects) {
  driver<core::mgmt> m{address_of(kMgmt), 1};
  EXPECT_TRUE(actions_are(
      m.start(0),
      {
          want::subscribe{bus_kind::backbone, "ccp.mgmt.10_0_2_1.m1", ""},
          want::subscribe{bus_kind::backbone, "ccp.mgmt.any", "ccp.mgmt"},
          want::subscribe{bus_kind::backbone, "ccp.mgmt.all", ""},
          want::subscribe{bus_kind::backbone, "ccp.mgmt.10_0_2_1.any", "ccp.mgmt.10_0_2_1"},
          want::subscribe{bus_kind::backbone, "ccp.mgmt.10_0_2_1.all", ""},
          want::subscribe{bus_kind::backbone, "ccp.ctl.route", ""},
          want::subscribe{bus_kind::backbone, "ccp.ctl.hb", ""},
          // One question to every proxy: their routes, and whom else they know.
          want::publish{bus_kind::backbone,
                        "ccp.proxy.all",
                        {.kind = msg_kind::request,
                         .type = "ccp.sync",
                         .from = std::string(kMgmt),
                         .to = "ccp://proxy/all",
                         .body = "{}"}},
      }));
}

// A proxy's full answer to the start's sync: its routes, and the proxies it knows.
message fleet_answer(std::uint64_t sync_id, std::string_view proxy, std::vector<std::string> routes,
                     std::vector<std::string> proxies) {
  return make_reply(msg_kind::response, 70, sync_id, proxy, kMgmt, "ccp.sync",
                    core::flat_json_writer{}
                        .add("routes", routes)
                        .add("last", 1)
                        .add("proxies", proxies)
                        .finish());
}

TEST(MgmtStart, ReadyOnceEveryProxyNamedAnsweredItsSync) {
  driver<core::mgmt> m{address_of(kMgmt), 1};
  const std::uint64_t sync = published_message(m.start(0)).id;
  const std::vector<std::string> both{std::string(kProxy1), std::string(kProxy2)};
  // The first answer names a second proxy: not ready until that one answered too.
  EXPECT_TRUE(
      no_actions(m.bus(fleet_answer(sync, kProxy1, {"10.0.0.7 3 agent e1 e2"}, both), 2 * ms)));
  EXPECT_TRUE(actions_are(m.bus(fleet_answer(sync, kProxy2, {"10.0.0.8 4 agent"}, both), 3 * ms),
                          {want::ready{}}));
  ASSERT_NE(m->directory().find(kHost), nullptr);
  EXPECT_EQ(m->directory().find(kHost)->on_host.endpoints.size(), 2u);
  EXPECT_EQ(m->directory().find("10.0.0.8")->proxy, kProxy2);
  // Said once: later ticks say nothing more.
  EXPECT_EQ(count_of<act::ready>(m.tick(2 * core::heartbeat_interval)), 0u);
}

TEST(MgmtStart, ProxyThatDoesNotAnswerLeavesTheHeartbeatBound) {
  driver<core::mgmt> m{address_of(kMgmt), 1};
  const std::uint64_t sync = published_message(m.start(0)).id;
  const std::vector<std::string> both{std::string(kProxy1), std::string(kProxy2)};
  EXPECT_TRUE(no_actions(m.bus(fleet_answer(sync, kProxy1, {}, both), 2 * ms)));
  EXPECT_TRUE(no_actions(m.tick(core::heartbeat_interval)));
  EXPECT_TRUE(actions_are(m.tick(core::heartbeat_interval + core::heartbeat_interval / 5),
                          {want::ready{}}));
}

TEST(MgmtStart, EndpointGroupsWithNoEndpointAnywhereFailAtOnce) {
  driver<core::mgmt> m{address_of(kMgmt), 1};
  const std::uint64_t sync = published_message(m.start(0)).id;
  // One host, its agent and no endpoint.
  ASSERT_TRUE(actions_are(
      m.bus(fleet_answer(sync, kProxy1, {"10.0.0.7 3 agent"}, {std::string(kProxy1)}), 2 * ms),
      {want::ready{}}));
  for (std::string_view to : {"ccp://endpoint/any", "ccp://endpoint/all"}) {
    std::uint64_t id = 0;
    auto acts = m.app(
        [&](core::mgmt& n) { id = *n.request(address_of(to), "ping", "{}", 2 * seconds, 3 * ms); });
    EXPECT_TRUE(one_of(acts, want::complete{id, errc::unreachable})) << to;
    EXPECT_EQ(count_of<act::publish>(acts), 0u) << to;
  }
}

// Claims: a node that was given its address makes sure no live node holds it.
TEST(MgmtClaim, NobodyObjectingMakesItReadyAfterTheWindow) {
  driver<core::mgmt> m{address_of(kMgmt), 1};
  m->claim_address();
  auto acts = m.start(0);
  EXPECT_TRUE(one_of(acts, want::publish{bus_kind::backbone,
                                         "ccp.mgmt.10_0_2_1.m1",
                                         {.kind = msg_kind::notification,
                                          .type = "ccp.claim",
                                          .from = std::string(kMgmt),
                                          .to = std::string(kMgmt)}}));
  EXPECT_EQ(m->state(), core::mgmt::status::claiming);
  std::uint64_t sync = 0;
  for (const action& a : acts)
    if (const auto* p = std::get_if<act::publish>(&a); p && p->subject.view() == "ccp.proxy.all")
      sync = decoded(p->frame)->id;
  // Its own claim comes back: no objection. The fleet answered, but the window is open.
  message own = published_message(acts);
  EXPECT_TRUE(no_actions(m.bus(own, 1 * ms)));
  EXPECT_TRUE(no_actions(m.bus(fleet_answer(sync, kProxy1, {}, {std::string(kProxy1)}), 2 * ms)));
  EXPECT_EQ(m->next_wake(), core::claim_window);
  EXPECT_TRUE(actions_are(m.tick(core::claim_window), {want::ready{}}));
  EXPECT_EQ(m->state(), core::mgmt::status::running);
}

TEST(MgmtClaim, AHoldersAnswerRefusesTheAddress) {
  driver<core::mgmt> m{address_of(kMgmt), 1};
  m->claim_address();
  (void)m.start(0);
  message held = make_message(msg_kind::notification, 5, kMgmt, kMgmt, "ccp.claimed",
                              core::flat_json_writer{}.add("nonce", 12345).finish());
  auto acts = m.bus(held, 1 * ms);
  EXPECT_TRUE(one_of(acts, want::deliver{{.kind = msg_kind::error,
                                          .type = "ccp.claim",
                                          .from = std::string(kMgmt),
                                          .code = errc::rejected}}));
  EXPECT_TRUE(one_of(acts, want::unsubscribe{bus_kind::backbone, "ccp.mgmt.10_0_2_1.m1"}));
  EXPECT_EQ(m->state(), core::mgmt::status::refused);
  // It never gets ready, and sends nothing.
  EXPECT_EQ(m->next_wake(), core::never);
  EXPECT_TRUE(no_actions(m.tick(10 * seconds)));
  std::expected<std::uint64_t, errc> r;
  acts = m.app([&](core::mgmt& n) {
    r = n.request(address_of(kEndpoint), "ping", "{}", 2 * seconds, 10 * seconds);
  });
  ASSERT_TRUE(r.has_value());
  EXPECT_TRUE(actions_are(acts, {want::complete{*r, errc::rejected, 1}}));
}

TEST(MgmtClaim, AHolderAnswersAClaimOfItsAddress) {
  driver<core::mgmt> m{address_of(kMgmt), 1};
  (void)m.start(0);
  message claim = make_message(msg_kind::notification, 5, kMgmt, kMgmt, "ccp.claim",
                               core::flat_json_writer{}.add("nonce", 12345).finish());
  EXPECT_TRUE(actions_are(m.bus(claim, 1 * seconds), {want::publish{bus_kind::backbone,
                                                                    "ccp.mgmt.10_0_2_1.m1",
                                                                    {.kind = msg_kind::notification,
                                                                     .type = "ccp.claimed",
                                                                     .from = std::string(kMgmt),
                                                                     .to = std::string(kMgmt)}}}));
  EXPECT_EQ(m->state(), core::mgmt::status::running);
}

TEST_F(MgmtTest, RequestToAHostNoProxyHoldsCompletesAtOnceUnreachable) {
  learn();
  std::uint64_t id = request(kEndpoint, "status", 2 * seconds, 0);
  ASSERT_TRUE(actions_are(acts, {want::complete{id, errc::unreachable, 1}}));  // no publish
  const message& why = first_of<act::complete>(acts)->replies[0];
  EXPECT_EQ(mismatch(why, {.kind = msg_kind::error,
                           .type = "status",
                           .from = std::string(kMgmt),
                           .to = std::string(kMgmt),
                           .correlation = id,
                           .code = errc::unreachable,
                           .text = "no proxy holds ccp://endpoint/10.0.0.7/e1"}),
            "");
  EXPECT_EQ(m->pending_requests(), 0u);
}

// Before its directory is learnt (act::ready) an empty directory proves nothing: a host
// may be attached to a proxy not heard from yet. The request is published and the bus
// decides (the host's proxy answers, or the deadline does); an `all` does not know its
// members and gathers until its deadline. Once learnt, the directory's word stands.
TEST_F(MgmtTest, BeforeTheDirectoryIsLearntNothingIsAnsweredFromIt) {
  ASSERT_FALSE(m->learnt());
  std::uint64_t id = request(kEndpoint, "status", 2 * seconds, 1 * ms);
  ASSERT_TRUE(actions_are(
      acts, {want::publish{
                bus_kind::backbone, "ccp.host.10_0_0_7", {.kind = msg_kind::request, .id = id}}}));
  message r = make_reply(msg_kind::response, 50, id, kEndpoint, kMgmt, "status", "{}");
  EXPECT_TRUE(actions_are(m.bus(r, 20 * ms), {want::complete{id, errc{}, 1}}));

  std::uint64_t all = request("ccp://agent/all", "ping", 500 * ms, 30 * ms);
  ASSERT_TRUE(actions_are(
      acts, {want::publish{
                bus_kind::backbone, "ccp.agent.all", {.kind = msg_kind::request, .id = all}}}));
  message a = make_reply(msg_kind::response, 70, all, "ccp://agent/10.0.0.7/agent", kMgmt, "ping");
  EXPECT_TRUE(no_actions(m.bus(a, 40 * ms)));  // members unknown: others may answer yet
  auto done = m.tick(530 * ms);
  ASSERT_TRUE(actions_are(done, {want::complete{all, errc{}, 1}}));
  EXPECT_TRUE(first_of<act::complete>(done)->members.empty());

  learn(600 * ms);
  id = request(kEndpoint, "status", 2 * seconds, 600 * ms);
  EXPECT_TRUE(actions_are(acts, {want::complete{id, errc::unreachable, 1}}));
  all = request("ccp://agent/all", "ping", 2 * seconds, 600 * ms);
  EXPECT_TRUE(actions_are(acts, {want::complete{all, errc::unreachable, 0}}));
}

TEST_F(MgmtTest, RouteAnnouncementMakesTheHostReachable) {
  EXPECT_TRUE(no_actions(m.bus(route_of(kProxy1, "attach", kHost, 3), 0, "ccp.ctl.route")));
  ASSERT_NE(m->directory().find(kHost), nullptr);
  EXPECT_EQ(m->directory().find(kHost)->proxy, kProxy1);
  std::uint64_t id = request(kEndpoint, "status", 2 * seconds, 0);
  EXPECT_TRUE(actions_are(acts, {want::publish{bus_kind::backbone,
                                               "ccp.host.10_0_0_7",
                                               {.kind = msg_kind::request,
                                                .type = "status",
                                                .from = std::string(kMgmt),
                                                .to = std::string(kEndpoint),
                                                .id = id,
                                                .body = R"({"q":1})",
                                                .ttl_ms = 2001}}}));
  EXPECT_EQ(m->pending_requests(), 1u);
}

// The subject of the one publish among `acts` (empty: none, or several).
std::string published_subject(const std::vector<action>& acts) {
  std::string s;
  int n = 0;
  for (const action& a : acts)
    if (const auto* p = std::get_if<act::publish>(&a)) {
      s = std::string(p->subject.view());
      ++n;
    }
  return n == 1 ? s : std::string();
}

// An `any` goes to the bus's queue group while every proxy is heard; once one falls
// silent (SIGSTOP: the bus keeps it in the group), the sender picks a proxy it still
// hears, by members; heard again, the group picks again.
TEST_F(MgmtTest, AnAnyGoesAroundAProxyThatFellSilent) {
  learn(0);
  m.bus(attach_with(kProxy1, kHost, 3, {"e1"}), 0, "ccp.ctl.route");
  m.bus(attach_with(kProxy2, "10.0.0.8", 3, {"e1", "e2"}), 0, "ccp.ctl.route");
  const std::string group =
      std::string(core::backbone_subject_text(address_of("ccp://endpoint/any").view()).view());
  const std::string p2 =
      std::string(core::backbone_subject_text(address_of(kProxy2).view()).view());
  for (micros t : {500 * ms, 1500 * ms}) {
    m.bus(heartbeat_of(kProxy1, 1), t, "ccp.ctl.hb");
    m.bus(heartbeat_of(kProxy2, 1), t, "ccp.ctl.hb");
  }
  request("ccp://endpoint/any", "status", 2 * seconds, 1600 * ms);
  EXPECT_EQ(published_subject(acts), group);
  // p1 stops: p2 alone is heard from 2.5 s on; p1's last heartbeat was at 1.5 s.
  for (micros t : {2500 * ms, 3500 * ms})
    m.bus(heartbeat_of(kProxy2, 1), t, "ccp.ctl.hb");
  request("ccp://endpoint/any", "status", 2 * seconds, 3400 * ms);
  EXPECT_EQ(published_subject(acts), group) << "silent for 1.9 s: within any_fresh_bound";
  for (int k = 0; k < 20; ++k) {
    request("ccp://endpoint/any", "status", 2 * seconds, 3600 * ms);
    EXPECT_EQ(published_subject(acts), p2) << "p1 silent for 2.1 s";
  }
  // Its lease ends (3 s) and it is dropped; still around it, until it is heard again.
  m.tick(4600 * ms);
  ASSERT_EQ(m->directory().find(kHost), nullptr);
  request("ccp://endpoint/any", "status", 2 * seconds, 4600 * ms);
  EXPECT_EQ(published_subject(acts), p2);
  m.bus(heartbeat_of(kProxy1, 0), 4700 * ms, "ccp.ctl.hb");
  request("ccp://endpoint/any", "status", 2 * seconds, 4700 * ms);
  EXPECT_EQ(published_subject(acts), group);
}

// A fresh client hears of a stopped proxy only from the others: their sync answers name
// it silent. It does not wait for it (ready in one round trip) and sends `any` around it
// until it hears it again.
TEST(MgmtStart, AProxyNamedSilentIsNeitherWaitedForNorSentAnAny) {
  driver<core::mgmt> m{address_of(kMgmt), 1};
  const std::uint64_t sync = published_message(m.start(0)).id;
  message answer = make_reply(msg_kind::response, 70, sync, kProxy1, kMgmt, "ccp.sync",
                              core::flat_json_writer{}
                                  .add("routes", std::vector<std::string>{"10.0.0.7 3 agent e1"})
                                  .add("last", 1)
                                  .add("proxies", std::vector<std::string>{std::string(kProxy1)})
                                  .add("silent", std::vector<std::string>{std::string(kProxy2)})
                                  .finish());
  EXPECT_TRUE(actions_are(m.bus(answer, 2 * ms), {want::ready{}}));
  const std::string group =
      std::string(core::backbone_subject_text(address_of("ccp://endpoint/any").view()).view());
  const std::string p1 =
      std::string(core::backbone_subject_text(address_of(kProxy1).view()).view());
  auto any = [&](micros now) {
    std::vector<action> acts = m.app([&](core::mgmt& n) {
      ASSERT_TRUE(n.request(address_of("ccp://endpoint/any"), "status", "{}", seconds, now));
    });
    return published_subject(acts);
  };
  EXPECT_EQ(any(3 * ms), p1);
  m.bus(heartbeat_of(kProxy2, 0), 500 * ms, "ccp.ctl.hb");  // heard again
  m.bus(heartbeat_of(kProxy1, 1), 500 * ms, "ccp.ctl.hb");
  EXPECT_EQ(any(600 * ms), group);
}

TEST_F(MgmtTest, DeadlinePassesOnTickAndTheRequestTimesOut) {
  m.bus(route_of(kProxy1, "attach", kHost, 3), 0);
  std::uint64_t id = request(kEndpoint, "status", 2 * seconds, 0);
  ASSERT_EQ(count_of<act::publish>(acts), 1u);
  // The directory is complete first (no sync asked: ready), then the deadline comes.
  EXPECT_EQ(m->next_wake(), core::heartbeat_interval + core::heartbeat_interval / 5);
  EXPECT_TRUE(actions_are(m.tick(m->next_wake()), {want::ready{}}));
  EXPECT_EQ(m->next_wake(), 2 * seconds);
  EXPECT_TRUE(no_actions(m.tick(2 * seconds - 1)));
  EXPECT_TRUE(one_of(m.tick(2 * seconds), want::complete{id, errc::timeout, 0}));
  EXPECT_EQ(m->pending_requests(), 0u);
  // An answer after the deadline is late: dropped.
  message late = make_reply(msg_kind::response, 50, id, kEndpoint, kMgmt, "status", "{}");
  EXPECT_TRUE(no_actions(m.bus(late, 2 * seconds + 1)));
}

TEST_F(MgmtTest, ResponseCompletesTheRequestWithIt) {
  m.bus(route_of(kProxy1, "attach", kHost, 3), 0);
  std::uint64_t id = request(kEndpoint, "status", 2 * seconds, 0);
  message r = make_reply(msg_kind::response, 50, id, kEndpoint, kMgmt, "status", R"({"ok":1})");
  r.hops = 4;
  auto done = m.bus(r, 30 * ms, "ccp.mgmt.10_0_2_1.m1");
  ASSERT_TRUE(actions_are(done, {want::complete{id, errc{}, 1}}));
  EXPECT_EQ(first_of<act::complete>(done)->replies[0], r);
}

TEST_F(MgmtTest, ErrorReplyCompletesTheRequestWithItsCode) {
  m.bus(route_of(kProxy1, "attach", kHost, 3), 0);
  std::uint64_t id = request(kEndpoint, "reboot", 2 * seconds, 0);
  message no =
      make_reply(msg_kind::error, 50, id, kEndpoint, kMgmt, "reboot", {}, errc::no_handler);
  EXPECT_TRUE(actions_are(m.bus(no, 30 * ms), {want::complete{id, errc::no_handler, 1}}));
}

TEST_F(MgmtTest, DetachMakesTheHostUnreachableAgain) {
  learn();
  m.bus(route_of(kProxy1, "attach", kHost, 3), 0);
  EXPECT_TRUE(no_actions(m.bus(route_of(kProxy1, "detach", kHost, 3), 1)));
  std::uint64_t id = request(kEndpoint, "status", 2 * seconds, 2);
  EXPECT_TRUE(actions_are(acts, {want::complete{id, errc::unreachable, 1}}));
}

TEST_F(MgmtTest, DetachOfAnOlderAttachmentKeepsTheNewerRoute) {
  m.bus(route_of(kProxy1, "attach", kHost, 3), 0);
  m.bus(route_of(kProxy2, "attach", kHost, 4), 1);
  EXPECT_TRUE(no_actions(m.bus(route_of(kProxy1, "detach", kHost, 3), 2)));
  ASSERT_NE(m->directory().find(kHost), nullptr);
  EXPECT_EQ(m->directory().find(kHost)->proxy, kProxy2);
}

TEST_F(MgmtTest, ByeOfAProxyForgetsItsRoutes) {
  m.bus(route_of(kProxy1, "attach", kHost, 3), 0);
  message bye =
      make_message(msg_kind::notification, 902, kProxy1, "ccp://proxy/all", "ccp.bye", "{}");
  EXPECT_TRUE(no_actions(m.bus(bye, 1)));
  EXPECT_EQ(m->directory().find(kHost), nullptr);
}

TEST_F(MgmtTest, ProxySilentForIdleTimeoutLosesItsRoutes) {
  m.bus(route_of(kProxy1, "attach", kHost, 3), 0);
  EXPECT_TRUE(no_actions(m.tick(0)));
  EXPECT_TRUE(actions_are(m.tick(m->next_wake()), {want::ready{}}));
  EXPECT_EQ(m->next_wake(), core::idle_timeout + 1);    // the proxy's lease ends
  EXPECT_TRUE(no_actions(m.tick(core::idle_timeout)));  // silent for exactly idle_timeout
  EXPECT_NE(m->directory().find(kHost), nullptr);
  EXPECT_TRUE(no_actions(m.tick(core::idle_timeout + 1)));
  EXPECT_EQ(m->directory().find(kHost), nullptr);
  EXPECT_EQ(m->next_wake(), core::never);  // no proxy left to expire
  std::uint64_t id = request(kEndpoint, "status", 2 * seconds, core::idle_timeout + 1 * seconds);
  EXPECT_TRUE(actions_are(acts, {want::complete{id, errc::unreachable, 1}}));
}

// An idle mgmt node (no request of its own to wake it) still drops a dead proxy's routes:
// its first request to such a host ends `unreachable` at once, not in a timeout. (Before
// the expiry was scheduled from the leases, its next_wake() stayed `never`.)
TEST_F(MgmtTest, IdleMgmtExpiresTheRoutesOfASilentProxy) {
  m.bus(route_of(kProxy1, "attach", kHost, 3), 0);
  ASSERT_TRUE(actions_are(m.tick(m->next_wake()), {want::ready{}}));
  EXPECT_EQ(m->next_wake(), core::idle_timeout + 1);
  // The host ticks at every next_wake() up to 10 s, as every host does.
  for (int i = 0; i < 100 && m->next_wake() <= 10 * seconds; ++i)
    EXPECT_TRUE(no_actions(m.tick(m->next_wake())));
  std::uint64_t id = request(kEndpoint, "status", 2 * seconds, 10 * seconds);
  EXPECT_TRUE(actions_are(acts, {want::complete{id, errc::unreachable, 1}}));
}

// A sync that never ends does not hold ready back for good: the bound (3 intervals) ends
// the wait, and ready comes once.
TEST_F(MgmtTest, ReadyComesAtTheBoundWhileASyncHangs) {
  ASSERT_TRUE(
      one_of(m.bus(heartbeat_of(kProxy2, 2), 100 * core::ms, "ccp.ctl.hb"),
             want::publish{bus_kind::backbone, "ccp.proxy.10_0_1_2.p2", {.type = "ccp.sync"}}));
  ASSERT_TRUE(m->syncing());
  EXPECT_TRUE(no_actions(m.tick(core::heartbeat_interval + core::heartbeat_interval / 5)));
  EXPECT_EQ(m->next_wake(), 3 * core::heartbeat_interval);
  EXPECT_TRUE(actions_are(m.tick(3 * core::heartbeat_interval), {want::ready{}}));
  EXPECT_EQ(count_of<act::ready>(m.tick(m->next_wake())), 0u);
}

TEST_F(MgmtTest, HeartbeatThatAgreesAsksNothing) {
  m.bus(route_of(kProxy1, "attach", kHost, 3), 0);
  EXPECT_TRUE(no_actions(m.bus(heartbeat_of(kProxy1, 1), 1 * seconds, "ccp.ctl.hb")));
  EXPECT_FALSE(m->syncing());
}

TEST_F(MgmtTest, HeartbeatWithRoutesItDoesNotKnowAsksForASyncAndTheReplyTeachesThem) {
  auto asked = m.bus(heartbeat_of(kProxy2, 2), 1 * seconds, "ccp.ctl.hb");
  ASSERT_TRUE(actions_are(asked, {want::publish{bus_kind::backbone,
                                                "ccp.proxy.10_0_1_2.p2",
                                                {.kind = msg_kind::request,
                                                 .type = "ccp.sync",
                                                 .from = std::string(kMgmt),
                                                 .to = std::string(kProxy2),
                                                 .body = "{}"}}}));
  EXPECT_TRUE(m->syncing());
  // Asked once: the next heartbeat, while the sync runs, asks nothing more.
  EXPECT_TRUE(no_actions(m.bus(heartbeat_of(kProxy2, 2), 2 * seconds, "ccp.ctl.hb")));
  const std::uint64_t sync_id = published_message(asked).id;
  message part1 = make_reply(msg_kind::response, 60, sync_id, kProxy2, kMgmt, "ccp.sync",
                             core::flat_json_writer{}
                                 .add("routes", std::vector<std::string>{"10.0.0.7 5"})
                                 .add("last", 0)
                                 .finish());
  message part2 = make_reply(msg_kind::response, 61, sync_id, kProxy2, kMgmt, "ccp.sync",
                             core::flat_json_writer{}
                                 .add("routes", std::vector<std::string>{"10.0.0.8 2"})
                                 .add("last", 1)
                                 .finish());
  EXPECT_TRUE(no_actions(m.bus(part1, 2 * seconds)));
  EXPECT_EQ(m->directory().find(kHost), nullptr);  // not before the last part
  // The sync's end completes the directory: ready (due since 1.2 s, held by the sync).
  EXPECT_TRUE(actions_are(m.bus(part2, 2 * seconds), {want::ready{}}));
  EXPECT_FALSE(m->syncing());
  ASSERT_NE(m->directory().find(kHost), nullptr);
  EXPECT_EQ(m->directory().find(kHost)->epoch, 5u);
  ASSERT_NE(m->directory().find("10.0.0.8"), nullptr);
  EXPECT_EQ(m->directory().find("10.0.0.8")->proxy, kProxy2);
}

TEST_F(MgmtTest, FrameForAnotherMgmtNodeIsDropped) {
  m->serve("status");
  message n =
      make_message(msg_kind::notification, 5, kEndpoint, "ccp://mgmt/10.0.2.2/m2", "status", "{}");
  EXPECT_TRUE(no_actions(m.bus(n, 0)));
  EXPECT_EQ(m->stats().dropped, 1u);
}

TEST_F(MgmtTest, StatusReportToAnyMgmtIsDelivered) {
  m->serve("status");
  message n = make_message(msg_kind::notification, 5, kEndpoint, "ccp://mgmt/any", "status",
                           R"({"load":3})");
  auto got = m.bus(n, 0, "ccp.mgmt.any");
  ASSERT_TRUE(actions_are(got, {want::deliver{{.kind = msg_kind::notification, .id = 5}}}));
  EXPECT_EQ(first_of<act::deliver>(got)->msg, n);
}

TEST_F(MgmtTest, PingFromAnEndpointIsAnsweredOnItsHostSubject) {
  m.bus(route_of(kProxy1, "attach", kHost, 3), 0);
  message ping = make_message(msg_kind::request, 5, kEndpoint, "ccp://mgmt/any", "ping");
  EXPECT_TRUE(actions_are(
      m.bus(ping, 0),
      {want::publish{bus_kind::backbone,
                     "ccp.host.10_0_0_7",
                     {.kind = msg_kind::response,
                      .type = "ping",
                      .from = std::string(kMgmt),
                      .to = std::string(kEndpoint),
                      .correlation = 5,
                      .body = R"({"role":"mgmt","address":"ccp://mgmt/10.0.2.1/m1"})"}}}));
}

TEST_F(MgmtTest, RequestToItselfIsAnsweredLocally) {
  std::uint64_t id = request(kMgmt, "ping", 2 * seconds, 0);
  ASSERT_TRUE(actions_are(acts, {want::complete{id, errc{}, 1}}));
  EXPECT_EQ(first_of<act::complete>(acts)->replies[0].body,
            R"({"role":"mgmt","address":"ccp://mgmt/10.0.2.1/m1"})");
}

TEST_F(MgmtTest, RequestToAllAgentsEndsWhenEveryKnownHostAnswered) {
  learn();
  m.bus(attach_with(kProxy1, kHost, 3, {}), 0);
  m.bus(attach_with(kProxy2, "10.0.0.8", 1, {}), 0);
  std::uint64_t id = request("ccp://agent/all", "ping", 2 * seconds, 0);
  ASSERT_TRUE(actions_are(
      acts, {want::publish{bus_kind::backbone,
                           "ccp.agent.all",
                           {.kind = msg_kind::request, .to = "ccp://agent/all", .id = id}}}));
  message r7 = make_reply(msg_kind::response, 70, id, "ccp://agent/10.0.0.7/agent", kMgmt, "ping");
  message r8 = make_reply(msg_kind::response, 80, id, "ccp://agent/10.0.0.8/agent", kMgmt, "ping");
  EXPECT_TRUE(no_actions(m.bus(r7, 10 * ms)));
  auto done = m.bus(r8, 20 * ms);
  ASSERT_TRUE(actions_are(done, {want::complete{id, errc{}, 2}}));  // before the deadline
  const act::complete& c = *first_of<act::complete>(done);
  EXPECT_EQ(c.replies[0], r7);
  EXPECT_EQ(c.replies[1], r8);
  ASSERT_EQ(c.members.size(), 2u);
  EXPECT_EQ(c.members[0].member.str(), "ccp://agent/10.0.0.7/agent");
  EXPECT_EQ(c.members[0].result, act::member_result::answer::ok);
  EXPECT_EQ(c.members[1].member.str(), "ccp://agent/10.0.0.8/agent");
  EXPECT_EQ(c.members[1].result, act::member_result::answer::ok);
}

TEST_F(MgmtTest, RequestToAllAgentsWithNoHostKnownFailsFastAndSendsNothing) {
  learn();
  std::uint64_t id = request("ccp://agent/all", "ping", 2 * seconds, 0);
  EXPECT_TRUE(actions_are(acts, {want::complete{id, errc::unreachable, 0}}));
  EXPECT_TRUE(first_of<act::complete>(acts)->members.empty());
}

// The members of endpoint/all are every announced endpoint; errors are never success;
// one silent member makes the whole `partial` at the deadline, listed as silent.
TEST_F(MgmtTest, EndpointGroupAccountsEachMemberOnceAndErrorsAreNotSuccess) {
  learn();
  m.bus(attach_with(kProxy1, "10.0.0.7", 3, {"a", "b"}), 0);
  m.bus(attach_with(kProxy2, "10.0.0.8", 1, {"c"}), 0);
  std::uint64_t id = request("ccp://endpoint/all", "echo", 2 * seconds, 0);
  const std::string a = "ccp://endpoint/10.0.0.7/a", b = "ccp://endpoint/10.0.0.7/b";
  message ra = make_reply(msg_kind::response, 70, id, a, kMgmt, "echo");
  message ra_again = make_reply(msg_kind::error, 71, id, a, kMgmt, "echo");
  ra_again.code = errc::no_handler;
  message rb = make_reply(msg_kind::error, 72, id, b, kMgmt, "echo");
  rb.code = errc::no_handler;
  EXPECT_TRUE(no_actions(m.bus(ra, 10 * ms)));
  EXPECT_TRUE(no_actions(m.bus(ra_again, 11 * ms)));  // a member's first answer counts
  EXPECT_TRUE(no_actions(m.bus(rb, 12 * ms)));
  auto done = m.tick(2 * seconds);  // c never answers
  ASSERT_EQ(count_of<act::complete>(done), 1u);
  const act::complete& c = *first_of<act::complete>(done);
  EXPECT_EQ(c.code, errc::partial);
  ASSERT_EQ(c.members.size(), 3u);
  using answer = act::member_result::answer;
  EXPECT_EQ(c.members[0].member.str(), a);
  EXPECT_EQ(c.members[0].result, answer::ok);
  EXPECT_EQ(c.members[1].member.str(), b);
  EXPECT_EQ(c.members[1].result, answer::error);
  EXPECT_EQ(c.members[1].code, errc::no_handler);
  EXPECT_EQ(c.members[2].member.str(), "ccp://endpoint/10.0.0.8/c");
  EXPECT_EQ(c.members[2].result, answer::silent);
  EXPECT_EQ(c.replies.size(), 3u);  // every reply that came, the repeated one too
}

TEST_F(MgmtTest, EveryMemberAnsweringAnErrorIsPartialNotOk) {
  learn();
  m.bus(attach_with(kProxy1, kHost, 3, {}), 0);
  std::uint64_t id = request("ccp://agent/all", "echo", 2 * seconds, 0);
  message r = make_reply(msg_kind::error, 70, id, "ccp://agent/10.0.0.7/agent", kMgmt, "echo");
  r.code = errc::no_handler;
  EXPECT_TRUE(actions_are(m.bus(r, 10 * ms), {want::complete{id, errc::partial, 1}}));
}

// An agent that says it has no such endpoints speaks for its host: those members are
// unreachable, and the request ends once nobody else is waited for.
TEST_F(MgmtTest, AnAgentsErrorMakesItsHostsMembersUnreachable) {
  learn();
  m.bus(attach_with(kProxy1, "10.0.0.7", 3, {"a", "b"}), 0);
  std::uint64_t id = request("ccp://endpoint/10.0.0.7/all", "echo", 2 * seconds, 0);
  message r = make_reply(msg_kind::error, 70, id, "ccp://agent/10.0.0.7/agent", kMgmt, "echo");
  r.code = errc::unreachable;
  auto done = m.bus(r, 10 * ms);
  ASSERT_TRUE(actions_are(done, {want::complete{id, errc::unreachable, 1}}));
  for (const auto& mr : first_of<act::complete>(done)->members)
    EXPECT_EQ(mr.result, act::member_result::answer::unreachable) << mr.member.str();
}

TEST_F(MgmtTest, NobodyAnsweringIsATimeout) {
  learn();
  m.bus(attach_with(kProxy1, kHost, 3, {"a"}), 0);
  std::uint64_t id = request("ccp://endpoint/all", "echo", 2 * seconds, 0);
  EXPECT_TRUE(one_of(m.tick(2 * seconds), want::complete{id, errc::timeout, 0}));
}

// A proxy that does not announce who lives on its hosts (an older one) leaves the group's
// members unknown: the request gathers until its deadline, and is ok with replies only.
TEST_F(MgmtTest, UnknownMembersGatherUntilTheDeadline) {
  learn();
  m.bus(route_of(kProxy1, "attach", kHost, 3), 0);
  std::uint64_t id = request("ccp://agent/all", "ping", 2 * seconds, 0);
  message r = make_reply(msg_kind::response, 70, id, "ccp://agent/10.0.0.7/agent", kMgmt, "ping");
  EXPECT_TRUE(no_actions(m.bus(r, 10 * ms)));
  auto done = m.tick(2 * seconds);
  ASSERT_TRUE(one_of(done, want::complete{id, errc{}, 1}));
  EXPECT_TRUE(first_of<act::complete>(done)->members.empty());
}

TEST_F(MgmtTest, RequestToAnyProxyIsPublishedOnItsQueueSubject) {
  std::uint64_t id = request("ccp://proxy/any", "agents", 2 * seconds, 0);
  EXPECT_TRUE(actions_are(
      acts,
      {want::publish{
          bus_kind::backbone,
          "ccp.proxy.any",
          {.kind = msg_kind::request, .type = "agents", .to = "ccp://proxy/any", .id = id}}}));
}

// ---- a node takes only replies addressed to it that answer something of its own

TEST_F(MgmtTest, AnErrorIsDeliveredOnlyWhenAddressedHereAndAnsweringARecentNotification) {
  ASSERT_TRUE(no_actions(m.bus(route_of(kProxy1, "attach", kHost, 3), 0)));
  std::uint64_t note = 0;
  auto sent = m.app([&](core::mgmt& n) {
    auto r = n.send(address_of(kEndpoint), "status", "{}", 0);
    ASSERT_TRUE(r.has_value());
    note = *r;
  });
  ASSERT_EQ(count_of<act::publish>(sent), 1u);
  auto error_to = [&](std::string_view to, std::uint64_t correlation) {
    return make_reply(msg_kind::error, 77, correlation, kEndpoint, to, "status", {},
                      errc::unreachable);
  };
  // To the group this node belongs to: it answers nothing of ours.
  EXPECT_TRUE(no_actions(m.bus(error_to("ccp://mgmt/any", note), 1 * ms)));
  // To this node, answering its notification: news for the application.
  EXPECT_TRUE(actions_are(m.bus(error_to(kMgmt, note), 1 * ms),
                          {want::deliver{{.kind = msg_kind::error, .correlation = note}}}));
  // After notification_error_window, the same error is late.
  EXPECT_TRUE(no_actions(m.bus(error_to(kMgmt, note), core::notification_error_window + 1)));
}

TEST_F(MgmtTest, ALateErrorToARequestThatEndedIsDropped) {
  ASSERT_TRUE(no_actions(m.bus(route_of(kProxy1, "attach", kHost, 3), 0)));
  std::uint64_t id = request(kEndpoint, "status", 100 * ms, 0);
  ASSERT_TRUE(some_of(m.tick(100 * ms), want::complete{id, errc::timeout}));
  message late =
      make_reply(msg_kind::error, 77, id, kEndpoint, kMgmt, "status", {}, errc::overloaded);
  EXPECT_TRUE(no_actions(m.bus(late, 200 * ms)));
}

TEST_F(MgmtTest, ARouteAnnouncementNotFromAProxyIsIgnored) {
  EXPECT_TRUE(no_actions(m.bus(route_of(kEndpoint, "attach", kHost, 3), 0)));
  EXPECT_EQ(m->directory().find(kHost), nullptr);
}

}  // namespace
}  // namespace ccp::test::roles
