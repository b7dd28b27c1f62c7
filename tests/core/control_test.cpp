#include "core/control.hpp"

#include <cstdint>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include <gtest/gtest.h>
#include <rapidcheck.h>
#include <rapidcheck/gtest.h>

#include "core/error.hpp"
#include "core/message.hpp"

namespace ccp::core {
namespace {

using namespace std::string_literals;
using fields_t = std::vector<std::pair<std::string, flat_value>>;
using strings = std::vector<std::string>;

// A lossless, readable text of parsed fields, for failure messages and comparisons.
std::string escape_bytes(std::string_view s) {
  static constexpr char hex[] = "0123456789abcdef";
  std::string out = "\"";
  for (char c : s) {
    auto u = static_cast<unsigned char>(c);
    if (u >= 0x20 && u < 0x7f && c != '"' && c != '\\') {
      out += c;
    } else {
      out += "\\x";
      out += hex[u >> 4];
      out += hex[u & 0xf];
    }
  }
  return out + "\"";
}

std::string describe(const fields_t& fields) {
  std::string out = "{";
  for (const auto& [k, v] : fields) {
    if (out.size() > 1) out += ", ";
    out += escape_bytes(k) + ": ";
    if (const auto* n = std::get_if<std::uint64_t>(&v)) {
      out += std::to_string(*n);
    } else if (const auto* s = std::get_if<std::string>(&v)) {
      out += escape_bytes(*s);
    } else {
      out += "[";
      for (const auto& item : std::get<strings>(v))
        out += escape_bytes(item) + " ";
      out += "]";
    }
  }
  return out + "}";
}

// "ok {...}" or "error bad_field at N": one comparable value for each parse.
std::string outcome(std::string_view text) {
  auto r = parse_flat_json(text);
  if (r) return "ok " + describe(r->fields);
  return "error " + std::string(to_string(r.error().code)) + " at " +
         std::to_string(r.error().offset);
}
std::string ok(const fields_t& fields) {
  return "ok " + describe(fields);
}
std::string bad_field_at(std::size_t offset) {
  return "error " + std::string(to_string(parse_errc::bad_field)) + " at " + std::to_string(offset);
}

// ---- Writer --------------------------------------------------------------------------------

TEST(FlatJsonWriter, EmptyObject) {
  EXPECT_EQ(flat_json_writer{}.finish(), "{}");
}

TEST(FlatJsonWriter, NumbersStringsAndArraysInOrder) {
  auto out = flat_json_writer{}
                 .add("n", std::uint64_t{0})
                 .add("max", UINT64_MAX)
                 .add("s", "text")
                 .add("e", "")
                 .add("l", strings{"a", "b"})
                 .add("none", strings{})
                 .add_raw("raw", "{\"x\":[1,2]}")
                 .finish();
  EXPECT_EQ(out, R"({"n":0,"max":18446744073709551615,"s":"text","e":"","l":["a","b"],"none":[],)"
                 R"("raw":{"x":[1,2]}})");
}

struct escape_case {
  std::string in;
  std::string written;  // the JSON string, quotes included
};

void PrintTo(const escape_case& c, std::ostream* os) {
  *os << escape_bytes(c.in);
}

class FlatJsonWriterEscape : public testing::TestWithParam<escape_case> {};

// Quote, backslash and control bytes are escaped; everything else is written as is.
TEST_P(FlatJsonWriterEscape, EscapesStringsKeysAndArrayItems) {
  const auto& c = GetParam();
  EXPECT_EQ(flat_json_writer{}.add("k", c.in).finish(), "{\"k\":" + c.written + "}");
  EXPECT_EQ(flat_json_writer{}.add(c.in, std::uint64_t{1}).finish(), "{" + c.written + ":1}");
  EXPECT_EQ(flat_json_writer{}.add("k", strings{c.in, c.in}).finish(),
            "{\"k\":[" + c.written + "," + c.written + "]}");
  // And reads back to the same bytes.
  EXPECT_EQ(outcome(flat_json_writer{}.add(c.in, c.in).finish()), ok({{c.in, c.in}}));
}

INSTANTIATE_TEST_SUITE_P(
    Table, FlatJsonWriterEscape,
    testing::Values(escape_case{"plain", R"("plain")"}, escape_case{"", R"("")"},
                    escape_case{"a\"b", R"("a\"b")"}, escape_case{"a\\b", R"("a\\b")"},
                    escape_case{"\\\"", R"("\\\"")"}, escape_case{"\n", R"("\u000a")"},
                    escape_case{"\t\r", R"("\u0009\u000d")"}, escape_case{"\x01", R"("\u0001")"},
                    escape_case{"\x1f", R"("\u001f")"}, escape_case{"\0"s, R"("\u0000")"},
                    escape_case{"a\0b"s, R"("a\u0000b")"}, escape_case{" ", R"(" ")"},
                    escape_case{"/", R"("/")"}, escape_case{"\x7f", "\"\x7f\""},
                    escape_case{"ccp://agent/[::1]/a.b", R"("ccp://agent/[::1]/a.b")"}),
    [](const auto& tp) { return "case" + std::to_string(tp.index); });

// ---- Parser: values ------------------------------------------------------------------------

struct parse_case {
  std::string text;
  fields_t fields;
};

void PrintTo(const parse_case& c, std::ostream* os) {
  *os << escape_bytes(c.text);
}

class FlatJsonParse : public testing::TestWithParam<parse_case> {};

TEST_P(FlatJsonParse, ReadsTheSubset) {
  const auto& c = GetParam();
  EXPECT_EQ(outcome(c.text), ok(c.fields));
}

INSTANTIATE_TEST_SUITE_P(
    Table, FlatJsonParse,
    testing::Values(parse_case{"{}", {}}, parse_case{" \t\r\n{ \t\r\n} \t\r\n", {}},
                    parse_case{R"({"a":0})", {{"a", std::uint64_t{0}}}},
                    parse_case{R"({"a":7})", {{"a", std::uint64_t{7}}}},
                    parse_case{R"({"a":10})", {{"a", std::uint64_t{10}}}},
                    parse_case{R"({"a":18446744073709551615})", {{"a", UINT64_MAX}}},
                    parse_case{R"({"a":18446744073709551610})", {{"a", UINT64_MAX - 5}}},
                    parse_case{R"({"a":""})", {{"a", ""s}}},
                    parse_case{R"({"":"x"})", {{"", "x"s}}},
                    parse_case{R"({"a":[]})", {{"a", strings{}}}},
                    parse_case{R"({"a":[ ]})", {{"a", strings{}}}},
                    parse_case{R"({"a":["x"]})", {{"a", strings{"x"}}}},
                    parse_case{R"({"a":["x","","y"]})", {{"a", strings{"x", "", "y"}}}},
                    parse_case{R"( { "a" : 1 , "b" : [ "x" , "y" ] , "c" : "z" } )",
                               {{"a", std::uint64_t{1}}, {"b", strings{"x", "y"}}, {"c", "z"s}}},
                    parse_case{R"({"s":"\"\\\/\n\t\r\b\f"})", {{"s", "\"\\/\n\t\r\b\f"s}}},
                    parse_case{R"({"s":"\u0041\u007a\u007F\u0000"})", {{"s", "Az\x7f\0"s}}},
                    parse_case{R"({"a":1,"a":"x"})", {{"a", std::uint64_t{1}}, {"a", "x"s}}}),
    [](const auto& tp) { return "case" + std::to_string(tp.index); });

TEST(FlatJson, LookupsByKeyAndType) {
  auto r = parse_flat_json(R"({"n":5,"s":"x","l":["a"],"dup":1,"dup":"y"})");
  ASSERT_TRUE(r.has_value());
  ASSERT_NE(r->number("n"), nullptr);
  EXPECT_EQ(*r->number("n"), 5u);
  ASSERT_NE(r->string("s"), nullptr);
  EXPECT_EQ(*r->string("s"), "x");
  ASSERT_NE(r->strings("l"), nullptr);
  EXPECT_EQ(*r->strings("l"), strings{"a"});
  // Missing key, or present with another type: nullptr.
  EXPECT_EQ(r->number("missing"), nullptr);
  EXPECT_EQ(r->number("s"), nullptr);
  EXPECT_EQ(r->string("n"), nullptr);
  EXPECT_EQ(r->strings("s"), nullptr);
  EXPECT_EQ(r->string("l"), nullptr);
  // A repeated key: the first one answers.
  ASSERT_NE(r->number("dup"), nullptr);
  EXPECT_EQ(*r->number("dup"), 1u);
}

// ---- Parser: errors ------------------------------------------------------------------------

struct error_case {
  const char* why;
  std::string text;
  std::size_t offset;  // of the first byte that does not fit the subset
};

void PrintTo(const error_case& c, std::ostream* os) {
  *os << c.why << ": " << escape_bytes(c.text);
}

class FlatJsonError : public testing::TestWithParam<error_case> {};

TEST_P(FlatJsonError, ReportsBadFieldAtTheOffendingByte) {
  const auto& c = GetParam();
  EXPECT_EQ(outcome(c.text), bad_field_at(c.offset)) << c.why;
  auto r = parse_flat_json(c.text);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().field, "body");
  EXPECT_LE(r.error().offset, c.text.size());
}

// clang-format off
INSTANTIATE_TEST_SUITE_P(Table, FlatJsonError, testing::Values(
    error_case{"empty", "", 0},
    error_case{"only whitespace", "  \n", 3},
    error_case{"missing open brace", R"("a":1})", 0},
    error_case{"array at top", R"(["a"])", 0},
    error_case{"missing close brace", R"({"a":1)", 6},
    error_case{"missing close brace after string", R"({"a":"x")", 8},
    error_case{"only open brace", "{", 1},
    error_case{"trailing garbage", R"({"a":1}x)", 7},
    error_case{"second object", R"({}{})", 2},
    error_case{"trailing garbage after whitespace", "{} \n,", 4},
    error_case{"unquoted key", R"({a:1})", 1},
    error_case{"number key", R"({1:1})", 1},
    error_case{"missing colon", R"({"a" 1})", 5},
    error_case{"missing value", R"({"a":})", 5},
    error_case{"missing comma", R"({"a":1 "b":2})", 7},
    error_case{"trailing comma", R"({"a":1,})", 7},
    error_case{"lone comma", R"({,})", 1},
    error_case{"leading zero", R"({"a":01})", 6},
    error_case{"two zeros", R"({"a":00})", 6},
    error_case{"leading zero, long", R"({"a":0123})", 6},
    error_case{"leading zero in a second field", R"({"b":1,"a":007})", 12},
    error_case{"uint64 max + 1", R"({"a":18446744073709551616})", 24},
    error_case{"twenty nines", R"({"a":99999999999999999999})", 24},
    error_case{"uint64 max * 10", R"({"a":184467440737095516150})", 25},
    error_case{"negative", R"({"a":-1})", 5},
    error_case{"fraction", R"({"a":1.5})", 6},
    error_case{"exponent", R"({"a":1e3})", 6},
    error_case{"true", R"({"a":true})", 5},
    error_case{"null", R"({"a":null})", 5},
    error_case{"nested object", R"({"a":{"b":1}})", 5},
    error_case{"nested empty object", R"({"a":{}})", 5},
    error_case{"nested array", R"({"a":["x",["y"]]})", 10},
    error_case{"number in array", R"({"a":[1]})", 6},
    error_case{"trailing comma in array", R"({"a":["x",]})", 10},
    error_case{"unclosed array", R"({"a":["x"})", 9},
    error_case{"unterminated string", R"({"a":"xy)", 8},
    error_case{"unterminated key", R"({"a)", 3},
    error_case{"raw newline in string", "{\"a\":\"x\ny\"}", 7},
    error_case{"raw NUL in string", "{\"a\":\"x\0y\"}"s, 7},
    error_case{"raw control byte in key", "{\"\x1f\":1}", 2},
    error_case{"bad escape", R"({"a":"\x"})", 6},
    error_case{"bad escape in key", R"({"\a":1})", 2},
    error_case{"escaped single quote", R"({"a":"\'"})", 6},
    error_case{"backslash at end", R"({"a":"\)", 6},
    error_case{"bad hex digit", R"({"a":"\u00zz"})", 6},
    error_case{"short unicode escape", R"({"a":"\u41"})", 6},
    error_case{"unicode escape at end", R"({"a":"\u00)", 6},
    error_case{"non-ASCII unicode escape 0x80", R"({"a":"\u0080"})", 6},
    error_case{"non-ASCII unicode escape 0xff", R"({"a":"ab\u00ff"})", 8},
    error_case{"non-ASCII unicode escape 0xe9", R"({"a":"\u00e9"})", 6},
    error_case{"surrogate escape", R"({"a":"\ud83d\ude00"})", 6},
    error_case{"non-ASCII unicode escape in array", R"({"a":["\u0100"]})", 7}));
// clang-format on

// The limit of the parser is max_frame_bytes: tested at limit-1, limit and limit+1.
std::string object_of_size(std::size_t n) {
  std::string text = R"({"a":"")";
  text.insert(6, n - text.size() - 1, 'x');
  text += '}';
  return text;
}

TEST(FlatJson, SizeLimitIsMaxFrameBytes) {
  for (std::size_t n : {max_frame_bytes - 1, max_frame_bytes}) {
    auto text = object_of_size(n);
    ASSERT_EQ(text.size(), n);
    auto r = parse_flat_json(text);
    ASSERT_TRUE(r.has_value()) << n;
    ASSERT_NE(r->string("a"), nullptr);
    EXPECT_EQ(r->string("a")->size(), n - 8);
  }
  auto r = parse_flat_json(object_of_size(max_frame_bytes + 1));
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, parse_errc::too_long);
  EXPECT_EQ(r.error().offset, max_frame_bytes);
}

// ---- Properties ----------------------------------------------------------------------------

// ASCII strings (control bytes, quote and backslash included, as they need escaping), with
// a bias to printable text. ASCII is valid UTF-8 everywhere the body may be shown as JSON.
rc::Gen<std::string> gen_ascii() {
  return rc::gen::container<std::string>(
      rc::gen::weightedOneOf<char>({{6, rc::gen::inRange<char>(0x20, 0x7f)},
                                    {1, rc::gen::element('"', '\\', '/', 'u')},
                                    {1, rc::gen::inRange<char>(0x00, 0x20)},
                                    {1, rc::gen::just<char>(0x7f)}}));
}

// A list of up to `max` items: control messages carry a few fields and short lists, and
// bounded counts keep a hundred cases fast while strings still grow with the size.
template <typename T>
rc::Gen<std::vector<T>> gen_few(rc::Gen<T> item, int max) {
  return rc::gen::exec([item, max] {
    return *rc::gen::container<std::vector<T>>(
        static_cast<std::size_t>(*rc::gen::inRange(0, max + 1)), item);
  });
}

rc::Gen<flat_value> gen_value() {
  return rc::gen::oneOf(
      rc::gen::map(rc::gen::weightedOneOf<std::uint64_t>(
                       {{3, rc::gen::arbitrary<std::uint64_t>()},
                        {1, rc::gen::element<std::uint64_t>(0, 9, 10, UINT64_MAX)}}),
                   [](std::uint64_t n) { return flat_value{n}; }),
      rc::gen::map(gen_ascii(), [](std::string s) { return flat_value{std::move(s)}; }),
      rc::gen::map(gen_few(gen_ascii(), 6), [](strings l) { return flat_value{std::move(l)}; }));
}

rc::Gen<fields_t> gen_fields() {
  return gen_few(rc::gen::pair(gen_ascii(), gen_value()), 8);
}

std::string write(const fields_t& fields) {
  flat_json_writer w;
  for (const auto& [k, v] : fields) {
    if (const auto* n = std::get_if<std::uint64_t>(&v))
      w.add(k, *n);
    else if (const auto* s = std::get_if<std::string>(&v))
      w.add(k, std::string_view(*s));
    else
      w.add(k, std::get<strings>(v));
  }
  return w.finish();
}

RC_GTEST_PROP(FlatJsonProps, WriterOutputParsesBackToTheSameFields, ()) {
  const auto fields = *gen_fields();
  const auto text = write(fields);
  RC_LOG() << "text: " << escape_bytes(text) << "\n";
  auto r = parse_flat_json(text);
  RC_ASSERT(r.has_value());
  RC_ASSERT(describe(r->fields) == describe(fields));
  RC_ASSERT(r->fields == fields);
}

// Every strict prefix of a valid object is an error (nothing reads a truncated body as
// something shorter), reported inside the prefix.
RC_GTEST_PROP(FlatJsonProps, TruncatedWriterOutputIsAnError, ()) {
  const auto text = write(*gen_fields());
  const auto cut = *rc::gen::inRange<std::size_t>(0, text.size());
  const auto prefix = std::string_view(text).substr(0, cut);
  auto r = parse_flat_json(prefix);
  RC_ASSERT(!r.has_value());
  RC_ASSERT(r.error().code == parse_errc::bad_field);
  RC_ASSERT(r.error().offset <= prefix.size());
}

// Total and bounded: any bytes give a value or an error with an offset inside the input.
// The parse runs on an exact-size copy so that a read past the end shows under ASan.
void check_total(std::string_view bytes) {
  std::vector<char> exact(bytes.begin(), bytes.end());
  std::string_view view(exact.data(), exact.size());
  auto r = parse_flat_json(view);
  if (!r) {
    RC_ASSERT(r.error().code == parse_errc::bad_field);
    RC_ASSERT(r.error().offset <= bytes.size());
  }
}

RC_GTEST_PROP(FlatJsonProps, ArbitraryBytesNeverCrash, ()) {
  const auto bytes = *rc::gen::container<std::string>(rc::gen::arbitrary<char>());
  check_total(bytes);
}

// Arbitrary bytes rarely look like an object; mutated writer output reaches deeper.
RC_GTEST_PROP(FlatJsonProps, MutatedWriterOutputNeverCrashes, ()) {
  auto text = write(*gen_fields());
  const auto edits = *rc::gen::inRange(1, 4);
  for (int i = 0; i < edits; ++i) {
    const auto at = *rc::gen::inRange<std::size_t>(0, text.size() + 1);
    const char c =
        *rc::gen::oneOf(rc::gen::arbitrary<char>(),
                        rc::gen::element('"', '\\', '{', '}', '[', ']', ',', ':', '0', 'u', ' '));
    switch (*rc::gen::inRange(0, 3)) {
      case 0:
        text.insert(at, 1, c);
        break;
      case 1:
        if (at < text.size()) text.erase(at, 1);
        break;
      default:
        if (at < text.size()) text[at] = c;
        break;
    }
  }
  RC_LOG() << "text: " << escape_bytes(text) << "\n";
  check_total(text);
}

// The heartbeat a role sends on its link, and restamp's copies of it: each decodes as a
// ccp.hb notification between the two, with the id it was stamped with.
TEST(LinkHeartbeat, RestampedCopiesDecodeWithTheirIds) {
  const auto agent = *address::parse("ccp://agent/10.0.0.7/agent");
  const auto proxy = *address::parse("ccp://proxy/10.0.1.1/p1");
  const std::string hb = link_heartbeat(agent, proxy);
  ASSERT_FALSE(hb.empty());
  for (std::uint64_t id : {std::uint64_t{1}, std::uint64_t{2}, std::uint64_t{0x0102030405060708}}) {
    auto m = decode(*restamp(hb, id));
    ASSERT_TRUE(m) << m.error().message();
    EXPECT_EQ(m->id, id);
    EXPECT_EQ(m->kind, msg_kind::notification);
    EXPECT_EQ(m->type, "ccp.hb");
    EXPECT_EQ(m->from, agent);
    EXPECT_EQ(m->to, proxy);
    EXPECT_TRUE(m->body.empty());
  }
}

}  // namespace
}  // namespace ccp::core
