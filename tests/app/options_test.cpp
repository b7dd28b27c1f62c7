#include "app/options.hpp"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <string>

namespace ccp::app {
namespace {

constexpr option_spec specs[] = {
    {"backbone", "URL", "bus"},
    {"proxy", "URL", "proxies", true},
    {"shuffle", "", "a switch"},
};

std::expected<options, std::string> parse(std::vector<std::string_view> args) {
  return options::parse(args, specs, 2);
}

struct env_var {
  const char* name;
  env_var(const char* n, const char* v) : name(n) { ::setenv(n, v, 1); }
  ~env_var() { ::unsetenv(name); }
};

std::string write_config(const std::string& text) {
  auto p = std::filesystem::temp_directory_path() /
           ("ccp-options-" + std::to_string(::getpid()) + ".json");
  std::ofstream(p) << text;
  return p.string();
}

TEST(Options, FlagsBeatConfigBeatsEnvironment) {
  env_var e("CCP_BACKBONE", "nats://env:1");
  auto only_env = parse({});
  ASSERT_TRUE(only_env);
  EXPECT_EQ(only_env->get("backbone"), "nats://env:1");

  auto cfg = write_config(R"({"backbone":"nats://config:2","proxy":["ws://a:1","ws://b:2"]})");
  auto with_cfg = parse({"--config", cfg});
  ASSERT_TRUE(with_cfg) << with_cfg.error();
  EXPECT_EQ(with_cfg->get("backbone"), "nats://config:2");
  EXPECT_EQ(with_cfg->list("proxy"), (std::vector<std::string>{"ws://a:1", "ws://b:2"}));

  auto with_flag = parse({"--config", cfg, "--backbone=nats://flag:3", "--proxy", "ws://c:3"});
  ASSERT_TRUE(with_flag);
  EXPECT_EQ(with_flag->get("backbone"), "nats://flag:3");
  EXPECT_EQ(with_flag->list("proxy"), (std::vector<std::string>{"ws://c:3"}));
}

TEST(Options, RepeatsCommaListsSwitchesAndPositionals) {
  auto o = parse({"x", "--proxy", "ws://a:1,ws://b:2", "--proxy", "ws://c:3", "--shuffle", "y"});
  ASSERT_TRUE(o);
  EXPECT_EQ(o->list("proxy"), (std::vector<std::string>{"ws://a:1", "ws://b:2", "ws://c:3"}));
  EXPECT_TRUE(o->on("shuffle"));
  EXPECT_EQ(o->positional(), (std::vector<std::string>{"x", "y"}));
  EXPECT_FALSE(o->get("backbone"));
}

TEST(Options, MistakesAreNamed) {
  EXPECT_EQ(parse({"--nope"}).error(), "unknown option --nope");
  EXPECT_EQ(parse({"--backbone"}).error(), "option --backbone needs a URL");
  EXPECT_EQ(parse({"a", "b", "c"}).error(), "unexpected argument 'c'");
  auto missing = parse({"--config", "/nonexistent.json"});
  EXPECT_EQ(missing.error(), "config file '/nonexistent.json': cannot be read");
  auto cfg = write_config(R"({"backbone":"x","colour":"red"})");
  EXPECT_NE(parse({"--config", cfg}).error().find("unknown option \"colour\""), std::string::npos);
  auto list = write_config(R"({"backbone":["a","b"]})");
  EXPECT_NE(parse({"--config", list}).error().find("expected one value, not a list"),
            std::string::npos);
  auto broken = write_config(R"({"backbone":)");
  EXPECT_NE(parse({"--config", broken}).error().find("config file"), std::string::npos);
}

TEST(Options, HelpListsEveryOptionWithItsEnvironmentVariable) {
  auto h = options_help("ccp x", specs);
  EXPECT_NE(h.find("--backbone URL"), std::string::npos);
  EXPECT_NE(h.find("[CCP_BACKBONE]"), std::string::npos);
  EXPECT_NE(h.find("--config FILE"), std::string::npos);
  // Every help text starts in one column, --config's too.
  std::istringstream lines(h);
  std::set<std::size_t> columns;
  for (std::string l; std::getline(lines, l);) {
    if (!l.starts_with("  --")) continue;
    const std::size_t gap = l.find("  ", 4);
    columns.insert(l.find_first_not_of(' ', gap));
  }
  EXPECT_EQ(columns.size(), 1u) << h;
}

TEST(Durations, UnitsAndMistakes) {
  EXPECT_EQ(parse_duration_micros("250ms"), 250'000);
  EXPECT_EQ(parse_duration_micros("2s"), 2'000'000);
  EXPECT_EQ(parse_duration_micros("1.5s"), 1'500'000);
  EXPECT_EQ(parse_duration_micros("100us"), 100);
  EXPECT_EQ(parse_duration_micros("1m"), 60'000'000);
  EXPECT_FALSE(parse_duration_micros("5"));
  EXPECT_FALSE(parse_duration_micros("ms"));
  EXPECT_FALSE(parse_duration_micros("3h"));
}

}  // namespace
}  // namespace ccp::app
