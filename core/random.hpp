#pragma once
// The core's random generator: xoshiro256** seeded through splitmix64. The algorithm is
// ours, so a seed gives the same sequence on every standard library (the simulator's
// traces depend on it). Never use std::*_distribution with it in anything that reaches
// a decision or a trace.

#include <cstdint>

namespace ccp::core {

// The first message id of a process seeded with `seed`: its incarnation in the high 32
// bits, a counter from zero in the low ones. Hosts seed every start of a process
// differently (the simulator from its generator, the daemons from the clock and the pid),
// so a late reply to an earlier incarnation never matches a request of this one, and two
// clients that share an address do not take each other's replies.
[[nodiscard]] constexpr std::uint64_t first_message_id(std::uint64_t seed) noexcept {
  std::uint64_t z = seed + 0x6a09e667f3bcc909ull;  // not the generator's own first step
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return (z ^ (z >> 31)) & 0xffffffff00000000ull;
}

class rng {
  __extension__ using u128 = unsigned __int128;

 public:
  explicit rng(std::uint64_t seed = 0x9e3779b97f4a7c15ull) noexcept {
    for (auto& w : s_)
      w = splitmix(seed);
  }

  std::uint64_t next() noexcept {
    const std::uint64_t result = rotl(s_[1] * 5, 7) * 9;
    const std::uint64_t t = s_[1] << 17;
    s_[2] ^= s_[0];
    s_[3] ^= s_[1];
    s_[1] ^= s_[2];
    s_[0] ^= s_[3];
    s_[2] ^= t;
    s_[3] = rotl(s_[3], 45);
    return result;
  }

  // Uniform in [0, n), n > 0: Lemire's multiply-and-reject, unbiased.
  std::uint64_t below(std::uint64_t n) noexcept {
    if (n <= 1) return 0;
    while (true) {
      u128 m = static_cast<u128>(next()) * n;
      auto low = static_cast<std::uint64_t>(m);
      if (low >= n || low >= (0 - n) % n) return static_cast<std::uint64_t>(m >> 64);
    }
  }

  // Uniform in [lo, hi], lo <= hi. Unsigned arithmetic: hi - lo overflows an int64_t when
  // the range is wider than INT64_MAX, and the full range has 2^64 values.
  std::int64_t between(std::int64_t lo, std::int64_t hi) noexcept {
    const auto span = static_cast<std::uint64_t>(hi) - static_cast<std::uint64_t>(lo);
    const auto offset = span == UINT64_MAX ? next() : below(span + 1);
    return static_cast<std::int64_t>(static_cast<std::uint64_t>(lo) + offset);
  }

  // A new generator whose sequence is independent of this one's next outputs.
  rng split() noexcept { return rng(next()); }

 private:
  static std::uint64_t splitmix(std::uint64_t& x) noexcept {
    std::uint64_t z = (x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }
  static std::uint64_t rotl(std::uint64_t x, int k) noexcept { return (x << k) | (x >> (64 - k)); }

  std::uint64_t s_[4];
};

}  // namespace ccp::core
