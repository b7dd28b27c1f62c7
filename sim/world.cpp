#include "sim/world.hpp"

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <stdexcept>
#include <type_traits>

namespace ccp::sim {
namespace {

using namespace ccp::core;

std::uint64_t fnv(std::string_view s, std::uint64_t h = 14695981039346656037ull) {
  for (char c : s) {
    h ^= static_cast<unsigned char>(c);
    h *= 1099511628211ull;
  }
  return h;
}

// Appends the decimal form of `v` (std::to_string's text, without a temporary).
template <class T>
void append_number(std::string& out, T v) {
  char buf[24];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, r.ptr);
}

// A request's key in the checker's tables: ids carry a random incarnation in their high
// bits, so the node is mixed in by multiplication, not shifted into those bits.
std::uint64_t key_of(std::uint32_t node, std::uint64_t id) {
  return (static_cast<std::uint64_t>(node) + 1) * 0x9e3779b97f4a7c15ull ^ id;
}

std::string host_name(int i) {
  unsigned n = static_cast<unsigned>(i) + 1;
  return "10." + std::to_string((n >> 16) & 255) + "." + std::to_string((n >> 8) & 255) + "." +
         std::to_string(n & 255);
}

address must(std::expected<address, parse_error> a) {
  if (!a) throw std::logic_error("simulator built a bad address: " + a.error().message());
  return *a;
}

std::string code_name(errc c) {
  return c == errc{} ? "ok" : std::string(to_string(c));
}

}  // namespace

void trace_sink::line(std::string_view s) {
  // Eight bytes per multiply (FNV-1a takes one): little-endian words, the tail zero-padded,
  // then the line's length, so that lines cannot run into each other. Fixed arithmetic on
  // bytes: the same on every platform.
  auto word = [](const char* p, std::size_t n) {
    std::uint64_t w = 0;
    for (std::size_t k = 0; k < n; ++k)
      w |= std::uint64_t{static_cast<unsigned char>(p[k])} << (8 * k);
    return w;
  };
  auto mix = [this](std::uint64_t w) {
    hash_ = (hash_ ^ w) * 0x9e3779b97f4a7c15ull;
    hash_ ^= hash_ >> 29;
  };
  std::size_t i = 0;
  for (; i + 8 <= s.size(); i += 8)
    mix(word(s.data() + i, 8));
  if (i < s.size()) mix(word(s.data() + i, s.size() - i));
  mix(s.size());
  if (out_) {
    std::fwrite(s.data(), 1, s.size(), out_);
    std::fputc('\n', out_);
  }
}

world::world(const scenario& sc, std::uint64_t seed, trace_sink& trace)
    : sc_(sc), seed_(seed), trace_(trace), rng_(seed) {
  if (sc_.sabotage == "fencing_off") sabotage_.fencing_off = true;
  if (sc_.sabotage == "empty_proxy_takes_any") sabotage_.empty_proxy_takes_any = true;
  if (sc_.sabotage == "duplicate_delivery") sabotage_.duplicate_delivery = true;
  if (sc_.sabotage == "misroute") sabotage_.misroute = true;
  if (sc_.sabotage == "double_complete") sabotage_.double_complete = true;
  if (sc_.sabotage == "no_link_bound") sabotage_.no_link_bound = true;
  if (sc_.sabotage == "lax_groups") sabotage_.lax_groups = true;
  result_.scenario = sc_.name;
  result_.seed = seed;
  build();
}

world::~world() = default;

template <class Role>
std::uint32_t world::add_node(std::unique_ptr<Role> n, int host, int index) {
  n->set_sabotage(sabotage_, core::sabotage_key{});
  const auto i = static_cast<std::uint32_t>(nodes_.size());
  sim_node s;
  if constexpr (std::is_same_v<Role, core::mgmt>) {
    s.mgmt = n.get();
    s.r = role::mgmt;
  } else if constexpr (std::is_same_v<Role, core::proxy>) {
    s.proxy = n.get();
    s.r = role::proxy;
  } else if constexpr (std::is_same_v<Role, core::agent>) {
    s.agent = n.get();
    s.r = role::agent;
  } else {
    static_assert(std::is_same_v<Role, core::endpoint>);
    sample_.serve_on(*n);
    s.r = role::endpoint;
  }
  s.p = std::make_unique<process>(*this, i, std::move(n));
  s.host = host;
  s.index = index;
  nodes_.push_back(std::move(s));
  return i;
}

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
  queue_.push(t, event{t, kind, node, which, std::move(f)});
}

micros world::link_delay() {
  micros d = sc_.topo.link_latency;
  if (sc_.topo.link_jitter > 0) d += rng_.between(0, sc_.topo.link_jitter);
  return static_cast<micros>(static_cast<double>(d) * latency_factor_);
}

void world::run_actions(std::uint32_t i) {
  nodes_[i].kernel().run_actions(now_);
}

// The process's port and application: the simulated world, for one process.

void world::process::publish(bus_kind bus, std::string_view subject, frame_ptr frame) {
  w.publish(i, bus, subject, std::move(frame));
}

bool world::process::subscribe(bus_kind bus, const std::string& subject, const std::string& queue) {
  subject_map& m = bus == bus_kind::backbone
                       ? w.backbone_
                       : w.host_bus_[static_cast<std::size_t>(w.nodes_[i].host)];
  m[subject].push_back({i, queue});
  return true;
}

void world::process::unsubscribe(bus_kind bus, const std::string& subject) {
  subject_map& m = bus == bus_kind::backbone
                       ? w.backbone_
                       : w.host_bus_[static_cast<std::size_t>(w.nodes_[i].host)];
  if (auto it = m.find(subject); it != m.end())
    std::erase_if(it->second, [this](const sub& x) { return x.node == i; });
}

void world::process::send(link_id link, frame_ptr frame) {
  w.send_on_link(i, link, std::move(frame));
}

void world::process::close(link_id link) {
  w.close_link(i, link);
}

void world::process::dial(link_id link, const std::string& target) {
  w.dial(i, link, target);
}

void world::process::wake_at(micros at, std::uint64_t generation) {
  if (w.nodes_[i].alive) w.push(std::max(at, w.now_), ev::tick, i, generation);
}

void world::process::deliver(core::node& role, const message& m, micros now) {
  w.on_deliver(i, m);
  w.sample_.deliver(role, m, now);
}

void world::process::complete(core::node&, act::complete& c, micros) {
  w.on_complete(i, c);
}

// The frame a receiver gets: the sender's own buffer when nobody else holds it any more
// (the role let go of it and this is its last receiver), else a copy, since a receiver
// may change the hop byte in place (core::frame_buf).
frame_buf world::hand_over(frame_ptr& frame, bool last) {
  if (last && frame.use_count() == 1) return std::const_pointer_cast<std::string>(std::move(frame));
  return std::make_shared<std::string>(*frame);
}

void world::publish(std::uint32_t from, bus_kind bus, std::string_view subject, frame_ptr frame) {
  const subject_map* m = nullptr;
  micros lat = 0;
  if (bus == bus_kind::backbone) {
    if (bus_down_) return;
    if (nodes_[from].r == role::proxy && partitioned_.contains(nodes_[from].host)) return;
    m = &backbone_;
    lat = sc_.topo.backbone_latency;
  } else {
    m = &host_bus_[static_cast<std::size_t>(nodes_[from].host)];
    lat = sc_.topo.host_bus_latency;
  }
  auto it = m->find(subject);
  if (it == m->end()) return;
  auto reachable = [&](std::uint32_t n) {
    if (!nodes_[n].alive) return false;
    return bus != bus_kind::backbone || nodes_[n].r != role::proxy ||
           !partitioned_.contains(nodes_[n].host);
  };
  // Plain subscribers each get the frame; each queue group gives it to one member.
  receivers_.clear();
  std::vector<std::pair<const std::string*, std::vector<std::uint32_t>>> groups;
  for (const sub& s : it->second) {
    if (!reachable(s.node)) continue;
    if (s.queue.empty()) {
      receivers_.push_back(s.node);
      continue;
    }
    auto g = std::find_if(groups.begin(), groups.end(),
                          [&](const auto& x) { return *x.first == s.queue; });
    if (g == groups.end())
      groups.push_back({&s.queue, {s.node}});
    else
      g->second.push_back(s.node);
  }
  for (const auto& [q, members] : groups)
    receivers_.push_back(members[rng_.below(members.size())]);
  for (std::size_t k = 0; k < receivers_.size(); ++k)
    push(now_ + lat, ev::bus, receivers_[k], 0, hand_over(frame, k + 1 == receivers_.size()));
}

void world::send_on_link(std::uint32_t from, link_id id, frame_ptr frame) {
  micros d = link_delay();
  if (nodes_[from].r == role::agent) {
    auto it = link_by_agent_.find(static_cast<std::uint64_t>(from) << 32 | id);
    if (it == link_by_agent_.end()) return;
    link& l = links_[it->second];
    if (!l.agent_open) return;
    push(now_ + d, ev::flushed, from, it->second);
    if (!l.proxy_open) return;  // the proxy's side is gone: into the void
    l.last_to_proxy = std::max(now_ + d, l.last_to_proxy);
    push(l.last_to_proxy, ev::link_frame, l.proxy, l.proxy_id, hand_over(frame, true));
    return;
  }
  auto it = link_by_proxy_.find(id);
  if (it == link_by_proxy_.end()) return;
  link& l = links_[it->second];
  if (!l.proxy_open) return;
  double slow = 1.0;
  if (auto s = slow_proxy_.find(nodes_[from].host); s != slow_proxy_.end()) slow = s->second;
  push(now_ + static_cast<micros>(static_cast<double>(d) * slow), ev::flushed, from, it->second);
  // The proxy's write queue: frames handed to the host and not yet written. The core
  // bounds it with link_queue_frames (plus a few control frames).
  if (++l.unwritten_by_proxy > 2 * link_queue_frames && !l.reported) {
    l.reported = true;
    violation("unbounded_queue",
              "link to " + host_names_[static_cast<std::size_t>(nodes_[l.agent].host)] + " holds " +
                  std::to_string(l.unwritten_by_proxy) + " unwritten frames");
  }
  if (!l.agent_open) return;
  l.last_to_agent = std::max(now_ + d, l.last_to_agent);
  push(l.last_to_agent, ev::link_frame, l.agent, l.agent_id, hand_over(frame, true));
}

void world::close_link(std::uint32_t from, link_id id) {
  micros d = link_delay();
  if (nodes_[from].r == role::agent) {
    auto it = link_by_agent_.find(static_cast<std::uint64_t>(from) << 32 | id);
    if (it == link_by_agent_.end()) return;
    link& l = links_[it->second];
    if (!l.agent_open) return;
    l.agent_open = false;
    if (l.proxy_open) {
      l.proxy_open = false;
      push(std::max(now_ + d, l.last_to_proxy), ev::link_down, l.proxy, l.proxy_id);
    }
    return;
  }
  auto it = link_by_proxy_.find(id);
  if (it == link_by_proxy_.end()) return;
  link& l = links_[it->second];
  if (!l.proxy_open) return;
  l.proxy_open = false;
  if (l.agent_open) {
    l.agent_open = false;
    push(std::max(now_ + d, l.last_to_agent), ev::link_down, l.agent, l.agent_id);
  }
}

void world::dial(std::uint32_t agent, link_id id, const std::string& target) {
  micros d = link_delay();
  auto p = proxy_by_name_.find(target);
  std::uint32_t proxy =
      p == proxy_by_name_.end() ? 0 : proxies_[static_cast<std::size_t>(p->second)];
  if (p == proxy_by_name_.end() || !nodes_[proxy].alive) {
    push(now_ + d, ev::link_down, agent, id);  // connection refused
    return;
  }
  link l;
  l.agent = agent;
  l.agent_id = id;
  l.proxy = proxy;
  l.proxy_id = next_proxy_link_++;
  links_.push_back(l);
  link_by_agent_[static_cast<std::uint64_t>(agent) << 32 | id] = links_.size() - 1;
  link_by_proxy_[l.proxy_id] = links_.size() - 1;
  push(now_ + d, ev::link_up, proxy, l.proxy_id);
  push(now_ + 2 * d, ev::link_up, agent, id);
}

void world::unsubscribe_all(std::uint32_t i) {
  auto drop = [i](subject_map& m) {
    for (auto& [subject, v] : m)
      std::erase_if(v, [i](const sub& x) { return x.node == i; });
  };
  if (nodes_[i].r == role::mgmt || nodes_[i].r == role::proxy)
    drop(backbone_);
  else
    drop(host_bus_[static_cast<std::size_t>(nodes_[i].host)]);
}

void world::kill(std::uint32_t i) {
  if (!nodes_[i].alive) return;
  // The kernel resets the process's connections: the peers see them close.
  for (link& l : links_) {
    if (l.proxy == i && l.proxy_open) close_link(i, l.proxy_id);
    if (l.agent == i && l.agent_open) close_link(i, l.agent_id);
  }
  nodes_[i].alive = false;
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
    if (auto it = outcomes_.find(key_of(i, c->request));
        it != outcomes_.end() && !(it->second & 1)) {
      it->second |= 1 | 8;  // ended: abandoned
      ++result_.abandoned;
      group_sent_.erase(key_of(i, c->request));
    }
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
  start_node(proxies_[static_cast<std::size_t>(p)]);
}

bool world::step() {
  if (queue_.empty()) return false;
  event e = queue_.pop();
  now_ = e.t;
  ++events_;
  fire(e);
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
      // Copied out: add_node may grow nodes_, which would leave a reference dangling.
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
  if (s.stalled_until > now_) {  // a stalled process handles nothing until it resumes
    push(s.stalled_until, e.kind, e.node, e.which, std::move(e.frame));
    return;
  }
  host::kernel& k = s.kernel();
  switch (e.kind) {
    case ev::bus:
      k.handle(in::bus_frame{{}, std::move(e.frame)}, now_);
      return;
    case ev::link_frame:
      k.handle(in::link_frame{e.which, std::move(e.frame)}, now_);
      return;
    case ev::link_up:
      k.handle(in::link_up{e.which}, now_);
      return;
    case ev::link_down:
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
  std::string to = w.to;
  if (auto p = to.find("{host}"); p != std::string::npos && sc_.topo.hosts > 0)
    to.replace(p, 6, host_names_[rng_.below(static_cast<std::uint64_t>(sc_.topo.hosts))]);
  if (auto p = to.find("{ep}"); p != std::string::npos)
    to.replace(p, 4,
               "e" + std::to_string(1 + rng_.below(static_cast<std::uint64_t>(
                                            std::max(1, sc_.topo.endpoints_per_host)))));
  auto addr = address::parse(to);
  if (!addr) return;  // the scenario parser checked the pattern
  core::node* n = &nodes_[from].role();
  if (w.request) {
    auto id = n->request(*addr, w.type, "{}", w.timeout, now_);
    if (id) {
      ++result_.requests;
      bool any = addr->form() == scope::any || addr->form() == scope::host_any;
      const bool group = addr->form() == scope::all || addr->form() == scope::host_all;
      // bit 1: a request to an `any` form; bit 2: to a group (its send time in group_sent_)
      outcomes_[key_of(from, *id)] = (any ? 2 : 0) | (group ? 4 : 0);
      if (group) group_sent_[key_of(from, *id)] = now_;
    }
  } else if (n->send(*addr, w.type, "{}", now_)) {
    ++result_.notifications;
  }
  run_actions(from);
}

void world::start_fault(std::size_t f) {
  if (!injecting_) return;
  const fault& x = sc_.faults[f];
  {
    std::string& l = trace_start("fault");
    l += R"(,"kind":")";
    l += x.kind;
    l += R"(","target":)";
    append_number(l, x.target);
    l += '}';
    trace_.line(l);
  }
  auto proxies_hit = [&] {
    std::vector<int> v;
    int n = static_cast<int>(proxies_.size());
    for (int k = 0; k < (x.target < 0 ? n : std::min(x.count, n)); ++k)
      v.push_back(x.target < 0 ? k : (x.target + k) % n);
    return v;
  };
  auto hosts_hit = [&] {
    std::vector<int> v;
    int n = sc_.topo.hosts;
    for (int k = 0; k < (x.target < 0 ? n : std::min(x.count, n)); ++k)
      v.push_back(x.target < 0 ? k : (x.target + k) % n);
    return v;
  };
  if (x.kind == "kill_mgmt") {
    kill(mgmts_[static_cast<std::size_t>(x.target)]);
  } else if (x.kind == "kill_proxy") {
    for (int p : proxies_hit())
      kill(proxies_[static_cast<std::size_t>(p)]);
  } else if (x.kind == "restart_proxy") {
    for (int p : proxies_hit())
      restart_proxy(p);
  } else if (x.kind == "drain_proxy") {
    for (int p : proxies_hit()) {
      std::uint32_t i = proxies_[static_cast<std::size_t>(p)];
      if (!nodes_[i].alive) continue;
      nodes_[i].kernel().handle(in::stop{}, now_);  // a proxy's graceful stop is its drain
    }
  } else if (x.kind == "kill_agent") {
    for (int h : hosts_hit()) {
      std::uint32_t i = agents_[static_cast<std::size_t>(h)];
      kill(i);
      push(now_ + x.duration, ev::restart, i);
    }
  } else if (x.kind == "half_open") {
    for (int h : hosts_hit()) {
      std::uint32_t a = agents_[static_cast<std::size_t>(h)];
      for (link& l : links_) {
        if (l.agent != a || !l.agent_open) continue;
        l.agent_open = false;  // the proxy's side stays up and writes into the void
        push(now_, ev::link_down, a, l.agent_id);
      }
    }
  } else if (x.kind == "partition_proxy") {
    for (int p : proxies_hit())
      partitioned_.insert(p);
  } else if (x.kind == "latency_spike") {
    latency_factor_ = x.factor;
  } else if (x.kind == "stall_proxy") {
    for (int p : proxies_hit())
      nodes_[proxies_[static_cast<std::size_t>(p)]].stalled_until = now_ + x.duration;
  } else if (x.kind == "slow_consumer") {
    for (int p : proxies_hit())
      slow_proxy_[p] = x.factor;
  } else if (x.kind == "bus_outage") {
    bus_down_ = true;
  } else if (x.kind == "endpoint_churn") {
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
    return;
  }
  if (x.duration > 0) push(now_ + x.duration, ev::fault_end, 0, f);
}

void world::end_fault(std::size_t f) {
  const fault& x = sc_.faults[f];
  if (x.kind == "partition_proxy")
    partitioned_.clear();
  else if (x.kind == "latency_spike")
    latency_factor_ = 1.0;
  else if (x.kind == "slow_consumer")
    slow_proxy_.clear();
  else if (x.kind == "bus_outage")
    bus_down_ = false;
}

void world::heal() {
  healed_ = true;
  injecting_ = false;
  partitioned_.clear();
  bus_down_ = false;
  latency_factor_ = 1.0;
  slow_proxy_.clear();
  for (std::size_t p = 0; p < proxies_.size(); ++p)
    if (!nodes_[proxies_[p]].alive) restart_proxy(static_cast<int>(p));
  for (auto& m : mgmts_) {
    if (nodes_[m].alive) continue;
    auto self = nodes_[m].role().self();
    int index = nodes_[m].index;
    m = add_node(std::make_unique<core::mgmt>(self, rng_.next()), -1, index);
    start_node(m);
  }
  for (std::size_t h = 0; h < agents_.size(); ++h) {
    std::uint32_t a = agents_[h];
    if (!nodes_[a].alive) {
      restart_host_agent(static_cast<int>(h));
      start_node(agents_[h]);
    }
  }
  for (auto& s : nodes_)
    s.stalled_until = 0;
  for (auto& eps : endpoints_)
    for (std::uint32_t e : eps)
      if (!nodes_[e].alive) push(now_, ev::restart, e);
  trace_.line(trace_start("heal") += '}');
}

bool world::all_attached() const {
  for (std::uint32_t a : agents_) {
    const core::agent* ag = nodes_[a].agent;
    if (!nodes_[a].alive || ag->status() != core::agent::link_status::up) return false;
    auto p = proxy_by_name_.find(ag->proxy_target());
    if (p == proxy_by_name_.end()) return false;
    const core::proxy* px = nodes_[proxies_[static_cast<std::size_t>(p->second)]].proxy;
    if (!px->holds(ag->self().host())) return false;
  }
  return true;
}

bool world::directories_converged() const {
  for (std::uint32_t m : mgmts_) {
    const auto& dir = nodes_[m].mgmt->directory();
    if (dir.hosts() != agents_.size()) return false;
    for (std::uint32_t a : agents_) {
      const core::agent* ag = nodes_[a].agent;
      const auto* r = dir.find(ag->self().host());
      auto p = proxy_by_name_.find(ag->proxy_target());
      if (!r || p == proxy_by_name_.end()) return false;
      if (r->proxy != nodes_[proxies_[static_cast<std::size_t>(p->second)]].role().self().str())
        return false;
    }
  }
  return true;
}

void world::sample() {
  for (std::size_t p = 0; p < proxies_.size(); ++p) {
    const sim_node& s = nodes_[proxies_[p]];
    if (s.alive && s.proxy->attached() > 0) proxy_held_ever_[p] = true;
  }
  // Fenced ownership, every 500 ms: two proxies that both hear the backbone must not
  // both route a host for longer than the fencing settle time.
  if (now_ % (500 * ms) < 100 * ms) {
    // Fencing is one backbone announcement away; a second of overlap is already a fault.
    constexpr micros settle = 1 * seconds;
    for (std::size_t h = 0; h < agents_.size(); ++h) {
      int holders = 0;
      for (std::size_t p = 0; p < proxies_.size(); ++p) {
        const sim_node& s = nodes_[proxies_[p]];
        if (s.alive && !partitioned_.contains(static_cast<int>(p)) && !bus_down_ &&
            s.proxy->holds(host_names_[h]))
          ++holders;
      }
      int hi = static_cast<int>(h);
      if (holders < 2) {
        double_owned_since_.erase(hi);
      } else if (auto it = double_owned_since_.find(hi); it == double_owned_since_.end()) {
        double_owned_since_[hi] = now_;
      } else if (now_ - it->second > settle) {
        violation("double_ownership", host_names_[h] + " routed by " + std::to_string(holders) +
                                          " proxies for " +
                                          std::to_string((now_ - it->second) / ms) + " ms");
        it->second = now_;  // report again only after another full window
      }
    }
  }
  if (healed_) {
    if (result_.reattach_time < 0 && all_attached()) result_.reattach_time = now_ - liveness_start_;
    if (result_.converge_time < 0 && directories_converged())
      result_.converge_time = now_ - liveness_start_;
  }
}

std::string& world::trace_start(std::string_view kind) {
  std::string& l = line_;
  l.assign(R"({"t":)");
  append_number(l, now_);
  l += R"(,"ev":")";
  l += kind;
  l += '"';
  return l;
}

void world::violation(const std::string& name, const std::string& detail) {
  bool first = result_.violations.insert(name).second;
  if (first || result_.failures.size() < 10)
    result_.failures.push_back(name + " at t=" + std::to_string(now_ / ms) + "ms: " + detail);
}

void world::on_deliver(std::uint32_t i, const message& m) {
  ++result_.deliveries;
  const address& self = nodes_[i].role().self();
  std::string& l = trace_start("deliver");
  l += R"(,"at":")";
  self.append_to(l);
  l += R"(","from":")";
  const std::size_t from_at = l.size();
  m.from.append_to(l);
  const std::uint64_t from = fnv(std::string_view(l).substr(from_at));
  l += R"(","id":)";
  append_number(l, m.id);
  l += R"(,"kind":")";
  l += to_string(m.kind);
  l += R"("})";
  trace_.line(l);
  if (m.kind == msg_kind::error) return;  // an error answering one of its notifications
  if (!is_member(self, m.to)) {           // its own violation; it does not count as a delivery
    violation("non_member_delivery", m.to.str() + " delivered at " + self.str());
    return;
  }
  if (!delivered_.insert({i, from, m.id}).second)
    violation("duplicate_delivery", "message " + std::to_string(m.id) + " from " + m.from.str() +
                                        " delivered twice at " + self.str());
  if (m.to.form() != scope::all && m.to.form() != scope::host_all &&
      ++unicast_deliveries_[from ^ (m.id * 0x9e3779b97f4a7c15ull)] > 1)
    violation("duplicate_delivery", "message " + std::to_string(m.id) + " to " + m.to.str() +
                                        " delivered more than once in the fleet");
}

void world::on_complete(std::uint32_t i, const act::complete& c) {
  auto it = outcomes_.find(key_of(i, c.request));
  std::string& l = trace_start("complete");
  l += R"(,"at":")";
  nodes_[i].role().self().append_to(l);
  l += R"(","id":)";
  append_number(l, c.request);
  l += R"(,"code":")";
  l += code_name(c.code);
  l += R"(","replies":)";
  append_number(l, c.replies.size());
  if (!c.members.empty()) {
    l += R"(,"members":)";
    append_number(l, c.members.size());
  }
  l += '}';
  trace_.line(l);
  if (it == outcomes_.end()) {
    violation("outcome_count", "completion of unknown request " + std::to_string(c.request));
    return;
  }
  if (it->second & 1) {
    violation("outcome_count", "request " + std::to_string(c.request) + " of " +
                                   nodes_[i].role().self().str() + " completed twice");
    return;
  }
  it->second |= 1;
  if (c.code == errc{})
    ++result_.ok;
  else if (c.code == errc::timeout)
    ++result_.timeouts;
  else if (c.code == errc::unreachable)
    ++result_.unreachable;
  else if (c.code == errc::partial)
    ++result_.partial;
  else
    ++result_.other_errors;
  if (it->second & 4) {
    if (auto g = group_sent_.find(key_of(i, c.request)); g != group_sent_.end()) {
      check_group(i, c, g->second);
      group_sent_.erase(g);
    }
  }
  // An `any` request bounced by a proxy that never held an agent: it took an `any` it
  // could not serve.
  if ((it->second & 2) && c.code == errc::unreachable && !c.replies.empty() &&
      c.replies[0].from.type() == role::proxy) {
    for (std::size_t p = 0; p < proxies_.size(); ++p) {
      if (nodes_[proxies_[p]].role().self() == c.replies[0].from && !proxy_held_ever_[p] &&
          all_attached())
        violation("swallowed_any", c.replies[0].from.str() + " took an any with no agents");
    }
  }
}

// A group request's result accounts for each member it names once, and its outcome is the
// one its members make (core/action.hpp): never `ok` past a member that failed or stayed
// silent, never a success counted from an error reply.
void world::check_group(std::uint32_t i, const act::complete& c, micros sent) {
  using answer = act::member_result::answer;
  const std::string who = nodes_[i].role().self().str() + " request " + std::to_string(c.request);
  std::size_t ok = 0, answered = 0, unreachable = 0;
  for (std::size_t k = 0; k < c.members.size(); ++k) {
    const auto& r = c.members[k];
    if (k > 0 && !(c.members[k - 1].member < r.member)) {
      violation("group_accounting", who + " names " + r.member.str() + " twice or out of order");
      return;
    }
    ok += r.result == answer::ok;
    answered += r.result == answer::ok || r.result == answer::error;
    unreachable += r.result == answer::unreachable;
    // An answer counted must be one that came: a reply from that member, of that kind.
    if (r.result == answer::ok || r.result == answer::error) {
      const msg_kind kind = r.result == answer::ok ? msg_kind::response : msg_kind::error;
      bool came = std::any_of(c.replies.begin(), c.replies.end(), [&](const message& m) {
        return m.from == r.member && m.kind == kind;
      });
      if (!came)
        violation("group_accounting",
                  who + " counts an answer of " + r.member.str() + " that never came");
    }
  }
  if (c.code == errc::shutting_down) return;
  const std::size_t n = c.members.size();
  errc want{};
  if (n == 0) {
    // Members unknown to the sender (or none): then `ok` needs replies, none an error.
    const bool errors = std::any_of(c.replies.begin(), c.replies.end(),
                                    [](const message& m) { return m.kind == msg_kind::error; });
    if (c.code == errc{} && (c.replies.empty() || errors))
      violation("group_accounting", who + " ended ok with " + std::to_string(c.replies.size()) +
                                        " replies, errors among them: " + (errors ? "yes" : "no"));
    return;
  }
  if (unreachable == n)
    want = errc::unreachable;
  else if (ok == n)
    want = errc{};
  else if (answered == 0)
    want = errc::timeout;
  else
    want = errc::partial;
  if (c.code != want)
    violation("group_accounting", who + " ended " + code_name(c.code) + " where its " +
                                      std::to_string(n) + " members make it " + code_name(want));
  if (answered == n) {  // n > 0 here: members known
    ++result_.groups_answered;
    result_.group_latency_max = std::max(result_.group_latency_max, now_ - sent);
  }
}

void world::run_until(micros t) {
  while (!queue_.empty() && queue_.top_time() <= t)
    step();
  now_ = std::max(now_, t);
}

run_result world::run() {
  for (std::size_t w = 0; w < sc_.workload.size(); ++w)
    push(sc_.workload[w].start, ev::work, 0, w);
  for (std::size_t f = 0; f < sc_.faults.size(); ++f)
    push(sc_.faults[f].at, ev::fault, 0, f);
  push(0, ev::sample, 0);
  run_until(sc_.duration);
  liveness_start_ = now_;
  heal();
  run_until(sc_.duration + sc_.liveness);
  result_.simulated = now_;
  result_.events = events_;
  result_.trace_hash = trace_.hash();

  for (const auto& [key, state] : outcomes_)
    if (!(state & 1)) violation("outcome_count", "a request never completed");

  auto fail = [&](std::string why) { result_.failures.push_back(std::move(why)); };
  if (sc_.expect.violation) {
    // A negative scenario passes only when exactly the expected violation was reported.
    bool exact =
        result_.violations.size() == 1 && result_.violations.contains(*sc_.expect.violation);
    result_.pass = exact;
    if (exact)
      result_.failures.clear();
    else
      fail("expected exactly the violation " + *sc_.expect.violation);
    return result_;
  }
  const double n = static_cast<double>(std::max<std::uint64_t>(result_.requests, 1));
  auto ratio = [n](std::uint64_t part) { return static_cast<double>(part) / n; };
  const expectations& ex = sc_.expect;
  if (ex.min_ok_ratio && ratio(result_.ok) < *ex.min_ok_ratio)
    fail("ok ratio " + std::to_string(ratio(result_.ok)) + " < " +
         std::to_string(*ex.min_ok_ratio));
  if (ex.max_timeout_ratio && ratio(result_.timeouts) > *ex.max_timeout_ratio)
    fail("timeout ratio " + std::to_string(ratio(result_.timeouts)) + " > " +
         std::to_string(*ex.max_timeout_ratio));
  if (ex.min_unreachable_ratio && ratio(result_.unreachable) < *ex.min_unreachable_ratio)
    fail("unreachable ratio " + std::to_string(ratio(result_.unreachable)) + " < " +
         std::to_string(*ex.min_unreachable_ratio));
  if (ex.max_partial_ratio && ratio(result_.partial) > *ex.max_partial_ratio)
    fail("partial ratio " + std::to_string(ratio(result_.partial)) + " > " +
         std::to_string(*ex.max_partial_ratio));
  if (ex.group_complete_within && result_.group_latency_max > *ex.group_complete_within)
    fail("a group request whose members all answered took " +
         std::to_string(result_.group_latency_max / ms) + " ms > " +
         std::to_string(*ex.group_complete_within / ms) + " ms");
  if (ex.reattach_within &&
      (result_.reattach_time < 0 || result_.reattach_time > *ex.reattach_within))
    fail("agents not all attached within " + std::to_string(*ex.reattach_within / ms) + " ms");
  if (ex.converge_within &&
      (result_.converge_time < 0 || result_.converge_time > *ex.converge_within))
    fail("directories not converged within " + std::to_string(*ex.converge_within / ms) + " ms");
  result_.pass = result_.violations.empty() && result_.failures.empty();
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
