#include "core/agent.hpp"

#include <algorithm>
#include <charconv>
#include <iterator>

#include "core/control.hpp"
#include "core/coverage.hpp"
#include "core/members.hpp"
#include "core/subject.hpp"

namespace ccp::core {

micros next_delay(unsigned attempt, rng& r) noexcept {
  micros ceiling = backoff_cap;
  if (attempt < 32 && (backoff_base << attempt) < backoff_cap) ceiling = backoff_base << attempt;
  return r.between(0, ceiling);
}

agent::agent(agent_config cfg)
    : node(cfg.self, cfg.seed),
      cfg_(std::move(cfg)),
      endpoints_here_(role::endpoint, self_.host()) {
  if (cfg_.shuffle)  // Fisher-Yates with our generator: the same seed, the same order
    for (std::size_t i = cfg_.proxies.size(); i > 1; --i)
      std::swap(cfg_.proxies[i - 1], cfg_.proxies[rng_.below(i)]);
}

void agent::start(micros now) {
  push(act::subscribe{bus_kind::host, std::string(subject_agent_inbox), {}});
  // Endpoints that started before us, or knew our previous process, register now.
  notify_host_endpoints("ccp.agent-up", {});
  next_dial_ = now;
  next_expiry_scan_ = now + heartbeat_interval;
}

void agent::beat_host_bus() {
  // The endpoints' proof that we live (endpoint.hpp, agent_silence): one frame a beat for
  // the whole host, whatever its number of endpoints.
  notify_host_endpoints("ccp.hb", "{}");
}

void agent::notify_host_endpoints(std::string_view type, std::string body) {
  message m;
  m.id = next_id();
  m.kind = msg_kind::notification;
  m.from = self_;
  m.to = *address::host_group(role::endpoint, self_.host(), scope::host_all);
  m.type = std::string(type);
  m.body = std::move(body);
  auto f = std::make_shared<std::string>();
  if (encode(m, *f)) push(act::publish{bus_kind::host, subject_endpoints, std::move(f)});
}

void agent::stop(micros now) {
  if (status_ == link_status::up) {
    message m;
    m.id = next_id();
    m.kind = msg_kind::notification;
    m.from = self_;
    m.to = proxy_;
    m.type = "ccp.bye";
    auto f = std::make_shared<std::string>();
    if (encode(m, *f)) push(act::send{link_, std::move(f)});
  }
  if (status_ != link_status::down) push(act::close{link_, errc::shutting_down});
  if (cand_.status != link_status::down) push(act::close{cand_.link, errc::shutting_down});
  if (leaving_ != 0) push(act::close{leaving_, errc::shutting_down});
  cand_ = {};
  leaving_ = 0;
  moving_ = false;
  push(act::unsubscribe{bus_kind::host, std::string(subject_agent_inbox)});
  status_ = link_status::down;
  next_dial_ = next_heartbeat_ = handshake_deadline_ = next_expiry_scan_ = never;
  leaving_deadline_ = dedup_until_ = never;
  (void)now;
}

std::optional<std::size_t> agent::next_target(micros now, std::string_view not_this) {
  // The next target in order, skipping proxies that asked us to move, unless all did.
  const std::size_t n = cfg_.proxies.size();
  std::optional<std::size_t> first, chosen;
  for (std::size_t k = 0; k < n && !chosen; ++k) {
    std::size_t i = (next_target_ + k) % n;
    if (cfg_.proxies[i] == not_this) continue;
    if (!first) first = i;
    auto it = avoid_.find(cfg_.proxies[i]);
    if (it == avoid_.end() || it->second <= now) chosen = i;
  }
  return chosen ? chosen : first;
}

void agent::dial(micros now) {
  next_dial_ = never;
  if (cfg_.proxies.empty()) return;
  const std::size_t chosen = next_target(now, {}).value_or(next_target_ % cfg_.proxies.size());
  next_target_ = chosen + 1;
  target_ = cfg_.proxies[chosen];
  link_ = ++last_link_id_;
  status_ = link_status::connecting;
  inflight_ = 0;
  handshake_deadline_ = now + handshake_timeout;
  push(act::dial{link_, target_});
}

void agent::link_lost(micros now) {
  if (cand_.status != link_status::down) {
    // The move's link becomes the link: the old one is gone before the new one is up.
    link_ = cand_.link;
    status_ = cand_.status;
    target_ = cand_.target;
    epoch_ = cand_.epoch;
    hello_id_ = cand_.hello_id;
    handshake_deadline_ = cand_.deadline;
    inflight_ = cand_.inflight;
    endpoints_dirty_ = endpoints_dirty_ || cand_.endpoints_dirty;
    next_heartbeat_ = never;
    up_since_ = never;
    end_rebalance();  // this link is the move
    cand_ = {};
    dedup_until_ = now + handover_dedup;
    return;
  }
  status_ = link_status::down;
  inflight_ = 0;
  next_heartbeat_ = handshake_deadline_ = up_since_ = never;
  end_rebalance();  // whatever we move to now is a move
  next_dial_ = now + next_delay(attempt_, rng_);
  if (attempt_ < 32) ++attempt_;
}

std::optional<std::size_t> agent::move_target() const {
  const std::size_t n = cfg_.proxies.size();
  auto usable = [&](const std::string& p) {
    return p != target_ &&
           std::find(move_tried_.begin(), move_tried_.end(), p) == move_tried_.end();
  };
  for (std::size_t i = 0; i < n; ++i)
    if (auto k = known_.find(cfg_.proxies[i]);
        k != known_.end() && k->second == move_to_ && usable(cfg_.proxies[i]))
      return i;
  for (std::size_t j = 0; j < n; ++j) {
    const std::size_t i = (next_target_ + j) % n;
    if (usable(cfg_.proxies[i]) && !known_.contains(cfg_.proxies[i])) return i;
  }
  return std::nullopt;
}

void agent::end_rebalance() {
  move_to_.clear();
  move_tried_.clear();
  moving_ = false;
}

void agent::dial_candidate(micros now) {
  next_dial_ = never;
  if (!move_to_.empty()) {  // a move for balance: the named proxy, or nothing
    auto chosen = move_target();
    if (!chosen) {
      end_rebalance();
      return;
    }
    cand_ = candidate{};
    cand_.link = ++last_link_id_;
    cand_.status = link_status::connecting;
    cand_.target = cfg_.proxies[*chosen];
    cand_.deadline = now + handshake_timeout;
    push(act::dial{cand_.link, cand_.target});
    return;
  }
  auto chosen = next_target(now, target_);
  if (!chosen) return;  // no other proxy: stay until this one closes the link
  next_target_ = *chosen + 1;
  cand_ = candidate{};
  cand_.link = ++last_link_id_;
  cand_.status = link_status::connecting;
  cand_.target = cfg_.proxies[*chosen];
  cand_.deadline = now + handshake_timeout;
  push(act::dial{cand_.link, cand_.target});
}

void agent::candidate_failed(micros now) {
  if (!move_to_.empty()) move_tried_.push_back(cand_.target);
  cand_ = {};
  if (leaving_ == 0) dedup_until_ = now + handover_dedup;  // no overlap from this one
  if (!move_to_.empty() && moving_ && status_ == link_status::up) {
    next_dial_ = now;  // the next target that may be the named proxy, or we stay
  } else if (moving_ && status_ == link_status::up) {
    next_dial_ = now + next_delay(attempt_, rng_);
    if (attempt_ < 32) ++attempt_;
  }
}

void agent::on_link_up(link_id link, micros now) {
  if (link == cand_.link && cand_.status == link_status::connecting) {
    cand_.status = link_status::handshaking;
    cand_.epoch = cfg_.epoch_base + ++connects_;
    cand_.hello_id = send_hello(link, cand_.epoch, move_to_);
    if (cand_.hello_id != 0) ++cand_.inflight;
    cand_.endpoints_dirty = false;
    // From now on the candidate's proxy may hold the host too: remember what we forward.
    dedup_ = true;
    dedup_until_ = never;
    return;
  }
  if (link != link_ || status_ != link_status::connecting) {
    CCP_MARK(agent_late_dial_closed);
    push(act::close{link, errc{}});  // a late answer to a dial we gave up on
    return;
  }
  status_ = link_status::handshaking;
  last_rx_ = now;
  epoch_ = cfg_.epoch_base + ++connects_;
  endpoints_dirty_ = false;  // this hello carries the current list
  hello_id_ = send_hello(link_, epoch_);
  if (hello_id_ != 0) ++inflight_;
}

std::uint64_t agent::send_hello(link_id link, std::uint64_t epoch, std::string_view move_to) {
  message m;
  m.id = next_id();
  m.kind = msg_kind::request;
  m.from = self_;
  m.to = address::group(role::proxy, scope::any);
  m.type = "ccp.hello";
  m.ttl_ms = static_cast<std::uint32_t>(handshake_timeout / ms);
  flat_json_writer body;
  body.add("epoch", epoch).add("token", cfg_.token).add("endpoints", endpoint_ids());
  if (!move_to.empty()) body.add("move_to", move_to);
  m.body = body.finish();
  auto f = std::make_shared<std::string>();
  if (!encode(m, *f)) return 0;
  push(act::send{link, std::move(f)});
  return m.id;
}

void agent::promote(const frame_header& welcome, micros now) {
  if (leaving_ != 0) push(act::close{leaving_, errc{}});  // a move before the last one ended
  // Bye on the old link: its proxy stops reading it and closes it; until then what it
  // forwards still reaches the host (once: seen_before).
  message bye;
  bye.id = next_id();
  bye.kind = msg_kind::notification;
  bye.from = self_;
  bye.to = proxy_;
  bye.type = "ccp.bye";
  auto f = std::make_shared<std::string>();
  if (encode(bye, *f)) push(act::send{link_, std::move(f)});
  leaving_ = link_;
  leaving_deadline_ = now + handshake_timeout;
  link_ = cand_.link;
  target_ = cand_.target;
  epoch_ = cand_.epoch;
  hello_id_ = cand_.hello_id;
  inflight_ = cand_.inflight;
  const bool dirty = cand_.endpoints_dirty;
  cand_ = {};
  status_ = link_status::up;
  proxy_ = address::from_view(welcome.from);
  heartbeat_frame_.clear();  // addressed to the previous proxy
  handshake_deadline_ = never;
  last_rx_ = up_since_ = now;
  next_heartbeat_ = now + heartbeat_interval;
  end_rebalance();
  if (dirty) endpoints_changed(now);
}

bool agent::seen_before(const frame_header& h) {
  std::uint64_t k = 14695981039346656037ull;  // FNV-1a of the sender, then the id mixed in
  for (char c : h.from_text) {
    k ^= static_cast<unsigned char>(c);
    k *= 1099511628211ull;
  }
  k ^= h.id * 0x9e3779b97f4a7c15ull;
  if (seen_.contains(k)) return true;
  if (seen_.size() < handover_dedup_entries) seen_.insert(k);
  return false;
}

bool agent::endpoint_table::set(std::string_view id, endpoint_reg reg) {
  if (endpoint_reg* r = find(id)) {
    *r = std::move(reg);
    return false;
  }
  auto [it, added] = tree_.emplace(std::string(id), std::move(reg));
  index_.assign(std::string_view(it->first), &it->second);
  return added;
}

void agent::endpoint_table::erase(std::string_view id) {
  auto it = tree_.find(id);
  if (it == tree_.end()) return;
  index_.erase(id);
  tree_.erase(it);
}

void agent::on_link_down(link_id link, micros now) {
  if (link == cand_.link && cand_.status != link_status::down) {
    candidate_failed(now);
  } else if (link == leaving_ && leaving_ != 0) {
    leaving_ = 0;
    leaving_deadline_ = never;
    dedup_until_ = now + handover_dedup;
  } else if (link == link_ && status_ != link_status::down) {
    link_lost(now);
  }
}

void agent::on_link_flushed(link_id link, std::size_t frames) {
  if (link == link_)
    inflight_ -= std::min(frames, inflight_);
  else if (link == cand_.link)
    cand_.inflight -= std::min(frames, cand_.inflight);
}

// Inlined into both forwarding paths, as check_to is.
[[gnu::always_inline]] inline bool agent::check_to_here(frame_header& h) const {
  if (auto v = endpoints_here_.parse(h.to_text)) {
    h.to = *v;
    h.to_checked = true;
    return true;
  }
  return check_to(h);
}

void agent::on_link_frame(link_id link, frame_buf f, micros now) {
  if (link == cand_.link && cand_.status == link_status::handshaking) {
    auto h = read_header(*f, defer::forwarding);
    if (!h || !check_to_here(*h) || !check_deferred(*h)) {
      ++stats_.malformed;
      return;
    }
    if ((h->kind != msg_kind::response && h->kind != msg_kind::error) ||
        h->correlation != cand_.hello_id) {
      ++stats_.dropped;
      return;
    }
    known_[cand_.target] = to_string(h->from);  // who answers at that dial target
    if (h->kind == msg_kind::error) {           // it refused: we stay where we are
      CCP_MARK(agent_move_refused);
      push(act::close{cand_.link, h->code});
      candidate_failed(now);
      return;
    }
    promote(*h, now);
    return;
  }
  if (link == leaving_ && leaving_ != 0) {
    auto h = read_header(*f, defer::forwarding);
    if (!h || !check_to_here(*h)) {
      ++stats_.malformed;
      return;
    }
    if (is_control_type(h->type) && h->kind == msg_kind::notification && h->type != members_type)
      return;  // its hb
    CCP_MARK(agent_leaving_link_delivered);
    from_proxy(std::move(f), *h, now);
    return;
  }
  if (link != link_ || status_ == link_status::down) return;
  last_rx_ = now;
  // Forwarded by `to`, mostly to an endpoint of this host, which needs no parse of the host;
  // the sender is checked only if we answer it or take the frame.
  auto h = read_header(*f, defer::forwarding);
  if (!h || !check_to_here(*h) || (status_ == link_status::handshaking && !check_deferred(*h))) {
    ++stats_.malformed;
    return;
  }
  if (status_ == link_status::handshaking) {
    if ((h->kind != msg_kind::response && h->kind != msg_kind::error) ||
        h->correlation != hello_id_) {
      ++stats_.dropped;
      return;
    }
    if (h->kind == msg_kind::error) {
      push(act::close{link_, h->code});
      CCP_MARK(agent_hello_refused);
      link_lost(now);
      return;
    }
    status_ = link_status::up;
    proxy_ = address::from_view(h->from);
    known_[target_] = proxy_.str();
    heartbeat_frame_.clear();  // addressed to the previous proxy
    up_since_ = now;           // the backoff resets once this lasted stable_attachment
    handshake_deadline_ = never;
    next_heartbeat_ = now + heartbeat_interval;
    if (endpoints_dirty_) endpoints_changed(now);  // changed while the hello was in flight
    return;
  }
  if (status_ != link_status::up) return;
  if (is_control_type(h->type) && h->kind == msg_kind::notification &&
      h->type != members_type) {  // ccp.members is for a sender of this host: routed on
    if (!check_deferred(*h)) {    // as any frame that is for us
      ++stats_.malformed;
      return;
    }
    if (h->type == "ccp.drain") {
      CCP_MARK(agent_told_to_drain);
      // Move elsewhere (make-before-break), spread over a short random delay, and avoid
      // this proxy a while.
      avoid_[target_] = now + drain_avoid;
      move_to_.clear();  // a move for balance in progress becomes the drain's: it must end
      move_tried_.clear();
      if (!moving_) {
        moving_ = true;
        if (cand_.status == link_status::down) next_dial_ = now + rng_.between(0, move_spread);
      }
    } else if (h->type == "ccp.stay") {
      CCP_MARK(agent_told_to_stay);
      // The reason to move is gone (our proxy hears the backbone again). A move already
      // dialled may still end elsewhere, which costs nothing.
      avoid_.erase(target_);
      end_rebalance();
      if (cand_.status == link_status::down) next_dial_ = never;
    } else if (h->type == "ccp.move" && !moving_ && cand_.status == link_status::down) {
      // Our proxy holds more than its share: move to the one it names, if we can reach it
      // (make-before-break), spread like a drain's moves.
      auto body = parse_flat_json(h->body);
      const std::string* to = body ? body->string("to") : nullptr;
      if (to && !to->empty() && *to != proxy_.str()) {
        moving_ = true;
        move_to_ = *to;
        move_tried_.clear();
        next_dial_ = now + rng_.between(0, move_spread);
      }
    }
    return;  // ccp.hb: liveness only
  }
  from_proxy(std::move(f), *h, now);
}

// Inlined into on_link_frame, the forwarding path (as route is in the proxy).
[[gnu::always_inline]] inline void agent::from_proxy(frame_buf&& f, frame_header& h, micros now) {
  if (dedup_ && seen_before(h)) [[unlikely]] {
    CCP_MARK(agent_handover_duplicate_dropped);
    ++stats_.dropped;  // both proxies forwarded it during the move: the host has it
    return;
  }
  if (h.hops >= max_hops) {
    bounce(h, errc::hop_limit, "hop limit reached at " + self_.str(), now);
    return;
  }
  set_hops(*f, static_cast<std::uint8_t>(h.hops + 1));
  const address_view& to = h.to;
  if (to.type == role::agent && is_member(self_.view(), to)) {
    accept(*f, h, now);
  } else if (to.type == role::endpoint) {
    to_endpoints(std::move(f), h, now);
  } else {
    bounce(h, errc::unreachable, "not for this host: " + to_string(to), now);
  }
}

bool agent::local(const address_view& to) const {
  if (to.form == scope::any || to.form == scope::all) return false;  // fleet-wide: via proxy
  if (!same_bytes(to.host, self_.host())) return false;
  return to.type == role::endpoint || to.type == role::agent;
}

void agent::on_bus(std::string_view /*subject*/, frame_buf f, micros now) {
  // The sender is checked with the prefix of this host's endpoints, not parsed; so is a
  // destination on this host, and a fleet-wide group by check_to.
  auto h = read_header(*f, defer::forwarding);
  if (!h || !check_to_here(*h)) {
    ++stats_.malformed;
    return;
  }
  if (auto v = endpoints_here_.parse(h->from_text); v && v->form == scope::one) {
    h->from = *v;
    h->from_checked = true;
  } else {
    if (!check_from(*h)) {
      ++stats_.malformed;
    } else {
      ++stats_.dropped;  // only this host's endpoints speak on this bus
    }
    return;
  }
  if (is_control_type(h->type) && h->kind != msg_kind::response && h->kind != msg_kind::error) {
    if (check_deferred(*h))  // its replies name the type
      endpoint_control(*h, now);
    else
      ++stats_.malformed;
    return;
  }
  if (!endpoints_.contains(h->from.id)) {
    ++stats_.dropped;  // not registered (or expired): it is told so by its heartbeat
    return;
  }
  if (h->hops >= max_hops) {
    bounce(*h, errc::hop_limit, "hop limit reached at " + self_.str(), now);
    return;
  }
  set_hops(*f, static_cast<std::uint8_t>(h->hops + 1));
  route_from_host(std::move(f), *h, now);
}

void agent::route_out(frame_buf f, const frame_header& h, micros now) {
  route_from_host(std::move(f), h, now);
}

void agent::route_from_host(frame_buf&& f, const frame_header& h, micros now) {
  const address_view& to = h.to;
  if (!local(to)) {
    send_up(std::move(f), h, now);
    return;
  }
  if (to.form == scope::host_all && h.kind == msg_kind::request &&
      !address_equal::same(h.from, self_.view()))
    tell_members(h);  // an endpoint's group of this host: we know its members
  if (to.type == role::endpoint) {
    to_endpoints(std::move(f), h, now);
  } else if (is_member(self_.view(), to)) {
    accept(*f, h, now);
  } else {
    bounce(h, errc::unreachable, "no agent " + to_string(to) + " on this host", now);
  }
}

void agent::send_up(frame_ptr&& f, const frame_header& h, micros now) {
  if (status_ != link_status::up) {
    bounce(h, errc::unreachable, "agent " + self_.str() + " has no proxy link", now);
    return;
  }
  if (inflight_ >= link_queue_frames) {
    bounce(h, errc::overloaded, "link queue of " + self_.str() + " is full", now);
    return;
  }
  ++inflight_;
  ++stats_.forwarded;
  // Built in place: push() would move the action twice more (a variant visit each).
  actions().emplace_back(std::in_place_type<act::send>, link_, std::move(f));
}

void agent::to_endpoints(frame_buf&& f, const frame_header& h, micros now) {
  const address_view& to = h.to;
  frame_ptr shared = std::move(f);
  // A copy of `shared` per receiver of an `all`; the one receiver of the other forms
  // takes it (no reference count traffic).
  auto publish_to = [&](const endpoint_reg& reg) {
    ++stats_.forwarded;
    actions().emplace_back(std::in_place_type<act::publish>, bus_kind::host, reg.subject, shared);
  };
  auto publish_once = [&](const endpoint_reg& reg) {
    ++stats_.forwarded;
    actions().emplace_back(std::in_place_type<act::publish>, bus_kind::host, reg.subject,
                           std::move(shared));
  };
  if (to.form != scope::any && to.form != scope::all && !same_bytes(to.host, self_.host())) {
    bounce(h, errc::unreachable, "host " + std::string(to.host) + " is not this host", now);
    return;
  }
  switch (to.form) {
    case scope::one: {
      const endpoint_reg* reg = endpoints_.find(to.id);
      if (reg == nullptr) {
        bounce(h, errc::unreachable, "no endpoint " + to_string(to), now);
      } else if (sabotage_.misroute) [[unlikely]] {
        for (const auto& [id, each] : endpoints_)
          publish_to(each);
      } else {
        publish_once(*reg);
      }
      return;
    }
    case scope::any:
    case scope::host_any:
      if (endpoints_.empty()) {
        bounce(h, errc::unreachable, "no endpoint on host " + std::string(self_.host()), now);
      } else {
        auto it = std::next(endpoints_.begin(),
                            static_cast<std::ptrdiff_t>(rng_.below(endpoints_.size())));
        publish_once(it->second);
      }
      return;
    case scope::all:
    case scope::host_all:
      // This agent is the whole of a host group: with no endpoint, say so at once. (For
      // a fleet-wide `all`, other hosts may still answer.)
      if (endpoints_.empty() && to.form == scope::host_all) {
        bounce(h, errc::unreachable, "no endpoint on host " + std::string(self_.host()), now);
        return;
      }
      for (const auto& [id, reg] : endpoints_) {
        publish_to(reg);
        if (sabotage_.duplicate_delivery) [[unlikely]]
          publish_to(reg);
      }
      return;
  }
}

void agent::reply_instance(std::uint64_t nonce, const frame_header& h, msg_kind kind, errc code,
                           std::string text) {
  message m;
  m.id = next_id();
  m.kind = kind;
  m.from = self_;
  m.to = address::from_view(h.from);
  m.correlation = kind == msg_kind::notification ? 0 : h.id;
  m.type = kind == msg_kind::notification ? "ccp.unknown" : std::string(h.type);
  m.code = code;
  m.text = std::move(text);
  auto f = std::make_shared<std::string>();
  if (encode(m, *f))
    push(act::publish{bus_kind::host, endpoint_instance_subject(nonce), std::move(f)});
}

// Whether `body` is exactly the body an endpoint instance with `nonce` heartbeats with,
// {"nonce":N} as flat_json_writer writes it (endpoint::send_control).
static bool is_heartbeat_body(std::string_view body, std::uint64_t nonce) {
  constexpr std::string_view prefix = R"({"nonce":)";
  char digits[24];
  auto end = std::to_chars(digits, digits + sizeof digits, nonce).ptr;
  auto n = static_cast<std::size_t>(end - digits);
  return body.size() == prefix.size() + n + 1 && body.starts_with(prefix) && body.back() == '}' &&
         body.substr(prefix.size(), n) == std::string_view(digits, n);
}

void agent::endpoint_control(const frame_header& h, micros now) {
  // The common case first, without parsing the body: a heartbeat of a registered instance,
  // which is all that the parse below would conclude too.
  if (h.type == "ccp.hb" && h.from.form == scope::one) {
    endpoint_reg* reg = endpoints_.find(h.from.id);
    if (reg != nullptr && is_heartbeat_body(h.body, reg->nonce)) {
      reg->last_seen = now;
      return;
    }
  }
  auto body = parse_flat_json(h.body);
  const std::uint64_t* nonce = body ? body->number("nonce") : nullptr;
  if (!nonce || h.from.form != scope::one) {
    ++stats_.malformed;
    return;
  }
  endpoint_reg* reg = endpoints_.find(h.from.id);
  bool mine = reg != nullptr && reg->nonce == *nonce;
  if (h.type == "ccp.register") {
    if (reg != nullptr && !mine && now - reg->last_seen <= idle_timeout) {
      reply_instance(*nonce, h, msg_kind::error, errc::rejected,
                     to_string(h.from) + " is held by another live instance");
      return;
    }
    if (reg == nullptr && endpoints_.size() >= max_endpoints_per_agent) {
      reply_instance(*nonce, h, msg_kind::error, errc::overloaded,
                     "too many endpoints on this host");
      return;
    }
    bool changed =
        endpoints_.set(h.from.id, endpoint_reg{*nonce, now, endpoint_subject(h.from.id)});
    reply_instance(*nonce, h, msg_kind::response, errc{}, {});
    if (changed) endpoints_changed(now);
  } else if (h.type == "ccp.hb") {
    if (mine)
      reg->last_seen = now;
    else
      reply_instance(*nonce, h, msg_kind::notification, errc{}, {});
  } else if (h.type == "ccp.unregister" && mine) {
    endpoints_.erase(h.from.id);
    endpoints_changed(now);
  }
}

std::vector<std::string> agent::endpoint_ids() const {
  std::vector<std::string> ids;
  ids.reserve(endpoints_.size());
  for (const auto& [id, reg] : endpoints_)
    ids.push_back(id);
  return ids;
}

void agent::endpoints_changed(micros /*now*/) {
  if (cand_.status == link_status::handshaking) cand_.endpoints_dirty = true;
  if (status_ != link_status::up) {
    endpoints_dirty_ = true;  // sent on welcome, unless the next hello carries it
    return;
  }
  endpoints_dirty_ = false;
  message m;
  m.id = next_id();
  m.kind = msg_kind::notification;
  m.from = self_;
  m.to = proxy_;
  m.type = "ccp.endpoints";
  m.body = flat_json_writer{}.add("endpoints", endpoint_ids()).finish();
  auto f = std::make_shared<std::string>();
  if (encode(m, *f)) {
    ++inflight_;
    push(act::send{link_, std::move(f)});
  }
}

void agent::control(const frame_header& /*h*/, micros /*now*/) {
  // Control from the proxy is handled on the link; none is addressed to the application.
}

void agent::tell_members(const frame_header& h) {
  const endpoint_reg* reg = endpoints_.find(h.from.id);
  auto members = expected_members(address::from_view(h.to));
  if (reg == nullptr || !members) return;
  for (auto& m : members_notices(self_, address::from_view(h.from), h.id, *members)) {
    m.id = next_id();
    auto f = std::make_shared<std::string>();
    if (encode(m, *f))  // before the request: the endpoint reads it first
      push(act::publish{bus_kind::host, reg->subject, std::move(f)});
  }
}

std::optional<std::vector<address>> agent::expected_members(const address& to) const {
  if (to.form() != scope::host_all || to.host() != self_.host()) return std::nullopt;
  if (to.type() != role::agent && to.type() != role::endpoint) return std::nullopt;
  std::vector<address> out;
  if (to.type() == role::agent) {
    out.push_back(self_);
    return out;
  }
  for (const auto& [id, reg] : endpoints_)
    if (auto a = address::one(role::endpoint, self_.host(), id)) out.push_back(std::move(*a));
  std::sort(out.begin(), out.end());
  return out;
}

std::optional<std::string> agent::builtin(const message& m) {
  if (m.type != "endpoints") return std::nullopt;
  return flat_json_writer{}.add("agent", self_.str()).add("endpoints", endpoint_ids()).finish();
}

void agent::role_tick(micros now) {
  if (now >= next_dial_) {
    if (status_ == link_status::down)
      dial(now);
    else if (status_ == link_status::up && moving_ && cand_.status == link_status::down)
      dial_candidate(now);
    else
      next_dial_ = never;
  }
  if (now >= cand_.deadline && cand_.status != link_status::down) {
    push(act::close{cand_.link, errc::timeout});
    candidate_failed(now);
  }
  if (now >= leaving_deadline_ && leaving_ != 0) {
    push(act::close{leaving_, errc::timeout});
    leaving_ = 0;
    leaving_deadline_ = never;
    dedup_until_ = now + handover_dedup;
  }
  if (now >= dedup_until_) {
    dedup_until_ = never;
    if (leaving_ == 0 && cand_.status == link_status::down) {
      dedup_ = false;
      seen_.clear();
    }
  }
  if (status_ == link_status::up && attempt_ > 0 && !moving_ &&
      now - up_since_ >= stable_attachment)
    attempt_ = 0;
  if (now >= handshake_deadline_ &&
      (status_ == link_status::connecting || status_ == link_status::handshaking)) {
    push(act::close{link_, errc::timeout});
    link_lost(now);
  }
  if (status_ == link_status::up) {
    if (now - last_rx_ > idle_timeout) {  // half-open: the proxy went silent
      push(act::close{link_, errc::timeout});
      link_lost(now);
    } else if (now >= next_heartbeat_) {
      // The same frame every time but for its id: encoded once per welcoming proxy.
      if (heartbeat_frame_.empty()) heartbeat_frame_ = link_heartbeat(self_, proxy_);
      if (!heartbeat_frame_.empty()) {
        ++inflight_;
        actions().emplace_back(std::in_place_type<act::send>, link_,
                               restamp(heartbeat_frame_, next_id()));
      }
      next_heartbeat_ = now + heartbeat_interval;
    }
  }
  if (now >= next_expiry_scan_) {
    next_expiry_scan_ = now + heartbeat_interval;
    beat_host_bus();
    if (endpoints_.erase_if(
            [now](const endpoint_reg& reg) { return now - reg.last_seen > idle_timeout; }))
      endpoints_changed(now);
  }
}

micros agent::role_wake() const {
  micros t = std::min({next_dial_, handshake_deadline_, next_expiry_scan_, cand_.deadline,
                       leaving_deadline_, dedup_until_});
  if (status_ == link_status::up && attempt_ > 0 && !moving_)
    t = std::min(t, up_since_ + stable_attachment);
  if (status_ == link_status::up) t = std::min({t, next_heartbeat_, last_rx_ + idle_timeout + 1});
  return t;
}

}  // namespace ccp::core
