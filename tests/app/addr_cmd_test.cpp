#include "app/commands.hpp"

#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include <gtest/gtest.h>

namespace ccp::app {
namespace {

struct run_result {
  int status;
  std::string out;
  std::string err;
};

run_result run(std::vector<std::string_view> args) {
  std::ostringstream out, err;
  int status = addr_main(args, out, err);
  return {status, out.str(), err.str()};
}

constexpr std::string_view usage =
    "usage: ccp addr ADDRESS...\n"
    "Prints each address in canonical form, or \"error: \" and what is wrong.\n"
    "Exit status: 0 all parsed, 1 some failed, 2 usage error.\n";

TEST(AddrCmd, PrintsCanonicalFormsAndExitsZero) {
  auto r = run({"ccp://endpoint/10.0.0.7/billing-1", "ccp://agent/all",
                "ccp://endpoint/WEB.Example.COM/any", "ccp://proxy/[2001:DB8:0:0::1]/p"});
  EXPECT_EQ(r.status, 0);
  EXPECT_EQ(r.out,
            "ccp://endpoint/10.0.0.7/billing-1\n"
            "ccp://agent/all\n"
            "ccp://endpoint/web.example.com/any\n"
            "ccp://proxy/[2001:db8::1]/p\n");
  EXPECT_EQ(r.err, "");
}

TEST(AddrCmd, OneLinePerArgumentAndExitOneWhenAnyFails) {
  auto r = run({"ccp://proxy/any", "ccp://bogus/all", "", "ccp://agent/h/x/y", "ccp://agent/all"});
  EXPECT_EQ(r.status, 1);
  EXPECT_EQ(r.out,
            "ccp://proxy/any\n"
            "error: type must be mgmt, proxy, agent or endpoint at offset 6\n"
            "error: empty input at offset 0\n"
            "error: extra segment at offset 15\n"
            "ccp://agent/all\n");
  EXPECT_EQ(r.err, "");
}

TEST(AddrCmd, ExitOneWhenAllFail) {
  auto r = run({"ccp://agent/010.0.0.1/x"});
  EXPECT_EQ(r.status, 1);
  EXPECT_EQ(r.out, "error: bad host (expected IPv4, [IPv6] or an RFC 1123 name) at offset 12\n");
  EXPECT_EQ(r.err, "");
}

TEST(AddrCmd, NoArgumentsIsAUsageError) {
  auto r = run({});
  EXPECT_EQ(r.status, 2);
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(r.err, usage);
}

TEST(AddrCmd, HelpGoesToOutAndExitsZero) {
  for (std::string_view flag : {"--help", "-h"}) {
    SCOPED_TRACE(flag);
    auto r = run({flag});
    EXPECT_EQ(r.status, 0);
    EXPECT_EQ(r.out, usage);
    EXPECT_EQ(r.err, "");
  }
}

}  // namespace
}  // namespace ccp::app
