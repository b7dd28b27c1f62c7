#pragma once
// The simulator's trace: every line the run writes, hashed into the fingerprint a run
// prints, and the small text helpers its writers share.

#include <charconv>
#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>

namespace ccp::sim {

// A running 64-bit hash of the trace lines (trace_sink::line says how): the fingerprint a
// run prints. Optionally writes the lines to a file as well.
class trace_sink {
 public:
  explicit trace_sink(std::FILE* out = nullptr) : out_(out) {}
  void line(std::string_view s);
  [[nodiscard]] std::uint64_t hash() const { return hash_; }

 private:
  std::FILE* out_;
  std::uint64_t hash_ = 14695981039346656037ull;
};

// FNV-1a of `s`, continuing from `h`: the checker's key for a sender's address.
inline std::uint64_t fnv(std::string_view s, std::uint64_t h = 14695981039346656037ull) {
  for (char c : s) {
    h ^= static_cast<unsigned char>(c);
    h *= 1099511628211ull;
  }
  return h;
}

// Appends the decimal form of `v` (std::to_string's text, without a temporary).
template <class T>
void append_number(std::string& out, T v) {
  char buf[24];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, r.ptr);
}

}  // namespace ccp::sim
