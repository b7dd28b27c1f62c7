// The daemons' log (net/log.hpp): levels, the two formats, a file reopened by name (what
// SIGHUP does for logrotate), and the limiter that keeps a flood to a few lines.
#include "net/log.hpp"

#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

namespace ccp::net {
namespace {

std::vector<std::string> lines_of(const std::string& path) {
  std::ifstream in(path);
  std::vector<std::string> r;
  for (std::string l; std::getline(in, l);)
    r.push_back(l);
  return r;
}

// A log file of its own for one test; the log goes back to stderr afterwards.
struct log_file {
  std::string path;
  explicit log_file(const char* name)
      : path((std::filesystem::temp_directory_path() /
              (std::string("ccp-log-test-") + name + "-" + std::to_string(::getpid())))
                 .string()) {
    std::filesystem::remove(path);
  }
  ~log_file() {
    (void)configure_log({});
    std::filesystem::remove(path);
    std::filesystem::remove(path + ".1");
  }
};

TEST(Log, ParsesLevelsAndFormats) {
  EXPECT_EQ(parse_log_level("debug"), log_level::debug);
  EXPECT_EQ(parse_log_level("warning"), log_level::warn);
  EXPECT_EQ(parse_log_level("off"), log_level::off);
  ASSERT_FALSE(parse_log_level("loud"));
  EXPECT_NE(parse_log_level("loud").error().find("'loud'"), std::string::npos);
  EXPECT_EQ(parse_log_format("json"), log_format::json);
  EXPECT_FALSE(parse_log_format("xml"));
}

TEST(Log, TextLinesHaveDateTimeMillisUtcLevelAndFields) {
  log_file f("text");
  ASSERT_TRUE(configure_log({log_level::info, log_format::text, f.path}));
  log(log_level::debug, "hidden");  // below the level
  log(log_level::warn, "agent refused",
      {{"self", "ccp://proxy/10.0.1.1/p1"}, {"reason", "HTTP 401: credentials refused"}});
  const auto lines = lines_of(f.path);
  ASSERT_EQ(lines.size(), 1u);
  const std::regex shape(
      R"(^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z warning agent refused self=ccp://proxy/10\.0\.1\.1/p1 reason="HTTP 401: credentials refused"$)");
  EXPECT_TRUE(std::regex_match(lines[0], shape)) << lines[0];
}

TEST(Log, JsonLinesAreObjectsWithEscapedFields) {
  log_file f("json");
  ASSERT_TRUE(configure_log({log_level::debug, log_format::json, f.path}));
  log(log_level::debug, "link lost", {{"peer", "a \"quoted\"\nname"}, {"link", "3"}});
  const auto lines = lines_of(f.path);
  ASSERT_EQ(lines.size(), 1u);
  const auto j = nlohmann::json::parse(lines[0]);
  EXPECT_EQ(j["msg"], "link lost");
  EXPECT_EQ(j["level"], "debug");
  EXPECT_EQ(j["peer"], "a \"quoted\"\nname");
  EXPECT_EQ(j["link"], "3");
  EXPECT_TRUE(std::regex_match(j["ts"].get<std::string>(),
                               std::regex(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z)")));
}

TEST(Log, ReopenWritesToANewFileAfterTheOldWasMovedAway) {
  log_file f("reopen");
  ASSERT_TRUE(configure_log({log_level::info, log_format::text, f.path}));
  log(log_level::info, "before");
  std::filesystem::rename(f.path, f.path + ".1");  // logrotate
  log(log_level::info, "still the old file");
  ASSERT_TRUE(reopen_log());
  log(log_level::info, "after");
  const auto old_lines = lines_of(f.path + ".1");
  const auto new_lines = lines_of(f.path);
  ASSERT_EQ(old_lines.size(), 2u);
  ASSERT_EQ(new_lines.size(), 1u);
  EXPECT_NE(new_lines[0].find("after"), std::string::npos);
}

TEST(Log, AFileThatCannotBeOpenedIsAnErrorAndTheLogStays) {
  auto r = configure_log({log_level::info, log_format::text, "/dev/null/ccp.log"});
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().find("/dev/null/ccp.log"), std::string::npos);
  EXPECT_TRUE(log_enabled(log_level::info));
}

TEST(Log, LimiterLetsABurstThroughThenCountsWhatItHeldBack) {
  log_limiter lim(3, 3'600'000);  // a window far longer than the test
  std::uint64_t held = 99;
  for (int i = 0; i < 3; ++i) {
    EXPECT_TRUE(lim.allow(&held));
    EXPECT_EQ(held, 0u);
  }
  for (int i = 0; i < 5; ++i)
    EXPECT_FALSE(lim.allow(&held));
}

}  // namespace
}  // namespace ccp::net
