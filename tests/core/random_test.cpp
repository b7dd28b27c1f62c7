#include "core/random.hpp"

#include <algorithm>
#include <array>
#include <cstdint>
#include <limits>
#include <set>
#include <vector>

#include <gtest/gtest.h>
#include <rapidcheck.h>
#include <rapidcheck/gtest.h>

#include "core/agent.hpp"
#include "core/limits.hpp"

namespace ccp::core {
namespace {

constexpr std::int64_t i64_min = std::numeric_limits<std::int64_t>::min();
constexpr std::int64_t i64_max = std::numeric_limits<std::int64_t>::max();

std::vector<std::uint64_t> first(rng r, std::size_t n) {
  std::vector<std::uint64_t> out;
  for (std::size_t i = 0; i < n; ++i)
    out.push_back(r.next());
  return out;
}

// ---- The generator -------------------------------------------------------------------------

// The first outputs of xoshiro256** seeded through splitmix64 with 42, computed once with an
// independent implementation of the published algorithms (whose splitmix64 gives
// 0xe220a8397b1dcdaf for seed 0, the reference value). Pinned so that a change of algorithm,
// or a standard library that computes differently, fails here and not in a trace.
TEST(Rng, KnownAnswerForSeed42) {
  EXPECT_EQ(first(rng(42), 3),
            (std::vector<std::uint64_t>{0x15780b2e0c2ec716ull, 0x6104d9866d113a7eull,
                                        0xae17533239e499a1ull}));
}

TEST(Rng, SameSeedGivesTheSameSequence) {
  for (std::uint64_t seed : {0ull, 1ull, 42ull, 0x9e3779b97f4a7c15ull, ~0ull})
    EXPECT_EQ(first(rng(seed), 64), first(rng(seed), 64)) << "seed " << seed;
}

TEST(Rng, DefaultSeedIsFixed) {
  EXPECT_EQ(first(rng(), 16), first(rng(), 16));
}

TEST(Rng, DifferentSeedsGiveDifferentSequences) {
  std::set<std::vector<std::uint64_t>> seen;
  for (std::uint64_t seed = 0; seed < 256; ++seed)
    seen.insert(first(rng(seed), 4));
  EXPECT_EQ(seen.size(), 256u);
  EXPECT_NE(first(rng(1), 4), first(rng(2), 4));
}

TEST(Rng, OutputsAreNotTriviallyRepeating) {
  auto v = first(rng(7), 1000);
  EXPECT_EQ(std::set<std::uint64_t>(v.begin(), v.end()).size(), v.size());
}

TEST(Rng, BelowZeroAndOneAreZero) {
  rng r(3);
  for (int i = 0; i < 100; ++i) {
    EXPECT_EQ(r.below(1), 0u);
    EXPECT_EQ(r.below(0), 0u);  // outside the contract (n > 0), but still defined
  }
}

TEST(Rng, BelowTwoGivesBothValues) {
  rng r(5);
  std::array<int, 2> count{};
  for (int i = 0; i < 1000; ++i)
    ++count[r.below(2)];
  EXPECT_GT(count[0], 400);
  EXPECT_GT(count[1], 400);
}

TEST(Rng, BelowCoversSmallRangesEvenly) {
  rng r(11);
  constexpr std::uint64_t n = 10;
  std::array<int, n> count{};
  for (int i = 0; i < 10000; ++i)
    ++count[r.below(n)];
  for (int c : count) {
    EXPECT_GT(c, 800);
    EXPECT_LT(c, 1200);
  }
}

TEST(Rng, BelowLargeBoundsStayBelow) {
  rng r(13);
  for (std::uint64_t n : {~0ull, (~0ull >> 1) + 1, (~0ull >> 1) + 2, 3ull << 62}) {
    for (int i = 0; i < 1000; ++i)
      ASSERT_LT(r.below(n), n) << "n " << n;
  }
}

RC_GTEST_PROP(RngProps, BelowIsAlwaysBelowN, (std::uint64_t seed, std::uint64_t n)) {
  RC_PRE(n > 0);
  rng r(seed);
  for (int i = 0; i < 32; ++i)
    RC_ASSERT(r.below(n) < n);
}

struct between_case {
  std::int64_t lo;
  std::int64_t hi;
};

class RngBetween : public testing::TestWithParam<between_case> {};

// Both ends are reachable and nothing outside them is returned.
TEST_P(RngBetween, StaysWithinInclusiveBoundsAndReachesBoth) {
  auto [lo, hi] = GetParam();
  rng r(17);
  bool saw_lo = false;
  bool saw_hi = false;
  for (int i = 0; i < 2000; ++i) {
    auto v = r.between(lo, hi);
    ASSERT_GE(v, lo);
    ASSERT_LE(v, hi);
    saw_lo = saw_lo || v == lo;
    saw_hi = saw_hi || v == hi;
  }
  EXPECT_TRUE(saw_lo);
  EXPECT_TRUE(saw_hi);
}

INSTANTIATE_TEST_SUITE_P(SmallRanges, RngBetween,
                         testing::Values(between_case{0, 0}, between_case{0, 1},
                                         between_case{-1, 1}, between_case{-5, -3},
                                         between_case{10, 15}, between_case{i64_max - 1, i64_max},
                                         between_case{i64_min, i64_min + 1},
                                         between_case{i64_max, i64_max},
                                         between_case{i64_min, i64_min}),
                         [](const auto& tp) { return "case" + std::to_string(tp.index); });

// Ranges wider than INT64_MAX, where hi - lo does not fit an int64_t: the draws stay in
// bounds and fall in both halves of the range.
TEST(Rng, BetweenWideRangesCoverBothHalves) {
  for (auto [lo, hi] : {std::pair{i64_min, i64_max}, std::pair{i64_min, std::int64_t{1}},
                        std::pair{std::int64_t{-1}, i64_max}, std::pair{i64_min, std::int64_t{0}},
                        std::pair{i64_min + 1, i64_max}}) {
    const auto span = static_cast<std::uint64_t>(hi) - static_cast<std::uint64_t>(lo);
    const auto mid = static_cast<std::int64_t>(static_cast<std::uint64_t>(lo) + span / 2);
    rng r(19);
    int low = 0;
    int high = 0;
    for (int i = 0; i < 1000; ++i) {
      auto v = r.between(lo, hi);
      ASSERT_GE(v, lo);
      ASSERT_LE(v, hi);
      (v <= mid ? low : high) += 1;
    }
    EXPECT_GT(low, 400) << lo << ".." << hi;
    EXPECT_GT(high, 400) << lo << ".." << hi;
  }
}

RC_GTEST_PROP(RngProps, BetweenIsWithinBounds,
              (std::uint64_t seed, std::int64_t a, std::int64_t b)) {
  auto lo = std::min(a, b);
  auto hi = std::max(a, b);
  rng r(seed);
  for (int i = 0; i < 16; ++i) {
    auto v = r.between(lo, hi);
    RC_ASSERT(v >= lo);
    RC_ASSERT(v <= hi);
  }
}

// A split generator is seeded from one output of its parent: its sequence is not the
// parent's, not shifted by one, and a second split differs from the first.
TEST(Rng, SplitGivesIndependentLookingSequences) {
  rng parent(23);
  rng reference = parent;
  rng child = parent.split();
  rng child2 = parent.split();
  auto c = first(child, 64);
  auto c2 = first(child2, 64);
  auto p = first(parent, 64);
  auto ref = first(reference, 66);

  EXPECT_NE(c, c2);
  std::set<std::uint64_t> parent_values(ref.begin(), ref.end());
  parent_values.insert(p.begin(), p.end());
  int shared = 0;
  for (auto v : c)
    shared += parent_values.contains(v);
  for (auto v : c2)
    shared += parent_values.contains(v);
  EXPECT_EQ(shared, 0);
}

TEST(Rng, SplitIsDeterministic) {
  rng a(29);
  rng b(29);
  EXPECT_EQ(first(a.split(), 8), first(b.split(), 8));
  EXPECT_EQ(first(a, 8), first(b, 8));
}

// ---- Reconnect backoff ---------------------------------------------------------------------

// min(backoff_cap, backoff_base * 2^attempt), computed without shifting past 63 bits.
micros ceiling_of(unsigned attempt) {
  micros c = backoff_base;
  for (unsigned i = 0; i < attempt && c < backoff_cap; ++i)
    c *= 2;
  return std::min(c, backoff_cap);
}

TEST(NextDelay, CeilingTable) {
  // The model itself, checked at the points where the cap takes over: 100 ms * 2^6 = 6.4 s
  // is under the 10 s cap, 2^7 = 12.8 s is over it.
  EXPECT_EQ(ceiling_of(0), backoff_base);
  EXPECT_EQ(ceiling_of(1), 2 * backoff_base);
  EXPECT_EQ(ceiling_of(6), 64 * backoff_base);
  EXPECT_LT(ceiling_of(6), backoff_cap);
  EXPECT_EQ(ceiling_of(7), backoff_cap);
  EXPECT_EQ(ceiling_of(40), backoff_cap);
}

RC_GTEST_PROP(NextDelayProps, WithinFullJitterBounds, (std::uint64_t seed)) {
  const auto attempt = *rc::gen::inRange(0u, 41u);
  rng r(seed);
  for (int i = 0; i < 16; ++i) {
    micros d = next_delay(attempt, r);
    RC_ASSERT(d >= 0);
    RC_ASSERT(d <= ceiling_of(attempt));
  }
}

TEST(NextDelay, EveryAttemptUpTo40StaysInBounds) {
  rng r(31);
  for (unsigned attempt = 0; attempt <= 40; ++attempt) {
    for (int i = 0; i < 500; ++i) {
      micros d = next_delay(attempt, r);
      ASSERT_GE(d, 0) << "attempt " << attempt;
      ASSERT_LE(d, ceiling_of(attempt)) << "attempt " << attempt;
    }
  }
}

TEST(NextDelay, HugeAttemptsAreCapped) {
  rng r(37);
  for (unsigned attempt : {31u, 32u, 33u, 63u, 64u, 65u, 1000u, ~0u}) {
    for (int i = 0; i < 200; ++i) {
      micros d = next_delay(attempt, r);
      ASSERT_GE(d, 0) << "attempt " << attempt;
      ASSERT_LE(d, backoff_cap) << "attempt " << attempt;
    }
  }
}

TEST(NextDelay, LargeAttemptsReachCloseToTheCap) {
  rng r(41);
  for (unsigned attempt : {7u, 10u, 20u, 40u}) {
    micros top = 0;
    for (int i = 0; i < 2000; ++i)
      top = std::max(top, next_delay(attempt, r));
    EXPECT_GT(top, backoff_cap * 99 / 100) << "attempt " << attempt;
    EXPECT_LE(top, backoff_cap);
  }
}

TEST(NextDelay, MeanOfFirstAttemptIsAboutHalfTheBase) {
  rng r(43);
  constexpr int n = 20000;
  double sum = 0;
  for (int i = 0; i < n; ++i)
    sum += static_cast<double>(next_delay(0, r));
  double mean = sum / n;
  EXPECT_GT(mean, 0.45 * static_cast<double>(backoff_base));
  EXPECT_LT(mean, 0.55 * static_cast<double>(backoff_base));
}

TEST(NextDelay, SameSeedSameDelays) {
  rng a(47);
  rng b(47);
  for (unsigned attempt = 0; attempt < 20; ++attempt)
    EXPECT_EQ(next_delay(attempt, a), next_delay(attempt, b));
}

}  // namespace
}  // namespace ccp::core
