// ccp.members notices on their own: split into parts under the byte budget, read back
// exactly, and every malformed body refused.
#include "core/members.hpp"

#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "core/control.hpp"

namespace ccp::core {
namespace {

std::vector<address> endpoints(std::size_t n) {
  std::vector<address> out;
  for (std::size_t i = 0; i < n; ++i)
    out.push_back(*address::one(role::endpoint,
                                "10.0." + std::to_string(i / 250) + "." + std::to_string(i % 250),
                                "e" + std::to_string(i)));
  return out;
}

const address kProxy = *address::parse("ccp://proxy/10.0.1.1/p1");
const address kSender = *address::parse("ccp://endpoint/10.0.0.7/e1");

TEST(Members, ASmallGroupIsOneNoticeThatReadsBackExactly) {
  auto members = endpoints(3);
  auto notices = members_notices(kProxy, kSender, 42, members);
  ASSERT_EQ(notices.size(), 1u);
  const message& m = notices[0];
  EXPECT_EQ(m.kind, msg_kind::notification);
  EXPECT_EQ(m.type, members_type);
  EXPECT_EQ(m.from, kProxy);
  EXPECT_EQ(m.to, kSender);
  auto part = read_members_notice(m.body);
  ASSERT_TRUE(part.has_value());
  EXPECT_EQ(part->request, 42u);
  EXPECT_EQ(part->part, 0u);
  EXPECT_EQ(part->parts, 1u);
  EXPECT_EQ(part->members, members);
}

TEST(Members, AnEmptyGroupIsOneNoticeWithNoMember) {
  auto notices = members_notices(kProxy, kSender, 7, {});
  ASSERT_EQ(notices.size(), 1u);
  auto part = read_members_notice(notices[0].body);
  ASSERT_TRUE(part.has_value());
  EXPECT_EQ(part->parts, 1u);
  EXPECT_TRUE(part->members.empty());
}

TEST(Members, ALargeGroupIsSplitIntoFramesThatEncodeAndTogetherNameEveryMemberOnce) {
  auto members = endpoints(10'000);  // about 300 KB of addresses: more than one frame holds
  auto notices = members_notices(kProxy, kSender, 9, members);
  ASSERT_GT(notices.size(), 1u);
  std::vector<address> got;
  for (std::size_t i = 0; i < notices.size(); ++i) {
    auto& m = notices[i];
    m.id = i + 1;
    auto frame = encode(m);
    ASSERT_TRUE(frame.has_value()) << "part " << i;
    EXPECT_LE(frame->size(), members_bytes_per_notice + 1024);
    auto part = read_members_notice(m.body);
    ASSERT_TRUE(part.has_value());
    EXPECT_EQ(part->part, i);
    EXPECT_EQ(part->parts, notices.size());
    got.insert(got.end(), part->members.begin(), part->members.end());
  }
  EXPECT_EQ(got, members);
}

TEST(Members, MalformedBodiesAreRefused) {
  auto body = [](std::uint64_t request, std::uint64_t part, std::uint64_t parts,
                 std::vector<std::string> members) {
    return flat_json_writer{}
        .add("request", request)
        .add("part", part)
        .add("parts", parts)
        .add("members", members)
        .finish();
  };
  const std::vector<std::string> one = {"ccp://endpoint/10.0.0.1/e1"};
  EXPECT_TRUE(read_members_notice(body(1, 0, 1, one)).has_value());
  EXPECT_TRUE(read_members_notice(body(1, 0, max_members_notices, one)).has_value());
  EXPECT_EQ(read_members_notice(body(1, 0, max_members_notices + 1, one)).error(),
            errc::bad_request);
  EXPECT_EQ(read_members_notice(body(0, 0, 1, one)).error(), errc::bad_request);
  EXPECT_EQ(read_members_notice(body(1, 1, 1, one)).error(), errc::bad_request);
  EXPECT_EQ(read_members_notice(body(1, 0, 1, {"ccp://endpoint/all"})).error(), errc::bad_request);
  EXPECT_EQ(read_members_notice(body(1, 0, 1, {"endpoint e1"})).error(), errc::bad_request);
  EXPECT_EQ(read_members_notice(R"({"request":1,"part":0,"parts":1})").error(), errc::bad_request);
  EXPECT_EQ(read_members_notice(R"({"request":1,"part":0,"parts":1,"members":3})").error(),
            errc::bad_request);
  EXPECT_EQ(read_members_notice("not json").error(), errc::bad_request);
}

}  // namespace
}  // namespace ccp::core
