// What only the simulated world can check: the periodic samples (fenced ownership,
// reattachment, convergence) and a proxy that took an `any`; it traces every delivery and
// outcome and hands it to the checker (sim/checker.hpp), which judges the invariants and
// the scenario's expectations.
#include <algorithm>

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

void world::sample() {
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
  // could not serve.
  if (checker_.completed(self, checker::request_key(self_hash, c.request), c, now_) ==
      checker::completed_as::any_bounced_by_proxy) {
    for (std::size_t p = 0; p < proxies_.size(); ++p) {
      if (nodes_[proxies_[p]].role().self() == c.replies[0].from && !proxy_held_ever_[p] &&
          all_attached())
        violation("swallowed_any", c.replies[0].from.str() + " took an any with no agents");
    }
  }
}

}  // namespace ccp::sim
