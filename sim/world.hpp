#pragma once
// The deterministic simulator: a discrete-event loop hosting the unchanged core roles.
//
// Events are ordered by (virtual time, sequence number); one seeded generator (ours)
// makes every choice the simulator itself makes (latency jitter, queue-group member,
// workload targets). No wall clock, no unordered-container iteration reaches a decision
// or the trace, so the same seed, scenario and binary give a byte-identical trace.
//
// Buses deliver after a per-bus latency, with queue groups (one member chosen per group)
// and plain fan-out; links are ordered, with latency and jitter, and can be closed on one
// side only (half-open). Faults from the scenario's timeline act on processes, links and
// buses; the liveness phase heals them all. The checker watches every delivery and
// outcome for the invariants of DESIGN.md.

#include <algorithm>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <stdexcept>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "core/agent.hpp"
#include "core/endpoint.hpp"
#include "core/mgmt.hpp"
#include "core/proxy.hpp"
#include "host/kernel.hpp"
#include "host/written_frames.hpp"
#include "sim/checker.hpp"
#include "sim/cost.hpp"
#include "sim/event_queue.hpp"
#include "sim/scenario.hpp"
#include "sim/stable_vector.hpp"
#include "sim/trace.hpp"

namespace ccp::sim {

class world {
 public:
  world(const scenario& sc, std::uint64_t seed, trace_sink& trace);
  ~world();
  world(const world&) = delete;
  world& operator=(const world&) = delete;

  // Runs the fault phase, heals, runs the liveness phase and checks expectations.
  run_result run();

  // For benchmarks: run until virtual time `t` (no phases, no checks).
  void run_until(micros t);
  [[nodiscard]] std::uint64_t events() const { return events_; }
  [[nodiscard]] std::size_t process_count() const { return nodes_.size(); }
  friend struct bench_probe;  // bench/sim_bench.cpp: counts events by kind, starts a workload
  friend struct test_probe;   // tests/sim/faults_test.cpp: reads the fault state

 private:
  enum class ev : std::uint8_t {
    bus,         // node receives `frame` on a bus
    link_frame,  // node receives `frame` on link `which`
    link_up,     // node's link `which` is up
    link_down,   // node's link `which` went down
    flushed,     // node's side of simulated link links_[which] wrote one frame
    tick,        // node's timer: `which` is the wake's generation (host::kernel::wake)
    work,        // workload item `which` sends
    fault,       // fault `which` starts
    fault_end,   // fault `which` ends
    restart,     // node slot `node` restarts (agent or endpoint)
    sample,      // periodic checks
  };
  struct event {
    micros t;
    ev kind;
    bool charged = false;  // waited for its process: its turn was reserved (wait_turn)
    std::uint32_t node;
    std::uint64_t which;  // what the event is about: a link, a wake, a workload item, a fault
    core::frame_buf frame;
  };
  // One simulated process: the host kernel around its role, and the simulated world as
  // that kernel's port (the virtual buses, links and clock) and application (the sample
  // application, watched by the checker).
  struct process final : host::world_port, host::application {
    process(world& owner, std::uint32_t index, std::unique_ptr<core::node> role)
        : w(owner), i(index), k(std::move(role), *this, this) {}
    void publish(core::bus_kind bus, std::string_view subject, core::frame_ptr frame) override;
    bool subscribe(core::bus_kind bus, const std::string& subject,
                   const std::string& queue) override;
    void unsubscribe(core::bus_kind bus, const std::string& subject) override;
    void send(core::link_id link, core::frame_ptr frame) override;
    void close(core::link_id link) override;
    void dial(core::link_id link, const std::string& target) override;
    void wake_at(micros at, std::uint64_t generation) override;
    void deliver(core::node& role, const core::message& m, micros now) override;
    void complete(core::node& role, core::act::complete& c, micros now) override;

    world& w;
    std::uint32_t i;
    host::kernel k;
  };
  struct sim_node {
    sim_node(world& w, std::uint32_t i, std::unique_ptr<core::node> role)
        : p(w, i, std::move(role)) {}
    process p;  // in place: nodes_ never moves an element
    // The role as the checker reads it: the one of its kind that is set, known from
    // construction (no host casts a role).
    core::mgmt* mgmt = nullptr;
    core::proxy* proxy = nullptr;
    core::agent* agent = nullptr;
    core::role r = core::role::endpoint;
    int host = -1;  // host index for agents and endpoints, proxy index for proxies
    int index = 0;  // index within its role
    // A proxy's own backbone subject: a frame published there reaches its role with that
    // subject (a forwarded `any`, or one its sender picked it for), any other with none.
    std::string own_subject;
    bool alive = true;
    // Stalled (stall_proxy) until then; 0 when it runs. Set until its events held back
    // meanwhile have run (world::resume), even at that very time.
    micros stalled_until = 0;
    // The processing cost (topology.cost): busy until then, and events waiting their turn.
    std::int64_t busy_until_ns = 0;
    std::uint32_t waiting = 0;
    [[nodiscard]] core::node& role() noexcept { return p.k.role(); }
    [[nodiscard]] const core::node& role() const noexcept { return p.k.role(); }
    [[nodiscard]] host::kernel& kernel() noexcept { return p.k; }
  };
  struct sub {
    std::uint32_t node;
    std::string queue;
  };
  struct link {
    std::uint32_t agent = 0;
    core::link_id agent_id = 0;
    std::uint32_t proxy = 0;
    core::link_id proxy_id = 0;
    bool agent_open = true;
    bool proxy_open = true;
    micros last_to_proxy = 0;  // FIFO: arrivals never overtake
    micros last_to_agent = 0;
    std::size_t unwritten_by_proxy = 0;  // the proxy host's write queue
    // Written frames not yet reported to each side's role (reported in batches, as the
    // daemons' websockets do).
    host::written_frames written_by_agent, written_by_proxy;
    bool reported = false;
  };
  // Searched with the publish action's subject_text as a view: std::hash<std::string_view>
  // hashes like std::hash<std::string>, so the iteration order is what it was.
  struct subject_hash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const noexcept {
      return std::hash<std::string_view>{}(s);
    }
  };
  using subject_map =
      std::unordered_map<std::string, std::vector<sub>, subject_hash, std::equal_to<>>;

  void build();
  template <class Role>
  std::uint32_t add_node(std::unique_ptr<Role> n, int host, int index);
  void start_node(std::uint32_t i);
  void push(micros t, ev kind, std::uint32_t node, std::uint64_t which = 0, core::frame_buf f = {});
  bool step();
  void fire(event& e);
  // The processing cost: false when `e` may be handled now; else `e` goes back into the
  // queue for the instant its process is free (FIFO), and true.
  bool wait_turn(sim_node& s, event& e);
  void run_actions(std::uint32_t i);  // after the simulator called a role's API itself
  void publish(std::uint32_t from, core::bus_kind bus, std::string_view subject,
               core::frame_ptr frame);
  void send_on_link(std::uint32_t from, core::link_id id, core::frame_ptr frame);
  static core::frame_buf hand_over(core::frame_ptr& frame, bool last);
  void close_link(std::uint32_t from, core::link_id id);
  void dial(std::uint32_t agent, core::link_id id, const std::string& target);
  void kill(std::uint32_t i);
  void restart_proxy(int p);
  void restart_host_agent(int h);
  void unsubscribe_all(std::uint32_t i);
  void work(std::size_t item);
  void start_fault(std::size_t f);
  void end_fault(std::size_t f);
  void trace_fault(std::string_view what, const fault& x);
  [[nodiscard]] std::vector<int> targets(const fault& x, int n) const;  // indexes it hits
  void resume(std::uint32_t i);  // a stalled process handles what it held back
  [[nodiscard]] bool bus_down() const noexcept { return bus_outages_ > 0; }
  // Backbone bus nodes (kill_bus_node, sim/faults.cpp): whether mgmt or proxy node `n` is
  // cut from the backbone now, its bus node being dead or it still reconnecting.
  [[nodiscard]] bool bus_cut(std::uint32_t n) const noexcept {
    return !bus_cut_until_.empty() && bus_cut_until_[bus_slot(n)] > now_;
  }
  [[nodiscard]] std::size_t bus_slot(std::uint32_t n) const noexcept {
    const sim_node& s = nodes_[n];
    return static_cast<std::size_t>(s.r == core::role::proxy ? s.host : sc_.topo.proxies + s.index);
  }
  void bus_node_down(int b);
  void bus_node_up(int b);
  void bus_attach(std::size_t slot);  // a process (re)started in `slot` connects
  void heal();
  void sample();
  micros link_delay();

  // A request's key in the checker's tables: the sender's address and the request's id.
  [[nodiscard]] std::uint64_t request_key(std::uint32_t node, std::uint64_t id) const {
    return checker::request_key(fnv(nodes_[node].role().self().str()), id);
  }

  // Traces a delivery or outcome and hands it to the checker (sim/world_checks.cpp).
  void on_deliver(std::uint32_t i, const core::message& m);
  void on_complete(std::uint32_t i, const core::act::complete& c);
  // Starts a trace line in line_, {"t":NOW,"ev":"KIND", for the caller to finish and pass to
  // trace_.line: one reused buffer, as deliveries and completions are among the commonest
  // events.
  std::string& trace_start(std::string_view kind);
  void violation(const std::string& name, const std::string& detail);
  // Explanation lines (sim/trace.cpp), called only when trace_.writing(): a link event of
  // node `i` as its role meets it (`why` empty: "lost", or "refused" for a dial that found
  // nothing), a dial, an agent's attachment compared with the last one traced (attach,
  // detach), a request or notification the workload sent.
  void trace_link(std::uint32_t i, std::string_view kind, core::link_id id, std::string_view why);
  void trace_dial(std::uint32_t agent, core::link_id id, const std::string& target);
  void trace_attachment(std::uint32_t i);
  void trace_send(std::uint32_t from, std::uint64_t id, const core::address& to);
  void trace_notify(std::uint32_t from, const core::address& to);
  // The proxy's address text for an agent's dial target (a proxy name), or the target.
  [[nodiscard]] std::string proxy_address(const std::string& target) const;
  // Rebalancing and `any` over members (expect.balance_within, expect.max_any_share_skew):
  // sampled during the fault phase, judged at the end.
  void sample_balance();
  void count_any(std::uint32_t i, const core::message& m);
  void check_balance();
  void check_any_share();
  [[nodiscard]] bool all_attached() const;
  [[nodiscard]] int attached_to(std::uint32_t agent) const;  // proxy slot, or -1
  [[nodiscard]] bool directories_converged() const;
  void name_proxies() const;  // fills proxy_texts_ once
  [[nodiscard]] bool any_member_reachable(std::uint32_t from, const core::address& to) const;
  [[nodiscard]] bool any_endpoint_alive() const;

  scenario sc_;
  std::uint64_t seed_;
  trace_sink& trace_;
  std::string line_;  // the trace line being built, reused: see trace_start
  core::rng rng_;
  micros now_ = 0;
  std::uint64_t events_ = 0;
  event_queue<event> queue_;
  // Livelock guard: events run at the current instant, and the most a run may take there.
  // A 10,000-host fleet that heartbeats in step runs about a million at one instant.
  static constexpr std::uint64_t max_events_per_instant = 20'000'000;
  std::uint64_t events_this_instant_ = 0;
  bool livelocked_ = false;

  stable_vector<sim_node> nodes_;
  std::vector<std::uint32_t> mgmts_, proxies_, agents_;  // current node of each slot
  std::vector<std::vector<std::uint32_t>> endpoints_;    // per host
  std::vector<int> agent_starts_;                        // per host: agent processes started
  std::vector<std::string> host_names_, proxy_names_;
  std::unordered_map<std::string, int> proxy_by_name_;
  subject_map backbone_;
  std::vector<std::uint32_t> receivers_;  // publish's scratch: who gets the frame, in order
  std::vector<subject_map> host_bus_;
  std::vector<link> links_;
  std::unordered_map<std::uint64_t, std::size_t> link_by_agent_;  // (node << 32 | id)
  std::unordered_map<core::link_id, std::size_t> link_by_proxy_;
  core::link_id next_proxy_link_ = 1;
  core::shared_secret_verifier verifier_{"sim-secret"};
  host::sample_app sample_;
  core::sabotage sabotage_;

  // Fault state.
  // Each fault that lasts adds itself when it starts and takes itself out when it ends, so
  // overlapping faults of one kind, on one target or several, each last as written.
  std::map<int, int> partitioned_;        // proxy index -> partitions in force (none: absent)
  int bus_outages_ = 0;                   // outages in force
  std::multiset<double> latency_spikes_;  // factors in force; the largest applies
  double latency_factor_ = 1.0;           // the largest factor in force, or 1
  std::map<int, std::multiset<double>> slow_proxy_;  // proxy index -> slowdowns in force
  // Bus nodes: kills in force per node; per backbone client slot (proxy p: p, mgmt j:
  // proxies + j), the node it is on and until when it is cut off (reconnecting; forever
  // while no node is up). Empty until the first kill_bus_node: nothing is ever cut.
  std::vector<int> bus_node_kills_;
  std::vector<int> bus_node_of_;
  std::vector<micros> bus_cut_until_;
  // The events a stalled process did not handle, in arrival order: it handles them when
  // its stall ends (sim_node::stalled_until) or at the heal.
  std::unordered_map<std::uint32_t, std::vector<event>> deferred_;
  bool healed_ = false;
  std::vector<load_meter> proxy_load_;  // per proxy index, with the processing cost on
  bool injecting_ = true;

  // Checker state: the checker (sim/checker.hpp) judges requests, deliveries and outcomes;
  // the world samples what only it can see.
  checker checker_;
  run_result& result_ = checker_.result();
  std::vector<bool> proxy_held_ever_;
  std::map<int, micros> double_owned_since_;  // host -> since when (both proxies connected)
  // The fault phase's stretches without every agent attached (run_result::unattached_max).
  bool attached_once_ = false;
  micros unattached_since_ = -1;
  micros balanced_since_ = -1;                                // proxies within tolerance since
  std::unordered_map<std::uint32_t, std::uint64_t> any_got_;  // node -> `any` deliveries
  std::vector<std::uint32_t> any_members_;      // live members at the last fault-phase sample
  std::unordered_set<std::uint32_t> any_gone_;  // members that died while measured
  // With --trace: each agent's attachment as last traced (its proxy's name and epoch).
  struct traced_attachment {
    std::string target;
    std::uint64_t epoch = 0;
  };
  std::unordered_map<std::uint32_t, traced_attachment> attachment_traced_;
  // Per-fault figures: the fleet's state is observed from then (the first fault's start,
  // or the heal) until the checker has every figure.
  micros figures_from_ = 0;
  mutable std::vector<std::string> proxy_texts_;    // each proxy slot's address text
  mutable std::vector<int> on_scratch_;             // directories_converged: agent -> proxy
  mutable std::vector<std::size_t> hosts_by_name_;  // host indexes in host name order
  // directories_converged's memo: the agents' proxies it was computed for, and per node
  // the directory version it judged and whether it agreed.
  mutable std::vector<int> on_before_;
  mutable std::unordered_map<std::uint32_t, std::pair<std::uint64_t, bool>> dir_agreed_;
  // The `any` requests in flight, by request key: their address (swallowed_any).
  std::unordered_map<std::uint64_t, core::address> any_to_;
  // When a stall, partition or bus outage last ended: until a heartbeat round later, a
  // backbone member may still answer from a directory that expired the proxy concerned
  // (core/backbone.hpp, relearn), so swallowed_any counts no member across the backbone.
  micros backbone_back_at_ = -core::seconds * 10;
};

// Runs one scenario with one seed. `trace_path` empty: hash only.
run_result run_scenario(const scenario& sc, std::uint64_t seed, const std::string& trace_path = {});

}  // namespace ccp::sim
