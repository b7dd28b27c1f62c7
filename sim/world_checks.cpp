// What only the simulated world can check: the periodic samples (fenced ownership,
// reattachment, convergence for the per-fault figures) and a proxy that took an `any`; it traces
// every delivery and outcome and hands it to the checker (sim/checker.hpp), which judges the
// invariants and the scenario's expectations.
#include <algorithm>
#include <cmath>

#include "sim/world.hpp"

namespace ccp::sim {

using namespace ccp::core;

// Also leaves each agent's proxy slot (or -1) in on_scratch_, for directories_converged.
bool world::all_attached() const {
  on_scratch_.clear();
  bool all = true;
  for (std::uint32_t a : agents_) {
    on_scratch_.push_back(attached_to(a));
    all = all && on_scratch_.back() >= 0;
  }
  return all;
}

void world::name_proxies() const {
  if (proxy_texts_.size() == proxies_.size()) return;
  proxy_texts_.clear();
  for (std::uint32_t p : proxies_)
    proxy_texts_.push_back(nodes_[p].role().self().str());
}

bool world::any_endpoint_alive() const {
  return std::any_of(endpoints_.begin(), endpoints_.end(), [&](const auto& host) {
    return std::any_of(host.begin(), host.end(), [&](std::uint32_t e) { return nodes_[e].alive; });
  });
}

// The proxy slot agent `a` is attached to, or -1: alive, its link up, and that proxy
// holding its host.
int world::attached_to(std::uint32_t a) const {
  const core::agent* ag = nodes_[a].agent;
  if (!nodes_[a].alive || ag->status() != core::agent::link_status::up) return -1;
  auto p = proxy_by_name_.find(ag->proxy_target());
  if (p == proxy_by_name_.end()) return -1;
  const sim_node& px = nodes_[proxies_[static_cast<std::size_t>(p->second)]];
  return px.alive && px.proxy->holds(ag->self().host()) ? p->second : -1;
}

// Every tier that keeps a directory (every live mgmt node and proxy, a stalled or
// partitioned one too) routes every host to the proxy its agent is attached to, and
// nothing else. Called right after all_attached() returned true (its on_scratch_).
bool world::directories_converged() const {
  name_proxies();
  const std::vector<int>& on = on_scratch_;
  if (hosts_by_name_.size() != agents_.size()) {  // the directories' order, computed once
    hosts_by_name_.resize(agents_.size());
    for (std::size_t h = 0; h < agents_.size(); ++h)
      hosts_by_name_[h] = h;
    std::sort(hosts_by_name_.begin(), hosts_by_name_.end(),
              [&](std::size_t a, std::size_t b) { return host_names_[a] < host_names_[b]; });
  }
  // One pass over each directory, in its (host name) order: no search per host.
  auto agrees = [&](const core::route_directory& dir) {
    if (dir.hosts() != agents_.size()) return false;
    std::size_t k = 0;
    for (const auto& [host, r] : dir.routes()) {
      const std::size_t h = hosts_by_name_[k++];
      if (host != host_names_[h] || r.proxy != proxy_texts_[static_cast<std::size_t>(on[h])])
        return false;
    }
    return true;
  };
  // A directory that agreed and has not changed since (its version) still agrees while
  // the agents stay where they were: most samples compare nothing.
  if (on != on_before_) {
    dir_agreed_.clear();
    on_before_ = on;
  }
  auto agrees_now = [&](std::uint32_t i, const core::route_directory& dir) {
    auto [it, fresh] = dir_agreed_.try_emplace(i, dir.version(), false);
    if (fresh || it->second.first != dir.version()) it->second = {dir.version(), agrees(dir)};
    return it->second.second;
  };
  for (std::uint32_t m : mgmts_)
    if (nodes_[m].alive && !agrees_now(m, nodes_[m].mgmt->directory())) return false;
  for (std::uint32_t p : proxies_)
    if (nodes_[p].alive && !agrees_now(p, nodes_[p].proxy->directory())) return false;
  return true;
}

// Whether the `any` request of node `from` to `to` has a member it can reach now: on a
// host whose agent is attached to a live proxy that runs (not stalled) and that the
// request can get to: its own entry proxy, or any proxy across the backbone when the bus
// is up and neither end is partitioned from it (and no such fault ended within a
// heartbeat round, which the requester needs to hear the fleet again). If not,
// `unreachable` is the truth.
bool world::any_member_reachable(std::uint32_t from, const address& to) const {
  const sim_node& s = nodes_[from];
  int entry = -1;  // the proxy the request enters by (-1: mgmt, straight onto the backbone)
  if (s.r == role::proxy) {
    entry = s.host;
  } else if (s.r != role::mgmt) {
    entry = attached_to(agents_[static_cast<std::size_t>(s.host)]);
    if (entry < 0) return false;
  }
  auto runs = [&](int p) {
    const sim_node& px = nodes_[proxies_[static_cast<std::size_t>(p)]];
    return px.alive && px.stalled_until == 0;
  };
  if (entry >= 0 && !runs(entry)) return false;
  // On the backbone: the bus up, the entry (or mgmt sender) neither partitioned nor cut from
  // its bus node (kill_bus_node), and the same of the member's proxy.
  auto on_bus = [&](int p) {
    return !partitioned_.contains(p) && !bus_cut(proxies_[static_cast<std::size_t>(p)]);
  };
  const bool relearnt = now_ >= backbone_back_at_ + core::heartbeat_interval + 200 * core::ms;
  const bool backbone = relearnt && !bus_down() && (entry < 0 ? !bus_cut(from) : on_bus(entry));
  auto reaches = [&](int p) {
    return p >= 0 && runs(p) && (p == entry || (backbone && on_bus(p)));
  };
  if (to.type() == role::mgmt) return backbone;
  if (to.type() == role::proxy) {
    for (std::size_t p = 0; p < proxies_.size(); ++p)
      if (reaches(static_cast<int>(p))) return true;
    return false;
  }
  for (std::size_t h = 0; h < agents_.size(); ++h) {
    if (to.form() == scope::host_any && host_names_[h] != to.host()) continue;
    if (!reaches(attached_to(agents_[h]))) continue;
    if (to.type() == role::agent) return true;
    for (std::uint32_t e : endpoints_[h])
      if (nodes_[e].alive) return true;
  }
  return false;
}

void world::sample_balance() {
  if (sc_.expect.balance_within) {
    std::uint64_t total = 0, n = 0;
    std::vector<std::size_t> held;
    for (std::uint32_t p : proxies_) {
      const sim_node& s = nodes_[p];
      if (!s.alive) continue;
      held.push_back(s.proxy->attached());
      total += held.back();
      ++n;
    }
    const double fair = n == 0 ? 0 : static_cast<double>(total) / static_cast<double>(n);
    const double tol = sc_.expect.balance_tolerance * fair;
    const bool balanced = std::all_of(held.begin(), held.end(), [&](std::size_t c) {
      return std::abs(static_cast<double>(c) - fair) <= tol;
    });
    if (!balanced)
      balanced_since_ = -1;
    else if (balanced_since_ < 0)
      balanced_since_ = now_;
    if (now_ % seconds < 100 * ms) {  // once a second: the balance over time, in the trace
      std::string& l = trace_start("balance");
      l += R"(,"attached":[)";
      for (std::size_t k = 0; k < held.size(); ++k) {
        if (k > 0) l += ',';
        append_number(l, held[k]);
      }
      l += "]}";
      trace_.line(l);
    }
  }
  if (sc_.expect.max_any_share_skew) {
    // The members measured: live at every sample of the fault phase since the first `any`.
    any_members_.clear();
    for (const auto& host : endpoints_)
      for (std::uint32_t e : host)
        (nodes_[e].alive ? any_members_.push_back(e) : (void)any_gone_.insert(e));
    for (std::uint32_t a : agents_)
      (nodes_[a].alive ? any_members_.push_back(a) : (void)any_gone_.insert(a));
  }
}

void world::count_any(std::uint32_t i, const message& m) {
  if (healed_ || m.to.form() != scope::any) return;
  if (m.to.type() != role::endpoint && m.to.type() != role::agent) return;
  ++any_got_[i];
}

void world::check_balance() {
  if (!sc_.expect.balance_within) return;
  micros last = 0;
  for (const fault& x : sc_.faults)
    last = std::max(last, x.at);
  if (balanced_since_ >= 0) result_.balance_time = std::max<micros>(0, balanced_since_ - last);
  if (balanced_since_ < 0 || balanced_since_ - last > *sc_.expect.balance_within)
    violation("unbalanced",
              "proxies not within " + std::to_string(sc_.expect.balance_tolerance) + " of fair " +
                  std::to_string(*sc_.expect.balance_within / ms) +
                  " ms after the last fault (balanced " +
                  (balanced_since_ < 0 ? std::string("never")
                                       : "from t=" + std::to_string(balanced_since_ / ms) + "ms") +
                  ")");
}

void world::check_any_share() {
  if (!sc_.expect.max_any_share_skew) return;
  // Per role: the members that received `any` deliveries measure that role's share.
  for (role r : {role::endpoint, role::agent}) {
    std::vector<std::uint64_t> got;
    std::uint64_t total = 0;
    bool measured = false;
    for (std::uint32_t i : any_members_) {
      if (nodes_[i].r != r || any_gone_.contains(i)) continue;
      auto it = any_got_.find(i);
      got.push_back(it == any_got_.end() ? 0 : it->second);
      total += got.back();
      measured = measured || it != any_got_.end();
    }
    if (!measured || total == 0) continue;
    const double uniform = static_cast<double>(total) / static_cast<double>(got.size());
    const auto [lo, hi] = std::minmax_element(got.begin(), got.end());
    const double max_share = static_cast<double>(*hi) / uniform;
    const double min_share = static_cast<double>(*lo) / uniform;
    result_.any_share_max = std::max(result_.any_share_max, max_share);
    result_.any_share_min =
        result_.any_share_min < 0 ? min_share : std::min(result_.any_share_min, min_share);
    const double skew = *sc_.expect.max_any_share_skew;
    if (max_share > skew || min_share < 1 / skew)
      violation("any_share_skew", std::string(to_string(r)) + " shares of `any` from " +
                                      std::to_string(min_share) + " to " +
                                      std::to_string(max_share) + " of uniform, beyond " +
                                      std::to_string(skew) + "x");
  }
}

void world::sample() {
  if (!healed_) sample_balance();
  for (std::size_t p = 0; p < proxies_.size(); ++p) {
    const sim_node& s = nodes_[proxies_[p]];
    if (s.alive && s.proxy->attached() > 0) proxy_held_ever_[p] = true;
  }
  // Fenced ownership, every 500 ms: a proxy must stop routing a host once it has heard
  // that a newer attachment of it holds elsewhere (fencing is one backbone announcement
  // away; a second of overlap is already a fault). Judged by what the proxy knows and
  // does, not by the world's truth: a proxy that never heard of the move (partitioned, the
  // announcement lost, stalled) still holds the host in its tables, but the agent reads
  // only its current link, so nothing is delivered twice; it learns and fences on the next
  // heartbeat or sync. A stalled proxy does nothing at all.
  if (now_ % (500 * ms) < 100 * ms) {
    constexpr micros settle = 1 * seconds;
    name_proxies();
    for (std::size_t h = 0; h < agents_.size(); ++h) {
      int holders = 0;
      bool knowingly = false;  // a holder whose own directory gives the host to another
      for (std::size_t p = 0; p < proxies_.size(); ++p) {
        const sim_node& s = nodes_[proxies_[p]];
        if (!s.alive || s.stalled_until != 0 || !s.proxy->holds(host_names_[h])) continue;
        ++holders;
        const auto* r = s.proxy->directory().find(host_names_[h]);
        knowingly = knowingly || (r && r->proxy != proxy_texts_[p]);
      }
      int hi = static_cast<int>(h);
      if (holders < 2 || !knowingly) {
        double_owned_since_.erase(hi);
      } else if (auto it = double_owned_since_.find(hi); it == double_owned_since_.end()) {
        double_owned_since_[hi] = now_;
      } else if (now_ - it->second > settle) {
        violation("double_ownership", host_names_[h] + " routed by " + std::to_string(holders) +
                                          " proxies for " +
                                          std::to_string((now_ - it->second) / ms) +
                                          " ms, one of them told of the other");
        it->second = now_;  // report again only after another full window
      }
    }
  }
  // The per-fault figures (checker::observe): from the first fault's start (or the heal)
  // until every figure settled.
  const bool measure = now_ >= figures_from_ && !checker_.figures_settled(now_);
  const bool all = (!healed_ || measure) && all_attached();
  if (measure) checker_.observe(now_, all, all && directories_converged());
  if (!healed_) {
    if (all) {
      if (unattached_since_ >= 0)
        result_.unattached_max = std::max(result_.unattached_max, now_ - unattached_since_);
      unattached_since_ = -1;
      attached_once_ = true;
    } else if (attached_once_ && unattached_since_ < 0) {
      unattached_since_ = now_;
    }
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
  checker_.violation(name, detail, now_);
}

void world::on_deliver(std::uint32_t i, const message& m) {
  const address& self = nodes_[i].role().self();
  std::string& l = trace_start("deliver");
  l += R"(,"at":")";
  const std::size_t self_at = l.size();
  self.append_to(l);
  const std::uint64_t self_hash = fnv(std::string_view(l).substr(self_at));
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
  if (sc_.expect.max_any_share_skew && m.kind != msg_kind::error && is_member(self, m.to))
    count_any(i, m);
  checker_.delivered(self, self_hash, m, from, now_);
}

void world::on_complete(std::uint32_t i, const act::complete& c) {
  const address& self = nodes_[i].role().self();
  std::string& l = trace_start("complete");
  l += R"(,"at":")";
  const std::size_t self_at = l.size();
  self.append_to(l);
  const std::uint64_t self_hash = fnv(std::string_view(l).substr(self_at));
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
  // An `any` request bounced by a proxy that never held an agent: it took an `any` it
  // could not serve. Only while the fleet has members of every kind an `any` may name
  // (every agent attached, an endpoint alive): with no endpoint anywhere, a proxy's
  // `unreachable` for an `endpoint/any` is the honest answer.
  // And only while some member was within the requester's reach: during a bus outage, a
  // partition or a stall that cuts every member off, `unreachable` is the truth.
  const std::uint64_t key = checker::request_key(self_hash, c.request);
  auto to = any_to_.find(key);
  if (checker_.completed(self, key, c, now_) == checker::completed_as::any_bounced_by_proxy) {
    for (std::size_t p = 0; p < proxies_.size(); ++p) {
      if (nodes_[proxies_[p]].role().self() == c.replies[0].from && !proxy_held_ever_[p] &&
          all_attached() && any_endpoint_alive() &&
          (to == any_to_.end() || any_member_reachable(i, to->second)))
        violation("swallowed_any", c.replies[0].from.str() + " took an any with no agents");
    }
  }
  if (to != any_to_.end()) any_to_.erase(to);
}

}  // namespace ccp::sim
