#include "net/frame_batch.hpp"

#include <gtest/gtest.h>
#include <rapidcheck.h>
#include <rapidcheck/gtest.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace ccp::net {
namespace {

std::vector<core::frame_ptr> frames_of(const std::vector<std::string>& texts) {
  std::vector<core::frame_ptr> out;
  for (const auto& t : texts)
    out.push_back(std::make_shared<const std::string>(t));
  return out;
}

std::vector<std::string> split(std::string_view payload, bool& ok) {
  std::vector<std::string_view> views;
  ok = split_batch(payload, views);
  return {views.begin(), views.end()};
}

TEST(FrameBatch, HeaderAndLengthsAreAsDocumented) {
  std::string out;
  encode_batch(frames_of({"ab", ""}), out);
  EXPECT_EQ(out, std::string("\xCB\x01\x02\x00"
                             "\x02\x00\x00\x00"
                             "ab"
                             "\x00\x00\x00\x00",
                             14));
  encode_batch(std::vector<core::frame_ptr>{nullptr}, out);  // a null frame is an empty one
  EXPECT_EQ(out, std::string("\xCB\x01\x01\x00\x00\x00\x00\x00", 8));
  EXPECT_EQ(out.size(), batch_size(1, 0));
}

TEST(FrameBatch, OnlyPayloadsStartingWithTheMagicNeedABatch) {
  EXPECT_FALSE(needs_batch(""));
  EXPECT_FALSE(needs_batch("\xCC\x01"));  // a core frame
  EXPECT_TRUE(needs_batch("\xCB"));
  EXPECT_TRUE(needs_batch("\xCBwhatever"));
}

TEST(FrameBatch, MalformedBatchesAreRefusedWhole) {
  std::string good;
  encode_batch(frames_of({"one", "two"}), good);
  bool ok = true;
  EXPECT_EQ(split(good, ok), (std::vector<std::string>{"one", "two"}));
  EXPECT_TRUE(ok);

  auto refused = [&](std::string bad) {
    bool r = true;
    const auto got = split(bad, r);
    return !r && got.empty();
  };
  EXPECT_TRUE(refused(""));
  EXPECT_TRUE(refused(good.substr(0, 3)));                            // header cut short
  EXPECT_TRUE(refused("\xCC" + good.substr(1)));                      // not the batch magic
  EXPECT_TRUE(refused(good.substr(0, 1) + "\x02" + good.substr(2)));  // version 2
  EXPECT_TRUE(refused(std::string("\xCB\x01\x00\x00", 4)));           // count 0
  EXPECT_TRUE(refused(good.substr(0, good.size() - 1)));              // last frame cut short
  EXPECT_TRUE(refused(good + "x"));                                   // bytes after the last frame
  std::string more = good;
  more[2] = 3;  // says three frames, holds two
  EXPECT_TRUE(refused(more));
  std::string fewer = good;
  fewer[2] = 1;  // says one frame, holds two: the second is trailing bytes
  EXPECT_TRUE(refused(fewer));
  std::string longer = good;
  longer[4] = 0x7f;  // the first length runs past the end
  EXPECT_TRUE(refused(longer));
}

TEST(FrameBatch, TheLargestCountRoundTrips) {
  std::vector<core::frame_ptr> frames(max_batch_frames, std::make_shared<const std::string>("f"));
  std::string out;
  encode_batch(frames, out);
  std::vector<std::string_view> views;
  ASSERT_TRUE(split_batch(out, views));
  EXPECT_EQ(views.size(), max_batch_frames);
}

// Whatever frames go in (any bytes, empty ones, frames that start with either magic) come
// out of split_batch as they went in, in order.
RC_GTEST_PROP(FrameBatchProps, SplitGivesBackTheFramesEncoded, ()) {
  const auto texts = *rc::gen::nonEmpty(rc::gen::container<std::vector<std::string>>(
      rc::gen::container<std::string>(rc::gen::arbitrary<char>())));
  RC_PRE(texts.size() <= max_batch_frames);
  std::string out;
  encode_batch(frames_of(texts), out);
  std::size_t bytes = 0;
  for (const auto& t : texts)
    bytes += t.size();
  RC_ASSERT(out.size() == batch_size(texts.size(), bytes));
  bool ok = false;
  RC_ASSERT(split(out, ok) == texts);
  RC_ASSERT(ok);
}

// Any payload starting with the magic is split or refused, never read past its end; what
// splits is exactly the encoding of the frames it gave (one encoding per batch).
RC_GTEST_PROP(FrameBatchProps, AnyPayloadSplitsCanonicallyOrIsRefused, ()) {
  const auto tail = *rc::gen::container<std::string>(rc::gen::arbitrary<char>());
  // Half the cases from a valid batch with bytes changed, so that splits happen often.
  std::string payload;
  if (*rc::gen::arbitrary<bool>()) {
    const auto texts = *rc::gen::nonEmpty(rc::gen::container<std::vector<std::string>>(
        rc::gen::container<std::string>(rc::gen::elementOf(std::string("ab\x00\x01\xCB", 5)))));
    RC_PRE(texts.size() <= max_batch_frames);
    encode_batch(frames_of(texts), payload);
    const auto at = *rc::gen::inRange<std::size_t>(0, payload.size());
    payload[at] = static_cast<char>(*rc::gen::arbitrary<std::uint8_t>());
    if (*rc::gen::arbitrary<bool>())
      payload.resize(*rc::gen::inRange<std::size_t>(0, payload.size()));
  } else {
    payload = "\xCB" + tail;
  }
  std::vector<std::string_view> views;
  if (!split_batch(payload, views)) {
    RC_ASSERT(views.empty());
    return;
  }
  std::vector<core::frame_ptr> frames;
  for (auto v : views) {
    RC_ASSERT(v.data() >= payload.data());
    RC_ASSERT(v.data() + v.size() <= payload.data() + payload.size());
    frames.push_back(std::make_shared<const std::string>(v));
  }
  std::string again;
  encode_batch(frames, again);
  RC_ASSERT(again == payload);
}

}  // namespace
}  // namespace ccp::net
