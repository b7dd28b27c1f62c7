// Routing through the four roles, wired by the in-process harness: reachability of every
// address form from every role, explicit outcomes, registration, fencing and failover.
#include "tests/core/harness.hpp"

#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "core/subject.hpp"
#include "tests/core/generators.hpp"

namespace ccp::test {
namespace {

struct topology {
  harness f{7};
  core::mgmt* m1 = nullptr;
  core::mgmt* m2 = nullptr;
  core::proxy* p1 = nullptr;
  core::proxy* p2 = nullptr;
  std::vector<core::agent*> agents;
  std::vector<core::endpoint*> endpoints;

  // 2 mgmt nodes, 2 proxies, 3 hosts with an agent and 2 endpoints each; host 1 and 3
  // prefer proxy 1, host 2 prefers proxy 2.
  explicit topology(int hosts = 3) {
    m1 = f.add_mgmt("mgmt-1.example", "m1");
    m2 = f.add_mgmt("mgmt-2.example", "m2");
    p1 = f.add_proxy("10.0.1.1", "p1");
    p2 = f.add_proxy("10.0.1.2", "p2");
    for (int h = 1; h <= hosts; ++h) {
      std::string host = "10.0.0." + std::to_string(h);
      std::vector<std::string> order = h % 2
                                           ? std::vector<std::string>{"10.0.1.1/p1", "10.0.1.2/p2"}
                                           : std::vector<std::string>{"10.0.1.2/p2", "10.0.1.1/p1"};
      agents.push_back(f.add_agent(host, order));
      endpoints.push_back(f.add_endpoint(host, "e1"));
      endpoints.push_back(f.add_endpoint(host, "e2"));
    }
    f.advance(3 * seconds);
  }
};

// A request for a test to encode and inject by hand; `from` and `to` must parse.
core::message request_message(std::uint64_t id, std::string_view from, std::string_view to,
                              std::string type, std::uint32_t ttl_ms = 0) {
  core::message m;
  m.id = id;
  m.kind = msg_kind::request;
  m.from = *address::parse(from);
  m.to = *address::parse(to);
  m.type = std::move(type);
  m.ttl_ms = ttl_ms;
  return m;
}

const act::complete& ended(harness& f, core::node* n, std::uint64_t id) {
  const act::complete* c = f.outcome(n, id);
  if (!c) throw std::runtime_error("request " + std::to_string(id) + " did not end");
  return *c;
}

TEST(Routing, FleetAttachesAndEndpointsRegister) {
  topology t;
  for (auto* a : t.agents)
    EXPECT_EQ(a->status(), core::agent::link_status::up);
  for (auto* e : t.endpoints)
    EXPECT_EQ(e->state(), core::endpoint::status::registered);
  EXPECT_EQ(t.p1->attached(), 2u);
  EXPECT_EQ(t.p2->attached(), 1u);
  EXPECT_EQ(t.m1->directory().hosts(), 3u);
  EXPECT_EQ(t.m2->directory().hosts(), 3u);
  EXPECT_EQ(t.f.malformed_total(), 0u);
}

TEST(Routing, MgmtRequestReachesOneEndpointAndReplyRoutesBack) {
  topology t;
  auto id = t.f.request(t.m1, "ccp://endpoint/10.0.0.2/e2", "echo", R"({"x":1})");
  t.f.advance(100 * ms);
  const auto& c = ended(t.f, t.m1, id);
  ASSERT_EQ(c.code, errc{});
  ASSERT_EQ(c.replies.size(), 1u);
  EXPECT_EQ(c.replies[0].body, R"({"x":1})");
  EXPECT_EQ(c.replies[0].from.str(), "ccp://endpoint/10.0.0.2/e2");
  EXPECT_EQ(t.f.deliveries(t.m1->self(), id), 1u);
}

// The built-in operations: a proxy lists the hosts it holds, sorted by host, with their
// epochs; an agent lists its endpoints. Hosts are added out of order; with libstdc++'s
// hashing the proxy's route table does not list them sorted (the test fails without the
// sort in proxy::builtin).
TEST(Routing, ProxyAnswersAgentsAndAgentAnswersEndpoints) {
  harness f{7};
  core::mgmt* m = f.add_mgmt("mgmt-1.example", "m1");
  core::proxy* p = f.add_proxy("10.0.1.1", "p1");
  for (const char* host : {"10.0.0.9", "10.0.0.10", "10.0.0.2", "b.example", "a.example"})
    f.add_agent(host, {"10.0.1.1/p1"});
  f.add_endpoint("10.0.0.2", "e2");
  f.add_endpoint("10.0.0.2", "e1");
  f.advance(3 * seconds);

  auto agents = f.request(m, "ccp://proxy/10.0.1.1/p1", "agents");
  auto endpoints = f.request(m, "ccp://agent/10.0.0.2/any", "endpoints");
  f.advance(100 * ms);
  const auto& a = ended(f, m, agents);
  ASSERT_EQ(a.code, errc{});
  ASSERT_EQ(a.replies.size(), 1u);
  const std::string& body = a.replies[0].body;
  std::vector<std::size_t> at;
  for (const char* host : {"10.0.0.10", "10.0.0.2", "10.0.0.9", "a.example", "b.example"}) {
    at.push_back(body.find(std::string(R"("host":")") + host + '"'));
    EXPECT_NE(at.back(), std::string::npos) << host << " missing from " << body;
  }
  EXPECT_TRUE(std::is_sorted(at.begin(), at.end())) << "hosts not in order: " << body;
  EXPECT_NE(body.find(R"("epoch":)"), std::string::npos) << body;

  const auto& e = ended(f, m, endpoints);
  ASSERT_EQ(e.code, errc{});
  ASSERT_EQ(e.replies.size(), 1u);
  EXPECT_NE(e.replies[0].body.find("e1"), std::string::npos) << e.replies[0].body;
  EXPECT_NE(e.replies[0].body.find("e2"), std::string::npos) << e.replies[0].body;

  // What a peer proxy asks for when its directory disagrees with p1's heartbeat: the
  // routes p1 holds (proxy::own_routes), in host order, with their epochs.
  core::message sync;
  sync.id = 99;
  sync.kind = core::msg_kind::request;
  sync.from = *address::parse("ccp://proxy/10.0.1.2/p2");
  sync.to = p->self();
  sync.type = "ccp.sync";
  sync.body = "{}";
  sync.ttl_ms = 1000;
  p->on_bus("ccp.proxy.10_0_1_1.p1", std::make_shared<std::string>(*core::encode(sync)), f.now());
  ASSERT_EQ(p->actions().size(), 1u);
  const auto* reply = std::get_if<act::publish>(&p->actions().front());
  ASSERT_NE(reply, nullptr);
  auto r = core::decode(*reply->frame);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->correlation, sync.id);
  // Each route with who lives there: "HOST EPOCH AGENT ENDPOINT...", and in the last part
  // the proxies the answering one knows (itself first), for a fresh node's sync_fleet.
  EXPECT_EQ(r->body,
            R"({"routes":["10.0.0.10 1 agent","10.0.0.2 1 agent e1 e2","10.0.0.9 1 agent",)"
            R"("a.example 1 agent","b.example 1 agent"],"last":1,)"
            R"("proxies":["ccp://proxy/10.0.1.1/p1"]})");
  f.run_actions(p);
}

// Members of each type in the topology, to check `all` and `any` answers against.
std::vector<std::string> members(const topology& t, role r) {
  std::vector<std::string> out;
  auto add = [&](const core::node* n) {
    if (n->self().type() == r) out.push_back(n->self().str());
  };
  add(t.m1);
  add(t.m2);
  add(t.p1);
  add(t.p2);
  for (auto* a : t.agents)
    add(a);
  for (auto* e : t.endpoints)
    add(e);
  return out;
}

struct form_case {
  scope form;
  const char* suffix;
};

// The 4 x 4 x 5 reachability matrix: every role sends `ping` to every address form of
// every type; the answers come from members of the group, `any` gets exactly one, `all`
// and host-all get every member once.
TEST(Routing, ReachabilityMatrix) {
  topology t;
  struct sender {
    const char* name;
    core::node* n;
  };
  std::vector<sender> senders = {
      {"mgmt", t.m1}, {"proxy", t.p1}, {"agent", t.agents[0]}, {"endpoint", t.endpoints[0]}};
  // For each type: one concrete member and its host.
  std::map<role, std::pair<std::string, std::string>> concrete = {
      {role::mgmt, {"mgmt-2.example", "m2"}},
      {role::proxy, {"10.0.1.2", "p2"}},
      {role::agent, {"10.0.0.2", "agent"}},
      {role::endpoint, {"10.0.0.3", "e1"}},
  };
  for (const auto& s : senders) {
    for (role r : {role::mgmt, role::proxy, role::agent, role::endpoint}) {
      for (scope form : {scope::one, scope::any, scope::all, scope::host_any, scope::host_all}) {
        const auto& [host, id] = concrete[r];
        address to = form == scope::one ? *address::one(r, host, id)
                     : (form == scope::any || form == scope::all)
                         ? address::group(r, form)
                         : *address::host_group(r, host, form);
        SCOPED_TRACE(std::string(s.name) + " -> " + to.str());
        auto id_req = t.f.request(s.n, to.str(), "ping", "{}", 500 * ms);
        t.f.advance(600 * ms);
        const auto& c = ended(t.f, s.n, id_req);
        ASSERT_EQ(c.code, errc{}) << (c.replies.empty() ? "" : c.replies[0].text);
        std::vector<std::string> got;
        for (const auto& m : c.replies) {
          EXPECT_EQ(m.kind, msg_kind::response) << m.text;
          EXPECT_TRUE(is_member(m.from, to)) << m.from.str();
          got.push_back(m.from.str());
        }
        std::sort(got.begin(), got.end());
        EXPECT_EQ(std::adjacent_find(got.begin(), got.end()), got.end()) << "duplicate reply";
        std::vector<std::string> want;
        for (const auto& a : members(t, r))
          if (is_member(*address::parse(a), to)) want.push_back(a);
        std::sort(want.begin(), want.end());
        if (form == scope::one || form == scope::any || form == scope::host_any) {
          EXPECT_EQ(got.size(), 1u);
        } else {
          EXPECT_EQ(got, want);
        }
      }
    }
  }
}

TEST(Routing, UnicastToUnknownHostIsUnreachableAtOnce) {
  topology t;
  auto id = t.f.request(t.m1, "ccp://endpoint/10.9.9.9/e1", "echo");
  t.f.run();
  const auto& c = ended(t.f, t.m1, id);  // no time passed
  EXPECT_EQ(c.code, errc::unreachable);
}

TEST(Routing, UnicastToMissingEndpointIsUnreachableFromItsAgent) {
  topology t;
  auto id = t.f.request(t.m1, "ccp://endpoint/10.0.0.1/nope", "echo");
  t.f.run();
  const auto& c = ended(t.f, t.m1, id);
  EXPECT_EQ(c.code, errc::unreachable);
  ASSERT_EQ(c.replies.size(), 1u);
  EXPECT_EQ(c.replies[0].from.str(), "ccp://agent/10.0.0.1/agent");
}

TEST(Routing, RequestWithoutHandlerEndsInNoHandler) {
  topology t;
  auto id = t.f.request(t.m1, "ccp://endpoint/10.0.0.1/e1", "reboot");
  t.f.run();
  EXPECT_EQ(ended(t.f, t.m1, id).code, errc::no_handler);
}

TEST(Routing, RequestPastDeadlineEndsInTimeout) {
  topology t;
  // The proxy holding host 2 dies silently for the mgmt node (its lease has not run out):
  // the request is published and nobody answers.
  t.f.kill_proxy(t.p2);
  auto id = t.f.request(t.m1, "ccp://endpoint/10.0.0.2/e1", "echo", "{}", 300 * ms);
  t.f.advance(200 * ms);
  EXPECT_EQ(t.f.outcome(t.m1, id), nullptr);
  t.f.advance(200 * ms);
  EXPECT_EQ(ended(t.f, t.m1, id).code, errc::timeout);
  EXPECT_EQ(t.f.log(t.m1).completions, 1u);
}

TEST(Routing, AbortPendingEndsEveryRequestOnceWithTheGivenCode) {
  topology t;
  t.f.kill_proxy(t.p2);  // nobody will answer these
  auto a = t.f.request(t.m1, "ccp://endpoint/10.0.0.2/e1", "echo", "{}", 10 * seconds);
  auto b = t.f.request(t.m1, "ccp://endpoint/10.0.0.2/all", "echo", "{}", 10 * seconds);
  t.f.advance(100 * ms);
  t.m1->abort_pending(errc::shutting_down);
  t.f.advance(11 * seconds);
  EXPECT_EQ(ended(t.f, t.m1, a).code, errc::shutting_down);
  EXPECT_EQ(ended(t.f, t.m1, b).code, errc::shutting_down);
  EXPECT_EQ(t.f.log(t.m1).completions, 2u);
  EXPECT_EQ(t.m1->pending_requests(), 0u);
}

TEST(Routing, DuplicateEndpointIdIsRejected) {
  topology t;
  auto* dup = t.f.add_endpoint("10.0.0.1", "e1");
  t.f.advance(100 * ms);
  EXPECT_EQ(dup->state(), core::endpoint::status::rejected);
  ASSERT_EQ(t.f.log(dup).delivered.size(), 1u);
  EXPECT_EQ(t.f.log(dup).delivered[0].code, errc::rejected);
  EXPECT_EQ(t.endpoints[0]->state(), core::endpoint::status::registered);
  // The original still gets its traffic, once.
  auto id = t.f.request(t.m1, "ccp://endpoint/10.0.0.1/e1", "echo");
  t.f.advance(100 * ms);
  EXPECT_EQ(ended(t.f, t.m1, id).code, errc{});
  EXPECT_TRUE(t.f.log(dup).delivered.size() == 1u);
}

TEST(Routing, WrongTokenIsRejected) {
  topology t(0);
  auto* a = t.f.add_agent("10.0.0.5", {"10.0.1.1/p1"}, "wrong");
  t.f.advance(2 * seconds);
  EXPECT_NE(a->status(), core::agent::link_status::up);
  EXPECT_EQ(t.p1->attached(), 0u);
}

TEST(Routing, SpoofedSourceIsRejectedAndAgentStaysConnected) {
  topology t;
  core::message m =
      request_message(99, "ccp://endpoint/10.0.0.2/e1", "ccp://mgmt/any", "ping");  // not host 1
  auto errors_before = t.p1->stats().errors_sent;
  t.f.inject_from_agent(t.agents[0], *encode(m));
  t.f.advance(100 * ms);
  EXPECT_EQ(t.agents[0]->status(), core::agent::link_status::up);
  EXPECT_EQ(t.p1->stats().errors_sent, errors_before + 1);  // the rejection, to the agent
  EXPECT_EQ(t.f.deliveries(m.from, 99), 0u);
  EXPECT_EQ(t.m1->stats().completed + t.m2->stats().completed, 0u);
  // Nothing answered the spoofed request: no stray reply reached host 2's endpoint.
  EXPECT_EQ(t.endpoints[2]->stats().dropped, 0u);
}

// `frame` with byte `at` of its sender's address (which starts right after the fixed
// header) replaced by `c`: a frame whose framing reads and whose `from` does not.
std::string with_bad_sender(std::string frame, std::size_t at, char c) {
  frame[header_bytes + at] = c;
  return frame;
}

// A proxy checks the sender of every frame from an agent against the agent's host by its
// prefix, without parsing it: the agent's own address and its host's endpoints pass,
// another agent of the same host is rejected with an error, and a sender that does not
// parse is dropped as malformed (nothing can answer it), the link staying up.
TEST(Routing, ProxyChecksEverySenderFromAnAgent) {
  topology t;
  auto* agent = t.agents[0];
  const std::string own = agent->self().str();
  auto errors = t.p1->stats().errors_sent;
  auto mgmt_answers = [&t] { return t.m1->stats().errors_sent + t.m2->stats().errors_sent; };
  const auto answered = mgmt_answers();
  // The agent itself, then an endpoint of its host (even one it has not registered); mgmt
  // answers each with no_handler.
  t.f.inject_from_agent(agent, *encode(request_message(91, own, "ccp://mgmt/any", "x")));
  t.f.inject_from_agent(agent, *encode(request_message(92, "ccp://endpoint/10.0.0.1/unlisted",
                                                       "ccp://mgmt/any", "x")));
  t.f.advance(100 * ms);
  EXPECT_EQ(t.p1->stats().errors_sent, errors);
  EXPECT_EQ(mgmt_answers(), answered + 2);

  // Another agent id on the same host: rejected, as a foreign host is.
  const std::string other = "ccp://agent/10.0.0.1/not-" + std::string(agent->self().id());
  t.f.inject_from_agent(agent, *encode(request_message(93, other, "ccp://mgmt/any", "x")));
  t.f.advance(100 * ms);
  EXPECT_EQ(t.p1->stats().errors_sent, errors + 1);
  EXPECT_EQ(mgmt_answers(), answered + 2);

  // "ccp://endpoint/10.0.0.1/e1" with a space in the id, and with an upper-case scheme.
  const std::string ok =
      *encode(request_message(94, "ccp://endpoint/10.0.0.1/e1", "ccp://mgmt/any", "x"));
  auto malformed = t.p1->stats().malformed;
  t.f.inject_from_agent(agent, with_bad_sender(ok, 25, ' '));
  t.f.inject_from_agent(agent, with_bad_sender(ok, 0, 'C'));
  t.f.advance(100 * ms);
  EXPECT_EQ(t.p1->stats().malformed, malformed + 2);
  EXPECT_EQ(t.p1->stats().errors_sent, errors + 1);
  EXPECT_EQ(mgmt_answers(), answered + 2);
  EXPECT_EQ(agent->status(), core::agent::link_status::up);
}

// A proxy forwards a frame from the backbone by its `to` and parses the sender only to
// answer it: one it cannot answer (unreachable host) with a sender that does not parse is
// dropped as malformed, with no error sent anywhere; to an attached host it goes on, and
// the endpoint, which reads it in full, drops it.
TEST(Routing, ProxyParsesABackboneSenderOnlyToAnswerIt) {
  topology t;
  auto send_on_backbone = [&](std::string frame, std::string_view to) {
    auto subject = core::backbone_subject(address::parse(to)->view());
    t.p1->on_bus(subject, std::make_shared<std::string>(std::move(frame)), t.f.now());
    t.f.run_actions(t.p1);
    t.f.run();
  };
  auto errors = t.p1->stats().errors_sent;
  auto malformed = t.p1->stats().malformed;
  const char* unattached = "ccp://endpoint/10.9.9.9/e1";
  std::string f = *encode(request_message(95, "ccp://mgmt/mgmt-1.example/m1", unattached, "x"));
  send_on_backbone(with_bad_sender(f, 6, '#'), unattached);
  EXPECT_EQ(t.p1->stats().malformed, malformed + 1);
  EXPECT_EQ(t.p1->stats().errors_sent, errors);
  // The same sender, well formed: the proxy answers `unreachable`.
  send_on_backbone(f, unattached);
  EXPECT_EQ(t.p1->stats().errors_sent, errors + 1);

  const char* attached = "ccp://endpoint/10.0.0.1/e1";
  auto* e = t.endpoints[0];
  auto e_malformed = e->stats().malformed;
  f = *encode(request_message(96, "ccp://mgmt/mgmt-1.example/m1", attached, "x"));
  send_on_backbone(with_bad_sender(f, 6, '#'), attached);
  EXPECT_EQ(e->stats().malformed, e_malformed + 1);
  EXPECT_EQ(t.p1->stats().errors_sent, errors + 1);
}

// A destination is vouched for by a route (proxy) or by the agent's own host, and only
// its last segment is checked then: a bad id on an attached host is still malformed, at
// the proxy (from the backbone) and at the agent (from its proxy), never forwarded.
TEST(Routing, DestinationsWithAKnownHostAreStillCheckedInFull) {
  topology t;
  const std::string to = "ccp://endpoint/10.0.0.1/e1";
  const core::message m = request_message(97, "ccp://mgmt/mgmt-1.example/m1", to, "echo");
  const std::string f = *encode(m);
  // The '1' of "e1" in `to`, which follows `from` after the fixed header.
  const std::size_t id_at = header_bytes + get_le(f, wire::from_len, 2) + to.size() - 1;
  std::string bad = f;
  bad[id_at] = '?';
  auto malformed = t.p1->stats().malformed;
  auto forwarded = t.p1->stats().forwarded;
  t.p1->on_bus(core::host_subject("10.0.0.1"), std::make_shared<std::string>(bad), t.f.now());
  t.f.run_actions(t.p1);
  t.f.run();
  EXPECT_EQ(t.p1->stats().malformed, malformed + 1);
  EXPECT_EQ(t.p1->stats().forwarded, forwarded);

  auto* agent = t.agents[0];
  malformed = agent->stats().malformed;
  forwarded = agent->stats().forwarded;
  t.f.inject_to_agent(agent, bad);
  t.f.run();
  EXPECT_EQ(agent->stats().malformed, malformed + 1);
  EXPECT_EQ(agent->stats().forwarded, forwarded);
  // The frame as sent reaches the endpoint through both.
  t.p1->on_bus(core::host_subject("10.0.0.1"), std::make_shared<std::string>(f), t.f.now());
  t.f.run_actions(t.p1);
  t.f.run();
  EXPECT_EQ(t.f.deliveries(m.from, 97), 1u);
}

// `frame` with the first byte of its type replaced by `c`.
std::string with_bad_type(std::string frame, char c) {
  frame[header_bytes + get_le(frame, wire::from_len, 2) + get_le(frame, wire::to_len, 2)] = c;
  return frame;
}

// Routers read a frame for forwarding without checking its type's bytes (defer::forwarding):
// a frame whose type is not an operation name travels on, and its receiver, which reads it
// in full, drops it as malformed. A router that must answer such a frame (an error) or take
// it counts it as malformed instead, and answers nothing: an error names the type.
TEST(Routing, RoutersCheckTheTypeOnlyWhenTheyAnswerOrTakeAFrame) {
  topology t;
  auto* agent = t.agents[0];
  auto mgmt_malformed = [&t] { return t.m1->stats().malformed + t.m2->stats().malformed; };
  auto errors = [&t] {
    std::uint64_t n = t.p1->stats().errors_sent + t.p2->stats().errors_sent;
    for (auto* a : t.agents)
      n += a->stats().errors_sent;
    return n;
  };
  const auto errors_before = errors();

  // Up: endpoint -> agent -> proxy -> mgmt; the proxy forwards it, mgmt drops it.
  const std::string up =
      *encode(request_message(71, "ccp://endpoint/10.0.0.1/e1", "ccp://mgmt/any", "config.get"));
  auto p_malformed = t.p1->stats().malformed;
  auto m_malformed = mgmt_malformed();
  t.f.inject_from_agent(agent, with_bad_type(up, 'X'));
  t.f.advance(100 * ms);
  EXPECT_EQ(t.p1->stats().malformed, p_malformed);
  EXPECT_EQ(mgmt_malformed(), m_malformed + 1);
  EXPECT_EQ(t.f.deliveries(address::parse("ccp://endpoint/10.0.0.1/e1").value(), 71), 0u);

  // Down: backbone -> proxy -> agent -> endpoint; the endpoint drops it.
  const std::string to = "ccp://endpoint/10.0.0.1/e1";
  const std::string down =
      *encode(request_message(72, "ccp://mgmt/mgmt-1.example/m1", to, "config.get"));
  auto* e = t.endpoints[0];
  ASSERT_EQ(e->self().str(), to);
  const auto e_malformed = e->stats().malformed;
  const auto e_delivered = e->stats().delivered;
  const auto a_forwarded = agent->stats().forwarded;
  const auto p_forwarded = t.p1->stats().forwarded;
  t.p1->on_bus(core::host_subject("10.0.0.1"),
               std::make_shared<std::string>(with_bad_type(down, 'X')), t.f.now());
  t.f.run_actions(t.p1);
  t.f.run();
  EXPECT_EQ(t.p1->stats().forwarded, p_forwarded + 1);
  EXPECT_EQ(agent->stats().forwarded, a_forwarded + 1);
  EXPECT_EQ(e->stats().malformed, e_malformed + 1);
  EXPECT_EQ(e->stats().delivered, e_delivered);

  // Frames a router must answer: for a host nobody holds, and from a spoofed sender; each
  // well-formed twin is answered, which shows the path taken.
  const char* unattached = "ccp://endpoint/10.9.9.9/e1";
  const std::string lost =
      *encode(request_message(73, "ccp://mgmt/mgmt-1.example/m1", unattached, "config.get"));
  p_malformed = t.p1->stats().malformed;
  t.p1->on_bus(core::backbone_subject(address::parse(unattached)->view()),
               std::make_shared<std::string>(with_bad_type(lost, 'X')), t.f.now());
  t.f.run_actions(t.p1);
  t.f.run();
  const std::string spoofed =
      *encode(request_message(74, "ccp://endpoint/10.0.0.2/e1", "ccp://mgmt/any", "config.get"));
  t.f.inject_from_agent(agent, with_bad_type(spoofed, 'X'));
  t.f.advance(100 * ms);
  EXPECT_EQ(t.p1->stats().malformed, p_malformed + 2);
  EXPECT_EQ(errors(), errors_before);
  t.p1->on_bus(core::backbone_subject(address::parse(unattached)->view()),
               std::make_shared<std::string>(lost), t.f.now());
  t.f.run_actions(t.p1);
  t.f.run();
  t.f.inject_from_agent(agent, spoofed);
  t.f.advance(100 * ms);
  EXPECT_EQ(errors(), errors_before + 2);

  // A control operation on the host bus is taken by the agent: checked there.
  const auto a_malformed = agent->stats().malformed;
  core::message reg = request_message(75, to, "ccp://agent/10.0.0.1/any", "ccp.register");
  reg.body = R"({"nonce":5})";
  std::string bad_reg = *encode(reg);
  bad_reg[header_bytes + to.size() + std::string_view("ccp://agent/10.0.0.1/any").size() + 4] =
      'R';  // ccp.Register
  agent->on_bus("ccp.agent", std::make_shared<std::string>(bad_reg), t.f.now());
  EXPECT_EQ(agent->stats().malformed, a_malformed + 1);
  EXPECT_TRUE(agent->actions().empty());
}

// An agent checks the sender of every frame on its host bus by the prefix of its host's
// endpoints, without parsing it: a registered endpoint is forwarded, an endpoint of
// another host or one not registered is dropped, and a sender or destination that does
// not parse (or a group sender) is malformed; none of them is forwarded.
TEST(Routing, AgentChecksEverySenderOnItsHostBus) {
  topology t;
  auto* agent = t.agents[0];
  const std::string own = t.endpoints[0]->self().str();
  ASSERT_EQ(t.endpoints[0]->self().host(), agent->self().host());
  auto on_host_bus = [&](std::string frame) {
    agent->on_bus("ccp.agent", std::make_shared<std::string>(std::move(frame)), t.f.now());
    t.f.run_actions(agent);
    t.f.run();
  };
  const auto dropped = agent->stats().dropped;
  const auto malformed = agent->stats().malformed;
  auto forwarded = agent->stats().forwarded;
  const std::string ok = *encode(request_message(81, own, "ccp://mgmt/any", "x"));
  on_host_bus(ok);
  // Up the link, and mgmt's no_handler answer back down to the endpoint.
  EXPECT_EQ(agent->stats().forwarded, forwarded + 2);
  forwarded = agent->stats().forwarded;

  on_host_bus(*encode(request_message(82, "ccp://endpoint/10.0.0.2/e1", "ccp://mgmt/any", "x")));
  on_host_bus(
      *encode(request_message(83, "ccp://endpoint/10.0.0.1/unlisted", "ccp://mgmt/any", "x")));
  EXPECT_EQ(agent->stats().dropped, dropped + 2);

  // A space in the sender's id; the sender's scheme in upper case; a '?' in `to`.
  on_host_bus(with_bad_sender(ok, own.size() - 1, ' '));
  on_host_bus(with_bad_sender(ok, 0, 'C'));
  on_host_bus(with_bad_sender(ok, own.size() + 6, '?'));
  // A host group as the sender ("abc" made "all" in place): it parses, but a sender must be
  // concrete.
  const std::string abc = "ccp://endpoint/10.0.0.1/abc";
  std::string group = *encode(request_message(84, abc, "ccp://mgmt/any", "x"));
  group.replace(header_bytes + abc.size() - 3, 3, "all");
  on_host_bus(group);
  EXPECT_EQ(agent->stats().malformed, malformed + 4);
  EXPECT_EQ(agent->stats().dropped, dropped + 2);
  EXPECT_EQ(agent->stats().forwarded, forwarded);
}

TEST(Routing, GarbageAndOversizedFramesAreDroppedWithoutHarm) {
  topology t;
  t.f.inject_from_agent(t.agents[0], "garbage");
  t.f.inject_from_agent(t.agents[0], std::string(max_frame_bytes + 1, '\xCC'));
  t.f.advance(100 * ms);
  EXPECT_EQ(t.p1->stats().malformed, 2u);
  auto id = t.f.request(t.m1, "ccp://endpoint/10.0.0.1/e1", "echo");
  t.f.advance(100 * ms);
  EXPECT_EQ(ended(t.f, t.m1, id).code, errc{});
}

TEST(Routing, ProxyCrashAgentsFailOverAndRequestsSucceedAgain) {
  topology t;
  t.f.kill_proxy(t.p1);
  t.f.advance(15 * seconds);
  for (auto* a : t.agents)
    EXPECT_EQ(a->status(), core::agent::link_status::up);
  EXPECT_EQ(t.p2->attached(), 3u);
  EXPECT_EQ(t.m1->directory().hosts(), 3u);
  for (const char* to : {"ccp://endpoint/10.0.0.1/e1", "ccp://endpoint/10.0.0.3/e2"}) {
    auto id = t.f.request(t.m1, to, "echo");
    t.f.advance(100 * ms);
    EXPECT_EQ(ended(t.f, t.m1, id).code, errc{}) << to;
  }
}

TEST(Routing, HalfOpenLinkIsFencedWhenTheAgentReattaches) {
  topology t;
  core::agent* a = t.agents[0];  // host 10.0.0.1 on p1
  std::uint64_t old_epoch = a->epoch();
  t.f.half_open(a);
  t.f.advance(5 * seconds);
  EXPECT_EQ(a->status(), core::agent::link_status::up);
  EXPECT_GT(a->epoch(), old_epoch);
  // Exactly one proxy routes the host; one delivery per message.
  EXPECT_EQ(int(t.p1->holds("10.0.0.1")) + int(t.p2->holds("10.0.0.1")), 1);
  auto id = t.f.request(t.m1, "ccp://endpoint/10.0.0.1/all", "echo", "{}", 500 * ms);
  t.f.advance(1 * seconds);
  const auto& c = ended(t.f, t.m1, id);
  EXPECT_EQ(c.replies.size(), 2u);
  EXPECT_EQ(t.f.deliveries(t.m1->self(), id), 2u);
}

TEST(Routing, AFreshClaimWithAnEpochNotAboveTheLiveOneTakesTheHost) {
  topology t;
  // A second agent process claims host 1 with an epoch not above the one attached (its
  // clock stepped back, or another agent holds the host's credentials): the fresh
  // attachment takes the host with the next epoch and fences the old one. No epoch an
  // agent sent keeps another out.
  const std::uint64_t live = t.agents[0]->epoch();
  auto* fresh = t.f.add_agent("10.0.0.1", {"10.0.1.2/p2"}, "secret", 0);
  t.f.advance(1 * ms, 1 * ms);  // exactly one tick: one dial, one hello
  EXPECT_EQ(fresh->status(), core::agent::link_status::up);
  EXPECT_EQ(fresh->epoch(), live);
  EXPECT_TRUE(t.p2->holds("10.0.0.1"));
  EXPECT_FALSE(t.p1->holds("10.0.0.1"));
  ASSERT_NE(t.m1->directory().find("10.0.0.1"), nullptr);
  EXPECT_EQ(t.m1->directory().find("10.0.0.1")->proxy, "ccp://proxy/10.0.1.2/p2");
  EXPECT_EQ(t.m1->directory().find("10.0.0.1")->epoch, live + 1);
}

TEST(Routing, NewerEpochElsewhereFencesTheOldRoute) {
  topology t;
  ASSERT_TRUE(t.p1->holds("10.0.0.1"));
  // The same host attaches at p2 with a higher epoch (an agent restart): p1 lets go at
  // once, before any idle timeout could notice.
  auto* restarted = t.f.add_agent("10.0.0.1", {"10.0.1.2/p2"}, "secret", 1ull << 32);
  t.f.advance(1 * ms, 1 * ms);
  EXPECT_EQ(restarted->status(), core::agent::link_status::up);
  EXPECT_TRUE(t.p2->holds("10.0.0.1"));
  EXPECT_FALSE(t.p1->holds("10.0.0.1"));
  EXPECT_EQ(t.m1->directory().find("10.0.0.1")->proxy, "ccp://proxy/10.0.1.2/p2");
}

TEST(Routing, AnyIsNotTakenByAProxyWithoutAgents) {
  harness f{3};
  auto* m = f.add_mgmt("m.example", "m1");
  auto* empty = f.add_proxy("10.0.1.1", "p1");
  auto* busy = f.add_proxy("10.0.1.2", "p2");
  f.add_agent("10.0.0.1", {"10.0.1.2/p2"});
  f.add_endpoint("10.0.0.1", "e1");
  f.advance(3 * seconds);
  ASSERT_EQ(busy->attached(), 1u);
  ASSERT_EQ(empty->attached(), 0u);
  for (int i = 0; i < 20; ++i) {
    auto id = f.request(m, i % 2 ? "ccp://agent/any" : "ccp://endpoint/any", "ping");
    f.advance(50 * ms);
    ASSERT_NE(f.outcome(m, id), nullptr);
    EXPECT_EQ(f.outcome(m, id)->code, errc{});
  }
  EXPECT_EQ(empty->stats().errors_sent, 0u);
}

TEST(Routing, GracefulDrainMovesAgents) {
  topology t;
  t.p1->drain(t.f.now());
  t.f.run_actions(t.p1);
  t.f.advance(3 * seconds);
  EXPECT_EQ(t.p1->attached(), 0u);
  EXPECT_EQ(t.p2->attached(), 3u);
  for (auto* a : t.agents)
    EXPECT_EQ(a->proxy_target(), "10.0.1.2/p2");
}

TEST(Routing, EndpointThatStopsHeartbeatingExpires) {
  topology t;
  core::agent* a = t.agents[0];
  ASSERT_TRUE(a->has_endpoint("e1"));
  t.f.kill_endpoint(t.endpoints[0]);
  t.f.advance(idle_timeout - heartbeat_interval);
  EXPECT_TRUE(a->has_endpoint("e1"));  // not yet: a missed beat or two is tolerated
  t.f.advance(2 * heartbeat_interval + 100 * ms);
  EXPECT_FALSE(a->has_endpoint("e1"));
  auto id = t.f.request(t.m1, "ccp://endpoint/10.0.0.1/e1", "echo");
  t.f.run();
  EXPECT_EQ(ended(t.f, t.m1, id).code, errc::unreachable);
  // Its id is free again for a new instance.
  auto* again = t.f.add_endpoint("10.0.0.1", "e1");
  t.f.advance(100 * ms);
  EXPECT_EQ(again->state(), core::endpoint::status::registered);
}

TEST(Routing, EndpointThatStopsUnregistersAtOnce) {
  topology t;
  t.f.stop_endpoint(t.endpoints[0]);
  t.f.run();
  EXPECT_FALSE(t.agents[0]->has_endpoint("e1"));
}

TEST(Routing, AgentWithoutLinkFailsOutgoingAtOnce) {
  harness f{5};
  auto* a = f.add_agent("10.0.0.1", {"10.0.1.1/p1"});  // no such proxy
  auto* e = f.add_endpoint("10.0.0.1", "e1");
  f.advance(1 * seconds);
  auto id = f.request(e, "ccp://mgmt/any", "ping");
  f.run();
  EXPECT_EQ(ended(f, e, id).code, errc::unreachable);
  EXPECT_NE(a->status(), core::agent::link_status::up);
}

TEST(Routing, EveryRequestEndsExactlyOnce) {
  topology t;
  std::vector<std::uint64_t> ids;
  for (int i = 0; i < 50; ++i)
    ids.push_back(t.f.request(t.m1, i % 3 ? "ccp://endpoint/all" : "ccp://endpoint/10.0.0.2/e1",
                              "echo", "{}", 300 * ms));
  t.f.kill_proxy(t.p2);
  t.f.advance(2 * seconds);
  for (auto id : ids)
    EXPECT_NE(t.f.outcome(t.m1, id), nullptr);
  EXPECT_EQ(t.f.log(t.m1).completions, ids.size());
  EXPECT_EQ(t.m1->pending_requests(), 0u);
}

TEST(Routing, FullLinkQueueGivesOverloaded) {
  topology t;
  t.f.stall_writes(t.p1);  // host 1's link never drains
  std::vector<std::uint64_t> ids;
  for (std::size_t i = 0; i < link_queue_frames + 10; ++i)
    ids.push_back(t.f.request(t.m1, "ccp://endpoint/10.0.0.1/e1", "echo", "{}", 1 * seconds));
  t.f.advance(2 * seconds);
  std::size_t ok = 0, overloaded = 0;
  for (auto id : ids) {
    errc c = ended(t.f, t.m1, id).code;
    if (c == errc{}) ++ok;
    if (c == errc::overloaded) ++overloaded;
  }
  EXPECT_LE(ok, link_queue_frames);
  EXPECT_GE(overloaded, 10u);
  EXPECT_EQ(ok + overloaded, ids.size());
}

// A frame that already went through max_hops routers is stopped with an error; one hop
// fewer still goes through (limit-1 and limit).
// Two clients configured with one address (both on that address's subject) each take only
// the reply to their own request: message ids carry each start's incarnation. Before, ids
// started at 1 everywhere and both took the first reply that came.
TEST(Routing, TwoClientsWithOneAddressTakeOnlyTheirOwnReplies) {
  topology t;
  core::mgmt* a = t.f.add_mgmt("10.0.2.1", "cli-7");
  core::mgmt* b = t.f.add_mgmt("10.0.2.1", "cli-7");
  t.f.advance(2 * seconds);
  const auto ida = t.f.request(a, "ccp://endpoint/10.0.0.1/e1", "echo", R"({"client":"a"})");
  const auto idb = t.f.request(b, "ccp://endpoint/10.0.0.1/e1", "echo", R"({"client":"b"})");
  t.f.advance(200 * ms);
  const act::complete* ca = t.f.outcome(a, ida);
  const act::complete* cb = t.f.outcome(b, idb);
  ASSERT_NE(ca, nullptr);
  ASSERT_NE(cb, nullptr);
  ASSERT_EQ(ca->code, errc{});
  ASSERT_EQ(cb->code, errc{});
  EXPECT_EQ(ca->replies.at(0).body, R"({"client":"a"})");
  EXPECT_EQ(cb->replies.at(0).body, R"({"client":"b"})");
  EXPECT_EQ(t.f.log(a).completions, 1u);
  EXPECT_EQ(t.f.log(b).completions, 1u);
}

TEST(Routing, HopLimitStopsAFrame) {
  for (std::uint8_t hops : {std::uint8_t(max_hops - 1), max_hops}) {
    SCOPED_TRACE(int(hops));
    topology t;
    core::message m = request_message(5, "ccp://endpoint/10.0.0.1/e1",
                                      "ccp://mgmt/mgmt-1.example/m1", "unhandled");
    m.hops = hops;
    auto proxy_errors = t.p1->stats().errors_sent;
    auto mgmt_errors = t.m1->stats().errors_sent;
    t.f.inject_from_agent(t.agents[0], *encode(m));
    t.f.run();
    if (hops < max_hops) {
      EXPECT_EQ(t.m1->stats().errors_sent, mgmt_errors + 1);  // reached it: no_handler
      EXPECT_EQ(t.p1->stats().errors_sent, proxy_errors);
    } else {
      EXPECT_EQ(t.m1->stats().errors_sent, mgmt_errors);
      EXPECT_EQ(t.p1->stats().errors_sent, proxy_errors + 1);  // hop_limit, to the sender
    }
  }
}

// A host that brings up a link under the id of a live, attached link (it should not, but
// the core must not trust it to) ends the old attachment: the host's route goes, and a
// frame for that host afterwards bounces `unreachable` instead of reaching the stale link
// (the route held a pointer to the link's state, which would dangle once the link went).
TEST(Routing, ReusedLinkIdEndsTheOldAttachment) {
  const shared_secret_verifier verifier("secret");
  core::proxy p(*address::parse("ccp://proxy/10.0.1.1/p1"), 7, verifier);
  const micros t0 = 1 * seconds;
  p.start(t0);
  p.actions().clear();
  const link_id link = 100;
  p.on_link_up(link, t0);
  core::message hello =
      request_message(1, "ccp://agent/10.0.0.1/agent", "ccp://proxy/any", "ccp.hello", 5000);
  hello.body = R"({"epoch":1,"token":"secret","endpoints":["e1"]})";
  p.on_link_frame(link, std::make_shared<std::string>(*encode(hello)), t0);
  ASSERT_TRUE(p.holds("10.0.0.1"));
  p.actions().clear();

  p.on_link_up(link, t0);  // the same id again
  EXPECT_FALSE(p.holds("10.0.0.1"));
  bool unsubscribed = false;
  for (const auto& a : p.actions())
    if (const auto* u = std::get_if<act::unsubscribe>(&a))
      unsubscribed |= u->subject == "ccp.host.10_0_0_1";
  EXPECT_TRUE(unsubscribed);
  p.on_link_down(link, t0);
  p.actions().clear();

  const core::message m =
      request_message(2, "ccp://mgmt/10.0.2.1/m1", "ccp://endpoint/10.0.0.1/e1", "echo", 5000);
  const auto errors = p.stats().errors_sent;
  p.on_bus("ccp.host.10_0_0_1", std::make_shared<std::string>(*encode(m)), t0);
  EXPECT_EQ(p.stats().errors_sent, errors + 1);
  for (const auto& a : p.actions())
    EXPECT_FALSE(std::holds_alternative<act::send>(a));
}

// Hundreds of agents lose their proxy at once: with shuffled proxy lists and jittered
// backoff they spread over the survivors and over time, and all are back quickly.
TEST(Routing, ReconnectAfterProxyLossIsSpreadNotStampeded) {
  harness f{11};
  std::vector<std::string> names = {"10.0.1.1/p1", "10.0.1.2/p2", "10.0.1.3/p3"};
  std::vector<core::proxy*> p = {f.add_proxy("10.0.1.1", "p1"), f.add_proxy("10.0.1.2", "p2"),
                                 f.add_proxy("10.0.1.3", "p3")};
  constexpr int n = 300;
  std::vector<core::agent*> agents;
  for (int i = 0; i < n; ++i)
    agents.push_back(
        f.add_agent("10.0." + std::to_string(i / 200) + "." + std::to_string(i % 200 + 1), names,
                    "secret", 0, true));
  f.advance(3 * seconds);
  std::size_t on_p1 = p[0]->attached();
  ASSERT_GT(on_p1, 50u);
  f.kill_proxy(p[0]);
  micros start = f.now();
  micros first = never, last = 0;
  std::vector<bool> back(n, false);
  for (int step = 0; step < 2000; ++step) {
    f.advance(5 * ms, 5 * ms);
    for (int i = 0; i < n; ++i) {
      bool up = agents[static_cast<std::size_t>(i)]->status() == core::agent::link_status::up &&
                agents[static_cast<std::size_t>(i)]->proxy_target() != names[0];
      if (up && !back[static_cast<std::size_t>(i)]) {
        back[static_cast<std::size_t>(i)] = true;
        first = std::min(first, f.now());
        last = std::max(last, f.now());
      }
    }
  }
  EXPECT_EQ(p[1]->attached() + p[2]->attached(), std::size_t{n});
  EXPECT_LT(last - start, 5 * seconds);  // all back within the bound
  EXPECT_GT(last - first, 50 * ms);      // not all in the same instant
  // The agents that moved split between the two survivors.
  double share = double(p[1]->attached()) / n;
  EXPECT_GT(share, 0.3);
  EXPECT_LT(share, 0.7);
}

}  // namespace
}  // namespace ccp::test
