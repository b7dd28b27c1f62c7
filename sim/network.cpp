// The simulated network: the buses (queue groups, fan-out, partitions, outages, clients cut
// off by a dead bus node), the agent-proxy links (ordered, with latency and jitter, closable
// on one side), and each process's port onto them.
#include <algorithm>

#include "sim/world.hpp"

namespace ccp::sim {

using namespace ccp::core;

micros world::link_delay() {
  micros d = sc_.topo.link_latency;
  if (sc_.topo.link_jitter > 0) d += rng_.between(0, sc_.topo.link_jitter);
  return static_cast<micros>(static_cast<double>(d) * latency_factor_);
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
    if (bus_down()) return;
    if (nodes_[from].r == role::proxy && partitioned_.contains(nodes_[from].host)) return;
    if (bus_cut(from)) return;  // its bus node is dead, or it is still reconnecting
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
    if (bus != bus_kind::backbone) return true;
    return !bus_cut(n) && (nodes_[n].r != role::proxy || !partitioned_.contains(nodes_[n].host));
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
  // Whether a receiver gets it on its own concrete subject (sim_node::own_subject).
  for (std::size_t k = 0; k < receivers_.size(); ++k) {
    const std::string& own = nodes_[receivers_[k]].own_subject;
    const bool direct = bus == bus_kind::backbone && !own.empty() && subject == own;
    push(now_ + lat, ev::bus, receivers_[k], direct ? 1 : 0,
         hand_over(frame, k + 1 == receivers_.size()));
  }
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
  if (auto s = slow_proxy_.find(nodes_[from].host); s != slow_proxy_.end())
    slow = *s->second.rbegin();  // the largest slowdown in force
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
    if (trace_.writing()) [[unlikely]]
      trace_link(from, "link_down", id, "closed");
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
  if (trace_.writing()) [[unlikely]]
    trace_link(from, "link_down", id, "closed");
  if (l.agent_open) {
    l.agent_open = false;
    push(std::max(now_ + d, l.last_to_agent), ev::link_down, l.agent, l.agent_id);
  }
}

void world::dial(std::uint32_t agent, link_id id, const std::string& target) {
  if (trace_.writing()) [[unlikely]]
    trace_dial(agent, id, target);
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

}  // namespace ccp::sim
