#include "core/flat_map.hpp"

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <gtest/gtest.h>
#include <rapidcheck.h>
#include <rapidcheck/gtest.h>

#include "core/bytes.hpp"

namespace ccp::core {
namespace {

using id_map = flat_map<std::uint64_t, int, std::hash<std::uint64_t>, std::equal_to<>>;
using text_map = flat_map<std::string, int, bytes_hash, bytes_equal>;

// Every key hashes to one of four values: long probe runs that wrap around the end of the
// table, and erasures in the middle of them.
struct four_hashes {
  std::size_t operator()(std::uint64_t k) const noexcept { return k % 4; }
};
using crowded_map = flat_map<std::uint64_t, int, four_hashes, std::equal_to<>>;

TEST(FlatMap, StartsEmptyAndFindsNothing) {
  id_map m;
  EXPECT_TRUE(m.empty());
  EXPECT_EQ(m.size(), 0u);
  EXPECT_EQ(m.find(std::uint64_t{0}), nullptr);
  EXPECT_FALSE(m.contains(std::uint64_t{42}));
  EXPECT_FALSE(m.erase(std::uint64_t{42}));
}

TEST(FlatMap, AssignAddsOrReplaces) {
  id_map m;
  EXPECT_EQ(m.assign(7, 70), 70);
  EXPECT_EQ(m.assign(8, 80), 80);
  EXPECT_EQ(m.size(), 2u);
  EXPECT_EQ(m.assign(7, 71), 71);  // replaced, not added
  EXPECT_EQ(m.size(), 2u);
  ASSERT_NE(m.find(std::uint64_t{7}), nullptr);
  EXPECT_EQ(*m.find(std::uint64_t{7}), 71);
  *m.find(std::uint64_t{8}) = 81;  // find gives the stored value
  EXPECT_EQ(*m.find(std::uint64_t{8}), 81);
}

// Across many doublings of the table, every key stays where find looks for it; erasing
// half leaves the other half; clear empties it and it fills again.
TEST(FlatMap, GrowsEraseAndClearKeepEveryOtherKey) {
  id_map m;
  constexpr std::uint64_t n = 10'000;
  for (std::uint64_t k = 0; k < n; ++k)
    m.assign(k * 977, static_cast<int>(k));
  ASSERT_EQ(m.size(), n);
  for (std::uint64_t k = 0; k < n; ++k) {
    const int* v = m.find(k * 977);
    ASSERT_NE(v, nullptr) << k;
    EXPECT_EQ(*v, static_cast<int>(k));
  }
  for (std::uint64_t k = 0; k < n; k += 2)
    EXPECT_TRUE(m.erase(k * 977));
  EXPECT_EQ(m.size(), n / 2);
  for (std::uint64_t k = 0; k < n; ++k)
    EXPECT_EQ(m.contains(k * 977), k % 2 == 1) << k;
  m.clear();
  EXPECT_TRUE(m.empty());
  EXPECT_FALSE(m.contains(std::uint64_t{977}));
  m.assign(977, 1);
  EXPECT_EQ(m.size(), 1u);
}

// Keys held as std::string are found by any std::string_view of the same bytes.
TEST(FlatMap, StringKeysAreFoundByViews) {
  text_map m;
  m.assign("10.0.0.1", 1);
  m.assign("web.example.com", 2);
  m.assign(std::string(40, 'h'), 3);  // longer than bytes_hash's inline case
  const std::string probe = "x10.0.0.1";
  ASSERT_NE(m.find(std::string_view(probe).substr(1)), nullptr);
  EXPECT_EQ(*m.find(std::string_view(probe).substr(1)), 1);
  EXPECT_EQ(*m.find(std::string_view("web.example.com")), 2);
  EXPECT_EQ(*m.find(std::string_view(std::string(40, 'h'))), 3);
  EXPECT_EQ(m.find(std::string_view("10.0.0.2")), nullptr);
  EXPECT_TRUE(m.erase(std::string_view("web.example.com")));
  EXPECT_EQ(m.find(std::string_view("web.example.com")), nullptr);
  EXPECT_EQ(*m.find(std::string_view("10.0.0.1")), 1);
}

// Erasing releases what the value held at once; a value behind a unique_ptr keeps its
// address while the table grows (what a proxy's link states rely on).
TEST(FlatMap, ValuesAreReleasedOnEraseAndPointeesStayPut) {
  flat_map<std::uint64_t, std::shared_ptr<int>, std::hash<std::uint64_t>, std::equal_to<>> shared;
  auto p = std::make_shared<int>(5);
  shared.assign(1, p);
  EXPECT_EQ(p.use_count(), 2);
  shared.erase(std::uint64_t{1});
  EXPECT_EQ(p.use_count(), 1);

  flat_map<std::uint64_t, std::unique_ptr<int>, std::hash<std::uint64_t>, std::equal_to<>> owned;
  const int* first = owned.assign(0, std::make_unique<int>(0)).get();
  for (std::uint64_t k = 1; k < 1000; ++k)
    owned.assign(k, std::make_unique<int>(static_cast<int>(k)));
  EXPECT_EQ(owned.find(std::uint64_t{0})->get(), first);
}

// A random sequence of assignments, erasures and lookups, on a map whose keys crowd into
// four probe runs, agrees with std::map at every step: the same size, every key of the
// model found with its value, keys outside it not found.
RC_GTEST_PROP(FlatMapProps, AgreesWithAModelUnderCollisions, ()) {
  crowded_map m;
  std::map<std::uint64_t, int> model;
  const auto steps = *rc::gen::inRange<std::size_t>(1, 300);
  for (std::size_t i = 0; i < steps; ++i) {
    const auto key = *rc::gen::inRange<std::uint64_t>(0, 64);
    const auto op = *rc::gen::inRange(0, 3);
    if (op == 0) {
      const auto value = *rc::gen::arbitrary<int>();
      m.assign(key, value);
      model[key] = value;
    } else if (op == 1) {
      RC_ASSERT(m.erase(key) == (model.erase(key) == 1));
    } else {
      const int* v = m.find(key);
      auto it = model.find(key);
      RC_ASSERT((v != nullptr) == (it != model.end()));
      if (v) RC_ASSERT(*v == it->second);
    }
    RC_ASSERT(m.size() == model.size());
    for (const auto& [k, v] : model) {
      const int* found = m.find(k);
      const bool present = found != nullptr;  // rapidcheck would print a null pointee
      RC_ASSERT(present);
      RC_ASSERT(*found == v);
    }
    std::size_t seen = 0;
    m.for_each([&](std::uint64_t k, int v) {
      ++seen;
      RC_ASSERT(model.at(k) == v);
    });
    RC_ASSERT(seen == model.size());
  }
}

}  // namespace
}  // namespace ccp::core
