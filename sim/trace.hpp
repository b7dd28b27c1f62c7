#pragma once
// The simulator's trace: the lines a run writes (scenarios/README.md, "Trace" documents
// every event and field), the fingerprint a run prints, and the small text helpers its
// writers share.
//
// Two kinds of line. Outcome lines (deliver, complete, fault, fault_end, heal, balance) are
// always built and hashed into the fingerprint. Explanation lines (dial, link_up,
// link_down, attach, detach, send, notify) are built only when a file is open (`ccp sim
// --trace`) and are never hashed: they cost nothing without --trace, and --trace never
// changes the printed hash.

#include <charconv>
#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>

namespace ccp::sim {

// A running 64-bit hash of the outcome lines (trace_sink::line says how): the fingerprint
// a run prints. Optionally writes every line to a file as well.
class trace_sink {
 public:
  explicit trace_sink(std::FILE* out = nullptr) : out_(out) {}
  // An outcome line: hashed, and written when a file is open.
  void line(std::string_view s);
  // Whether a file is open: the writers of explanation lines build them only then.
  [[nodiscard]] bool writing() const noexcept { return out_ != nullptr; }
  // An explanation line: written when a file is open, never hashed.
  void explain(std::string_view s);
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
