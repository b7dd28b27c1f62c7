// `ccp real FILE...`: a scenario file against real processes on this machine. A
// nats-server on a free loopback port is the backbone (a NATS cluster of `bus_nodes`,
// app/real_bus.hpp); each mgmt node and each proxy is a
// `ccp real-node` process of its own; the hosts (each agent with its own websocket, and its
// endpoints on an in-process host bus) run many to a process. Faults are real signals;
// every process writes trace lines (net/trace_hook.hpp), which are merged and judged by the
// simulator's checker (sim/checker.hpp).
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cinttypes>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <ostream>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "app/commands.hpp"
#include "app/options.hpp"
#include "app/real.hpp"
#include "app/real_bus.hpp"
#include "app/real_netns.hpp"
#include "sim/checker.hpp"
#include "sim/scenario.hpp"
#include "sim/trace.hpp"
#include "sim/world.hpp"
#include "testkit/port.hpp"
#include "testkit/process.hpp"

namespace ccp::app {
namespace {

using core::micros;
using core::ms;
using core::seconds;
using clk = std::chrono::steady_clock;

constexpr positional_spec real_positionals[] = {
    {.name = "FILE", .help = "a scenario file (the subset in scenarios/real/)", .variadic = true},
};

constexpr option_spec real_options[] = {
    {.name = "compare",
     .help = "run the file in the simulator too; print both lines and the fidelity findings"},
    {.name = "dir",
     .value = "DIR",
     .help = "keep the run's traces and logs in DIR (created; default: a new /tmp/ccp-real-*)"},
    {.name = "hosts-per-process",
     .value = "N",
     .help = "hosts (agent and endpoints) per process (default 250)"},
};

constexpr command_spec real_command = {
    .name = "real",
    .about =
        "Runs scenario files against real processes on this machine (a nats-server, or\n"
        "a NATS cluster of the topology's bus_nodes; one process per mgmt node and per\n"
        "proxy, hosts many to a process, on 127.0.0.1 and, for partition_proxy and\n"
        "half_open, in network namespaces it makes and removes), with real faults\n"
        "(SIGKILL, SIGTERM, SIGSTOP/SIGCONT, nftables rules), and judges the merged\n"
        "traces with the simulator's checker. Fault kinds it cannot make real are\n"
        "refused.\n"
        "Exit status: 0 all passed, 1 some failed, 2 usage, scenario file or run error.",
    .positionals = real_positionals,
    .options = real_options,
};

// Ratios may differ by this much between the worlds, reattachment by this many ms, before a
// difference is a fidelity finding.
constexpr double ratio_tolerance = 0.02;
constexpr micros reattach_tolerance = 2 * seconds;

volatile std::sig_atomic_t interrupted = 0;
extern "C" void on_signal(int) {
  interrupted = 1;
}

std::string percent(std::uint64_t part, std::uint64_t whole) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f%%", whole ? 100.0 * double(part) / double(whole) : 0.0);
  return buf;
}
std::string millis(micros t) {
  return t < 0 ? "never" : std::to_string(t / ms) + "ms";
}

// The summary line, in `ccp sim`'s format (app/sim_cmd.cpp), `converge` as given.
std::string summary(const sim::scenario& sc, const sim::run_result& r, double wall,
                    const std::string& converge) {
  char hash[32];
  std::snprintf(hash, sizeof hash, "%016" PRIx64, r.trace_hash);
  char secs[32];
  std::snprintf(secs, sizeof secs, "%.2fs", wall);
  std::string s =
      std::string(r.pass ? "PASS " : "FAIL ") + sc.name + " seed=" + std::to_string(r.seed) +
      " hash=" + hash + " processes=" + std::to_string(r.processes) +
      " requests=" + std::to_string(r.requests) + " ok=" + percent(r.ok, r.requests) +
      " timeout=" + percent(r.timeouts, r.requests) +
      " unreachable=" + percent(r.unreachable, r.requests) +
      " partial=" + percent(r.partial, r.requests) + " deliveries=" + std::to_string(r.deliveries) +
      " reattach=" + millis(r.reattach_time) + " converge=" + converge +
      " events=" + std::to_string(r.events) + " wall=" + secs;
  if (r.group_latency_max >= 0) s += " group_max=" + millis(r.group_latency_max);
  if (r.abandoned > 0) s += " abandoned=" + std::to_string(r.abandoned);
  s += " unattached_max=" + millis(r.unattached_max);
  return s;
}

// The fault kinds this runner makes real.
bool real_kind(sim::fault_kind k) {
  using enum sim::fault_kind;
  return k == kill_proxy || k == restart_proxy || k == drain_proxy || k == stall_proxy ||
         k == kill_agent || k == kill_mgmt || k == bus_outage || k == endpoint_churn ||
         k == kill_bus_node || k == partition_proxy || k == half_open;
}
// Whether the file has faults that run in network namespaces (app/real_netns.hpp).
bool uses_netns(const sim::scenario& sc) {
  for (const sim::fault& x : sc.faults)
    if (x.kind == sim::fault_kind::partition_proxy || x.kind == sim::fault_kind::half_open)
      return true;
  return false;
}

// What the file asks that this runner cannot do: empty when it can run it.
std::string refusal(const std::string& file, const sim::scenario& sc) {
  std::string kinds;
  for (std::size_t f = 0; f < sc.faults.size(); ++f) {
    if (real_kind(sc.faults[f].kind)) continue;
    kinds += (kinds.empty() ? "" : ", ") + std::string(sim::to_string(sc.faults[f].kind)) +
             " (/faults/" + std::to_string(f) + ")";
  }
  if (!kinds.empty())
    return file + ": the real runner cannot do these fault kinds: " + kinds +
           " (it does kill_proxy, restart_proxy, drain_proxy, stall_proxy, kill_agent, "
           "kill_mgmt, bus_outage, endpoint_churn, kill_bus_node, partition_proxy, half_open); run "
           "the file with ccp sim";
  if (uses_netns(sc)) {
    bool partition = false, half = false;
    for (const sim::fault& x : sc.faults) {
      partition = partition || x.kind == sim::fault_kind::partition_proxy;
      half = half || x.kind == sim::fault_kind::half_open;
    }
    if (partition && half)
      return file +
             ": partition_proxy and half_open in one file: the agents of a half_open would "
             "reach a partitioned proxy's namespace only through forwarding, which ccp real "
             "does not turn on; split the file";
    if (auto why = real_netns::unavailable(); !why.empty())
      return file + ": partition_proxy and half_open run in network namespaces: " + why;
  }
  bool outage = false;
  for (const sim::fault& x : sc.faults)
    outage = outage || x.kind == sim::fault_kind::bus_outage;
  for (std::size_t f = 0; f < sc.faults.size(); ++f) {
    const sim::fault& x = sc.faults[f];
    if (x.kind != sim::fault_kind::endpoint_churn) continue;
    const std::string at = file + ": /faults/" + std::to_string(f) + ": endpoint_churn";
    const int eph = sc.topo.endpoints_per_host;
    if (eph == 0 || x.target < 0 || x.count % eph != 0)
      return at +
             ": ccp real churns whole hosts' endpoints: needs a target >= 0 and a count "
             "that is a multiple of endpoints_per_host (" +
             std::to_string(eph) + ")";
    if (outage)
      return at +
             ": with a bus_outage in the same file: the churned hosts' host bus is the "
             "backbone's nats-server in ccp real, so the outage would cut it too";
  }
  if (!sc.sabotage.empty())
    return file + ": /sabotage: \"" + sc.sabotage +
           "\" breaks the core of the simulator only; the real runner runs unbroken daemons";
  return {};
}

template <class E>
std::optional<E> enum_named(std::string_view name, int count) {
  using core::to_string;
  using core::act::to_string;
  for (int i = 0; i < count; ++i)
    if (to_string(static_cast<E>(i)) == name) return static_cast<E>(i);
  return std::nullopt;
}
std::optional<core::errc> errc_named(std::string_view name) {
  if (name == "ok") return core::errc{};
  return enum_named<core::errc>(name, 64);
}

// One node process of the run, and whom it hosts (their addresses' hashes: the senders
// whose requests die with it).
struct slot {
  std::string name;
  real_node_spec spec;
  std::unique_ptr<testkit::process> proc;
  std::vector<std::uint64_t> senders;
  bool stalled = false;
  bool drained = false;
  int space = -1;  // its network namespace (real_netns::spaces()), -1: the machine's
};

// One line of a trace, with its time on the run's clock.
struct line {
  micros t;
  std::size_t source;  // which file; runner events: the slot's index + files
  std::uint64_t seq;
  nlohmann::json j;
};

// Whether the mgmt nodes' directories match where the agents are, as the simulator's
// directories_converged() judges it: every mgmt node routes every host to the proxy that
// host's agent is attached to (from the "attached" and "directory" trace lines).
class convergence {
 public:
  // `urls`: each URL an agent may name its proxy by (a namespace's agents have their own),
  // and that proxy's index.
  convergence(int hosts, int mgmts, int proxies, std::map<std::string, int> urls)
      : agent_on_(static_cast<std::size_t>(hosts), -1),
        dirs_(static_cast<std::size_t>(mgmts),
              std::vector<int>(static_cast<std::size_t>(hosts), -1)),
        dir_n_(static_cast<std::size_t>(mgmts), 0),
        dead_(static_cast<std::size_t>(mgmts), false),
        urls_(std::move(urls)) {
    for (int p = 0; p < proxies; ++p)
      proxy_index_[real_proxy_address(p)] = p;
  }
  // An "attached" line of a hosts process.
  void attached(const nlohmann::json& j) {
    const int first = j.value("first", 0);
    const auto& on = j.at("on");
    for (std::size_t k = 0; k < on.size(); ++k) {
      auto it = urls_.find(on[k].get<std::string>());
      at(agent_on_, first + static_cast<int>(k)) = it == urls_.end() ? -1 : it->second;
    }
  }
  // A "directory" line of mgmt node `m`.
  void directory(std::size_t m, const nlohmann::json& j) {
    dead_.at(m) = false;  // a restarted node writes again
    dir_n_.at(m) = j.value("n", 0);
    const auto& routes = j.at("routes");
    for (std::size_t h = 0; h < routes.size() && h < dirs_.at(m).size(); ++h) {
      auto it = proxy_index_.find(routes[h].get<std::string>());
      dirs_[m][h] = it == proxy_index_.end() ? -1 : it->second;
    }
  }
  void agents_gone(int first, int last) {
    for (int h = first; h < last; ++h)
      at(agent_on_, h) = -1;
  }
  // A killed mgmt node keeps no directory: it is not judged until it writes one again (as
  // the simulator judges live nodes only).
  void mgmt_gone(std::size_t m) {
    dead_.at(m) = true;
    dir_n_.at(m) = 0;
    std::fill(dirs_.at(m).begin(), dirs_.at(m).end(), -1);
  }
  [[nodiscard]] bool converged() const {
    for (std::size_t m = 0; m < dirs_.size(); ++m) {
      if (dead_[m]) continue;
      if (dir_n_[m] != static_cast<int>(agent_on_.size())) return false;
      for (std::size_t h = 0; h < agent_on_.size(); ++h)
        if (agent_on_[h] < 0 || dirs_[m][h] != agent_on_[h]) return false;
    }
    return true;
  }

 private:
  static int& at(std::vector<int>& v, int i) {
    if (i < 0 || static_cast<std::size_t>(i) >= v.size())
      throw std::runtime_error("trace: host index " + std::to_string(i) + " out of range");
    return v[static_cast<std::size_t>(i)];
  }
  std::vector<int> agent_on_;
  std::vector<std::vector<int>> dirs_;
  std::vector<int> dir_n_;
  std::vector<bool> dead_;  // killed, not yet back
  std::map<std::string, int> urls_;
  std::map<std::string, int> proxy_index_;
};

class runner {
 public:
  runner(std::string file, const sim::scenario& sc, std::string dir, int hosts_per_process)
      : file_(std::move(file)), sc_(sc), dir_(std::move(dir)), per_(hosts_per_process) {}
  // Every process it started, by PID, at once (SIGKILL also ends a stopped one); then (its
  // members) the bus's nodes (real_bus's destructor: woken first if frozen, so that they stop
  // at once), and last the network namespaces, once nothing runs in them.
  ~runner() {
    for (auto* group : {&hosts_, &endpoints_, &mgmts_, &proxies_})
      for (slot& s : *group)
        if (s.proc) s.proc->kill();
  }
  runner(const runner&) = delete;
  runner& operator=(const runner&) = delete;

  // Stands the fleet up, runs the timeline, stops everything, judges. Throws
  // std::runtime_error when the run cannot go on (the destructors stop what it started).
  sim::run_result run(double& wall);

 private:
  micros now() const {
    return std::chrono::duration_cast<std::chrono::microseconds>(clk::now().time_since_epoch())
               .count() -
           origin_;
  }
  // Sleeps until run time `t` (bounded by it); false when interrupted.
  bool sleep_until(micros t) {
    while (!interrupted) {
      const micros left = t - now();
      if (left <= 0) return true;
      std::this_thread::sleep_for(std::chrono::microseconds(std::min<micros>(left, 20 * ms)));
    }
    return false;
  }
  void start(slot& s);
  void kill(slot& s, std::string_view why);
  void act(const sim::fault& x, bool end);
  void heal();
  [[nodiscard]] std::vector<int> targets(const sim::fault& x, int n) const {
    std::vector<int> v;
    for (int k = 0; k < (x.target < 0 ? n : std::min(x.count, n)); ++k)
      v.push_back(x.target < 0 ? k : (x.target + k) % n);
    return v;
  }
  sim::run_result judge();
  void note(const std::string& what) {
    runner_lines_.push_back({now(), 0, 0, nlohmann::json::parse(what)});
  }

  std::string file_;
  const sim::scenario& sc_;
  std::string dir_;
  int per_;
  std::string exe_;
  std::unique_ptr<real_netns> netns_;  // when the file has partition_proxy or half_open
  std::map<int, int> partitioned_;     // proxy -> partitions of it in force
  micros origin_ = 0;                  // CLOCK_MONOTONIC microseconds of run time 0 (before: 0)
  std::unique_ptr<real_bus> bus_;
  std::vector<slot> mgmts_, proxies_, hosts_;
  // The endpoints of hosts an endpoint_churn fault hits, a process per fault (on the
  // backbone's nats-server as their host bus), and which hosts_ group each belongs to.
  std::vector<slot> endpoints_;
  std::map<int, std::size_t> endpoints_of_group_;
  std::vector<int> host_slot_;            // host -> index in hosts_
  std::vector<std::string> urls_;         // proxy p's websocket URL
  std::map<std::string, int> url_proxy_;  // every URL an agent may dial -> proxy index
  std::vector<line> runner_lines_;
  bool bus_paused_ = false;
};

void runner::start(slot& s) {
  testkit::spawn_options o;
  o.log = dir_ + "/" + s.name + ".log";
  o.parent_death_signal = SIGKILL;  // the runner gone (even SIGKILLed): so are they
  std::vector<std::string> argv;
  if (s.space >= 0)  // `ip netns exec` execs the node: the PID stays the node's
    argv = netns_->exec_prefix(netns_->spaces().at(static_cast<std::size_t>(s.space)));
  for (std::string& a : real_node_argv(exe_, s.spec))
    argv.push_back(std::move(a));
  s.proc = std::make_unique<testkit::process>(std::move(argv), o);
  s.stalled = false;
}

void runner::kill(slot& s, std::string_view why) {
  if (!s.proc) return;
  s.proc->kill();  // SIGKILL also ends a stopped process
  s.proc.reset();
  s.stalled = false;
  note(R"({"ev":"killed","proc":")" + s.name + R"(","why":")" + std::string(why) + "\"}");
}

void runner::act(const sim::fault& x, bool end) {
  using enum sim::fault_kind;
  const int proxies = static_cast<int>(proxies_.size());
  switch (x.kind) {
    case kill_proxy:
      for (int p : targets(x, proxies))
        kill(proxies_[static_cast<std::size_t>(p)], "kill_proxy");
      break;
    case restart_proxy:
      for (int p : targets(x, proxies)) {
        slot& s = proxies_[static_cast<std::size_t>(p)];
        kill(s, "restart_proxy");
        start(s);
      }
      break;
    case drain_proxy:
      for (int p : targets(x, proxies)) {
        slot& s = proxies_[static_cast<std::size_t>(p)];
        if (s.proc) s.proc->signal(SIGTERM);  // its graceful stop: it drains, then exits
        s.drained = true;
      }
      break;
    case stall_proxy:
      for (int p : targets(x, proxies)) {
        slot& s = proxies_[static_cast<std::size_t>(p)];
        if (!s.proc) continue;
        s.proc->signal(end ? SIGCONT : SIGSTOP);
        s.stalled = !end;
      }
      break;
    case kill_mgmt:
      kill(mgmts_[static_cast<std::size_t>(x.target)], "kill_mgmt");
      break;
    case kill_agent: {
      // Each kill_agent fault's hosts run in processes of their own (run()).
      std::set<int> slots;
      for (int h : targets(x, sc_.topo.hosts))
        slots.insert(host_slot_[static_cast<std::size_t>(h)]);
      for (int k : slots) {
        slot& s = hosts_[static_cast<std::size_t>(k)];
        if (end) {
          if (!s.proc) start(s);
        } else {
          kill(s, "kill_agent");
        }
      }
      break;
    }
    case endpoint_churn: {
      // The hosts' endpoints run in a process of their own (run()): SIGTERM, they
      // unregister and exit (bounded: then SIGKILL); started again at the fault's end.
      slot& s =
          endpoints_.at(endpoints_of_group_.at(host_slot_.at(static_cast<std::size_t>(x.target))));
      if (end) {
        if (!s.proc) start(s);
      } else if (s.proc) {
        s.proc->signal(SIGTERM);
        (void)s.proc->wait(std::chrono::seconds(2));
        kill(s, "endpoint_churn");
      }
      break;
    }
    case partition_proxy:
      // Cut from the nats-server (packets dropped both ways: no side sees a close); its
      // agents still reach it.
      for (int p : targets(x, proxies)) {
        const slot& s = proxies_[static_cast<std::size_t>(p)];
        const auto& space = netns_->spaces().at(static_cast<std::size_t>(s.space));
        int& n = partitioned_[p];
        if (!end && n++ == 0)
          for (int b = 0; b < bus_->nodes(); ++b)
            netns_->cut(space, bus_->port(b));
        if (end && n > 0 && --n == 0) netns_->uncut(space);
      }
      break;
    case half_open: {
      // The hosts' process runs in a namespace of its own: its agents' links are dropped
      // both ways and closed on the agents' side; the proxies hear nothing.
      std::set<int> slots;
      for (int h : targets(x, sc_.topo.hosts))
        slots.insert(host_slot_[static_cast<std::size_t>(h)]);
      std::vector<int> ports;
      for (const slot& p : proxies_)
        ports.push_back(p.spec.port);
      for (int k : slots) {
        const slot& s = hosts_[static_cast<std::size_t>(k)];
        if (s.space >= 0)
          netns_->half_open(netns_->spaces().at(static_cast<std::size_t>(s.space)), ports);
      }
      break;
    }
    case bus_outage:
      if (end && bus_paused_) {
        bus_->resume();
        bus_paused_ = false;
      } else if (!end && !bus_paused_) {
        bus_->pause();  // frozen: it reads and answers nothing, connections stay open
        bus_paused_ = true;
      }
      break;
    case kill_bus_node:
      // SIGKILL: its clients' connections close and libnats takes them to the next node of
      // their list; started again (same ports) at the fault's end, or at the heal.
      for (int b : targets(x, bus_->nodes())) {
        if (end && !bus_->running(b)) bus_->restart(b);
        if (!end) bus_->kill(b);
      }
      break;
    default:
      throw std::logic_error("ccp real: a refused fault kind reached the timeline");
  }
}

void runner::heal() {
  if (bus_paused_) {
    bus_->resume();
    bus_paused_ = false;
  }
  bus_->restart_dead();
  if (netns_) {
    for (const auto& space : netns_->spaces())
      netns_->uncut(space);
    partitioned_.clear();
  }
  for (auto* group : {&proxies_, &mgmts_, &hosts_, &endpoints_})
    for (slot& s : *group) {
      if (s.stalled) {
        s.proc->signal(SIGCONT);
        s.stalled = false;
      }
      // As in the simulator: killed processes come back, a drained proxy does not.
      if (!s.proc && !s.drained) start(s);
    }
  note(R"({"ev":"heal"})");
}

sim::run_result runner::run(double& wall) {
  const auto began = clk::now();
  exe_ = std::filesystem::read_symlink("/proc/self/exe").string();
  const sim::topology& t = sc_.topo;
  bus_ = std::make_unique<real_bus>(t.bus_nodes);
  // Proxy p is backbone client p, mgmt node j client proxies + j: each prefers bus node
  // (client mod bus_nodes), as the simulator attaches them (sim/faults.cpp).
  const std::string backbone = bus_->url_for(0);
  {
    std::ofstream o(dir_ + "/nats-url");  // for people and tests: which servers were ours
    o << backbone << '\n';
  }
  auto spec = [&](std::string role, std::string name) {
    real_node_spec n;
    n.scenario = file_;
    n.dir = dir_;
    n.trace = dir_ + "/" + name + ".jsonl";
    n.backbone = backbone;
    n.role = std::move(role);
    return n;
  };
  auto hash_of = [](const std::string& a) { return sim::fnv(a); };

  // A partition_proxy's proxies each run in a network namespace of their own.
  std::set<int> partitioned;
  for (const sim::fault& x : sc_.faults)
    if (x.kind == sim::fault_kind::partition_proxy)
      for (int p : targets(x, t.proxies))
        partitioned.insert(p);
  if (uses_netns(sc_)) netns_ = std::make_unique<real_netns>(dir_);
  std::vector<std::string>& urls = urls_;
  for (int p = 0; p < t.proxies; ++p) {
    slot s;
    s.name = "proxy-" + std::to_string(p + 1);
    s.spec = spec("proxy", s.name);
    s.spec.index = p;
    s.spec.backbone = bus_->url_for(p);
    s.spec.port = testkit::free_port();
    if (partitioned.contains(p)) {
      const auto& space = netns_->add("p" + std::to_string(p));
      s.space = static_cast<int>(netns_->spaces().size()) - 1;
      s.spec.listen = space.inside;
      s.spec.backbone = real_netns::inside_url(space, s.spec.backbone);
    }
    s.senders.push_back(hash_of(real_proxy_address(p)));
    urls.push_back("ws://" + s.spec.listen + ":" + std::to_string(s.spec.port) + "/");
    url_proxy_[urls.back()] = p;
    proxies_.push_back(std::move(s));
  }
  for (int j = 0; j < t.mgmt; ++j) {
    slot s;
    s.name = "mgmt-" + std::to_string(j + 1);
    s.spec = spec("mgmt", s.name);
    s.spec.index = j;
    s.spec.backbone = bus_->url_for(t.proxies + j);
    s.senders.push_back(hash_of(real_mgmt_address(j)));
    mgmts_.push_back(std::move(s));
  }
  // Hosts: those a kill_agent fault hits in a process per fault (a SIGKILL kills exactly
  // them), the rest `per_` to a process.
  host_slot_.assign(static_cast<std::size_t>(t.hosts), -1);
  std::vector<std::vector<int>> groups;
  std::set<std::size_t> churned;    // groups whose endpoints run apart
  std::set<std::size_t> half_open;  // groups in a network namespace of their own
  for (const sim::fault& x : sc_.faults) {
    if (x.kind != sim::fault_kind::kill_agent && x.kind != sim::fault_kind::endpoint_churn &&
        x.kind != sim::fault_kind::half_open)
      continue;
    std::vector<int> hit = targets(x, t.hosts);
    if (x.kind == sim::fault_kind::half_open) {
      for (int h : hit)
        if (host_slot_[static_cast<std::size_t>(h)] >= 0)
          throw std::runtime_error(file_ +
                                   ": a half_open's hosts overlap another fault's (kill_agent, "
                                   "endpoint_churn, half_open): not supported by ccp real");
      half_open.insert(groups.size());
    }
    if (x.kind == sim::fault_kind::endpoint_churn) {
      hit.clear();
      for (int h = x.target; h < std::min(t.hosts, x.target + x.count / t.endpoints_per_host); ++h)
        hit.push_back(h);
      if (!hit.empty() && host_slot_[static_cast<std::size_t>(hit.front())] >= 0)
        throw std::runtime_error(file_ +
                                 ": an endpoint_churn's hosts overlap another fault's "
                                 "(kill_agent, endpoint_churn): not supported by ccp real");
      if (!hit.empty()) churned.insert(groups.size());
    }
    std::vector<int> g;
    for (int h : hit)
      if (host_slot_[static_cast<std::size_t>(h)] < 0) {
        host_slot_[static_cast<std::size_t>(h)] = static_cast<int>(groups.size());
        g.push_back(h);
      }
    if (!g.empty()) groups.push_back(std::move(g));
  }
  std::vector<int> rest;
  for (int h = 0; h < t.hosts; ++h)
    if (host_slot_[static_cast<std::size_t>(h)] < 0) rest.push_back(h);
  for (std::size_t k = 0; k < rest.size(); k += static_cast<std::size_t>(per_)) {
    std::vector<int> g(rest.begin() + static_cast<std::ptrdiff_t>(k),
                       rest.begin() + static_cast<std::ptrdiff_t>(std::min(
                                          rest.size(), k + static_cast<std::size_t>(per_))));
    for (int h : g)
      host_slot_[static_cast<std::size_t>(h)] = static_cast<int>(groups.size());
    groups.push_back(std::move(g));
  }
  for (std::size_t k = 0; k < groups.size(); ++k) {
    const std::vector<int>& g = groups[k];
    // A process hosts a contiguous range (real-node --hosts A..B).
    for (std::size_t i = 1; i < g.size(); ++i)
      if (g[i] != g[i - 1] + 1)
        throw std::runtime_error(file_ +
                                 ": kill_agent targets that wrap around or overlap "
                                 "another kill_agent's are not supported by ccp real");
    const bool apart = churned.contains(k);
    slot s;
    s.name = "hosts-" + std::to_string(k + 1);
    s.spec = spec(apart ? "agents" : "hosts", s.name);
    s.spec.index = static_cast<int>(k);
    s.spec.first = g.front();
    s.spec.last = g.back() + 1;
    s.spec.proxy_urls = urls;
    if (apart) s.spec.host_bus = backbone;
    if (half_open.contains(k)) {
      const auto& space = netns_->add("h" + std::to_string(k));
      s.space = static_cast<int>(netns_->spaces().size()) - 1;
      s.spec.backbone = real_netns::inside_url(space, s.spec.backbone);
      s.spec.host_bus = real_netns::inside_url(space, s.spec.host_bus);
      for (std::string& u : s.spec.proxy_urls) {
        const int p = url_proxy_.at(u);
        u = real_netns::inside_url(space, u);
        url_proxy_[u] = p;
      }
    }
    slot eps;
    eps.name = "endpoints-" + std::to_string(k + 1);
    eps.spec = spec("endpoints", eps.name);
    eps.spec.index = static_cast<int>(k);
    eps.spec.first = g.front();
    eps.spec.last = g.back() + 1;
    eps.spec.host_bus = backbone;
    for (int h : g) {
      const std::string host = real_host_name(h);
      s.senders.push_back(hash_of("ccp://agent/" + host + "/agent"));
      for (int e = 0; e < t.endpoints_per_host; ++e)
        (apart ? eps : s)
            .senders.push_back(hash_of("ccp://endpoint/" + host + "/e" + std::to_string(e + 1)));
    }
    hosts_.push_back(std::move(s));
    if (apart) {
      endpoints_of_group_[static_cast<int>(k)] = endpoints_.size();
      endpoints_.push_back(std::move(eps));
    }
  }

  // Up: proxies (listening), mgmt nodes, then the hosts; bounded waits.
  for (slot& s : proxies_)
    start(s);
  for (slot& s : proxies_) {
    const auto until = clk::now() + std::chrono::seconds(20);
    while (!real_accepts(s.spec.listen, s.spec.port)) {
      if (interrupted) throw std::runtime_error("interrupted");
      if (clk::now() > until || !s.proc->running())
        throw std::runtime_error(s.name + " did not listen on " + s.spec.listen + ":" +
                                 std::to_string(s.spec.port) + " (see " + dir_ + "/" + s.name +
                                 ".log)");
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }
  for (slot& s : mgmts_)
    start(s);
  for (slot& s : hosts_)
    start(s);
  for (slot& s : endpoints_)
    start(s);
  // Every agent attached and every mgmt node's directory matching (from the "attached"
  // and "directory" lines), within a bound that grows with the fleet: the workload starts
  // on a settled fleet, as the simulator's does after its first instants.
  const auto up_until =
      clk::now() + std::chrono::seconds(20) + std::chrono::milliseconds(20) * t.hosts;
  for (;;) {
    if (interrupted) throw std::runtime_error("interrupted");
    convergence conv(t.hosts, t.mgmt, t.proxies, url_proxy_);
    auto last_of = [](const std::string& file, std::string_view ev) {
      std::ifstream in(file);
      std::string l, last;
      while (std::getline(in, l))
        if (l.find(ev) != std::string::npos) last = l;
      return last;
    };
    bool seen = true;
    for (const slot& s : hosts_) {
      const std::string l = last_of(s.spec.trace, R"("ev":"attached")");
      auto j = nlohmann::json::parse(l, nullptr, false);
      if (l.empty() || j.is_discarded()) {
        seen = false;
        continue;
      }
      conv.attached(j);
    }
    for (std::size_t m = 0; m < mgmts_.size(); ++m) {
      const std::string l = last_of(mgmts_[m].spec.trace, R"("ev":"directory")");
      auto j = nlohmann::json::parse(l, nullptr, false);
      if (l.empty() || j.is_discarded()) {
        seen = false;
        continue;
      }
      conv.directory(m, j);
    }
    if (seen && conv.converged()) break;
    for (auto* group : {&proxies_, &mgmts_, &hosts_, &endpoints_})
      for (slot& s : *group)
        if (!s.proc->running())
          throw std::runtime_error(s.name + " exited while the fleet started (see " + dir_ + "/" +
                                   s.name + ".log)");
    if (clk::now() > up_until)
      throw std::runtime_error(
          "the fleet did not settle in time: agents not all attached or "
          "directories not matching them (see " +
          dir_ + ")");
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  // Run time 0, a moment from now: the processes start their workload on it.
  origin_ = std::chrono::duration_cast<std::chrono::microseconds>(
                (clk::now() + std::chrono::milliseconds(300)).time_since_epoch())
                .count();
  {
    std::ofstream o(dir_ + "/origin.tmp");
    o << origin_ << '\n';
  }
  std::filesystem::rename(dir_ + "/origin.tmp", dir_ + "/origin");

  // The timeline: each fault at its time, a lasting one's end at its own, until the heal.
  struct step {
    micros t;
    std::size_t fault;
    bool end;
  };
  std::vector<step> steps;
  for (std::size_t f = 0; f < sc_.faults.size(); ++f) {
    const sim::fault& x = sc_.faults[f];
    steps.push_back({x.at, f, false});
    const bool lasting =
        x.kind == sim::fault_kind::stall_proxy || x.kind == sim::fault_kind::bus_outage ||
        x.kind == sim::fault_kind::kill_agent || x.kind == sim::fault_kind::endpoint_churn ||
        (x.kind == sim::fault_kind::kill_bus_node && x.duration > 0) ||  // 0: until the heal
        x.kind == sim::fault_kind::partition_proxy;
    if (lasting && x.at + x.duration < sc_.duration) steps.push_back({x.at + x.duration, f, true});
  }
  std::stable_sort(steps.begin(), steps.end(),
                   [](const step& a, const step& b) { return a.t < b.t; });
  for (const step& s : steps) {
    if (!sleep_until(s.t)) throw std::runtime_error("interrupted");
    const sim::fault& x = sc_.faults[s.fault];
    note(std::string(R"({"ev":")") + (s.end ? "fault_end" : "fault") + R"(","kind":")" +
         std::string(sim::to_string(x.kind)) + R"(","target":)" + std::to_string(x.target) + "}");
    act(x, s.end);
  }
  if (!sleep_until(sc_.duration)) throw std::runtime_error("interrupted");
  heal();
  if (!sleep_until(sc_.duration + sc_.liveness)) throw std::runtime_error("interrupted");

  // Down: every process by its PID (their trace lines are written unbuffered already).
  for (auto* group : {&hosts_, &endpoints_, &mgmts_, &proxies_})
    for (slot& s : *group)
      if (s.proc) {
        s.proc->kill();
        s.proc.reset();
      }
  bus_.reset();
  wall = std::chrono::duration<double>(clk::now() - began).count();
  return judge();
}

sim::run_result runner::judge() {
  // Every file's lines, on the run's clock, merged in time order (a file's own order kept
  // for equal times).
  std::vector<std::string> files;
  for (auto* group : {&mgmts_, &proxies_, &hosts_, &endpoints_})
    for (const slot& s : *group)
      files.push_back(s.spec.trace);
  std::vector<line> lines;
  std::uint64_t seq = 0;
  std::size_t unreadable = 0;
  for (std::size_t f = 0; f < files.size(); ++f) {
    std::ifstream in(files[f]);
    std::string l;
    while (std::getline(in, l)) {
      auto j = nlohmann::json::parse(l, nullptr, false);
      if (j.is_discarded() || !j.contains("t")) {
        ++unreadable;
        continue;
      }
      const micros t = j["t"].get<micros>() - origin_;
      lines.push_back({t, f, seq++, std::move(j)});
    }
  }
  const std::size_t runner_source = files.size();
  for (line& l : runner_lines_) {
    l.source = runner_source;
    l.seq = seq++;
    lines.push_back(std::move(l));
  }
  std::stable_sort(lines.begin(), lines.end(), [](const line& a, const line& b) {
    return a.t < b.t || (a.t == b.t && a.seq < b.seq);
  });

  sim::checker c(sc_);
  sim::run_result& r = c.result();
  r.seed = sc_.seed;
  r.processes = static_cast<std::size_t>(sc_.topo.mgmt + sc_.topo.proxies +
                                         sc_.topo.hosts * (1 + sc_.topo.endpoints_per_host));
  sim::trace_sink hash;
  std::map<std::uint64_t, std::vector<std::uint64_t>> open;  // sender hash -> request keys
  std::map<std::size_t, int> attached;                       // file -> agents attached
  std::map<std::string, std::size_t> file_of;                // slot name -> file
  for (std::size_t f = 0; f < files.size(); ++f)
    file_of[std::filesystem::path(files[f]).stem().string()] = f;
  std::map<std::string, const slot*> slot_named;
  for (auto* group : {&mgmts_, &proxies_, &hosts_, &endpoints_})
    for (const slot& s : *group)
      slot_named[s.name] = &s;
  int sum = 0;
  convergence conv(sc_.topo.hosts, sc_.topo.mgmt, sc_.topo.proxies, url_proxy_);
  bool converged = false;
  const micros liveness = sc_.duration;
  micros unattached_since = -1;
  auto addr = [](const nlohmann::json& j, const char* key) {
    auto a = core::address::parse(j.value(key, std::string()));
    if (!a) throw std::runtime_error("trace: bad address in " + j.dump());
    return *a;
  };
  // The merged trace, on the run's clock, for `ccp timeline` (README.md).
  std::ofstream merged(dir_ + "/trace.jsonl");
  for (line& l : lines) {
    const nlohmann::json& j = l.j;
    const std::string ev = j.value("ev", std::string());
    nlohmann::json shown = j;
    shown["t"] = l.t;
    const std::string text = shown.dump();
    hash.line(text);
    merged << text << '\n';
    ++r.events;
    try {
      if (ev == "send") {
        const std::string at = j.value("at", std::string());
        const std::uint64_t key =
            sim::checker::request_key(sim::fnv(at), j["id"].get<std::uint64_t>());
        c.sent(key, addr(j, "to").form(), l.t);
        open[sim::fnv(at)].push_back(key);
      } else if (ev == "notify") {
        ++r.notifications;
      } else if (ev == "deliver") {
        core::message m;
        m.to = addr(j, "to");
        m.from = addr(j, "from");
        m.id = j["id"].get<std::uint64_t>();
        auto kind = enum_named<core::msg_kind>(j.value("kind", std::string()), 16);
        if (!kind) throw std::runtime_error("trace: bad kind in " + j.dump());
        m.kind = *kind;
        const std::string at = j.value("at", std::string());
        c.delivered(addr(j, "at"), sim::fnv(at), m, sim::fnv(j.value("from", std::string())), l.t);
      } else if (ev == "complete") {
        core::act::complete done{j["id"].get<std::uint64_t>(), {}, {}};
        auto code = errc_named(j.value("code", std::string()));
        if (!code) throw std::runtime_error("trace: bad code in " + j.dump());
        done.code = *code;
        for (const auto& rep : j["replies"]) {
          core::message m;
          auto a = core::address::parse(rep[0].get<std::string>());
          auto k = enum_named<core::msg_kind>(rep[1].get<std::string>(), 16);
          if (!a || !k) throw std::runtime_error("trace: bad reply in " + j.dump());
          m.from = *a;
          m.kind = *k;
          done.replies.push_back(std::move(m));
        }
        if (j.contains("members"))
          for (const auto& mem : j["members"]) {
            core::act::member_result mr;
            auto a = core::address::parse(mem[0].get<std::string>());
            auto k = enum_named<core::act::member_result::answer>(mem[1].get<std::string>(), 4);
            if (!a || !k) throw std::runtime_error("trace: bad member in " + j.dump());
            mr.member = *a;
            mr.result = *k;
            done.members.push_back(std::move(mr));
          }
        const std::string at = j.value("at", std::string());
        // A proxy that bounced an `any` is not judged here (swallowed_any needs the proxies'
        // tables; see the note the runner prints).
        (void)c.completed(addr(j, "at"), sim::checker::request_key(sim::fnv(at), done.request),
                          done, l.t);
      } else if (ev == "attached") {
        sum += j.value("n", 0) - attached[l.source];
        attached[l.source] = j.value("n", 0);
        conv.attached(j);
        converged = conv.converged();
      } else if (ev == "directory") {
        if (l.source >= mgmts_.size())
          throw std::runtime_error("trace: a directory line of a non-mgmt");
        conv.directory(l.source, j);
        converged = conv.converged();
      } else if (ev == "killed") {
        const slot* s = slot_named.at(j.value("proc", std::string()));
        for (std::uint64_t sender : s->senders) {
          for (std::uint64_t key : open[sender])
            c.abandon(key);
          open.erase(sender);
        }
        if (auto f = file_of.find(s->name); f != file_of.end()) {
          sum -= attached[f->second];
          attached[f->second] = 0;
        }
        if (s->spec.role == "hosts") conv.agents_gone(s->spec.first, s->spec.last);
        if (s->spec.role == "mgmt") conv.mgmt_gone(static_cast<std::size_t>(s->spec.index));
        converged = conv.converged();
      }
    } catch (const nlohmann::json::exception& e) {
      throw std::runtime_error("trace: unreadable line " + j.dump() + ": " + e.what());
    }
    // As the simulator samples it: from run time 0 (every agent attached then) to the heal.
    if (l.t >= 0 && l.t < liveness) {
      if (sum == sc_.topo.hosts && unattached_since >= 0) {
        r.unattached_max = std::max(r.unattached_max, l.t - unattached_since);
        unattached_since = -1;
      } else if (sum != sc_.topo.hosts && unattached_since < 0) {
        unattached_since = l.t;
      }
    }
    // The per-fault figures (checker::observe); only mgmt nodes trace their directories.
    if (l.t >= 0) c.observe(l.t, sum == sc_.topo.hosts, converged);
  }
  r.trace_hash = hash.hash();
  if (unreadable > 0)
    r.failures.push_back(std::to_string(unreadable) + " trace lines could not be read");
  c.judge(sc_.duration + sc_.liveness);
  if (unreadable > 0) r.pass = false;
  return r;
}

}  // namespace

const command_spec& real_spec() {
  return real_command;
}

int real_main(std::span<const std::string_view> args, std::ostream& out, std::ostream& err) {
  auto o = options::parse(args, real_command);
  if (!o)
    return err << "ccp real: " << o.error() << "\nusage: " << usage_line(real_command)
               << "\nRun 'ccp help real' for its options.\n",
           2;
  if (o->help()) return out << options_help(real_command), 0;
  int per = 250;
  if (o->get("hosts-per-process")) {
    try {
      per = std::stoi(o->value("hosts-per-process"));
    } catch (const std::exception&) {
      per = 0;
    }
    if (per < 1 || per > 100000)
      return err << "ccp real: "
                 << o->bad("hosts-per-process", "expected a whole number from 1 to 100000") << '\n',
             2;
  }
  const bool compare = o->get("compare").has_value();
  // Every file is read, checked and judged runnable before anything runs.
  std::vector<std::pair<std::string, sim::scenario>> runs;
  for (const auto& f : o->positional()) {
    auto sc = sim::load_scenario(f);
    if (!sc) return err << "ccp real: " << sc.error() << "\n", 2;
    if (auto why = refusal(f, *sc); !why.empty()) return err << "ccp real: " << why << "\n", 2;
    runs.emplace_back(f, std::move(*sc));
  }

  struct sigaction sa {};
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  struct sigaction old_int {
  }, old_term{};
  ::sigaction(SIGINT, &sa, &old_int);
  ::sigaction(SIGTERM, &sa, &old_term);
  struct restore {
    struct sigaction i, t;
    ~restore() {
      ::sigaction(SIGINT, &i, nullptr);
      ::sigaction(SIGTERM, &t, nullptr);
    }
  } restore_signals{old_int, old_term};
  interrupted = 0;

  // Namespaces that a run which is gone (SIGKILLed) left: removed, and said.
  for (const auto& [file, sc] : runs)
    if (uses_netns(sc)) {
      for (const std::string& gone : real_netns::clean_stale())
        err << "ccp real: removed " << gone << " of a run that is gone\n";
      break;
    }

  std::size_t passed = 0, failed = 0, errors = 0;
  for (const auto& [file, sc] : runs) {
    std::string dir = o->value("dir");
    if (dir.empty()) {
      std::string tmpl = "/tmp/ccp-real-XXXXXX";
      if (!::mkdtemp(tmpl.data())) return err << "ccp real: cannot create a run folder\n", 2;
      dir = tmpl;
    } else {
      dir += "/" + sc.name;
      std::error_code ec;
      std::filesystem::remove_all(dir, ec);
      std::filesystem::create_directories(dir, ec);
      if (ec) return err << "ccp real: cannot create " << dir << ": " << ec.message() << "\n", 2;
    }
    sim::run_result r;
    double wall = 0;
    try {
      runner run(file, sc, dir, per);
      r = run.run(wall);
    } catch (const std::exception& e) {
      ++errors;
      out << "ERROR " << sc.name << ": " << e.what() << " (traces and logs in " << dir << ")\n";
      if (interrupted) break;
      continue;
    }
    out << (compare ? "real " : "") << summary(sc, r, wall, millis(r.converge_time)) << '\n';
    if (!r.pass)
      for (const auto& f : r.failures)
        out << "    " << f << '\n';
    out << "    traces and logs: " << dir
        << "; not judged in real: double_ownership and swallowed_any (need the proxies' "
           "tables), unbounded_queue\n";
    if (compare) {
      const auto start = clk::now();
      sim::run_result s = sim::run_scenario(sc, sc.seed);
      const double swall = std::chrono::duration<double>(clk::now() - start).count();
      out << "sim  " << summary(sc, s, swall, millis(s.converge_time)) << '\n';
      auto ratio = [](std::uint64_t part, std::uint64_t whole) {
        return whole ? double(part) / double(whole) : 0.0;
      };
      auto finding = [&](const char* what, double sim_v, double real_v) {
        if (std::abs(sim_v - real_v) <= ratio_tolerance) return;
        char buf[160];
        std::snprintf(buf, sizeof buf,
                      "fidelity finding: %s %s sim=%.4f real=%.4f (tolerance %.2f)",
                      sc.name.c_str(), what, sim_v, real_v, ratio_tolerance);
        out << buf << '\n';
      };
      finding("ok ratio", ratio(s.ok, s.requests), ratio(r.ok, r.requests));
      finding("timeout ratio", ratio(s.timeouts, s.requests), ratio(r.timeouts, r.requests));
      finding("unreachable ratio", ratio(s.unreachable, s.requests),
              ratio(r.unreachable, r.requests));
      finding("partial ratio", ratio(s.partial, s.requests), ratio(r.partial, r.requests));
      if ((s.reattach_time < 0) != (r.reattach_time < 0) ||
          std::abs(s.reattach_time - r.reattach_time) > reattach_tolerance)
        out << "fidelity finding: " << sc.name << " reattach sim=" << millis(s.reattach_time)
            << " real=" << millis(r.reattach_time) << " (tolerance " << reattach_tolerance / ms
            << "ms)\n";
      if ((s.converge_time < 0) != (r.converge_time < 0) ||
          std::abs(s.converge_time - r.converge_time) > reattach_tolerance)
        out << "fidelity finding: " << sc.name << " converge sim=" << millis(s.converge_time)
            << " real=" << millis(r.converge_time) << " (tolerance " << reattach_tolerance / ms
            << "ms)\n";
      if ((s.unattached_max < 0) != (r.unattached_max < 0) ||
          std::abs(s.unattached_max - r.unattached_max) > reattach_tolerance)
        out << "fidelity finding: " << sc.name << " unattached_max sim=" << millis(s.unattached_max)
            << " real=" << millis(r.unattached_max) << " (tolerance " << reattach_tolerance / ms
            << "ms)\n";
      if (s.pass != r.pass)
        out << "fidelity finding: " << sc.name << " sim " << (s.pass ? "passes" : "fails")
            << ", real " << (r.pass ? "passes" : "fails") << '\n';
    }
    if (r.pass)
      ++passed;
    else
      ++failed;
  }
  if (interrupted) {
    out << "real: interrupted; every process it started is stopped\n";
    return 2;
  }
  out << "real: " << passed << " passed, " << failed << " failed";
  if (errors > 0) out << ", " << errors << " could not run";
  out << '\n';
  return errors > 0 ? 2 : failed == 0 ? 0 : 1;
}

}  // namespace ccp::app
