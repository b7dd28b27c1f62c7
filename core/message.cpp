#include "core/message.hpp"

#include <array>
#include <bit>
#include <cassert>
#include <cstring>

namespace ccp::core {
namespace {

// Field offsets of the fixed header; see the table in message.hpp.
enum : std::size_t {
  off_magic = 0,
  off_version = 1,
  off_kind = 2,
  off_hops = 3,
  off_length = 4,
  off_id = 8,
  off_correlation = 16,
  off_ttl = 24,
  off_code = 28,
  off_from_len = 30,
  off_to_len = 32,
  off_type_len = 34,
  off_flags = 35,
  off_text_len = 36,
  off_reserved = 38,
  off_body_len = 40,
};
static_assert(off_body_len + 4 == header_bytes);
static_assert(off_hops == 3);  // set_hops in message.hpp

template <typename T>
T load(const char* p) noexcept {
  // Little-endian load with no alignment assumption. On a little-endian host one memcpy
  // (a single unaligned load): GCC 12 does not merge the byte loop below into one.
  T v = 0;
  if constexpr (std::endian::native == std::endian::little) {
    std::memcpy(&v, p, sizeof(T));
  } else {
    for (std::size_t i = 0; i < sizeof(T); ++i)
      v |= static_cast<T>(static_cast<T>(static_cast<unsigned char>(p[i])) << (8 * i));
  }
  return v;
}

template <typename T>
void store(char* p, T v) noexcept {
  for (std::size_t i = 0; i < sizeof(T); ++i)
    p[i] = static_cast<char>((v >> (8 * i)) & 0xff);
}

std::unexpected<parse_error> fail(parse_errc c, std::size_t off, std::string_view field) {
  return std::unexpected(parse_error{c, off, field});
}

bool reply_kind(msg_kind k) {
  return k == msg_kind::response || k == msg_kind::error;
}

// Whether `k` is in the closed set read_header accepts (the enum can hold any byte).
bool known_kind(msg_kind k) {
  return k >= msg_kind::request && k <= msg_kind::error;
}

}  // namespace

std::string_view to_string(msg_kind k) noexcept {
  switch (k) {
    case msg_kind::request:
      return "request";
    case msg_kind::response:
      return "response";
    case msg_kind::notification:
      return "notification";
    case msg_kind::error:
      return "error";
  }
  return "?";
}

bool valid_type(std::string_view s) noexcept {
  // One table lookup per byte: [a-z0-9_.-].
  static constexpr std::array<bool, 256> type_char = [] {
    std::array<bool, 256> t{};
    for (int c = 0; c < 256; ++c)
      t[static_cast<std::size_t>(c)] =
          (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-';
    return t;
  }();
  if (s.empty() || s.size() > max_type_bytes) return false;
  auto is = [&s](std::size_t i) { return type_char[static_cast<unsigned char>(s[i])]; };
  // Four bytes a step, and-ed as a tree: half the loop overhead and a shorter chain of
  // dependent ands than one byte a step (every forwarded frame's type passes here).
  bool ok = true;
  std::size_t i = 0;
  for (; i + 4 <= s.size(); i += 4)
    ok &= (is(i) & is(i + 1)) & (is(i + 2) & is(i + 3));
  for (; i < s.size(); ++i)
    ok &= is(i);
  return ok;
}

namespace {

// The frame size the header's field lengths add up to, summed in 64 bits so that no
// overflow can hide a short frame.
std::uint64_t declared_size(const char* p) noexcept {
  return std::uint64_t{header_bytes} + load<std::uint16_t>(p + off_from_len) +
         load<std::uint16_t>(p + off_to_len) + static_cast<unsigned char>(p[off_type_len]) +
         load<std::uint16_t>(p + off_text_len) + load<std::uint32_t>(p + off_body_len);
}

// read_header's checks of the fixed header and of the lengths, merged into a few compares
// that do not say which one failed: the forwarding path's case, every frame. Accepts
// exactly what fixed_header_error finds nothing wrong with (a property test compares
// them), and a frame it refuses gets its error from there.
[[gnu::always_inline]] inline bool plain_fixed_header(const char* p, std::size_t size) noexcept {
  if (size < header_bytes || size > max_frame_bytes) return false;
  // Per kind, which of correlation (bit 0) and code (bit 1) must be non-zero; 0xff, which no
  // pair of bits equals, for a kind byte outside the closed set.
  static constexpr std::array<std::uint8_t, 256> nonzero = [] {
    std::array<std::uint8_t, 256> t{};
    t.fill(0xff);
    t[static_cast<std::size_t>(msg_kind::request)] = 0;
    t[static_cast<std::size_t>(msg_kind::response)] = 1;
    t[static_cast<std::size_t>(msg_kind::notification)] = 0;
    t[static_cast<std::size_t>(msg_kind::error)] = 3;
    return t;
  }();
  const auto code = load<std::uint16_t>(p + off_code);
  const unsigned have = static_cast<unsigned>(load<std::uint64_t>(p + off_correlation) != 0) |
                        static_cast<unsigned>(code != 0) << 1;
  // Bytes 32-39: to_len, type_len, flags, text_len, reserved; flags and reserved must be 0.
  const auto w = load<std::uint64_t>(p + off_to_len);
  constexpr std::uint64_t flags_and_reserved = 0xffff'0000'ff00'0000;
  const std::uint64_t total = declared_size(p);
  return load<std::uint16_t>(p + off_magic) == (wire_magic | wire_version << 8) &&
         nonzero[static_cast<unsigned char>(p[off_kind])] == have && code <= errc_max &&
         load<std::uint32_t>(p + off_length) == size && load<std::uint64_t>(p + off_id) != 0 &&
         (w & flags_and_reserved) == 0 && total == size &&
         load<std::uint16_t>(p + off_text_len) <= max_text_bytes;
}

}  // namespace

namespace message_detail {

bool fixed_header_plain(std::string_view f) noexcept {
  return plain_fixed_header(f.data(), f.size());
}

std::optional<parse_error> fixed_header_error(std::string_view f) noexcept {
  if (f.empty()) return parse_error{parse_errc::empty, 0, "frame"};
  if (f.size() > max_frame_bytes)
    return parse_error{parse_errc::too_large, max_frame_bytes, "frame"};
  const char* p = f.data();
  if (static_cast<unsigned char>(p[off_magic]) != wire_magic)
    return parse_error{parse_errc::bad_magic, off_magic, "magic"};
  if (f.size() < 2) return parse_error{parse_errc::truncated, f.size(), "version"};
  if (static_cast<unsigned char>(p[off_version]) != wire_version)
    return parse_error{parse_errc::bad_version, off_version, "version"};
  if (f.size() < header_bytes) return parse_error{parse_errc::truncated, f.size(), "header"};

  auto k = static_cast<unsigned char>(p[off_kind]);
  if (k < 1 || k > 4) return parse_error{parse_errc::bad_kind, off_kind, "kind"};
  auto kind = static_cast<msg_kind>(k);

  auto length = load<std::uint32_t>(p + off_length);
  if (length > max_frame_bytes) return parse_error{parse_errc::too_large, off_length, "length"};
  if (length > f.size()) return parse_error{parse_errc::truncated, f.size(), "length"};
  if (length < f.size()) return parse_error{parse_errc::trailing_bytes, length, "length"};

  if (load<std::uint64_t>(p + off_id) == 0) return parse_error{parse_errc::bad_field, off_id, "id"};
  if (reply_kind(kind) != (load<std::uint64_t>(p + off_correlation) != 0))
    return parse_error{parse_errc::bad_field, off_correlation, "correlation"};
  auto code = load<std::uint16_t>(p + off_code);
  if ((kind == msg_kind::error) != (code != 0) || code > errc_max)
    return parse_error{parse_errc::bad_field, off_code, "code"};
  if (p[off_flags] != 0) return parse_error{parse_errc::bad_field, off_flags, "flags"};
  if (load<std::uint16_t>(p + off_reserved) != 0)
    return parse_error{parse_errc::bad_field, off_reserved, "reserved"};

  const std::uint64_t total = declared_size(p);
  if (total > length) return parse_error{parse_errc::truncated, length, "lengths"};
  if (total < length) return parse_error{parse_errc::trailing_bytes, total, "lengths"};
  if (load<std::uint16_t>(p + off_text_len) > max_text_bytes)
    return parse_error{parse_errc::too_long, off_text_len, "text"};
  return std::nullopt;
}

}  // namespace message_detail

std::expected<frame_header, parse_error> read_header(std::string_view f, defer d) noexcept {
  const char* p = f.data();
  if (!plain_fixed_header(p, f.size())) [[unlikely]] {
    // Refused only for a reason fixed_header_error names; the fallback is for a bug.
    const auto e = message_detail::fixed_header_error(f);
    assert(e);
    return std::unexpected(e.value_or(parse_error{parse_errc::bad_field, 0, "header"}));
  }
  const auto kind = static_cast<msg_kind>(p[off_kind]);
  const auto id = load<std::uint64_t>(p + off_id);
  const auto correlation = load<std::uint64_t>(p + off_correlation);
  const auto code = load<std::uint16_t>(p + off_code);

  // Variable part.
  const std::size_t from_len = load<std::uint16_t>(p + off_from_len);
  const std::size_t to_len = load<std::uint16_t>(p + off_to_len);
  const std::size_t type_len = static_cast<unsigned char>(p[off_type_len]);
  const std::size_t text_len = load<std::uint16_t>(p + off_text_len);
  const std::size_t body_len = load<std::uint32_t>(p + off_body_len);

  // The lengths sum to f.size(), so every field lies inside the frame: views are made
  // directly, without substr's bounds check (an out-of-line call, as it may throw).
  auto field = [p](std::size_t at, std::size_t n) { return std::string_view(p + at, n); };
  std::size_t pos = header_bytes;
  const std::string_view from_text = field(pos, from_len);
  address_view from{};
  if (d == defer::nothing) {
    auto v = parse_address_view(from_text, true);
    if (!v) return fail(v.error().code, pos + v.error().offset, "from");
    if (v->form != scope::one) return fail(parse_errc::bad_field, pos, "from");
    from = *v;
  }
  pos += from_len;
  const std::string_view to_text = field(pos, to_len);
  address_view to{};
  const bool to_deferred = d == defer::from_and_to || d == defer::forwarding;
  if (!to_deferred) {
    auto v = parse_address_view(to_text, true);
    if (!v) return fail(v.error().code, pos + v.error().offset, "to");
    to = *v;
  }
  pos += to_len;
  auto type = field(pos, type_len);
  if (d != defer::forwarding && !valid_type(type)) return fail(parse_errc::bad_field, pos, "type");
  pos += type_len;
  auto text = field(pos, text_len);
  pos += text_len;
  // Built in place in the result, in the declaration order of frame_header's fields: a
  // header filled in field by field was zeroed and then copied into the result, both with
  // `rep` string instructions that cost a quarter of read_header.
  return std::expected<frame_header, parse_error>(
      std::in_place, kind, static_cast<std::uint8_t>(p[off_hops]), id, correlation,
      load<std::uint32_t>(p + off_ttl), static_cast<errc>(code), from, to, type, text,
      field(pos, body_len), from_text, to_text, d == defer::nothing, !to_deferred,
      d != defer::forwarding);
}

bool parse_deferred_from(frame_header& h) noexcept {
  auto v = parse_address_view(h.from_text, true);
  if (!v || v->form != scope::one) return false;
  h.from = *v;
  h.from_checked = true;
  return true;
}

bool parse_deferred_to(frame_header& h) noexcept {
  auto v = parse_address_view(h.to_text, true);
  if (!v) return false;
  h.to = *v;
  h.to_checked = true;
  return true;
}

namespace {

// The view of `a` within `text`, its canonical text form: "ccp://" TYPE "/" HOST "/" ID.
address_view view_in(const address& a, std::string_view text) noexcept {
  address_view v{a.type(), a.form(), {}, {}};
  if (a.form() == scope::any || a.form() == scope::all) return v;
  const std::size_t host_at = 6 + to_string(a.type()).size() + 1;
  v.host = std::string_view(text.data() + host_at, a.host().size());
  if (a.form() == scope::one)
    v.id = std::string_view(text.data() + host_at + a.host().size() + 1, a.id().size());
  return v;
}

}  // namespace

frame_header header_of_encoded(const message& m, std::string_view frame) noexcept {
  const char* p = frame.data();
  const std::size_t from_len = load<std::uint16_t>(p + off_from_len);
  const std::size_t to_len = load<std::uint16_t>(p + off_to_len);
  const std::size_t type_len = static_cast<unsigned char>(p[off_type_len]);
  const std::size_t text_len = load<std::uint16_t>(p + off_text_len);
  const std::size_t body_len = load<std::uint32_t>(p + off_body_len);
  std::size_t pos = header_bytes;
  auto field = [&pos, p](std::size_t n) {
    std::string_view v(p + pos, n);
    pos += n;
    return v;
  };
  frame_header h;
  h.kind = m.kind;
  h.hops = m.hops;
  h.id = m.id;
  h.correlation = m.correlation;
  h.ttl_ms = m.ttl_ms;
  h.code = m.code;
  h.from_text = field(from_len);
  h.from = view_in(m.from, h.from_text);
  h.to_text = field(to_len);
  h.to = view_in(m.to, h.to_text);
  h.type = field(type_len);
  h.text = field(text_len);
  h.body = field(body_len);
  return h;
}

std::expected<message, parse_error> decode(std::string_view frame) {
  auto h = read_header(frame);
  if (!h) return std::unexpected(h.error());
  return decode(frame, *h);
}

message decode(std::string_view frame, const frame_header& h) {
  assert(fully_checked(h));
  message m;
  m.id = h.id;
  m.kind = h.kind;
  m.from = address::from_view(h.from);
  m.to = address::from_view(h.to);
  m.correlation = h.correlation;
  m.type = h.type;
  m.ttl_ms = h.ttl_ms;
  m.hops = static_cast<std::uint8_t>(frame[off_hops]);
  m.code = h.code;
  m.text = h.text;
  m.body = h.body;
  return m;
}

std::size_t encoded_size(const message& m) noexcept {
  // Address text: "ccp://" + type + "/" + host + "/" + id, at most; computed exactly below.
  auto addr_len = [](const address& a) {
    std::size_t n = 6 + to_string(a.type()).size() + 1;
    switch (a.form()) {
      case scope::one:
        return n + a.host().size() + 1 + a.id().size();
      case scope::any:
      case scope::all:
        return n + 3;
      case scope::host_any:
      case scope::host_all:
        return n + a.host().size() + 4;
    }
    return n;
  };
  return header_bytes + addr_len(m.from) + addr_len(m.to) + m.type.size() + m.text.size() +
         m.body.size();
}

std::expected<void, errc> encode(const message& m, std::string& out) {
  if (m.id == 0 || !known_kind(m.kind) || !valid_type(m.type) || m.text.size() > max_text_bytes ||
      m.from.is_group() || reply_kind(m.kind) != (m.correlation != 0) ||
      (m.kind == msg_kind::error) != (static_cast<std::uint16_t>(m.code) != 0) ||
      static_cast<std::uint16_t>(m.code) > errc_max)
    return std::unexpected(errc::bad_request);
  std::size_t size = encoded_size(m);
  if (size > max_frame_bytes) return std::unexpected(errc::too_large);

  std::size_t start = out.size();
  out.resize(start + header_bytes);
  m.from.append_to(out);
  std::size_t from_len = out.size() - start - header_bytes;
  m.to.append_to(out);
  std::size_t to_len = out.size() - start - header_bytes - from_len;
  out += m.type;
  out += m.text;
  out += m.body;

  char* p = out.data() + start;
  p[off_magic] = static_cast<char>(wire_magic);
  p[off_version] = static_cast<char>(wire_version);
  p[off_kind] = static_cast<char>(m.kind);
  p[off_hops] = static_cast<char>(m.hops);
  store<std::uint32_t>(p + off_length, static_cast<std::uint32_t>(size));
  store<std::uint64_t>(p + off_id, m.id);
  store<std::uint64_t>(p + off_correlation, m.correlation);
  store<std::uint32_t>(p + off_ttl, m.ttl_ms);
  store<std::uint16_t>(p + off_code, static_cast<std::uint16_t>(m.code));
  store<std::uint16_t>(p + off_from_len, static_cast<std::uint16_t>(from_len));
  store<std::uint16_t>(p + off_to_len, static_cast<std::uint16_t>(to_len));
  p[off_type_len] = static_cast<char>(m.type.size());
  p[off_flags] = 0;
  store<std::uint16_t>(p + off_text_len, static_cast<std::uint16_t>(m.text.size()));
  store<std::uint16_t>(p + off_reserved, 0);
  store<std::uint32_t>(p + off_body_len, static_cast<std::uint32_t>(m.body.size()));
  return {};
}

std::expected<std::string, errc> encode(const message& m) {
  std::string out;
  out.reserve(encoded_size(m));
  if (auto ok = encode(m, out); !ok) return std::unexpected(ok.error());
  return out;
}

}  // namespace ccp::core
