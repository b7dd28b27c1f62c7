#pragma once
// The checker's judgement of a run, independent of who ran it: requests issued, deliveries
// and completions, fed by address, against DESIGN.md's invariants and the scenario's
// expectations. The simulator feeds it as its events happen; the real runner (ccp real)
// feeds it from the trace lines its processes wrote. What only a world can see (fenced
// ownership, reattachment, a proxy that took an `any`) is judged by the world and reported
// here as a violation or a figure.

#include <cstdint>
#include <set>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "core/action.hpp"
#include "core/address.hpp"
#include "core/message.hpp"
#include "sim/scenario.hpp"

namespace ccp::sim {

// An outcome's name in the trace and in the checker's messages: "ok", or the error code's.
[[nodiscard]] std::string code_name(core::errc c);

// One fault's figures (issue 24 item 3), from its written start and end (a lasting fault
// ends at start + duration, or at the heal if that comes first; any other at its start).
// `reattached`: the start of the first stretch at or after the end during which every
// agent was attached, held for checker::settle_window; `converged`: the same for "every
// agent attached and every directory (every live proxy's and mgmt node's) routes each host
// to the proxy its agent is attached to". Measured on the whole fleet, so an overlapping
// fault that is still in force delays a figure (it is then an upper bound). -1: never.
// The requests counted are those sent from the fault's start until `converged` (the run's
// end if never), by outcome. The heal is an entry of its own, after the faults.
struct fault_figure {
  std::size_t fault = 0;  // index in scenario::faults; faults.size(): the heal
  micros start = 0, end = 0;
  micros reattached = -1, converged = -1;
  std::uint64_t requests = 0, ok = 0, timeouts = 0, unreachable = 0, partial = 0, other_errors = 0,
                abandoned = 0;
  // From the start and from the end (-1: never).
  [[nodiscard]] micros reattach_from_start() const {
    return reattached < 0 ? -1 : reattached - start;
  }
  [[nodiscard]] micros reattach_from_end() const { return reattached < 0 ? -1 : reattached - end; }
  [[nodiscard]] micros converge_from_start() const {
    return converged < 0 ? -1 : converged - start;
  }
  [[nodiscard]] micros converge_from_end() const { return converged < 0 ? -1 : converged - end; }
};

// What a run measured and whether it passed.
struct run_result {
  std::string scenario;
  std::uint64_t seed = 0;
  bool pass = false;
  std::vector<std::string> failures;  // human-readable reasons, first few
  std::set<std::string> violations;   // invariant names reported by the checker
  std::uint64_t trace_hash = 0;
  std::uint64_t events = 0;
  std::uint64_t requests = 0, ok = 0, timeouts = 0, unreachable = 0, partial = 0, other_errors = 0;
  std::uint64_t abandoned = 0;  // requests whose sender died before they ended
  // Group requests (`all` forms) whose members all answered, and the longest any of them
  // took from send to completion (-1: none).
  std::uint64_t groups_answered = 0;
  micros group_latency_max = -1;
  std::uint64_t notifications = 0, deliveries = 0;
  // The worst of the per-fault figures (`faults`), from each fault's end: until every
  // agent was attached, until every directory also agreed (-1: some fault never).
  micros reattach_time = -1;
  micros converge_time = -1;
  std::vector<fault_figure> faults;  // one per fault that started, then the heal
  // Fault phase, once every agent had attached: the longest stretch during which some
  // agent was not attached (sampled every 100 ms; -1: never one), e.g. a killed proxy's
  // agents reattaching elsewhere.
  micros unattached_max = -1;
  micros simulated = 0;
  std::size_t processes = 0;
  // With expect.balance_within: from the last fault's start until the proxies were within
  // tolerance of fair for good (-1: never).
  micros balance_time = -1;
  // With expect.max_any_share_skew: the largest and smallest member share of `any`
  // deliveries, as multiples of uniform (-1: not measured).
  double any_share_max = -1, any_share_min = -1;
  // With the processing cost on (topology.cost), per proxy index (its restarts included):
  // the busiest 100 ms window's busy share (0 to 1) and the longest an event waited for it.
  struct proxy_load {
    double busy_peak = 0;
    micros wait_max = 0;
  };
  std::vector<proxy_load> proxy_loads;
};

class checker {
 public:
  explicit checker(const scenario& sc) : sc_(sc) { result_.scenario = sc.name; }

  // How long the fleet must stay whole for a fault's figure to count it recovered.
  static constexpr micros settle_window = 500 * core::ms;

  // The request key of request `id` sent by the process whose address text hashes
  // (sim/trace.hpp's fnv) to `sender`. Ids carry a random incarnation in their high bits,
  // so the sender is mixed in by multiplication, not shifted into those bits.
  static std::uint64_t request_key(std::uint64_t sender, std::uint64_t id) {
    return (sender + 1) * 0x9e3779b97f4a7c15ull ^ id;
  }

  // A request of the workload was issued at `now` to an address of form `to`.
  void sent(std::uint64_t key, core::scope to, micros now);
  // The sender of request `key` died before it ended: abandoned, not a violation.
  // Returns whether it was still open.
  bool abandon(std::uint64_t key);
  // The process `self` (whose address text hashes to `self_hash`) delivered `m` to its
  // application; `from_hash` is fnv of m.from's text. Uses m.to, m.from, m.id, m.kind.
  void delivered(const core::address& self, std::uint64_t self_hash, const core::message& m,
                 std::uint64_t from_hash, micros now);
  // What a completion was, for the caller's own judgement.
  enum class completed_as : std::uint8_t { unknown, twice, once, any_bounced_by_proxy };
  // Request `c.request` of `self` (key: request_key(hash of self, c.request)) ended at `now`.
  // Uses c.code, the replies' from and kind, c.members.
  completed_as completed(const core::address& self, std::uint64_t key, const core::act::complete& c,
                         micros now);
  void violation(const std::string& name, const std::string& detail, micros now);
  // The fleet's state at `now`, for the per-fault figures: every agent attached, and also
  // every directory agreeing. Fed at every sample (simulator) or at every change (real
  // runner); between two calls the state is taken to be the earlier one.
  void observe(micros now, bool attached, bool converged);
  // Whether the figures need no more observations: past the heal, and whole since at
  // least settle_window after it (the caller may stop computing the state).
  [[nodiscard]] bool figures_settled(micros now) const;
  // At the end of a run (at `now`): the leftover outcomes, then the expectations.
  void judge(micros now);

  [[nodiscard]] run_result& result() noexcept { return result_; }
  [[nodiscard]] const run_result& result() const noexcept { return result_; }

 private:
  void check_group(const core::address& self, const core::act::complete& c, micros sent,
                   micros now);
  // The per-fault figures and request counts at the end of a run (result_.faults).
  void measure_faults(micros now);

  const scenario& sc_;
  run_result result_;
  struct delivery_key {
    std::uint64_t receiver;
    std::uint64_t from;
    std::uint64_t id;
    bool operator==(const delivery_key&) const = default;
  };
  struct delivery_hash {
    std::size_t operator()(const delivery_key& k) const {
      return k.receiver * 0x9e3779b97f4a7c15ull ^ k.from * 0xbf58476d1ce4e5b9ull ^ k.id;
    }
  };
  std::unordered_set<delivery_key, delivery_hash> delivered_;
  std::unordered_map<std::uint64_t, int> unicast_deliveries_;  // hash(from,id) -> count
  // A request: when it was sent, its state (bit 0: completed, 1: to an `any` form, 2: to a
  // group, 3: abandoned) and its outcome once completed (outcome_of).
  struct request_state {
    micros sent = 0;
    std::uint8_t state = 0;
    std::uint8_t outcome = 0;
  };
  std::unordered_map<std::uint64_t, request_state> outcomes_;
  // The fleet's state (observe), at each change: time, attached, converged.
  struct fleet_state {
    micros t;
    bool attached, converged;
  };
  std::vector<fleet_state> states_;
  std::unordered_map<std::uint64_t, micros> group_sent_;  // request key -> send time
};

}  // namespace ccp::sim
