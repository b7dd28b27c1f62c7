#include "sim/cost.hpp"

#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "core/message.hpp"
#include "sim/world.hpp"

namespace ccp::sim {
namespace {

using core::ms;
using core::role;

std::string frame(std::string_view type, std::string_view from, std::string_view to,
                  std::string body = "{}") {
  core::message m;
  m.id = 7;
  m.kind = core::msg_kind::notification;
  m.from = *core::address::parse(from);
  m.to = *core::address::parse(to);
  m.type = std::string(type);
  m.body = std::move(body);
  return *core::encode(m);
}

// What byte_ns = 0.5 adds for `f`, rounded to the nearest nanosecond as event_cost does.
std::int64_t half(const std::string& f) {
  return (static_cast<std::int64_t>(f.size()) + 1) / 2;
}

cost_model costs() {
  cost_model c;
  c.accept_ns = 1'000;
  c.hello_ns = 20'000;
  c.directory_ns = 300'000;
  c.frame_ns = 4'000'000;
  c.byte_ns = 0.5;
  return c;
}

// ---- What an event costs --------------------------------------------------------------------

TEST(EventCost, AFrameCostsItsFixedPartAndItsBytes) {
  const std::string f =
      frame("echo", "ccp://mgmt/m.sim/m1", "ccp://endpoint/10.0.0.1/e1", std::string(1000, 'x'));
  for (role r : {role::mgmt, role::proxy, role::agent, role::endpoint}) {
    EXPECT_EQ(event_cost(costs(), r, work_kind::bus_frame, f), 4'000'000 + half(f));
    EXPECT_EQ(event_cost(costs(), r, work_kind::link_frame, f), 4'000'000 + half(f));
  }
}

TEST(EventCost, AHelloCostsMoreAtAProxyOnALinkOnly) {
  const std::string hello = frame("ccp.hello", "ccp://agent/10.0.0.1/agent", "ccp://proxy/any");
  const std::int64_t plain = 4'000'000 + half(hello);
  EXPECT_EQ(event_cost(costs(), role::proxy, work_kind::link_frame, hello), plain + 20'000);
  EXPECT_EQ(event_cost(costs(), role::proxy, work_kind::bus_frame, hello), plain);
  EXPECT_EQ(event_cost(costs(), role::agent, work_kind::link_frame, hello), plain);
}

TEST(EventCost, DirectoryWorkCostsMoreAtBackboneMembers) {
  for (std::string_view type : {"ccp.route", "ccp.sync", "ccp.bye"}) {
    const std::string f = frame(type, "ccp://proxy/10.200.0.1/p1", "ccp://proxy/all");
    const std::int64_t plain = 4'000'000 + half(f);
    EXPECT_EQ(event_cost(costs(), role::mgmt, work_kind::bus_frame, f), plain + 300'000) << type;
    EXPECT_EQ(event_cost(costs(), role::proxy, work_kind::bus_frame, f), plain + 300'000) << type;
    EXPECT_EQ(event_cost(costs(), role::proxy, work_kind::link_frame, f), plain) << type;
    EXPECT_EQ(event_cost(costs(), role::agent, work_kind::bus_frame, f), plain) << type;
  }
  // A heartbeat is a frame like any other.
  const std::string hb = frame("ccp.hb", "ccp://proxy/10.200.0.1/p1", "ccp://proxy/all");
  EXPECT_EQ(event_cost(costs(), role::mgmt, work_kind::bus_frame, hb), 4'000'000 + half(hb));
}

TEST(EventCost, AcceptingALinkCostsAProxyOnlyAndOtherEventsNothing) {
  EXPECT_EQ(event_cost(costs(), role::proxy, work_kind::link_up, {}), 1'000);
  EXPECT_EQ(event_cost(costs(), role::agent, work_kind::link_up, {}), 0);
  EXPECT_EQ(event_cost(costs(), role::proxy, work_kind::other, {}), 0);
}

TEST(EventCost, AFrameThatDoesNotReadCostsWhatAnyFrameDoes) {
  EXPECT_EQ(event_cost(costs(), role::proxy, work_kind::link_frame, "garbage"), 4'000'000 + 4);
}

// ---- The load meter -------------------------------------------------------------------------

TEST(LoadMeter, ThePeakIsTheBusiestAlignedWindow) {
  load_meter m;
  constexpr std::int64_t w = load_meter::window_ns;
  m.busy(0, w / 10, 0);             // window 0: 10%
  m.busy(w + w / 2, w, 5);          // 50% of window 1, 50% of window 2
  m.busy(2 * w + w / 2, w / 4, 7);  // window 2: 75% in all
  m.busy(5 * w, w / 5, 3);          // window 5: 20%
  EXPECT_DOUBLE_EQ(m.peak_fraction(), 0.75);
  EXPECT_EQ(m.wait_max_ns(), 7);
  EXPECT_EQ(m.busy_total_ns(), w / 10 + w + w / 4 + w / 5);
}

TEST(LoadMeter, TheLastWindowCountsAndAFullOneIsOne) {
  load_meter m;
  m.busy(0, 10, 0);
  EXPECT_DOUBLE_EQ(m.peak_fraction(), 10.0 / static_cast<double>(load_meter::window_ns));
  m.busy(10, 3 * load_meter::window_ns, 0);
  EXPECT_DOUBLE_EQ(m.peak_fraction(), 1.0);
}

// ---- A reconnect storm in the simulator -----------------------------------------------------

// 300 agents all on proxy 0, which dies: they all dial proxy 1 at once.
scenario storm(const nlohmann::json& cost) {
  nlohmann::json j = {
      {"name", "storm"},
      {"description", "every agent moves to one proxy at once"},
      {"duration_s", 4},
      {"liveness_s", 6},
      {"topology",
       {{"proxies", 2},
        {"hosts", 300},
        {"endpoints_per_host", 1},
        {"proxy_order", "same"},
        {"cost", cost}}},
      {"workload",
       {{{"to", "ccp://endpoint/{host}/{ep}"}, {"every_ms", 20}, {"timeout_ms", 2000}}}},
      {"faults", {{{"at_s", 2}, {"kind", "kill_proxy"}, {"target", 0}}}},
  };
  auto s = parse_scenario(j);
  if (!s) throw std::runtime_error(s.error());
  return *s;
}

TEST(CostModel, AStormQueuesAtTheProxyItLandsOn) {
  // A hello costs 2 ms: 300 of them keep proxy 1 busy for 600 ms.
  const run_result off = run_scenario(storm(false), 1);
  const run_result on = run_scenario(storm({{"hello_us", 2000}}), 1);
  ASSERT_TRUE(off.pass) << (off.failures.empty() ? "" : off.failures[0]);
  ASSERT_TRUE(on.pass) << (on.failures.empty() ? "" : on.failures[0]);
  EXPECT_TRUE(off.proxy_loads.empty());
  ASSERT_EQ(on.proxy_loads.size(), 2u);
  // Proxy 1 was saturated for a whole window, and hellos waited hundreds of ms for it.
  EXPECT_DOUBLE_EQ(on.proxy_loads[1].busy_peak, 1.0);
  EXPECT_GT(on.proxy_loads[1].wait_max, 300 * ms);
  // Without the cost the agents were all back at once; with it they trickled in.
  EXPECT_GT(on.unattached_max, off.unattached_max + 300 * ms);
}

TEST(CostModel, TheRunStaysDeterministic) {
  const run_result a = run_scenario(storm(true), 5);
  const run_result b = run_scenario(storm(true), 5);
  EXPECT_EQ(a.trace_hash, b.trace_hash);
  ASSERT_EQ(a.proxy_loads.size(), b.proxy_loads.size());
  for (std::size_t p = 0; p < a.proxy_loads.size(); ++p) {
    EXPECT_EQ(a.proxy_loads[p].busy_peak, b.proxy_loads[p].busy_peak);
    EXPECT_EQ(a.proxy_loads[p].wait_max, b.proxy_loads[p].wait_max);
  }
}

}  // namespace
}  // namespace ccp::sim
