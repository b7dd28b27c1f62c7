#include "core/subject_text.hpp"

#include <cstring>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>
#include <rapidcheck.h>
#include <rapidcheck/gtest.h>

namespace ccp::core {
namespace {

// What every subject_text must be: the same bytes as the std::string built alike,
// NUL-terminated, and on the heap exactly when longer than the inline buffer.
void expect_text(const subject_text& s, const std::string& want) {
  EXPECT_EQ(s.view(), want);
  EXPECT_EQ(s.size(), want.size());
  EXPECT_EQ(std::strlen(s.c_str()), want.size());
  EXPECT_EQ(s.on_heap(), want.size() > subject_text::inline_bytes);
}

TEST(SubjectText, InlineUpToItsBufferThenOnTheHeap) {
  const std::size_t n = subject_text::inline_bytes;
  for (std::size_t len : {std::size_t{0}, std::size_t{1}, n - 1, n, n + 1, 4 * n}) {
    SCOPED_TRACE(len);
    const std::string want(len, 'x');
    expect_text(subject_text(want), want);
    subject_text built;  // one byte at a time: crosses the boundary while appending
    for (char c : want)
      built += c;
    expect_text(built, want);
  }
}

TEST(SubjectText, CopiesMovesAndAssignmentsKeepTheText) {
  for (const std::string& want :
       {std::string("ccp.mgmt.10_0_0_1.m1"), std::string(200, 'h'), std::string()}) {
    SCOPED_TRACE(want.size());
    const subject_text a(want);
    subject_text copy(a);
    expect_text(copy, want);
    subject_text moved(std::move(copy));
    expect_text(moved, want);
    expect_text(copy, "");  // NOLINT(bugprone-use-after-move): moved-from is empty
    subject_text assigned("something else, long enough to need the heap: " + std::string(80, 'z'));
    assigned = a;
    expect_text(assigned, want);
    subject_text move_assigned("short");
    move_assigned = std::move(assigned);
    expect_text(move_assigned, want);
    move_assigned = move_assigned;  // NOLINT: self-assignment keeps the text
    expect_text(move_assigned, want);
    expect_text(a, want);
  }
}

TEST(SubjectText, ComparesWithEveryStringType) {
  const subject_text s("ccp.ep.e1");
  EXPECT_TRUE(s == "ccp.ep.e1");
  EXPECT_TRUE(s == std::string("ccp.ep.e1"));
  EXPECT_TRUE(s == std::string_view("ccp.ep.e1"));
  EXPECT_TRUE(s == subject_text("ccp.ep.e1"));
  EXPECT_FALSE(s == "ccp.ep.e2");
  EXPECT_TRUE(s != "ccp.ep");
  std::ostringstream os;
  os << s;
  EXPECT_EQ(os.str(), "ccp.ep.e1");
}

// Built from random pieces (chars and views, short and long), copied and moved in random
// order: always the bytes of the std::string built from the same pieces.
RC_GTEST_PROP(SubjectText, AppendsAgreeWithStdString, ()) {
  const auto pieces = *rc::gen::container<std::vector<std::string>>(
      rc::gen::container<std::string>(rc::gen::inRange('a', 'z')));
  std::string want;
  subject_text s;
  for (const std::string& p : pieces) {
    if (p.size() == 1)
      s += p[0];
    else
      s += std::string_view(p);
    want += p;
    if (*rc::gen::inRange(0, 4) == 0) {
      subject_text c(s);
      s = std::move(c);
    }
  }
  RC_ASSERT(s.view() == want);
  RC_ASSERT(std::string(s.c_str()) == want);
  RC_ASSERT(subject_text(s).view() == want);
}

}  // namespace
}  // namespace ccp::core
