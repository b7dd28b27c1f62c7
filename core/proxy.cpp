#include "core/proxy.hpp"

#include <algorithm>

#include "core/control.hpp"
#include "core/coverage.hpp"
#include "core/members.hpp"
#include "core/subject.hpp"

namespace ccp::core {

bool same_secret(std::string_view a, std::string_view b) noexcept {
  // Length first, then every byte: no early exit that leaks how much matched.
  if (a.size() != b.size()) return false;
  unsigned char diff = 0;
  for (std::size_t i = 0; i < a.size(); ++i)
    diff |= static_cast<unsigned char>(a[i] ^ b[i]);
  return diff == 0;
}

bool shared_secret_verifier::verify(const address&, std::string_view token) const {
  return same_secret(token, secret_);
}

void proxy::link_set::insert(link_id l) {
  if (pos.contains(l)) return;
  pos.emplace(l, items.size());
  items.push_back(l);
}

void proxy::link_set::erase(link_id l) {
  auto it = pos.find(l);
  if (it == pos.end()) return;
  std::size_t i = it->second;
  pos.erase(it);
  if (i + 1 != items.size()) {
    items[i] = items.back();
    pos[items[i]] = i;
  }
  items.pop_back();
}

proxy::proxy(address self, std::uint64_t seed, const credential_verifier& verifier)
    : backbone_node(std::move(self), seed), verifier_(verifier) {
  for (int r = 0; r < role_count; ++r)
    for (scope form : {scope::any, scope::all})
      group_subjects_[group_index(static_cast<role>(r), form)] =
          backbone_subject_text(address::group(static_cast<role>(r), form).view());
  self_subject_ = backbone_subject_text(self_.view());
}

void proxy::start(micros now) {
  subscribe_backbone(now);
  started_ = last_own_heartbeat_ = now;
  update_group_subscriptions();  // none while we hold no agents (unless sabotaged)
  next_heartbeat_ = now;
  overdue_at_ = now + stall_threshold;
  next_link_scan_ = now + heartbeat_interval;
  settled_from_ = now;
  next_rebalance_ = now + rebalance_settle;
}

link_id proxy::pick(const link_set& s) {
  return s.items[rng_.below(s.items.size())];
}

link_id proxy::pick_endpoint_link() {
  const auto& items = with_endpoints_.items;
  if (sabotage_.any_over_proxies) [[unlikely]]
    return pick(with_endpoints_);
  if (endpoint_weights_stale_) {
    endpoint_weights_.resize(items.size());
    std::uint64_t sum = 0;
    for (std::size_t i = 0; i < items.size(); ++i) {
      const auto* ls = links_.find(items[i]);
      sum += ls ? std::max<std::size_t>(1, (*ls)->endpoints.size()) : 1;
      endpoint_weights_[i] = sum;
    }
    endpoint_weights_stale_ = false;
  }
  const std::uint64_t r = rng_.below(endpoint_weights_.back());
  const auto at = std::upper_bound(endpoint_weights_.begin(), endpoint_weights_.end(), r);
  return items[static_cast<std::size_t>(at - endpoint_weights_.begin())];
}

any_plan plan_any(const std::vector<std::uint64_t>& weights, std::size_t self) {
  any_plan plan;
  const std::uint64_t k = weights.size();
  std::uint64_t total = 0;
  for (std::uint64_t w : weights)
    total += w;
  if (k < 2 || self >= k) return plan;  // alone in the group: serve (keep == total == 0)
  // In units of 1/(k*W): the queue group brings W to each proxy, and each should serve
  // k*w. Keep k*w of W; the excess over W of the others is where the rest goes.
  plan.total = total;
  plan.keep = std::min(k * weights[self], total);
  std::uint64_t sum = 0;
  for (std::size_t j = 0; j < k; ++j) {
    if (j == self || k * weights[j] <= total) continue;
    sum += k * weights[j] - total;
    plan.excess.emplace_back(sum, j);
  }
  if (plan.excess.empty()) plan.keep = plan.total;  // nobody to give our excess to: serve
  return plan;
}

void proxy::update_share(any_share& s, role type) {
  s = any_share{};
  s.version = dir_.version();
  if (!open()) return;  // a proxy on its way out serves what it takes: keep == total == 0
  std::vector<std::uint64_t> weights;
  std::vector<std::string_view> names;
  std::size_t self = SIZE_MAX;
  dir_.for_each_load([&](const route_directory::proxy_load& p) {
    const std::uint64_t w = type == role::agent ? p.hosts : p.endpoints;
    if (!p.open || w == 0) return;
    if (p.name == self_text_) self = weights.size();
    weights.push_back(w);
    names.push_back(p.name);
  });
  // Not in the directory's group yet (it lags us): serve what we take.
  const any_plan plan = plan_any(weights, self);
  s.keep = plan.keep;
  s.total = plan.total;
  for (const auto& [upto, j] : plan.excess) {
    auto a = address::parse(names[j]);
    if (!a) {  // a peer's name that is no address (never: it announced it): serve
      s.keep = s.total;
      s.excess.clear();
      return;
    }
    s.excess.emplace_back(upto, backbone_subject_text(a->view()));
  }
}

const subject_text* proxy::any_elsewhere(role type) {
  if (sabotage_.any_over_proxies) [[unlikely]]
    return nullptr;
  any_share& s = any_share_[type == role::agent ? 0 : 1];
  if (s.version != dir_.version()) update_share(s, type);
  if (s.keep >= s.total || rng_.below(s.total) < s.keep) return nullptr;
  const std::uint64_t r = rng_.below(s.excess.back().first);
  for (const auto& [upto, subject] : s.excess)
    if (r < upto) return &subject;
  return nullptr;
}

void proxy::rebalance(micros now) {
  if (sabotage_.no_rebalance || !open() || bye_said_ || syncing()) return;
  if (now - settled_from_ < rebalance_settle || now - last_own_heartbeat_ > rebalance_fresh) return;
  // Asked agents that have not moved yet: wait for them (or give them up).
  std::size_t outstanding = 0;
  links_.for_each([&](link_id, std::unique_ptr<link_state>& ls) {
    if (ls->move_asked_at == never || !ls->attached) return;
    if (now - ls->move_asked_at > rebalance_move_timeout) {
      ls->move_asked_at = never;  // it stayed: a later fence closes it as any other
      ls->told_to_move = draining_ || cut_off_;
    } else {
      ++outstanding;
    }
  });
  if (outstanding > 0) return;
  // A whole, fresh view, every proxy open; the least loaded one is the target.
  bool whole = true;
  std::uint64_t n = 0, total = 0, above = 0;
  std::string_view target;
  std::uint64_t target_hosts = UINT64_MAX;
  dir_.for_each_load([&](const route_directory::proxy_load& p) {
    whole = whole && p.open && now - p.last_seen <= rebalance_fresh;
    ++n;
    total += p.hosts;
    if (p.name != self_text_ && p.hosts < target_hosts) {
      target = p.name;
      target_hosts = p.hosts;
    }
  });
  const std::uint64_t mine = hosts_.size();
  if (!whole || n < 2 || target.empty()) return;
  const std::uint64_t ceil_fair = (total + n - 1) / n;
  const bool over = mine * n * 100 > total * (100 + rebalance_tolerance_pct);
  const bool under = target_hosts * n * 100 < total * (100 - rebalance_tolerance_pct);
  if (mine <= ceil_fair || mine < target_hosts + 2 || !(over || under)) return;
  dir_.for_each_load([&](const route_directory::proxy_load& p) { above += p.hosts > ceil_fair; });
  const std::uint64_t deficit = ceil_fair > target_hosts ? ceil_fair - target_hosts : 0;
  std::uint64_t count = std::min(
      {static_cast<std::uint64_t>(
           std::max(rebalance_min_batch, hosts_.size() / rebalance_batch_divisor)),
       mine - ceil_fair, (mine - target_hosts) / 2,
       (deficit + std::max<std::uint64_t>(above, 1) - 1) / std::max<std::uint64_t>(above, 1)});
  if (count == 0) return;
  // Which agents: a seeded random few of those not already moving.
  message m;
  m.kind = msg_kind::notification;
  m.from = self_;
  m.type = "ccp.move";
  m.body = flat_json_writer{}.add("to", target).finish();
  last_round_ = {std::string(target),
                 over ? "above its fair share" : "a proxy below its fair share",
                 mine,
                 target_hosts,
                 ceil_fair,
                 n,
                 {}};
  for (std::size_t tries = 0; count > 0 && tries < 4 * with_agents_.items.size(); ++tries) {
    const link_id link = pick(with_agents_);
    link_state& ls = *links_.find(link)->get();
    if (ls.told_to_move || ls.move_asked_at != never) continue;
    ls.told_to_move = true;  // its move is make-before-break: read it until its bye
    ls.move_asked_at = now;
    m.id = next_id();
    m.to = ls.agent;
    send_direct(link, m);
    last_round_.agents.push_back(ls.agent);
    ++stats_.moves_asked;
    --count;
  }
}

void proxy::count_moved_away(link_state& ls) {
  if (ls.move_asked_at == never || !ls.attached) return;
  ls.move_asked_at = never;  // counted once, whichever of its fence and its bye comes first
  ++stats_.moved_away;
}

void proxy::update_group_subscriptions() {
  auto set = [this](bool want, bool& have, role r) {
    if (want == have) return;
    have = want;
    address any = address::group(r, scope::any);
    address all = address::group(r, scope::all);
    if (want) {
      push(act::subscribe{bus_kind::backbone, backbone_subject(any.view()),
                          backbone_queue(any.view())});
      push(act::subscribe{bus_kind::backbone, backbone_subject(all.view()), {}});
    } else {
      push(act::unsubscribe{bus_kind::backbone, backbone_subject(any.view())});
      push(act::unsubscribe{bus_kind::backbone, backbone_subject(all.view())});
    }
  };
  // A draining proxy serves its agents until they are attached elsewhere.
  bool serving = !cut_off_ && !revalidating_;
  set(serving && (!with_agents_.items.empty() || (sabotage_.empty_proxy_takes_any && !draining_)),
      agents_subscribed_, role::agent);
  set(serving && !with_endpoints_.items.empty(), endpoints_subscribed_, role::endpoint);
}

void proxy::drain(micros now) {
  check_schedule(now);
  if (!draining_) {
    draining_ = true;
    tell_agents("ccp.drain");
    update_group_subscriptions();
  }
  check_bye(now);
  check_drained();
}

void proxy::check_bye(micros now) {
  if (!draining_ || bye_said_ || !hosts_.empty()) return;
  bye_said_ = true;
  announce(subject_route, "ccp.bye", "{}", now);
}

std::vector<std::pair<link_id, proxy::link_state*>> proxy::links_in_order() {
  std::vector<std::pair<link_id, link_state*>> r;
  r.reserve(links_.size());
  links_.for_each(
      [&r](link_id link, std::unique_ptr<link_state>& ls) { r.emplace_back(link, ls.get()); });
  std::sort(r.begin(), r.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  return r;
}

std::vector<std::pair<std::string_view, const proxy::link_state*>> proxy::hosts_in_order() const {
  std::vector<std::pair<std::string_view, const link_state*>> r;
  r.reserve(hosts_.size());
  hosts_.for_each([&r](const std::string& host, const host_route& route) {
    r.emplace_back(host, route.state);
  });
  std::sort(r.begin(), r.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  return r;
}

void proxy::tell_agents(std::string_view type) {
  for (const auto& [link, state] : links_in_order()) {
    link_state& ls = *state;
    if (!ls.attached) continue;
    ls.told_to_move = type == "ccp.drain";
    message m;
    m.id = next_id();
    m.kind = msg_kind::notification;
    m.from = self_;
    m.to = ls.agent;
    m.type = type;
    send_direct(link, std::move(m));
  }
}

void proxy::resumed(micros now) {
  // Everything that timed out while we were not running timed out because of us: our
  // agents' links and our own heartbeat get a fresh window (a link whose agent really left
  // reports its close), and what we hold is checked again before we serve the groups.
  revalidating_ = true;
  resumed_at_ = now;
  settled_from_ = now;
  revalidate_at_ = now + heartbeat_interval + heartbeat_interval / 5;
  last_own_heartbeat_ = now;
  links_.for_each([now](link_id, std::unique_ptr<link_state>& ls) { ls->last_rx = now; });
  overdue_at_ = now + stall_threshold;
  update_group_subscriptions();
}

void proxy::hand_back(frame_buf&& f, const frame_header& h) {
  CCP_MARK(proxy_any_handed_back);
  actions().emplace_back(std::in_place_type<act::publish>, bus_kind::backbone,
                         group_subjects_[group_index(h.to.type, scope::any)], std::move(f));
}

bool proxy::send_direct(link_id link, message m) {
  auto* found = links_.find(link);
  link_state* ls = found ? found->get() : nullptr;
  if (ls && ls->inflight >= link_queue_frames && !sabotage_.no_link_bound) {
    ++stats_.dropped;  // a link that reads nothing makes us hold nothing more for it
    return false;
  }
  auto f = std::make_shared<std::string>();
  if (!encode(m, *f)) return false;
  if (ls) ++ls->inflight;
  push(act::send{link, std::move(f)});
  return true;
}

bool proxy::refused(link_id link, link_state& ls, micros now) {
  constexpr micros interval = seconds / static_cast<micros>(refusals_per_second);
  constexpr micros tolerance = interval * static_cast<micros>(refusal_burst);
  ls.refusals_due = std::max(ls.refusals_due, now) + interval;
  if (ls.refusals_due - now <= tolerance) return false;
  detach(link, true, now);
  close_link(link, errc::rejected);
  return true;
}

// Inlined into both callers: the fan-out to every agent goes through the other overload.
[[gnu::always_inline]] inline void proxy::send_link(link_id link, link_state* ls, frame_ptr f,
                                                    const frame_header& h, micros now,
                                                    bool from_bus) {
  if (ls == nullptr || !ls->attached) [[unlikely]] {
    bounce(h, errc::unreachable, "link to host is gone", now, from_bus);
    return;
  }
  if (ls->inflight >= link_queue_frames && !sabotage_.no_link_bound) [[unlikely]] {
    link_full(*ls, h, now, from_bus);
    return;
  }
  ++ls->inflight;
  ++stats_.forwarded;
  // Built in place: push() would move the action twice more (a variant visit each).
  actions().emplace_back(std::in_place_type<act::send>, link, std::move(f));
}

void proxy::send_link(link_id link, frame_ptr f, const frame_header& h, micros now, bool from_bus) {
  auto* ls = links_.find(link);
  send_link(link, ls ? ls->get() : nullptr, std::move(f), h, now, from_bus);
}

void proxy::link_full(const link_state& ls, const frame_header& h, micros now, bool from_bus) {
  CCP_MARK(proxy_link_full);
  bounce(h, errc::overloaded, "link queue to " + ls.host + " is full", now, from_bus);
}

void proxy::on_link_flushed(link_id link, std::size_t frames) {
  auto* ls = links_.find(link);
  if (!ls) return;
  (*ls)->inflight -= std::min(frames, (*ls)->inflight);
}

void proxy::on_link_up(link_id link, micros now) {
  check_schedule(now);
  // A host that reuses the id of a live link ends its attachment first: hosts_ must never
  // point at a state that is no longer attached.
  detach(link, true, now);
  auto ls = std::make_unique<link_state>();
  ls->opened = ls->last_rx = now;
  links_.assign(link, std::move(ls));
}

void proxy::on_link_down(link_id link, micros now) {
  check_schedule(now);
  detach(link, true, now);
  links_.erase(link);
  check_drained();
}

void proxy::close_link(link_id link, errc code) {
  push(act::close{link, code});
  links_.erase(link);
  check_drained();
}

void proxy::check_drained() {
  if (!draining_ || drained_said_ || !links_.empty()) return;
  drained_said_ = true;
  CCP_MARK(proxy_drained);
  push(act::drained{});
}

void proxy::detach(link_id link, bool announce_it, micros now) {
  auto* found = links_.find(link);
  if (!found || !(*found)->attached) return;
  link_state& ls = **found;
  ls.attached = false;
  with_agents_.erase(link);
  with_endpoints_.erase(link);
  endpoint_weights_stale_ = true;
  if (const host_route* r = hosts_.find(ls.host); r && r->link == link) {
    hosts_.erase(ls.host);
    push(act::unsubscribe{bus_kind::backbone, host_subject(ls.host)});
    if (announce_it) {
      dir_.detach(ls.host, ls.epoch, self_text_);
      announce(subject_route, "ccp.route",
               flat_json_writer{}
                   .add("op", "detach")
                   .add("host", ls.host)
                   .add("epoch", ls.epoch)
                   .finish(),
               now);
    }
  }
  update_group_subscriptions();
  check_bye(now);
}

void proxy::on_link_frame(link_id link, frame_buf f, micros now) {
  check_schedule(now);
  auto* found = links_.find(link);
  if (!found) return;
  link_state& ls = **found;
  ls.last_rx = now;
  // The sender is checked against the agent's host in from_agent, not parsed here; a
  // group destination is recognized without the parser (check_to).
  auto h = read_header(*f, defer::forwarding);
  if (!h || !check_to(*h) || (!ls.attached && !check_deferred(*h))) {
    // A frame we cannot read is dropped; every other agent carries on, and so does this
    // link unless it keeps sending them.
    ++stats_.malformed;
    (void)refused(link, ls, now);
    return;
  }
  if (!ls.attached) {
    if (ls.handed_over)  // what the agent sent before it switched to its new proxy
      from_agent(link, ls, std::move(f), *h, now);
    else
      hello(link, ls, *h, now);
    return;
  }
  from_agent(link, ls, std::move(f), *h, now);
}

// Inlined into from_agent: a prefix compare and one pass over the id, where parsing the
// sender was a quarter of the forwarding (bench/routing_bench.cpp).
[[gnu::always_inline]] inline bool proxy::own_source(const link_state& ls, frame_header& h) {
  if (auto v = ls.endpoints_at.parse(h.from_text); v && v->form == scope::one) {
    h.from = *v;
  } else if (auto a = ls.agent_at.parse(h.from_text);
             a && a->form == scope::one && same_bytes(a->id, ls.agent.id())) {
    h.from = *a;
  } else {
    return false;
  }
  h.from_checked = true;
  return true;
}

void proxy::hello(link_id link, link_state& ls, const frame_header& h, micros now) {
  auto reject = [&](errc code, std::string text) {
    message m;
    m.id = next_id();
    m.kind = msg_kind::error;
    m.from = self_;
    m.to = h.from.form == scope::one ? address::from_view(h.from)
                                     : address::group(role::agent, scope::any);
    m.correlation = h.id;
    m.type = h.type.empty() ? "ccp.hello" : std::string(h.type);
    m.code = code;
    m.text = std::move(text);
    ++stats_.errors_sent;
    send_direct(link, std::move(m));
    close_link(link, code);  // `ls` is gone with it: the caller returns at once
  };
  if (h.type != "ccp.hello" || h.kind != msg_kind::request)
    return reject(errc::bad_request, "expected ccp.hello first");
  if (h.from.type != role::agent || h.from.form != scope::one)
    return reject(errc::bad_request, "hello must come from a concrete agent address");
  auto body = parse_flat_json(h.body);
  const std::uint64_t* epoch = body ? body->number("epoch") : nullptr;
  const std::string* token = body ? body->string("token") : nullptr;
  const std::vector<std::string>* eps = body ? body->strings("endpoints") : nullptr;
  if (!epoch || !token || !eps || eps->size() > max_endpoints_per_agent)
    return reject(errc::bad_request, "hello needs epoch, token and endpoints");
  address agent = address::from_view(h.from);
  if (!verifier_.verify(agent, *token)) return reject(errc::rejected, "bad credentials");
  CCP_MARK_IF(proxy_hello_while_draining, draining_);
  if (draining_) return reject(errc::shutting_down, "proxy is draining");
  CCP_MARK_IF(proxy_hello_while_cut_off, cut_off_);
  if (cut_off_) return reject(errc::unreachable, "proxy is cut off from the backbone");
  if (*epoch > max_agent_epoch)
    return reject(errc::bad_request, "epoch above " + std::to_string(max_agent_epoch));
  // A move for balance names its proxy: another that the agent tried on the way says so.
  const std::string* move_to = body->string("move_to");
  if (move_to && *move_to != self_text_)
    return reject(errc::rejected, "not the proxy this move is for");
  std::string host(h.from.host);
  // The directory's entry is the live claim on the host, if any (it goes with the holder's
  // detach or lease). A fresh attachment that presents the host's credentials takes the
  // host from it, with the next epoch when its own is not newer (an agent restarted with
  // its clock stepped back, a late hello, another agent allowed to claim the host): the
  // holder is fenced, and no epoch an agent sends keeps another out after its claim.
  std::uint64_t route_epoch = *epoch;
  if (const route_directory::route* live = dir_.find(host); live && live->epoch >= route_epoch)
    route_epoch = live->epoch == UINT64_MAX ? UINT64_MAX : live->epoch + 1;
  CCP_MARK_IF(proxy_hello_epoch_raised, route_epoch != *epoch);

  // A previous link of the same host at this proxy is superseded.
  if (const host_route* old = hosts_.find(host)) {
    CCP_MARK(proxy_hello_supersedes_link);
    link_id old_link = old->link;
    detach(old_link, false, now);
    close_link(old_link, errc::rejected);
  }
  ls.attached = true;
  if (move_to) ++stats_.moves_received;  // named as this move's target (checked above)
  ls.agent = std::move(agent);
  ls.heartbeat_frame.clear();
  ls.endpoints_at = host_prefix(role::endpoint, host);
  ls.agent_at = host_prefix(role::agent, host);
  ls.host = host;
  ls.epoch = route_epoch;
  ls.endpoints = *eps;
  hosts_.assign(host, host_route{link, &ls});
  with_agents_.insert(link);
  if (!ls.endpoints.empty()) with_endpoints_.insert(link);
  endpoint_weights_stale_ = true;
  push(act::subscribe{bus_kind::backbone, host_subject(host), {}});
  const route_directory::members m = members_of(ls);
  dir_.attach(host, route_epoch, self_text_, now, &m);
  announce_attach(host, route_epoch, m, now);
  update_group_subscriptions();

  message w;
  w.id = next_id();
  w.kind = msg_kind::response;
  w.from = self_;
  w.to = ls.agent;
  w.correlation = h.id;
  w.type = "ccp.hello";
  w.body = flat_json_writer{}.add("proxy", self_text_).finish();
  send_direct(link, std::move(w));
}

// Inlined into on_link_frame, as route is into it and route_out: each call was a frame of
// saved registers, 15 instructions of a forwarded frame's 490 (callgrind).
[[gnu::always_inline]] inline void proxy::from_agent(link_id link, link_state& ls, frame_buf&& f,
                                                     frame_header& h, micros now) {
  if (is_control_type(h.type) && h.kind == msg_kind::notification) {
    if (!check_deferred(h)) {  // as any frame that is for us
      ++stats_.malformed;
      (void)refused(link, ls, now);
      return;
    }
    if (h.type == "ccp.endpoints" && ls.attached) {
      auto body = parse_flat_json(h.body);
      const auto* eps = body ? body->strings("endpoints") : nullptr;
      if (!eps || eps->size() > max_endpoints_per_agent) {
        ++stats_.malformed;
        (void)refused(link, ls, now);
        return;
      }
      ls.endpoints = *eps;
      if (ls.endpoints.empty())
        with_endpoints_.erase(link);
      else
        with_endpoints_.insert(link);
      endpoint_weights_stale_ = true;
      update_group_subscriptions();
      // Who lives on the host changed: the backbone's group requests wait for the new set.
      const route_directory::members m = members_of(ls);
      dir_.attach(ls.host, ls.epoch, self_text_, now, &m);
      announce_attach(ls.host, ls.epoch, m, now);
    } else if (h.type == "ccp.bye") {
      count_moved_away(ls);  // a move's bye may come before the new proxy's route
      detach(link, true, now);
      close_link(link, errc{});
    }
    return;  // ccp.hb and unknown control: liveness only
  }
  // No spoofing: an agent speaks for itself and the endpoints of its own host. Any other
  // sender is parsed in full, to tell a malformed one from a foreign one (a canonical
  // address of this host, which the full parse accepts, has own_source's prefix).
  if (!own_source(ls, h)) {
    if (!check_deferred(h)) {  // the error names the sender and the type
      ++stats_.malformed;
      (void)refused(link, ls, now);
      return;
    }
    message m;
    m.id = next_id();
    m.kind = msg_kind::error;
    m.from = self_;
    m.to = ls.agent;
    m.correlation = h.id;
    m.type = std::string(h.type);
    m.code = errc::rejected;
    m.text = "source " + to_string(h.from) + " is not on host " + ls.host;
    if (send_direct(link, std::move(m))) ++stats_.errors_sent;
    (void)refused(link, ls, now);
    return;
  }
  // Control traffic of the backbone (route announcements, heartbeats, syncs) is the
  // proxies' own: an agent's control frame is for this proxy or for nobody, so that no
  // agent can announce a route, or answer a sync, in a proxy's stead.
  if (is_control_type(h.type) && !address_equal::same(h.to, self_.view())) {
    ++stats_.dropped;
    (void)refused(link, ls, now);
    return;
  }
  if (h.hops >= max_hops) {
    bounce(h, errc::hop_limit, "hop limit reached at " + self_text_, now);
    return;
  }
  set_hops(*f, static_cast<std::uint8_t>(h.hops + 1));
  if (h.kind == msg_kind::request && (h.to.form == scope::all || h.to.form == scope::host_all))
    tell_members(link, h);
  route(std::move(f), h, now);
}

void proxy::tell_members(link_id link, const frame_header& h) {
  // Not while our directory may have expired live peers (resumed after a stall). A sync
  // in progress only refreshes it, as a mgmt node's may be while it sends.
  if (revalidating_) return;
  auto to = address::parse(h.to_text);
  auto from = address::parse(h.from_text);
  if (!to || !from) return;
  auto members = expected_members(*to);
  if (!members) return;  // the group's members are not known here (mgmt, unannounced hosts)
  for (auto& m : members_notices(self_, *from, h.id, *members)) {
    m.id = next_id();
    (void)send_direct(link, std::move(m));  // before the request: it comes first
  }
}

void proxy::route_out(frame_buf f, const frame_header& h, micros now) {
  route(std::move(f), h, now);
}

[[gnu::always_inline]] inline void proxy::route(frame_buf&& f, const frame_header& h, micros now) {
  const address_view& to = h.to;
  if (address_equal::same(to, self_.view())) {
    accept(*f, h, now);
    return;
  }
  if (to.type == role::mgmt || to.type == role::proxy) {
    // What route_backbone does for these types (the directory only vouches for hosts),
    // with the action built in place and the subject of a group address cached.
    if (to.form == scope::any && to.type == role::proxy) {
      if (const subject_text* to_proxy = any_target(role::proxy, now)) {
        actions().emplace_back(std::in_place_type<act::publish>, bus_kind::backbone, *to_proxy,
                               std::move(f));
        return;
      }
    }
    if (to.form == scope::any || to.form == scope::all) {
      const subject_text& subject = group_subjects_[group_index(to.type, to.form)];
      actions().emplace_back(std::in_place_type<act::publish>, bus_kind::backbone, subject,
                             std::move(f));
    } else {
      actions().emplace_back(std::in_place_type<act::publish>, bus_kind::backbone,
                             backbone_subject_text(to), std::move(f));
    }
    return;
  }
  if (to.form != scope::any && to.form != scope::all) {
    if (const host_route* r = hosts_.find(to.host)) {
      send_link(r->link, r->state, std::move(f), h, now, false);
      return;
    }
  }
  if (revalidating_) [[unlikely]] {
    // Our directory may have expired peers that are alive: no `unreachable` from it.
    CCP_MARK(proxy_revalidating_forward);
    actions().emplace_back(std::in_place_type<act::publish>, bus_kind::backbone,
                           backbone_subject_text(to), std::move(f));
    return;
  }
  route_backbone(std::move(f), h, now);
}

const proxy::host_route* proxy::attached_route(frame_header& h) const {
  const std::string_view t = h.to_text;
  role type{};
  std::size_t at = 0;  // where the host starts
  if (starts_with_lit(t, "ccp://endpoint/")) {
    type = role::endpoint;
    at = 15;
  } else if (starts_with_lit(t, "ccp://agent/")) {
    type = role::agent;
    at = 12;
  } else {
    return nullptr;
  }
  const std::size_t slash = find_byte(t, '/', at);
  if (slash == std::string_view::npos) return nullptr;
  const std::string_view host(t.data() + at, slash - at);
  const std::string_view last(t.data() + slash + 1, t.size() - slash - 1);
  // An attached host's text is canonical and checked: so is the same text in `to`.
  const auto form = form_of_last(last);
  if (!form) return nullptr;
  const host_route* r = hosts_.find(host);
  if (!r) return nullptr;
  h.to = address_view{type, *form, host, *form == scope::one ? last : std::string_view{}};
  h.to_checked = true;
  return r;
}

void proxy::on_bus(std::string_view subject, frame_buf f, micros now) {
  check_schedule(now);
  // Forwarded by `to`, whose host the route of an attached host vouches for; the sender is
  // checked only if we answer it or take the frame.
  auto h = read_header(*f, defer::forwarding);
  if (!h) {
    ++stats_.malformed;
    return;
  }
  const host_route* route = attached_route(*h);
  if (!route && !check_to(*h)) {
    ++stats_.malformed;
    return;
  }
  const address_view& to = h->to;
  if (to.type == role::proxy || to.type == role::mgmt) {
    // Beyond what is addressed to us, only the backbone's announcements (to every proxy).
    if (is_member(self_.view(), to) || is_announcement(*h))
      accept(*f, *h, now);
    else
      ++stats_.dropped;
    return;
  }
  if (h->hops >= max_hops) {
    bounce(*h, errc::hop_limit, "hop limit reached at " + self_text_, now, true);
    return;
  }
  set_hops(*f, static_cast<std::uint8_t>(h->hops + 1));
  if (route)  // what to_links does for this host, without looking it up again
    send_link(route->link, route->state, std::move(f), *h, now, true);
  else if (to.form == scope::any)
    to_links(std::move(f), *h, now, subject == self_subject_.view());
  else
    to_links(std::move(f), *h, now);
}

void proxy::to_links(frame_buf f, const frame_header& h, micros now, bool direct) {
  const address_view& to = h.to;
  switch (to.form) {
    case scope::one:
    case scope::host_any:
    case scope::host_all:
      if (const host_route* r = hosts_.find(to.host)) {
        send_link(r->link, r->state, std::move(f), h, now, true);
      } else if (const auto* held = dir_.find(to.host);
                 revalidating_ || (held && held->proxy != self_text_)) {
        CCP_MARK(proxy_frame_for_moved_host_dropped);
        // Another proxy holds the host and subscribed its subject before it announced so:
        // it got this frame too (a move's overlap, a fence). Resumed after a stall, our
        // view is stale: nothing from it. Either way `unreachable` would be wrong.
        ++stats_.dropped;
      } else {
        bounce(h, errc::unreachable, "host " + std::string(to.host) + " is not attached here", now,
               true);
      }
      return;
    case scope::any: {
      const link_set& s = to.type == role::agent ? with_agents_ : with_endpoints_;
      const bool in_group = to.type == role::agent ? agents_subscribed_ : endpoints_subscribed_;
      CCP_MARK_IF(proxy_any_no_member, in_group && s.items.empty());
      if ((!in_group || direct) && (revalidating_ || s.items.empty())) {
        // Taken before we left the group, or forwarded on a view that changed since:
        // another member serves it.
        hand_back(std::move(f), h);
      } else if (s.items.empty()) {
        bounce(h, errc::unreachable, "no " + std::string(to_string(to.type)) + " here", now, true);
      } else if (const subject_text* peer = direct ? nullptr : any_elsewhere(to.type)) {
        // Our share of the group's members is smaller than our share of its proxies.
        actions().emplace_back(std::in_place_type<act::publish>, bus_kind::backbone, *peer,
                               std::move(f));
      } else {
        send_link(to.type == role::agent ? pick(s) : pick_endpoint_link(), std::move(f), h, now,
                  true);
      }
      return;
    }
    case scope::all: {
      frame_ptr shared = std::move(f);
      const link_set& s = to.type == role::agent ? with_agents_ : with_endpoints_;
      for (link_id l : s.items)
        send_link(l, shared, h, now, true);
      return;
    }
  }
}

void proxy::route_taken(std::string_view host, std::uint64_t epoch, micros now) {
  const host_route* r = hosts_.find(host);
  if (!r) return;
  const link_id link = r->link;
  link_state& ls = *r->state;
  if (ls.epoch >= epoch || sabotage_.fencing_off) return;
  CCP_MARK(proxy_route_fenced);
  // Fenced: a newer attachment of this host exists elsewhere. Drop the route silently
  // (the newer owner announced it) and close the stale link; or, when we asked the agent
  // to move, read the link until its bye (it sends on it until its new proxy welcomed it).
  count_moved_away(ls);
  detach(link, false, now);
  if (ls.told_to_move) {
    CCP_MARK(proxy_fenced_while_moving);
    ls.handed_over = true;
    ls.handed_over_at = now;
    return;
  }
  close_link(link, errc::rejected);
}

std::vector<route_directory::synced_route> proxy::own_routes() const {
  std::vector<route_directory::synced_route> r;
  r.reserve(hosts_.size());
  for (const auto& [host, ls] : hosts_in_order())
    r.push_back({std::string(host), ls->epoch, members_of(*ls)});
  return r;
}

route_directory::members proxy::members_of(const link_state& ls) {
  route_directory::members m{std::string(ls.agent.id()), ls.endpoints};
  std::sort(m.endpoints.begin(), m.endpoints.end());
  return m;
}

std::optional<std::string> proxy::builtin(const message& m) {
  if (m.type != "agents") return std::nullopt;
  std::string list = "[";
  for (const auto& [host, state] : hosts_in_order()) {
    const link_state& ls = *state;
    if (list.size() > 1) list += ',';
    list += flat_json_writer{}
                .add("agent", ls.agent.str())
                .add("host", host)
                .add("epoch", ls.epoch)
                .add("endpoints", ls.endpoints.size())
                .finish();
  }
  list += ']';
  return flat_json_writer{}.add("proxy", self_text_).add_raw("agents", list).finish();
}

void proxy::role_tick(micros now) {
  check_schedule(now);
  backbone_tick(now);
  if (now >= next_heartbeat_) {
    // A proxy that said bye is leaving: a heartbeat would put it back in the directories.
    if (!bye_said_) {
      flat_json_writer hb;
      hb.add("hosts", hosts_.size());
      // Which routes, not only how many: a directory whose count agrees but whose digest
      // does not (hosts that swapped proxies unannounced) asks for a sync.
      std::uint64_t digest = 0;
      hosts_.for_each([&digest](const std::string& host, const host_route& r) {
        digest += route_directory::route_digest(host, r.state->epoch);
      });
      hb.add("digest", digest);
      if (!open()) hb.add("open", 0);  // no agents towards us, please (rebalancing)
      announce(subject_heartbeat, "ccp.hb", hb.finish(), now);
    }
    next_heartbeat_ = now + heartbeat_interval;
    overdue_at_ = next_heartbeat_ + stall_threshold;
  }
  bool heard_self = now - last_own_heartbeat_ <= idle_timeout;
  if (!heard_self && !cut_off_ && !bye_said_ && now - started_ > idle_timeout) {
    // We cannot tell our own partition from an outage of the whole backbone: the agents
    // can. Each dials another proxy and leaves us only once that one welcomed it (a proxy
    // cut off itself refuses), so in an outage for everyone every agent stays put.
    cut_off_ = true;
    CCP_MARK(proxy_cut_off);
    ++stats_.cut_offs;
    tell_agents("ccp.drain");
    update_group_subscriptions();
  } else if (heard_self && cut_off_) {
    cut_off_ = false;
    settled_from_ = now;
    relearn(now);  // every peer expired meanwhile: no `unreachable` until we heard them again
    CCP_MARK(proxy_rejoined);
    ++stats_.rejoins;
    if (!draining_) tell_agents("ccp.stay");  // the reason to move is gone
    update_group_subscriptions();
  }
  // Revalidated: our own heartbeat came back after we resumed (the bus handed us what it
  // held for us before it), every peer had time to heartbeat, and our syncs ended.
  // Not yet (a sync still open, our heartbeat not back): look again a little later. The
  // time must move on, or role_wake() keeps answering `now` and the host spins.
  if (revalidating_ && now >= revalidate_at_) {
    if (last_own_heartbeat_ > resumed_at_ && !syncing()) {
      revalidating_ = false;
      revalidate_at_ = never;
      update_group_subscriptions();
    } else {
      revalidate_at_ = now + heartbeat_interval / 10;
    }
  }
  if (now >= next_rebalance_) {
    next_rebalance_ = now + rebalance_interval;
    rebalance(now);
  }
  if (now >= next_link_scan_) {
    next_link_scan_ = now + heartbeat_interval;
    std::vector<link_id> dead;
    for (const auto& [link, state] : links_in_order()) {
      link_state& ls = *state;
      if (ls.handed_over) {
        if (now - ls.handed_over_at > handshake_timeout) dead.push_back(link);
      } else if (!ls.attached && now - ls.opened > handshake_timeout)
        dead.push_back(link);
      else if (ls.attached && now - ls.last_rx > idle_timeout)
        dead.push_back(link);
      else if (ls.attached) {
        // The same frame every time but for its id: encoded once per attachment.
        if (ls.heartbeat_frame.empty()) ls.heartbeat_frame = link_heartbeat(self_, ls.agent);
        // A link whose queue is full gets no beat: it counts against the bound like any
        // frame, and a client that never reads would grow it by one a second.
        if (!ls.heartbeat_frame.empty() &&
            (ls.inflight < link_queue_frames || sabotage_.no_link_bound)) {
          ++ls.inflight;
          actions().emplace_back(std::in_place_type<act::send>, link,
                                 restamp(ls.heartbeat_frame, next_id()));
        }
      }
    }
    for (link_id l : dead) {
      CCP_MARK(proxy_link_timed_out);
      detach(l, true, now);  // half-open or silent: the agent is gone as far as we can tell
      close_link(l, errc::timeout);
    }
  }
}

micros proxy::role_wake() const {
  return std::min(
      {backbone_wake(), next_heartbeat_, next_link_scan_, revalidate_at_, next_rebalance_});
}

}  // namespace ccp::core
