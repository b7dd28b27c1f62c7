#include "tests/core/harness.hpp"

#include <algorithm>
#include <stdexcept>
#include <type_traits>

namespace ccp::test {
namespace {

address must(std::expected<address, parse_error> a) {
  if (!a) throw std::runtime_error("bad address in test: " + a.error().message());
  return *a;
}

}  // namespace

template <class Role>
Role* harness::add(std::string host, std::unique_ptr<Role> role) {
  Role* r = role.get();
  if constexpr (std::is_same_v<Role, core::endpoint>) sample_.serve_on(*r);
  procs_.push_back(std::make_unique<process>(*this, std::move(host), std::move(role)));
  proc_of_[r] = procs_.back().get();
  alive_.insert(r);
  procs_.back()->k.handle(in::start{}, now_);
  return r;
}

core::mgmt* harness::add_mgmt(std::string host, std::string id) {
  auto m = std::make_unique<core::mgmt>(must(address::one(role::mgmt, host, id)), next_seed_++);
  return add(std::move(host), std::move(m));
}

core::proxy* harness::add_proxy(std::string host, std::string id) {
  const credential_verifier& v = verifier ? verifier() : default_verifier_;
  auto x =
      std::make_unique<core::proxy>(must(address::one(role::proxy, host, id)), next_seed_++, v);
  proxy_by_name_[host + "/" + id] = x.get();
  return add(std::move(host), std::move(x));
}

core::agent* harness::add_agent(std::string host, std::vector<std::string> proxies,
                                std::string token, std::uint64_t epoch_base, bool shuffle) {
  agent_config cfg;
  cfg.self = must(address::one(role::agent, host, "agent"));
  cfg.proxies = std::move(proxies);
  cfg.token = std::move(token);
  cfg.epoch_base = epoch_base;
  cfg.shuffle = shuffle;
  cfg.seed = next_seed_++;
  return add(std::move(host), std::make_unique<core::agent>(std::move(cfg)));
}

core::endpoint* harness::add_endpoint(std::string host, std::string id) {
  auto x =
      std::make_unique<core::endpoint>(must(address::one(role::endpoint, host, id)), next_seed_++);
  return add(std::move(host), std::move(x));
}

harness::process& harness::proc(core::node* n) const {
  auto it = proc_of_.find(n);
  if (it == proc_of_.end()) throw std::logic_error("unknown node");
  return *it->second;
}

core::proxy* harness::proxy_named(const std::string& name) {
  auto it = proxy_by_name_.find(name);
  return it == proxy_by_name_.end() ? nullptr : it->second;
}

void harness::later(core::node* n, core::event e) {
  queue_.push_back({[this, n, e = std::move(e)]() mutable {
    if (!alive_.contains(n)) return;
    proc(n).k.handle(std::move(e), now_);
  }});
}

// The harness as each kernel's world.

void harness::process::publish(bus_kind b, std::string_view subject, frame_ptr frame) {
  auto it = f.subs_.find({b == bus_kind::backbone ? "" : host, std::string(subject)});
  if (it == f.subs_.end()) return;
  std::vector<process*> plain;
  std::map<std::string, std::vector<process*>> groups;  // ordered: deterministic choice
  for (const auto& s : it->second) {
    if (s.queue.empty())
      plain.push_back(s.who);
    else
      groups[s.queue].push_back(s.who);
  }
  for (process* p : plain)
    f.deliver_bus(p, it->first.second, frame);
  for (const auto& [q, members] : groups)
    f.deliver_bus(members[f.choose_.below(members.size())], it->first.second, frame);
}

void harness::deliver_bus(process* to, const std::string& subject, const frame_ptr& frame) {
  // Every receiver gets its own buffer: a role may change the hop byte in place.
  queue_.push_back({[this, to, subject, copy = std::make_shared<std::string>(*frame)]() mutable {
    if (!alive_.contains(to->n)) return;
    to->k.handle(in::bus_frame{subject, std::move(copy)}, now_);
  }});
}

bool harness::process::subscribe(bus_kind b, const std::string& subject, const std::string& queue) {
  f.subs_[{b == bus_kind::backbone ? "" : host, subject}].push_back({this, queue});
  return true;
}

void harness::process::unsubscribe(bus_kind b, const std::string& subject) {
  auto& v = f.subs_[{b == bus_kind::backbone ? "" : host, subject}];
  std::erase_if(v, [&](const sub& x) { return x.who == this; });
}

void harness::process::send(link_id id, frame_ptr frame) {
  for (auto& l : f.links_) {
    const bool by_agent = l.a == n && l.a_id == id;
    const bool by_proxy = l.p == n && l.p_id == id;
    if (!by_agent && !by_proxy) continue;
    auto copy = std::make_shared<std::string>(*frame);
    // The frame is written at once (into the void, when the agent's side is gone), unless
    // the test stalled this proxy's writes.
    std::size_t report = 0;
    if (by_agent && l.agent_open && l.proxy_open) {
      f.later(l.p, in::link_frame{l.p_id, std::move(copy)});
      report = l.written_by_agent.add(1);
    } else if (by_proxy && l.proxy_open && !f.stalled_.contains(n)) {
      if (l.agent_open) f.later(l.a, in::link_frame{l.a_id, std::move(copy)});
      report = l.written_by_proxy.add(1);
    } else if (by_proxy && l.proxy_open && l.agent_open) {
      f.later(l.a, in::link_frame{l.a_id, std::move(copy)});
    }
    if (report > 0) f.later(n, in::link_flushed{id, report});
    return;
  }
}

void harness::process::close(link_id id) {
  for (std::size_t i = 0; i < f.links_.size(); ++i) {
    if (f.links_[i].a == n && f.links_[i].a_id == id) f.close_link(i, true);
    if (f.links_[i].p == n && f.links_[i].p_id == id) f.close_link(i, false);
  }
}

void harness::process::dial(link_id id, const std::string& target) {
  core::proxy* to = f.proxy_named(target);
  if (!to) {
    f.later(n, in::link_down{id});  // connection refused
    return;
  }
  link l;
  l.a = n;
  l.a_id = id;
  l.p = to;
  l.p_id = f.next_link_++;
  f.links_.push_back(l);
  f.later(to, in::link_up{l.p_id});
  f.later(n, in::link_up{id});
}

void harness::process::wake_at(micros at, std::uint64_t generation) {
  wake = at;
  wake_generation = generation;
}

void harness::process::deliver(core::node& role, const message& m, micros now) {
  f.logs_[n].delivered.push_back(m);
  f.sample_.deliver(role, m, now);
}

void harness::process::complete(core::node&, act::complete& c, micros) {
  auto& lg = f.logs_[n];
  ++lg.completions;
  lg.completed.insert_or_assign(c.request, c);
}

void harness::close_link(std::size_t idx, bool from_agent) {
  link& l = links_[idx];
  if (from_agent) {
    if (!l.agent_open) return;
    l.agent_open = false;
    if (l.proxy_open) {
      l.proxy_open = false;
      later(l.p, in::link_down{l.p_id});
    }
  } else {
    if (!l.proxy_open) return;
    l.proxy_open = false;
    if (l.agent_open) {
      l.agent_open = false;
      later(l.a, in::link_down{l.a_id});
    }
  }
}

void harness::after(core::node* n) {
  proc(n).k.run_actions(now_);
}

bool harness::run(std::size_t max_steps) {
  for (std::size_t i = 0; i < max_steps; ++i) {
    if (queue_.empty()) return true;
    event e = std::move(queue_.front());
    queue_.pop_front();
    e.fire();
  }
  return queue_.empty();
}

void harness::tick_all() {
  for (const auto& p : procs_)
    if (alive_.contains(p->n) && p->wake <= now_) p->k.wake(p->wake_generation, now_);
}

void harness::advance(micros dt, micros step) {
  run();
  micros target = now_ + dt;
  while (now_ < target) {
    now_ = std::min(now_ + step, target);
    tick_all();
    if (!run()) throw std::runtime_error("event bound hit: a routing loop?");
  }
}

void harness::kill_proxy(core::proxy* p) {
  for (std::size_t i = 0; i < links_.size(); ++i)
    if (links_[i].p == p) close_link(i, false);
  for (auto& [key, v] : subs_)
    std::erase_if(v, [&](const sub& x) { return x.who->n == p; });
  for (auto it = proxy_by_name_.begin(); it != proxy_by_name_.end();)
    it = it->second == p ? proxy_by_name_.erase(it) : std::next(it);
  alive_.erase(p);
}

void harness::kill_agent(core::agent* a) {
  for (std::size_t i = 0; i < links_.size(); ++i)
    if (links_[i].a == a) close_link(i, true);  // the kernel resets the socket
  for (auto& [key, v] : subs_)
    std::erase_if(v, [&](const sub& x) { return x.who->n == a; });
  alive_.erase(a);
}

void harness::kill_endpoint(core::endpoint* e) {
  for (auto& [key, v] : subs_)
    std::erase_if(v, [&](const sub& x) { return x.who->n == e; });
  alive_.erase(e);
}

void harness::stop_endpoint(core::endpoint* e) {
  proc(e).k.handle(in::stop{}, now_);
}

void harness::half_open(core::agent* a) {
  for (auto& l : links_) {
    if (l.a != a || !l.agent_open) continue;
    l.agent_open = false;  // the proxy side stays "up" and writes into the void
    later(a, in::link_down{l.a_id});
  }
}

const harness::link& harness::open_link_of(const core::agent* a) const {
  for (const auto& l : links_)
    if (l.a == a && l.agent_open && l.proxy_open) return l;
  throw std::logic_error("agent has no open link");
}

void harness::inject_from_agent(core::agent* a, std::string frame) {
  const link& l = open_link_of(a);
  later(l.p, in::link_frame{l.p_id, std::make_shared<std::string>(std::move(frame))});
}

void harness::inject_to_agent(core::agent* a, std::string frame) {
  const link& l = open_link_of(a);
  later(a, in::link_frame{l.a_id, std::make_shared<std::string>(std::move(frame))});
}

std::uint64_t harness::request(core::node* n, const std::string& to, const std::string& type,
                               std::string body, micros timeout) {
  auto id = n->request(must(address::parse(to)), type, std::move(body), timeout, now_);
  if (!id) throw std::runtime_error("request refused: " + std::string(to_string(id.error())));
  after(n);
  return *id;
}

std::uint64_t harness::send(core::node* n, const std::string& to, const std::string& type,
                            std::string body) {
  auto id = n->send(must(address::parse(to)), type, std::move(body), now_);
  if (!id) throw std::runtime_error("send refused: " + std::string(to_string(id.error())));
  after(n);
  return *id;
}

const act::complete* harness::outcome(core::node* n, std::uint64_t id) {
  auto& lg = logs_[n];
  auto it = lg.completed.find(id);
  return it == lg.completed.end() ? nullptr : &it->second;
}

std::size_t harness::deliveries(const address& from, std::uint64_t id) const {
  std::size_t count = 0;
  for (const auto& [n, lg] : logs_)
    for (const auto& m : lg.delivered)
      if (m.from == from && m.id == id) ++count;
  return count;
}

std::size_t harness::malformed_total() const {
  std::size_t t = 0;
  for (const auto& p : procs_)
    t += p->n->stats().malformed;
  return t;
}

}  // namespace ccp::test
