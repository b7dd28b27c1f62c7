// The checker: every delivery and outcome against DESIGN.md's invariants, the periodic
// samples (fenced ownership, reattachment, convergence), and the scenario's expectations.
#include <algorithm>
#include <cmath>

#include "sim/world.hpp"

namespace ccp::sim {

using namespace ccp::core;

namespace {

std::string code_name(errc c) {
  return c == errc{} ? "ok" : std::string(to_string(c));
}

}  // namespace

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
            !bus_down() && s.proxy->holds(host_names_[h]))
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
  bool first = result_.violations.insert(name).second;
  if (first || result_.failures.size() < 10)
    result_.failures.push_back(name + " at t=" + std::to_string(now_ / ms) + "ms: " + detail);
}

void world::on_deliver(std::uint32_t i, const message& m) {
  ++result_.deliveries;
  const address& self = nodes_[i].role().self();
  std::string& l = trace_start("deliver");
  l += R"(,"at":")";
  self.append_to(l);
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
  if (m.kind == msg_kind::error) return;  // an error answering one of its notifications
  if (!is_member(self, m.to)) {           // its own violation; it does not count as a delivery
    violation("non_member_delivery", m.to.str() + " delivered at " + self.str());
    return;
  }
  if (sc_.expect.max_any_share_skew) count_any(i, m);
  if (!delivered_.insert({i, from, m.id}).second)
    violation("duplicate_delivery", "message " + std::to_string(m.id) + " from " + m.from.str() +
                                        " delivered twice at " + self.str());
  if (m.to.form() != scope::all && m.to.form() != scope::host_all &&
      ++unicast_deliveries_[from ^ (m.id * 0x9e3779b97f4a7c15ull)] > 1)
    violation("duplicate_delivery", "message " + std::to_string(m.id) + " to " + m.to.str() +
                                        " delivered more than once in the fleet");
}

void world::on_complete(std::uint32_t i, const act::complete& c) {
  auto it = outcomes_.find(request_key(i, c.request));
  std::string& l = trace_start("complete");
  l += R"(,"at":")";
  nodes_[i].role().self().append_to(l);
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
  if (it == outcomes_.end()) {
    violation("outcome_count", "completion of unknown request " + std::to_string(c.request));
    return;
  }
  if (it->second & 1) {
    violation("outcome_count", "request " + std::to_string(c.request) + " of " +
                                   nodes_[i].role().self().str() + " completed twice");
    return;
  }
  it->second |= 1;
  if (c.code == errc{})
    ++result_.ok;
  else if (c.code == errc::timeout)
    ++result_.timeouts;
  else if (c.code == errc::unreachable)
    ++result_.unreachable;
  else if (c.code == errc::partial)
    ++result_.partial;
  else
    ++result_.other_errors;
  if (it->second & 4) {
    if (auto g = group_sent_.find(request_key(i, c.request)); g != group_sent_.end()) {
      check_group(i, c, g->second);
      group_sent_.erase(g);
    }
  }
  // An `any` request bounced by a proxy that never held an agent: it took an `any` it
  // could not serve.
  if ((it->second & 2) && c.code == errc::unreachable && !c.replies.empty() &&
      c.replies[0].from.type() == role::proxy) {
    for (std::size_t p = 0; p < proxies_.size(); ++p) {
      if (nodes_[proxies_[p]].role().self() == c.replies[0].from && !proxy_held_ever_[p] &&
          all_attached())
        violation("swallowed_any", c.replies[0].from.str() + " took an any with no agents");
    }
  }
}

// A group request's result accounts for each member it names once, and its outcome is the
// one its members make (core/action.hpp): never `ok` past a member that failed or stayed
// silent, never a success counted from an error reply.
void world::check_group(std::uint32_t i, const act::complete& c, micros sent) {
  using answer = act::member_result::answer;
  const std::string who = nodes_[i].role().self().str() + " request " + std::to_string(c.request);
  std::size_t ok = 0, answered = 0, unreachable = 0;
  for (std::size_t k = 0; k < c.members.size(); ++k) {
    const auto& r = c.members[k];
    if (k > 0 && !(c.members[k - 1].member < r.member)) {
      violation("group_accounting", who + " names " + r.member.str() + " twice or out of order");
      return;
    }
    ok += r.result == answer::ok;
    answered += r.result == answer::ok || r.result == answer::error;
    unreachable += r.result == answer::unreachable;
    // An answer counted must be one that came: a reply from that member, of that kind.
    if (r.result == answer::ok || r.result == answer::error) {
      const msg_kind kind = r.result == answer::ok ? msg_kind::response : msg_kind::error;
      bool came = std::any_of(c.replies.begin(), c.replies.end(), [&](const message& m) {
        return m.from == r.member && m.kind == kind;
      });
      if (!came)
        violation("group_accounting",
                  who + " counts an answer of " + r.member.str() + " that never came");
    }
  }
  if (c.code == errc::shutting_down) return;
  const std::size_t n = c.members.size();
  errc want{};
  if (n == 0) {
    // Members unknown to the sender (or none): then `ok` needs replies, none an error.
    const bool errors = std::any_of(c.replies.begin(), c.replies.end(),
                                    [](const message& m) { return m.kind == msg_kind::error; });
    if (c.code == errc{} && (c.replies.empty() || errors))
      violation("group_accounting", who + " ended ok with " + std::to_string(c.replies.size()) +
                                        " replies, errors among them: " + (errors ? "yes" : "no"));
    return;
  }
  if (unreachable == n)
    want = errc::unreachable;
  else if (ok == n)
    want = errc{};
  else if (answered == 0)
    want = errc::timeout;
  else
    want = errc::partial;
  if (c.code != want)
    violation("group_accounting", who + " ended " + code_name(c.code) + " where its " +
                                      std::to_string(n) + " members make it " + code_name(want));
  if (answered == n) {  // n > 0 here: members known
    ++result_.groups_answered;
    result_.group_latency_max = std::max(result_.group_latency_max, now_ - sent);
  }
}

void world::judge() {
  for (const auto& [key, state] : outcomes_)
    if (!(state & 1)) violation("outcome_count", "a request never completed");
  check_balance();
  check_any_share();

  auto fail = [&](std::string why) { result_.failures.push_back(std::move(why)); };
  if (sc_.expect.violation) {
    // A negative scenario passes only when exactly the expected violation was reported.
    bool exact =
        result_.violations.size() == 1 && result_.violations.contains(*sc_.expect.violation);
    result_.pass = exact;
    if (exact)
      result_.failures.clear();
    else
      fail("expected exactly the violation " + *sc_.expect.violation);
    return;
  }
  const double n = static_cast<double>(std::max<std::uint64_t>(result_.requests, 1));
  auto ratio = [n](std::uint64_t part) { return static_cast<double>(part) / n; };
  const expectations& ex = sc_.expect;
  if (ex.min_ok_ratio && ratio(result_.ok) < *ex.min_ok_ratio)
    fail("ok ratio " + std::to_string(ratio(result_.ok)) + " < " +
         std::to_string(*ex.min_ok_ratio));
  if (ex.max_timeout_ratio && ratio(result_.timeouts) > *ex.max_timeout_ratio)
    fail("timeout ratio " + std::to_string(ratio(result_.timeouts)) + " > " +
         std::to_string(*ex.max_timeout_ratio));
  if (ex.min_unreachable_ratio && ratio(result_.unreachable) < *ex.min_unreachable_ratio)
    fail("unreachable ratio " + std::to_string(ratio(result_.unreachable)) + " < " +
         std::to_string(*ex.min_unreachable_ratio));
  if (ex.max_unreachable_ratio && ratio(result_.unreachable) > *ex.max_unreachable_ratio)
    fail("unreachable ratio " + std::to_string(ratio(result_.unreachable)) + " > " +
         std::to_string(*ex.max_unreachable_ratio));
  if (ex.max_partial_ratio && ratio(result_.partial) > *ex.max_partial_ratio)
    fail("partial ratio " + std::to_string(ratio(result_.partial)) + " > " +
         std::to_string(*ex.max_partial_ratio));
  if (ex.group_complete_within && result_.group_latency_max > *ex.group_complete_within)
    fail("a group request whose members all answered took " +
         std::to_string(result_.group_latency_max / ms) + " ms > " +
         std::to_string(*ex.group_complete_within / ms) + " ms");
  if (ex.reattach_within &&
      (result_.reattach_time < 0 || result_.reattach_time > *ex.reattach_within))
    fail("agents not all attached within " + std::to_string(*ex.reattach_within / ms) + " ms");
  if (ex.converge_within &&
      (result_.converge_time < 0 || result_.converge_time > *ex.converge_within))
    fail("directories not converged within " + std::to_string(*ex.converge_within / ms) + " ms");
  result_.pass = result_.violations.empty() && result_.failures.empty();
}

}  // namespace ccp::sim
