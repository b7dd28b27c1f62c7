// The NATS bus URL (net/nats_url.hpp): user info is passed on for libnats to read, tls://
// asks for TLS, and a password never appears in an error or a log line.
#include "net/nats_url.hpp"

#include <gtest/gtest.h>

namespace ccp::net::detail {
namespace {

TEST(NatsUrl, UserAndPasswordPassToLibnats) {
  auto r = parse_nats_url("nats://u:p@127.0.0.1:4222");
  ASSERT_TRUE(r) << r.error();
  EXPECT_EQ(*r, std::vector<std::string>{"nats://u:p@127.0.0.1:4222"});
}

TEST(NatsUrl, ATokenAloneAndSeveralServersWithTheirOwnUsers) {
  auto r = parse_nats_url("nats://tok@a:1,b@[::1]:2,nats://c:d@h:3");
  ASSERT_TRUE(r) << r.error();
  EXPECT_EQ(*r, (std::vector<std::string>{"nats://tok@a:1", "nats://b@[::1]:2", "nats://c:d@h:3"}));
}

TEST(NatsUrl, TlsSchemeIsKept) {
  auto r = parse_nats_url("tls://n1:4222,n2:4222");
  ASSERT_TRUE(r) << r.error();
  EXPECT_EQ(*r, (std::vector<std::string>{"tls://n1:4222", "tls://n2:4222"}));
}

TEST(NatsUrl, ErrorsHideThePassword) {
  auto r = parse_nats_url("nats://user:s3cret@host");
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().find("has no port"), std::string::npos) << r.error();
  EXPECT_EQ(r.error().find("s3cret"), std::string::npos) << r.error();
  EXPECT_NE(r.error().find("user:***@host"), std::string::npos) << r.error();
  EXPECT_FALSE(parse_nats_url("nats://@h:1"));
  EXPECT_FALSE(parse_nats_url("nats://:p@h:1"));
  EXPECT_FALSE(parse_nats_url("http://h:1"));
}

TEST(NatsUrl, RedactKeepsUsersAndHidesSecrets) {
  EXPECT_EQ(redact_nats_url("nats://a:b@h:1,tls://tok@g:2,k:3"),
            "nats://a:***@h:1,tls://***@g:2,k:3");
  EXPECT_EQ(redact_nats_url("inproc://x"), "inproc://x");
}

}  // namespace
}  // namespace ccp::net::detail
