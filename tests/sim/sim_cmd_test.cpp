// `ccp sim` as a user calls it, in this process: what a run that cannot go on does to the
// exit status, replay lines that replay, placeholders written twice, the memory budget,
// swarm runs and coverage marks (issue 24, items 6 to 8).
#include "app/commands.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/coverage.hpp"
#include "sim/swarm.hpp"

namespace ccp::app {
namespace {

struct result {
  int status;
  std::string out;
  std::string err;
};

result run(std::vector<std::string> args) {
  std::vector<std::string_view> views{"sim"};
  for (const auto& a : args)
    views.emplace_back(a);
  std::ostringstream out, err;
  int status = ccp_main(views, out, err);
  return {status, out.str(), err.str()};
}

bool has(const std::string& text, std::string_view part) {
  return text.find(part) != std::string::npos;
}

std::string hash_of(const std::string& out) {
  std::smatch m;
  return std::regex_search(out, m, std::regex("hash=([0-9a-f]+)")) ? m[1].str() : "";
}

class SimCmd : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("ccp-sim-cmd-" +
            std::string(::testing::UnitTest::GetInstance()->current_test_info()->name()));
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  // Writes a small scenario: 3 hosts, 2 proxies, 2 s; `extra` is merged in at the top.
  std::string scenario(const std::string& name, const nlohmann::json& extra = {}) {
    nlohmann::json j = {
        {"name", name},
        {"description", "sim_cmd_test"},
        {"duration_s", 2},
        {"liveness_s", 2},
        {"topology", {{"hosts", 3}, {"proxies", 2}}},
        {"workload", {{{"to", "ccp://endpoint/{host}/{ep}"}, {"every_ms", 50}}}},
    };
    if (!extra.is_null()) j.update(extra);
    auto path = (dir_ / (name + ".json")).string();
    std::ofstream(path) << j.dump(2);
    return path;
  }

  std::filesystem::path dir_;
};

// A run that throws (here: its trace file cannot be written) prints ERROR with its reason,
// the other runs still run, and the exit status is 2, not 1 (a failed scenario).
TEST_F(SimCmd, ARunThatCannotGoOnIsAnErrorLineAndExit2) {
  auto f = scenario("traced");
  auto r = run({f, "--trace", (dir_ / "no-such-dir" / "t.jsonl").string()});
  EXPECT_EQ(r.status, 2) << r.out << r.err;
  EXPECT_TRUE(has(r.out, "ERROR traced seed=1: cannot write trace file")) << r.out;
  EXPECT_TRUE(has(r.out, "sim: 0 passed, 0 failed, 1 could not run")) << r.out;
}

// The memory budget refuses one scenario with its own message; the others run.
TEST_F(SimCmd, AScenarioAboveTheMemoryBudgetIsRefusedAlone) {
  auto small = scenario("small");
  auto big = scenario("big", {{"topology", {{"hosts", 20000}, {"proxies", 500}}}});
  auto r = run({small, big, "--memory-budget", "1024"});
  EXPECT_EQ(r.status, 2) << r.out << r.err;
  EXPECT_TRUE(has(r.out, "PASS small seed=1")) << r.out;
  EXPECT_TRUE(std::regex_search(r.out, std::regex("ERROR big seed=1: needs an estimated [0-9]+ MiB "
                                                  "\\(20000 hosts x 500 proxies\\), above the "
                                                  "memory budget of 1024 MiB")))
      << r.out;
  // The default budget takes the 10,000 x 1,000 fleet (3.7 GB measured) only
  // when asked for more.
  auto wide = scenario("wide", {{"topology", {{"hosts", 10000}, {"proxies", 1000}}}});
  r = run({wide});
  EXPECT_EQ(r.status, 2) << r.out;
  EXPECT_TRUE(has(r.out, "above the memory budget of 4096 MiB")) << r.out;
}

// A seed of 2^63 or more (a file may hold any 64-bit seed) is printed, and the printed
// replay command runs it again: the same hash.
TEST_F(SimCmd, SeedsFrom2To63UpReplay) {
  // min_ok_ratio 1 against an endpoint id nobody has: fails, so the replay line prints.
  auto f =
      scenario("big-seed", {{"seed", 18446744073709551615ull},
                            {"workload", {{{"to", "ccp://endpoint/{host}/e9"}, {"every_ms", 50}}}},
                            {"expect", {{"min_ok_ratio", 1}}}});
  auto r = run({f});
  EXPECT_EQ(r.status, 1) << r.out << r.err;
  std::smatch m;
  ASSERT_TRUE(std::regex_search(r.out, m, std::regex("replay: ccp sim (\\S+) --seed (\\d+)")))
      << r.out;
  EXPECT_EQ(m[2].str(), "18446744073709551615");
  auto again = run({m[1].str(), "--seed", m[2].str()});
  EXPECT_EQ(again.status, 1) << again.out << again.err;
  EXPECT_EQ(hash_of(again.out), hash_of(r.out));
  EXPECT_FALSE(hash_of(r.out).empty());
  auto half = run({f, "--seed", "9223372036854775808"});
  EXPECT_TRUE(has(half.out, "seed=9223372036854775808 ")) << half.out << half.err;
  auto over = run({f, "--seed", "18446744073709551616"});
  EXPECT_EQ(over.status, 2);
  EXPECT_TRUE(has(over.err, "expected a whole number")) << over.err;
}

// {host} twice in `to` is replaced by one host both times: the address parses and the
// requests go out (before, only the first was replaced and nothing was sent).
TEST_F(SimCmd, APlaceholderWrittenTwiceSends) {
  // From 100 ms: before, the mgmt node's directory is not learnt and it asks the bus.
  auto f = scenario(
      "host-twice",
      {{"workload", {{{"to", "ccp://agent/{host}/{host}"}, {"every_ms", 50}, {"start_s", 0.1}}}}});
  auto r = run({f});
  EXPECT_EQ(r.status, 0) << r.out << r.err;
  std::smatch m;
  ASSERT_TRUE(std::regex_search(r.out, m, std::regex("requests=(\\d+)"))) << r.out;
  EXPECT_GE(std::stoi(m[1].str()), 30) << r.out;  // 2 s every 50 ms
  // No agent has an id like 10.0.0.1: each ends unreachable, none is left without outcome.
  EXPECT_TRUE(has(r.out, " unreachable=100.0%")) << r.out;
}

// A swarm run's scenario file replays it: `ccp sim FILE` gives the hash of the swarm run.
TEST_F(SimCmd, SwarmRunsPassAndTheirFileReplaysThem) {
  auto r = run({"--swarm", "3", "--swarm-seed", "11", "--swarm-dir", dir_.string()});
  EXPECT_EQ(r.status, 0) << r.out << r.err;
  for (const char* name :
       {"PASS swarm-11 seed=11", "PASS swarm-12 seed=12", "PASS swarm-13 seed=13"})
    EXPECT_TRUE(has(r.out, name)) << r.out;
  EXPECT_TRUE(has(r.out, "sim: 3 passed, 0 failed")) << r.out;
  // A passing run writes nothing.
  EXPECT_TRUE(std::filesystem::is_empty(dir_));
  const auto file = (dir_ / "swarm-12.json").string();
  std::ofstream(file) << sim::swarm_scenario(12).dump(2);
  auto one = run({"--swarm", "1", "--swarm-seed", "12"});
  auto replay = run({file});
  EXPECT_EQ(replay.status, 0) << replay.out;
  EXPECT_EQ(hash_of(replay.out), hash_of(one.out));
  EXPECT_FALSE(hash_of(one.out).empty());
}

TEST_F(SimCmd, UsageErrors) {
  auto r = run({});
  EXPECT_EQ(r.status, 2);
  EXPECT_TRUE(has(r.err, "give a scenario PATH or --swarm N")) << r.err;
  r = run({"--swarm", "0"});
  EXPECT_EQ(r.status, 2);
  EXPECT_TRUE(has(r.err, "--swarm")) << r.err;
  r = run({"--swarm", "1", "--swarm-seed", "x"});
  EXPECT_EQ(r.status, 2);
  EXPECT_TRUE(has(r.err, "--swarm-seed 'x': expected a whole number")) << r.err;
  r = run({"--swarm", "2", "--trace", (dir_ / "t.jsonl").string()});
  EXPECT_EQ(r.status, 2);
  EXPECT_TRUE(has(r.err, "--trace needs exactly one scenario and one seed")) << r.err;
}

// --marks reports every mark; --require-marks fails naming each one no run hit.
TEST_F(SimCmd, MarksAreReportedAndUnhitOnesFail) {
  // One host, one proxy, no fault, requests once the fleet is up: no edge case is reached.
  auto quiet = scenario(
      "quiet",
      {{"topology", {{"hosts", 1}, {"proxies", 1}}},
       {"workload", {{{"to", "ccp://endpoint/{host}/{ep}"}, {"every_ms", 50}, {"start_s", 0.1}}}}});
  auto r = run({quiet, "--marks", "--require-marks"});
  EXPECT_EQ(r.status, 1) << r.out << r.err;
  EXPECT_TRUE(has(r.out, "PASS quiet")) << r.out;
  EXPECT_TRUE(has(r.out, "marks: 0 of " + std::to_string(core::coverage::mark_count) + " hit"))
      << r.out;
  for (const auto& m : core::coverage::marks)
    EXPECT_TRUE(has(r.out, "  " + std::string(m.name) + " ")) << m.name;
  EXPECT_TRUE(has(r.out, " coverage mark(s) never hit: proxy_hello_while_draining ")) << r.out;
  // A drain hits the drain's marks.
  auto drain =
      scenario("drain", {{"faults", {{{"at_s", 0.5}, {"kind", "drain_proxy"}, {"target", 0}}}}});
  r = run({drain, "--marks"});
  EXPECT_EQ(r.status, 0) << r.out;
  EXPECT_FALSE(has(r.out, "marks: 0 of")) << r.out;
  EXPECT_TRUE(std::regex_search(r.out, std::regex("  agent_told_to_drain +[1-9]"))) << r.out;
}

}  // namespace
}  // namespace ccp::app
