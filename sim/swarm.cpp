// Swarm scenarios: a topology, a workload and a fault timeline drawn from one seed.
#include "sim/swarm.hpp"

#include <algorithm>
#include <array>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/limits.hpp"
#include "core/random.hpp"

namespace ccp::sim {
namespace {

using nlohmann::json;

// The limits of a swarm run. Small fleets and short runs: a swarm finds bugs by the number
// of different runs, and an edge case needs few processes (two proxies, a host or two)
// but many interleavings. CI runs a few hundred of these in its time budget.
constexpr int max_mgmt = 3;
constexpr int max_proxies = 6;
constexpr int max_hosts = 40;
constexpr int max_endpoints = 3;
constexpr int min_duration_s = 4, max_duration_s = 16;
// Long enough for the slowest legal recovery after the heal: an agent that was told to
// move avoids that proxy for drain_avoid (30 s), and when the others refuse it too it is
// at the backoff cap (10 s) by then; a dial that hangs costs a handshake timeout (5 s)
// or two, and a silent link an idle timeout (3 s) to notice. A 30 s liveness phase was
// not enough: swarm seed 102056 of the first generator (drain during a bus outage, then
// a restart) reattached 36 s after the heal.
constexpr int liveness_s = 60;
static_assert(liveness_s * core::seconds >= core::drain_avoid + core::backoff_cap +
                                                2 * core::handshake_timeout + core::idle_timeout);
constexpr int max_workload_items = 4;
constexpr int max_faults = 8;

// The sender of a `to` pattern: any role, or only one that makes sense.
struct destination {
  std::string_view to;
  bool needs_endpoints;
};
// Every form of address (DESIGN.md "Addresses"), at every tier, and addresses of nobody
// (a host outside the fleet, an endpoint id no host has, a proxy index past the last).
constexpr std::array<destination, 17> destinations = {{
    {"ccp://endpoint/{host}/{ep}", true},
    {"ccp://endpoint/{host}/any", false},
    {"ccp://endpoint/{host}/all", false},
    {"ccp://endpoint/any", false},
    {"ccp://endpoint/all", false},
    {"ccp://agent/{host}/agent", false},
    {"ccp://agent/any", false},
    {"ccp://agent/all", false},
    {"ccp://agent/{host}/any", false},
    {"ccp://proxy/any", false},
    {"ccp://proxy/all", false},
    {"ccp://proxy/10.200.0.1/p1", false},
    {"ccp://mgmt/any", false},
    {"ccp://mgmt/all", false},
    {"ccp://mgmt/mgmt-1.sim/m1", false},
    {"ccp://endpoint/10.99.99.99/e1", false},
    {"ccp://endpoint/{host}/e99", false},
}};

enum class aim : std::uint8_t { proxy, host, mgmt, none };
struct fault_shape {
  std::string_view kind;
  aim target;
  bool timed;  // needs duration_s > 0
};
// Every kind of scenarios/README.md, with what its target indexes.
constexpr std::array<fault_shape, 12> fault_shapes = {{
    {"kill_proxy", aim::proxy, false},
    {"restart_proxy", aim::proxy, false},
    {"drain_proxy", aim::proxy, false},
    {"kill_agent", aim::host, false},
    {"half_open", aim::host, false},
    {"partition_proxy", aim::proxy, true},
    {"latency_spike", aim::none, true},
    {"stall_proxy", aim::proxy, true},
    {"slow_consumer", aim::proxy, false},
    {"bus_outage", aim::none, true},
    {"endpoint_churn", aim::host, true},
    {"kill_mgmt", aim::mgmt, false},
}};

// A time in seconds with millisecond resolution, in [lo_ms, hi_ms].
double seconds_ms(core::rng& r, std::int64_t lo_ms, std::int64_t hi_ms) {
  return static_cast<double>(r.between(lo_ms, hi_ms)) / 1000.0;
}

// Roughly log-uniform in [lo, hi]: intervals and timeouts span orders of magnitude.
std::int64_t spread(core::rng& r, std::int64_t lo, std::int64_t hi) {
  std::int64_t top = lo;
  for (int steps = static_cast<int>(r.below(4)); steps > 0 && top < hi; --steps)
    top *= 10;
  return r.between(lo, std::min(top, hi));
}

}  // namespace

json swarm_scenario(std::uint64_t seed) {
  core::rng r(seed);
  const int mgmt = 1 + static_cast<int>(r.below(max_mgmt));
  const int proxies = 1 + static_cast<int>(r.below(max_proxies));
  // Half the runs have a handful of hosts, where races on one host are likeliest.
  const int hosts = 1 + static_cast<int>(r.below(r.below(2) == 0 ? 4 : max_hosts));
  const int eph = static_cast<int>(r.below(max_endpoints + 1));
  const int duration_s = static_cast<int>(r.between(min_duration_s, max_duration_s));
  constexpr std::array<std::string_view, 3> orders = {"rotate", "shuffle", "same"};

  json topo = {
      {"mgmt", mgmt},
      {"proxies", proxies},
      {"hosts", hosts},
      {"endpoints_per_host", eph},
      {"proxy_order", std::string(orders[r.below(orders.size())])},
      {"link_latency_ms", static_cast<double>(r.below(2001)) / 100.0},
      {"link_jitter_ms", r.below(2) == 0 ? 0.0 : static_cast<double>(r.below(501)) / 100.0},
      {"backbone_latency_ms", static_cast<double>(r.below(501)) / 100.0},
      {"host_bus_latency_ms", static_cast<double>(r.below(101)) / 1000.0},
  };

  json workload = json::array();
  const int items = 1 + static_cast<int>(r.below(max_workload_items));
  constexpr std::array<std::string_view, 4> roles = {"mgmt", "proxy", "agent", "endpoint"};
  for (int i = 0; i < items; ++i) {
    destination d = destinations[r.below(destinations.size())];
    while (d.needs_endpoints && eph == 0)
      d = destinations[r.below(destinations.size())];
    std::string_view from = roles[r.below(eph > 0 ? 4 : 3)];
    const bool request = r.below(5) != 0;
    json w = {
        {"from", std::string(from)},
        {"to", std::string(d.to)},
        {"kind", request ? "request" : "notification"},
        {"type", r.below(3) == 0 ? "ping" : "echo"},
        {"every_ms", static_cast<double>(spread(r, 5, 500))},
    };
    if (request) w["timeout_ms"] = static_cast<double>(spread(r, 20, 3000));
    const std::int64_t start_ms = r.below(3) == 0 ? r.between(0, duration_s * 1000 - 1) : 0;
    if (start_ms > 0) w["start_s"] = static_cast<double>(start_ms) / 1000.0;
    if (r.below(3) == 0) w["stop_s"] = seconds_ms(r, start_ms + 1, duration_s * 1000);
    workload.push_back(std::move(w));
  }

  // Swarm testing: each run enables a random subset of the fault kinds.
  std::vector<const fault_shape*> enabled;
  for (const fault_shape& k : fault_shapes)
    if (r.below(2) == 0) enabled.push_back(&k);
  json faults = json::array();
  std::set<int> drained;  // proxy indexes some drain_proxy hits
  const int nfaults = enabled.empty() ? 0 : static_cast<int>(r.below(max_faults + 1));
  for (int i = 0; i < nfaults; ++i) {
    const fault_shape& k = *enabled[r.below(enabled.size())];
    json f = {{"at_s", seconds_ms(r, 0, duration_s * 1000 - 1)}, {"kind", std::string(k.kind)}};
    int target = 0, count = 1;
    switch (k.target) {
      case aim::proxy:
        target =
            r.below(8) == 0 ? -1 : static_cast<int>(r.below(static_cast<std::uint64_t>(proxies)));
        break;
      case aim::host:
        target =
            r.below(10) == 0 ? -1 : static_cast<int>(r.below(static_cast<std::uint64_t>(hosts)));
        count = 1 + static_cast<int>(r.below(5));
        break;
      case aim::mgmt:
        target = static_cast<int>(r.below(static_cast<std::uint64_t>(mgmt)));
        break;
      case aim::none:
        target = -1;
        break;
    }
    f["target"] = target;
    if (count > 1) f["count"] = count;
    if (k.timed || k.kind == "kill_agent")
      f["duration_s"] = seconds_ms(r, k.timed ? 1 : 0, duration_s * 1000);
    if (k.kind == "latency_spike") f["factor"] = static_cast<double>(r.between(2, 50));
    if (k.kind == "slow_consumer") f["factor"] = static_cast<double>(r.between(2, 20));
    if (k.kind == "drain_proxy") {
      if (target < 0)
        for (int p = 0; p < proxies; ++p)
          drained.insert(p);
      else
        drained.insert(target);
    }
    faults.push_back(std::move(f));
  }

  json expect = json::object();
  if (static_cast<int>(drained.size()) < proxies) {
    expect["reattach_within_s"] = liveness_s;
    expect["converge_within_s"] = liveness_s;
  }
  const std::string id = std::to_string(seed);
  return json{
      {"name", "swarm-" + id},
      {"description", "Swarm run " + id + " (ccp sim --swarm 1 --swarm-seed " + id +
                          "): a random topology, workload and fault timeline; invariants only."},
      {"seed", seed},
      {"duration_s", duration_s},
      {"liveness_s", liveness_s},
      {"topology", std::move(topo)},
      {"workload", std::move(workload)},
      {"faults", std::move(faults)},
      {"expect", std::move(expect)},
  };
}

}  // namespace ccp::sim
