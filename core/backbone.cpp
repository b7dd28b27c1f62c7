#include "core/backbone.hpp"

#include "core/control.hpp"
#include "core/subject.hpp"

namespace ccp::core {

backbone_node::backbone_node(address self, std::uint64_t seed)
    : node(std::move(self), seed), self_text_(self_.str()) {}

void backbone_node::subscribe_backbone() {
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
  if (h.type == "ccp.route") {
    const std::string* op = body->string("op");
    const std::string* host = body->string("host");
    const std::uint64_t* epoch = body->number("epoch");
    if (!op || !host || !epoch) {
      ++stats_.malformed;
      return;
    }
    if (*op == "attach") {
      if (dir_.attach(*host, *epoch, proxy, now) && proxy != self_text_)
        route_taken(*host, *epoch, now);
    } else if (*op == "detach") {
      dir_.detach(*host, *epoch, proxy);
    }
  } else if (h.type == "ccp.hb") {
    const std::uint64_t* hosts = body->number("hosts");
    if (!hosts) return;
    // Our own heartbeat comes back too: it keeps our own lease in our directory, and
    // proves that we are still connected to the backbone.
    if (proxy == self_text_) last_own_heartbeat_ = now;
    bool mismatch = dir_.heartbeat(proxy, *hosts, now);
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
      if (auto id = originate_internal(std::move(m), now)) sync_requests_[*id] = {proxy, now};
    }
  } else if (h.type == "ccp.sync" && h.kind == msg_kind::request) {
    auto routes = own_routes();
    std::size_t i = 0;
    do {
      std::vector<std::string> part;
      for (; i < routes.size() && part.size() < sync_routes_per_frame; ++i)
        part.push_back(routes[i].first + " " + std::to_string(routes[i].second));
      message r;
      r.kind = msg_kind::response;
      r.to = address::from_view(h.from);
      r.correlation = h.id;
      r.type = "ccp.sync";
      r.body =
          flat_json_writer{}.add("routes", part).add("last", i >= routes.size() ? 1 : 0).finish();
      (void)originate(std::move(r), now);
    } while (i < routes.size());
  } else if (h.type == "ccp.bye") {
    dir_.forget(proxy);
  }
}

void backbone_node::control_reply(const message& m, micros now) {
  auto req = sync_requests_.find(m.correlation);
  if (req == sync_requests_.end()) return;
  std::string proxy = req->second.proxy;
  auto done = [&] {
    sync_parts_.erase(proxy);
    sync_requests_.erase(req);
    end_internal(m.correlation);
  };
  auto body = parse_flat_json(m.body);
  if (m.kind == msg_kind::error || !body || !body->strings("routes")) {
    done();
    return;
  }
  auto& parts = sync_parts_[proxy];
  for (const std::string& r : *body->strings("routes")) {
    auto space = r.find(' ');
    if (space == std::string::npos) continue;
    std::uint64_t epoch = 0;
    for (char c : r.substr(space + 1))
      epoch = epoch * 10 + static_cast<std::uint64_t>(c - '0');
    parts.emplace_back(r.substr(0, space), epoch);
  }
  const std::uint64_t* last = body->number("last");
  if (last && *last == 1) {
    dir_.sync(proxy, parts, now);
    // A sync can reveal that a newer attachment took one of our hosts while we did not
    // hear its announcement (we were partitioned): fence now.
    for (const auto& [host, epoch] : parts)
      if (const auto* r = dir_.find(host); r && r->proxy != self_text_)
        route_taken(host, r->epoch, now);
    done();
  }
}

void backbone_node::backbone_tick(micros now) {
  if (now >= next_expire_check_ || next_expire_check_ == never) {
    dir_.expire(now);
    next_expire_check_ = now + heartbeat_interval;
    // A sync that got no full answer in idle_timeout is given up, so it can be asked again.
    for (auto it = sync_requests_.begin(); it != sync_requests_.end();) {
      if (now - it->second.sent <= idle_timeout) {
        ++it;
        continue;
      }
      sync_parts_.erase(it->second.proxy);
      end_internal(it->first);
      it = sync_requests_.erase(it);
    }
  }
}

micros backbone_node::backbone_wake() const {
  return next_expire_check_;
}

void backbone_node::route_backbone(frame_buf f, const frame_header& h, micros now) {
  const address_view& to = h.to;
  if (to.type == role::agent || to.type == role::endpoint) {
    bool reachable = (to.form == scope::any || to.form == scope::all)
                         ? dir_.hosts() > 0
                         : dir_.find(to.host) != nullptr;
    if (!reachable) {
      bounce(h, errc::unreachable, "no proxy holds " + to_string(to), now);
      return;
    }
  }
  push(act::publish{bus_kind::backbone, backbone_subject_text(to), std::move(f)});
}

std::size_t backbone_node::expected_replies(const address& to) const {
  if (to.type() == role::agent && to.form() == scope::all) return dir_.hosts();
  if (to.type() == role::agent && to.form() == scope::host_all) return 1;
  if (to.type() == role::proxy && to.form() == scope::all) return dir_.proxies();
  return 0;
}

}  // namespace ccp::core
