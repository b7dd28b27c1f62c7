// The checker on its own, fed by address as `ccp real` feeds it from trace lines: each
// invariant it judges fires on its breach and stays quiet on a legal run, and the
// expectations are judged from the counts.
#include "sim/checker.hpp"

#include <gtest/gtest.h>

#include <string>

#include "sim/trace.hpp"

namespace ccp::sim {
namespace {

using core::act::complete;
using core::act::member_result;

core::address addr(const std::string& text) {
  auto a = core::address::parse(text);
  EXPECT_TRUE(a.has_value()) << text;
  return *a;
}

core::message msg(const std::string& from, const std::string& to, std::uint64_t id,
                  core::msg_kind kind = core::msg_kind::request) {
  core::message m;
  m.from = addr(from);
  m.to = addr(to);
  m.id = id;
  m.kind = kind;
  return m;
}

const std::string mgmt = "ccp://mgmt/mgmt-1.sim/m1";
const std::string ep1 = "ccp://endpoint/10.0.0.1/e1";
const std::string ep2 = "ccp://endpoint/10.0.0.1/e2";

struct fixture : ::testing::Test {
  scenario sc;
  fixture() { sc.name = "checker-test"; }
  std::uint64_t key(std::uint64_t id) const { return checker::request_key(fnv(mgmt), id); }
  void deliver(checker& c, const std::string& at, const core::message& m) {
    c.delivered(addr(at), fnv(at), m, fnv(m.from.str()), 0);
  }
};

using CheckerTest = fixture;

TEST_F(CheckerTest, ALegalRunPassesAndCountsOutcomes) {
  sc.expect.min_ok_ratio = 0.5;
  checker c(sc);
  c.sent(key(1), core::scope::one, 0);
  c.sent(key(2), core::scope::one, 0);
  deliver(c, ep1, msg(mgmt, ep1, 1));
  complete ok{1, core::errc{}, {msg(ep1, mgmt, 9, core::msg_kind::response)}};
  EXPECT_EQ(c.completed(addr(mgmt), key(1), ok, 5), checker::completed_as::once);
  complete lost{2, core::errc::timeout, {}};
  c.completed(addr(mgmt), key(2), lost, 1000);
  c.judge(2000);
  EXPECT_TRUE(c.result().pass) << (c.result().failures.empty() ? "" : c.result().failures[0]);
  EXPECT_EQ(c.result().ok, 1u);
  EXPECT_EQ(c.result().timeouts, 1u);
  EXPECT_EQ(c.result().deliveries, 1u);
}

// A group message (no fleet-wide count applies) delivered twice at one endpoint.
TEST_F(CheckerTest, ADeliveryTwiceIsADuplicate) {
  checker c(sc);
  deliver(c, ep1, msg(mgmt, "ccp://endpoint/10.0.0.1/all", 1));
  deliver(c, ep2, msg(mgmt, "ccp://endpoint/10.0.0.1/all", 1));
  c.judge(0);
  EXPECT_TRUE(c.result().pass);  // once at each member: legal
  deliver(c, ep1, msg(mgmt, "ccp://endpoint/10.0.0.1/all", 1));
  c.judge(0);
  EXPECT_TRUE(c.result().violations.contains("duplicate_delivery"));
  EXPECT_FALSE(c.result().pass);
}

TEST_F(CheckerTest, AUnicastDeliveredAtTwoEndpointsIsADuplicate) {
  checker c(sc);
  deliver(c, ep1, msg(mgmt, "ccp://endpoint/10.0.0.1/any", 1));
  deliver(c, ep2, msg(mgmt, "ccp://endpoint/10.0.0.1/any", 1));
  c.judge(0);
  EXPECT_TRUE(c.result().violations.contains("duplicate_delivery"));
}

TEST_F(CheckerTest, ADeliveryToANonMemberFires) {
  checker c(sc);
  deliver(c, ep2, msg(mgmt, ep1, 1));
  c.judge(0);
  EXPECT_EQ(c.result().violations, std::set<std::string>{"non_member_delivery"});
}

TEST_F(CheckerTest, OutcomesAreExactlyOne) {
  checker c(sc);
  c.sent(key(1), core::scope::one, 0);
  c.sent(key(2), core::scope::one, 0);  // never completes
  complete done{1, core::errc::unreachable, {}};
  c.completed(addr(mgmt), key(1), done, 1);
  EXPECT_EQ(c.completed(addr(mgmt), key(1), done, 2), checker::completed_as::twice);
  complete stranger{3, core::errc{}, {}};
  EXPECT_EQ(c.completed(addr(mgmt), key(3), stranger, 3), checker::completed_as::unknown);
  c.judge(10);
  EXPECT_EQ(c.result().violations, std::set<std::string>{"outcome_count"});
  EXPECT_GE(c.result().failures.size(), 3u);  // twice, unknown, never completed
}

TEST_F(CheckerTest, AnAbandonedRequestIsNoViolation) {
  checker c(sc);
  c.sent(key(1), core::scope::one, 0);
  EXPECT_TRUE(c.abandon(key(1)));
  EXPECT_FALSE(c.abandon(key(1)));
  c.judge(10);
  EXPECT_TRUE(c.result().pass);
  EXPECT_EQ(c.result().abandoned, 1u);
}

TEST_F(CheckerTest, AGroupEndsAsItsMembersMakeIt) {
  checker c(sc);
  const std::string all = "ccp://endpoint/10.0.0.1/all";
  c.sent(key(1), core::scope::host_all, 0);
  c.sent(key(2), core::scope::host_all, 0);
  // Both answered ok: ok, and the group counts as answered.
  complete good{
      1,
      core::errc{},
      {msg(ep1, mgmt, 7, core::msg_kind::response), msg(ep2, mgmt, 8, core::msg_kind::response)},
      {{addr(ep1), member_result::answer::ok, {}}, {addr(ep2), member_result::answer::ok, {}}}};
  c.completed(addr(mgmt), key(1), good, 4 * core::ms);
  // One silent member, yet `ok`: a breach.
  complete lax{
      2,
      core::errc{},
      {msg(ep1, mgmt, 9, core::msg_kind::response)},
      {{addr(ep1), member_result::answer::ok, {}}, {addr(ep2), member_result::answer::silent, {}}}};
  c.completed(addr(mgmt), key(2), lax, 5 * core::ms);
  c.judge(10 * core::ms);
  EXPECT_EQ(c.result().violations, std::set<std::string>{"group_accounting"});
  EXPECT_EQ(c.result().groups_answered, 1u);
  EXPECT_EQ(c.result().group_latency_max, 4 * core::ms);
}

TEST_F(CheckerTest, ExpectationsAreJudgedFromTheCounts) {
  sc.expect.min_ok_ratio = 0.9;
  sc.expect.reattach_within = 1 * core::seconds;
  checker c(sc);
  c.sent(key(1), core::scope::one, 0);
  complete lost{1, core::errc::timeout, {}};
  c.completed(addr(mgmt), key(1), lost, 1);
  c.judge(2);
  EXPECT_FALSE(c.result().pass);
  ASSERT_EQ(c.result().failures.size(), 2u);
  EXPECT_NE(c.result().failures[0].find("ok ratio"), std::string::npos);
  EXPECT_NE(c.result().failures[1].find("not all attached"), std::string::npos);
}

// Per-fault figures: from each fault's end until the fleet is whole for settle_window,
// a stretch shorter than the window not counted; the worst one is the summary's.
TEST_F(CheckerTest, EachFaultIsMeasuredUntilTheFleetStaysWhole) {
  using core::ms;
  sc.duration = 10'000 * ms;
  sc.liveness = 5'000 * ms;
  sc.faults = {{.at = 1'000 * ms, .kind = fault_kind::kill_proxy},
               {.at = 4'000 * ms, .kind = fault_kind::partition_proxy, .duration = 2'000 * ms}};
  sc.expect.reattach_within = 1'000 * ms;
  sc.expect.converge_within = 1'000 * ms;
  checker c(sc);
  c.observe(0, true, true);
  c.observe(1'000 * ms, false, false);  // the kill
  c.observe(1'300 * ms, true, false);   // reattached, for good
  c.observe(1'600 * ms, true, true);    // converged, but only for 300 ms
  c.observe(1'900 * ms, true, false);
  c.observe(2'200 * ms, true, true);   // and for good
  c.observe(4'500 * ms, true, false);  // the partition: directories disagree
  c.observe(6'400 * ms, true, true);   // 400 ms after its end
  c.judge(15'000 * ms);
  const auto& f = c.result().faults;
  ASSERT_EQ(f.size(), 3u);  // two faults and the heal
  EXPECT_EQ(f[0].reattach_from_end(), 300 * ms);
  EXPECT_EQ(f[0].converge_from_end(), 1'200 * ms);
  EXPECT_EQ(f[1].end, 6'000 * ms);
  EXPECT_EQ(f[1].reattach_from_end(), 0);  // attached through it
  EXPECT_EQ(f[1].converge_from_start(), 2'400 * ms);
  EXPECT_EQ(f[1].converge_from_end(), 400 * ms);
  EXPECT_EQ(f[2].converge_from_end(), 0);  // whole at the heal and after
  EXPECT_EQ(c.result().reattach_time, 300 * ms);
  EXPECT_EQ(c.result().converge_time, 1'200 * ms);
  // The kill's convergence took longer than expected; nothing else did.
  ASSERT_EQ(c.result().failures.size(), 1u);
  EXPECT_NE(c.result().failures[0].find("fault 0 (kill_proxy at 1000 ms): directories not "
                                        "converged within 1000 ms of its end (took 1200 ms)"),
            std::string::npos)
      << c.result().failures[0];
}

TEST_F(CheckerTest, AFleetNeverWholeAfterAFaultHasNoFigure) {
  using core::ms;
  sc.duration = 10'000 * ms;
  sc.faults = {{.at = 1'000 * ms, .kind = fault_kind::kill_proxy},
               {.at = 20'000 * ms, .kind = fault_kind::kill_proxy}};  // never reached
  checker c(sc);
  c.observe(0, true, true);
  c.observe(1'000 * ms, false, false);
  c.observe(14'800 * ms, true, true);  // whole, but the run ends 200 ms later
  c.judge(15'000 * ms);
  ASSERT_EQ(c.result().faults.size(), 2u);
  EXPECT_EQ(c.result().faults[0].reattached, -1);
  EXPECT_EQ(c.result().faults[1].fault, 2u);  // the heal
  EXPECT_EQ(c.result().reattach_time, -1);
  EXPECT_EQ(c.result().converge_time, -1);
}

// Requests count by outcome, and by the window of each fault they were sent in: from its
// start until the fleet converged after it.
TEST_F(CheckerTest, RequestsCountByTheFaultWindowTheyFellIn) {
  using core::ms;
  sc.duration = 10'000 * ms;
  sc.faults = {{.at = 2'000 * ms, .kind = fault_kind::bus_outage, .duration = 1'000 * ms}};
  checker c(sc);
  c.observe(0, true, true);
  c.observe(2'000 * ms, true, false);
  c.observe(3'500 * ms, true, true);             // converged 500 ms after the outage
  c.sent(key(1), core::scope::one, 1'000 * ms);  // before
  c.sent(key(2), core::scope::one, 2'500 * ms);  // during
  c.sent(key(3), core::scope::one, 3'200 * ms);  // after its end, before it converged
  c.sent(key(4), core::scope::one, 3'600 * ms);  // after
  complete ok{1, core::errc{}, {msg(ep1, mgmt, 9, core::msg_kind::response)}};
  c.completed(addr(mgmt), key(1), ok, 1'001 * ms);
  complete lost{2, core::errc::timeout, {}};
  c.completed(addr(mgmt), key(2), lost, 3'500 * ms);
  c.abandon(key(3));
  complete ok4{4, core::errc{}, {msg(ep1, mgmt, 10, core::msg_kind::response)}};
  c.completed(addr(mgmt), key(4), ok4, 3'601 * ms);
  c.judge(15'000 * ms);
  const fault_figure& f = c.result().faults.at(0);
  EXPECT_EQ(f.converge_from_end(), 500 * ms);
  EXPECT_EQ(f.requests, 2u);
  EXPECT_EQ(f.timeouts, 1u);
  EXPECT_EQ(f.abandoned, 1u);
  EXPECT_EQ(f.ok, 0u);
  EXPECT_EQ(c.result().faults.at(1).requests, 0u);  // the heal: nothing sent after it
  EXPECT_EQ(c.result().ok, 2u);
}

}  // namespace
}  // namespace ccp::sim
