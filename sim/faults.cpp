// Faults: the scenario's timeline acting on processes, links and buses, and the heal that
// ends them all before the liveness phase.
#include <algorithm>
#include <limits>

#include "sim/world.hpp"

namespace ccp::sim {

using namespace ccp::core;

void world::kill(std::uint32_t i) {
  if (!nodes_[i].alive) return;
  // The kernel resets the process's connections: the peers see them close.
  for (link& l : links_) {
    if (l.proxy == i && l.proxy_open) close_link(i, l.proxy_id);
    if (l.agent == i && l.agent_open) close_link(i, l.agent_id);
  }
  nodes_[i].alive = false;
  nodes_[i].stalled_until = 0;
  if (trace_.writing()) [[unlikely]]
    trace_attachment(i);
  deferred_.erase(i);  // a dead process handles nothing it held back
  unsubscribe_all(i);
  // Its requests in flight die with it: abandoned, an outcome of their own (no reply can
  // reach their sender now), never a violation. The role lists them; nothing it says
  // reaches the network.
  core::node& dead = nodes_[i].role();
  dead.actions().clear();
  dead.abort_pending(errc::shutting_down);
  for (const action& a : dead.actions()) {
    const auto* c = std::get_if<act::complete>(&a);
    if (!c) continue;
    checker_.abandon(request_key(i, c->request));
  }
  dead.actions().clear();
}

void world::restart_proxy(int p) {
  std::uint32_t old = proxies_[static_cast<std::size_t>(p)];
  kill(old);
  auto self = nodes_[old].role().self();
  proxies_[static_cast<std::size_t>(p)] =
      add_node(std::make_unique<core::proxy>(self, rng_.next(), verifier_), p, p);
  proxy_held_ever_[static_cast<std::size_t>(p)] = false;
  bus_attach(static_cast<std::size_t>(p));
  start_node(proxies_[static_cast<std::size_t>(p)]);
}

// Bus nodes. libnats (net/nats_bus.cpp) is given every node, its own first, in ring order,
// and tries them in that order: a client whose node dies is on the next live one after
// bus_failover; with none live, it is back bus_reconnect after one returns.
namespace {
constexpr micros forever = std::numeric_limits<micros>::max();
}

void world::bus_attach(std::size_t slot) {
  if (bus_cut_until_.empty()) return;
  const int n = sc_.topo.bus_nodes;
  const int first = static_cast<int>(slot % static_cast<std::size_t>(n));
  for (int k = 0; k < n; ++k)
    if (bus_node_kills_[static_cast<std::size_t>((first + k) % n)] == 0) {
      bus_node_of_[slot] = (first + k) % n;
      bus_cut_until_[slot] = 0;  // a process that starts connects at once
      return;
    }
  bus_cut_until_[slot] = forever;
}

void world::bus_node_down(int b) {
  const int n = sc_.topo.bus_nodes;
  if (bus_cut_until_.empty()) {
    const std::size_t slots = proxies_.size() + mgmts_.size();
    bus_node_kills_.assign(static_cast<std::size_t>(n), 0);
    bus_cut_until_.assign(slots, 0);
    for (std::size_t k = 0; k < slots; ++k)
      bus_node_of_.push_back(static_cast<int>(k % static_cast<std::size_t>(n)));
  }
  if (bus_node_kills_[static_cast<std::size_t>(b)]++ > 0) return;
  for (std::size_t k = 0; k < bus_node_of_.size(); ++k) {
    if (bus_node_of_[k] != b || bus_cut_until_[k] == forever) continue;
    bus_cut_until_[k] = forever;
    for (int step = 1; step < n; ++step)
      if (int c = (b + step) % n; bus_node_kills_[static_cast<std::size_t>(c)] == 0) {
        bus_node_of_[k] = c;
        bus_cut_until_[k] = now_ + sc_.topo.bus_failover;
        break;
      }
  }
}

void world::bus_node_up(int b) {
  if (bus_cut_until_.empty() || bus_node_kills_[static_cast<std::size_t>(b)] == 0) return;
  if (--bus_node_kills_[static_cast<std::size_t>(b)] > 0) return;
  for (std::size_t k = 0; k < bus_node_of_.size(); ++k)
    if (bus_cut_until_[k] == forever) {
      bus_node_of_[k] = b;
      bus_cut_until_[k] = now_ + sc_.topo.bus_reconnect;
    }
}
// {"t":..,"ev":WHAT,"kind":..,"target":..}: a fault starts or ends.
void world::trace_fault(std::string_view what, const fault& x) {
  std::string& l = trace_start(what);
  l += R"(,"kind":")";
  l += to_string(x.kind);
  l += R"(","target":)";
  append_number(l, x.target);
  l += '}';
  trace_.line(l);
}

void world::start_fault(std::size_t f) {
  if (!injecting_) return;
  const fault& x = sc_.faults[f];
  trace_fault("fault", x);
  auto proxies_hit = [&] { return targets(x, static_cast<int>(proxies_.size())); };
  auto hosts_hit = [&] { return targets(x, sc_.topo.hosts); };
  switch (x.kind) {
    case fault_kind::kill_mgmt:
      kill(mgmts_[static_cast<std::size_t>(x.target)]);
      break;
    case fault_kind::kill_proxy:
      for (int p : proxies_hit())
        kill(proxies_[static_cast<std::size_t>(p)]);
      break;
    case fault_kind::restart_proxy:
      for (int p : proxies_hit())
        restart_proxy(p);
      break;
    case fault_kind::drain_proxy:
      for (int p : proxies_hit()) {
        std::uint32_t i = proxies_[static_cast<std::size_t>(p)];
        if (!nodes_[i].alive) continue;
        nodes_[i].kernel().handle(in::stop{}, now_);  // a proxy's graceful stop is its drain
      }
      break;
    case fault_kind::kill_agent:
      for (int h : hosts_hit()) {
        std::uint32_t i = agents_[static_cast<std::size_t>(h)];
        kill(i);
        push(now_ + x.duration, ev::restart, i);
      }
      break;
    case fault_kind::half_open:
      for (int h : hosts_hit()) {
        std::uint32_t a = agents_[static_cast<std::size_t>(h)];
        for (link& l : links_) {
          if (l.agent != a || !l.agent_open) continue;
          l.agent_open = false;  // the proxy's side stays up and writes into the void
          push(now_, ev::link_down, a, l.agent_id);
        }
      }
      break;
    case fault_kind::partition_proxy:
      for (int p : proxies_hit())
        ++partitioned_[p];
      break;
    case fault_kind::latency_spike:
      latency_spikes_.insert(x.factor);
      latency_factor_ = *latency_spikes_.rbegin();
      break;
    case fault_kind::stall_proxy:
      for (int p : proxies_hit()) {
        micros& until = nodes_[proxies_[static_cast<std::size_t>(p)]].stalled_until;
        until = std::max(until, now_ + x.duration);
      }
      break;
    case fault_kind::slow_consumer:
      for (int p : proxies_hit())
        slow_proxy_[p].insert(x.factor);
      break;
    case fault_kind::bus_outage:
      ++bus_outages_;
      break;
    case fault_kind::kill_bus_node:
      for (int b : targets(x, sc_.topo.bus_nodes))
        bus_node_down(b);
      break;
    case fault_kind::endpoint_churn: {
      int left = x.count;
      for (int h = std::max(0, x.target); h < sc_.topo.hosts && left > 0; ++h) {
        for (std::uint32_t e : endpoints_[static_cast<std::size_t>(h)]) {
          if (left-- <= 0) break;
          if (!nodes_[e].alive) continue;
          nodes_[e].kernel().handle(in::stop{}, now_);
          kill(e);
          push(now_ + x.duration, ev::restart, e);
        }
      }
      return;  // each endpoint's restart is its end
    }
  }
  if (x.duration > 0) push(now_ + x.duration, ev::fault_end, 0, f);
}

// The indexes fault `x` hits among `n` proxies or hosts: `count` from `target`, or all.
std::vector<int> world::targets(const fault& x, int n) const {
  std::vector<int> v;
  for (int k = 0; k < (x.target < 0 ? n : std::min(x.count, n)); ++k)
    v.push_back(x.target < 0 ? k : (x.target + k) % n);
  return v;
}

// Ends fault `f` alone: what other faults hold in force stays.
void world::end_fault(std::size_t f) {
  const fault& x = sc_.faults[f];
  if (healed_) return;  // the heal ended everything already
  trace_fault("fault_end", x);
  if (x.kind == fault_kind::partition_proxy || x.kind == fault_kind::bus_outage ||
      x.kind == fault_kind::stall_proxy || x.kind == fault_kind::kill_bus_node)
    backbone_back_at_ = now_;  // peers hear again who holds what from the next heartbeats
  const int proxies = static_cast<int>(proxies_.size());
  switch (x.kind) {
    case fault_kind::partition_proxy:
      for (int p : targets(x, proxies))
        if (auto it = partitioned_.find(p); it != partitioned_.end() && --it->second == 0)
          partitioned_.erase(it);
      break;
    case fault_kind::latency_spike:
      latency_spikes_.erase(latency_spikes_.find(x.factor));
      latency_factor_ = latency_spikes_.empty() ? 1.0 : *latency_spikes_.rbegin();
      break;
    case fault_kind::slow_consumer:
      for (int p : targets(x, proxies)) {
        auto it = slow_proxy_.find(p);
        if (it == slow_proxy_.end()) continue;
        it->second.erase(it->second.find(x.factor));
        if (it->second.empty()) slow_proxy_.erase(it);
      }
      break;
    case fault_kind::bus_outage:
      --bus_outages_;
      break;
    case fault_kind::kill_bus_node:
      for (int b : targets(x, sc_.topo.bus_nodes))
        bus_node_up(b);
      break;
    case fault_kind::stall_proxy:
      // The proxy in that slot now: if it was restarted meanwhile, the new one never stalled.
      for (int p : targets(x, proxies))
        if (std::uint32_t i = proxies_[static_cast<std::size_t>(p)];
            nodes_[i].stalled_until != 0 && nodes_[i].stalled_until <= now_)
          resume(i);  // unless a longer stall of it is still in force
      break;
    default:  // the others end by themselves (a restart) or never
      break;
  }
}

void world::resume(std::uint32_t i) {
  nodes_[i].stalled_until = 0;
  backbone_back_at_ = now_;
  auto it = deferred_.find(i);
  if (it == deferred_.end()) return;
  std::vector<event> held = std::move(it->second);
  deferred_.erase(it);
  for (event& e : held)
    fire(e);
}

void world::heal() {
  healed_ = true;
  injecting_ = false;
  partitioned_.clear();
  bus_outages_ = 0;
  latency_spikes_.clear();
  latency_factor_ = 1.0;
  slow_proxy_.clear();
  // Dead bus nodes come back; the clients that waited for one reconnect to it.
  for (std::size_t b = 0; b < bus_node_kills_.size(); ++b)
    if (bus_node_kills_[b] > 0) {
      bus_node_kills_[b] = 1;
      bus_node_up(static_cast<int>(b));
    }
  // A stall ends too: what the proxy held back runs now, in slot order.
  for (std::uint32_t i : proxies_)
    if (nodes_[i].stalled_until != 0) resume(i);
  for (std::size_t p = 0; p < proxies_.size(); ++p)
    if (!nodes_[proxies_[p]].alive) restart_proxy(static_cast<int>(p));
  for (auto& m : mgmts_) {
    if (nodes_[m].alive) continue;
    auto self = nodes_[m].role().self();
    int index = nodes_[m].index;
    m = add_node(std::make_unique<core::mgmt>(self, rng_.next()), -1, index);
    bus_attach(proxies_.size() + static_cast<std::size_t>(index));
    start_node(m);
  }
  for (std::size_t h = 0; h < agents_.size(); ++h) {
    std::uint32_t a = agents_[h];
    if (!nodes_[a].alive) {
      restart_host_agent(static_cast<int>(h));
      start_node(agents_[h]);
    }
  }
  for (auto& eps : endpoints_)
    for (std::uint32_t e : eps)
      if (!nodes_[e].alive) push(now_, ev::restart, e);
  trace_.line(trace_start("heal") += '}');
}

}  // namespace ccp::sim
