#include "core/node.hpp"

#include <algorithm>

#include "core/control.hpp"
#include "core/coverage.hpp"
#include "core/members.hpp"

namespace ccp::core {

std::string ping_body(const address& self) {
  return flat_json_writer{}.add("role", to_string(self.type())).add("address", self.str()).finish();
}

node::node(address self, std::uint64_t seed)
    : self_(std::move(self)), rng_(seed), last_id_(first_message_id(seed)) {}

void node::handle(event&& e, micros now) {
  struct dispatch {
    node& n;
    micros now;
    void operator()(in::start&) const { n.start(now); }
    void operator()(in::stop&) const { n.stop(now); }
    void operator()(in::bus_frame& b) const { n.on_bus(b.subject, std::move(b.frame), now); }
    void operator()(in::link_up& l) const { n.on_link_up(l.link, now); }
    void operator()(in::link_frame& l) const { n.on_link_frame(l.link, std::move(l.frame), now); }
    void operator()(in::link_down& l) const { n.on_link_down(l.link, now); }
    void operator()(in::link_flushed& l) const { n.on_link_flushed(l.link, l.frames); }
  };
  std::visit(dispatch{*this, now}, e);
}

void node::serve(std::string_view type) {
  handled_.emplace(type);
}

std::expected<std::uint64_t, errc> node::originate(message m, micros now) {
  if (m.id == 0) m.id = next_id();
  m.from = self_;
  auto f = std::make_shared<std::string>();
  f->reserve(encoded_size(m));
  if (auto ok = encode(m, *f); !ok) return std::unexpected(ok.error());
  route_out(f, header_of_encoded(m, *f), now);
  return m.id;
}

std::expected<std::uint64_t, errc> node::originate_internal(message m, micros now) {
  const std::uint64_t id = next_id();
  m.id = id;
  internal_.insert(id);
  auto r = originate(std::move(m), now);
  if (!r) internal_.erase(id);
  return r;
}

std::expected<std::uint64_t, errc> node::send(const address& to, std::string_view type,
                                              std::string body, micros now) {
  if (!valid_type(type) || is_control_type(type)) return std::unexpected(errc::bad_request);
  message m;
  m.id = next_id();
  m.kind = msg_kind::notification;
  m.to = to;
  m.type = type;
  m.body = std::move(body);
  // Remembered before routing: routing may answer it at once (unreachable).
  if (notifications_.size() - notifications_head_ >= max_pending_requests) forget_notifications(1);
  notifications_.emplace_back(m.id, now);
  return originate(std::move(m), now);
}

void node::forget_notifications(std::size_t n) {
  notifications_head_ += n;
  if (notifications_head_ == notifications_.size()) {
    notifications_.clear();
    notifications_head_ = 0;
  } else if (notifications_head_ > notifications_.size() / 2) {  // amortized O(1) a send
    notifications_.erase(notifications_.begin(),
                         notifications_.begin() + static_cast<std::ptrdiff_t>(notifications_head_));
    notifications_head_ = 0;
  }
}

bool node::notified(std::uint64_t id, micros now) {
  std::size_t expired = 0;
  while (notifications_head_ + expired < notifications_.size() &&
         now - notifications_[notifications_head_ + expired].second > notification_error_window)
    ++expired;
  if (expired > 0) forget_notifications(expired);
  const auto first = notifications_.begin() + static_cast<std::ptrdiff_t>(notifications_head_);
  auto it = std::lower_bound(first, notifications_.end(), id,
                             [](const auto& n, std::uint64_t v) { return n.first < v; });
  return it != notifications_.end() && it->first == id;
}

std::expected<std::uint64_t, errc> node::request(const address& to, std::string_view type,
                                                 std::string body, micros timeout, micros now) {
  if (!valid_type(type) || is_control_type(type)) return std::unexpected(errc::bad_request);
  if (pending_.size() >= max_pending_requests) return std::unexpected(errc::overloaded);
  if (timeout <= 0) timeout = default_request_timeout;
  message m;
  m.id = next_id();
  m.kind = msg_kind::request;
  m.to = to;
  m.type = type;
  m.ttl_ms = static_cast<std::uint32_t>(std::min<micros>(timeout / ms + 1, UINT32_MAX));
  m.body = std::move(body);
  pending p;
  p.deadline = now + timeout;
  // `any` forms have one answer; `all` forms wait for their members when this node knows
  // them, else gather until the deadline.
  p.group = to.form() == scope::all || to.form() == scope::host_all;
  p.target = to.type();
  if (p.group) {
    if (auto members = expected_members(to)) {
      p.known = true;
      p.waiting = members->size();
      p.members.reserve(members->size());
      for (auto& a : *members)
        p.members.push_back(act::member_result{std::move(a)});
    }
  }
  const bool empty_group = p.known && p.members.empty();
  // Registered before routing: routing may complete it at once (unreachable, local reply).
  auto [at, added] = pending_.emplace(m.id, std::move(p));
  deadlines_.emplace(now + timeout, m.id);
  auto id = m.id;
  if (empty_group) {  // nobody to ask: it fails now, and nothing is sent
    finish_group(id, at->second);
    return id;
  }
  if (auto r = originate(std::move(m), now); !r) {
    deadlines_.erase({now + timeout, id});
    pending_.erase(id);
    return std::unexpected(r.error());
  }
  return id;
}

void node::reply(const message& req, std::string body, micros now) {
  if (req.kind != msg_kind::request) return;
  message m;
  m.kind = msg_kind::response;
  m.to = req.from;
  m.correlation = req.id;
  m.type = req.type;
  m.body = std::move(body);
  (void)originate(std::move(m), now);
}

void node::reply_error(const message& req, errc code, std::string_view text, micros now) {
  if (req.kind != msg_kind::request && req.kind != msg_kind::notification) return;
  message m;
  m.kind = msg_kind::error;
  m.to = req.from;
  m.correlation = req.id;
  m.type = req.type;
  m.code = code;
  m.text = text.substr(0, max_text_bytes);
  ++stats_.errors_sent;
  (void)originate(std::move(m), now);
}

std::optional<frame_header> node::completed(const frame_header& h) {
  frame_header c = h;
  if (check_deferred(c)) return c;
  ++stats_.malformed;
  return std::nullopt;
}

void node::bounce(const frame_header& h, errc code, std::string_view text, micros now,
                  bool came_back) {
  if (h.kind == msg_kind::response || h.kind == msg_kind::error) {
    ++stats_.dropped;
    return;
  }
  if (!fully_checked(h)) {  // read for forwarding: checked only now
    if (auto c = completed(h)) bounce(*c, code, text, now, came_back);
    return;
  }
  message m;
  m.id = next_id();
  m.kind = msg_kind::error;
  m.from = self_;
  m.to = address::from_view(h.from);
  m.correlation = h.id;
  m.type = std::string(h.type);
  m.code = code;
  m.text = text.substr(0, max_text_bytes);
  ++stats_.errors_sent;
  if (address_equal::same(h.from, self_.view())) {
    // Our own message failed here: the outcome is local. It failed before it left, or at
    // us as one of its routers (a group's fan-out), which is any router's answer.
    CCP_MARK_IF(node_own_frame_failed_as_router, came_back);
    on_reply(std::move(m), now, !came_back);
    return;
  }
  (void)originate(std::move(m), now);
}

void node::accept(std::string_view frame, const frame_header& h, micros now) {
  // `h` was read from `frame` by the caller: the message is built from it, not parsed again.
  if (!fully_checked(h)) {  // read for forwarding, and it is for us
    if (auto c = completed(h)) accept(frame, *c, now);
    return;
  }
  if (h.kind == msg_kind::response || h.kind == msg_kind::error) {
    // A reply is for the node that asked: one addressed to a group (ccp://mgmt/any) or to
    // another member answers nothing of ours, whatever its correlation.
    if (!address_equal::same(h.to, self_.view())) {
      ++stats_.dropped;
      return;
    }
    on_reply(decode(frame, h), now);
    return;
  }
  if (h.type == members_type && h.kind == msg_kind::notification) {
    on_members(h);
    return;
  }
  if (is_control_type(h.type)) {
    control(h, now);
    return;
  }
  message m = decode(frame, h);
  if (m.kind == msg_kind::request) {
    if (m.type == "ping") {
      reply(m, ping_body(self_), now);
      return;
    }
    if (auto body = builtin(m)) {
      reply(m, std::move(*body), now);
      return;
    }
  }
  if (!handled_.contains(m.type)) {
    if (m.kind == msg_kind::request) {
      reply_error(m, errc::no_handler, "no handler for " + m.type + " at " + self_.str(), now);
    } else {
      ++stats_.dropped;
    }
    return;
  }
  ++stats_.delivered;
  push(act::deliver{std::move(m)});
}

void node::on_reply(message m, micros now, bool local) {
  if (internal_.contains(m.correlation)) {
    control_reply(m, now);
    return;
  }
  auto it = pending_.find(m.correlation);
  if (it == pending_.end()) {
    // An error answering one of the application's recent notifications is news for it;
    // any other reply is late (its request already ended), answers the core's own traffic
    // (announcements, heartbeats) or nothing we sent, and is dropped.
    if (m.kind == msg_kind::error && notified(m.correlation, now)) {
      push(act::deliver{std::move(m)});
    } else {
      ++stats_.dropped;
    }
    return;
  }
  pending& p = it->second;
  const std::uint64_t id = it->first;
  if (!p.group) {
    errc code = m.kind == msg_kind::error ? m.code : errc{};
    std::vector<message> replies;
    replies.push_back(std::move(m));
    finish(it->first, code, std::move(replies));
    return;
  }
  if (m.kind == msg_kind::error && local) {
    // Failed before it left this node (nothing reachable): no reply can come.
    errc code = m.code;
    for (auto& r : p.members) {
      if (r.result != act::member_result::answer::silent) continue;
      r.result = act::member_result::answer::unreachable;
      r.code = code;
    }
    std::vector<message> replies;
    replies.push_back(std::move(m));
    finish(id, code, std::move(replies), std::move(p.members));
    return;
  }
  if (!p.known && m.kind == msg_kind::error && m.code == errc::unreachable &&
      m.from.type() == role::proxy && p.target != role::proxy) {
    // A router said that no member of the group can be reached anywhere (its directory
    // knows none): no member will answer, so it ends now instead of at its deadline.
    std::vector<message> replies;
    replies.push_back(std::move(m));
    finish(id, errc::unreachable, std::move(replies));
    return;
  }
  if (p.known) account(p, m);
  p.replies.push_back(std::move(m));
  if (p.known && p.waiting == 0) finish_group(id, p);
}

void node::account(pending& p, const message& m) {
  using answer = act::member_result::answer;
  auto by_member = [](const act::member_result& r, const address& a) { return r.member < a; };
  auto it = std::lower_bound(p.members.begin(), p.members.end(), m.from, by_member);
  if (it != p.members.end() && it->member == m.from) {
    if (it->result != answer::silent) return;  // its first answer counts
    it->result = m.kind == msg_kind::error ? answer::error : answer::ok;
    it->code = m.kind == msg_kind::error ? m.code : errc{};
    --p.waiting;
    return;
  }
  // Not a member: a router's error. An agent speaks for its host (no such endpoint, none
  // at all); a proxy's error names no host, so its members stay silent until the deadline.
  if (m.kind != msg_kind::error || m.from.type() != role::agent) return;
  for (auto& r : p.members) {
    if (r.result != answer::silent || r.member.host() != m.from.host()) continue;
    CCP_MARK(group_member_unreachable);
    r.result = answer::unreachable;
    r.code = m.code;
    --p.waiting;
  }
}

void node::on_members(const frame_header& h) {
  // Only the routers on the way tell it: the proxy of our host, or our host's agent.
  if (h.from.type != role::proxy && h.from.type != role::agent) {
    ++stats_.dropped;
    return;
  }
  auto n = read_members_notice(h.body);
  if (!n) {
    ++stats_.malformed;
    return;
  }
  auto it = pending_.find(n->request);
  if (it == pending_.end() || !it->second.group || it->second.known ||
      (it->second.parts != 0 && it->second.parts != n->parts)) {
    ++stats_.dropped;  // its request ended, or knows its members, or a stray part
    return;
  }
  pending& p = it->second;
  for (auto& a : n->members) {
    if (a.type() != p.target) {
      ++stats_.malformed;
      return;
    }
  }
  p.parts = n->parts;
  std::move(n->members.begin(), n->members.end(), std::back_inserter(p.told));
  if (++p.parts_told < p.parts) return;
  CCP_MARK(group_members_told);
  std::sort(p.told.begin(), p.told.end());
  p.told.erase(std::unique(p.told.begin(), p.told.end()), p.told.end());
  p.known = true;
  p.waiting = p.told.size();
  p.members.reserve(p.told.size());
  for (auto& a : p.told)
    p.members.push_back(act::member_result{std::move(a)});
  p.told = {};
  for (const auto& r : p.replies)
    account(p, r);
  if (p.waiting == 0) finish_group(it->first, p);
}

void node::finish_group(std::uint64_t id, pending& p) {
  using answer = act::member_result::answer;
  errc code{};
  if (!p.known) {
    bool errors = std::any_of(p.replies.begin(), p.replies.end(),
                              [](const message& r) { return r.kind == msg_kind::error; });
    code = p.replies.empty() ? errc::timeout : errors ? errc::partial : errc{};
  } else {
    std::size_t ok = 0, answered = 0, unreachable = 0;
    for (const auto& r : p.members) {
      ok += r.result == answer::ok;
      answered += r.result == answer::ok || r.result == answer::error;
      unreachable += r.result == answer::unreachable;
    }
    if (p.members.empty() || unreachable == p.members.size())
      code = errc::unreachable;
    else if (ok == p.members.size())
      code = errc{};
    else if (answered == 0)
      code = errc::timeout;
    else
      code = errc::partial;
  }
  if (sabotage_.lax_groups && !p.replies.empty()) [[unlikely]]
    code = errc{};
  finish(id, code, std::move(p.replies), std::move(p.members));
}

void node::finish(std::uint64_t id, errc code, std::vector<message> replies,
                  std::vector<act::member_result> members) {
  auto it = pending_.find(id);
  if (it == pending_.end()) return;
  deadlines_.erase({it->second.deadline, id});
  pending_.erase(it);
  ++stats_.completed;
  if (sabotage_.double_complete) push(act::complete{id, code, replies, members});
  push(act::complete{id, code, std::move(replies), std::move(members)});
}

std::string_view act::to_string(member_result::answer a) noexcept {
  switch (a) {
    case member_result::answer::ok:
      return "ok";
    case member_result::answer::error:
      return "error";
    case member_result::answer::silent:
      return "silent";
    case member_result::answer::unreachable:
      return "unreachable";
  }
  return "unknown";
}

void node::abort_pending(errc code) {
  std::vector<std::uint64_t> ids;
  for (const auto& [id, p] : pending_)
    ids.push_back(id);
  std::sort(ids.begin(), ids.end());  // in request order, whatever the hashing
  for (auto id : ids) {
    pending& p = pending_.at(id);
    if (p.group && p.known && code == errc::unreachable) {
      // The members that did not answer cannot be reached now (our way out is gone): the
      // outcome is what the members make, as at a deadline.
      for (auto& m : p.members)
        if (m.result == act::member_result::answer::silent) {
          m.result = act::member_result::answer::unreachable;
          m.code = code;
        }
      finish_group(id, p);
    } else {
      finish(id, code, {}, std::move(p.members));
    }
  }
}

void node::tick(micros now) {
  while (!deadlines_.empty() && deadlines_.begin()->first <= now) {
    auto id = deadlines_.begin()->second;
    auto& p = pending_.at(id);
    if (p.group)
      finish_group(id, p);  // members not heard from stay silent
    else
      finish(id, errc::timeout, {});
  }
  role_tick(now);
}

micros node::next_wake() const {
  micros t = deadlines_.empty() ? never : deadlines_.begin()->first;
  return std::min(t, role_wake());
}

}  // namespace ccp::core
