#include "core/message.hpp"

#include <algorithm>
#include <array>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include <gtest/gtest.h>

#include "tests/core/generators.hpp"

namespace ccp::core {
namespace {

using namespace std::string_literals;
using test::raw_frame;
namespace wire = test::wire;

address addr(std::string_view s) {
  auto a = address::parse(s);
  EXPECT_TRUE(a.has_value()) << s;
  return a.value_or(address{});
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

// A raw frame that read_header accepts, of kind `k`.
raw_frame raw(msg_kind k) {
  raw_frame f;
  f.kind = static_cast<std::uint8_t>(k);
  if (k == msg_kind::response || k == msg_kind::error) f.correlation = 6;
  if (k == msg_kind::error) f.code = static_cast<std::uint16_t>(errc::timeout);
  return f;
}

std::string encoded(const message& m) {
  auto f = encode(m);
  EXPECT_TRUE(f.has_value()) << to_string(f.error());
  return f.value_or(std::string());
}

// The error of a frame that must not be read.
parse_error header_error(std::string_view frame) {
  test::exact_bytes bytes(frame);
  auto h = read_header(bytes.view());
  if (h) {
    ADD_FAILURE() << "read_header accepted the frame";
    return {};
  }
  auto d = decode(bytes.view());
  EXPECT_FALSE(d.has_value());
  if (!d) {
    EXPECT_EQ(d.error(), h.error()) << "decode and read_header disagree";
  }
  return h.error();
}

constexpr std::array<msg_kind, 4> all_kinds = {msg_kind::request, msg_kind::response,
                                               msg_kind::notification, msg_kind::error};

// ---- Round trip ----------------------------------------------------------------------------

TEST(MessageCodec, RoundTripsEachKind) {
  for (msg_kind k : all_kinds) {
    SCOPED_TRACE(to_string(k));
    message m = sample(k);
    std::string f = encoded(m);
    EXPECT_EQ(f.size(), encoded_size(m));
    auto d = decode(f);
    ASSERT_TRUE(d.has_value()) << d.error().message();
    EXPECT_EQ(*d, m);
  }
}

TEST(MessageCodec, RoundTripsGroupDestinationsAndEmptyFields) {
  for (std::string_view to : {"ccp://mgmt/any", "ccp://proxy/[2001:db8::1]/all",
                              "ccp://agent/h.example/any", "ccp://endpoint/[::]/x"}) {
    SCOPED_TRACE(to);
    message m = sample(msg_kind::notification);
    m.to = addr(to);
    m.body.clear();
    m.ttl_ms = 0;
    m.hops = 255;
    m.id = UINT64_MAX;
    auto d = decode(encoded(m));
    ASSERT_TRUE(d.has_value()) << d.error().message();
    EXPECT_EQ(*d, m);
  }
}

TEST(MessageCodec, WireLayoutMatchesTheTable) {
  message m = sample(msg_kind::error);
  m.id = 0x0102030405060708;
  m.correlation = 0x1112131415161718;
  m.ttl_ms = 0x21222324;
  m.hops = 9;
  m.code = errc::internal;
  std::string f = encoded(m);

  raw_frame r = raw(msg_kind::error);
  r.hops = 9;
  r.id = m.id;
  r.correlation = m.correlation;
  r.ttl_ms = m.ttl_ms;
  r.code = 10;
  r.text = m.text;
  r.body = m.body;
  EXPECT_EQ(f, r.bytes());

  // A few bytes by hand, so that the builder above is checked too.
  EXPECT_EQ(static_cast<unsigned char>(f[0]), 0xCC);
  EXPECT_EQ(f[1], 1);
  EXPECT_EQ(f[2], 4);
  EXPECT_EQ(f[3], 9);
  EXPECT_EQ(f[4], static_cast<char>(f.size()));
  EXPECT_EQ(f.substr(8, 8), "\x08\x07\x06\x05\x04\x03\x02\x01");
  EXPECT_EQ(f.substr(16, 8), "\x18\x17\x16\x15\x14\x13\x12\x11");
  EXPECT_EQ(f.substr(24, 4), "\x24\x23\x22\x21");
  EXPECT_EQ(f.substr(28, 2), std::string("\x0a\x00", 2));
  EXPECT_EQ(f.substr(30, 2), std::string("\x17\x00", 2));  // from: 23 bytes
  EXPECT_EQ(f.substr(44, 23), "ccp://agent/10.0.0.1/a1");
  EXPECT_EQ(f.substr(f.size() - m.body.size()), m.body);
}

TEST(MessageCodec, EncodeAppendsToOut) {
  message m = sample(msg_kind::request);
  std::string out = "earlier frame";
  ASSERT_TRUE(encode(m, out).has_value());
  EXPECT_EQ(out, "earlier frame" + encoded(m));
}

TEST(ReadHeader, FieldsMatchTheMessage) {
  for (msg_kind k : all_kinds) {
    SCOPED_TRACE(to_string(k));
    message m = sample(k);
    std::string f = encoded(m);
    auto h = read_header(f);
    ASSERT_TRUE(h.has_value()) << h.error().message();
    EXPECT_EQ(h->kind, m.kind);
    EXPECT_EQ(h->hops, m.hops);
    EXPECT_EQ(h->id, m.id);
    EXPECT_EQ(h->correlation, m.correlation);
    EXPECT_EQ(h->ttl_ms, m.ttl_ms);
    EXPECT_EQ(h->code, m.code);
    EXPECT_TRUE(address_equal::same(h->from, m.from.view()));
    EXPECT_TRUE(address_equal::same(h->to, m.to.view()));
    EXPECT_EQ(h->type, m.type);
    EXPECT_EQ(h->text, m.text);
    EXPECT_EQ(h->body, m.body);
  }
}

TEST(ReadHeader, ViewsPointIntoTheFrame) {
  message m = sample(msg_kind::error);
  m.to = addr("ccp://endpoint/web.example/billing-1");
  std::string f = encoded(m);
  auto h = read_header(f);
  ASSERT_TRUE(h.has_value());
  const char* begin = f.data();
  const char* end = f.data() + f.size();
  auto inside = [&](std::string_view v) {
    return !v.empty() && v.data() >= begin && v.data() + v.size() <= end;
  };
  EXPECT_TRUE(inside(h->from.host));
  EXPECT_TRUE(inside(h->from.id));
  EXPECT_TRUE(inside(h->to.host));
  EXPECT_TRUE(inside(h->to.id));
  EXPECT_TRUE(inside(h->type));
  EXPECT_TRUE(inside(h->text));
  EXPECT_TRUE(inside(h->body));
  // At the offsets the table gives: no copy was made.
  EXPECT_EQ(h->from.host.data(), begin + wire::header + 12);
  std::size_t type_at = wire::header + m.from.str().size() + m.to.str().size();
  EXPECT_EQ(h->type.data(), begin + type_at);
  EXPECT_EQ(h->text.data(), begin + type_at + m.type.size());
  EXPECT_EQ(h->body.data(), end - m.body.size());
}

// ---- Exact errors --------------------------------------------------------------------------

struct frame_case {
  std::string name;
  std::string frame;
  parse_error expected;
};

void PrintTo(const frame_case& c, std::ostream* os) {
  *os << c.name;
}

class ReadHeaderError : public testing::TestWithParam<frame_case> {};

TEST_P(ReadHeaderError, ReportsCodeOffsetAndField) {
  EXPECT_EQ(header_error(GetParam().frame), GetParam().expected);
}

std::string name_of(const testing::TestParamInfo<frame_case>& info) {
  return info.param.name;
}

template <typename F>
std::string with(msg_kind k, F&& change) {
  raw_frame r = raw(k);
  change(r);
  return r.bytes();
}

std::vector<frame_case> header_cases() {
  const std::size_t size = raw(msg_kind::request).bytes().size();
  const std::size_t to_at = wire::header + 23;
  const std::size_t type_at = to_at + 18;
  std::vector<frame_case> c = {
      {"Empty", "", {parse_errc::empty, 0, "frame"}},
      {"OneBadByte", "\x00"s, {parse_errc::bad_magic, 0, "magic"}},
      {"MagicOnly", "\xCC", {parse_errc::truncated, 1, "version"}},
      {"HeaderCut", "\xCC\x01" + std::string(10, '\0'), {parse_errc::truncated, 12, "header"}},
      {"MagicZero",
       with(msg_kind::request, [](raw_frame& r) { r.magic = 0; }),
       {parse_errc::bad_magic, 0, "magic"}},
      {"MagicCD",
       with(msg_kind::request, [](raw_frame& r) { r.magic = 0xCD; }),
       {parse_errc::bad_magic, 0, "magic"}},
      {"Version0",
       with(msg_kind::request, [](raw_frame& r) { r.version = 0; }),
       {parse_errc::bad_version, 1, "version"}},
      {"Version2",
       with(msg_kind::request, [](raw_frame& r) { r.version = 2; }),
       {parse_errc::bad_version, 1, "version"}},
      {"Kind0",
       with(msg_kind::request, [](raw_frame& r) { r.kind = 0; }),
       {parse_errc::bad_kind, 2, "kind"}},
      {"Kind5",
       with(msg_kind::request, [](raw_frame& r) { r.kind = 5; }),
       {parse_errc::bad_kind, 2, "kind"}},
      {"Kind255",
       with(msg_kind::request, [](raw_frame& r) { r.kind = 255; }),
       {parse_errc::bad_kind, 2, "kind"}},
      {"LengthOverMax",
       with(msg_kind::request,
            [](raw_frame& r) { r.length = static_cast<std::uint32_t>(max_frame_bytes + 1); }),
       {parse_errc::too_large, 4, "length"}},
      {"LengthAllOnes",
       with(msg_kind::request, [](raw_frame& r) { r.length = UINT32_MAX; }),
       {parse_errc::too_large, 4, "length"}},
      {"LengthOverSize",
       with(msg_kind::request,
            [size](raw_frame& r) { r.length = static_cast<std::uint32_t>(size + 1); }),
       {parse_errc::truncated, size, "length"}},
      {"LengthUnderSize",
       with(msg_kind::request,
            [size](raw_frame& r) { r.length = static_cast<std::uint32_t>(size - 1); }),
       {parse_errc::trailing_bytes, size - 1, "length"}},
      {"LengthZero",
       with(msg_kind::request, [](raw_frame& r) { r.length = 0; }),
       {parse_errc::trailing_bytes, 0, "length"}},
      {"TrailingByte",
       raw(msg_kind::request).bytes() + "x",
       {parse_errc::trailing_bytes, size, "length"}},
      {"IdZero",
       with(msg_kind::request, [](raw_frame& r) { r.id = 0; }),
       {parse_errc::bad_field, 8, "id"}},
      {"CorrelationOnRequest",
       with(msg_kind::request, [](raw_frame& r) { r.correlation = 5; }),
       {parse_errc::bad_field, 16, "correlation"}},
      {"CorrelationOnNotification",
       with(msg_kind::notification, [](raw_frame& r) { r.correlation = 1; }),
       {parse_errc::bad_field, 16, "correlation"}},
      {"NoCorrelationOnResponse",
       with(msg_kind::response, [](raw_frame& r) { r.correlation = 0; }),
       {parse_errc::bad_field, 16, "correlation"}},
      {"NoCorrelationOnError",
       with(msg_kind::error, [](raw_frame& r) { r.correlation = 0; }),
       {parse_errc::bad_field, 16, "correlation"}},
      {"CodeOnRequest",
       with(msg_kind::request, [](raw_frame& r) { r.code = 1; }),
       {parse_errc::bad_field, 28, "code"}},
      {"CodeOnResponse",
       with(msg_kind::response, [](raw_frame& r) { r.code = 3; }),
       {parse_errc::bad_field, 28, "code"}},
      {"NoCodeOnError",
       with(msg_kind::error, [](raw_frame& r) { r.code = 0; }),
       {parse_errc::bad_field, 28, "code"}},
      {"CodeOverMax",
       with(msg_kind::error,
            [](raw_frame& r) { r.code = static_cast<std::uint16_t>(errc_max + 1); }),
       {parse_errc::bad_field, 28, "code"}},
      {"CodeAllOnes",
       with(msg_kind::error, [](raw_frame& r) { r.code = 0xFFFF; }),
       {parse_errc::bad_field, 28, "code"}},
      {"Flags1",
       with(msg_kind::request, [](raw_frame& r) { r.flags = 1; }),
       {parse_errc::bad_field, 35, "flags"}},
      {"Flags80",
       with(msg_kind::request, [](raw_frame& r) { r.flags = 0x80; }),
       {parse_errc::bad_field, 35, "flags"}},
      {"ReservedLow",
       with(msg_kind::request, [](raw_frame& r) { r.reserved = 1; }),
       {parse_errc::bad_field, 38, "reserved"}},
      {"ReservedHigh",
       with(msg_kind::request, [](raw_frame& r) { r.reserved = 0x100; }),
       {parse_errc::bad_field, 38, "reserved"}},
      {"BodyLenOverFrame",
       with(msg_kind::request, [](raw_frame& r) { r.body_len = 1; }),
       {parse_errc::truncated, size, "lengths"}},
      {"FromLenOverFrame",
       with(msg_kind::request, [](raw_frame& r) { r.from_len = 24; }),
       {parse_errc::truncated, size, "lengths"}},
      {"AllLengthsMax",
       with(msg_kind::request,
            [](raw_frame& r) {
              r.from_len = r.to_len = r.text_len = 0xFFFF;
              r.type_len = 0xFF;
              r.body_len = UINT32_MAX;
            }),
       {parse_errc::truncated, size, "lengths"}},
      {"LengthsUnderFrame",
       with(msg_kind::request,
            [](raw_frame& r) {
              r.body = "abcd";
              r.body_len = 3;
            }),
       {parse_errc::trailing_bytes, size + 3, "lengths"}},
      {"TypeLenZero",
       with(msg_kind::request, [](raw_frame& r) { r.type_len = 0; }),
       {parse_errc::trailing_bytes, size - 4, "lengths"}},
      {"FromGroup",
       with(msg_kind::request, [](raw_frame& r) { r.from = "ccp://agent/all"; }),
       {parse_errc::bad_field, wire::header, "from"}},
      {"FromHostGroup",
       with(msg_kind::request, [](raw_frame& r) { r.from = "ccp://agent/10.0.0.1/all"; }),
       {parse_errc::bad_field, wire::header, "from"}},
      {"FromEmpty",
       with(msg_kind::request, [](raw_frame& r) { r.from = ""; }),
       {parse_errc::empty, wire::header, "from"}},
      {"FromUpperCase",
       with(msg_kind::request, [](raw_frame& r) { r.from = "ccp://agent/Example/a1"; }),
       {parse_errc::bad_host, wire::header + 12, "from"}},
      {"FromSpace",
       with(msg_kind::request, [](raw_frame& r) { r.from = "ccp://agent/h/a1 "; }),
       {parse_errc::forbidden_char, wire::header + 16, "from"}},
      {"ToUpperHex",
       with(msg_kind::request, [](raw_frame& r) { r.to = "ccp://endpoint/[2001:DB8::1]/x"; }),
       {parse_errc::bad_host, to_at + 15, "to"}},
      {"ToNotRfc5952",
       with(msg_kind::request,
            [](raw_frame& r) { r.to = "ccp://endpoint/[2001:db8:0:0:0:0:0:1]/x"; }),
       {parse_errc::bad_host, to_at + 15, "to"}},
      {"ToUpperDns",
       with(msg_kind::request, [](raw_frame& r) { r.to = "ccp://endpoint/wEb/all"; }),
       {parse_errc::bad_host, to_at + 16, "to"}},
      {"ToBadType",
       with(msg_kind::request, [](raw_frame& r) { r.to = "ccp://nope/all"; }),
       {parse_errc::bad_type, to_at + 6, "to"}},
      {"ToEmpty",
       with(msg_kind::request, [](raw_frame& r) { r.to = ""; }),
       {parse_errc::empty, to_at, "to"}},
      {"ToCutShort",  // "ccp://endpoint" then "/allping" as the type: the address fails first
       with(msg_kind::request,
            [](raw_frame& r) {
              r.to_len = 14;
              r.type_len = 8;
            }),
       {parse_errc::missing_segment, to_at + 14, "to"}},
      {"TypeUpperCase",
       with(msg_kind::request, [](raw_frame& r) { r.type = "Ping"; }),
       {parse_errc::bad_field, type_at, "type"}},
      {"TypeSpace",
       with(msg_kind::request, [](raw_frame& r) { r.type = "pi ng"; }),
       {parse_errc::bad_field, type_at, "type"}},
      {"TypeEmpty",
       with(msg_kind::request, [](raw_frame& r) { r.type = ""; }),
       {parse_errc::bad_field, type_at, "type"}},
      {"Type65",
       with(msg_kind::request, [](raw_frame& r) { r.type = std::string(65, 't'); }),
       {parse_errc::bad_field, type_at, "type"}},
      {"Text1025",
       with(msg_kind::error, [](raw_frame& r) { r.text = std::string(max_text_bytes + 1, 't'); }),
       {parse_errc::too_long, 36, "text"}},
  };
  return c;
}

INSTANTIATE_TEST_SUITE_P(Table, ReadHeaderError, testing::ValuesIn(header_cases()), name_of);

TEST(ReadHeader, AcceptsFieldsAtTheirLimits) {
  for (std::size_t n : {max_text_bytes - 1, max_text_bytes}) {
    SCOPED_TRACE(n);
    std::string f = with(msg_kind::error, [n](raw_frame& r) { r.text = std::string(n, 't'); });
    auto h = read_header(f);
    ASSERT_TRUE(h.has_value()) << h.error().message();
    EXPECT_EQ(h->text.size(), n);
  }
  for (std::size_t n : {max_type_bytes - 1, max_type_bytes}) {
    SCOPED_TRACE(n);
    std::string f = with(msg_kind::request, [n](raw_frame& r) { r.type = std::string(n, 't'); });
    auto h = read_header(f);
    ASSERT_TRUE(h.has_value()) << h.error().message();
    EXPECT_EQ(h->type.size(), n);
  }
  std::string f = with(msg_kind::error, [](raw_frame& r) { r.code = errc_max; });
  EXPECT_TRUE(read_header(f).has_value());
}

TEST(ReadHeader, EveryPrefixOfAValidFrameIsTruncated) {
  message m = sample(msg_kind::error);
  std::string f = encoded(m);
  ASSERT_TRUE(read_header(f).has_value());
  for (std::size_t n = 0; n < f.size(); ++n) {
    SCOPED_TRACE(n);
    parse_error expected;
    if (n == 0) {
      expected = {parse_errc::empty, 0, "frame"};
    } else if (n == 1) {
      expected = {parse_errc::truncated, 1, "version"};
    } else if (n < header_bytes) {
      expected = {parse_errc::truncated, n, "header"};
    } else {
      expected = {parse_errc::truncated, n, "length"};
    }
    EXPECT_EQ(header_error(std::string_view(f).substr(0, n)), expected);
  }
}

// ---- The frame size limit ------------------------------------------------------------------

// A message whose frame is exactly `size` bytes, by padding its body.
message of_size(std::size_t size) {
  message m = sample(msg_kind::notification);
  m.body.clear();
  m.body.assign(size - encoded_size(m), 'b');
  EXPECT_EQ(encoded_size(m), size);
  return m;
}

TEST(FrameLimit, MaxFrameBytesIsAcceptedAndOneMoreIsNot) {
  for (std::size_t size : {max_frame_bytes - 1, max_frame_bytes}) {
    SCOPED_TRACE(size);
    message m = of_size(size);
    std::string f = encoded(m);
    ASSERT_EQ(f.size(), size);
    auto d = decode(f);
    ASSERT_TRUE(d.has_value()) << d.error().message();
    EXPECT_EQ(d->body.size(), m.body.size());
  }

  message big = of_size(max_frame_bytes + 1);
  std::string out = "keep";
  EXPECT_EQ(encode(big, out), std::unexpected(errc::too_large));
  EXPECT_EQ(out, "keep");
  EXPECT_EQ(encode(big), std::unexpected(errc::too_large));

  // The same frame written by hand: rejected on its size before anything else is read.
  raw_frame r;
  r.kind = static_cast<std::uint8_t>(msg_kind::notification);
  r.id = big.id;
  r.body = big.body;
  r.from = big.from.str();
  r.to = big.to.str();
  r.type = big.type;
  std::string f = r.bytes();
  ASSERT_EQ(f.size(), max_frame_bytes + 1);
  EXPECT_EQ(header_error(f), (parse_error{parse_errc::too_large, max_frame_bytes, "frame"}));
}

// ---- Encode errors -------------------------------------------------------------------------

struct encode_case {
  std::string name;
  std::function<void(message&)> change;
  errc expected;
};

void PrintTo(const encode_case& c, std::ostream* os) {
  *os << c.name;
}

class EncodeError : public testing::TestWithParam<encode_case> {};

std::string encode_name(const testing::TestParamInfo<encode_case>& i) {
  return i.param.name;
}

TEST_P(EncodeError, LeavesOutUnchanged) {
  const encode_case& c = GetParam();
  for (msg_kind k : all_kinds) {
    SCOPED_TRACE(to_string(k));
    message m = sample(k);
    c.change(m);
    std::string out = "earlier frame";
    EXPECT_EQ(encode(m, out), std::unexpected(c.expected));
    EXPECT_EQ(out, "earlier frame");
    EXPECT_EQ(encode(m), std::unexpected(c.expected));
  }
}

INSTANTIATE_TEST_SUITE_P(
    Table, EncodeError,
    testing::ValuesIn(std::vector<encode_case>{
        {"IdZero", [](message& m) { m.id = 0; }, errc::bad_request},
        {"TypeEmpty", [](message& m) { m.type.clear(); }, errc::bad_request},
        {"TypeUpperCase", [](message& m) { m.type = "Ping"; }, errc::bad_request},
        {"Type65", [](message& m) { m.type.assign(65, 't'); }, errc::bad_request},
        {"Text1025", [](message& m) { m.text.assign(max_text_bytes + 1, 't'); }, errc::bad_request},
        {"FromGroup", [](message& m) { m.from = address::group(role::agent, scope::all); },
         errc::bad_request},
        {"FromHostGroup",
         [](message& m) {
           m.from = *address::host_group(role::agent, "10.0.0.1", scope::host_any);
         },
         errc::bad_request},
        {"KindZero", [](message& m) { m.kind = static_cast<msg_kind>(0); }, errc::bad_request},
        {"KindFive", [](message& m) { m.kind = static_cast<msg_kind>(5); }, errc::bad_request},
        {"CodeOverMax", [](message& m) { m.code = static_cast<errc>(errc_max + 1); },
         errc::bad_request},
        {"TooLarge", [](message& m) { m.body.assign(max_frame_bytes, 'b'); }, errc::too_large},
    }),
    encode_name);

TEST(EncodeRules, KindCorrelationAndCode) {
  struct row {
    msg_kind kind;
    std::uint64_t correlation;
    errc code;
  };
  for (const row& r : std::vector<row>{
           {msg_kind::request, 5, errc{}},
           {msg_kind::notification, 5, errc{}},
           {msg_kind::response, 0, errc{}},
           {msg_kind::error, 0, errc::timeout},
           {msg_kind::request, 0, errc::timeout},
           {msg_kind::response, 5, errc::timeout},
           {msg_kind::notification, 0, errc::internal},
           {msg_kind::error, 5, errc{}},
       }) {
    SCOPED_TRACE(std::string(to_string(r.kind)) + " " + std::to_string(r.correlation) + " " +
                 std::to_string(static_cast<int>(r.code)));
    message m = sample(msg_kind::request);
    m.kind = r.kind;
    m.correlation = r.correlation;
    m.code = r.code;
    std::string out;
    EXPECT_EQ(encode(m, out), std::unexpected(errc::bad_request));
    EXPECT_TRUE(out.empty());
  }
}

TEST(EncodeRules, LimitsMinusOneAndAtLimitEncode) {
  message m = sample(msg_kind::error);
  m.text.assign(max_text_bytes, 't');
  EXPECT_TRUE(encode(m).has_value());
  m.text.assign(max_text_bytes - 1, 't');
  EXPECT_TRUE(encode(m).has_value());
  m.type.assign(max_type_bytes, 't');
  EXPECT_TRUE(encode(m).has_value());
  m.code = static_cast<errc>(errc_max);
  EXPECT_TRUE(encode(m).has_value());
}

// ---- Hops ----------------------------------------------------------------------------------

TEST(SetHops, ChangesOnlyByteThree) {
  std::string f = encoded(sample(msg_kind::request));
  for (int hops : {0, 1, 3, 254, 255}) {
    std::string g = f;
    set_hops(g, static_cast<std::uint8_t>(hops));
    ASSERT_EQ(g.size(), f.size());
    for (std::size_t i = 0; i < f.size(); ++i) {
      if (i != wire::hops) {
        EXPECT_EQ(g[i], f[i]) << "byte " << i;
      }
    }
    EXPECT_EQ(static_cast<unsigned char>(g[wire::hops]), hops);
    auto h = read_header(g);
    ASSERT_TRUE(h.has_value());
    EXPECT_EQ(h->hops, hops);
  }
}

TEST(SetHops, ShortBuffersAreLeftAlone) {
  for (std::string s : {""s, "a"s, "abc"s}) {
    std::string before = s;
    set_hops(s, 7);
    EXPECT_EQ(s, before);
  }
  std::string four = "abcd";
  set_hops(four, 7);
  EXPECT_EQ(four, "abc\x07");
}

// ---- Names and error codes -----------------------------------------------------------------

TEST(MessageNames, KindsAndTypes) {
  EXPECT_EQ(to_string(msg_kind::request), "request");
  EXPECT_EQ(to_string(msg_kind::response), "response");
  EXPECT_EQ(to_string(msg_kind::notification), "notification");
  EXPECT_EQ(to_string(msg_kind::error), "error");
  for (std::string_view ok : {"a", "ping", "config.push", "a-b_c.d", "0", "x9"})
    EXPECT_TRUE(valid_type(ok)) << ok;
  EXPECT_TRUE(valid_type(std::string(max_type_bytes - 1, 'a')));
  EXPECT_TRUE(valid_type(std::string(max_type_bytes, 'a')));
  EXPECT_FALSE(valid_type(std::string(max_type_bytes + 1, 'a')));
  for (std::string_view bad : {"", "Ping", "a b", "a/b", "a:b", "\xc3\xa9", "a\n"})
    EXPECT_FALSE(valid_type(bad)) << bad;
}

TEST(ErrorCodes, ParseCategory) {
  std::error_code ec = parse_errc::bad_host;
  EXPECT_EQ(ec, make_error_code(parse_errc::bad_host));
  EXPECT_STREQ(ec.category().name(), "ccp.parse");
  EXPECT_EQ(&ec.category(), &parse_category());
  EXPECT_EQ(ec.value(), static_cast<int>(parse_errc::bad_host));
  EXPECT_EQ(ec.message(), "bad host (expected IPv4, [IPv6] or an RFC 1123 name)");
  EXPECT_NE(ec, std::error_code(errc::bad_request));  // same value, other category
  EXPECT_TRUE(static_cast<bool>(ec));

  std::vector<std::string> seen;
  for (int v = static_cast<int>(parse_errc::empty);
       v <= static_cast<int>(parse_errc::trailing_bytes); ++v) {
    std::string msg = make_error_code(static_cast<parse_errc>(v)).message();
    EXPECT_EQ(msg, to_string(static_cast<parse_errc>(v)));
    EXPECT_NE(msg, "unknown parse error") << v;
    EXPECT_EQ(std::count(seen.begin(), seen.end(), msg), 0) << msg;
    seen.push_back(msg);
  }
  EXPECT_EQ(to_string(static_cast<parse_errc>(0)), "unknown parse error");
}

TEST(ErrorCodes, MessageCategory) {
  std::error_code ec = errc::timeout;
  EXPECT_STREQ(ec.category().name(), "ccp");
  EXPECT_EQ(&ec.category(), &message_category());
  EXPECT_EQ(ec.message(), "timeout");
  EXPECT_EQ(ec, make_error_code(errc::timeout));
  const std::vector<std::string_view> names = {
      "unreachable", "no_handler", "hop_limit", "too_large",   "shutting_down", "internal",
      "timeout",     "overloaded", "rejected",  "bad_request", "partial"};
  EXPECT_EQ(names.size(), std::size_t{errc_max});
  for (std::uint16_t v = 1; v <= errc_max; ++v) {
    std::string_view name = to_string(static_cast<errc>(v));
    EXPECT_EQ(std::count(names.begin(), names.end(), name), 1) << v;
    EXPECT_EQ(make_error_code(static_cast<errc>(v)).message(), name);
  }
  EXPECT_EQ(to_string(static_cast<errc>(0)), "unknown");
  EXPECT_EQ(to_string(static_cast<errc>(errc_max + 1)), "unknown");
  EXPECT_EQ(static_cast<int>(errc::unreachable), 1);  // wire values are fixed
  EXPECT_EQ(static_cast<int>(errc::internal), 10);
  EXPECT_EQ(static_cast<int>(errc::partial), 11);
}

TEST(ErrorCodes, ParseErrorMessage) {
  EXPECT_EQ((parse_error{parse_errc::bad_host, 15, "to"}).message(),
            "to: bad host (expected IPv4, [IPv6] or an RFC 1123 name) at offset 15");
  EXPECT_EQ((parse_error{parse_errc::empty, 0, {}}).message(), "empty input at offset 0");
  EXPECT_EQ((parse_error{parse_errc::truncated, 44, "length"}).message(),
            "length: truncated frame at offset 44");
}

}  // namespace
}  // namespace ccp::core
