// What only the simulated world can check: the periodic samples (fenced ownership,
// reattachment, convergence) and a proxy that took an `any`; it traces every delivery and
// outcome and hands it to the checker (sim/checker.hpp), which judges the invariants and
// the scenario's expectations.
#include <algorithm>
#include <cmath>

#include "sim/world.hpp"

namespace ccp::sim {

using namespace ccp::core;

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

bool world::any_endpoint_alive() const {
  return std::any_of(endpoints_.begin(), endpoints_.end(), [&](const auto& host) {
    return std::any_of(host.begin(), host.end(), [&](std::uint32_t e) { return nodes_[e].alive; });
  });
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
  // Fenced ownership, every 500 ms: two proxies that both hear the backbone must not
  // both route a host for longer than the fencing settle time.
  if (now_ % (500 * ms) < 100 * ms) {
    // Fencing is one backbone announcement away; a second of overlap is already a fault.
    constexpr micros settle = 1 * seconds;
    for (std::size_t h = 0; h < agents_.size(); ++h) {
      int holders = 0;
      for (std::size_t p = 0; p < proxies_.size(); ++p) {
        const sim_node& s = nodes_[proxies_[p]];
        // A stalled proxy routes nothing: its tables are not what it does (it fences those
        // hosts on its first events after it resumes).
        if (s.alive && s.stalled_until == 0 && !partitioned_.contains(static_cast<int>(p)) &&
            !bus_down() && !bus_cut(proxies_[p]) && s.proxy->holds(host_names_[h]))
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
  if (!healed_) {
    const bool all = all_attached();
    if (all) {
      if (unattached_since_ >= 0)
        result_.unattached_max = std::max(result_.unattached_max, now_ - unattached_since_);
      unattached_since_ = -1;
      attached_once_ = true;
    } else if (attached_once_ && unattached_since_ < 0) {
      unattached_since_ = now_;
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
  if (checker_.completed(self, checker::request_key(self_hash, c.request), c, now_) ==
      checker::completed_as::any_bounced_by_proxy) {
    for (std::size_t p = 0; p < proxies_.size(); ++p) {
      if (nodes_[proxies_[p]].role().self() == c.replies[0].from && !proxy_held_ever_[p] &&
          all_attached() && any_endpoint_alive())
        violation("swallowed_any", c.replies[0].from.str() + " took an any with no agents");
    }
  }
}

}  // namespace ccp::sim
