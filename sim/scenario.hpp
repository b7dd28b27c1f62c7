#pragma once
// A scenario: the topology of a simulated fleet, its workload, a timeline of faults and
// what must hold. Read from JSON (scenarios/README.md documents the format with a complete
// example). Every field is checked before anything runs; a mistake is reported with its
// JSON path and what was expected.

#include <cstdint>
#include <expected>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "core/limits.hpp"

namespace ccp::sim {

using core::micros;

// The processing time a simulated process spends on what it handles (scenarios/README.md,
// "Processing cost"). Each process is one server: an event that arrives while it is busy
// waits, in arrival order, until it is free; handling it then keeps it busy for its cost.
// scenarios/README.md ("topology.cost") says where each default comes from.
struct cost_model {
  bool on = false;                    // off (the default): every event is handled when it arrives
  std::int64_t accept_ns = 50'000;    // a proxy accepts an agent's websocket (link up)
  std::int64_t hello_ns = 100'000;    // a proxy handles a hello: authenticates, attaches
  std::int64_t directory_ns = 3'000;  // mgmt or proxy applies a route announcement or sync
  std::int64_t frame_ns = 1'000;      // any process handles one frame (bus or link)
  double byte_ns = 0;                 // ... plus this per byte of the frame
};

struct topology {
  int mgmt = 1;                // mgmt nodes: ccp://mgmt/mgmt-N.sim/mN
  int proxies = 2;             // proxies: ccp://proxy/10.1.0.N/pN
  int hosts = 10;              // hosts 10.0.X.Y, one agent each: ccp://agent/H/agent
  int endpoints_per_host = 2;  // endpoints ccp://endpoint/H/eN
  // How each agent orders its proxy list: "rotate" (host i starts at proxy i mod P),
  // "shuffle" (seeded), or "same" (all start at proxy 0).
  std::string proxy_order = "rotate";
  micros link_latency = 1 * core::ms;  // agent <-> proxy, one way
  micros link_jitter = 0;              // added uniformly in [0, jitter]
  micros backbone_latency = 500;       // bus delivery, mgmt/proxies
  micros host_bus_latency = 50;        // bus delivery on a host
  // The backbone bus's nodes (a NATS cluster in `ccp real`). Backbone client k (proxy p is
  // k = p, mgmt node j is k = proxies + j) prefers node k mod bus_nodes; when its node dies
  // it is cut from the backbone for bus_failover, then on the next live node; with none
  // live, until one is back, plus bus_reconnect.
  int bus_nodes = 1;
  // libnats tries the next server of its list at once (measured on loopback: 1 ms from the
  // disconnect to the reconnect), and waits its reconnect wait (net/nats_bus.cpp: 250 ms)
  // only between passes over the whole list.
  micros bus_failover = 1 * core::ms;
  micros bus_reconnect = 250 * core::ms;
  cost_model cost;  // processing time per event
};

// Who sends what to which address, how often.
struct workload_item {
  std::string from = "mgmt";  // mgmt | proxy | agent | endpoint: a random live node of that role
  // Target address; "{host}" is replaced by a random host of the fleet, "{ep}" by a random
  // endpoint id of it (e.g. "ccp://endpoint/{host}/{ep}", "ccp://endpoint/{host}/all").
  std::string to = "ccp://endpoint/all";
  bool request = true;            // request, or notification
  std::string type = "echo";      // echo (answered by the application) or ping (by the core)
  micros every = 100 * core::ms;  // interval between sends of this item
  micros timeout = 1 * core::seconds;
  micros start = 0;
  micros stop = -1;  // -1: until the fault phase ends
};

// What a fault does (the names are those of scenario files and traces):
// kill_proxy, restart_proxy, drain_proxy, kill_agent (restarts it after `duration` with a
// new epoch), half_open (agent side drops, proxy side stays up), partition_proxy (from the
// backbone for `duration`), latency_spike (links x `factor` for `duration`), stall_proxy
// (stops handling events for `duration`), slow_consumer (a proxy's link queue drains
// `factor` times slower), bus_outage (backbone delivers nothing for `duration`),
// endpoint_churn (`count` endpoints stop and come back after `duration`), kill_mgmt
// (mgmt node `target` dies; restarted at heal), kill_bus_node (backbone bus node `target`
// dies; restarted after `duration`, or at the heal when that is 0).
enum class fault_kind : std::uint8_t {
  kill_proxy,
  restart_proxy,
  drain_proxy,
  kill_agent,
  half_open,
  partition_proxy,
  latency_spike,
  stall_proxy,
  slow_consumer,
  bus_outage,
  endpoint_churn,
  kill_mgmt,
  kill_bus_node,
};
[[nodiscard]] std::string_view to_string(fault_kind k) noexcept;

// One fault on the timeline.
struct fault {
  micros at = 0;
  fault_kind kind = fault_kind::kill_proxy;
  int target = 0;  // proxy, host, mgmt or bus node index; -1 = all
  int count = 1;   // how many targets (hosts/endpoints), starting at `target`
  micros duration = 0;
  double factor = 1.0;
};

// What must hold. Ratios are over requests issued in the fault phase; absent fields are
// not checked. Invariants (no delivery to a non-member, no duplicate, one outcome per
// request, bounded queues, fenced ownership) are always checked.
struct expectations {
  std::optional<double> min_ok_ratio;           // requests that succeeded
  std::optional<double> max_timeout_ratio;      // requests that ended in timeout
  std::optional<double> min_unreachable_ratio;  // e.g. scenarios that address dead hosts
  std::optional<double> max_unreachable_ratio;  // e.g. 0: a drain makes nothing unreachable
  // Per fault and for the heal, from its end (sim/checker.hpp, fault_figure): every agent
  // attached, and also every directory agreeing, held for 500 ms, by then.
  std::optional<micros> reattach_within;
  std::optional<micros> converge_within;
  std::optional<double> max_partial_ratio;  // group requests some members failed
  // Every group request (`all` form) whose members all answered ended within this long of
  // its send: it did not wait out its deadline.
  std::optional<micros> group_complete_within;
  // Rebalancing: from the start of the last fault, every live proxy holds within
  // balance_tolerance of the fair share of attached agents by then, and still at the end of
  // the fault phase (violation `unbalanced` otherwise).
  std::optional<micros> balance_within;
  double balance_tolerance = 0.2;
  // `any` over members: each member's share of the fault phase's `any` deliveries to its
  // role is within [1/x, x] of uniform (violation `any_share_skew` otherwise).
  std::optional<double> max_any_share_skew;
  // Negative scenarios: the name of the one violation the checker must report.
  std::optional<std::string> violation;
};

struct scenario {
  std::string name;
  std::string description;
  std::uint64_t seed = 1;
  micros duration = 30 * core::seconds;  // fault phase
  micros liveness = 30 * core::seconds;  // heal everything, stop injecting, check convergence
  topology topo;
  std::vector<workload_item> workload;
  std::vector<fault> faults;
  expectations expect;
  // Test-only switch that breaks the core on purpose: "", "fencing_off",
  // "empty_proxy_takes_any", "duplicate_delivery", "misroute", "double_complete",
  // "no_link_bound", "lax_groups", "no_rebalance", "any_over_proxies" (core/sabotage.hpp).
  std::string sabotage;
};

// The peak memory a run of topology `t` needs, estimated in bytes from the fleet's shape:
// a fixed base, each process (its role, kernel and simulator state), each agent's links
// and subscriptions, and each route that every proxy and mgmt directory keeps for every
// host, which is what grows with hosts x proxies. Calibrated on real runs (peak RSS) and
// rounded up; the workload and faults add little at the scales a budget refuses.
[[nodiscard]] std::uint64_t estimate_memory(const topology& t) noexcept;

// Parses a scenario. Errors: "PATH: what was expected", PATH a JSON Pointer, e.g.
// "/topology/hosts: expected an integer from 1 to 100000"; the first mistake found is
// reported. Never throws.
[[nodiscard]] std::expected<scenario, std::string> parse_scenario(const nlohmann::json& j);
// Reads and parses a file; errors are prefixed with the file name: "FILE: PATH: ..." as
// above, "FILE:LINE:COLUMN: ..." for a JSON syntax error, "FILE: PATH: duplicate key",
// "FILE: cannot open: REASON". Never throws.
[[nodiscard]] std::expected<scenario, std::string> load_scenario(const std::string& path);
// Parses the text of a scenario file as load_scenario does once it read the file; errors
// are prefixed with `origin` (a file name) the same way. Total: no exception escapes.
[[nodiscard]] std::expected<scenario, std::string> parse_scenario_text(std::string_view text,
                                                                       std::string_view origin);

}  // namespace ccp::sim
