#pragma once
// ccp addresses: ccp://TYPE/HOST/ID, ccp://TYPE/any|all, ccp://TYPE/HOST/any|all.
//
// Grammar (strict, total):
//   address = "ccp://" type "/" ( group / host "/" ( id / group ) )
//   type    = "mgmt" / "proxy" / "agent" / "endpoint"        (lower case only)
//   group   = "any" / "all"
//   host    = ipv4 / "[" ipv6 "]" / dns-name                   (case-insensitive)
//   id      = 1*64( ALPHA / DIGIT / "-" / "_" / "." ), not any/all in any case
// A dns-name is RFC 1123: labels of 1-63 letters, digits and '-', not starting or ending
// with '-', at most 253 bytes in all, and not ending in an all-digit label (such a name
// must be a valid dotted-quad IPv4 address instead, with no leading zeros).
// Canonical form: DNS names in lower case, IPv6 in RFC 5952 form ("[2001:db8::1]").
// Everything else (spaces, '?', '#', '%', extra or empty segments) is an error.

#include <array>
#include <compare>
#include <cstddef>
#include <cstdint>
#include <expected>
#include <optional>
#include <string>
#include <string_view>

#include "core/bytes.hpp"
#include "core/error.hpp"

namespace ccp::core {

// The four tiers of a fleet.
enum class role : std::uint8_t { mgmt = 0, proxy = 1, agent = 2, endpoint = 3 };
inline constexpr int role_count = 4;

// Which members of a type an address names.
enum class scope : std::uint8_t {
  one = 0,       // ccp://TYPE/HOST/ID: exactly that process
  any = 1,       // ccp://TYPE/any: any one live process of the type
  all = 2,       // ccp://TYPE/all: every process of the type
  host_any = 3,  // ccp://TYPE/HOST/any: any one of the type on HOST
  host_all = 4,  // ccp://TYPE/HOST/all: every one of the type on HOST
};
inline constexpr int scope_count = 5;

// Limits of the grammar; each is tested at limit-1, limit and limit+1.
inline constexpr std::size_t max_host_bytes = 255;  // 253 for DNS, bracketed IPv6 is < 48
inline constexpr std::size_t max_label_bytes = 63;  // RFC 1123
inline constexpr std::size_t max_dns_bytes = 253;   // RFC 1123
inline constexpr std::size_t max_id_bytes = 64;     // keeps subjects and frames short
inline constexpr std::size_t max_address_bytes = 6 + 8 + 1 + max_host_bytes + 1 + max_id_bytes;

std::string_view to_string(role r) noexcept;   // "mgmt", "proxy", ...
std::string_view to_string(scope s) noexcept;  // "one", "any", "all", "host_any", "host_all"

// A non-owning, already validated address: the fields point into the parsed text.
// Produced by parse_address_view; valid while that text lives.
struct address_view {
  role type = role::endpoint;
  scope form = scope::one;
  std::string_view host;  // empty for scope any/all
  std::string_view id;    // empty unless scope one
};

// Parses `text`. With `canonical_only`, the text must already be canonical (lower-case
// DNS host, RFC 5952 IPv6): this is how frames are checked, without allocating.
// Errors: a parse_error naming the problem and the byte offset in `text`.
[[nodiscard]] std::expected<address_view, parse_error> parse_address_view(
    std::string_view text, bool canonical_only = false) noexcept;

// An address value: small, cheap to copy (host and id usually fit the string's inline
// buffer), totally ordered, hashable, always canonical.
class address {
 public:
  // ccp://mgmt/any, so that every value of the type is a valid address.
  address() = default;

  // Parses and canonicalises `text`; see the grammar above.
  [[nodiscard]] static std::expected<address, parse_error> parse(std::string_view text);
  // Copies a validated view, canonicalising the host (lower case, RFC 5952).
  [[nodiscard]] static address from_view(const address_view& v);

  // Builders that validate their parts: errors as parse(), offsets relative to the part.
  [[nodiscard]] static std::expected<address, parse_error> one(role t, std::string_view host,
                                                               std::string_view id);
  [[nodiscard]] static std::expected<address, parse_error> host_group(role t, std::string_view host,
                                                                      scope form);
  [[nodiscard]] static address group(role t, scope form);  // form must be any or all

  [[nodiscard]] role type() const noexcept { return type_; }
  [[nodiscard]] scope form() const noexcept { return form_; }
  [[nodiscard]] std::string_view host() const noexcept { return host_; }
  [[nodiscard]] std::string_view id() const noexcept { return id_; }
  [[nodiscard]] bool is_group() const noexcept { return form_ != scope::one; }
  [[nodiscard]] address_view view() const noexcept { return {type_, form_, host_, id_}; }

  // Canonical text form; parse(str()) == *this.
  [[nodiscard]] std::string str() const;
  // Appends the canonical text to `out` (no temporary string).
  void append_to(std::string& out) const;

  friend bool operator==(const address&, const address&) = default;
  friend std::strong_ordering operator<=>(const address& a, const address& b) noexcept;

 private:
  role type_ = role::mgmt;
  scope form_ = scope::any;
  std::string host_;
  std::string id_;
};

namespace address_detail {
// The bytes of an id: [A-Za-z0-9._-].
inline constexpr std::array<bool, 256> id_char = [] {
  std::array<bool, 256> t{};
  for (int c = 0; c < 256; ++c)
    t[static_cast<std::size_t>(c)] = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                                     (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
  return t;
}();
}  // namespace address_detail

// Whether `id` is the id of a concrete address: 1 to max_id_bytes id bytes, and not any
// or all in any case. Inline: every frame from an agent has its sender's id checked.
[[nodiscard, gnu::always_inline]] inline bool valid_id(std::string_view id) noexcept {
  if (id.empty() || id.size() > max_id_bytes) return false;
  bool ok = true;  // branch-free: one table load per byte
  for (char c : id)
    ok &= address_detail::id_char[static_cast<unsigned char>(c)];
  if (!ok) return false;
  if (id.size() != 3) return true;
  // An id byte or-ed with 0x20 is lower case for letters and unchanged otherwise.
  const char a = static_cast<char>(id[0] | 0x20);
  const char b = static_cast<char>(id[1] | 0x20);
  const char c = static_cast<char>(id[2] | 0x20);
  return !(a == 'a' && ((b == 'n' && c == 'y') || (b == 'l' && c == 'l')));
}

// The form of a host's address whose last segment is `last`: one for a valid id, host_any
// or host_all for any or all; nullopt otherwise.
[[nodiscard, gnu::always_inline]] inline std::optional<scope> form_of_last(
    std::string_view last) noexcept {
  if (valid_id(last)) return scope::one;
  if (last == "any") return scope::host_any;
  if (last == "all") return scope::host_all;
  return std::nullopt;
}

// The canonical start "ccp://TYPE/HOST/" of the addresses of one type on one host that
// was checked already (a proxy's attached host, an agent's own): an address that starts
// with it needs only its last segment checked, not the host.
class host_prefix {
 public:
  host_prefix() = default;
  host_prefix(role type, std::string_view host);

  // What parse_address_view(text, true) returns when `text` is this prefix followed by a
  // valid id (form one) or by any/all (host_any/host_all); nullopt for anything else,
  // which the full parser then judges. Inline: it checks every frame of a forwarding path.
  [[nodiscard, gnu::always_inline]] std::optional<address_view> parse(
      std::string_view text) const noexcept {
    const std::size_t n = text_.size();
    if (n == 0 || text.size() <= n || !starts_with_bytes(text, text_)) return std::nullopt;
    const std::string_view last(text.data() + n, text.size() - n);
    const auto form = form_of_last(last);
    if (!form) return std::nullopt;
    return address_view{type_, *form, std::string_view(text.data() + host_at_, n - host_at_ - 1),
                        *form == scope::one ? last : std::string_view{}};
  }
  [[nodiscard]] std::string_view text() const noexcept { return text_; }

 private:
  std::string text_;  // empty: matches nothing
  role type_ = role::endpoint;
  std::size_t host_at_ = 0;  // where HOST starts in text_
};

// What parse_address_view(text, true) returns when `text` is a fleet-wide group,
// "ccp://TYPE/any" or "ccp://TYPE/all"; nullopt for anything else, which the full parser
// then judges. Literal compares inline: most frames from an agent go to such a group
// (ccp://mgmt/any), where the call to the parser was an eighth of the forwarding.
[[nodiscard, gnu::always_inline]] inline std::optional<address_view> parse_group(
    std::string_view text) noexcept {
  // The four lengths: "ccp://mgmt/any" 14, proxy and agent 15, endpoint 18.
  const std::size_t n = text.size();
  if (n < 14 || n > 18) return std::nullopt;
  const std::string_view tail(text.data() + n - 4, 4);
  scope form;
  if (equals_lit(tail, "/any"))
    form = scope::any;
  else if (equals_lit(tail, "/all"))
    form = scope::all;
  else
    return std::nullopt;
  const std::string_view head(text.data(), n - 4);
  role type;
  if (equals_lit(head, "ccp://mgmt"))
    type = role::mgmt;
  else if (equals_lit(head, "ccp://agent"))
    type = role::agent;
  else if (equals_lit(head, "ccp://proxy"))
    type = role::proxy;
  else if (equals_lit(head, "ccp://endpoint"))
    type = role::endpoint;
  else
    return std::nullopt;
  return address_view{type, form, {}, {}};
}

// The canonical text of a view (which is canonical when it came from a canonical parse).
std::string to_string(const address_view& v);
std::string to_string(const address& a);

// Whether concrete `member` belongs to `group`: for scope one, equality; for any/all,
// same type; for host_any/host_all, same type and host. A group address is never a member.
[[nodiscard]] bool is_member(const address_view& member, const address_view& group) noexcept;
[[nodiscard]] inline bool is_member(const address& member, const address& group) noexcept {
  return is_member(member.view(), group.view());
}

// Hash that agrees with equality; address and address_view of the same value hash alike,
// so unordered maps keyed by address can be searched with a view (no allocation).
std::size_t hash_value(const address_view& v) noexcept;
inline std::size_t hash_value(const address& a) noexcept {
  return hash_value(a.view());
}

struct address_hash {
  using is_transparent = void;
  std::size_t operator()(const address& a) const noexcept { return hash_value(a); }
  std::size_t operator()(const address_view& v) const noexcept { return hash_value(v); }
};
struct address_equal {
  using is_transparent = void;
  static bool same(const address_view& a, const address_view& b) noexcept {
    return a.type == b.type && a.form == b.form && same_bytes(a.host, b.host) &&
           same_bytes(a.id, b.id);
  }
  bool operator()(const address& a, const address& b) const noexcept { return a == b; }
  bool operator()(const address& a, const address_view& b) const noexcept {
    return same(a.view(), b);
  }
  bool operator()(const address_view& a, const address& b) const noexcept {
    return same(a, b.view());
  }
};

// Validates a host on its own (as in an address), for config and registration.
// Returns the canonical form.
[[nodiscard]] std::expected<std::string, parse_error> canonical_host(std::string_view host);

}  // namespace ccp::core

template <>
struct std::hash<ccp::core::address> {
  std::size_t operator()(const ccp::core::address& a) const noexcept { return hash_value(a); }
};
