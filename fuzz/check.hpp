#pragma once
// What every fuzz target shares: a check that stops the run with a message (libFuzzer then
// saves the input as crash-*), and small readers of the fuzz input.

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

namespace ccp::fuzz {

// Stops the run when `ok` is false: a broken property is a finding like a crash. abort()
// rather than a throw, so that nothing on the way can catch it.
inline void check(bool ok, std::string_view what) {
  if (ok) return;
  std::fprintf(stderr, "fuzz check failed: %.*s\n", static_cast<int>(what.size()), what.data());
  std::abort();
}

// Reads the fuzz input from the front, a byte or a few at a time; past the end it yields
// zeros and empty strings, so a decoder of events never runs out of input mid-event.
class input {
 public:
  input(const std::uint8_t* data, std::size_t size) : p_(data), n_(size) {}

  [[nodiscard]] bool empty() const noexcept { return n_ == 0; }
  [[nodiscard]] std::size_t left() const noexcept { return n_; }

  std::uint8_t byte() noexcept {
    if (n_ == 0) return 0;
    --n_;
    return *p_++;
  }
  std::uint16_t u16() noexcept {
    const auto lo = byte();
    return static_cast<std::uint16_t>(lo | (byte() << 8));
  }
  std::uint32_t u32() noexcept {
    const std::uint32_t lo = u16();
    return lo | (static_cast<std::uint32_t>(u16()) << 16);
  }
  std::uint64_t u64() noexcept {
    const std::uint64_t lo = u32();
    return lo | (static_cast<std::uint64_t>(u32()) << 32);
  }
  // A string of up to `max` bytes, its length given by the next two bytes.
  std::string bytes(std::size_t max) {
    std::size_t len = u16() % (max + 1);
    if (len > n_) len = n_;
    std::string s(reinterpret_cast<const char*>(p_), len);
    p_ += len;
    n_ -= len;
    return s;
  }
  // Picks one of `items` (an array), by the next byte.
  template <class T, std::size_t N>
  const T& pick(const T (&items)[N]) noexcept {
    return items[byte() % N];
  }

 private:
  const std::uint8_t* p_;
  std::size_t n_;
};

}  // namespace ccp::fuzz
