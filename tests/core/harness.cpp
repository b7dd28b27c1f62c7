#include "tests/core/harness.hpp"

#include <algorithm>
#include <stdexcept>

namespace ccp::test {
namespace {

address must(std::expected<address, parse_error> a) {
  if (!a) throw std::runtime_error("bad address in test: " + a.error().message());
  return *a;
}

}  // namespace

core::mgmt* fleet::add_mgmt(std::string host, std::string id) {
  auto m = std::make_unique<core::mgmt>(must(address::one(role::mgmt, host, id)), next_seed_++);
  auto* p = m.get();
  nodes_.push_back(std::move(m));
  refs_.push_back({p, 0, host});
  alive_.insert(p);
  p->start(now_);
  after(p);
  return p;
}

core::proxy* fleet::add_proxy(std::string host, std::string id) {
  const credential_verifier& v = verifier ? verifier() : default_verifier_;
  auto x =
      std::make_unique<core::proxy>(must(address::one(role::proxy, host, id)), next_seed_++, v);
  auto* p = x.get();
  nodes_.push_back(std::move(x));
  refs_.push_back({p, 1, host});
  alive_.insert(p);
  proxy_by_name_[host + "/" + id] = p;
  p->start(now_);
  after(p);
  return p;
}

core::agent* fleet::add_agent(std::string host, std::vector<std::string> proxies, std::string token,
                              std::uint64_t epoch_base, bool shuffle) {
  agent_config cfg;
  cfg.self = must(address::one(role::agent, host, "agent"));
  cfg.proxies = std::move(proxies);
  cfg.token = std::move(token);
  cfg.epoch_base = epoch_base;
  cfg.shuffle = shuffle;
  cfg.seed = next_seed_++;
  auto x = std::make_unique<core::agent>(std::move(cfg));
  auto* a = x.get();
  nodes_.push_back(std::move(x));
  refs_.push_back({a, 2, host});
  alive_.insert(a);
  a->start(now_);
  after(a);
  return a;
}

core::endpoint* fleet::add_endpoint(std::string host, std::string id) {
  auto x =
      std::make_unique<core::endpoint>(must(address::one(role::endpoint, host, id)), next_seed_++);
  auto* e = x.get();
  nodes_.push_back(std::move(x));
  refs_.push_back({e, 3, host});
  alive_.insert(e);
  e->handle("echo");
  e->start(now_);
  after(e);
  return e;
}

fleet::node_ref fleet::ref_of(core::node* n) const {
  for (const auto& r : refs_)
    if (r.n == n) return r;
  throw std::logic_error("unknown node");
}

core::proxy* fleet::proxy_named(const std::string& name) {
  auto it = proxy_by_name_.find(name);
  return it == proxy_by_name_.end() ? nullptr : it->second;
}

void fleet::publish(bus_kind b, const std::string& host, const std::string& subject, frame_ptr f) {
  auto it = subs_.find({b == bus_kind::backbone ? "" : host, subject});
  if (it == subs_.end()) return;
  std::vector<sub> plain;
  std::map<std::string, std::vector<sub>> groups;  // ordered: deterministic choice
  for (const auto& s : it->second) {
    if (s.queue.empty())
      plain.push_back(s);
    else
      groups[s.queue].push_back(s);
  }
  for (const auto& s : plain)
    deliver_bus(s.who, subject, f);
  for (const auto& [q, members] : groups)
    deliver_bus(members[choose_.below(members.size())].who, subject, f);
}

void fleet::deliver_bus(const node_ref& r, const std::string& subject, frame_ptr f) {
  // Every receiver gets its own buffer: a role may change the hop byte in place.
  auto copy = std::make_shared<std::string>(*f);
  queue_.push_back({[this, r, subject, copy]() mutable {
    if (!alive_.contains(r.n)) return;
    switch (r.kind) {
      case 0:
        static_cast<core::mgmt*>(r.n)->on_bus(subject, copy, now_);
        break;
      case 1:
        static_cast<core::proxy*>(r.n)->on_bus(subject, copy, now_);
        break;
      case 2:
        static_cast<core::agent*>(r.n)->on_bus(subject, copy, now_);
        break;
      case 3:
        static_cast<core::endpoint*>(r.n)->on_bus(subject, copy, now_);
        break;
    }
    after(r.n);
  }});
}

void fleet::close_link(std::size_t idx, bool from_agent) {
  link& l = links_[idx];
  if (from_agent) {
    if (!l.agent_open) return;
    l.agent_open = false;
    if (l.proxy_open) {
      l.proxy_open = false;
      queue_.push_back({[this, p = l.p, id = l.p_id] {
        if (!alive_.contains(p)) return;
        p->on_link_down(id, now_);
        after(p);
      }});
    }
  } else {
    if (!l.proxy_open) return;
    l.proxy_open = false;
    if (l.agent_open) {
      l.agent_open = false;
      queue_.push_back({[this, a = l.a, id = l.a_id] {
        if (!alive_.contains(a)) return;
        a->on_link_down(id, now_);
        after(a);
      }});
    }
  }
}

void fleet::after(core::node* n) {
  std::vector<action> acts;
  acts.swap(n->actions());
  node_ref r = ref_of(n);
  for (auto& a : acts) {
    if (auto* p = std::get_if<act::publish>(&a)) {
      publish(p->bus, r.host, p->subject.str(), p->frame);
    } else if (auto* s = std::get_if<act::subscribe>(&a)) {
      auto& v = subs_[{s->bus == bus_kind::backbone ? "" : r.host, s->subject}];
      if (std::none_of(v.begin(), v.end(), [&](const sub& x) { return x.who.n == n; }))
        v.push_back({r, s->queue});
    } else if (auto* u = std::get_if<act::unsubscribe>(&a)) {
      auto& v = subs_[{u->bus == bus_kind::backbone ? "" : r.host, u->subject}];
      std::erase_if(v, [&](const sub& x) { return x.who.n == n; });
    } else if (auto* snd = std::get_if<act::send>(&a)) {
      for (auto& l : links_) {
        bool by_agent = r.kind == 2 && l.a == n && l.a_id == snd->link;
        bool by_proxy = r.kind == 1 && l.p == n && l.p_id == snd->link;
        if (!by_agent && !by_proxy) continue;
        auto copy = std::make_shared<std::string>(*snd->frame);
        if (by_agent && l.agent_open && l.proxy_open) {
          queue_.push_back({[this, p = l.p, id = l.p_id, copy] {
            if (!alive_.contains(p)) return;
            p->on_link_frame(id, copy, now_);
            after(p);
          }});
          static_cast<core::agent*>(n)->on_link_flushed(snd->link, 1);
        } else if (by_proxy && l.proxy_open && l.agent_open) {
          queue_.push_back({[this, ag = l.a, id = l.a_id, copy] {
            if (!alive_.contains(ag)) return;
            ag->on_link_frame(id, copy, now_);
            after(ag);
          }});
          if (!stalled_.contains(n)) static_cast<core::proxy*>(n)->on_link_flushed(snd->link, 1);
        } else if (by_proxy && l.proxy_open) {
          static_cast<core::proxy*>(n)->on_link_flushed(snd->link, 1);  // into the void
        }
        break;
      }
    } else if (auto* c = std::get_if<act::close>(&a)) {
      for (std::size_t i = 0; i < links_.size(); ++i) {
        if (r.kind == 2 && links_[i].a == n && links_[i].a_id == c->link) close_link(i, true);
        if (r.kind == 1 && links_[i].p == n && links_[i].p_id == c->link) close_link(i, false);
      }
    } else if (auto* d = std::get_if<act::dial>(&a)) {
      auto* ag = static_cast<core::agent*>(n);
      core::proxy* target = proxy_named(d->target);
      link_id aid = d->link;
      if (!target) {
        queue_.push_back({[this, ag, aid] {
          if (!alive_.contains(ag)) return;
          ag->on_link_down(aid, now_);
          after(ag);
        }});
        continue;
      }
      link l{ag, aid, target, next_link_++, true, true};
      links_.push_back(l);
      queue_.push_back({[this, p = target, pid = l.p_id, ag, aid] {
        if (alive_.contains(p)) {
          p->on_link_up(pid, now_);
          after(p);
        }
        if (alive_.contains(ag)) {
          ag->on_link_up(aid, now_);
          after(ag);
        }
      }});
    } else if (auto* dv = std::get_if<act::deliver>(&a)) {
      logs_[n].delivered.push_back(dv->msg);
      if (r.kind == 3 && dv->msg.kind == msg_kind::request && dv->msg.type == "echo") {
        message req = dv->msg;
        queue_.push_back({[this, n, req] {
          if (!alive_.contains(n)) return;
          n->reply(req, req.body, now_);
          after(n);
        }});
      }
    } else if (auto* cp = std::get_if<act::complete>(&a)) {
      auto& lg = logs_[n];
      ++lg.completions;
      lg.completed.insert_or_assign(cp->request, *cp);
    }
  }
}

bool fleet::run(std::size_t max_steps) {
  for (std::size_t i = 0; i < max_steps; ++i) {
    if (queue_.empty()) return true;
    event e = std::move(queue_.front());
    queue_.pop_front();
    e.fire();
  }
  return queue_.empty();
}

void fleet::tick_all() {
  for (const auto& r : refs_) {
    if (!alive_.contains(r.n)) continue;
    if (r.n->next_wake() <= now_) {
      r.n->tick(now_);
      after(r.n);
    }
  }
}

void fleet::advance(micros dt, micros step) {
  run();
  micros target = now_ + dt;
  while (now_ < target) {
    now_ = std::min(now_ + step, target);
    tick_all();
    if (!run()) throw std::runtime_error("event bound hit: a routing loop?");
  }
}

void fleet::kill_proxy(core::proxy* p) {
  for (std::size_t i = 0; i < links_.size(); ++i)
    if (links_[i].p == p) close_link(i, false);
  for (auto& [key, v] : subs_)
    std::erase_if(v, [&](const sub& x) { return x.who.n == p; });
  for (auto it = proxy_by_name_.begin(); it != proxy_by_name_.end();)
    it = it->second == p ? proxy_by_name_.erase(it) : std::next(it);
  alive_.erase(p);
}

void fleet::kill_agent(core::agent* a) {
  for (std::size_t i = 0; i < links_.size(); ++i)
    if (links_[i].a == a) close_link(i, true);  // the kernel resets the socket
  for (auto& [key, v] : subs_)
    std::erase_if(v, [&](const sub& x) { return x.who.n == a; });
  alive_.erase(a);
}

void fleet::kill_endpoint(core::endpoint* e) {
  for (auto& [key, v] : subs_)
    std::erase_if(v, [&](const sub& x) { return x.who.n == e; });
  alive_.erase(e);
}

void fleet::stop_endpoint(core::endpoint* e) {
  e->stop(now_);
  after(e);
}

void fleet::half_open(core::agent* a) {
  for (auto& l : links_) {
    if (l.a != a || !l.agent_open) continue;
    l.agent_open = false;  // the proxy side stays "up" and writes into the void
    queue_.push_back({[this, a, id = l.a_id] {
      if (!alive_.contains(a)) return;
      a->on_link_down(id, now_);
      after(a);
    }});
  }
}

const fleet::link& fleet::open_link_of(const core::agent* a) const {
  for (const auto& l : links_)
    if (l.a == a && l.agent_open && l.proxy_open) return l;
  throw std::logic_error("agent has no open link");
}

void fleet::inject_from_agent(core::agent* a, std::string frame) {
  const link& l = open_link_of(a);
  auto f = std::make_shared<std::string>(std::move(frame));
  queue_.push_back({[this, p = l.p, id = l.p_id, f] {
    if (!alive_.contains(p)) return;
    p->on_link_frame(id, f, now_);
    after(p);
  }});
}

void fleet::inject_to_agent(core::agent* a, std::string frame) {
  const link& l = open_link_of(a);
  auto f = std::make_shared<std::string>(std::move(frame));
  queue_.push_back({[this, a, id = l.a_id, f] {
    if (!alive_.contains(a)) return;
    a->on_link_frame(id, f, now_);
    after(a);
  }});
}

std::uint64_t fleet::request(core::node* n, const std::string& to, const std::string& type,
                             std::string body, micros timeout) {
  auto id = n->request(must(address::parse(to)), type, std::move(body), timeout, now_);
  if (!id) throw std::runtime_error("request refused: " + std::string(to_string(id.error())));
  after(n);
  return *id;
}

std::uint64_t fleet::send(core::node* n, const std::string& to, const std::string& type,
                          std::string body) {
  auto id = n->send(must(address::parse(to)), type, std::move(body), now_);
  if (!id) throw std::runtime_error("send refused: " + std::string(to_string(id.error())));
  after(n);
  return *id;
}

const act::complete* fleet::outcome(core::node* n, std::uint64_t id) {
  auto& lg = logs_[n];
  auto it = lg.completed.find(id);
  return it == lg.completed.end() ? nullptr : &it->second;
}

std::size_t fleet::deliveries(const address& from, std::uint64_t id) const {
  std::size_t count = 0;
  for (const auto& [n, lg] : logs_)
    for (const auto& m : lg.delivered)
      if (m.from == from && m.id == id) ++count;
  return count;
}

std::size_t fleet::malformed_total() const {
  std::size_t t = 0;
  for (const auto& r : refs_)
    t += r.n->stats().malformed;
  return t;
}

}  // namespace ccp::test
