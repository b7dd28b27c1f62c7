#include "core/backbone.hpp"

#include <algorithm>

#include "core/control.hpp"
#include "core/coverage.hpp"
#include "core/subject.hpp"

namespace ccp::core {

namespace {

// The routes of a sync reply, "HOST EPOCH AGENT ENDPOINT..." each, as the ccp.sync
// request's answer writes them, appended to `parts`.
void read_routes(const std::vector<std::string>& routes,
                 std::vector<route_directory::synced_route>& parts) {
  for (const std::string& r : routes) {
    std::vector<std::string_view> words;
    for (std::size_t at = 0; at <= r.size();) {
      std::size_t end = r.find(' ', at);
      if (end == std::string::npos) end = r.size();
      if (end > at) words.push_back(std::string_view(r).substr(at, end - at));
      at = end + 1;
    }
    if (words.size() < 2) continue;
    route_directory::synced_route s;
    s.host = words[0];
    for (char c : words[1])
      s.epoch = s.epoch * 10 + static_cast<std::uint64_t>(c - '0');
    if (words.size() > 2) s.on_host.agent = words[2];
    for (std::size_t k = 3; k < words.size(); ++k)
      s.on_host.endpoints.emplace_back(words[k]);
    parts.push_back(std::move(s));
  }
}

}  // namespace

backbone_node::backbone_node(address self, std::uint64_t seed)
    : node(std::move(self), seed), self_text_(self_.str()) {}

void backbone_node::subscribe_backbone(micros now) {
  // Every proxy heartbeats each heartbeat_interval: after one interval and a margin we
  // heard them all, and asked each whose count differs from ours for a sync.
  ready_at_ = now + heartbeat_interval + heartbeat_interval / 5;
  ready_bound_ = now + 3 * heartbeat_interval;
  auto sub = [this](const address& a) {
    push(act::subscribe{bus_kind::backbone, backbone_subject(a.view()), backbone_queue(a.view())});
  };
  sub(self_);
  sub(address::group(self_.type(), scope::any));
  sub(address::group(self_.type(), scope::all));
  sub(*address::host_group(self_.type(), self_.host(), scope::host_any));
  sub(*address::host_group(self_.type(), self_.host(), scope::host_all));
  push(act::subscribe{bus_kind::backbone, std::string(subject_route), {}});
  push(act::subscribe{bus_kind::backbone, std::string(subject_heartbeat), {}});
}

void backbone_node::announce_attach(std::string_view host, std::uint64_t epoch,
                                    const route_directory::members& m, micros now) {
  announce(subject_route, "ccp.route",
           flat_json_writer{}
               .add("op", "attach")
               .add("host", host)
               .add("epoch", epoch)
               .add("agent", m.agent)
               .add("endpoints", m.endpoints)
               .finish(),
           now);
}

void backbone_node::announce(std::string_view subject, std::string_view type, std::string body,
                             micros /*now*/) {
  message m;
  m.id = next_id();
  m.kind = msg_kind::notification;
  m.from = self_;
  m.to = address::group(role::proxy, scope::all);
  m.type = type;
  m.body = std::move(body);
  auto f = std::make_shared<std::string>();
  if (encode(m, *f)) push(act::publish{bus_kind::backbone, subject, std::move(f)});
}

void backbone_node::control(const frame_header& h, micros now) {
  std::string proxy = to_string(h.from);
  // Every control body is a flat JSON object ("{}" when it carries nothing).
  auto body = parse_flat_json(h.body);
  if (!body) {
    ++stats_.malformed;
    return;
  }
  // Routes, heartbeats and goodbyes are a proxy's announcements about itself: from
  // anyone else, or in another kind of message, they say nothing.
  const bool announced = h.kind == msg_kind::notification && h.from.type == role::proxy;
  if ((h.type == "ccp.route" || h.type == "ccp.hb" || h.type == "ccp.bye") && !announced) {
    ++stats_.dropped;
    return;
  }
  if (h.type == "ccp.route") {
    const std::string* op = body->string("op");
    const std::string* host = body->string("host");
    const std::uint64_t* epoch = body->number("epoch");
    if (!op || !host || !epoch) {
      ++stats_.malformed;
      return;
    }
    if (*op == "attach") {
      route_directory::members m;
      const std::string* agent = body->string("agent");
      const std::vector<std::string>* eps = body->strings("endpoints");
      if (agent) m.agent = *agent;
      if (eps) m.endpoints = *eps;
      if (dir_.attach(*host, *epoch, proxy, now, agent ? &m : nullptr) && proxy != self_text_)
        route_taken(*host, *epoch, now);
      expire_by(now + idle_timeout + 1);  // the announcement renewed the proxy's lease
    } else if (*op == "detach") {
      dir_.detach(*host, *epoch, proxy);
    }
  } else if (h.type == "ccp.hb") {
    const std::uint64_t* hosts = body->number("hosts");
    if (!hosts) return;
    // Our own heartbeat comes back too: it keeps our own lease in our directory, and
    // proves that we are still connected to the backbone.
    if (proxy == self_text_) last_own_heartbeat_ = now;
    // "open":0 says it takes no new agents (draining, cut off, revalidating): no proxy
    // rebalances towards it, nor while it is so (an older proxy sends no "open": open).
    const std::uint64_t* open = body->number("open");
    bool mismatch =
        dir_.heartbeat(proxy, *hosts, now, open == nullptr || *open != 0, body->number("digest"));
    if (auto l = lapsed_.find(proxy); l != lapsed_.end()) lapsed_.erase(l);  // back
    expire_by(now + idle_timeout + 1);
    bool asked = false;
    for (const auto& [id, r] : sync_requests_)
      asked = asked || r.proxy == proxy;
    if (mismatch && !asked && proxy != self_text_) {
      message m;
      m.kind = msg_kind::request;
      m.to = address::from_view(h.from);
      m.type = "ccp.sync";
      m.body = "{}";
      m.ttl_ms = static_cast<std::uint32_t>(idle_timeout / ms);
      if (auto id = originate_internal(std::move(m), now)) {
        sync_requests_[*id] = {proxy, now};
        expire_by(now + idle_timeout + 1);
      }
    }
  } else if (h.type == "ccp.sync" && h.kind == msg_kind::request) {
    auto routes = own_routes();
    std::size_t i = 0;
    do {
      // A route is "HOST EPOCH AGENT ENDPOINT...": ids hold no spaces (address tokens).
      std::vector<std::string> part;
      std::size_t bytes = 0;
      for (; i < routes.size() && bytes < sync_bytes_per_frame; ++i) {
        const auto& r = routes[i];
        std::string line = r.host + " " + std::to_string(r.epoch) + " " + r.on_host.agent;
        for (const auto& e : r.on_host.endpoints)
          line += " " + e;
        bytes += line.size() + 3;
        part.push_back(std::move(line));
      }
      message r;
      r.kind = msg_kind::response;
      r.to = address::from_view(h.from);
      r.correlation = h.id;
      r.type = "ccp.sync";
      const bool last = i >= routes.size();
      flat_json_writer w;
      w.add("routes", part).add("last", last ? 1 : 0);
      if (last) {
        // Who else a fresh member should hear from (sync_fleet), and whom it should not
        // wait for nor send an `any` by: the proxies silent here (any_target).
        std::vector<std::string> proxies{self_text_}, silent(lapsed_.begin(), lapsed_.end());
        dir_.for_each_load([&](const route_directory::proxy_load& p) {
          if (p.name == self_text_) return;
          if (now - p.last_seen >= any_fresh_bound)
            silent.emplace_back(p.name);
          else
            proxies.emplace_back(p.name);
        });
        w.add("proxies", proxies);
        if (!silent.empty()) w.add("silent", silent);
      }
      r.body = std::move(w).finish();
      (void)originate(std::move(r), now);
    } while (i < routes.size());
  } else if (h.type == "ccp.bye") {
    dir_.forget(proxy);
    if (auto l = lapsed_.find(proxy); l != lapsed_.end()) lapsed_.erase(l);  // it left the groups
  }
}

void backbone_node::sync_fleet(micros now) {
  message m;
  m.kind = msg_kind::request;
  m.to = address::group(role::proxy, scope::all);
  m.type = "ccp.sync";
  m.body = "{}";
  m.ttl_ms = static_cast<std::uint32_t>(idle_timeout / ms);
  if (auto id = originate_internal(std::move(m), now)) {
    fleet_ = {};
    fleet_.id = *id;
    fleet_.sent = now;
    expire_by(now + idle_timeout + 1);
  }
}

bool backbone_node::fleet_synced() const {
  if (fleet_.id == 0 || fleet_.answered.empty()) return false;
  return std::includes(fleet_.answered.begin(), fleet_.answered.end(), fleet_.named.begin(),
                       fleet_.named.end());
}

void backbone_node::fleet_reply(const message& m, micros now) {
  std::string proxy = m.from.str();
  if (m.from.type() != role::proxy || m.from.is_group()) return;
  auto body = parse_flat_json(m.body);
  if (m.kind == msg_kind::error || !body || !body->strings("routes")) {
    fleet_.parts.erase(proxy);
    fleet_.answered.insert(proxy);  // it has nothing to say; wait for no more of it
    check_ready(now);
    return;
  }
  auto& parts = fleet_.parts[proxy];
  read_routes(*body->strings("routes"), parts);
  const std::uint64_t* last = body->number("last");
  if (!last || *last != 1) return;
  dir_.sync(proxy, parts, now);
  expire_by(now + idle_timeout + 1);
  for (const auto& s : parts)
    if (const auto* r = dir_.find(s.host); r && r->proxy != self_text_)
      route_taken(s.host, r->epoch, now);
  fleet_.parts.erase(proxy);
  fleet_.answered.insert(proxy);
  if (const auto* named = body->strings("proxies"))
    for (const auto& p : *named)
      fleet_.named.insert(p);
  // Silent there (stopped, or dead within its lease): routed around until we hear it.
  if (const auto* silent = body->strings("silent"))
    for (const auto& p : *silent)
      if (p != self_text_ && !fleet_.answered.contains(p) && !dir_.heard(p, now, any_fresh_bound))
        lapsed_.insert(p);
  check_ready(now);
}

void backbone_node::control_reply(const message& m, micros now) {
  if (fleet_.id != 0 && m.correlation == fleet_.id) {
    fleet_reply(m, now);
    return;
  }
  auto req = sync_requests_.find(m.correlation);
  if (req == sync_requests_.end()) return;
  std::string proxy = req->second.proxy;
  auto done = [&] {
    sync_parts_.erase(proxy);
    sync_requests_.erase(req);
    end_internal(m.correlation);
    check_ready(now);
  };
  auto body = parse_flat_json(m.body);
  if (m.kind == msg_kind::error || !body || !body->strings("routes")) {
    done();
    return;
  }
  auto& parts = sync_parts_[proxy];
  read_routes(*body->strings("routes"), parts);
  const std::uint64_t* last = body->number("last");
  if (last && *last == 1) {
    dir_.sync(proxy, parts, now);
    expire_by(now + idle_timeout + 1);
    // A sync can reveal that a newer attachment took one of our hosts while we did not
    // hear its announcement (we were partitioned): fence now.
    for (const auto& s : parts)
      if (const auto* r = dir_.find(s.host); r && r->proxy != self_text_)
        route_taken(s.host, r->epoch, now);
    done();
  }
}

void backbone_node::check_ready(micros now) {
  if (ready_at_ == never) return;  // said already, or not started
  const bool early = fleet_synced() && !syncing();
  if (!early && (now < ready_at_ || (syncing() && now < ready_bound_))) return;
  learnt_ = true;
  if (!may_be_ready(now)) return;  // the role's own reason (a claim) holds ready back
  ready_at_ = ready_bound_ = never;
  push(act::ready{});
}

void backbone_node::relearn(micros now) {
  learnt_ = false;
  relearn_at_ = now + heartbeat_interval + heartbeat_interval / 5;
}

void backbone_node::expire_by(micros t) {
  next_expire_check_ = std::min(next_expire_check_, t);
}

void backbone_node::backbone_tick(micros now) {
  if (now >= next_expire_check_) {
    // Our own lease lapses too when our heartbeats do not come back (the bus is down), but
    // the hosts we hold stay ours: put them back, or no announcement ever will.
    for (const std::string& gone : dir_.expire(now)) {
      if (gone == self_text_)
        dir_.sync(self_text_, own_routes(), now);
      else
        lapsed_.insert(gone);  // dead, or stopped and still in the bus's queue groups
    }
    // A sync that got no full answer in idle_timeout is given up, so it can be asked again.
    micros next = dir_.next_expiry();
    for (auto it = sync_requests_.begin(); it != sync_requests_.end();) {
      if (now - it->second.sent <= idle_timeout) {
        next = std::min(next, it->second.sent + idle_timeout + 1);
        ++it;
        continue;
      }
      sync_parts_.erase(it->second.proxy);
      end_internal(it->first);
      it = sync_requests_.erase(it);
    }
    // The fleet's sync ends with the last answer it could get.
    if (fleet_.id != 0 && now - fleet_.sent > idle_timeout) {
      end_internal(fleet_.id);
      fleet_ = {};
    }
    if (fleet_.id != 0) next = std::min(next, fleet_.sent + idle_timeout + 1);
    // A silent proxy is dropped when its lease ends, give or take expiry_precision: the
    // next check is the first lease's end, but no sooner than that (each check scans
    // every proxy, and with many proxies one lease or another ends all the time).
    next_expire_check_ = next == never ? never : std::max(next, now + expiry_precision);
  }
  if (now >= relearn_at_) {
    learnt_ = true;
    relearn_at_ = never;
  }
  check_ready(now);
}

micros backbone_node::backbone_wake() const {
  return std::min({next_expire_check_, syncing() ? ready_bound_ : ready_at_, relearn_at_});
}

void backbone_node::route_backbone(frame_buf f, const frame_header& h, micros now) {
  const address_view& to = h.to;
  if (to.type == role::agent || to.type == role::endpoint) {
    bool reachable = (to.form == scope::any || to.form == scope::all)
                         ? dir_.hosts() > 0
                         : dir_.find(to.host) != nullptr;
    // An endpoint group needs a host with an endpoint (or one whose members were not
    // announced): no proxy subscribes the group's subject otherwise, and it would time out.
    if (reachable && to.type == role::endpoint && (to.form == scope::any || to.form == scope::all))
      reachable = std::any_of(dir_.routes().begin(), dir_.routes().end(), [](const auto& r) {
        return r.second.on_host.agent.empty() || !r.second.on_host.endpoints.empty();
      });
    if (!reachable && !learnt_) {
      // Our directory is still empty or partial (just started): the host may well be
      // attached elsewhere. Its proxy, or the group's, takes it; else the deadline answers.
      CCP_MARK(backbone_unlearnt_publish);
    } else if (!reachable) {
      bounce(h, errc::unreachable, "no proxy holds " + to_string(to), now);
      return;
    }
  }
  if (to.form == scope::any && to.type != role::mgmt) {
    if (const subject_text* proxy = any_target(to.type, now)) {
      push(act::publish{bus_kind::backbone, *proxy, std::move(f)});
      return;
    }
  }
  push(act::publish{bus_kind::backbone, backbone_subject_text(to), std::move(f)});
}

const subject_text* backbone_node::any_target(role type, micros now) {
  if (!learnt_ || sabotage_.any_over_proxies || sabotage_.empty_proxy_takes_any) [[unlikely]]
    return nullptr;
  any_choice& c = any_choice_[type == role::agent ? 0 : type == role::endpoint ? 1 : 2];
  if (c.version != dir_.version() || now >= c.valid_until) {
    c.version = dir_.version();
    c.valid_until = never;
    c.someone_silent = false;
    c.upto.clear();
    c.subjects.clear();
    std::uint64_t sum = 0;
    dir_.for_each_load([&](const route_directory::proxy_load& p) {
      const std::uint64_t w = type == role::agent      ? p.hosts
                              : type == role::endpoint ? p.endpoints
                                                       : 1;
      // Silent, with members or not: it stays in whatever queue group it was in.
      if (now - p.last_seen >= any_fresh_bound) {
        c.someone_silent = true;
        return;
      }
      c.valid_until = std::min(c.valid_until, p.last_seen + any_fresh_bound);
      if (!p.open || w == 0) return;
      auto a = address::parse(p.name);
      if (!a) return;  // a peer's name that is no address (never: it announced it)
      sum += w;
      c.upto.push_back(sum);
      c.subjects.push_back(backbone_subject_text(a->view()));
    });
  }
  if ((!c.someone_silent && lapsed_.empty()) || c.upto.empty()) return nullptr;
  CCP_MARK(backbone_any_around_silent_proxy);
  const std::uint64_t r = rng_.below(c.upto.back());
  const auto at = std::upper_bound(c.upto.begin(), c.upto.end(), r);
  return &c.subjects[static_cast<std::size_t>(at - c.upto.begin())];
}

std::optional<std::vector<address>> backbone_node::expected_members(const address& to) const {
  const bool one_host = to.form() == scope::host_all;
  std::vector<address> out;
  auto add = [&out](std::expected<address, parse_error> a) {
    if (a) out.push_back(std::move(*a));
  };
  if (!learnt_) return std::nullopt;  // members we have not heard of yet may exist
  switch (to.type()) {
    case role::mgmt:
      return std::nullopt;
    case role::proxy:
      dir_.for_each_proxy([&](const std::string& name) {
        auto a = address::parse(name);
        if (a && (!one_host || a->host() == to.host())) out.push_back(std::move(*a));
      });
      break;
    case role::agent:
    case role::endpoint:
      for (const auto& [host, r] : dir_.routes()) {
        if (one_host && host != to.host()) continue;
        if (r.on_host.agent.empty()) return std::nullopt;  // not announced: unknown
        if (to.type() == role::agent) {
          add(address::one(role::agent, host, r.on_host.agent));
        } else {
          for (const auto& e : r.on_host.endpoints)
            add(address::one(role::endpoint, host, e));
        }
      }
      break;
  }
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace ccp::core
