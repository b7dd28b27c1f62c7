#include "text/message_json.hpp"

#include <cmath>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <gtest/gtest.h>
#include <rapidcheck.h>
#include <rapidcheck/gtest.h>
#include <nlohmann/json.hpp>

#include "tests/core/generators.hpp"

namespace ccp::text {
namespace {

using core::errc;
using core::message;
using core::msg_kind;
using nlohmann::json;

core::address addr(std::string_view s) {
  auto a = core::address::parse(s);
  EXPECT_TRUE(a.has_value()) << s;
  return a.value_or(core::address{});
}

message sample(msg_kind k) {
  message m;
  m.id = 7;
  m.kind = k;
  m.from = addr("ccp://agent/10.0.0.1/a1");
  m.to = addr("ccp://endpoint/all");
  m.type = "ping";
  m.ttl_ms = 500;
  m.hops = 2;
  m.body = R"({"x":1})";
  if (k == msg_kind::response || k == msg_kind::error) m.correlation = 6;
  if (k == msg_kind::error) {
    m.code = errc::timeout;
    m.text = "deadline passed";
  }
  return m;
}

// Through the text form, as a log line or the CLI carries it.
std::expected<message, std::string> via_text(const message& m) {
  std::string line = to_json_text(m);
  EXPECT_EQ(line.find('\n'), std::string::npos) << "not one line: " << line;
  return message_from_json(json::parse(line));
}

// ---- Text form -----------------------------------------------------------------------------

TEST(MessageJson, TextFormOfARequest) {
  EXPECT_EQ(to_json_text(sample(msg_kind::request)),
            R"({"body":{"x":1},"from":"ccp://agent/10.0.0.1/a1","hops":2,"id":7,)"
            R"("kind":"request","to":"ccp://endpoint/all","ttl_ms":500,"type":"ping"})");
}

TEST(MessageJson, TextFormOfAnError) {
  EXPECT_EQ(to_json_text(sample(msg_kind::error)),
            R"({"body":{"x":1},"code":"timeout","correlation":6,"from":"ccp://agent/10.0.0.1/a1",)"
            R"("hops":2,"id":7,"kind":"error","text":"deadline passed","to":"ccp://endpoint/all",)"
            R"("ttl_ms":500,"type":"ping"})");
}

TEST(MessageJson, RoundTripsEachKind) {
  for (msg_kind k :
       {msg_kind::request, msg_kind::response, msg_kind::notification, msg_kind::error}) {
    SCOPED_TRACE(core::to_string(k));
    message m = sample(k);
    auto direct = message_from_json(to_json(m));
    ASSERT_TRUE(direct.has_value()) << direct.error();
    EXPECT_EQ(*direct, m);
    auto text = via_text(m);
    ASSERT_TRUE(text.has_value()) << text.error();
    EXPECT_EQ(*text, m);
  }
}

TEST(MessageJson, CompactJsonBodiesRoundTripExactly) {
  std::vector<json> values = {
      json::object(),
      json::array(),
      nullptr,
      true,
      false,
      0,
      -5,
      1.5,
      -0.0,
      1e300,
      UINT64_MAX,
      INT64_MIN,
      "s",
      "tab\there \"quoted\" back\\slash \x01",
      "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80",
      {{"a", {1, 2, {{"b", nullptr}}}}, {"c", "d"}, {"", json::array()}},
  };
  for (const json& v : values) {
    message m = sample(msg_kind::notification);
    m.body = v.dump();
    SCOPED_TRACE(m.body);
    json j = to_json(m);
    EXPECT_TRUE(j.contains("body"));
    EXPECT_FALSE(j.contains("body_raw"));
    auto back = via_text(m);
    ASSERT_TRUE(back.has_value()) << back.error();
    EXPECT_EQ(back->body, m.body);
    EXPECT_EQ(*back, m);
  }
}

TEST(MessageJson, OtherBodiesTravelAsBodyRaw) {
  for (std::string body : {"hello", "{not json", "1 2", "\"unterminated", "caf\xc3\xa9", "{}x"}) {
    SCOPED_TRACE(body);
    message m = sample(msg_kind::request);
    m.body = body;
    json j = to_json(m);
    EXPECT_FALSE(j.contains("body"));
    EXPECT_EQ(j.at("body_raw"), body);
    auto back = via_text(m);
    ASSERT_TRUE(back.has_value()) << back.error();
    EXPECT_EQ(*back, m);
  }
}

TEST(MessageJson, EmptyBodyHasNoBodyField) {
  message m = sample(msg_kind::request);
  m.body.clear();
  json j = to_json(m);
  EXPECT_FALSE(j.contains("body"));
  EXPECT_FALSE(j.contains("body_raw"));
  auto back = via_text(m);
  ASSERT_TRUE(back.has_value()) << back.error();
  EXPECT_EQ(*back, m);
}

TEST(MessageJson, DocumentedLossyCases) {
  // JSON that is not a compact dump comes back as its compact dump.
  message m = sample(msg_kind::request);
  m.body = R"( { "b" : [1, 2], "a" : 1 } )";
  auto back = via_text(m);
  ASSERT_TRUE(back.has_value()) << back.error();
  EXPECT_EQ(back->body, R"({"a":1,"b":[1,2]})");

  // Invalid UTF-8 survives the JSON value, but the text line replaces it with U+FFFD.
  m.body = "\xff\xfe";
  auto direct = message_from_json(to_json(m));
  ASSERT_TRUE(direct.has_value()) << direct.error();
  EXPECT_EQ(direct->body, "\xff\xfe");
  auto line = via_text(m);
  ASSERT_TRUE(line.has_value()) << line.error();
  EXPECT_EQ(line->body, "\xef\xbf\xbd\xef\xbf\xbd");
}

TEST(MessageJson, AcceptsIntegersBuiltInCode) {
  // A json value built in C++ holds small literals as signed integers: they are still
  // integers from 0 to the limit.
  json j = {{"id", 7},
            {"kind", "request"},
            {"from", "ccp://agent/10.0.0.1/a1"},
            {"to", "ccp://endpoint/all"},
            {"type", "ping"},
            {"ttl_ms", 500},
            {"hops", 2},
            {"body", {{"x", 1}}}};
  auto m = message_from_json(j);
  ASSERT_TRUE(m.has_value()) << m.error();
  EXPECT_EQ(*m, sample(msg_kind::request));
  j["hops"] = -1;
  EXPECT_EQ(message_from_json(j), std::unexpected("/hops: expected an integer from 0 to 255"));
}

// ---- Errors name the JSON path -------------------------------------------------------------

struct error_case {
  std::string name;
  json patch;  // merged into a valid request; null removes a field
  std::string expected;
};

void PrintTo(const error_case& c, std::ostream* os) {
  *os << c.name;
}

class MessageJsonError : public testing::TestWithParam<error_case> {};

std::string error_name(const testing::TestParamInfo<error_case>& i) {
  return i.param.name;
}

TEST_P(MessageJsonError, NamesThePath) {
  json j = to_json(sample(msg_kind::request));
  j.merge_patch(GetParam().patch);
  auto m = message_from_json(j);
  ASSERT_FALSE(m.has_value()) << j.dump();
  EXPECT_EQ(m.error(), GetParam().expected);
}

const std::string any_u64 = "expected an integer from 0 to 18446744073709551615";

INSTANTIATE_TEST_SUITE_P(
    Table, MessageJsonError,
    testing::ValuesIn(std::vector<error_case>{
        {"IdNegative", {{"id", -1}}, "/id: " + any_u64},
        {"IdString", {{"id", "7"}}, "/id: " + any_u64},
        {"IdFloat", {{"id", 1.5}}, "/id: " + any_u64},
        {"KindMissing", {{"kind", nullptr}}, "/kind: expected a string"},
        {"KindNumber", {{"kind", 1}}, "/kind: expected a string"},
        {"KindUnknown",
         {{"kind", "bogus"}},
         "/kind: expected one of request, response, notification, error"},
        {"KindUpperCase",
         {{"kind", "Request"}},
         "/kind: expected one of request, response, notification, error"},
        {"FromMissing", {{"from", nullptr}}, "/from: expected an address string"},
        {"FromNumber", {{"from", 1}}, "/from: expected an address string"},
        {"FromBadScheme", {{"from", "bogus"}}, "/from: expected scheme \"ccp://\" at offset 0"},
        {"ToMissing", {{"to", nullptr}}, "/to: expected an address string"},
        {"ToBadHost",
         {{"to", "ccp://agent/a_b/x"}},
         "/to: bad host (expected IPv4, [IPv6] or an RFC 1123 name) at offset 13"},
        {"ToBadType",
         {{"to", "ccp://nope/all"}},
         "/to: type must be mgmt, proxy, agent or endpoint at offset 6"},
        {"CorrelationNegative", {{"correlation", -1}}, "/correlation: " + any_u64},
        {"TypeMissing",
         {{"type", nullptr}},
         "/type: expected an operation name ([a-z0-9_.-], 1 to 64 bytes)"},
        {"TypeUpperCase",
         {{"type", "Ping"}},
         "/type: expected an operation name ([a-z0-9_.-], 1 to 64 bytes)"},
        {"Type65",
         {{"type", std::string(65, 't')}},
         "/type: expected an operation name ([a-z0-9_.-], 1 to 64 bytes)"},
        {"TtlOverMax",
         {{"ttl_ms", 4294967296u}},
         "/ttl_ms: expected an integer from 0 to 4294967295"},
        {"TtlString", {{"ttl_ms", "5"}}, "/ttl_ms: expected an integer from 0 to 4294967295"},
        {"Hops256", {{"hops", 256}}, "/hops: expected an integer from 0 to 255"},
        {"HopsNegative", {{"hops", -1}}, "/hops: expected an integer from 0 to 255"},
        {"CodeNumber", {{"code", 3}}, "/code: expected an error code name"},
        {"CodeUnknown", {{"code", "nope"}}, "/code: unknown error code \"nope\""},
        {"TextNumber", {{"text", 5}}, "/text: expected a string"},
        {"BodyRawNumber", {{"body_raw", 5}}, "/body_raw: expected a string"},
    }),
    error_name);

TEST(MessageJsonError, NotAnObject) {
  for (const json& j : {json::array(), json(nullptr), json(5), json("x")})
    EXPECT_EQ(message_from_json(j), std::unexpected("/: expected an object")) << j.dump();
}

TEST(MessageJson, LimitsOfIntegerFields) {
  json j = to_json(sample(msg_kind::request));
  for (unsigned hops : {254u, 255u}) {
    j["hops"] = hops;
    auto m = message_from_json(j);
    ASSERT_TRUE(m.has_value()) << m.error();
    EXPECT_EQ(m->hops, hops);
  }
  for (std::uint64_t ttl : {std::uint64_t{UINT32_MAX} - 1, std::uint64_t{UINT32_MAX}}) {
    j["ttl_ms"] = ttl;
    auto m = message_from_json(j);
    ASSERT_TRUE(m.has_value()) << m.error();
    EXPECT_EQ(m->ttl_ms, ttl);
  }
  j["id"] = UINT64_MAX;
  auto m = message_from_json(j);
  ASSERT_TRUE(m.has_value()) << m.error();
  EXPECT_EQ(m->id, UINT64_MAX);
}

TEST(ErrcFromString, EveryNameAndAnUnknownOne) {
  for (std::uint16_t v = 1; v <= core::errc_max; ++v) {
    auto e = static_cast<errc>(v);
    EXPECT_EQ(errc_from_string(core::to_string(e)), e);
  }
  EXPECT_EQ(errc_from_string("Timeout"), std::unexpected("unknown error code \"Timeout\""));
  EXPECT_EQ(errc_from_string(""), std::unexpected("unknown error code \"\""));
  EXPECT_EQ(errc_from_string("unknown"), std::unexpected("unknown error code \"unknown\""));
}

// ---- Property: JSON-safe messages round trip through the text form -------------------------

// Valid UTF-8 (nlohmann rejects anything else), with the bytes JSON must escape.
rc::Gen<std::string> gen_utf8() {
  static const std::vector<std::string> pieces = {
      "a",    "Z",    "0", " ", "\"", "\\", "/",        "\n",           "\t",
      "\x01", "\x7f", "{", "}", "[",  ":",  "\xc3\xa9", "\xe2\x82\xac", "\xf0\x9f\x98\x80"};
  return rc::gen::map(rc::gen::container<std::vector<std::string>>(rc::gen::elementOf(pieces)),
                      [](const std::vector<std::string>& v) {
                        std::string s;
                        for (const auto& p : v)
                          s += p;
                        return s;
                      });
}

rc::Gen<json> gen_json(int depth) {
  return rc::gen::exec([depth]() -> json {
    switch (*rc::gen::inRange(0, depth > 0 ? 8 : 6)) {
      case 0:
        return nullptr;
      case 1:
        return *rc::gen::arbitrary<bool>();
      case 2:
        return *rc::gen::arbitrary<std::int64_t>();
      case 3:
        return *rc::gen::arbitrary<std::uint64_t>();
      case 4:
        return *rc::gen::suchThat(rc::gen::arbitrary<double>(),
                                  [](double d) { return std::isfinite(d); });
      case 5:
        return *gen_utf8();
      case 6: {
        json a = json::array();
        for (int n = *rc::gen::inRange(0, 4); n > 0; --n)
          a.push_back(*gen_json(depth - 1));
        return a;
      }
      default: {
        json o = json::object();
        for (int n = *rc::gen::inRange(0, 4); n > 0; --n)
          o[*gen_utf8()] = *gen_json(depth - 1);
        return o;
      }
    }
  });
}

rc::Gen<std::string> gen_json_safe_body() {
  return rc::gen::oneOf(
      rc::gen::map(gen_json(2), [](const json& j) { return j.dump(); }),
      rc::gen::suchThat(gen_utf8(), [](const std::string& s) { return !json::accept(s); }),
      rc::gen::just(std::string()));
}

RC_GTEST_PROP(MessageJsonProps, JsonSafeMessagesRoundTripThroughText, ()) {
  // The text form carries `text` on errors only (see message_json.hpp).
  message m = *test::gen_message(gen_utf8(), gen_json_safe_body(), true);
  auto back = via_text(m);
  RC_ASSERT(back.has_value());
  RC_ASSERT(*back == m);
}

}  // namespace
}  // namespace ccp::text
