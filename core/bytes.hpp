#pragma once
// Byte-string comparisons for the forwarding paths, inline.
//
// string_view's ==, compare and starts_with call the C library's memcmp unless the length
// is a compile-time constant; for the short hosts, ids and operation names of a frame
// header that call (and its size dispatch) was a sixth of an agent's forwarding cost.
// These compare the same bytes with the same result, without the call.

#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <functional>
#include <string_view>

namespace ccp::core {

namespace bytes_detail {
template <typename T>
inline T load(const char* p) noexcept {
  T v;
  std::memcpy(&v, p, sizeof v);  // one unaligned load
  return v;
}
}  // namespace bytes_detail

// a == b. Up to 16 bytes with two overlapping loads from each side, the way memcmp's
// short cases do it.
[[nodiscard, gnu::always_inline]] inline bool same_bytes(std::string_view a,
                                                         std::string_view b) noexcept {
  using bytes_detail::load;
  const std::size_t n = a.size();
  if (n != b.size()) return false;
  const char* p = a.data();
  const char* q = b.data();
  if (n >= 8) {
    if (n > 16) return std::memcmp(p, q, n) == 0;
    return ((load<std::uint64_t>(p) ^ load<std::uint64_t>(q)) |
            (load<std::uint64_t>(p + n - 8) ^ load<std::uint64_t>(q + n - 8))) == 0;
  }
  if (n >= 4)
    return ((load<std::uint32_t>(p) ^ load<std::uint32_t>(q)) |
            (load<std::uint32_t>(p + n - 4) ^ load<std::uint32_t>(q + n - 4))) == 0;
  // 0 to 3 bytes: positions 0, n/2 and n-1 cover them all.
  return n == 0 || (p[0] == q[0] && p[n / 2] == q[n / 2] && p[n - 1] == q[n - 1]);
}

// s.starts_with(prefix), inline: eight bytes at a time, the last word overlapping, where
// std::string_view's compare is a call to memcmp.
[[nodiscard, gnu::always_inline]] inline bool starts_with_bytes(std::string_view s,
                                                                std::string_view prefix) noexcept {
  using bytes_detail::load;
  const std::size_t n = prefix.size();
  if (s.size() < n) return false;
  if (n < 8) return same_bytes(s.substr(0, n), prefix);
  const char* p = s.data();
  const char* q = prefix.data();
  std::uint64_t diff = 0;
  for (std::size_t i = 0; i + 8 < n; i += 8)
    diff |= load<std::uint64_t>(p + i) ^ load<std::uint64_t>(q + i);
  return (diff | (load<std::uint64_t>(p + n - 8) ^ load<std::uint64_t>(q + n - 8))) == 0;
}

// s.find(c, from), inline: eight bytes at a time (the zero bytes of a word xor-ed with c,
// marked exactly, without the borrow of the shorter has-zero test), where
// std::string_view's find is a call to memchr. For short strings such as hosts.
[[nodiscard, gnu::always_inline]] inline std::size_t find_byte(std::string_view s, char c,
                                                               std::size_t from) noexcept {
  using bytes_detail::load;
  constexpr std::uint64_t lows = 0x7F7F7F7F7F7F7F7FULL;
  const std::uint64_t pattern = 0x0101010101010101ULL * static_cast<unsigned char>(c);
  std::size_t i = from;
  for (; i + 8 <= s.size(); i += 8) {
    const std::uint64_t x = load<std::uint64_t>(s.data() + i) ^ pattern;
    const std::uint64_t zero = ~(((x & lows) + lows) | x | lows);  // 0x80 where a byte is 0
    if (zero == 0) continue;
    const int bit = std::endian::native == std::endian::little ? std::countr_zero(zero)
                                                               : std::countl_zero(zero);
    return i + static_cast<std::size_t>(bit) / 8;
  }
  for (; i < s.size(); ++i)
    if (s[i] == c) return i;
  return std::string_view::npos;
}

// a.compare(b) as a sign: unsigned bytes, then the shorter first (char_traits<char>).
// Eight bytes at a time as big-endian words, whose order is the bytes' order.
[[nodiscard]] inline int compare_bytes(std::string_view a, std::string_view b) noexcept {
  const std::size_t n = a.size() < b.size() ? a.size() : b.size();
  const char* p = a.data();
  const char* q = b.data();
  auto word = [](const char* at) {
    auto w = bytes_detail::load<std::uint64_t>(at);
    if constexpr (std::endian::native == std::endian::little) w = std::byteswap(w);
    return w;
  };
  if (n >= 8) {
    // Whole words, then the last eight bytes, overlapping what was found equal.
    for (std::size_t i = 0;; i += 8) {
      const std::size_t at = i + 8 <= n ? i : n - 8;
      const std::uint64_t x = word(p + at);
      const std::uint64_t y = word(q + at);
      if (x != y) return x < y ? -1 : 1;
      if (at + 8 == n) break;
    }
  } else {
    for (std::size_t i = 0; i < n; ++i)
      if (p[i] != q[i])
        return static_cast<unsigned char>(p[i]) < static_cast<unsigned char>(q[i]) ? -1 : 1;
  }
  return a.size() < b.size() ? -1 : (a.size() > b.size() ? 1 : 0);
}

// std::less<> for maps keyed by std::string and searched with string_view: the same order.
struct bytes_less {
  using is_transparent = void;
  bool operator()(std::string_view a, std::string_view b) const noexcept {
    return compare_bytes(a, b) < 0;
  }
};

// Hash and equality for unordered maps keyed by std::string and searched with string_view.
// Up to 16 bytes (hosts, ids) the hash is the loads same_bytes makes, mixed by two
// multiplications, inline: std::hash's out-of-line murmur call was half the cost of a
// proxy's route lookup (callgrind). Longer strings use std::hash.
struct bytes_hash {
  using is_transparent = void;
  [[gnu::always_inline]] std::size_t operator()(std::string_view s) const noexcept {
    using bytes_detail::load;
    const std::size_t n = s.size();
    const char* p = s.data();
    std::uint64_t a = 0;
    std::uint64_t b = 0;
    if (n >= 8) {
      if (n > 16) return std::hash<std::string_view>{}(s);
      a = load<std::uint64_t>(p);
      b = load<std::uint64_t>(p + n - 8);
    } else if (n >= 4) {
      a = load<std::uint32_t>(p);
      b = load<std::uint32_t>(p + n - 4);
    } else if (n > 0) {  // positions 0, n/2 and n-1 cover 1 to 3 bytes
      a = static_cast<unsigned char>(p[0]) | static_cast<unsigned char>(p[n / 2]) << 8 |
          static_cast<unsigned char>(p[n - 1]) << 16;
    }
    // The length and both words determine the bytes; the multiplications spread them.
    const std::uint64_t h = (a * 0x9e3779b97f4a7c15ULL) ^ ((b ^ n) * 0xc2b2ae3d27d4eb4fULL);
    return static_cast<std::size_t>(h ^ (h >> 29));
  }
};
struct bytes_equal {
  using is_transparent = void;
  [[gnu::always_inline]] bool operator()(std::string_view a, std::string_view b) const noexcept {
    return same_bytes(a, b);
  }
};

// s.starts_with(lit) for a string literal: a fixed-length memcmp, which GCC expands inline.
template <std::size_t N>
[[nodiscard]] inline bool starts_with_lit(std::string_view s, const char (&lit)[N]) noexcept {
  return s.size() >= N - 1 && std::memcmp(s.data(), lit, N - 1) == 0;
}
// s == lit for a string literal, likewise.
template <std::size_t N>
[[nodiscard]] inline bool equals_lit(std::string_view s, const char (&lit)[N]) noexcept {
  return s.size() == N - 1 && std::memcmp(s.data(), lit, N - 1) == 0;
}

}  // namespace ccp::core
