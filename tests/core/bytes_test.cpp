#include "core/bytes.hpp"

#include <algorithm>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include <gtest/gtest.h>
#include <rapidcheck.h>
#include <rapidcheck/gtest.h>

namespace ccp::core {
namespace {

int sign(int v) {
  return (v > 0) - (v < 0);
}

// Pairs at the edges of the word loads: every length from 0 to 40 (the 3/4, 7/8 and 16/17
// boundaries), a difference in the first, a middle or the last byte, bytes above 0x7f
// (compared unsigned), and prefixes of each other.
TEST(Bytes, AgreeWithStringViewAtTheWordEdges) {
  for (std::size_t n = 0; n <= 40; ++n) {
    const std::string a(n, 'a');
    std::vector<std::string> others = {a, a + "a", a + "\x80", a.substr(0, n / 2)};
    for (std::size_t at : {std::size_t{0}, n / 2, n - 1}) {
      if (n == 0) break;
      for (char c : {'b', '\x01', '\xff'}) {
        std::string b = a;
        b[at] = c;
        others.push_back(b);
      }
    }
    for (const std::string& b : others) {
      SCOPED_TRACE(::testing::Message() << "n=" << n << " b.size()=" << b.size());
      EXPECT_EQ(same_bytes(a, b), std::string_view(a) == std::string_view(b));
      EXPECT_EQ(same_bytes(b, a), std::string_view(b) == std::string_view(a));
      EXPECT_EQ(compare_bytes(a, b), sign(std::string_view(a).compare(b)));
      EXPECT_EQ(compare_bytes(b, a), sign(std::string_view(b).compare(a)));
      EXPECT_EQ(bytes_less{}(a, b), std::string_view(a) < std::string_view(b));
    }
  }
}

TEST(Bytes, LiteralsCompareTheirLengthOnly) {
  EXPECT_TRUE(starts_with_lit("ccp.hello", "ccp."));
  EXPECT_TRUE(starts_with_lit("ccp.", "ccp."));
  EXPECT_FALSE(starts_with_lit("ccp", "ccp."));
  EXPECT_FALSE(starts_with_lit("cc.p", "ccp."));
  EXPECT_TRUE(equals_lit("any", "any"));
  EXPECT_FALSE(equals_lit("anyx", "any"));
  EXPECT_FALSE(equals_lit("an", "any"));
}

// Strings over a small alphabet, so that equal strings and shared prefixes are common.
rc::Gen<std::string> gen_bytes() {
  return rc::gen::container<std::string>(rc::gen::element('a', 'b', '\x7f', '\x80', '\xff'));
}

RC_GTEST_PROP(Bytes, SameBytesIsEquality, ()) {
  const auto a = *gen_bytes();
  const auto b = *rc::gen::oneOf(rc::gen::just(a), gen_bytes());
  RC_ASSERT(same_bytes(a, b) == (a == b));
}

RC_GTEST_PROP(Bytes, CompareBytesIsStringOrder, ()) {
  const auto a = *gen_bytes();
  const auto b = *rc::gen::oneOf(rc::gen::just(a), gen_bytes(),
                                 rc::gen::map(gen_bytes(), [a](std::string s) { return a + s; }));
  RC_ASSERT(compare_bytes(a, b) == sign(a.compare(b)));
  RC_ASSERT(compare_bytes(b, a) == sign(b.compare(a)));
}

// A map keyed by std::string and searched with string_view (as the proxy's route table
// is) finds exactly the keys it holds: equal bytes hash alike, whatever holds them.
RC_GTEST_PROP(Bytes, HashMapFindsByViewExactlyItsKeys, ()) {
  const auto keys = *rc::gen::container<std::vector<std::string>>(gen_bytes());
  std::unordered_map<std::string, int, bytes_hash, bytes_equal> m;
  for (const auto& k : keys)
    m.emplace(k, 0);
  const auto probe = *rc::gen::oneOf(
      rc::gen::elementOf(keys.empty() ? std::vector<std::string>{""} : keys), gen_bytes());
  const std::string copy = probe;  // other storage, same bytes
  const bool held = std::find(keys.begin(), keys.end(), probe) != keys.end();
  RC_ASSERT(m.contains(std::string_view(copy)) == held);
  RC_ASSERT(bytes_hash{}(std::string_view(copy)) == bytes_hash{}(probe));
}

}  // namespace
}  // namespace ccp::core
