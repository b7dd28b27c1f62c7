// The checker: every request, delivery and outcome against DESIGN.md's invariants, and the
// scenario's expectations, from addresses alone (no world).
#include "sim/checker.hpp"

#include <algorithm>
#include <iterator>

namespace ccp::sim {

using namespace ccp::core;

std::string code_name(errc c) {
  return c == errc{} ? "ok" : std::string(to_string(c));
}

void checker::violation(const std::string& name, const std::string& detail, micros now) {
  bool first = result_.violations.insert(name).second;
  if (first || result_.failures.size() < 10)
    result_.failures.push_back(name + " at t=" + std::to_string(now / ms) + "ms: " + detail);
}

void checker::sent(std::uint64_t key, scope to, micros now) {
  ++result_.requests;
  const bool any = to == scope::any || to == scope::host_any;
  const bool group = to == scope::all || to == scope::host_all;
  outcomes_[key] = {now, static_cast<std::uint8_t>((any ? 2 : 0) | (group ? 4 : 0)), 0};
  if (group) group_sent_[key] = now;
}

bool checker::abandon(std::uint64_t key) {
  auto it = outcomes_.find(key);
  if (it == outcomes_.end() || (it->second.state & 1)) return false;
  it->second.state |= 1 | 8;  // ended: abandoned
  ++result_.abandoned;
  group_sent_.erase(key);
  return true;
}

void checker::delivered(const address& self, std::uint64_t self_hash, const message& m,
                        std::uint64_t from, micros now) {
  ++result_.deliveries;
  if (m.kind == msg_kind::error) return;  // an error answering one of its notifications
  if (!is_member(self, m.to)) {           // its own violation; it does not count as a delivery
    violation("non_member_delivery", m.to.str() + " delivered at " + self.str(), now);
    return;
  }
  if (!delivered_.insert({self_hash, from, m.id}).second)
    violation("duplicate_delivery",
              "message " + std::to_string(m.id) + " from " + m.from.str() + " delivered twice at " +
                  self.str(),
              now);
  if (m.to.form() != scope::all && m.to.form() != scope::host_all &&
      ++unicast_deliveries_[from ^ (m.id * 0x9e3779b97f4a7c15ull)] > 1)
    violation("duplicate_delivery",
              "message " + std::to_string(m.id) + " to " + m.to.str() +
                  " delivered more than once in the fleet",
              now);
}

checker::completed_as checker::completed(const address& self, std::uint64_t key,
                                         const act::complete& c, micros now) {
  auto it = outcomes_.find(key);
  if (it == outcomes_.end()) {
    violation("outcome_count", "completion of unknown request " + std::to_string(c.request), now);
    return completed_as::unknown;
  }
  request_state& rs = it->second;
  if (rs.state & 1) {
    violation("outcome_count",
              "request " + std::to_string(c.request) + " of " + self.str() + " completed twice",
              now);
    return completed_as::twice;
  }
  rs.state |= 1;
  std::uint64_t* counts[] = {&result_.ok, &result_.timeouts, &result_.unreachable, &result_.partial,
                             &result_.other_errors};
  rs.outcome = c.code == errc{}              ? 0
               : c.code == errc::timeout     ? 1
               : c.code == errc::unreachable ? 2
               : c.code == errc::partial     ? 3
                                             : 4;
  ++*counts[rs.outcome];
  if (rs.state & 4) {
    if (auto g = group_sent_.find(key); g != group_sent_.end()) {
      check_group(self, c, g->second, now);
      group_sent_.erase(g);
    }
  }
  if ((rs.state & 2) && c.code == errc::unreachable && !c.replies.empty() &&
      c.replies[0].from.type() == role::proxy)
    return completed_as::any_bounced_by_proxy;
  return completed_as::once;
}

// A group request's result accounts for each member it names once, and its outcome is the
// one its members make (core/action.hpp): never `ok` past a member that failed or stayed
// silent, never a success counted from an error reply.
void checker::check_group(const address& self, const act::complete& c, micros sent, micros now) {
  using answer = act::member_result::answer;
  auto violation = [&](const std::string& name, const std::string& detail) {
    this->violation(name, detail, now);
  };
  const std::string who = self.str() + " request " + std::to_string(c.request);
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
    result_.group_latency_max = std::max(result_.group_latency_max, now - sent);
  }
}

void checker::observe(micros now, bool attached, bool converged) {
  converged = converged && attached;
  if (!states_.empty() && states_.back().attached == attached &&
      states_.back().converged == converged)
    return;
  if (!states_.empty() && states_.back().t == now)
    states_.back() = {now, attached, converged};
  else
    states_.push_back({now, attached, converged});
}

bool checker::figures_settled(micros now) const {
  // The heal (at the end of the fault phase) ends every fault: the last figure to settle.
  if (states_.empty() || !states_.back().converged) return false;
  return now - std::max(states_.back().t, sc_.duration) >= settle_window;
}

namespace {

// The start of the first stretch at or after `from` during which `holds` was true for
// `window`, among the state changes `states` (each lasting until the next, the last until
// `now`); -1 if none.
template <class States, class Holds>
micros settled_at(const States& states, micros from, micros window, micros now, Holds holds) {
  for (std::size_t k = 0; k < states.size();) {
    if (!holds(states[k])) {
      ++k;
      continue;
    }
    std::size_t next = k + 1;  // the stretch goes on over changes of the other figure
    while (next < states.size() && holds(states[next]))
      ++next;
    const micros until = next < states.size() ? states[next].t : now;
    const micros begin = std::max(states[k].t, from);
    if (until > begin && until - begin >= window) return begin;
    k = next;
  }
  return -1;
}

}  // namespace

void checker::measure_faults(micros now) {
  std::vector<fault_figure>& figs = result_.faults;
  figs.clear();
  // A fault whose start the run never reached did not happen.
  const bool lasting_kinds[] = {false, false, false, true, false, true,
                                true,  true,  true,  true, true,  false};
  static_assert(std::size(lasting_kinds) == static_cast<std::size_t>(fault_kind::kill_mgmt) + 1);
  for (std::size_t f = 0; f <= sc_.faults.size(); ++f) {
    fault_figure g;
    g.fault = f;
    if (f == sc_.faults.size()) {
      g.start = g.end = sc_.duration;  // the heal
    } else {
      const fault& x = sc_.faults[f];
      if (x.at > sc_.duration) continue;
      g.start = x.at;
      // Without a duration, a partition, latency spike, stall, slow consumer or outage
      // lasts until the heal (sim/faults.cpp); a restart after 0 s is at once.
      const bool restarts =
          x.kind == fault_kind::kill_agent || x.kind == fault_kind::endpoint_churn;
      g.end = !lasting_kinds[static_cast<std::size_t>(x.kind)] ? x.at
              : x.duration == 0 && !restarts                   ? sc_.duration
                                             : std::min(x.at + x.duration, sc_.duration);
    }
    g.reattached = settled_at(states_, g.end, settle_window, now,
                              [](const fleet_state& s) { return s.attached; });
    g.converged = settled_at(states_, g.end, settle_window, now,
                             [](const fleet_state& s) { return s.converged; });
    figs.push_back(g);
  }
  // Requests by the fault windows they were sent in: from the start until it converged.
  for (const auto& [key, rs] : outcomes_) {
    for (fault_figure& g : figs) {
      const micros until = g.converged < 0 ? now : g.converged;
      if (rs.sent < g.start || rs.sent > until) continue;
      ++g.requests;
      if (!(rs.state & 1)) continue;  // never completed: a violation of its own
      if (rs.state & 8) {
        ++g.abandoned;
        continue;
      }
      std::uint64_t* counts[] = {&g.ok, &g.timeouts, &g.unreachable, &g.partial, &g.other_errors};
      ++*counts[rs.outcome];
    }
  }
  // The summary's figures: the worst from a fault's end.
  result_.reattach_time = result_.converge_time = 0;
  for (const fault_figure& g : figs) {
    auto worst = [](micros& w, micros v) { w = w < 0 || v < 0 ? -1 : std::max(w, v); };
    worst(result_.reattach_time, g.reattach_from_end());
    worst(result_.converge_time, g.converge_from_end());
  }
}

void checker::judge(micros now) {
  for (const auto& [key, rs] : outcomes_)
    if (!(rs.state & 1)) violation("outcome_count", "a request never completed", now);
  measure_faults(now);

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
  // Per fault, from its end: whole again, for settle_window, within the expectation.
  for (const fault_figure& g : result_.faults) {
    const std::string what = g.fault == sc_.faults.size()
                                 ? std::string("the heal")
                                 : "fault " + std::to_string(g.fault) + " (" +
                                       std::string(to_string(sc_.faults[g.fault].kind)) + " at " +
                                       std::to_string(g.start / ms) + " ms)";
    auto took = [](micros t) {
      return t < 0 ? std::string("never") : "took " + std::to_string(t / ms) + " ms";
    };
    if (ex.reattach_within &&
        (g.reattach_from_end() < 0 || g.reattach_from_end() > *ex.reattach_within))
      fail(what + ": agents not all attached within " + std::to_string(*ex.reattach_within / ms) +
           " ms of its end (" + took(g.reattach_from_end()) + ")");
    if (ex.converge_within &&
        (g.converge_from_end() < 0 || g.converge_from_end() > *ex.converge_within))
      fail(what + ": directories not converged within " + std::to_string(*ex.converge_within / ms) +
           " ms of its end (" + took(g.converge_from_end()) + ")");
  }
  result_.pass = result_.violations.empty() && result_.failures.empty();
}

}  // namespace ccp::sim
