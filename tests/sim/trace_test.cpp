// The simulator's trace explains a run: a small fleet whose proxy dies must leave, for one
// host, its dial, link and attachment (with epochs), its requests with their expected
// members and outcomes, and the fault, in that order. Explanation lines never change the
// run's hash, and the file itself is deterministic.
#include "sim/trace.hpp"

#include <unistd.h>
#include <cstdio>

#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "sim/world.hpp"

namespace ccp::sim {
namespace {

using core::ms;
using core::seconds;
using nlohmann::json;

const std::string agent1 = "ccp://agent/10.0.0.1/agent";
const std::string proxy1 = "ccp://proxy/10.200.0.1/p1";
const std::string proxy2 = "ccp://proxy/10.200.0.2/p2";

// Two proxies; host 10.0.0.1's agent dials p1 first (proxy_order rotate) and p1 dies at 2 s.
scenario small_fleet() {
  scenario s;
  s.name = "trace";
  s.duration = 4 * seconds;
  s.liveness = 2 * seconds;
  s.topo.proxies = 2;
  s.topo.hosts = 2;
  s.topo.endpoints_per_host = 2;
  workload_item w;
  w.from = "mgmt";
  w.to = "ccp://endpoint/10.0.0.1/all";
  w.start = 1500 * ms;  // once mgmt's directory is learnt (1.2 s): it knows the members
  w.every = 500 * ms;
  s.workload.push_back(w);
  fault f;
  f.at = 2 * seconds;
  f.kind = fault_kind::kill_proxy;
  f.target = 0;
  s.faults.push_back(f);
  return s;
}

class TraceFile : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = (std::filesystem::temp_directory_path() /
             ("ccp-trace-test-" + std::to_string(::getpid()) + ".jsonl"))
                .string();
  }
  void TearDown() override { std::filesystem::remove(path_); }
  std::vector<json> lines() const {
    std::vector<json> v;
    std::ifstream in(path_);
    std::string l;
    while (std::getline(in, l))
      v.push_back(json::parse(l));
    return v;
  }
  std::string bytes() const {
    std::ifstream in(path_, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), {}};
  }
  std::string path_;
};

// The index of the first line from `from` on that `pred` accepts; fails the test if none.
std::size_t next(const std::vector<json>& v, std::size_t from,
                 const std::function<bool(const json&)>& pred, const std::string& what) {
  for (std::size_t k = from; k < v.size(); ++k)
    if (pred(v[k])) return k;
  ADD_FAILURE() << "no " << what << " after line " << from + 1;
  return v.size();
}

bool is(const json& j, const std::string& ev, const std::string& at) {
  return j.value("ev", "") == ev && j.value("at", "") == at;
}

TEST_F(TraceFile, OneHostsStoryIsInOrder) {
  const run_result r = run_scenario(small_fleet(), 1, path_);
  const std::vector<json> v = lines();
  ASSERT_FALSE(v.empty());
  for (std::size_t k = 1; k < v.size(); ++k)
    ASSERT_LE(v[k - 1]["t"].get<micros>(), v[k]["t"].get<micros>()) << "line " << k + 1;

  std::size_t k = next(
      v, 0, [](const json& j) { return is(j, "dial", agent1) && j["target"] == proxy1; },
      "dial of p1");
  k = next(
      v, k, [](const json& j) { return is(j, "link_up", agent1) && j["peer"] == proxy1; },
      "link_up to p1");
  k = next(
      v, k, [](const json& j) { return is(j, "attach", agent1) && j["proxy"] == proxy1; },
      "attach to p1");
  ASSERT_LT(k, v.size());
  const auto first_epoch = v[k]["epoch"].get<std::uint64_t>();
  EXPECT_GT(first_epoch, 0u);
  k = next(
      v, k,
      [](const json& j) { return j["ev"] == "send" && j["to"] == "ccp://endpoint/10.0.0.1/all"; },
      "send to the host's endpoints");
  ASSERT_LT(k, v.size());
  EXPECT_EQ(v[k]["at"], "ccp://mgmt/mgmt-1.sim/m1");
  EXPECT_EQ(v[k]["expect"], 2);
  EXPECT_EQ(v[k]["expected"],
            json::array({"ccp://endpoint/10.0.0.1/e1", "ccp://endpoint/10.0.0.1/e2"}));
  const auto id = v[k]["id"].get<std::uint64_t>();
  k = next(
      v, k,
      [&](const json& j) { return is(j, "complete", "ccp://mgmt/mgmt-1.sim/m1") && j["id"] == id; },
      "the request's outcome");
  ASSERT_LT(k, v.size());
  EXPECT_EQ(v[k]["code"], "ok");
  k = next(
      v, k,
      [](const json& j) {
        return j["ev"] == "fault" && j["kind"] == "kill_proxy" && j["target"] == 0;
      },
      "the fault");
  ASSERT_LT(k, v.size());
  EXPECT_EQ(v[k]["t"], 2 * seconds);
  k = next(
      v, k, [](const json& j) { return is(j, "link_down", agent1) && j["peer"] == proxy1; },
      "link_down from p1");
  ASSERT_LT(k, v.size());
  EXPECT_EQ(v[k]["why"], "lost");
  k = next(
      v, k, [](const json& j) { return is(j, "detach", agent1); }, "detach from p1");
  ASSERT_LT(k, v.size());
  EXPECT_EQ(v[k]["proxy"], proxy1);
  EXPECT_EQ(v[k]["epoch"], first_epoch);
  EXPECT_EQ(v[k]["why"], "lost");
  k = next(
      v, k, [](const json& j) { return is(j, "attach", agent1) && j["proxy"] == proxy2; },
      "attach to p2");
  ASSERT_LT(k, v.size());
  EXPECT_GT(v[k]["epoch"].get<std::uint64_t>(), first_epoch);
  next(
      v, k, [](const json& j) { return j["ev"] == "heal"; }, "the heal");
  EXPECT_TRUE(r.pass) << (r.failures.empty() ? "" : r.failures[0]);
}

TEST_F(TraceFile, ExplanationLinesLeaveTheHashAndAreDeterministic) {
  const scenario s = small_fleet();
  const run_result bare = run_scenario(s, 7);
  const run_result traced = run_scenario(s, 7, path_);
  EXPECT_EQ(bare.trace_hash, traced.trace_hash);
  EXPECT_EQ(bare.events, traced.events);
  const std::string first = bytes();
  EXPECT_NE(first.find("\"ev\":\"attach\""), std::string::npos);
  (void)run_scenario(s, 7, path_);
  EXPECT_EQ(bytes(), first);
}

TEST(TraceSink, ExplainWritesWithoutHashing) {
  trace_sink bare;
  std::FILE* f = std::tmpfile();
  ASSERT_NE(f, nullptr);
  trace_sink file(f);
  EXPECT_FALSE(bare.writing());
  EXPECT_TRUE(file.writing());
  for (trace_sink* s : {&bare, &file}) {
    s->line(R"({"t":0,"ev":"deliver"})");
    s->explain(R"({"t":0,"ev":"attach"})");
  }
  EXPECT_EQ(bare.hash(), file.hash());
  trace_sink outcome_only;
  outcome_only.line(R"({"t":0,"ev":"deliver"})");
  EXPECT_EQ(bare.hash(), outcome_only.hash());
  std::fflush(f);
  std::rewind(f);
  char buf[128] = {};
  const std::size_t n = std::fread(buf, 1, sizeof buf - 1, f);
  EXPECT_EQ(std::string(buf, n), "{\"t\":0,\"ev\":\"deliver\"}\n{\"t\":0,\"ev\":\"attach\"}\n");
  std::fclose(f);
}

}  // namespace
}  // namespace ccp::sim
