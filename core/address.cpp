#include "core/address.hpp"

#include <algorithm>
#include <array>
#include <cstring>

namespace ccp::core {
namespace {

constexpr std::string_view scheme = "ccp://";

constexpr bool is_digit(char c) {
  return c >= '0' && c <= '9';
}
constexpr bool is_lower(char c) {
  return c >= 'a' && c <= 'z';
}
constexpr bool is_upper(char c) {
  return c >= 'A' && c <= 'Z';
}
constexpr bool is_alnum(char c) {
  return is_digit(c) || is_lower(c) || is_upper(c);
}
constexpr bool is_hex(char c) {
  return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}
constexpr int hex_value(char c) {
  if (is_digit(c)) return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return c - 'A' + 10;
}
constexpr char to_lower(char c) {
  return is_upper(c) ? static_cast<char>(c - 'A' + 'a') : c;
}
constexpr bool is_id_char(char c) {
  return is_alnum(c) || c == '-' || c == '_' || c == '.';
}
// Bytes that never appear in an address: white space, controls, non-ASCII, and the URI
// delimiters ccp does not support (query, fragment, percent escapes).
constexpr bool is_forbidden(char c) {
  auto u = static_cast<unsigned char>(c);
  return u <= 0x20 || u >= 0x7f || c == '?' || c == '#' || c == '%';
}
// Whether `s` holds a forbidden byte: the same test without an early exit, branch-free so
// that the compiler vectorises it (valid text, the common case, is scanned 16 bytes a step).
bool has_forbidden(std::string_view s) {
  unsigned bad = 0;
  for (char c : s) {
    auto u = static_cast<unsigned char>(c);
    bad |= unsigned(static_cast<unsigned char>(u - 0x21) > 0x7e - 0x21) | unsigned(c == '?') |
           unsigned(c == '#') | unsigned(c == '%');
  }
  return bad != 0;
}

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (to_lower(a[i]) != to_lower(b[i])) return false;
  return true;
}

parse_error fail(parse_errc code, std::size_t offset) {
  return {code, offset, {}};
}

// Dotted-quad IPv4, no leading zeros, each part 0-255.
bool parse_ipv4(std::string_view s, std::array<std::uint8_t, 4>* out) {
  int part = 0;
  std::size_t i = 0;
  while (true) {
    if (part == 4) return false;
    std::size_t j = i;
    unsigned v = 0;
    while (j < s.size() && is_digit(s[j]) && j - i < 3)
      v = v * 10 + unsigned(s[j++] - '0');
    std::size_t len = j - i;
    if (len == 0 || v > 255 || (len > 1 && s[i] == '0')) return false;
    if (out) (*out)[part] = static_cast<std::uint8_t>(v);
    ++part;
    if (j == s.size()) break;
    if (s[j] != '.') return false;
    i = j + 1;
  }
  return part == 4;
}

using ipv6_groups = std::array<std::uint16_t, 8>;

// RFC 4291 text form: hex groups, one optional "::", an optional dotted-quad tail.
bool parse_ipv6(std::string_view s, ipv6_groups& g) {
  g.fill(0);
  int n = 0;
  int gap = -1;
  std::size_t i = 0;
  if (s.size() >= 2 && s[0] == ':' && s[1] == ':') {
    gap = 0;
    i = 2;
  } else if (!s.empty() && s[0] == ':') {
    return false;
  }
  while (i < s.size()) {
    if (n == 8) return false;
    std::size_t j = i;
    while (j < s.size() && is_hex(s[j]))
      ++j;
    if (j < s.size() && s[j] == '.') {  // embedded IPv4 in the last 32 bits
      std::array<std::uint8_t, 4> v4{};
      if (n > 6 || !parse_ipv4(s.substr(i), &v4)) return false;
      g[n++] = static_cast<std::uint16_t>(v4[0] << 8 | v4[1]);
      g[n++] = static_cast<std::uint16_t>(v4[2] << 8 | v4[3]);
      i = s.size();
      break;
    }
    if (j == i || j - i > 4) return false;
    unsigned v = 0;
    for (std::size_t k = i; k < j; ++k)
      v = v * 16 + unsigned(hex_value(s[k]));
    g[n++] = static_cast<std::uint16_t>(v);
    i = j;
    if (i == s.size()) break;
    if (s[i] != ':') return false;
    ++i;
    if (i < s.size() && s[i] == ':') {
      if (gap >= 0) return false;
      gap = n;
      ++i;
    } else if (i == s.size()) {
      return false;  // a single trailing ':'
    }
  }
  if (gap >= 0) {
    if (n == 8) return false;  // "::" must stand for at least one group
    int tail = n - gap;
    for (int k = 0; k < tail; ++k)
      g[7 - k] = g[n - 1 - k];
    for (int k = gap; k < 8 - tail; ++k)
      g[k] = 0;
  } else if (n != 8) {
    return false;
  }
  return true;
}

// Fixed-capacity text for format_ipv6: the longest RFC 5952 form, eight groups of four
// digits, is 39 bytes. Lets a frame's IPv6 host be checked for canonical form without the
// heap (read_header promises not to allocate; a std::string did for any form over 15 bytes).
struct ipv6_text {
  char data[8 * 4 + 7];
  std::size_t size = 0;
  void operator+=(char c) { data[size++] = c; }
  void operator+=(std::string_view s) {
    for (char c : s)
      data[size++] = c;
  }
  [[nodiscard]] std::string_view view() const { return {data, size}; }
};

// RFC 5952: lower-case hex, no leading zeros, the longest run (>= 2) of zero groups as
// "::", the first such run on a tie.
template <typename Out>  // std::string or ipv6_text
void format_ipv6(const ipv6_groups& g, Out& out) {
  int best = -1, best_len = 0;
  for (int i = 0; i < 8;) {
    if (g[i] != 0) {
      ++i;
      continue;
    }
    int j = i;
    while (j < 8 && g[j] == 0)
      ++j;
    if (j - i > best_len && j - i >= 2) {
      best = i;
      best_len = j - i;
    }
    i = j;
  }
  static constexpr char digits[] = "0123456789abcdef";
  for (int i = 0; i < 8; ++i) {
    if (i == best) {
      out += "::";
      i += best_len - 1;
      continue;
    }
    if (i > 0 && i != best + best_len) out += ':';
    unsigned v = g[i];
    char buf[4];
    int len = 0;
    do {
      buf[len++] = digits[v & 0xf];
      v >>= 4;
    } while (v != 0);
    while (len > 0)
      out += buf[--len];
  }
}

// Validates a host. `base` is its offset in the enclosing text, for error offsets.
// With `canonical_only`, a host that is valid but not canonical is an error.
std::expected<void, parse_error> check_host(std::string_view h, std::size_t base,
                                            bool canonical_only) {
  if (h.empty()) return std::unexpected(fail(parse_errc::missing_segment, base));
  if (h.size() > max_host_bytes) return std::unexpected(fail(parse_errc::too_long, base));
  if (h.front() == '[') {
    ipv6_groups g{};
    if (h.size() < 4 || h.back() != ']' || !parse_ipv6(h.substr(1, h.size() - 2), g))
      return std::unexpected(fail(parse_errc::bad_host, base));
    if (canonical_only) {
      ipv6_text c;
      format_ipv6(g, c);
      if (c.view() != h.substr(1, h.size() - 2))
        return std::unexpected(fail(parse_errc::bad_host, base));
    }
    return {};
  }
  if (h.size() > max_dns_bytes) return std::unexpected(fail(parse_errc::too_long, base));
  // Fast path: a dotted quad passes the DNS loop below and its all-digit check, so it is
  // accepted without scanning it twice.
  if (parse_ipv4(h, nullptr)) return {};
  std::size_t label_start = 0;
  bool label_all_digits = true;
  for (std::size_t i = 0; i <= h.size(); ++i) {
    if (i == h.size() || h[i] == '.') {
      std::size_t len = i - label_start;
      if (len == 0 || len > max_label_bytes)
        return std::unexpected(fail(parse_errc::bad_host, base + i));
      if (h[label_start] == '-' || h[i - 1] == '-')
        return std::unexpected(fail(parse_errc::bad_host, base + label_start));
      if (i == h.size()) break;
      label_start = i + 1;
      label_all_digits = true;
      continue;
    }
    char c = h[i];
    if (!is_alnum(c) && c != '-') return std::unexpected(fail(parse_errc::bad_host, base + i));
    if (canonical_only && is_upper(c)) return std::unexpected(fail(parse_errc::bad_host, base + i));
    if (!is_digit(c)) label_all_digits = false;
  }
  // A name whose last label is all digits is not a DNS name: it must be an IPv4 address.
  if (label_all_digits && !parse_ipv4(h, nullptr))
    return std::unexpected(fail(parse_errc::bad_host, base));
  return {};
}

std::expected<void, parse_error> check_id(std::string_view id, std::size_t base) {
  if (id.empty()) return std::unexpected(fail(parse_errc::missing_segment, base));
  if (id.size() > max_id_bytes) return std::unexpected(fail(parse_errc::too_long, base));
  for (std::size_t i = 0; i < id.size(); ++i)
    if (!is_id_char(id[i])) return std::unexpected(fail(parse_errc::bad_id, base + i));
  if (iequals(id, "any") || iequals(id, "all"))
    return std::unexpected(fail(parse_errc::bad_id, base));
  return {};
}

// Character classes of the canonical fast path, one table lookup per byte.
enum : std::uint8_t {
  cc_label = 1,  // in a label of a canonical DNS name: [a-z0-9-]
  cc_digit = 4,  // [0-9]
};
// valid_id's table (address.hpp, the fast path's id check) agrees with check_id's.
static_assert([] {
  for (int c = 0; c < 256; ++c)
    if (address_detail::id_char[static_cast<std::size_t>(c)] != is_id_char(static_cast<char>(c)))
      return false;
  return true;
}());
constexpr std::array<std::uint8_t, 256> char_classes = [] {
  std::array<std::uint8_t, 256> t{};
  for (int c = 0; c < 256; ++c) {
    auto ch = static_cast<char>(c);
    std::uint8_t k = 0;
    if (is_lower(ch) || is_digit(ch) || ch == '-') k |= cc_label;
    if (is_digit(ch)) k |= cc_digit;
    t[static_cast<std::size_t>(c)] = k;
  }
  return t;
}();
constexpr std::uint8_t char_class(char c) {
  return char_classes[static_cast<unsigned char>(c)];
}

// The length of the dotted-quad IPv4 host that starts `s` and ends at its first '/', or 0
// when `s` does not start with one that parse_ipv4 accepts followed by '/' and at least
// one more byte (an address with such a host is at least "1.2.3.4/x", 9 bytes).
std::size_t scan_dotted_quad(std::string_view s) {
  // The host and its '/' are at most 16 bytes. They are read from a copy padded with zero
  // bytes (neither digit nor separator), so no step needs a bounds check: two overlapping
  // 8-byte copies when `s` is shorter than 16.
  if (s.size() < 9) return 0;
  unsigned char b[16] = {};
  if (s.size() >= 16) {
    std::memcpy(b, s.data(), 16);
  } else {
    std::memcpy(b, s.data(), 8);
    std::memcpy(b + s.size() - 8, s.data() + s.size() - 8, 8);
  }
  auto digit = [&b](std::size_t at) { return static_cast<unsigned>(b[at]) - '0'; };
  std::size_t i = 0;
  for (int part = 0; part < 4; ++part) {  // 1 to 3 digits, no leading zero, at most 255
    unsigned v = digit(i);
    if (v > 9) return 0;
    if (unsigned d = digit(i + 1); d <= 9) {
      if (v == 0) return 0;
      v = v * 10 + d;
      if (d = digit(i + 2); d <= 9) {
        v = v * 10 + d;
        if (v > 255) return 0;
        ++i;
      }
      ++i;
    }
    ++i;
    if (b[i] != (part == 3 ? '/' : '.')) return 0;
    ++i;
  }
  return i - 1;
}

// The length of the canonical host that starts `s` and ends at its first '/', or 0 when
// there is no '/' or the host is not a dotted quad or canonical DNS name that
// check_host(host, _, true) accepts. IPv6 is left to the full parser.
std::size_t scan_canonical_host(std::string_view s) {
  if (!s.empty() && is_digit(s[0]))
    if (std::size_t n = scan_dotted_quad(s)) return n;
  // A DNS name (check_host's loop). A last label of digits only would have to be a dotted
  // quad, which scan_dotted_quad just ruled out.
  std::size_t label_start = 0;
  bool label_all_digits = true;
  const std::size_t n = std::min(s.size(), max_dns_bytes + 1);  // room for the '/'
  for (std::size_t i = 0; i < n; ++i) {
    const char c = s[i];
    const auto k = char_class(c);
    if (k & cc_label) {
      label_all_digits = label_all_digits && (k & cc_digit);
      continue;
    }
    if (c != '.' && c != '/') return 0;
    const std::size_t len = i - label_start;
    if (len == 0 || len > max_label_bytes || s[label_start] == '-' || s[i - 1] == '-') return 0;
    if (c == '/') return label_all_digits ? 0 : i;
    label_start = i + 1;
    label_all_digits = true;
  }
  return 0;  // no '/', or longer than any DNS name
}

// The fast path of parse_address_view(text, true), for frames on the forwarding path:
// stores the view and returns true when `text` is a canonical address with a DNS or IPv4
// host (or none). Returns false for everything else (IPv6 hosts, every error), which the
// full parser then handles, so errors and their offsets come from one place only. It
// accepts a subset of what the full parser accepts, with the same view.
bool fast_canonical_view(std::string_view text, address_view& v) {
  if (!starts_with_lit(text, "ccp://")) return false;
  std::string_view rest = text.substr(6);
  if (starts_with_lit(rest, "endpoint/")) {
    v.type = role::endpoint;
    rest.remove_prefix(9);
  } else if (starts_with_lit(rest, "agent/")) {
    v.type = role::agent;
    rest.remove_prefix(6);
  } else if (starts_with_lit(rest, "mgmt/")) {
    v.type = role::mgmt;
    rest.remove_prefix(5);
  } else if (starts_with_lit(rest, "proxy/")) {
    v.type = role::proxy;
    rest.remove_prefix(6);
  } else {
    return false;
  }
  if (equals_lit(rest, "any") || equals_lit(rest, "all")) {
    v.form = rest[1] == 'n' ? scope::any : scope::all;
    v.host = v.id = {};
    return true;
  }
  std::size_t slash = scan_canonical_host(rest);
  if (slash == 0) return false;
  v.host = rest.substr(0, slash);
  std::string_view last = rest.substr(slash + 1);
  if (equals_lit(last, "any") || equals_lit(last, "all")) {
    v.form = last[1] == 'n' ? scope::host_any : scope::host_all;
    v.id = {};
    return true;
  }
  if (!valid_id(last)) return false;  // also a third '/': the full parser says where
  v.form = scope::one;
  v.id = last;
  return true;
}

bool parse_role(std::string_view s, role& r) {
  if (s == "endpoint")
    r = role::endpoint;
  else if (s == "agent")
    r = role::agent;
  else if (s == "proxy")
    r = role::proxy;
  else if (s == "mgmt")
    r = role::mgmt;
  else
    return false;
  return true;
}

void append_host_canonical(std::string_view h, std::string& out) {
  if (!h.empty() && h.front() == '[') {
    ipv6_groups g{};
    parse_ipv6(h.substr(1, h.size() - 2), g);  // validated by the caller
    out += '[';
    format_ipv6(g, out);
    out += ']';
    return;
  }
  for (char c : h)
    out += to_lower(c);
}

void append_view(const address_view& v, std::string& out) {
  // "ccp://" TYPE "/" then HOST "/" ID, HOST "/any", "any", ...: the pieces are sized
  // first and copied into one resize (appending piece by piece checked capacity each time).
  const std::string_view type = to_string(v.type);
  std::string_view first, last;  // the segment after the type, and the one after that
  switch (v.form) {
    case scope::one:
      first = v.host;
      last = v.id;
      break;
    case scope::any:
      first = "any";
      break;
    case scope::all:
      first = "all";
      break;
    case scope::host_any:
      first = v.host;
      last = "any";
      break;
    case scope::host_all:
      first = v.host;
      last = "all";
      break;
  }
  const std::size_t at = out.size();
  const std::size_t n =
      scheme.size() + type.size() + 1 + first.size() + (last.empty() ? 0 : 1 + last.size());
  out.resize(at + n);
  char* p = out.data() + at;
  auto put = [&p](std::string_view piece) {
    std::memcpy(p, piece.data(), piece.size());
    p += piece.size();
  };
  put(scheme);
  put(type);
  *p++ = '/';
  put(first);
  if (!last.empty()) {
    *p++ = '/';
    put(last);
  }
}

}  // namespace

std::string_view to_string(role r) noexcept {
  switch (r) {
    case role::mgmt:
      return "mgmt";
    case role::proxy:
      return "proxy";
    case role::agent:
      return "agent";
    case role::endpoint:
      return "endpoint";
  }
  return "?";
}

std::string_view to_string(scope s) noexcept {
  switch (s) {
    case scope::one:
      return "one";
    case scope::any:
      return "any";
    case scope::all:
      return "all";
    case scope::host_any:
      return "host_any";
    case scope::host_all:
      return "host_all";
  }
  return "?";
}

namespace {

// parse_address_view without the fast path: every error and every form. Out of line, so
// that the fast path's caller does not pay for this function's stack frame.
[[gnu::noinline]] std::expected<address_view, parse_error> parse_address_view_full(
    std::string_view text, bool canonical_only) noexcept {
  if (text.empty()) return std::unexpected(fail(parse_errc::empty, 0));
  if (text.size() > max_address_bytes)
    return std::unexpected(fail(parse_errc::too_long, max_address_bytes));
  if (has_forbidden(text))
    for (std::size_t i = 0; i < text.size(); ++i)
      if (is_forbidden(text[i])) return std::unexpected(fail(parse_errc::forbidden_char, i));
  if (!text.starts_with(scheme)) {
    std::size_t i = 0;
    while (i < scheme.size() && i < text.size() && text[i] == scheme[i])
      ++i;
    return std::unexpected(fail(parse_errc::bad_scheme, i));
  }
  address_view v;
  std::size_t pos = scheme.size();
  std::size_t slash = text.find('/', pos);
  if (slash == std::string_view::npos) {  // "ccp://agent": a known type still needs a group
    if (parse_role(text.substr(pos), v.type))
      return std::unexpected(fail(parse_errc::missing_segment, text.size()));
    return std::unexpected(fail(parse_errc::bad_type, pos));
  }
  if (!parse_role(text.substr(pos, slash - pos), v.type))
    return std::unexpected(fail(parse_errc::bad_type, pos));
  pos = slash + 1;
  slash = text.find('/', pos);
  if (slash == std::string_view::npos) {  // ccp://TYPE/any|all
    std::string_view g = text.substr(pos);
    if (g == "any")
      v.form = scope::any;
    else if (g == "all")
      v.form = scope::all;
    else if (g.empty())
      return std::unexpected(fail(parse_errc::missing_segment, pos));
    else
      return std::unexpected(fail(parse_errc::missing_segment, text.size()));  // HOST without ID
    return v;
  }
  v.host = text.substr(pos, slash - pos);
  if (auto ok = check_host(v.host, pos, canonical_only); !ok) return std::unexpected(ok.error());
  pos = slash + 1;
  std::size_t extra = text.find('/', pos);
  if (extra != std::string_view::npos)
    return std::unexpected(fail(parse_errc::extra_segment, extra));
  std::string_view last = text.substr(pos);
  if (last == "any") {
    v.form = scope::host_any;
  } else if (last == "all") {
    v.form = scope::host_all;
  } else {
    if (auto ok = check_id(last, pos); !ok) return std::unexpected(ok.error());
    v.form = scope::one;
    v.id = last;
  }
  // A copy through a temporary: GCC 12 copies the named local into the result with a
  // `rep movsl` (a fifth of this function on the read_header path), a temporary with two
  // vector moves.
  return address_view(v);
}

}  // namespace

std::expected<address_view, parse_error> parse_address_view(std::string_view text,
                                                            bool canonical_only) noexcept {
  if (canonical_only) {
    address_view fast;
    if (fast_canonical_view(text, fast)) return fast;
  }
  return parse_address_view_full(text, canonical_only);
}

host_prefix::host_prefix(role type, std::string_view host) : type_(type) {
  text_ = scheme;
  text_ += to_string(type);
  text_ += '/';
  host_at_ = text_.size();
  text_ += host;
  text_ += '/';
}

std::expected<address, parse_error> address::parse(std::string_view text) {
  auto v = parse_address_view(text);
  if (!v) return std::unexpected(v.error());
  return from_view(*v);
}

address address::from_view(const address_view& v) {
  address a;
  a.type_ = v.type;
  a.form_ = v.form;
  // Views from frames are canonical already (read_header parses with canonical_only):
  // one copy, without the per-byte lowering, unless there is something to canonicalise.
  bool upper = false;
  for (char c : v.host)
    upper |= c >= 'A' && c <= 'Z';
  if (upper || (!v.host.empty() && v.host.front() == '[')) {
    a.host_.reserve(v.host.size());
    append_host_canonical(v.host, a.host_);
  } else {
    a.host_ = v.host;
  }
  a.id_ = v.id;
  return a;
}

std::expected<address, parse_error> address::one(role t, std::string_view host,
                                                 std::string_view id) {
  if (auto ok = check_host(host, 0, false); !ok) return std::unexpected(ok.error());
  if (auto ok = check_id(id, 0); !ok) return std::unexpected(ok.error());
  return from_view({t, scope::one, host, id});
}

std::expected<address, parse_error> address::host_group(role t, std::string_view host, scope form) {
  if (form != scope::host_any && form != scope::host_all)
    return std::unexpected(fail(parse_errc::bad_field, 0));
  if (auto ok = check_host(host, 0, false); !ok) return std::unexpected(ok.error());
  return from_view({t, form, host, {}});
}

address address::group(role t, scope form) {
  address a;
  a.type_ = t;
  a.form_ = form == scope::all ? scope::all : scope::any;
  return a;
}

std::string address::str() const {
  std::string s;
  s.reserve(scheme.size() + 10 + host_.size() + id_.size());
  append_view(view(), s);
  return s;
}

void address::append_to(std::string& out) const {
  append_view(view(), out);
}

std::strong_ordering operator<=>(const address& a, const address& b) noexcept {
  if (auto c = a.type_ <=> b.type_; c != 0) return c;
  if (auto c = a.form_ <=> b.form_; c != 0) return c;
  if (auto c = a.host_ <=> b.host_; c != 0) return c;
  return a.id_ <=> b.id_;
}

std::string to_string(const address_view& v) {
  std::string s;
  append_view(v, s);
  return s;
}

std::string to_string(const address& a) {
  return a.str();
}

bool is_member(const address_view& m, const address_view& g) noexcept {
  if (m.form != scope::one || m.type != g.type) return false;
  switch (g.form) {
    case scope::one:
      return same_bytes(m.host, g.host) && same_bytes(m.id, g.id);
    case scope::any:
    case scope::all:
      return true;
    case scope::host_any:
    case scope::host_all:
      return same_bytes(m.host, g.host);
  }
  return false;
}

std::size_t hash_value(const address_view& v) noexcept {
  // FNV-1a, 64 bit: stable across runs and platforms (the simulator relies on it).
  std::uint64_t h = 14695981039346656037ull;
  auto mix = [&h](unsigned char c) {
    h ^= c;
    h *= 1099511628211ull;
  };
  mix(static_cast<unsigned char>(v.type));
  mix(static_cast<unsigned char>(v.form));
  for (char c : v.host)
    mix(static_cast<unsigned char>(c));
  mix('/');
  for (char c : v.id)
    mix(static_cast<unsigned char>(c));
  return static_cast<std::size_t>(h);
}

std::expected<std::string, parse_error> canonical_host(std::string_view host) {
  for (std::size_t i = 0; i < host.size(); ++i)
    if (is_forbidden(host[i]) || host[i] == '/')
      return std::unexpected(fail(parse_errc::forbidden_char, i));
  if (auto ok = check_host(host, 0, false); !ok) return std::unexpected(ok.error());
  std::string out;
  append_host_canonical(host, out);
  return out;
}

}  // namespace ccp::core
