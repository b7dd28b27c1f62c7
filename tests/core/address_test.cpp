#include "core/address.hpp"

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include <gtest/gtest.h>

#include "tests/core/generators.hpp"

namespace ccp::core {
namespace {

using namespace std::string_literals;

// "ccp://agent/" is 12 bytes: a host starts at offset 12. "ccp://agent/h/" is 14 bytes.
constexpr std::size_t host_at = 12;

// A DNS name of exactly n bytes (n in 65..316): labels of 63 'a', then 'b's.
std::string dns_of_length(std::size_t n) {
  std::string s;
  while (n - s.size() > max_label_bytes)
    s += std::string(max_label_bytes, 'a') + ".";
  s += std::string(n - s.size(), 'b');
  return s;
}

std::string in_host(std::string_view host) {
  return "ccp://agent/"s + std::string(host) + "/x";
}
std::string in_id(std::string_view id) {
  return "ccp://agent/h/"s + std::string(id);
}

// ---- Valid forms ---------------------------------------------------------------------------

struct valid_case {
  std::string text;
  std::string canonical;
  role type;
  scope form;
  std::string host;  // canonical
  std::string id;
};

void PrintTo(const valid_case& c, std::ostream* os) {
  *os << c.text;
}

std::vector<valid_case> every_type_and_form() {
  std::vector<valid_case> out;
  for (role r : test::all_roles) {
    std::string base = "ccp://"s + std::string(test::role_text(r)) + "/";
    out.push_back({base + "any", base + "any", r, scope::any, "", ""});
    out.push_back({base + "all", base + "all", r, scope::all, "", ""});
    out.push_back(
        {base + "10.0.0.7/any", base + "10.0.0.7/any", r, scope::host_any, "10.0.0.7", ""});
    out.push_back(
        {base + "10.0.0.7/all", base + "10.0.0.7/all", r, scope::host_all, "10.0.0.7", ""});
    out.push_back({base + "10.0.0.7/billing-1", base + "10.0.0.7/billing-1", r, scope::one,
                   "10.0.0.7", "billing-1"});
  }
  return out;
}

class AddressValid : public testing::TestWithParam<valid_case> {};

TEST_P(AddressValid, ParsesToCanonicalValue) {
  const valid_case& c = GetParam();
  auto a = address::parse(c.text);
  ASSERT_TRUE(a.has_value()) << a.error().message();
  EXPECT_EQ(a->str(), c.canonical);
  EXPECT_EQ(a->type(), c.type);
  EXPECT_EQ(a->form(), c.form);
  EXPECT_EQ(a->host(), c.host);
  EXPECT_EQ(a->id(), c.id);
  EXPECT_EQ(a->is_group(), c.form != scope::one);
  EXPECT_EQ(to_string(*a), c.canonical);
  EXPECT_EQ(to_string(a->view()), c.canonical);
  std::string appended = "prefix:";
  a->append_to(appended);
  EXPECT_EQ(appended, "prefix:" + c.canonical);

  // The canonical text parses back to the same value, and is accepted as canonical.
  auto again = address::parse(a->str());
  ASSERT_TRUE(again.has_value());
  EXPECT_EQ(*again, *a);
  auto v = parse_address_view(c.canonical, true);
  ASSERT_TRUE(v.has_value()) << v.error().message();
  EXPECT_TRUE(address_equal::same(*v, a->view()));
}

INSTANTIATE_TEST_SUITE_P(EveryTypeAndForm, AddressValid, testing::ValuesIn(every_type_and_form()));

std::vector<valid_case> hosts(std::vector<std::pair<std::string, std::string>> spellings) {
  std::vector<valid_case> out;
  for (auto& [text, canonical] : spellings)
    out.push_back({in_host(text), in_host(canonical), role::agent, scope::one, canonical, "x"});
  return out;
}

INSTANTIATE_TEST_SUITE_P(Ipv4, AddressValid,
                         testing::ValuesIn(hosts({{"0.0.0.0", "0.0.0.0"},
                                                  {"10.0.0.7", "10.0.0.7"},
                                                  {"192.168.100.1", "192.168.100.1"},
                                                  {"255.255.255.255", "255.255.255.255"}})));

INSTANTIATE_TEST_SUITE_P(
    Ipv6, AddressValid,
    testing::ValuesIn(hosts({
        {"[::]", "[::]"},
        {"[::1]", "[::1]"},
        {"[1::]", "[1::]"},
        {"[0:0:0:0:0:0:0:0]", "[::]"},
        {"[0:0:0:0:0:0:0:1]", "[::1]"},
        {"[2001:db8::1]", "[2001:db8::1]"},
        {"[2001:DB8::1]", "[2001:db8::1]"},
        {"[2001:0db8:0000:0000:0000:0000:0000:0001]", "[2001:db8::1]"},
        {"[2001:db8:0:0:1:0:0:1]", "[2001:db8::1:0:0:1]"},     // tie: the first run
        {"[2001:0:0:1:0:0:0:1]", "[2001:0:0:1::1]"},           // the longest run
        {"[2001:db8:0:1:1:1:1:1]", "[2001:db8:0:1:1:1:1:1]"},  // one zero group stays
        {"[1:2:3:4:5:6:7::]", "[1:2:3:4:5:6:7:0]"},            // "::" for one group
        {"[1::8]", "[1::8]"},
        {"[ABCD:EF01:2345:6789:ABCD:EF01:2345:6789]", "[abcd:ef01:2345:6789:abcd:ef01:2345:6789]"},
        {"[::ffff:192.0.2.1]", "[::ffff:c000:201]"},
        {"[::192.0.2.1]", "[::c000:201]"},
        {"[::0.0.0.0]", "[::]"},
        {"[1:2:3:4:5:6:1.2.3.4]", "[1:2:3:4:5:6:102:304]"},
        {"[1::255.255.255.255]", "[1::ffff:ffff]"},
    })));

INSTANTIATE_TEST_SUITE_P(Dns, AddressValid,
                         testing::ValuesIn(hosts({
                             {"a", "a"},
                             {"localhost", "localhost"},
                             {"example.com", "example.com"},
                             {"Example.COM", "example.com"},
                             {"WEB.EXAMPLE.COM", "web.example.com"},
                             {"a-b.c-d", "a-b.c-d"},
                             {"a--b", "a--b"},
                             {"1a.2b", "1a.2b"},
                             {"123.example", "123.example"},
                             {"1.2.3.4a", "1.2.3.4a"},
                             {"any", "any"},  // a host may be called any or all
                             {"all", "all"},
                             {"xn--bcher-kva.example", "xn--bcher-kva.example"},
                         })));

INSTANTIATE_TEST_SUITE_P(
    Limits, AddressValid,
    testing::ValuesIn(std::vector<valid_case>{
        {in_host(std::string(62, 'a') + ".com"), in_host(std::string(62, 'a') + ".com"),
         role::agent, scope::one, std::string(62, 'a') + ".com", "x"},
        {in_host(std::string(63, 'A') + ".com"), in_host(std::string(63, 'a') + ".com"),
         role::agent, scope::one, std::string(63, 'a') + ".com", "x"},
        {in_host(dns_of_length(252)), in_host(dns_of_length(252)), role::agent, scope::one,
         dns_of_length(252), "x"},
        {in_host(dns_of_length(253)), in_host(dns_of_length(253)), role::agent, scope::one,
         dns_of_length(253), "x"},
        {in_id(std::string(63, 'i')), in_id(std::string(63, 'i')), role::agent, scope::one, "h",
         std::string(63, 'i')},
        {in_id(std::string(64, 'I')), in_id(std::string(64, 'I')), role::agent, scope::one, "h",
         std::string(64, 'I')},
        {in_id("A.b_c-D9"), in_id("A.b_c-D9"), role::agent, scope::one, "h", "A.b_c-D9"},
        {in_id("anyx"), in_id("anyx"), role::agent, scope::one, "h", "anyx"},
        {in_id("al"), in_id("al"), role::agent, scope::one, "h", "al"},
    }));

TEST(AddressLimits, LongestValidAddressParses) {
  std::string text =
      "ccp://endpoint/" + dns_of_length(max_dns_bytes) + "/" + std::string(max_id_bytes, 'i');
  ASSERT_EQ(text.size(), 333u);
  EXPECT_TRUE(address::parse(text).has_value());
  EXPECT_LE(text.size(), max_address_bytes);
}

// ---- Invalid inputs ------------------------------------------------------------------------

struct invalid_case {
  std::string text;
  parse_errc code;
  std::size_t offset;
};

void PrintTo(const invalid_case& c, std::ostream* os) {
  print_bytes(c.text, *os);
  *os << " -> " << to_string(c.code) << " at " << c.offset;
}

class AddressInvalid : public testing::TestWithParam<invalid_case> {};

TEST_P(AddressInvalid, ReportsCodeAndOffset) {
  const invalid_case& c = GetParam();
  parse_error expected{c.code, c.offset, {}};
  auto a = address::parse(c.text);
  ASSERT_FALSE(a.has_value()) << "parsed as " << a->str();
  EXPECT_EQ(a.error(), expected);
  auto v = parse_address_view(c.text);
  ASSERT_FALSE(v.has_value());
  EXPECT_EQ(v.error(), expected);
  // What is not valid is not canonical either.
  EXPECT_FALSE(parse_address_view(c.text, true).has_value());
}

INSTANTIATE_TEST_SUITE_P(Structure, AddressInvalid,
                         testing::ValuesIn(std::vector<invalid_case>{
                             {"", parse_errc::empty, 0},
                             {"http://agent/any", parse_errc::bad_scheme, 0},
                             {"CCP://agent/any", parse_errc::bad_scheme, 0},
                             {"ccp//agent/any", parse_errc::bad_scheme, 3},
                             {"ccp:", parse_errc::bad_scheme, 4},
                             {"ccp:/agent/any", parse_errc::bad_scheme, 5},
                             {"agent/any", parse_errc::bad_scheme, 0},
                             {"ccp://", parse_errc::bad_type, 6},
                             {"ccp:///any", parse_errc::bad_type, 6},
                             {"ccp://bogus/all", parse_errc::bad_type, 6},
                             {"ccp://bogus", parse_errc::bad_type, 6},
                             {"ccp://Agent/all", parse_errc::bad_type, 6},
                             {"ccp://AGENT/all", parse_errc::bad_type, 6},
                             {"ccp://agents/all", parse_errc::bad_type, 6},
                             {"ccp://agent", parse_errc::missing_segment, 11},
                             {"ccp://agent/", parse_errc::missing_segment, 12},
                             {"ccp://agent/host", parse_errc::missing_segment, 16},
                             {"ccp://agent/ANY", parse_errc::missing_segment,
                              15},  // groups are lower case
                             {"ccp://agent//x", parse_errc::missing_segment, 12},
                             {"ccp://agent//", parse_errc::missing_segment, 12},
                             {"ccp://agent/h/", parse_errc::missing_segment, 14},
                             {"ccp://agent/any/", parse_errc::missing_segment, 16},
                             {"ccp://agent/h/x/", parse_errc::extra_segment, 15},
                             {"ccp://agent/h/x/y", parse_errc::extra_segment, 15},
                             {"ccp://agent/h/any/x", parse_errc::extra_segment, 17},
                             {"ccp://agent/h/x//", parse_errc::extra_segment, 15},
                         }));

INSTANTIATE_TEST_SUITE_P(Id, AddressInvalid,
                         testing::ValuesIn(std::vector<invalid_case>{
                             {"ccp://agent/h/ANY", parse_errc::bad_id, 14},
                             {"ccp://agent/h/Any", parse_errc::bad_id, 14},
                             {"ccp://agent/h/ALL", parse_errc::bad_id, 14},
                             {"ccp://agent/h/aLl", parse_errc::bad_id, 14},
                             {"ccp://agent/h/a!b", parse_errc::bad_id, 15},
                             {"ccp://agent/h/a:b", parse_errc::bad_id, 15},
                             {"ccp://agent/h/a@b", parse_errc::bad_id, 15},
                             {"ccp://agent/h/[x]", parse_errc::bad_id, 14},
                             {in_id(std::string(65, 'i')), parse_errc::too_long, 14},
                             {in_id(std::string(65, '!')), parse_errc::too_long, 14},
                         }));

INSTANTIATE_TEST_SUITE_P(ForbiddenBytes, AddressInvalid,
                         testing::ValuesIn(std::vector<invalid_case>{
                             {" ccp://agent/any", parse_errc::forbidden_char, 0},
                             {"ccp://agent/any ", parse_errc::forbidden_char, 15},
                             {"ccp://agent/h/a b", parse_errc::forbidden_char, 15},
                             {"ccp://agent/h/a\tb", parse_errc::forbidden_char, 15},
                             {"ccp://agent/h/x\n", parse_errc::forbidden_char, 15},
                             {"ccp://agent/h/a\0b"s, parse_errc::forbidden_char, 15},
                             {"ccp://agent/h/a\x7f", parse_errc::forbidden_char, 15},
                             {"ccp://agent/any?x=1", parse_errc::forbidden_char, 15},
                             {"ccp://agent/h/x#frag", parse_errc::forbidden_char, 15},
                             {"ccp://agent/h%41/x", parse_errc::forbidden_char, 13},
                             {"ccp://agent/h\xc3\xa9/x", parse_errc::forbidden_char, 13},
                             {"ccp://agent/h/caf\xc3\xa9", parse_errc::forbidden_char, 17},
                             {"ccp://agent/h/\xff", parse_errc::forbidden_char, 14},
                             {"http://a b", parse_errc::forbidden_char,
                              8},  // bytes are checked first
                         }));

INSTANTIATE_TEST_SUITE_P(
    Host, AddressInvalid,
    testing::ValuesIn(std::vector<invalid_case>{
        {in_host("h_x"), parse_errc::bad_host, 13},
        {in_host("h:x"), parse_errc::bad_host, 13},
        {in_host("010.0.0.1"), parse_errc::bad_host, host_at},
        {in_host("10.0.0.01"), parse_errc::bad_host, host_at},
        {in_host("1.2.3"), parse_errc::bad_host, host_at},
        {in_host("1.2.3.4.5"), parse_errc::bad_host, host_at},
        {in_host("256.0.0.1"), parse_errc::bad_host, host_at},
        {in_host("1.2.3.256"), parse_errc::bad_host, host_at},
        {in_host("1234.1.1.1"), parse_errc::bad_host, host_at},
        {in_host("123"), parse_errc::bad_host, host_at},
        {in_host("example.123"), parse_errc::bad_host, host_at},
        {in_host("-a.com"), parse_errc::bad_host, host_at},
        {in_host("a-.com"), parse_errc::bad_host, host_at},
        {in_host("a.-b.com"), parse_errc::bad_host, host_at + 2},
        {in_host("a.b-"), parse_errc::bad_host, host_at + 2},
        {in_host("-"), parse_errc::bad_host, host_at},
        {in_host(".a"), parse_errc::bad_host, host_at},
        {in_host("a..b"), parse_errc::bad_host, host_at + 2},
        {in_host("a.b."), parse_errc::bad_host, host_at + 4},  // trailing dot
        {in_host("a."), parse_errc::bad_host, host_at + 2},
        {in_host("."), parse_errc::bad_host, host_at},
        {in_host(std::string(64, 'a') + ".com"), parse_errc::bad_host, host_at + 64},
        {in_host("a." + std::string(64, 'a')), parse_errc::bad_host, host_at + 66},
        {in_host(dns_of_length(254)), parse_errc::too_long, host_at},
        {in_host(dns_of_length(max_host_bytes)), parse_errc::too_long, host_at},
        {in_host(dns_of_length(max_host_bytes + 1)), parse_errc::too_long, host_at},
    }));

INSTANTIATE_TEST_SUITE_P(Ipv6Host, AddressInvalid,
                         testing::ValuesIn(std::vector<invalid_case>{
                             {in_host("::1"), parse_errc::bad_host, host_at},
                             {in_host("[]"), parse_errc::bad_host, host_at},
                             {in_host("[:]"), parse_errc::bad_host, host_at},
                             {in_host("[::1"), parse_errc::bad_host, host_at},
                             {in_host("[::1]x"), parse_errc::bad_host, host_at},
                             {in_host("[[::1]]"), parse_errc::bad_host, host_at},
                             {in_host("[:::]"), parse_errc::bad_host, host_at},
                             {in_host("[1::2::3]"), parse_errc::bad_host, host_at},
                             {in_host("[:1::]"), parse_errc::bad_host, host_at},
                             {in_host("[1::2:]"), parse_errc::bad_host, host_at},
                             {in_host("[1:2:3:4:5:6:7]"), parse_errc::bad_host, host_at},
                             {in_host("[1:2:3:4:5:6:7:8:9]"), parse_errc::bad_host, host_at},
                             {in_host("[1:2:3:4:5:6:7:8::]"), parse_errc::bad_host, host_at},
                             {in_host("[::1:2:3:4:5:6:7:8]"), parse_errc::bad_host, host_at},
                             {in_host("[12345::]"), parse_errc::bad_host, host_at},
                             {in_host("[g::]"), parse_errc::bad_host, host_at},
                             {in_host("[::1.2.3]"), parse_errc::bad_host, host_at},
                             {in_host("[::1.2.3.04]"), parse_errc::bad_host, host_at},
                             {in_host("[::1.2.3.4.5]"), parse_errc::bad_host, host_at},
                             {in_host("[::1.2.3.4:1]"), parse_errc::bad_host, host_at},
                             {in_host("[::a.2.3.4]"), parse_errc::bad_host, host_at},
                             {in_host("[1:2:3:4:5:6:7:1.2.3.4]"), parse_errc::bad_host, host_at},
                             {in_host("[1:2:3:4:5:6::1.2.3.4]"), parse_errc::bad_host, host_at},
                             {in_host("[fe80::1-eth0]"), parse_errc::bad_host, host_at},
                         }));

// The error of a text that must not parse.
parse_error error_of(std::string_view text) {
  auto a = address::parse(text);
  if (a) {
    ADD_FAILURE() << "parsed as " << a->str();
    return {};
  }
  return a.error();
}

TEST(AddressLimits, TotalLength) {
  std::string longest =
      "ccp://endpoint/" + dns_of_length(max_dns_bytes) + "/" + std::string(max_id_bytes + 2, 'i');
  ASSERT_EQ(longest.size(), max_address_bytes);
  EXPECT_EQ(error_of(longest), (parse_error{parse_errc::too_long, 269, {}}));
  std::string over = in_id(std::string(max_address_bytes + 1 - 14, 'i'));
  ASSERT_EQ(over.size(), max_address_bytes + 1);
  EXPECT_EQ(error_of(over), (parse_error{parse_errc::too_long, max_address_bytes, {}}));
  // Length is checked before bytes: the offset never exceeds the input.
  EXPECT_EQ(error_of(std::string(1000, ' ')),
            (parse_error{parse_errc::too_long, max_address_bytes, {}}));
}

// ---- Views and canonical_only --------------------------------------------------------------

TEST(ParseAddressView, FieldsPointIntoTheText) {
  std::string text = "ccp://proxy/Example.COM/p-1";
  auto v = parse_address_view(text);
  ASSERT_TRUE(v.has_value());
  EXPECT_EQ(v->type, role::proxy);
  EXPECT_EQ(v->form, scope::one);
  EXPECT_EQ(v->host, "Example.COM");  // as written: a view does not canonicalise
  EXPECT_EQ(v->host.data(), text.data() + 12);
  EXPECT_EQ(v->id.data(), text.data() + 24);
  EXPECT_EQ(address::from_view(*v).str(), "ccp://proxy/example.com/p-1");

  auto g = parse_address_view("ccp://proxy/all");
  ASSERT_TRUE(g.has_value());
  EXPECT_TRUE(g->host.empty());
  EXPECT_TRUE(g->id.empty());
}

TEST(ParseAddressView, CanonicalOnlyRejectsUpperCaseAndNonRfc5952) {
  struct row {
    std::string text;
    std::size_t offset;  // of bad_host
  };
  for (const row& r : std::vector<row>{
           {"ccp://agent/Example.com/x", 12},
           {"ccp://agent/example.cOm/x", 21},
           {"ccp://agent/EXAMPLE.COM/any", 12},
           {"ccp://agent/[2001:DB8::1]/x", 12},
           {"ccp://agent/[2001:db8:0:0:0:0:0:1]/x", 12},
           {"ccp://agent/[2001:0db8::1]/x", 12},
           {"ccp://agent/[0::1]/x", 12},
           {"ccp://agent/[::0:1]/x", 12},
           {"ccp://agent/[1:2:3:4:5:6:7::]/all", 12},
           {"ccp://agent/[2001:db8:0:0:1::1]/x", 12},  // the longer run must be "::"
           {"ccp://agent/[2001:db8::1:0:0:1:1]/x", 12},
           {"ccp://agent/[::ffff:1.2.3.4]/x", 12},
       }) {
    SCOPED_TRACE(r.text);
    ASSERT_TRUE(parse_address_view(r.text).has_value());
    auto v = parse_address_view(r.text, true);
    ASSERT_FALSE(v.has_value());
    EXPECT_EQ(v.error(), (parse_error{parse_errc::bad_host, r.offset, {}}));
  }
  for (std::string_view ok :
       {"ccp://agent/example.com/X", "ccp://agent/[2001:db8::1]/x", "ccp://agent/[::]/any",
        "ccp://agent/[::ffff:102:304]/all", "ccp://agent/[2001:db8:0:1:1:1:1:1]/x",
        "ccp://agent/1.2.3.4/x", "ccp://mgmt/any", "ccp://endpoint/all"}) {
    SCOPED_TRACE(ok);
    EXPECT_TRUE(parse_address_view(ok, true).has_value());
  }
}

// Frames are parsed with canonical_only, whose fast path scans dotted quads and DNS names on
// its own and leaves everything else to the full parser: hosts and ids at the edges of the
// host rules parse with canonical_only exactly as the full parser says (valid and canonical,
// or an error).
TEST(ParseAddressView, CanonicalOnlyAgreesWithTheFullParserAtTheHostRulesEdges) {
  struct row {
    std::string host;
    bool valid;
  };
  const std::string l63(63, 'a');
  for (const row& r : std::vector<row>{
           {"1.2.3.4", true},
           {"0.0.0.0", true},
           {"255.255.255.255", true},
           {"10.7.0.1", true},
           {"100.200.250.255", true},  // with its '/', the 16 bytes the quad scan reads
           {"256.1.1.1", false},
           {"1.22.333.4", false},
           {"1.2.3.2555", false},
           {"1.2.3.256", false},
           {"01.2.3.4", false},
           {"1.2.3.00", false},
           {"1.2.3", false},
           {"1.2.3.4.5", false},
           {"1234.1.1.1", false},
           {"1..2.3", false},
           {".1.2.3.4", false},
           {"1.2.3.4.", false},
           {"1.2.3.x4", true},  // last label not all digits: a DNS name
           {"x.1.2.3", false},  // last label all digits but no dotted quad
           {"a", true},
           {"a-b.c", true},
           {"-a.b", false},
           {"a-.b", false},
           {"a.-b", false},
           {"a.b-", false},
           {"a..b", false},
           {"a.b.", false},
           {"a_b.c", false},
           {"a b", false},
           {"A.b", false},  // valid, not canonical
           {"web-01.example.com", true},
           {"xn--bcher-kva.example", true},
           {std::string(30, 'h'), true},
           {std::string(40, 'h') + ".example.com", true},
           {l63 + ".b", true},
           {std::string(64, 'a') + ".b", false},
       }) {
    for (const std::string& last : {std::string("e1"), std::string("x"), std::string("any"),
                                    std::string("billing-worker_1.A"), std::string("ALL")}) {
      const std::string text = "ccp://endpoint/" + r.host + "/" + last;
      SCOPED_TRACE(text);
      const bool last_ok = last != "ALL";
      auto full = parse_address_view(text);
      auto fast = parse_address_view(text, true);
      const bool canonical = r.valid && last_ok;
      EXPECT_EQ(fast.has_value(), canonical);
      if (r.host != "A.b") {
        EXPECT_EQ(full.has_value(), canonical);
      }
      if (fast) {
        ASSERT_TRUE(full.has_value());
        EXPECT_TRUE(address_equal::same(*fast, *full));
        EXPECT_EQ(fast->host.data(), text.data() + 15);
      }
    }
  }
}

// ---- Builders and canonical_host -----------------------------------------------------------

TEST(AddressBuilders, OneMatchesParse) {
  auto a = address::one(role::endpoint, "WEB.Example.com", "billing-1");
  ASSERT_TRUE(a.has_value());
  EXPECT_EQ(a->str(), "ccp://endpoint/web.example.com/billing-1");
  EXPECT_EQ(*a, *address::parse("ccp://endpoint/web.example.com/billing-1"));
  auto b = address::one(role::mgmt, "[2001:DB8:0::1]", "m");
  ASSERT_TRUE(b.has_value());
  EXPECT_EQ(b->str(), "ccp://mgmt/[2001:db8::1]/m");
}

TEST(AddressBuilders, OneRejectsBadParts) {
  struct row {
    std::string host, id;
    parse_error error;
  };
  for (const row& r : std::vector<row>{
           {"", "x", {parse_errc::missing_segment, 0, {}}},
           {"h", "", {parse_errc::missing_segment, 0, {}}},
           {"a_b", "x", {parse_errc::bad_host, 1, {}}},
           {"a/b", "x", {parse_errc::bad_host, 1, {}}},
           {"a b", "x", {parse_errc::bad_host, 1, {}}},
           {"010.0.0.1", "x", {parse_errc::bad_host, 0, {}}},
           {"[::1", "x", {parse_errc::bad_host, 0, {}}},
           {dns_of_length(254), "x", {parse_errc::too_long, 0, {}}},
           {"h", "any", {parse_errc::bad_id, 0, {}}},
           {"h", "ALL", {parse_errc::bad_id, 0, {}}},
           {"h", "a/b", {parse_errc::bad_id, 1, {}}},
           {"h", "a b", {parse_errc::bad_id, 1, {}}},
           {"h", std::string(65, 'i'), {parse_errc::too_long, 0, {}}},
       }) {
    SCOPED_TRACE(r.host + " " + r.id);
    auto a = address::one(role::agent, r.host, r.id);
    ASSERT_FALSE(a.has_value()) << a->str();
    EXPECT_EQ(a.error(), r.error);
  }
}

TEST(AddressBuilders, HostGroup) {
  auto all = address::host_group(role::agent, "Node-1.Example", scope::host_all);
  ASSERT_TRUE(all.has_value());
  EXPECT_EQ(all->str(), "ccp://agent/node-1.example/all");
  auto any = address::host_group(role::proxy, "[::1]", scope::host_any);
  ASSERT_TRUE(any.has_value());
  EXPECT_EQ(any->str(), "ccp://proxy/[::1]/any");
  EXPECT_EQ(*any, *address::parse("ccp://proxy/[0::1]/any"));
  for (scope s : {scope::one, scope::any, scope::all}) {
    auto bad = address::host_group(role::agent, "h", s);
    ASSERT_FALSE(bad.has_value());
    EXPECT_EQ(bad.error(), (parse_error{parse_errc::bad_field, 0, {}}));
  }
  auto bad_host = address::host_group(role::agent, "a..b", scope::host_all);
  ASSERT_FALSE(bad_host.has_value());
  EXPECT_EQ(bad_host.error(), (parse_error{parse_errc::bad_host, 2, {}}));
}

TEST(AddressBuilders, Group) {
  for (role r : test::all_roles) {
    std::string base = "ccp://"s + std::string(test::role_text(r)) + "/";
    EXPECT_EQ(address::group(r, scope::all).str(), base + "all");
    EXPECT_EQ(address::group(r, scope::any).str(), base + "any");
    EXPECT_EQ(address::group(r, scope::all), *address::parse(base + "all"));
  }
}

TEST(AddressBuilders, DefaultIsMgmtAny) {
  address a;
  EXPECT_EQ(a.str(), "ccp://mgmt/any");
  EXPECT_EQ(a, address::group(role::mgmt, scope::any));
}

TEST(CanonicalHost, CanonicalisesValidHosts) {
  EXPECT_EQ(canonical_host("Example.COM"), "example.com");
  EXPECT_EQ(canonical_host("10.0.0.1"), "10.0.0.1");
  EXPECT_EQ(canonical_host("[2001:DB8:0:0::1]"), "[2001:db8::1]");
  EXPECT_EQ(canonical_host("[::ffff:192.0.2.1]"), "[::ffff:c000:201]");
  EXPECT_EQ(canonical_host(dns_of_length(253)), dns_of_length(253));
}

TEST(CanonicalHost, RejectsInvalidHosts) {
  struct row {
    std::string host;
    parse_error error;
  };
  for (const row& r : std::vector<row>{
           {"", {parse_errc::missing_segment, 0, {}}},
           {"a b", {parse_errc::forbidden_char, 1, {}}},
           {"a/b", {parse_errc::forbidden_char, 1, {}}},
           {"a?", {parse_errc::forbidden_char, 1, {}}},
           {"h\xc3\xa9", {parse_errc::forbidden_char, 1, {}}},
           {"a_b", {parse_errc::bad_host, 1, {}}},
           {"010.0.0.1", {parse_errc::bad_host, 0, {}}},
           {"1.2.3", {parse_errc::bad_host, 0, {}}},
           {"a.b.", {parse_errc::bad_host, 4, {}}},
           {"[1::2::3]", {parse_errc::bad_host, 0, {}}},
           {dns_of_length(254), {parse_errc::too_long, 0, {}}},
       }) {
    SCOPED_TRACE(r.host);
    auto h = canonical_host(r.host);
    ASSERT_FALSE(h.has_value()) << *h;
    EXPECT_EQ(h.error(), r.error);
  }
}

// ---- Equality, ordering, hashing -----------------------------------------------------------

address parse(std::string_view s) {
  auto a = address::parse(s);
  EXPECT_TRUE(a.has_value()) << s;
  return a.value_or(address{});
}

TEST(AddressCompare, SpellingsOfOneAddressAreEqual) {
  EXPECT_EQ(parse("ccp://agent/EXAMPLE.com/x"), parse("ccp://agent/example.COM/x"));
  EXPECT_EQ(parse("ccp://agent/[2001:DB8:0::1]/x"), parse("ccp://agent/[2001:db8::0:1]/x"));
  EXPECT_NE(parse("ccp://agent/h/x"), parse("ccp://agent/h/X"));  // ids are case-sensitive
  EXPECT_NE(parse("ccp://agent/h/x"), parse("ccp://proxy/h/x"));
  EXPECT_NE(parse("ccp://agent/h/any"), parse("ccp://agent/h/all"));
  EXPECT_NE(parse("ccp://agent/any"), parse("ccp://agent/h/any"));
  EXPECT_NE(parse("ccp://agent/h1/x"), parse("ccp://agent/h2/x"));
}

TEST(AddressCompare, OrdersByTypeFormHostId) {
  std::vector<address> sorted = {
      parse("ccp://mgmt/h/x"),  parse("ccp://mgmt/any"),     parse("ccp://proxy/a/x"),
      parse("ccp://proxy/b/a"), parse("ccp://proxy/b/b"),    parse("ccp://proxy/any"),
      parse("ccp://proxy/all"), parse("ccp://proxy/a/any"),  parse("ccp://proxy/a/all"),
      parse("ccp://agent/any"), parse("ccp://endpoint/a/x"),
  };
  for (std::size_t i = 0; i < sorted.size(); ++i) {
    for (std::size_t j = 0; j < sorted.size(); ++j) {
      SCOPED_TRACE(sorted[i].str() + " vs " + sorted[j].str());
      EXPECT_EQ(sorted[i] < sorted[j], i < j);
      EXPECT_EQ(sorted[i] == sorted[j], i == j);
      EXPECT_EQ((sorted[i] <=> sorted[j]) == 0, i == j);
    }
  }
}

// FNV-1a over type, form, host, '/', id: an independent reference for the stable hash.
std::uint64_t reference_fnv1a(const address& a) {
  std::uint64_t h = 14695981039346656037ull;
  auto mix = [&h](unsigned char c) {
    h ^= c;
    h *= 1099511628211ull;
  };
  mix(static_cast<unsigned char>(a.type()));
  mix(static_cast<unsigned char>(a.form()));
  for (char c : a.host())
    mix(static_cast<unsigned char>(c));
  mix('/');
  for (char c : a.id())
    mix(static_cast<unsigned char>(c));
  return h;
}

TEST(AddressHash, AgreesWithEqualityAndIsStable) {
  address a = parse("ccp://agent/EXAMPLE.com/x");
  address b = parse("ccp://agent/example.com/x");
  EXPECT_EQ(hash_value(a), hash_value(b));
  EXPECT_EQ(hash_value(a), hash_value(a.view()));
  EXPECT_EQ(address_hash{}(a), address_hash{}(b.view()));
  EXPECT_EQ(std::hash<address>{}(a), hash_value(a));
  EXPECT_EQ(hash_value(a), static_cast<std::size_t>(reference_fnv1a(a)));
  // Pinned: the simulator relies on the same value on every platform and run.
  EXPECT_EQ(reference_fnv1a(parse("ccp://mgmt/any")), 0xd94987186c0c0dafull);
  EXPECT_NE(hash_value(parse("ccp://agent/ab/c")), hash_value(parse("ccp://agent/a/bc")));
}

TEST(AddressHash, TransparentLookupByView) {
  std::unordered_set<address, address_hash, address_equal> set;
  set.insert(parse("ccp://endpoint/10.0.0.7/billing-1"));
  set.insert(parse("ccp://agent/all"));
  std::string text = "ccp://endpoint/10.0.0.7/billing-1";
  auto v = parse_address_view(text, true);
  ASSERT_TRUE(v.has_value());
  auto it = set.find(*v);
  ASSERT_NE(it, set.end());
  EXPECT_EQ(it->str(), text);
  auto missing = parse_address_view("ccp://endpoint/10.0.0.7/billing-2");
  ASSERT_TRUE(missing.has_value());
  EXPECT_EQ(set.find(*missing), set.end());
  EXPECT_TRUE(address_equal{}(parse("ccp://agent/all"), *parse_address_view("ccp://agent/all")));
  EXPECT_FALSE(address_equal{}(*parse_address_view("ccp://agent/any"), parse("ccp://agent/all")));
}

// ---- Membership ----------------------------------------------------------------------------

struct member_case {
  std::string member;
  std::string group;
  bool expected;
};

void PrintTo(const member_case& c, std::ostream* os) {
  *os << c.member << " in " << c.group << " = " << c.expected;
}

class IsMember : public testing::TestWithParam<member_case> {};

TEST_P(IsMember, Table) {
  const member_case& c = GetParam();
  address m = parse(c.member);
  address g = parse(c.group);
  EXPECT_EQ(is_member(m, g), c.expected);
  EXPECT_EQ(is_member(m.view(), g.view()), c.expected);
}

INSTANTIATE_TEST_SUITE_P(
    Table, IsMember,
    testing::ValuesIn(std::vector<member_case>{
        {"ccp://agent/h/x", "ccp://agent/h/x", true},
        {"ccp://agent/h/x", "ccp://agent/H/x", true},
        {"ccp://agent/h/x", "ccp://agent/h/y", false},
        {"ccp://agent/h/x", "ccp://agent/g/x", false},
        {"ccp://agent/h/x", "ccp://proxy/h/x", false},
        {"ccp://agent/h/x", "ccp://agent/any", true},
        {"ccp://agent/h/x", "ccp://agent/all", true},
        {"ccp://agent/h/x", "ccp://proxy/any", false},
        {"ccp://agent/h/x", "ccp://endpoint/all", false},
        {"ccp://agent/h/x", "ccp://agent/h/any", true},
        {"ccp://agent/h/x", "ccp://agent/h/all", true},
        {"ccp://agent/h/x", "ccp://agent/g/any", false},
        {"ccp://agent/h/x", "ccp://agent/g/all", false},
        {"ccp://agent/h/x", "ccp://mgmt/h/all", false},
        {"ccp://agent/EX.com/x", "ccp://agent/ex.COM/all", true},
        {"ccp://agent/[2001:db8:0::1]/x", "ccp://agent/[2001:DB8::1]/any", true},
        {"ccp://agent/[::1]/x", "ccp://agent/[::2]/all", false},
        {"ccp://agent/h.example/x", "ccp://agent/h/all", false},  // no suffix matching
        {"ccp://agent/all", "ccp://agent/all", false},            // a group is no member
        {"ccp://agent/any", "ccp://agent/all", false},
        {"ccp://agent/h/all", "ccp://agent/all", false},
        {"ccp://agent/h/all", "ccp://agent/h/all", false},
        {"ccp://agent/h/any", "ccp://agent/any", false},
    }));

// ---- Names ---------------------------------------------------------------------------------

TEST(AddressNames, RolesAndScopes) {
  EXPECT_EQ(to_string(role::mgmt), "mgmt");
  EXPECT_EQ(to_string(role::proxy), "proxy");
  EXPECT_EQ(to_string(role::agent), "agent");
  EXPECT_EQ(to_string(role::endpoint), "endpoint");
  EXPECT_EQ(to_string(scope::one), "one");
  EXPECT_EQ(to_string(scope::any), "any");
  EXPECT_EQ(to_string(scope::all), "all");
  EXPECT_EQ(to_string(scope::host_any), "host_any");
  EXPECT_EQ(to_string(scope::host_all), "host_all");
  EXPECT_EQ(static_cast<int>(test::all_roles.size()), role_count);
  EXPECT_EQ(static_cast<int>(test::all_scopes.size()), scope_count);
}

}  // namespace
}  // namespace ccp::core
