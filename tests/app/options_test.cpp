#include "app/options.hpp"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <string>

namespace ccp::app {
namespace {

constexpr option_spec specs[] = {
    {.name = "backbone", .value = "URL", .help = "bus", .fallback = "nats://127.0.0.1:4222"},
    {.name = "address", .value = "ADDRESS", .help = "me"},
    {.name = "proxy", .value = "URL", .help = "proxies", .repeat = true, .commas = true},
    {.name = "answer", .value = "TYPE=JSON", .help = "answers", .repeat = true},
    {.name = "timeout", .short_name = 't', .value = "DURATION", .help = "t", .fallback = "5s"},
    {.name = "json", .short_name = 'j', .help = "a switch"},
    {.name = "secret", .value = "TOKEN", .help = "s", .secret = true},
    {.name = "secret-file", .value = "FILE", .help = "f"},
};
constexpr positional_spec positionals[] = {
    {.name = "ADDRESS", .help = "to"},
    {.name = "TYPE", .help = "op"},
    {.name = "JSON", .help = "body", .required = false},
};
constexpr command_spec test_command = {
    .name = "test", .about = "A command for tests.", .positionals = positionals, .options = specs};

std::expected<options, std::string> parse(std::vector<std::string_view> args) {
  return options::parse(args, test_command);
}

struct env_var {
  const char* name;
  env_var(const char* n, const char* v) : name(n) { ::setenv(n, v, 1); }
  ~env_var() { ::unsetenv(name); }
};

std::string write_file(const std::string& text, const std::string& suffix = ".json") {
  static int n = 0;
  auto p = std::filesystem::temp_directory_path() /
           ("ccp-options-" + std::to_string(::getpid()) + "-" + std::to_string(++n) + suffix);
  std::ofstream(p) << text;
  return p.string();
}

TEST(Options, FlagsBeatConfigBeatsEnvironmentBeatsDefault) {
  auto only_default = parse({"a", "b"});
  ASSERT_TRUE(only_default) << only_default.error();
  EXPECT_EQ(only_default->get("backbone"), "nats://127.0.0.1:4222");
  EXPECT_EQ(only_default->origin("backbone").from, value_origin::kind::fallback);

  env_var e("CCP_TEST_BACKBONE", "nats://env:1");
  auto only_env = parse({"a", "b"});
  ASSERT_TRUE(only_env);
  EXPECT_EQ(only_env->get("backbone"), "nats://env:1");
  EXPECT_EQ(only_env->origin("backbone").where, "CCP_TEST_BACKBONE");

  auto cfg = write_file(R"({"backbone":"nats://config:2","proxy":["ws://a:1","ws://b:2"]})");
  auto with_cfg = parse({"a", "b", "--config", cfg});
  ASSERT_TRUE(with_cfg) << with_cfg.error();
  EXPECT_EQ(with_cfg->get("backbone"), "nats://config:2");
  EXPECT_EQ(with_cfg->origin("backbone").where, "config file '" + cfg + "', key \"backbone\"");
  EXPECT_EQ(with_cfg->list("proxy"), (std::vector<std::string>{"ws://a:1", "ws://b:2"}));

  auto with_flag =
      parse({"a", "b", "--config", cfg, "--backbone=nats://flag:3", "--proxy", "ws://c:3"});
  ASSERT_TRUE(with_flag);
  EXPECT_EQ(with_flag->get("backbone"), "nats://flag:3");
  EXPECT_EQ(with_flag->origin("backbone").where, "--backbone");
  EXPECT_EQ(with_flag->list("proxy"), (std::vector<std::string>{"ws://c:3"}));
}

// CCP_ADDRESS set for a proxy used to become `ccp request`'s own address; CCP_ENDPOINTS
// meant a count for `up` and ids for `agent`. Each command now reads only CCP_<COMMAND>_*.
TEST(Options, EnvironmentIsPerCommand) {
  env_var shared("CCP_ADDRESS", "ccp://proxy/10.0.1.1/p1");
  env_var other("CCP_PROXY_ADDRESS", "ccp://proxy/10.0.1.1/p1");
  auto o = parse({"a", "b"});
  ASSERT_TRUE(o);
  EXPECT_FALSE(o->get("address"));
  env_var mine("CCP_TEST_ADDRESS", "ccp://mgmt/h/m");
  EXPECT_EQ(parse({"a", "b"})->get("address"), "ccp://mgmt/h/m");
  EXPECT_EQ(env_name("host-bus", "host-bus"), "CCP_HOST_BUS_HOST_BUS");
  EXPECT_EQ(env_name("agent", "host-bus"), "CCP_AGENT_HOST_BUS");
}

TEST(Options, ShortOptionsEqualsAndRepeats) {
  for (auto args :
       std::vector<std::vector<std::string_view>>{{"a", "b", "-t", "2s"},
                                                  {"a", "b", "-t2s"},
                                                  {"a", "-t", "1s", "b", "--timeout=2s"},
                                                  {"--timeout", "2s", "a", "b"}}) {
    auto o = parse(args);
    ASSERT_TRUE(o) << o.error();
    EXPECT_EQ(o->get("timeout"), "2s");
    EXPECT_EQ(o->positional(), (std::vector<std::string>{"a", "b"}));
  }
  auto o = parse({"x", "--proxy", "ws://a:1,ws://b:2", "--proxy", "ws://c:3", "-j", "y"});
  ASSERT_TRUE(o);
  EXPECT_EQ(o->list("proxy"), (std::vector<std::string>{"ws://a:1", "ws://b:2", "ws://c:3"}));
  EXPECT_TRUE(o->on("json"));
  EXPECT_EQ(o->positional(), (std::vector<std::string>{"x", "y"}));
  EXPECT_FALSE(parse({"a", "b", "--json=false"})->on("json"));
  // A JSON value is never cut at its commas (`--answer` used to be).
  auto answers = parse({"a", "b", "--answer", R"(s={"a":1,"b":2})", "--answer", "t=1"});
  ASSERT_TRUE(answers);
  EXPECT_EQ(answers->list("answer"), (std::vector<std::string>{R"(s={"a":1,"b":2})", "t=1"}));
}

// `--` ends the options: what follows is positional, even when it looks like an option.
// It used to be taken as the address itself.
TEST(Options, DoubleDashEndsOptions) {
  auto o = parse({"-t", "1s", "--", "ccp://agent/all", "--json"});
  ASSERT_TRUE(o) << o.error();
  EXPECT_EQ(o->positional(), (std::vector<std::string>{"ccp://agent/all", "--json"}));
  EXPECT_FALSE(o->on("json"));
}

// `--json true` used to send `true` as the body: a switch followed by a boolean is a
// usage error that says how to write either meaning.
TEST(Options, SwitchFollowedByABooleanIsAnError) {
  for (std::string_view b : {"true", "false", "yes", "0"}) {
    auto o = parse({"ccp://agent/all", "ping", "--json", b});
    ASSERT_FALSE(o) << b;
    EXPECT_NE(o.error().find("option --json takes no value"), std::string::npos) << o.error();
  }
  EXPECT_FALSE(parse({"ccp://agent/all", "ping", "-j", "true"}));
  // Written unambiguously, both meanings work.
  auto body = parse({"ccp://agent/all", "ping", "true", "--json"});
  ASSERT_TRUE(body);
  EXPECT_EQ(body->positional().back(), "true");
  EXPECT_TRUE(parse({"--json", "--", "ccp://agent/all", "ping", "true"}));
}

TEST(Options, MistakesAreNamedInWords) {
  EXPECT_EQ(parse({"a", "b", "--nope"}).error(), "unknown option --nope");
  // Not "needs a ADDRESS".
  EXPECT_EQ(parse({"a", "b", "--address"}).error(), "option --address needs a value (ADDRESS)");
  EXPECT_EQ(parse({"a", "b", "c", "d"}).error(), "unexpected argument 'd'");
  EXPECT_EQ(parse({"a"}).error(), "missing TYPE");
  EXPECT_EQ(parse({}).error(), "missing ADDRESS and TYPE");
  auto cfg = write_file(R"({"backbone":"x","colour":"red"})");
  EXPECT_NE(parse({"a", "b", "--config", cfg}).error().find("unknown option \"colour\""),
            std::string::npos);
  auto list = write_file(R"({"backbone":["a","b"]})");
  EXPECT_EQ(parse({"a", "b", "--config", list}).error(),
            "config file '" + list + "', key \"backbone\": expected one value, not a list");
  auto broken = write_file(R"({"backbone":)");
  EXPECT_NE(parse({"a", "b", "--config", broken}).error().find("': not JSON: "), std::string::npos);
  EXPECT_EQ(parse({"a", "b", "--json=maybe"}).error(), "--json 'maybe': expected true or false");
  env_var e("CCP_TEST_JSON", "maybe");
  EXPECT_EQ(parse({"a", "b"}).error(), "CCP_TEST_JSON 'maybe': expected true or false");
}

// A config file that is missing or a directory used to give a JSON parse error.
TEST(Options, UnreadableConfigSaysCannotRead) {
  EXPECT_EQ(parse({"a", "b", "--config", "/nonexistent.json"}).error(),
            "config file '/nonexistent.json': cannot read: No such file or directory");
  const std::string dir = std::filesystem::temp_directory_path().string();
  EXPECT_EQ(parse({"a", "b", "--config", dir}).error(),
            "config file '" + dir + "': cannot read: Is a directory");
  EXPECT_EQ(read_file("/nonexistent").error(), "cannot read: No such file or directory");
}

// Errors about a value say where it came from: a flag, the environment, a config file.
TEST(Options, ValueErrorsNameTheirOrigin) {
  EXPECT_EQ(parse({"a", "b", "-t", "0s"})->duration("timeout", 1, max_duration_micros).error(),
            "--timeout '0s': must be more than 0");
  {
    env_var e("CCP_TEST_TIMEOUT", "soon");
    EXPECT_EQ(parse({"a", "b"})->duration("timeout", 1, max_duration_micros).error(),
              "CCP_TEST_TIMEOUT 'soon': expected a number and a unit (us, ms, s, m, h), e.g. "
              "500ms");
  }
  auto cfg = write_file(R"({"timeout":"999999999999999999s"})");
  EXPECT_EQ(parse({"a", "b", "--config", cfg})->duration("timeout", 1, max_duration_micros).error(),
            "config file '" + cfg + "', key \"timeout\" '999999999999999999s': more than the " +
                "maximum of 24h");
  EXPECT_EQ(parse({"a", "b", "--secret", "hunter2"})->bad("secret", "too short"),
            "--secret (hidden): too short");
}

TEST(Options, SecretsFromFlagFileOrEnvironment) {
  EXPECT_EQ(parse({"a", "b"})->secret("secret", "secret-file"), "");
  auto file = write_file("s3cret\n", ".secret");
  EXPECT_EQ(parse({"a", "b", "--secret-file", file})->secret("secret", "secret-file"), "s3cret");
  {
    env_var e("CCP_TEST_SECRET", "from-env");
    EXPECT_EQ(parse({"a", "b"})->secret("secret", "secret-file"), "from-env");
    EXPECT_NE(parse({"a", "b", "--secret-file", file})
                  ->secret("secret", "secret-file")
                  .error()
                  .find("both give the secret"),
              std::string::npos);
  }
  EXPECT_EQ(
      parse({"a", "b", "--secret-file", "/nonexistent"})->secret("secret", "secret-file").error(),
      "--secret-file '/nonexistent': cannot read: No such file or directory");
  auto empty = write_file("\n", ".secret");
  EXPECT_EQ(parse({"a", "b", "--secret-file", empty})->secret("secret", "secret-file").error(),
            "--secret-file '" + empty + "': empty");
}

TEST(Options, HelpListsEveryOptionWithDefaultAndEnvironmentVariable) {
  auto h = options_help(test_command);
  EXPECT_TRUE(h.starts_with("usage: ccp test ADDRESS TYPE [JSON] [options]\n")) << h;
  EXPECT_NE(h.find("-t, --timeout DURATION"), std::string::npos) << h;
  EXPECT_NE(h.find("[default 5s; env CCP_TEST_TIMEOUT]"), std::string::npos) << h;
  EXPECT_NE(h.find("env CCP_TEST_BACKBONE]"), std::string::npos);
  EXPECT_NE(h.find("--config FILE"), std::string::npos);
  // Every help text starts in one column, --config's and continuation lines too, and no
  // line is longer than 80 columns.
  std::istringstream lines(h);
  std::set<std::size_t> columns;
  for (std::string l; std::getline(lines, l);) {
    EXPECT_LE(l.size(), 80u) << l;
    if (l.empty()) continue;
    if (l.find_first_not_of(' ') >= 8)  // a continuation line
      columns.insert(l.find_first_not_of(' '));
    else if (l.find("--") != std::string::npos && l.starts_with("  "))
      columns.insert(l.find_first_not_of(' ', l.find("  ", l.find("--"))));
  }
  EXPECT_EQ(columns.size(), 1u) << h;
}

TEST(Durations, UnitsLimitsAndMistakes) {
  EXPECT_EQ(parse_duration_micros("250ms"), 250'000);
  EXPECT_EQ(parse_duration_micros("2s"), 2'000'000);
  EXPECT_EQ(parse_duration_micros("1.5s"), 1'500'000);
  EXPECT_EQ(parse_duration_micros("100us"), 100);
  EXPECT_EQ(parse_duration_micros("1m"), 60'000'000);
  EXPECT_EQ(parse_duration_micros("24h"), max_duration_micros);
  EXPECT_EQ(parse_duration_micros("0s"), 0);  // a range is the option's to check
  EXPECT_FALSE(parse_duration_micros("24.000001h"));
  EXPECT_FALSE(parse_duration_micros("86400000001us"));
  // Used to overflow into a negative number, which the core read as "the default, 5 s".
  EXPECT_FALSE(parse_duration_micros("999999999999999999s"));
  EXPECT_FALSE(parse_duration_micros("9223372036854775807us"));
  EXPECT_FALSE(parse_duration_micros("5"));
  EXPECT_FALSE(parse_duration_micros("ms"));
  EXPECT_FALSE(parse_duration_micros("3d"));
  EXPECT_FALSE(parse_duration_micros("-1s"));
  EXPECT_EQ(duration_text(2'000'000), "2s");
  EXPECT_EQ(duration_text(1'500'000), "1.5s");
  EXPECT_EQ(duration_text(1000), "1ms");
  EXPECT_EQ(duration_text(max_duration_micros), "24h");
}

}  // namespace
}  // namespace ccp::app
