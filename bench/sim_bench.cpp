// Benchmarks of the deterministic simulator (sim/world) against the targets of its issue,
// on one core with the trace hashed but not written (a trace_sink without a file):
//   - BM_EventQueue/N: the event queue alone: the engine's own sim::event_queue of
//     world::event with N pending events: pop the earliest, push one later (the classic
//     hold model). Target >= 5 million events/s. BM_EventQueueStdPriorityQueue/N runs
//     the same load through the std::priority_queue of 48-byte events the engine used
//     before, for comparison. BM_EventQueue is also the baseline of the engine figures below
//     (STYLE.md rule 14): engine events/s next to queue events/s says what the rest of an
//     event (role call, actions, checker) costs.
//   - BM_IdleFleet1000Hour: 1000 hosts x 2 endpoints, 2 proxies, 1 mgmt, no workload; one
//     simulated hour from t = 0 (attach, then heartbeats only) through world::run_until.
//     Target <= 10 s of wall time; also reports events/s through the whole engine.
//   - BM_HopsFleet1000: the same fleet with mgmt -> ccp://endpoint/{host}/{ep} (echo) and
//     endpoint -> ccp://mgmt/any (ping) requests, each every 1 ms. A hop (one message
//     crossing one bus or link and handled by one role) is counted as one event of kind
//     bus or link_frame. Target >= 1 million hops per wall second.
//   - BM_Fleet10k: 10,000 hosts x 10 endpoints (100,000 endpoints), 10 proxies, a light
//     workload, 20 s simulated from t = 0: realtime_factor (simulated s / wall s) >= 5.
//   - BM_MemoryPerProcess: heap bytes in use after building the 1000-host world, divided
//     by process_count(). Target <= 8 KiB. Baselines: a lone endpoint and a lone agent.
// The fleet benchmarks run one iteration each (a simulated hour is the measurement, not a
// micro-operation), in wall time, since the targets are wall-time targets; the JSON also
// carries the thread's CPU time, which bench/sim_report.py shows next to them because the
// build machine is shared. bench/sim_report.py runs this binary and prints every figure
// next to its target.

#include <benchmark/benchmark.h>

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <expected>
#include <functional>
#include <memory>
#include <queue>
#include <string>
#include <vector>

#define CCP_BENCH_LIVE_BYTES  // live_bytes_meter, for BM_MemoryPerProcess and BM_Fleet10k
#include "bench/alloc_counter.hpp"
#include "core/action.hpp"
#include "core/address.hpp"
#include "core/agent.hpp"
#include "core/endpoint.hpp"
#include "sim/scenario.hpp"
#include "sim/world.hpp"

namespace ccp::sim {

// Friend of world (sim/world.hpp). Starts a scenario's workload as world::run() does, and
// runs the event loop as world::run_until() does while counting the events by kind. The
// public API has no workload without run(), whose phases and checks are not what a
// throughput figure should time, and no count by kind.
struct bench_probe {
  static constexpr std::size_t kinds = static_cast<std::size_t>(world::ev::sample) + 1;
  using kind_counts = std::array<std::uint64_t, kinds>;
  // The engine's event and queue types, for BM_EventQueue.
  using event = world::event;
  using queue = decltype(world::queue_);
  static event make_event(micros t, std::size_t kind, std::uint32_t node, std::uint64_t which,
                          core::frame_buf f) {
    return event{t, static_cast<world::ev>(kind % kinds), false, node, which, std::move(f)};
  }

  // What world::run() pushes before its first run_until: the workload items, the faults
  // and the checker's periodic sample.
  static void start(world& w) {
    for (std::size_t i = 0; i < w.sc_.workload.size(); ++i)
      w.push(w.sc_.workload[i].start, world::ev::work, 0, i);
    for (std::size_t f = 0; f < w.sc_.faults.size(); ++f)
      w.push(w.sc_.faults[f].at, world::ev::fault, 0, f);
    w.push(0, world::ev::sample, 0);
  }

  // world::run_until(t), counting each event by kind before it runs.
  static void run_until(world& w, micros t, kind_counts& counts) {
    while (!w.queue_.empty() && w.queue_.top_time() <= t) {
      ++counts[static_cast<std::size_t>(w.queue_.top().kind)];
      w.step();
    }
    w.run_until(t);  // no event is due by `t` any more: this only advances the clock
  }

  // Messages that crossed a bus or a link to a role.
  static std::uint64_t hops(const kind_counts& c) {
    return c[static_cast<std::size_t>(world::ev::bus)] +
           c[static_cast<std::size_t>(world::ev::link_frame)];
  }
  static std::uint64_t ticks(const kind_counts& c) {
    return c[static_cast<std::size_t>(world::ev::tick)];
  }
  static std::uint64_t flushes(const kind_counts& c) {
    return c[static_cast<std::size_t>(world::ev::flushed)];
  }
  static std::size_t pending(const world& w) { return w.queue_.size(); }
  static std::uint64_t requests(const world& w) { return w.result_.requests; }
  static std::uint64_t ok(const world& w) { return w.result_.ok; }
};

}  // namespace ccp::sim

namespace {

using namespace ccp;
using core::micros;
using probe = sim::bench_probe;
using wall_clock = std::chrono::steady_clock;

double seconds_since(wall_clock::time_point t0) {
  return std::chrono::duration<double>(wall_clock::now() - t0).count();
}
double sim_seconds(micros t) {
  return static_cast<double>(t) / static_cast<double>(core::seconds);
}
double per(double part, double whole) {
  return whole > 0 ? part / whole : 0.0;
}

// ---------------------------------------------------------------------------------------
// Fleets.

// A fleet with no workload and no faults. The fault phase lasts longer than any run here,
// so the workload (when one is added) never stops on its own.
sim::scenario fleet(int hosts, int endpoints_per_host, int proxies) {
  sim::scenario s;
  s.name = "bench-" + std::to_string(hosts) + "-hosts";
  s.description = "bench/sim_bench.cpp";
  s.duration = 24 * 3600 * core::seconds;
  s.liveness = 0;
  s.topo.mgmt = 1;
  s.topo.proxies = proxies;
  s.topo.hosts = hosts;
  s.topo.endpoints_per_host = endpoints_per_host;
  return s;
}

// mgmt -> a random endpoint (echo, answered by the application) and a random endpoint ->
// ccp://mgmt/any (ping, answered by the core), each every `every`, from `start`.
void add_round_trips(sim::scenario& s, micros every, micros start) {
  sim::workload_item down;
  down.from = "mgmt";
  down.to = "ccp://endpoint/{host}/{ep}";
  down.type = "echo";
  down.every = every;
  down.start = start;
  sim::workload_item up;
  up.from = "endpoint";
  up.to = "ccp://mgmt/any";
  up.type = "ping";
  up.every = every;
  up.start = start;
  s.workload = {down, up};
}

constexpr int fleet1k_hosts = 1000;
constexpr int fleet1k_endpoints = 2;
constexpr int fleet1k_proxies = 2;

// The seed of every fleet: any fixed seed; the runs are deterministic.
constexpr std::uint64_t seed = 1;

// ---------------------------------------------------------------------------------------
// The event queue alone.

// Each iteration is one event through the engine's own queue (sim::event_queue of
// world::event) as world::step() and world::push() use it: pop the earliest, push its
// successor (a timer or a message) up to 1 s later, so `pending` stays constant.
void BM_EventQueue(benchmark::State& state) {
  const auto pending = static_cast<std::size_t>(state.range(0));
  std::uint64_t x = 0x9e3779b97f4a7c15ull;  // xorshift64: cheap, fixed delays
  auto delay = [&x] {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return static_cast<micros>(1 + x % core::seconds);
  };
  // Half the events carry a frame, as messages do; moving it is what the engine does.
  auto frame = std::make_shared<std::string>(200, 'x');
  probe::queue q;
  for (std::size_t i = 0; i < pending; ++i) {
    micros t = delay();
    q.push(t, probe::make_event(t, i, static_cast<std::uint32_t>(i), i, i % 2 ? frame : nullptr));
  }
  for (auto _ : state) {
    probe::event e = q.pop();
    benchmark::DoNotOptimize(e.node);
    e.t += delay();
    q.push(e.t, std::move(e));
  }
  state.SetItemsProcessed(state.iterations());
  state.counters["pending"] = static_cast<double>(pending);
}
// 5,000 and 130,000: the pending events of the 1000-host and of the 10k-host fleet (a
// timer per process plus messages in flight; the fleet benchmarks report pending_at_end).
BENCHMARK(BM_EventQueue)
    ->Arg(5'000)
    ->Arg(130'000)
    ->MinTime(0.2)
    ->Repetitions(5)
    ->ReportAggregatesOnly(true);

// For comparison, the queue the engine used before sim::event_queue: a std::priority_queue
// of whole 48-byte events ((time, seq) order, binary heap), under the same load.
struct pq_event {
  micros t;
  std::uint64_t seq;
  std::uint8_t kind;
  std::uint32_t node;
  std::uint64_t a;
  core::frame_buf frame;
};
struct pq_later {
  bool operator()(const pq_event& x, const pq_event& y) const {
    return x.t != y.t ? x.t > y.t : x.seq > y.seq;
  }
};
void BM_EventQueueStdPriorityQueue(benchmark::State& state) {
  const auto pending = static_cast<std::size_t>(state.range(0));
  std::uint64_t x = 0x9e3779b97f4a7c15ull;
  auto delay = [&x] {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return static_cast<micros>(1 + x % core::seconds);
  };
  auto frame = std::make_shared<std::string>(200, 'x');
  std::priority_queue<pq_event, std::vector<pq_event>, pq_later> q;
  std::uint64_t seq = 0;
  for (std::size_t i = 0; i < pending; ++i)
    q.push(pq_event{delay(), seq++, static_cast<std::uint8_t>(i % 11),
                    static_cast<std::uint32_t>(i), i, i % 2 ? frame : nullptr});
  for (auto _ : state) {
    pq_event e = std::move(const_cast<pq_event&>(q.top()));
    q.pop();
    benchmark::DoNotOptimize(e.node);
    q.push(pq_event{e.t + delay(), seq++, e.kind, e.node, e.a, std::move(e.frame)});
  }
  state.SetItemsProcessed(state.iterations());
  state.counters["pending"] = static_cast<double>(pending);
}
BENCHMARK(BM_EventQueueStdPriorityQueue)
    ->Arg(5'000)
    ->Arg(130'000)
    ->MinTime(0.2)
    ->Repetitions(5)
    ->ReportAggregatesOnly(true);

// ---------------------------------------------------------------------------------------
// Whole fleets, one iteration each.

void BM_IdleFleet1000Hour(benchmark::State& state) {
  constexpr micros hour = 3600 * core::seconds;
  sim::trace_sink trace;  // hash only
  sim::world w(fleet(fleet1k_hosts, fleet1k_endpoints, fleet1k_proxies), seed, trace);
  double wall = 0;
  std::uint64_t allocs = 0;
  bench::alloc_meter meter;  // allocs_per_iter is reported once the loop has counted it
  for (auto _ : state) {
    auto t0 = wall_clock::now();
    w.run_until(hour);
    wall = seconds_since(t0);
  }
  allocs = meter.report(state);
  auto events = static_cast<double>(w.events());
  state.counters["wall_s_per_sim_hour"] = wall;
  state.counters["sim_s_per_wall_s"] = per(sim_seconds(hour), wall);
  state.counters["events"] = events;
  state.counters["events_per_second"] = per(events, wall);
  state.counters["allocs_per_event"] = per(static_cast<double>(allocs), events);
  state.counters["pending_at_end"] = static_cast<double>(probe::pending(w));
  state.counters["processes"] = static_cast<double>(w.process_count());
}
BENCHMARK(BM_IdleFleet1000Hour)->Iterations(1)->UseRealTime()->Unit(benchmark::kSecond);

// Counters of a timed stretch of a run with a workload.
void report_run(benchmark::State& state, const sim::world& w, const probe::kind_counts& c,
                double wall, micros simulated, std::uint64_t allocs, std::uint64_t requests,
                std::uint64_t ok) {
  std::uint64_t events = 0;
  for (auto n : c)
    events += n;
  auto hops = static_cast<double>(probe::hops(c));
  state.counters["hops"] = hops;
  state.counters["hops_per_second"] = per(hops, wall);
  state.counters["events"] = static_cast<double>(events);
  state.counters["events_per_second"] = per(static_cast<double>(events), wall);
  state.counters["hop_share"] = per(hops, static_cast<double>(events));
  state.counters["tick_share"] =
      per(static_cast<double>(probe::ticks(c)), static_cast<double>(events));
  state.counters["flushed_share"] =
      per(static_cast<double>(probe::flushes(c)), static_cast<double>(events));
  state.counters["allocs_per_event"] =
      per(static_cast<double>(allocs), static_cast<double>(events));
  state.counters["sim_s_per_wall_s"] = per(sim_seconds(simulated), wall);
  state.counters["simulated_s"] = sim_seconds(simulated);
  state.counters["requests"] = static_cast<double>(requests);
  // Requests that succeeded, of those issued in the stretch; those still in flight at its
  // end count as not (yet) ok, so a healthy run is a little under 1.
  state.counters["ok_ratio"] = per(static_cast<double>(ok), static_cast<double>(requests));
  state.counters["pending_at_end"] = static_cast<double>(probe::pending(w));
  state.counters["processes"] = static_cast<double>(w.process_count());
}

void BM_HopsFleet1000(benchmark::State& state) {
  // The workload starts once the agents have attached (a few ms) and the measured stretch
  // once it has run for a second.
  constexpr micros start = 1 * core::seconds;
  constexpr micros warm = 2 * core::seconds;
  const micros span = state.range(0) * core::seconds;
  sim::scenario sc = fleet(fleet1k_hosts, fleet1k_endpoints, fleet1k_proxies);
  add_round_trips(sc, 1 * core::ms, start);
  sim::trace_sink trace;
  sim::world w(sc, seed, trace);
  probe::start(w);
  probe::kind_counts warmup{};
  probe::run_until(w, warm, warmup);

  probe::kind_counts c{};
  double wall = 0;
  std::uint64_t allocs = 0;
  std::uint64_t requests = probe::requests(w), ok = probe::ok(w);
  bench::alloc_meter meter;
  for (auto _ : state) {
    auto t0 = wall_clock::now();
    probe::run_until(w, warm + span, c);
    wall = seconds_since(t0);
  }
  allocs = meter.report(state);
  report_run(state, w, c, wall, span, allocs, probe::requests(w) - requests, probe::ok(w) - ok);
}
// 60 simulated seconds (60,000 requests each way, about 1 s of wall time), three times: one
// run of a second is at the mercy of the shared machine's load; the report takes the median.
BENCHMARK(BM_HopsFleet1000)
    ->Arg(60)
    ->Iterations(1)
    ->Repetitions(3)
    ->UseRealTime()
    ->Unit(benchmark::kSecond);

void BM_Fleet10k(benchmark::State& state) {
  constexpr int hosts = 10'000;
  constexpr int endpoints = 10;
  constexpr int proxies = 10;
  const micros span = state.range(0) * core::seconds;
  const micros half = span / 2;
  sim::scenario sc = fleet(hosts, endpoints, proxies);
  add_round_trips(sc, 10 * core::ms, 0);  // light: 100 requests/s each way
  sim::trace_sink trace;

  // Building is not timed; its heap bytes per process are reported next to the 1000-host
  // figure of BM_MemoryPerProcess.
  std::unique_ptr<sim::world> w;
  double build_wall = 0;
  std::int64_t built_bytes = 0;
  {
    bench::live_bytes_meter bytes;
    auto t0 = wall_clock::now();
    w = std::make_unique<sim::world>(sc, seed, trace);
    build_wall = seconds_since(t0);
    built_bytes = bytes.bytes();
  }
  probe::start(*w);

  probe::kind_counts c{};
  double wall = 0, wall_first_half = 0;
  std::uint64_t allocs = 0;
  bench::alloc_meter meter;  // allocs_per_iter is reported once the loop has counted it
  for (auto _ : state) {
    auto t0 = wall_clock::now();
    probe::run_until(*w, half, c);
    wall_first_half = seconds_since(t0);
    probe::run_until(*w, span, c);
    wall = seconds_since(t0);
  }
  allocs = meter.report(state);
  report_run(state, *w, c, wall, span, allocs, probe::requests(*w), probe::ok(*w));
  state.counters["realtime_factor"] = per(sim_seconds(span), wall);
  // The second half only: attachment and registration of 110,000 processes are over.
  state.counters["realtime_factor_second_half"] =
      per(sim_seconds(span - half), wall - wall_first_half);
  state.counters["build_s"] = build_wall;
  state.counters["bytes_per_process"] =
      per(static_cast<double>(built_bytes), static_cast<double>(w->process_count()));
}
BENCHMARK(BM_Fleet10k)->Arg(20)->Iterations(1)->UseRealTime()->Unit(benchmark::kSecond);

// ---------------------------------------------------------------------------------------
// Memory.

core::address must(std::expected<core::address, core::parse_error> a) {
  if (!a) {
    std::fprintf(stderr, "sim_bench setup: a fixture address does not parse\n");
    std::abort();
  }
  return *std::move(a);
}

// Heap bytes of one role object alone (the object itself included), started as the world
// starts it, its start actions taken the way world::drain takes them (swapped out): the
// floor of a simulated process, with no link, registration or subscription map around it.
template <class Role>
std::int64_t lone_bytes(const std::function<std::unique_ptr<Role>()>& make) {
  bench::live_bytes_meter bytes;
  std::unique_ptr<Role> r = make();
  r->start(0);
  std::vector<core::action>().swap(r->actions());
  return bytes.bytes();
}

void BM_MemoryPerProcess(benchmark::State& state) {
  const sim::scenario sc = fleet(fleet1k_hosts, fleet1k_endpoints, fleet1k_proxies);
  double per_process = 0, per_process_attached = 0, processes = 0;
  for (auto _ : state) {
    bench::live_bytes_meter bytes;
    sim::trace_sink trace;
    sim::world w(sc, seed, trace);
    processes = static_cast<double>(w.process_count());
    per_process = per(static_cast<double>(bytes.bytes()), processes);
    // Attached and registered, every timer armed: the steady state of an idle fleet.
    w.run_until(5 * core::seconds);
    per_process_attached = per(static_cast<double>(bytes.bytes()), processes);
  }
  state.counters["bytes_per_process"] = per_process;
  state.counters["bytes_per_process_attached"] = per_process_attached;
  state.counters["processes"] = processes;
  state.counters["endpoint_alone_bytes"] = static_cast<double>(lone_bytes<core::endpoint>([] {
    auto e = std::make_unique<core::endpoint>(
        must(core::address::one(core::role::endpoint, "10.0.0.1", "e1")), 1);
    e->serve("echo");
    return e;
  }));
  state.counters["agent_alone_bytes"] = static_cast<double>(lone_bytes<core::agent>([] {
    core::agent_config cfg;
    cfg.self = must(core::address::one(core::role::agent, "10.0.0.1", "agent"));
    cfg.proxies = {"10.200.0.1/p1", "10.200.0.2/p2"};
    cfg.token = "sim-secret";
    return std::make_unique<core::agent>(std::move(cfg));
  }));
}
BENCHMARK(BM_MemoryPerProcess)->Iterations(1)->UseRealTime()->Unit(benchmark::kSecond);

}  // namespace

// BENCHMARK_MAIN, plus the build type of ccp in the report's context: the targets are
// for a Release build, and the library's own library_build_type says nothing about ours.
int main(int argc, char** argv) {
#ifdef NDEBUG
  benchmark::AddCustomContext("ccp_build", "release");
#else
  benchmark::AddCustomContext("ccp_build", "assertions on");
#endif
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
