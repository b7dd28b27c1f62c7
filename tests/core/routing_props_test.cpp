// Model-based properties of the routing core: random sequences of requests, proxy
// crashes and restarts, half-open links, agent restarts, drains and time steps, run on
// the in-process harness; after healing, the invariants of DESIGN.md must hold.
#include "tests/core/harness.hpp"

#include <gtest/gtest.h>
#include <rapidcheck.h>
#include <rapidcheck/gtest.h>

#include <set>

namespace ccp::test {
namespace {

constexpr int hosts = 4;
const std::vector<std::string> proxy_names = {"10.0.1.1/p1", "10.0.1.2/p2", "10.0.1.3/p3"};

struct world {
  harness f;
  std::vector<core::mgmt*> mgmts;
  std::vector<core::proxy*> proxies;  // by index into proxy_names; may be dead
  std::vector<core::agent*> agents;   // by host; may be dead
  std::vector<int> agent_restarts;
  std::vector<core::endpoint*> endpoints;
  // Requests issued: (node, id).
  std::vector<std::pair<core::node*, std::uint64_t>> requests;

  explicit world(std::uint64_t seed) : f(seed) {
    mgmts.push_back(f.add_mgmt("m1.example", "m1"));
    mgmts.push_back(f.add_mgmt("m2.example", "m2"));
    for (const auto& n : proxy_names) {
      auto slash = n.find('/');
      proxies.push_back(f.add_proxy(n.substr(0, slash), n.substr(slash + 1)));
    }
    for (int h = 0; h < hosts; ++h) {
      agents.push_back(f.add_agent(host(h), rotated(h)));
      agent_restarts.push_back(0);
      endpoints.push_back(f.add_endpoint(host(h), "e1"));
      endpoints.push_back(f.add_endpoint(host(h), "e2"));
    }
    f.advance(3 * seconds);
  }

  static std::string host(int h) { return "10.0.0." + std::to_string(h + 1); }
  static std::vector<std::string> rotated(int h) {
    std::vector<std::string> v;
    for (std::size_t i = 0; i < proxy_names.size(); ++i)
      v.push_back(proxy_names[(i + static_cast<std::size_t>(h)) % proxy_names.size()]);
    return v;
  }

  std::string target(int pick) {
    static const std::vector<std::string> forms = {
        "ccp://endpoint/all", "ccp://endpoint/any", "ccp://agent/all",
        "ccp://agent/any",    "ccp://mgmt/any",     "ccp://mgmt/all",
        "ccp://proxy/all",    "ccp://proxy/any",    "ccp://endpoint/10.9.9.9/e1"};
    int h = pick % hosts;
    switch (pick % 5) {
      case 0:
        return "ccp://endpoint/" + host(h) + "/e" + std::to_string(1 + pick / 5 % 2);
      case 1:
        return "ccp://endpoint/" + host(h) + (pick / 5 % 2 ? "/all" : "/any");
      case 2:
        return "ccp://agent/" + host(h) + "/agent";
      default:
        return forms[static_cast<std::size_t>(pick / 5) % forms.size()];
    }
  }

  void step(int op, int a, int b) {
    switch (op) {
      case 0:
      case 1:
      case 2: {  // a request from a mgmt node or an endpoint
        core::node* from = op == 0 ? static_cast<core::node*>(mgmts[a % 2])
                                   : static_cast<core::node*>(endpoints[a % endpoints.size()]);
        // ping is answered by the core, echo by the application: both paths are checked.
        auto id = from->request(*address::parse(target(b)), (a / 2) % 2 ? "ping" : "echo", "{}",
                                (200 + b % 800) * ms, f.now());
        if (id) requests.emplace_back(from, *id);
        f.run_actions(from);  // execute what the call produced
        f.run();
        break;
      }
      case 3: {  // crash a proxy, or restart a dead one
        std::size_t i = static_cast<std::size_t>(a) % proxies.size();
        if (f.alive(proxies[i])) {
          f.kill_proxy(proxies[i]);
        } else {
          auto slash = proxy_names[i].find('/');
          proxies[i] =
              f.add_proxy(proxy_names[i].substr(0, slash), proxy_names[i].substr(slash + 1));
        }
        break;
      }
      case 4: {  // a half-open link
        auto* ag = agents[static_cast<std::size_t>(a) % agents.size()];
        if (f.alive(ag) && ag->status() == core::agent::link_status::up) f.half_open(ag);
        break;
      }
      case 5: {  // an agent crashes and restarts with a larger epoch base
        std::size_t h = static_cast<std::size_t>(a) % agents.size();
        f.kill_agent(agents[h]);
        ++agent_restarts[h];
        agents[h] = f.add_agent(host(static_cast<int>(h)), rotated(static_cast<int>(h)), "secret",
                                static_cast<std::uint64_t>(agent_restarts[h]) << 32);
        break;
      }
      case 6: {  // a proxy drains
        auto* p = proxies[static_cast<std::size_t>(a) % proxies.size()];
        if (f.alive(p) && !p->draining()) {
          p->drain(f.now());
          f.run_actions(p);
          f.run();
        }
        break;
      }
      default:  // time passes
        f.advance((1 + b % 30) * 100 * ms);
        break;
    }
  }

  void heal() {
    for (std::size_t i = 0; i < proxies.size(); ++i) {
      if (f.alive(proxies[i]) && !proxies[i]->draining()) continue;
      if (f.alive(proxies[i])) f.kill_proxy(proxies[i]);  // a drained proxy exits
      auto slash = proxy_names[i].find('/');
      proxies[i] = f.add_proxy(proxy_names[i].substr(0, slash), proxy_names[i].substr(slash + 1));
    }
    f.advance(40 * seconds);
  }
};

void check_invariants(world& w) {
  // Every request ended exactly once.
  std::map<core::node*, std::size_t> issued;
  for (const auto& [n, id] : w.requests) {
    ++issued[n];
    RC_ASSERT(w.f.outcome(n, id) != nullptr);
  }
  for (const auto& [n, count] : issued) {
    RC_ASSERT(w.f.logs().at(n).completions == count);
    RC_ASSERT(n->pending_requests() == 0u);
  }
  // No delivery to a non-member; no duplicate delivery at a receiver; unicast and any
  // delivered at most once in the whole fleet.
  std::map<std::pair<std::string, std::uint64_t>, int> fleetwide;
  for (const auto& [n, log] : w.f.logs()) {
    std::set<std::pair<std::string, std::uint64_t>> seen;
    for (const auto& m : log.delivered) {
      if (m.kind == msg_kind::error) continue;  // an error answering our notification
      RC_ASSERT(is_member(n->self(), m.to));
      RC_ASSERT(seen.insert({m.from.str(), m.id}).second);
      if (m.to.form() != scope::all && m.to.form() != scope::host_all)
        RC_ASSERT((++fleetwide[std::make_pair(m.from.str(), m.id)]) == 1);
    }
  }
  // Fencing: after healing, each host is routed by exactly one live proxy, and every
  // agent is attached again.
  for (int h = 0; h < hosts; ++h) {
    int holders = 0;
    for (auto* p : w.proxies)
      if (w.f.alive(p) && p->holds(world::host(h))) ++holders;
    RC_ASSERT(holders == 1);
    RC_ASSERT(w.agents[static_cast<std::size_t>(h)]->status() == core::agent::link_status::up);
  }
}

RC_GTEST_PROP(RoutingModel, InvariantsHoldUnderRandomFaults, ()) {
  auto seed = *rc::gen::inRange<std::uint64_t>(1, 1'000'000);
  auto ops = *rc::gen::container<std::vector<std::tuple<int, int, int>>>(rc::gen::tuple(
      rc::gen::inRange(0, 10), rc::gen::inRange(0, 1000), rc::gen::inRange(0, 1000)));
  world w(seed);
  for (const auto& [op, a, b] : ops) {
    w.step(op, a, b);
    // Fencing holds at every step, not only after healing: with zero latency the newer
    // attachment's announcement reaches the old holder in the same step.
    for (int h = 0; h < hosts; ++h) {
      int holders = 0;
      for (auto* p : w.proxies)
        if (w.f.alive(p) && p->holds(world::host(h))) ++holders;
      RC_ASSERT(holders <= 1);
    }
  }
  RC_TAG(w.requests.empty() ? "no requests" : "requests");
  w.heal();
  check_invariants(w);
}

// After healing, requests work again everywhere: liveness, not only safety.
RC_GTEST_PROP(RoutingModel, FleetRecoversAfterFaults, ()) {
  auto seed = *rc::gen::inRange<std::uint64_t>(1, 1'000'000);
  auto ops = *rc::gen::container<std::vector<std::tuple<int, int, int>>>(rc::gen::tuple(
      rc::gen::inRange(3, 10), rc::gen::inRange(0, 1000), rc::gen::inRange(0, 1000)));
  world w(seed);
  for (const auto& [op, a, b] : ops)
    w.step(op, a, b);
  w.heal();
  auto id = w.mgmts[0]->request(*address::parse("ccp://endpoint/all"), "ping", "{}", 1 * seconds,
                                w.f.now());
  RC_ASSERT(id.has_value());
  w.f.run_actions(w.mgmts[0]);
  w.f.run();
  w.f.advance(2 * seconds);
  const act::complete* c = w.f.outcome(w.mgmts[0], *id);
  RC_ASSERT(c != nullptr);
  RC_ASSERT(c->code == errc{});
  RC_ASSERT(c->replies.size() == static_cast<std::size_t>(2 * hosts));
}

}  // namespace
}  // namespace ccp::test
