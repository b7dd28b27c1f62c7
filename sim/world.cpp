// The simulated fleet's topology and its event loop: who runs where, what each event does,
// the workload, and the phases of a run.
#include "sim/world.hpp"

#include "core/subject.hpp"

#include <algorithm>
#include <cstdio>
#include <stdexcept>
#include <type_traits>

namespace ccp::sim {
namespace {

using namespace ccp::core;

std::string host_name(int i) {
  unsigned n = static_cast<unsigned>(i) + 1;
  return "10." + std::to_string((n >> 16) & 255) + "." + std::to_string((n >> 8) & 255) + "." +
         std::to_string(n & 255);
}

address must(std::expected<address, parse_error> a) {
  if (!a) throw std::logic_error("simulator built a bad address: " + a.error().message());
  return *a;
}

}  // namespace

world::world(const scenario& sc, std::uint64_t seed, trace_sink& trace)
    : sc_(sc), seed_(seed), trace_(trace), rng_(seed), checker_(sc_) {
  if (sc_.sabotage == "fencing_off") sabotage_.fencing_off = true;
  if (sc_.sabotage == "empty_proxy_takes_any") sabotage_.empty_proxy_takes_any = true;
  if (sc_.sabotage == "duplicate_delivery") sabotage_.duplicate_delivery = true;
  if (sc_.sabotage == "misroute") sabotage_.misroute = true;
  if (sc_.sabotage == "double_complete") sabotage_.double_complete = true;
  if (sc_.sabotage == "no_link_bound") sabotage_.no_link_bound = true;
  if (sc_.sabotage == "lax_groups") sabotage_.lax_groups = true;
  if (sc_.sabotage == "no_rebalance") sabotage_.no_rebalance = true;
  if (sc_.sabotage == "any_over_proxies") sabotage_.any_over_proxies = true;
  result_.seed = seed;
  build();
}

world::~world() = default;

template <class Role>
std::uint32_t world::add_node(std::unique_ptr<Role> n, int host, int index) {
  n->set_sabotage(sabotage_, core::sabotage_key{});
  const auto i = static_cast<std::uint32_t>(nodes_.size());
  Role* typed = n.get();
  if constexpr (std::is_same_v<Role, core::endpoint>) sample_.serve_on(*n);
  sim_node& s = nodes_.emplace_back(*this, i, std::move(n));
  if constexpr (std::is_same_v<Role, core::mgmt>) {
    s.mgmt = typed;
    s.r = role::mgmt;
  } else if constexpr (std::is_same_v<Role, core::proxy>) {
    s.proxy = typed;
    s.r = role::proxy;
    s.own_subject = std::string(core::backbone_subject_text(typed->self().view()).view());
  } else if constexpr (std::is_same_v<Role, core::agent>) {
    s.agent = typed;
    s.r = role::agent;
  } else {
    static_assert(std::is_same_v<Role, core::endpoint>);
    s.r = role::endpoint;
  }
  s.host = host;
  s.index = index;
  return i;
}

// faults.cpp restarts processes too.
template std::uint32_t world::add_node(std::unique_ptr<core::mgmt>, int, int);
template std::uint32_t world::add_node(std::unique_ptr<core::proxy>, int, int);
template std::uint32_t world::add_node(std::unique_ptr<core::agent>, int, int);
template std::uint32_t world::add_node(std::unique_ptr<core::endpoint>, int, int);

void world::start_node(std::uint32_t i) {
  nodes_[i].kernel().handle(in::start{}, now_);
}

void world::build() {
  const topology& t = sc_.topo;
  for (int i = 0; i < t.hosts; ++i)
    host_names_.push_back(host_name(i));
  host_bus_.resize(static_cast<std::size_t>(t.hosts));
  for (int j = 0; j < t.mgmt; ++j) {
    auto self = must(address::one(role::mgmt, "mgmt-" + std::to_string(j + 1) + ".sim",
                                  "m" + std::to_string(j + 1)));
    mgmts_.push_back(add_node(std::make_unique<core::mgmt>(self, rng_.next()), -1, j));
  }
  for (int p = 0; p < t.proxies; ++p) {
    std::string host = "10.200." + std::to_string(p / 250) + "." + std::to_string(p % 250 + 1);
    std::string id = "p" + std::to_string(p + 1);
    proxy_names_.push_back(host + "/" + id);
    proxy_by_name_[proxy_names_.back()] = p;
    auto self = must(address::one(role::proxy, host, id));
    proxies_.push_back(add_node(std::make_unique<core::proxy>(self, rng_.next(), verifier_), p, p));
  }
  proxy_held_ever_.assign(static_cast<std::size_t>(t.proxies), false);
  endpoints_.resize(static_cast<std::size_t>(t.hosts));
  for (int h = 0; h < t.hosts; ++h) {
    agents_.push_back(0);
    agent_starts_.push_back(0);
    restart_host_agent(h);
    for (int k = 0; k < t.endpoints_per_host; ++k) {
      // Appended rather than "e" + to_string(): GCC 12 warns falsely (-Wrestrict) about
      // operator+(const char*, string&&) once this loop is inlined.
      std::string id = "e";
      id += std::to_string(k + 1);
      auto self = must(address::one(role::endpoint, host_names_[static_cast<std::size_t>(h)], id));
      endpoints_[static_cast<std::size_t>(h)].push_back(
          add_node(std::make_unique<core::endpoint>(self, rng_.next()), h, k));
    }
  }
  for (std::uint32_t i = 0; i < nodes_.size(); ++i)
    if (nodes_[i].r != role::agent) start_node(i);
  for (std::uint32_t a : agents_)
    start_node(a);
  result_.processes = nodes_.size();
  proxy_load_.resize(static_cast<std::size_t>(t.proxies));
}

void world::restart_host_agent(int h) {
  agent_config cfg;
  cfg.self = must(address::one(role::agent, host_names_[static_cast<std::size_t>(h)], "agent"));
  std::size_t p = proxy_names_.size();
  for (std::size_t k = 0; k < p; ++k) {
    std::size_t first = sc_.topo.proxy_order == "rotate" ? static_cast<std::size_t>(h) % p : 0;
    cfg.proxies.push_back(proxy_names_[(first + k) % p]);
  }
  cfg.shuffle = sc_.topo.proxy_order == "shuffle";
  cfg.token = "sim-secret";
  // A restarted agent starts above every epoch of its previous lives.
  int restarts = agent_starts_[static_cast<std::size_t>(h)]++;
  cfg.epoch_base = static_cast<std::uint64_t>(restarts) << 32;
  cfg.seed = rng_.next();
  std::uint32_t i = add_node(std::make_unique<core::agent>(std::move(cfg)), h, h);
  agents_[static_cast<std::size_t>(h)] = i;
}

void world::push(micros t, ev kind, std::uint32_t node, std::uint64_t which, frame_buf f) {
  queue_.push(t, event{t, kind, false, node, which, std::move(f)});
}

void world::run_actions(std::uint32_t i) {
  nodes_[i].kernel().run_actions(now_);
}
bool world::step() {
  if (queue_.empty() || livelocked_) return false;
  event e = queue_.pop();
  if (e.t != now_) {
    events_this_instant_ = 0;
  } else if (++events_this_instant_ > max_events_per_instant) [[unlikely]] {
    // Virtual time stands still: something answers every event with another at the same
    // instant (a role whose next wake is always `now` spins its host at 100% CPU).
    livelocked_ = true;
    violation("livelock", std::to_string(max_events_per_instant) + " events at one instant, " +
                              "the last for " + nodes_[e.node].role().self().str());
    return false;
  }
  now_ = e.t;
  ++events_;
  fire(e);
  if (trace_.writing()) [[unlikely]]
    trace_attachment(e.node);
  return true;
}

void world::fire(event& e) {
  switch (e.kind) {
    case ev::work:
      work(e.which);
      return;
    case ev::fault:
      start_fault(e.which);
      return;
    case ev::fault_end:
      end_fault(e.which);
      return;
    case ev::sample:
      sample();
      push(now_ + 100 * ms, ev::sample, 0);
      return;
    case ev::restart: {
      const sim_node& s = nodes_[e.node];
      const int host = s.host, index = s.index;
      if (s.r == role::agent) {
        if (s.alive || agents_[static_cast<std::size_t>(host)] != e.node) return;
        restart_host_agent(host);
        start_node(agents_[static_cast<std::size_t>(host)]);
      } else if (s.r == role::endpoint && !s.alive) {
        auto self = s.role().self();
        std::uint32_t i =
            add_node(std::make_unique<core::endpoint>(self, rng_.next()), host, index);
        endpoints_[static_cast<std::size_t>(host)][static_cast<std::size_t>(index)] = i;
        start_node(i);
      }
      return;
    }
    default:
      break;
  }
  sim_node& s = nodes_[e.node];
  if (!s.alive) return;
  if (s.stalled_until != 0) [[unlikely]] {  // stalled: held back until it resumes
    deferred_[e.node].push_back(std::move(e));
    return;
  }
  if (sc_.topo.cost.on) {
    if (e.charged)
      --s.waiting;  // its turn, reserved when it arrived
    else if (wait_turn(s, e))
      return;
  }
  host::kernel& k = s.kernel();
  switch (e.kind) {
    case ev::bus:
      k.handle(in::bus_frame{e.which != 0 ? std::string_view(s.own_subject) : std::string_view{},
                             std::move(e.frame)},
               now_);
      return;
    case ev::link_frame:
      k.handle(in::link_frame{e.which, std::move(e.frame)}, now_);
      return;
    case ev::link_up:
      if (trace_.writing()) [[unlikely]]
        trace_link(e.node, "link_up", e.which, {});
      k.handle(in::link_up{e.which}, now_);
      return;
    case ev::link_down:
      if (trace_.writing()) [[unlikely]]
        trace_link(e.node, "link_down", e.which, {});
      k.handle(in::link_down{e.which}, now_);
      return;
    case ev::flushed: {  // `which` is the simulated link's index here
      link& l = links_[e.which];
      if (s.r == role::proxy) {
        --l.unwritten_by_proxy;
        if (const std::size_t report = l.written_by_proxy.add(1))
          k.handle(in::link_flushed{l.proxy_id, report}, now_);
      } else if (const std::size_t report = l.written_by_agent.add(1)) {
        k.handle(in::link_flushed{l.agent_id, report}, now_);
      }
      return;
    }
    case ev::tick:
      k.wake(e.which, now_);
      return;
    default:
      return;
  }
}

bool world::wait_turn(sim_node& s, event& e) {
  work_kind what = work_kind::other;
  std::string_view frame;
  switch (e.kind) {
    case ev::bus:
      what = work_kind::bus_frame;
      break;
    case ev::link_frame:
      what = work_kind::link_frame;
      break;
    case ev::link_up:
      what = work_kind::link_up;
      break;
    default:
      break;
  }
  if (e.frame) frame = *e.frame;
  const std::int64_t cost = event_cost(sc_.topo.cost, s.r, what, frame);
  const std::int64_t now_ns = now_ * 1000;
  load_meter* meter = s.r == role::proxy ? &proxy_load_[static_cast<std::size_t>(s.host)] : nullptr;
  if (s.waiting == 0 && s.busy_until_ns <= now_ns) {  // free: handled at once
    s.busy_until_ns = now_ns + cost;
    if (meter && cost > 0) meter->busy(now_ns, cost, 0);
    return false;
  }
  // Busy: its turn comes once everything before it is done, at a whole microsecond (the
  // clock's unit), behind every event already waiting (the queue keeps push order).
  const micros turn = (std::max(s.busy_until_ns, now_ns) + 999) / 1000;
  const std::int64_t start_ns = turn * 1000;
  s.busy_until_ns = start_ns + cost;
  if (meter) meter->busy(start_ns, cost, start_ns - now_ns);
  ++s.waiting;
  e.charged = true;
  e.t = turn;
  queue_.push(turn, std::move(e));
  return true;
}

void world::work(std::size_t item) {
  const workload_item& w = sc_.workload[item];
  micros stop = w.stop < 0 ? sc_.duration : std::min(w.stop, sc_.duration);
  if (!injecting_ || now_ >= stop) return;
  push(now_ + w.every, ev::work, 0, item);

  std::uint32_t from = 0;
  if (w.from == "mgmt") {
    from = mgmts_[rng_.below(mgmts_.size())];
  } else if (w.from == "proxy") {
    from = proxies_[rng_.below(proxies_.size())];
  } else if (sc_.topo.hosts == 0) {
    return;
  } else {
    std::size_t h = rng_.below(static_cast<std::uint64_t>(sc_.topo.hosts));
    if (w.from == "agent") {
      from = agents_[h];
    } else {
      if (endpoints_[h].empty()) return;
      from = endpoints_[h][rng_.below(endpoints_[h].size())];
    }
  }
  if (!nodes_[from].alive) return;
  // Every placeholder is replaced, a repeated one by the same value (the reader checked
  // the pattern with each of them replaced).
  std::string to = w.to;
  auto replace_all = [&to](std::string_view key, const std::string& value) {
    for (auto p = to.find(key); p != std::string::npos; p = to.find(key, p + value.size()))
      to.replace(p, key.size(), value);
  };
  if (to.find("{host}") != std::string::npos && sc_.topo.hosts > 0)
    replace_all("{host}", host_names_[rng_.below(static_cast<std::uint64_t>(sc_.topo.hosts))]);
  if (to.find("{ep}") != std::string::npos)
    replace_all("{ep}", "e" + std::to_string(1 + rng_.below(static_cast<std::uint64_t>(
                                                     std::max(1, sc_.topo.endpoints_per_host)))));
  auto addr = address::parse(to);
  if (!addr) return;  // the scenario parser checked the pattern
  core::node* n = &nodes_[from].role();
  if (w.request) {
    auto id = n->request(*addr, w.type, "{}", w.timeout, now_);
    if (id) {
      const std::uint64_t key = request_key(from, *id);
      checker_.sent(key, addr->form(), now_);
      if (addr->form() == scope::any || addr->form() == scope::host_any) any_to_[key] = *addr;
      if (trace_.writing()) [[unlikely]]
        trace_send(from, *id, *addr);
    }
  } else if (n->send(*addr, w.type, "{}", now_)) {
    ++result_.notifications;
    if (trace_.writing()) [[unlikely]]
      trace_notify(from, *addr);
  }
  run_actions(from);
}
void world::run_until(micros t) {
  while (!livelocked_ && !queue_.empty() && queue_.top_time() <= t)
    step();
  now_ = std::max(now_, t);
}

run_result world::run() {
  for (std::size_t w = 0; w < sc_.workload.size(); ++w)
    push(sc_.workload[w].start, ev::work, 0, w);
  for (std::size_t f = 0; f < sc_.faults.size(); ++f)
    push(sc_.faults[f].at, ev::fault, 0, f);
  push(0, ev::sample, 0);
  figures_from_ = sc_.duration;
  for (const fault& x : sc_.faults)
    figures_from_ = std::min(figures_from_, x.at);
  run_until(sc_.duration);
  heal();
  run_until(sc_.duration + sc_.liveness);
  result_.simulated = now_;
  result_.events = events_;
  result_.trace_hash = trace_.hash();
  if (sc_.topo.cost.on)
    for (const load_meter& m : proxy_load_)
      result_.proxy_loads.push_back({m.peak_fraction(), m.wait_max_ns() / 1000});

  check_balance();
  check_any_share();
  checker_.judge(now_);
  return result_;
}

run_result run_scenario(const scenario& sc, std::uint64_t seed, const std::string& trace_path) {
  std::FILE* out = nullptr;
  if (!trace_path.empty()) {
    out = std::fopen(trace_path.c_str(), "w");
    if (!out) throw std::runtime_error("cannot write trace file " + trace_path);
  }
  trace_sink trace(out);
  run_result r;
  {
    world w(sc, seed, trace);
    r = w.run();
  }
  if (out) std::fclose(out);
  return r;
}

}  // namespace ccp::sim
