#pragma once
// Shared test support for ccp::core: printers for failure messages, an independent model of
// address spellings and their canonical form, and rapidcheck generators for addresses and
// messages.
//
// The model does not call the code under test: the canonical form it predicts (lower-case
// DNS, RFC 5952 IPv6) is computed here, so a property comparing the two can fail.

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <memory>
#include <optional>
#include <ostream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <rapidcheck.h>

#include "core/address.hpp"
#include "core/error.hpp"
#include "core/message.hpp"

namespace ccp::core {

// Printers found by argument-dependent lookup: rapidcheck (showValue) and GoogleTest
// (PrintTo) use them in counterexamples and assertion failures.
inline void showValue(const address& a, std::ostream& os) {
  os << a.str();
}
inline void PrintTo(const address& a, std::ostream* os) {
  *os << a.str();
}
inline void showValue(const parse_error& e, std::ostream& os) {
  os << e.message();
}
inline void PrintTo(const parse_error& e, std::ostream* os) {
  *os << e.message();
}

inline void print_bytes(std::string_view s, std::ostream& os) {
  static constexpr char hex[] = "0123456789abcdef";
  os << '"';
  for (char c : s) {
    auto u = static_cast<unsigned char>(c);
    if (u >= 0x20 && u < 0x7f && c != '"' && c != '\\') {
      os << c;
    } else {
      os << "\\x" << hex[u >> 4] << hex[u & 0xf];
    }
  }
  os << '"';
}

inline void PrintTo(const message& m, std::ostream* os) {
  *os << "{id " << m.id << ", " << to_string(m.kind) << ", from " << m.from.str() << ", to "
      << m.to.str() << ", correlation " << m.correlation << ", type ";
  print_bytes(m.type, *os);
  *os << ", ttl_ms " << m.ttl_ms << ", hops " << int{m.hops} << ", code "
      << static_cast<int>(m.code) << ", text ";
  print_bytes(m.text, *os);
  *os << ", body ";
  print_bytes(m.body, *os);
  *os << '}';
}
inline void showValue(const message& m, std::ostream& os) {
  PrintTo(m, &os);
}

}  // namespace ccp::core

namespace ccp::test {

using core::role;
using core::scope;

inline constexpr std::array<role, 4> all_roles = {role::mgmt, role::proxy, role::agent,
                                                  role::endpoint};
inline constexpr std::array<scope, 5> all_scopes = {scope::one, scope::any, scope::all,
                                                    scope::host_any, scope::host_all};

// The model's own spelling of each type, independent of core::to_string.
inline std::string_view role_text(role r) {
  static constexpr std::array<std::string_view, 4> names = {"mgmt", "proxy", "agent", "endpoint"};
  return names[static_cast<std::size_t>(r)];
}

// A copy of `s` in an exact-size heap block, so that AddressSanitizer reports any read
// past its end (a std::string's spare capacity and terminator would hide one).
class exact_bytes {
 public:
  explicit exact_bytes(std::string_view s) : size_(s.size()), data_(new char[s.size()]) {
    if (size_ != 0) std::memcpy(data_.get(), s.data(), size_);
  }
  [[nodiscard]] std::string_view view() const { return {data_.get(), size_}; }

 private:
  std::size_t size_;
  std::unique_ptr<char[]> data_;
};

// ---- Hosts -------------------------------------------------------------------------------

using ipv6_groups = std::array<std::uint16_t, 8>;

// RFC 5952 text of eight groups, written independently of core/address.cpp: lower-case
// hex without leading zeros, the first longest run of two or more zero groups as "::".
inline std::string rfc5952(const ipv6_groups& g) {
  int best_start = -1;
  int best_len = 1;  // a run must be at least two groups long
  for (int s = 0; s < 8; ++s) {
    int len = 0;
    while (s + len < 8 && g[static_cast<std::size_t>(s + len)] == 0)
      ++len;
    if (len > best_len) {
      best_start = s;
      best_len = len;
    }
  }
  auto join = [&g](int from, int to) {
    std::string s;
    for (int i = from; i < to; ++i) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "%x", unsigned{g[static_cast<std::size_t>(i)]});
      if (i > from) s += ':';
      s += buf;
    }
    return s;
  };
  if (best_start < 0) return join(0, 8);
  return join(0, best_start) + "::" + join(best_start + best_len, 8);
}

// A host as a value: what it means, not how it is spelled.
struct host_value {
  enum class kind : std::uint8_t { ipv4, ipv6, dns } k = kind::ipv4;
  std::array<std::uint8_t, 4> v4{};
  ipv6_groups v6{};
  std::string dns;  // lower case

  [[nodiscard]] std::string canonical() const {
    switch (k) {
      case kind::ipv4: {
        std::string s;
        for (std::size_t i = 0; i < 4; ++i) {
          if (i > 0) s += '.';
          s += std::to_string(v4[i]);
        }
        return s;
      }
      case kind::ipv6:
        return "[" + rfc5952(v6) + "]";
      case kind::dns:
        return dns;
    }
    return {};
  }
};

inline rc::Gen<std::uint8_t> gen_byte_value() {
  return rc::gen::cast<std::uint8_t>(rc::gen::inRange<int>(0, 256));
}

inline rc::Gen<std::uint16_t> gen_ipv6_group() {
  // Many zeros, so that runs (and ties between runs) of zero groups are common.
  return rc::gen::weightedOneOf<std::uint16_t>(
      {{5, rc::gen::just<std::uint16_t>(0)},
       {2, rc::gen::cast<std::uint16_t>(rc::gen::inRange<int>(0, 256))},
       {3, rc::gen::cast<std::uint16_t>(rc::gen::inRange<int>(0, 65536))}});
}

inline char random_case(char c, bool upper) {
  if (upper && c >= 'a' && c <= 'z') return static_cast<char>(c - 'a' + 'A');
  return c;
}

// A DNS label: letters, digits and '-', not starting or ending with '-'.
inline rc::Gen<std::string> gen_label(int max_len) {
  return rc::gen::exec([max_len] {
    static constexpr std::string_view edge = "abcdefghijklmnopqrstuvwxyz0123456789";
    static constexpr std::string_view inner = "abcdefghijklmnopqrstuvwxyz0123456789-";
    int len = *rc::gen::weightedOneOf<int>({{8, rc::gen::inRange(1, std::min(9, max_len + 1))},
                                            {1, rc::gen::inRange(1, max_len + 1)},
                                            {1, rc::gen::just(max_len)}});
    std::string s;
    for (int i = 0; i < len; ++i) {
      std::string_view set = (i == 0 || i == len - 1) ? edge : inner;
      s += set[*rc::gen::inRange<std::size_t>(0, set.size())];
    }
    return s;
  });
}

// A lower-case RFC 1123 name of at most max_dns_bytes whose last label is not all digits.
inline rc::Gen<std::string> gen_dns_name() {
  return rc::gen::exec([] {
    int labels =
        *rc::gen::weightedOneOf<int>({{6, rc::gen::inRange(1, 4)}, {1, rc::gen::inRange(4, 9)}});
    std::string name;
    for (int i = 0; i < labels; ++i) {
      std::string label = *gen_label(static_cast<int>(core::max_label_bytes));
      std::size_t extra = (name.empty() ? 0 : 1) + label.size();
      if (name.size() + extra > core::max_dns_bytes) break;
      if (!name.empty()) name += '.';
      name += label;
    }
    std::size_t last = name.rfind('.');
    last = last == std::string::npos ? 0 : last + 1;
    bool all_digits = true;
    for (std::size_t i = last; i < name.size(); ++i)
      if (name[i] < '0' || name[i] > '9') all_digits = false;
    if (all_digits) name[last] = *rc::gen::inRange('a', static_cast<char>('z' + 1));
    return name;
  });
}

inline rc::Gen<host_value> gen_host_value() {
  using k = host_value::kind;
  return rc::gen::exec([] {
    host_value h;
    h.k = *rc::gen::element(k::ipv4, k::ipv6, k::dns);
    switch (h.k) {
      case k::ipv4:
        for (auto& b : h.v4)
          b = *gen_byte_value();
        break;
      case k::ipv6:
        for (auto& g : h.v6)
          g = *gen_ipv6_group();
        break;
      case k::dns:
        h.dns = *gen_dns_name();
        break;
    }
    return h;
  });
}

// One hex group as RFC 4291 allows: 1 to 4 digits (leading zeros optional), any case.
inline std::string spell_group(std::uint16_t v, std::size_t width, const std::vector<bool>& upper) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "%x", unsigned{v});
  std::string s = buf;
  if (s.size() < width) s.insert(0, width - s.size(), '0');
  for (std::size_t i = 0; i < s.size() && i < upper.size(); ++i)
    s[i] = random_case(s[i], upper[i]);
  return s;
}

// A random valid spelling of `h`: any case for DNS and hex, any IPv6 form (leading zeros,
// "::" for any run of zero groups, or none, an embedded dotted-quad tail).
inline rc::Gen<std::string> gen_host_spelling(const host_value& h) {
  return rc::gen::exec([h] {
    switch (h.k) {
      case host_value::kind::ipv4:
        return h.canonical();
      case host_value::kind::dns: {
        std::string s = h.dns;
        bool shout = *rc::gen::weightedElement<int>({{3, 0}, {1, 1}, {1, 2}}) == 1;
        bool mixed = !shout && *rc::gen::arbitrary<bool>();
        for (char& c : s)
          c = random_case(c, shout || (mixed && *rc::gen::arbitrary<bool>()));
        return s;
      }
      case host_value::kind::ipv6:
        break;
    }
    if (*rc::gen::weightedElement<int>({{1, 0}, {2, 1}}) == 0) return "[" + rfc5952(h.v6) + "]";
    bool v4_tail = *rc::gen::weightedElement<int>({{4, 0}, {1, 1}}) == 1;
    std::size_t hex_units = v4_tail ? 6 : 8;
    std::vector<std::string> units;
    for (std::size_t i = 0; i < hex_units; ++i) {
      auto width = *rc::gen::inRange<std::size_t>(1, 5);
      auto upper = *rc::gen::container<std::vector<bool>>(4, rc::gen::arbitrary<bool>());
      units.push_back(spell_group(h.v6[i], width, upper));
    }
    if (v4_tail) {
      units.push_back(std::to_string(h.v6[6] >> 8) + "." + std::to_string(h.v6[6] & 0xff) + "." +
                      std::to_string(h.v6[7] >> 8) + "." + std::to_string(h.v6[7] & 0xff));
    }
    // Every run of one or more zero groups among the hex units may become "::".
    std::vector<std::pair<std::size_t, std::size_t>> runs;
    for (std::size_t s = 0; s < hex_units; ++s)
      for (std::size_t e = s; e < hex_units && h.v6[e] == 0; ++e)
        runs.emplace_back(s, e + 1);
    auto join = [&units](std::size_t from, std::size_t to) {
      std::string s;
      for (std::size_t i = from; i < to; ++i) {
        if (i > from) s += ':';
        s += units[i];
      }
      return s;
    };
    if (runs.empty() || *rc::gen::weightedElement<int>({{1, 0}, {3, 1}}) == 0)
      return "[" + join(0, units.size()) + "]";
    auto [from, to] = *rc::gen::elementOf(runs);
    return "[" + join(0, from) + "::" + join(to, units.size()) + "]";
  });
}

// ---- Addresses -----------------------------------------------------------------------------

inline bool iequals_ascii(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    char x = a[i] >= 'A' && a[i] <= 'Z' ? static_cast<char>(a[i] - 'A' + 'a') : a[i];
    if (x != b[i]) return false;
  }
  return true;
}

// 1 to 64 of [A-Za-z0-9_.-], never any/all in any case.
inline rc::Gen<std::string> gen_id() {
  return rc::gen::exec([] {
    static constexpr std::string_view chars =
        "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.";
    int len =
        *rc::gen::weightedOneOf<int>({{8, rc::gen::inRange(1, 12)},
                                      {1, rc::gen::inRange(1, 65)},
                                      {1, rc::gen::just(static_cast<int>(core::max_id_bytes))}});
    std::string s;
    for (int i = 0; i < len; ++i)
      s += chars[*rc::gen::inRange<std::size_t>(0, chars.size())];
    if (iequals_ascii(s, "any") || iequals_ascii(s, "all")) s += '1';
    return s;
  });
}

// An address as a value, with the canonical text the model predicts.
struct address_value {
  role type = role::mgmt;
  scope form = scope::any;
  host_value host;  // unused for any/all
  std::string id;   // unused unless one

  [[nodiscard]] bool has_host() const { return form != scope::any && form != scope::all; }

  [[nodiscard]] std::string text_with_host(std::string_view host_text) const {
    std::string s = "ccp://";
    s += role_text(type);
    s += '/';
    switch (form) {
      case scope::any:
        return s + "any";
      case scope::all:
        return s + "all";
      case scope::one:
        return s + std::string(host_text) + "/" + id;
      case scope::host_any:
        return s + std::string(host_text) + "/any";
      case scope::host_all:
        return s + std::string(host_text) + "/all";
    }
    return s;
  }
  [[nodiscard]] std::string canonical() const { return text_with_host(host.canonical()); }
};

inline void showValue(const address_value& v, std::ostream& os) {
  os << v.canonical();
}

inline rc::Gen<address_value> gen_address_value(rc::Gen<scope> forms) {
  return rc::gen::exec([forms] {
    address_value v;
    v.type = *rc::gen::elementOf(all_roles);
    v.form = *forms;
    if (v.has_host()) v.host = *gen_host_value();
    if (v.form == scope::one) v.id = *gen_id();
    return v;
  });
}
inline rc::Gen<address_value> gen_address_value() {
  return gen_address_value(rc::gen::elementOf(all_scopes));
}

// A random valid spelling of `v` (host case and IPv6 form vary; the rest is fixed).
inline rc::Gen<std::string> gen_spelling(const address_value& v) {
  if (!v.has_host()) return rc::gen::just(v.canonical());
  return rc::gen::map(gen_host_spelling(v.host),
                      [v](const std::string& host) { return v.text_with_host(host); });
}

// A valid address, spelled at random and parsed. Parsing is checked by the properties; a
// failure here surfaces as an exception naming the text.
inline core::address parse_or_throw(const std::string& text) {
  auto a = core::address::parse(text);
  if (!a)
    throw std::runtime_error("generated address does not parse: " + text + ": " +
                             a.error().message());
  return *a;
}

inline rc::Gen<core::address> gen_address(rc::Gen<scope> forms) {
  return rc::gen::exec([forms] {
    address_value v = *gen_address_value(forms);
    return parse_or_throw(*gen_spelling(v));
  });
}
inline rc::Gen<core::address> gen_address() {
  return gen_address(rc::gen::elementOf(all_scopes));
}
inline rc::Gen<core::address> gen_concrete_address() {
  return gen_address(rc::gen::just(scope::one));
}

// ---- Frames --------------------------------------------------------------------------------

// Offsets of the fixed header, copied from the table in core/message.hpp.
namespace wire {
inline constexpr std::size_t magic = 0, version = 1, kind = 2, hops = 3, length = 4, id = 8,
                             correlation = 16, ttl = 24, code = 28, from_len = 30, to_len = 32,
                             type_len = 34, flags = 35, text_len = 36, reserved = 38, body_len = 40,
                             header = 44;
}  // namespace wire

inline void put_le(std::string& out, std::size_t offset, std::uint64_t v, std::size_t bytes) {
  for (std::size_t i = 0; i < bytes; ++i)
    out[offset + i] = static_cast<char>((v >> (8 * i)) & 0xff);
}

inline std::uint64_t get_le(std::string_view in, std::size_t offset, std::size_t bytes) {
  std::uint64_t v = 0;
  for (std::size_t i = 0; i < bytes; ++i)
    v |= std::uint64_t{static_cast<unsigned char>(in[offset + i])} << (8 * i);
  return v;
}

// A frame written field by field from the table in core/message.hpp, without the encoder.
// Length fields default to the true lengths and can be set to lie.
struct raw_frame {
  std::uint8_t magic = 0xCC;
  std::uint8_t version = 1;
  std::uint8_t kind = 1;  // request
  std::uint8_t hops = 0;
  std::optional<std::uint32_t> length;
  std::uint64_t id = 1;
  std::uint64_t correlation = 0;
  std::uint32_t ttl_ms = 0;
  std::uint16_t code = 0;
  std::optional<std::uint16_t> from_len;
  std::optional<std::uint16_t> to_len;
  std::optional<std::uint8_t> type_len;
  std::uint8_t flags = 0;
  std::optional<std::uint16_t> text_len;
  std::uint16_t reserved = 0;
  std::optional<std::uint32_t> body_len;
  std::string from = "ccp://agent/10.0.0.1/a1";  // 23 bytes
  std::string to = "ccp://endpoint/all";         // 18 bytes
  std::string type = "ping";                     // at offset 85
  std::string text;
  std::string body;

  [[nodiscard]] std::string bytes() const {
    std::string out(wire::header, '\0');
    put_le(out, wire::magic, magic, 1);
    put_le(out, wire::version, version, 1);
    put_le(out, wire::kind, kind, 1);
    put_le(out, wire::hops, hops, 1);
    put_le(out, wire::id, id, 8);
    put_le(out, wire::correlation, correlation, 8);
    put_le(out, wire::ttl, ttl_ms, 4);
    put_le(out, wire::code, code, 2);
    put_le(out, wire::from_len, from_len.value_or(static_cast<std::uint16_t>(from.size())), 2);
    put_le(out, wire::to_len, to_len.value_or(static_cast<std::uint16_t>(to.size())), 2);
    put_le(out, wire::type_len, type_len.value_or(static_cast<std::uint8_t>(type.size())), 1);
    put_le(out, wire::flags, flags, 1);
    put_le(out, wire::text_len, text_len.value_or(static_cast<std::uint16_t>(text.size())), 2);
    put_le(out, wire::reserved, reserved, 2);
    put_le(out, wire::body_len, body_len.value_or(static_cast<std::uint32_t>(body.size())), 4);
    out += from;
    out += to;
    out += type;
    out += text;
    out += body;
    put_le(out, wire::length, length.value_or(static_cast<std::uint32_t>(out.size())), 4);
    return out;
  }
};

// ---- Messages ------------------------------------------------------------------------------

inline rc::Gen<std::string> gen_bytes() {
  return rc::gen::container<std::string>(rc::gen::cast<char>(rc::gen::inRange<int>(-128, 128)));
}

// A valid operation name: [a-z0-9_.-], 1 to max_type_bytes.
inline rc::Gen<std::string> gen_type_token() {
  return rc::gen::exec([] {
    static constexpr std::string_view chars = "abcdefghijklmnopqrstuvwxyz0123456789_.-";
    int len = *rc::gen::weightedOneOf<int>(
        {{8, rc::gen::inRange(1, 12)},
         {1, rc::gen::inRange(1, static_cast<int>(core::max_type_bytes) + 1)},
         {1, rc::gen::just(static_cast<int>(core::max_type_bytes))}});
    std::string s;
    for (int i = 0; i < len; ++i)
      s += chars[*rc::gen::inRange<std::size_t>(0, chars.size())];
    return s;
  });
}

// A message that encode accepts. `text` and `body` generate those fields (arbitrary bytes
// for the binary codec, valid UTF-8 where JSON is involved). The binary codec carries text
// on every kind; the JSON form only on errors (`text_only_on_errors`).
inline rc::Gen<core::message> gen_message(rc::Gen<std::string> text, rc::Gen<std::string> body,
                                          bool text_only_on_errors) {
  return rc::gen::exec([text, body, text_only_on_errors] {
    using core::msg_kind;
    auto nonzero = rc::gen::suchThat(rc::gen::arbitrary<std::uint64_t>(),
                                     [](std::uint64_t x) { return x != 0; });
    core::message m;
    m.id = *rc::gen::weightedOneOf<std::uint64_t>({{3, rc::gen::inRange<std::uint64_t>(1, 1000)},
                                                   {1, rc::gen::just(UINT64_MAX)},
                                                   {3, nonzero}});
    m.kind = *rc::gen::element(msg_kind::request, msg_kind::response, msg_kind::notification,
                               msg_kind::error);
    m.from = *gen_concrete_address();
    m.to = *gen_address();
    if (m.kind == msg_kind::response || m.kind == msg_kind::error) m.correlation = *nonzero;
    m.type = *gen_type_token();
    m.ttl_ms = *rc::gen::arbitrary<std::uint32_t>();
    m.hops = *rc::gen::arbitrary<std::uint8_t>();
    if (m.kind == msg_kind::error)
      m.code = static_cast<core::errc>(*rc::gen::inRange<int>(1, core::errc_max + 1));
    if (m.kind == msg_kind::error || !text_only_on_errors) {
      m.text = *text;
      if (m.text.size() > core::max_text_bytes) m.text.resize(core::max_text_bytes);
    }
    m.body = *body;
    return m;
  });
}
inline rc::Gen<core::message> gen_message() {
  return gen_message(gen_bytes(), gen_bytes(), false);
}

}  // namespace ccp::test
