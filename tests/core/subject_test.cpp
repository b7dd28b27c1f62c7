#include "core/subject.hpp"

#include <cstdint>
#include <expected>
#include <ostream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <gtest/gtest.h>
#include <rapidcheck.h>
#include <rapidcheck/gtest.h>

#include "core/address.hpp"
#include "tests/core/generators.hpp"

namespace ccp::core {
namespace {

using test::all_roles;
using test::all_scopes;
using test::parse_or_throw;

std::string host_token(std::string_view host) {
  std::string s;
  append_host_token(host, s);
  return s;
}
std::string id_token(std::string_view id) {
  std::string s;
  append_id_token(id, s);
  return s;
}

// Addresses sharing ccp.host.H on purpose: agent and endpoint addresses naming a host.
bool rides_host_subject(const address& a) {
  return (a.type() == role::agent || a.type() == role::endpoint) &&
         (a.form() == scope::one || a.form() == scope::host_any || a.form() == scope::host_all);
}

// NATS subject rules: tokens separated by '.', none empty, no whitespace, no wildcard.
// Returns what is wrong with `s`, or nothing.
std::string nats_problem(std::string_view s) {
  if (s.empty()) return "empty subject";
  std::size_t start = 0;
  while (true) {
    auto dot = s.find('.', start);
    auto token = s.substr(start, dot == std::string_view::npos ? s.npos : dot - start);
    if (token.empty()) return "empty token in " + std::string(s);
    for (char c : token)
      if (c == ' ' || c == '*' || c == '>' || static_cast<unsigned char>(c) <= 0x20 ||
          static_cast<unsigned char>(c) >= 0x7f)
        return "bad byte in token '" + std::string(token) + "' of " + std::string(s);
    if (dot == std::string_view::npos) return {};
    start = dot + 1;
  }
}

address must(std::expected<address, parse_error> a) {
  if (!a) throw std::runtime_error("test address does not build: " + a.error().message());
  return *std::move(a);
}

// ---- Backbone subject and queue for every type and form ------------------------------------

struct backbone_case {
  std::string address;
  std::string subject;
  std::string queue;
};

void PrintTo(const backbone_case& c, std::ostream* os) {
  *os << c.address;
}

class BackboneSubject : public testing::TestWithParam<backbone_case> {};

TEST_P(BackboneSubject, SubjectAndQueue) {
  const auto& c = GetParam();
  auto a = parse_or_throw(c.address);
  EXPECT_EQ(backbone_subject(a.view()), c.subject);
  EXPECT_EQ(backbone_queue(a.view()), c.queue);
  EXPECT_EQ(nats_problem(c.subject), "");
  if (!c.queue.empty()) {
    EXPECT_EQ(nats_problem(c.queue), "");
  }
}

// clang-format off
INSTANTIATE_TEST_SUITE_P(EveryRoleAndScope, BackboneSubject, testing::Values(
    backbone_case{"ccp://mgmt/10.0.0.7/m1",        "ccp.mgmt.10_0_0_7.m1",      ""},
    backbone_case{"ccp://mgmt/any",                "ccp.mgmt.any",              "ccp.mgmt"},
    backbone_case{"ccp://mgmt/all",                "ccp.mgmt.all",              ""},
    backbone_case{"ccp://mgmt/10.0.0.7/any",       "ccp.mgmt.10_0_0_7.any",     "ccp.mgmt.10_0_0_7"},
    backbone_case{"ccp://mgmt/10.0.0.7/all",       "ccp.mgmt.10_0_0_7.all",     ""},
    backbone_case{"ccp://proxy/10.0.0.7/p1",       "ccp.proxy.10_0_0_7.p1",     ""},
    backbone_case{"ccp://proxy/any",               "ccp.proxy.any",             "ccp.proxy"},
    backbone_case{"ccp://proxy/all",               "ccp.proxy.all",             ""},
    backbone_case{"ccp://proxy/10.0.0.7/any",      "ccp.proxy.10_0_0_7.any",    "ccp.proxy.10_0_0_7"},
    backbone_case{"ccp://proxy/10.0.0.7/all",      "ccp.proxy.10_0_0_7.all",    ""},
    backbone_case{"ccp://agent/10.0.0.7/a1",       "ccp.host.10_0_0_7",         ""},
    backbone_case{"ccp://agent/any",               "ccp.agent.any",             "ccp.agent"},
    backbone_case{"ccp://agent/all",               "ccp.agent.all",             ""},
    backbone_case{"ccp://agent/10.0.0.7/any",      "ccp.host.10_0_0_7",         ""},
    backbone_case{"ccp://agent/10.0.0.7/all",      "ccp.host.10_0_0_7",         ""},
    backbone_case{"ccp://endpoint/10.0.0.7/e1",    "ccp.host.10_0_0_7",         ""},
    backbone_case{"ccp://endpoint/any",            "ccp.endpoint.any",          "ccp.endpoint"},
    backbone_case{"ccp://endpoint/all",            "ccp.endpoint.all",          ""},
    backbone_case{"ccp://endpoint/10.0.0.7/any",   "ccp.host.10_0_0_7",         ""},
    backbone_case{"ccp://endpoint/10.0.0.7/all",   "ccp.host.10_0_0_7",         ""},
    // Host and id tokens inside full subjects.
    backbone_case{"ccp://mgmt/[2001:db8::1]/m.1",  "ccp.mgmt.2001~db8~~1.m~1",  ""},
    backbone_case{"ccp://proxy/[::]/any",          "ccp.proxy.~~.any",          "ccp.proxy.~~"},
    backbone_case{"ccp://proxy/Edge.Example.COM/all", "ccp.proxy.edge_example_com.all", ""},
    backbone_case{"ccp://endpoint/[::1]/svc.v2",   "ccp.host.~~1",              ""},
    backbone_case{"ccp://agent/gw-1.dc2/x",        "ccp.host.gw-1_dc2",         ""},
    // Hosts spelled like keywords stay distinct from the keyword subjects.
    backbone_case{"ccp://mgmt/any/all",            "ccp.mgmt.any.all",          ""},
    backbone_case{"ccp://proxy/all/any",           "ccp.proxy.all.any",         "ccp.proxy.all"},
    backbone_case{"ccp://agent/any/any",           "ccp.host.any",              ""}),
    [](const auto& tp) { return "case" + std::to_string(tp.index); });
// clang-format on

// Every role and scope is covered by the table above.
TEST(BackboneSubject, EveryRoleAndScopeHasASubject) {
  for (role r : all_roles) {
    for (scope s : all_scopes) {
      address a =
          s == scope::any || s == scope::all ? address::group(r, s)
          : s == scope::one
              ? parse_or_throw(std::string("ccp://") + std::string(test::role_text(r)) + "/h/x")
              : must(address::host_group(r, "h", s));
      auto subject = backbone_subject(a.view());
      EXPECT_EQ(nats_problem(subject), "") << a.str();
      EXPECT_TRUE(subject.starts_with("ccp.")) << a.str();
      auto queue = backbone_queue(a.view());
      // Exactly the `any` forms that more than one process serves have a queue group.
      bool grouped =
          s == scope::any || (s == scope::host_any && (r == role::mgmt || r == role::proxy));
      EXPECT_EQ(!queue.empty(), grouped) << a.str();
    }
  }
}

// ---- Tokens --------------------------------------------------------------------------------

struct token_case {
  std::string in;
  std::string token;
};

void PrintTo(const token_case& c, std::ostream* os) {
  *os << c.in;
}

class HostToken : public testing::TestWithParam<token_case> {};

TEST_P(HostToken, MapsCanonicalHostsToOneToken) {
  EXPECT_EQ(host_token(GetParam().in), GetParam().token);
  EXPECT_EQ(nats_problem(GetParam().token), "");
}

INSTANTIATE_TEST_SUITE_P(
    Table, HostToken,
    testing::Values(token_case{"10.0.0.7", "10_0_0_7"}, token_case{"0.0.0.0", "0_0_0_0"},
                    token_case{"255.255.255.255", "255_255_255_255"},
                    token_case{"[2001:db8::1]", "2001~db8~~1"}, token_case{"[::]", "~~"},
                    token_case{"[::1]", "~~1"}, token_case{"[fe80::]", "fe80~~"},
                    token_case{"[1:2:3:4:5:6:7:8]", "1~2~3~4~5~6~7~8"},
                    token_case{"[::ffff:102:304]", "~~ffff~102~304"},
                    token_case{"example.com", "example_com"}, token_case{"a-b.c-d.e", "a-b_c-d_e"},
                    token_case{"localhost", "localhost"}, token_case{"1.2.3.x", "1_2_3_x"}),
    [](const auto& tp) { return "case" + std::to_string(tp.index); });

class IdToken : public testing::TestWithParam<token_case> {};

TEST_P(IdToken, MapsIdsToOneToken) {
  EXPECT_EQ(id_token(GetParam().in), GetParam().token);
  EXPECT_EQ(nats_problem(GetParam().token), "");
}

INSTANTIATE_TEST_SUITE_P(
    Table, IdToken,
    testing::Values(token_case{"billing-1", "billing-1"}, token_case{"a.b", "a~b"},
                    token_case{".a.", "~a~"}, token_case{"...", "~~~"},
                    token_case{"A_b-C", "A_b-C"}, token_case{"x", "x"},
                    token_case{std::string(max_id_bytes, '.'), std::string(max_id_bytes, '~')}),
    [](const auto& tp) { return "case" + std::to_string(tp.index); });

TEST(Subject, TokensAppendToWhatIsThere) {
  std::string s = "pre.";
  append_host_token("[::1]", s);
  s += '.';
  append_id_token("a.b", s);
  EXPECT_EQ(s, "pre.~~1.a~b");
}

TEST(Subject, HostSubject) {
  EXPECT_EQ(host_subject("10.0.0.7"), "ccp.host.10_0_0_7");
  EXPECT_EQ(host_subject("[2001:db8::1]"), "ccp.host.2001~db8~~1");
  EXPECT_EQ(host_subject("edge.example.com"), "ccp.host.edge_example_com");
  // The subject an agent's proxy subscribes is the one its host's addresses are sent to.
  for (auto text : {"ccp://agent/[2001:db8::1]/a", "ccp://endpoint/[2001:db8::1]/all"})
    EXPECT_EQ(backbone_subject(parse_or_throw(text).view()), host_subject("[2001:db8::1]"));
}

TEST(Subject, EndpointSubjects) {
  EXPECT_EQ(endpoint_subject("billing-1"), "ccp.ep.billing-1");
  EXPECT_EQ(endpoint_subject("svc.v2.eu"), "ccp.ep.svc~v2~eu");
  EXPECT_EQ(endpoint_instance_subject(0), "ccp.epi.0");
  EXPECT_EQ(endpoint_instance_subject(42), "ccp.epi.42");
  EXPECT_EQ(endpoint_instance_subject(UINT64_MAX), "ccp.epi.18446744073709551615");
}

// The fixed subjects are part of the wire contract.
TEST(Subject, FixedSubjects) {
  EXPECT_EQ(subject_route, "ccp.ctl.route");
  EXPECT_EQ(subject_heartbeat, "ccp.ctl.hb");
  EXPECT_EQ(subject_agent_inbox, "ccp.agent");
  for (auto s : {subject_route, subject_heartbeat, subject_agent_inbox})
    EXPECT_EQ(nats_problem(s), "");
}

// ---- One-to-one ----------------------------------------------------------------------------

using destination = std::pair<std::string, std::string>;  // (subject, queue)

destination destination_of(const address& a) {
  return {backbone_subject(a.view()), backbone_queue(a.view())};
}

// Two addresses may share a destination only when both ride ccp.host.H of the same host.
bool may_share(const address& a, const address& b) {
  return rides_host_subject(a) && rides_host_subject(b) && a.host() == b.host();
}

// Hosts and ids chosen to collide if a token mapping lost information: keywords as hosts,
// dots against dashes and underscores, IPv4 against DNS, IPv6 spellings.
std::vector<address> tricky_addresses() {
  const std::vector<std::string> hosts = {
      "1.2.3.4", "1-2-3-4", "1.2.3.x", "a.b",  "a-b",   "any",     "all",        "host",
      "mgmt",    "agent",   "[::1]",   "[::]", "[1::]", "[::1:0]", "[102:304::]"};
  const std::vector<std::string> ids = {"x", "a.b", "a-b", "a_b", "any1", "all.x", "x.any"};
  std::vector<address> out;
  for (role r : all_roles) {
    out.push_back(address::group(r, scope::any));
    out.push_back(address::group(r, scope::all));
    for (const auto& h : hosts) {
      out.push_back(must(address::host_group(r, h, scope::host_any)));
      out.push_back(must(address::host_group(r, h, scope::host_all)));
      for (const auto& id : ids)
        out.push_back(must(address::one(r, h, id)));
    }
  }
  return out;
}

TEST(Subject, TrickyAddressesMapOneToOne) {
  const auto all = tricky_addresses();
  std::vector<destination> dest;
  for (const auto& a : all) {
    dest.push_back(destination_of(a));
    EXPECT_EQ(nats_problem(dest.back().first), "") << a.str();
    if (!dest.back().second.empty()) {
      EXPECT_EQ(nats_problem(dest.back().second), "") << a.str();
    }
  }
  std::size_t sharing = 0;
  for (std::size_t i = 0; i < all.size(); ++i) {
    for (std::size_t j = i + 1; j < all.size(); ++j) {
      ASSERT_NE(all[i], all[j]);
      if (dest[i] != dest[j]) continue;
      ++sharing;
      ASSERT_TRUE(may_share(all[i], all[j]))
          << all[i].str() << " and " << all[j].str() << " share " << dest[i].first;
    }
  }
  EXPECT_GT(sharing, 0u);  // the pool does contain addresses on a shared host subject
}

RC_GTEST_PROP(SubjectProps, DifferentAddressesGetDifferentDestinations, ()) {
  const auto a = *test::gen_address();
  // Half the time, the second address shares the first one's host, so that host-level
  // forms and ids are compared on equal hosts.
  address b = *test::gen_address();
  if (a.form() != scope::any && a.form() != scope::all && *rc::gen::arbitrary<bool>()) {
    const auto r = *rc::gen::elementOf(all_roles);
    switch (*rc::gen::inRange(0, 3)) {
      case 0:
        b = must(address::one(r, a.host(), *test::gen_id()));
        break;
      case 1:
        b = must(address::host_group(r, a.host(), scope::host_any));
        break;
      default:
        b = must(address::host_group(r, a.host(), scope::host_all));
        break;
    }
  }
  RC_TAG(a == b ? "equal" : may_share(a, b) ? "sharing host subject" : "distinct");
  if (a == b) {
    RC_ASSERT(destination_of(a) == destination_of(b));
  } else if (!may_share(a, b)) {
    RC_ASSERT(destination_of(a) != destination_of(b));
  } else {
    RC_ASSERT(destination_of(a) == destination_of(b));  // ccp.host.H, no queue
    RC_ASSERT(destination_of(a).first == host_subject(a.host()));
    RC_ASSERT(destination_of(a).second.empty());
  }
}

RC_GTEST_PROP(SubjectProps, EveryTokenIsValidForNats, ()) {
  const auto a = *test::gen_address();
  const auto [subject, queue] = destination_of(a);
  RC_ASSERT(nats_problem(subject) == "");
  if (!queue.empty()) RC_ASSERT(nats_problem(queue) == "");
  if (a.form() != scope::any && a.form() != scope::all) {
    RC_ASSERT(nats_problem(host_subject(a.host())) == "");
    // The host is one token, and so is the id.
    RC_ASSERT(host_token(a.host()).find('.') == std::string::npos);
  }
  if (a.form() == scope::one) {
    RC_ASSERT(nats_problem(endpoint_subject(a.id())) == "");
    RC_ASSERT(id_token(a.id()).find('.') == std::string::npos);
  }
}

// The publish actions of forwarded frames build the subject into a subject_text: the same
// bytes as the std::string the subscriptions use, inline or not.
RC_GTEST_PROP(SubjectProps, SubjectTextIsTheSameSubject, ()) {
  const auto a = *test::gen_address();
  const std::string want = backbone_subject(a.view());
  const subject_text got = backbone_subject_text(a.view());
  RC_TAG(got.on_heap() ? "on the heap" : "inline");
  RC_ASSERT(got == want);
  RC_ASSERT(got.on_heap() == (want.size() > subject_text::inline_bytes));
}

// Host and id tokens are one-to-one on their own: different canonical hosts (ids) never
// give the same token.
RC_GTEST_PROP(SubjectProps, HostTokensAreOneToOne, ()) {
  const auto a = (*test::gen_host_value()).canonical();
  const auto b = (*test::gen_host_value()).canonical();
  RC_PRE(a != b);
  RC_ASSERT(host_token(a) != host_token(b));
}

RC_GTEST_PROP(SubjectProps, IdTokensAreOneToOne, ()) {
  const auto a = *test::gen_id();
  const auto b = *test::gen_id();
  RC_PRE(a != b);
  RC_ASSERT(id_token(a) != id_token(b));
}

}  // namespace
}  // namespace ccp::core
