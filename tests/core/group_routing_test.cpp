// Group requests sent from below the backbone, through every role: an endpoint's or an
// agent's `all` learns its members from the router that knows them (ccp.members,
// core/members.hpp) and ends as soon as each answered, with the result a mgmt node's
// would have. The harness delivers with zero latency, so a request that ends within run()
// ended without waiting for its deadline.
#include "tests/core/harness.hpp"

#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace ccp::test {
namespace {

using answer = act::member_result::answer;

// 2 proxies, 3 hosts with an agent and 2 endpoints each, host 4 with an agent only.
struct fleet {
  harness f{11};
  core::mgmt* m = nullptr;
  std::vector<core::agent*> agents;
  std::vector<core::endpoint*> endpoints;

  fleet() {
    m = f.add_mgmt("mgmt-1.example", "m1");
    (void)f.add_proxy("10.0.1.1", "p1");
    (void)f.add_proxy("10.0.1.2", "p2");
    for (int h = 1; h <= 4; ++h) {
      const std::string host = "10.0.0." + std::to_string(h);
      agents.push_back(
          f.add_agent(host, h % 2 ? std::vector<std::string>{"10.0.1.1/p1", "10.0.1.2/p2"}
                                  : std::vector<std::string>{"10.0.1.2/p2", "10.0.1.1/p1"}));
      if (h == 4) continue;
      endpoints.push_back(f.add_endpoint(host, "e1"));
      endpoints.push_back(f.add_endpoint(host, "e2"));
    }
    f.advance(3 * seconds);
  }

  // Sends the request and runs the fleet without advancing time.
  const act::complete* at_once(core::node* from, const std::string& to, const std::string& type) {
    auto id = f.request(from, to, type, "{}", 2 * seconds);
    EXPECT_TRUE(f.run());
    return f.outcome(from, id);
  }
};

std::vector<std::string> names(const act::complete& c) {
  std::vector<std::string> out;
  for (const auto& r : c.members)
    out.push_back(r.member.str() + "=" + std::string(act::to_string(r.result)));
  return out;
}

TEST(GroupFromBelow, AnEndpointsEndpointAllEndsWhenEveryMemberAnsweredOk) {
  fleet t;
  const act::complete* c = t.at_once(t.endpoints[0], "ccp://endpoint/all", "ping");
  ASSERT_NE(c, nullptr) << "waited for its deadline";
  EXPECT_EQ(c->code, errc{});
  std::vector<std::string> want;
  for (auto* e : t.endpoints)
    want.push_back(e->self().str() + "=ok");
  std::sort(want.begin(), want.end());
  EXPECT_EQ(names(*c), want);  // the sender, a member, answered too
}

TEST(GroupFromBelow, AnAgentsAgentAllEndsWhenEveryAgentAnswered) {
  fleet t;
  const act::complete* c = t.at_once(t.agents[1], "ccp://agent/all", "ping");
  ASSERT_NE(c, nullptr) << "waited for its deadline";
  EXPECT_EQ(c->code, errc{});
  EXPECT_EQ(c->members.size(), 4u);
}

TEST(GroupFromBelow, ErrorRepliesMakeItPartialNeverOk) {
  fleet t;
  const act::complete* c = t.at_once(t.endpoints[2], "ccp://agent/all", "reboot");
  ASSERT_NE(c, nullptr) << "waited for its deadline";
  EXPECT_EQ(c->code, errc::partial);
  for (const auto& r : c->members) {
    EXPECT_EQ(r.result, answer::error) << r.member.str();
    EXPECT_EQ(r.code, errc::no_handler);
  }
}

TEST(GroupFromBelow, AnEndpointsGroupOfItsOwnHostIsToldByItsAgent) {
  fleet t;
  const act::complete* c = t.at_once(t.endpoints[0], "ccp://endpoint/10.0.0.1/all", "echo");
  ASSERT_NE(c, nullptr) << "waited for its deadline";
  EXPECT_EQ(c->code, errc{});
  EXPECT_EQ(names(*c), (std::vector<std::string>{"ccp://endpoint/10.0.0.1/e1=ok",
                                                 "ccp://endpoint/10.0.0.1/e2=ok"}));
}

TEST(GroupFromBelow, AnotherHostsGroupIsToldByTheProxy) {
  fleet t;
  const act::complete* c = t.at_once(t.endpoints[0], "ccp://endpoint/10.0.0.2/all", "echo");
  ASSERT_NE(c, nullptr) << "waited for its deadline";
  EXPECT_EQ(c->code, errc{});
  EXPECT_EQ(names(*c), (std::vector<std::string>{"ccp://endpoint/10.0.0.2/e1=ok",
                                                 "ccp://endpoint/10.0.0.2/e2=ok"}));
}

TEST(GroupFromBelow, AnEmptyGroupIsUnreachableAtOnce) {
  fleet t;
  for (const char* to : {"ccp://endpoint/10.0.0.4/all", "ccp://endpoint/10.9.9.9/all"}) {
    SCOPED_TRACE(to);
    const act::complete* c = t.at_once(t.endpoints[0], to, "echo");
    ASSERT_NE(c, nullptr) << "waited for its deadline";
    EXPECT_EQ(c->code, errc::unreachable);
    EXPECT_TRUE(c->members.empty());
  }
}

TEST(GroupFromBelow, AMemberThatLeftStaysInTheResultSilent) {
  fleet t;
  t.f.kill_endpoint(t.endpoints[3]);  // 10.0.0.2/e2 dies; its agent has not expired it yet
  auto id = t.f.request(t.endpoints[0], "ccp://endpoint/all", "echo", "{}", 500 * ms);
  ASSERT_TRUE(t.f.run());
  EXPECT_EQ(t.f.outcome(t.endpoints[0], id), nullptr);  // one member is still waited for
  t.f.advance(600 * ms);
  const act::complete* c = t.f.outcome(t.endpoints[0], id);
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->code, errc::partial);
  std::size_t silent = 0;
  for (const auto& r : c->members) {
    if (r.member == t.endpoints[3]->self())
      EXPECT_EQ(r.result, answer::silent);
    else
      EXPECT_EQ(r.result, answer::ok) << r.member.str();
    silent += r.result == answer::silent;
  }
  EXPECT_EQ(silent, 1u);
  EXPECT_EQ(c->members.size(), 6u);
}

TEST(GroupFromBelow, AnAgentsOwnHostGroupNeedsNoNotice) {
  fleet t;
  const act::complete* c = t.at_once(t.agents[0], "ccp://endpoint/10.0.0.1/all", "ping");
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->code, errc{});
  EXPECT_EQ(c->members.size(), 2u);
}

}  // namespace
}  // namespace ccp::test
