// Faults compose: each fault of a timeline is in force exactly over its written interval,
// whatever other faults of its kind overlap it, and the heal ends every one of them.
#include <algorithm>
#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <rapidcheck.h>
#include <rapidcheck/gtest.h>

#include "sim/world.hpp"

namespace ccp::sim {

// Friend of world (sim/world.hpp): starts the timeline as world::run() does and reads the
// fault state the network and the checker act on.
struct test_probe {
  static void start(world& w) {
    for (std::size_t f = 0; f < w.sc_.faults.size(); ++f)
      w.push(w.sc_.faults[f].at, world::ev::fault, 0, f);
  }
  static bool partitioned(const world& w, int p) { return w.partitioned_.contains(p); }
  static bool bus_down(const world& w) { return w.bus_down(); }
  static double latency(const world& w) { return w.latency_factor_; }
  static double slowdown(const world& w, int p) {
    auto it = w.slow_proxy_.find(p);
    return it == w.slow_proxy_.end() ? 1.0 : *it->second.rbegin();
  }
  static bool stalled(const world& w, int p) {
    return w.nodes_[w.proxies_[static_cast<std::size_t>(p)]].stalled_until != 0;
  }
  static void heal(world& w) { w.heal(); }
  // Whether proxy p / mgmt node j is cut from the backbone now, and the bus node it is on.
  static bool proxy_cut(const world& w, int p) {
    return w.bus_cut(w.proxies_[static_cast<std::size_t>(p)]);
  }
  static bool mgmt_cut(const world& w, int j) {
    return w.bus_cut(w.mgmts_[static_cast<std::size_t>(j)]);
  }
  static int proxy_bus_node(const world& w, int p) {
    return w.bus_node_of_.empty() ? p % w.sc_.topo.bus_nodes
                                  : w.bus_node_of_[static_cast<std::size_t>(p)];
  }
  static const std::set<std::string>& violations(const world& w) { return w.result_.violations; }
};

namespace {

using core::ms;
using core::seconds;

constexpr int kProxies = 3;

scenario fleet(std::vector<fault> faults) {
  scenario s;
  s.name = "faults";
  s.duration = 20 * seconds;
  s.topo.proxies = kProxies;
  s.topo.hosts = 6;
  s.topo.endpoints_per_host = 1;
  s.faults = std::move(faults);
  return s;
}

bool hits(const fault& f, int p) {
  if (f.target < 0) return true;
  for (int k = 0; k < std::min(f.count, kProxies); ++k)
    if ((f.target + k) % kProxies == p) return true;
  return false;
}
bool in_force(const fault& f, micros t) {
  return f.at <= t && t < f.at + f.duration;
}

// What the timeline says at `t`, against what the world does.
void expect_as_written(const world& w, const std::vector<fault>& faults, micros t) {
  bool outage = false;
  double latency = 1.0;
  for (const fault& f : faults) {
    if (!in_force(f, t)) continue;
    if (f.kind == fault_kind::bus_outage) outage = true;
    if (f.kind == fault_kind::latency_spike) latency = std::max(latency, f.factor);
  }
  RC_ASSERT(test_probe::bus_down(w) == outage);
  RC_ASSERT(test_probe::latency(w) == latency);
  for (int p = 0; p < kProxies; ++p) {
    bool cut = false, stall = false;
    double slow = 1.0;
    for (const fault& f : faults) {
      if (!in_force(f, t) || !hits(f, p)) continue;
      cut |= f.kind == fault_kind::partition_proxy;
      stall |= f.kind == fault_kind::stall_proxy;
      if (f.kind == fault_kind::slow_consumer) slow = std::max(slow, f.factor);
    }
    RC_ASSERT(test_probe::partitioned(w, p) == cut);
    RC_ASSERT(test_probe::stalled(w, p) == stall);
    RC_ASSERT(test_probe::slowdown(w, p) == slow);
  }
}

RC_GTEST_PROP(Faults, ARandomTimelinesFaultsAreInForceExactlyOverTheirWrittenIntervals, ()) {
  const std::vector<fault_kind> kinds = {fault_kind::partition_proxy, fault_kind::bus_outage,
                                         fault_kind::latency_spike, fault_kind::stall_proxy,
                                         fault_kind::slow_consumer};
  const auto n = *rc::gen::inRange<int>(1, 8);
  std::vector<fault> faults;
  for (int k = 0; k < n; ++k) {
    fault f;
    f.kind = *rc::gen::elementOf(kinds);
    f.at = *rc::gen::inRange<int>(0, 10) * seconds / 2;  // on half seconds: shared edges
    f.duration = *rc::gen::inRange<int>(1, 12) * seconds / 2;
    f.target = *rc::gen::inRange<int>(-1, kProxies);
    f.count = *rc::gen::inRange<int>(1, kProxies + 1);
    f.factor = *rc::gen::inRange<int>(2, 6);
    faults.push_back(f);
  }
  trace_sink trace;
  world w(fleet(faults), *rc::gen::arbitrary<std::uint64_t>(), trace);
  test_probe::start(w);
  for (micros t = 0; t <= 12 * seconds; t += seconds / 4) {
    w.run_until(t);
    RC_ASSERT(test_probe::violations(w).empty());  // e.g. a livelock: time stood still
    expect_as_written(w, faults, t);
  }
}

TEST(Faults, AShortPartitionDoesNotEndALongerOneOfAnotherProxy) {
  // The case that passed falsely: proxy 2's 1 s partition ended proxy 0's 10 s one.
  fault long_cut{.at = 2 * seconds,
                 .kind = fault_kind::partition_proxy,
                 .target = 0,
                 .count = 1,
                 .duration = 10 * seconds};
  fault short_cut{.at = 6 * seconds,
                  .kind = fault_kind::partition_proxy,
                  .target = 2,
                  .count = 1,
                  .duration = 1 * seconds};
  trace_sink trace;
  world w(fleet({long_cut, short_cut}), 1, trace);
  test_probe::start(w);
  w.run_until(6500 * ms);
  EXPECT_TRUE(test_probe::partitioned(w, 0));
  EXPECT_TRUE(test_probe::partitioned(w, 2));
  w.run_until(7500 * ms);
  EXPECT_TRUE(test_probe::partitioned(w, 0));
  EXPECT_FALSE(test_probe::partitioned(w, 2));
  w.run_until(12 * seconds);
  EXPECT_FALSE(test_probe::partitioned(w, 0));
}

TEST(Faults, TheHealEndsAStallAndItsHeldEventsRunAtOnce) {
  fault stall{.at = 1 * seconds,
              .kind = fault_kind::stall_proxy,
              .target = 0,
              .count = 1,
              .duration = 30 * seconds};
  trace_sink trace;
  world w(fleet({stall}), 1, trace);
  test_probe::start(w);
  w.run_until(3 * seconds);
  ASSERT_TRUE(test_probe::stalled(w, 0));
  test_probe::heal(w);
  EXPECT_FALSE(test_probe::stalled(w, 0));
}

// Bus nodes: proxy p prefers node p mod 3, mgmt node 0 (client 3) node 0. Node 1 dies for
// 4 s: proxy 1 is cut for the failover time, then on node 2, and stays there when node 1
// comes back; the others never notice.
TEST(Faults, AClientOfADeadBusNodeIsCutUntilItReconnectsToTheNextNode) {
  fault kill{.at = 2 * seconds,
             .kind = fault_kind::kill_bus_node,
             .target = 1,
             .count = 1,
             .duration = 4 * seconds};
  scenario s = fleet({kill});
  s.topo.bus_nodes = 3;
  s.topo.bus_failover = 300 * ms;
  trace_sink trace;
  world w(s, 1, trace);
  test_probe::start(w);
  w.run_until(2 * seconds + 100 * ms);
  EXPECT_TRUE(test_probe::proxy_cut(w, 1));
  EXPECT_FALSE(test_probe::proxy_cut(w, 0));
  EXPECT_FALSE(test_probe::proxy_cut(w, 2));
  EXPECT_FALSE(test_probe::mgmt_cut(w, 0));
  w.run_until(2 * seconds + 299 * ms);
  EXPECT_TRUE(test_probe::proxy_cut(w, 1));
  w.run_until(2 * seconds + 300 * ms);
  EXPECT_FALSE(test_probe::proxy_cut(w, 1));
  EXPECT_EQ(test_probe::proxy_bus_node(w, 1), 2);
  w.run_until(7 * seconds);
  EXPECT_FALSE(test_probe::proxy_cut(w, 1));
  EXPECT_EQ(test_probe::proxy_bus_node(w, 1), 2);
  EXPECT_TRUE(test_probe::violations(w).empty());
}

// With one bus node its death is a bus outage: every backbone client is cut until the node
// is back and the reconnect wait has passed; with no duration, until the heal.
TEST(Faults, TheOnlyBusNodeDeadCutsEveryClientUntilItIsBack) {
  fault kill{.at = 1 * seconds,
             .kind = fault_kind::kill_bus_node,
             .target = 0,
             .count = 1,
             .duration = 2 * seconds};
  fault kill_for_good{.at = 5 * seconds, .kind = fault_kind::kill_bus_node, .target = 0};
  trace_sink trace;
  world w(fleet({kill, kill_for_good}), 1, trace);
  test_probe::start(w);
  w.run_until(2900 * ms);
  for (int p = 0; p < kProxies; ++p)
    EXPECT_TRUE(test_probe::proxy_cut(w, p)) << p;
  EXPECT_TRUE(test_probe::mgmt_cut(w, 0));
  w.run_until(3 * seconds + 249 * ms);
  EXPECT_TRUE(test_probe::proxy_cut(w, 0));
  w.run_until(3 * seconds + 250 * ms);  // the default reconnect wait: libnats' as we set it
  EXPECT_FALSE(test_probe::proxy_cut(w, 0));
  EXPECT_FALSE(test_probe::mgmt_cut(w, 0));
  w.run_until(15 * seconds);
  EXPECT_TRUE(test_probe::proxy_cut(w, 2));
  test_probe::heal(w);
  EXPECT_TRUE(test_probe::proxy_cut(w, 2));  // reconnecting
  w.run_until(15 * seconds + 250 * ms);
  EXPECT_FALSE(test_probe::proxy_cut(w, 2));
  EXPECT_FALSE(test_probe::mgmt_cut(w, 0));
}

}  // namespace
}  // namespace ccp::sim
