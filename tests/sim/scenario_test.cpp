#include "sim/scenario.hpp"

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <unistd.h>

namespace ccp::sim {
namespace {

using core::ms;
using core::seconds;
using nlohmann::json;

std::expected<scenario, std::string> parse_text(const std::string& text) {
  return parse_scenario(json::parse(text));
}

// ---- Valid files ------------------------------------------------------------------------------

TEST(Scenario, CompleteExampleSetsEveryField) {
  auto s = parse_text(R"({
    "name": "proxy-crash-2",
    "description": "every field given",
    "seed": 18446744073709551615,
    "duration_s": 12.5,
    "liveness_s": 7,
    "topology": {
      "mgmt": 3, "proxies": 4, "hosts": 20, "endpoints_per_host": 5, "proxy_order": "shuffle",
      "link_latency_ms": 2, "link_jitter_ms": 0.25, "backbone_latency_ms": 0.75,
      "host_bus_latency_ms": 0.01
    },
    "workload": [
      { "from": "endpoint", "to": "ccp://endpoint/{host}/{ep}", "kind": "notification",
        "type": "ping", "every_ms": 2.5, "timeout_ms": 300, "start_s": 1.5, "stop_s": 9 },
      { "to": "ccp://proxy/any", "every_ms": 50 }
    ],
    "faults": [
      { "at_s": 2, "kind": "latency_spike", "target": -1, "count": 3, "duration_s": 1.25,
        "factor": 7.5 },
      { "at_s": 0, "kind": "kill_proxy" }
    ],
    "expect": {
      "min_ok_ratio": 0.5, "max_timeout_ratio": 0.25, "min_unreachable_ratio": 0,
      "reattach_within_s": 6, "converge_within_s": 7, "violation": "double_ownership"
    },
    "sabotage": "fencing_off"
  })");
  ASSERT_TRUE(s.has_value()) << s.error();
  EXPECT_EQ(s->name, "proxy-crash-2");
  EXPECT_EQ(s->description, "every field given");
  EXPECT_EQ(s->seed, UINT64_MAX);
  EXPECT_EQ(s->duration, 12'500 * ms);
  EXPECT_EQ(s->liveness, 7 * seconds);

  EXPECT_EQ(s->topo.mgmt, 3);
  EXPECT_EQ(s->topo.proxies, 4);
  EXPECT_EQ(s->topo.hosts, 20);
  EXPECT_EQ(s->topo.endpoints_per_host, 5);
  EXPECT_EQ(s->topo.proxy_order, "shuffle");
  EXPECT_EQ(s->topo.link_latency, 2 * ms);
  EXPECT_EQ(s->topo.link_jitter, 250);
  EXPECT_EQ(s->topo.backbone_latency, 750);
  EXPECT_EQ(s->topo.host_bus_latency, 10);

  ASSERT_EQ(s->workload.size(), 2u);
  const workload_item& w = s->workload[0];
  EXPECT_EQ(w.from, "endpoint");
  EXPECT_EQ(w.to, "ccp://endpoint/{host}/{ep}");
  EXPECT_FALSE(w.request);
  EXPECT_EQ(w.type, "ping");
  EXPECT_EQ(w.every, 2'500);
  EXPECT_EQ(w.timeout, 300 * ms);
  EXPECT_EQ(w.start, 1'500 * ms);
  EXPECT_EQ(w.stop, 9 * seconds);
  const workload_item& w2 = s->workload[1];
  EXPECT_EQ(w2.from, "mgmt");
  EXPECT_EQ(w2.to, "ccp://proxy/any");
  EXPECT_TRUE(w2.request);
  EXPECT_EQ(w2.type, "echo");
  EXPECT_EQ(w2.every, 50 * ms);
  EXPECT_EQ(w2.timeout, 1 * seconds);
  EXPECT_EQ(w2.start, 0);
  EXPECT_EQ(w2.stop, -1);

  ASSERT_EQ(s->faults.size(), 2u);
  const fault& f = s->faults[0];
  EXPECT_EQ(f.at, 2 * seconds);
  EXPECT_EQ(f.kind, fault_kind::latency_spike);
  EXPECT_EQ(f.target, -1);
  EXPECT_EQ(f.count, 3);
  EXPECT_EQ(f.duration, 1'250 * ms);
  EXPECT_EQ(f.factor, 7.5);
  const fault& f2 = s->faults[1];
  EXPECT_EQ(f2.at, 0);
  EXPECT_EQ(f2.kind, fault_kind::kill_proxy);
  EXPECT_EQ(f2.target, 0);
  EXPECT_EQ(f2.count, 1);
  EXPECT_EQ(f2.duration, 0);
  EXPECT_EQ(f2.factor, 1.0);

  EXPECT_EQ(s->expect.min_ok_ratio, 0.5);
  EXPECT_EQ(s->expect.max_timeout_ratio, 0.25);
  EXPECT_EQ(s->expect.min_unreachable_ratio, 0.0);
  EXPECT_EQ(s->expect.reattach_within, 6 * seconds);
  EXPECT_EQ(s->expect.converge_within, 7 * seconds);
  EXPECT_EQ(s->expect.violation, "double_ownership");
  EXPECT_EQ(s->sabotage, "fencing_off");
}

TEST(Scenario, BusNodesAndKillBusNodeAreRead) {
  auto s = parse_text(R"({"name": "cluster", "description": "",
      "topology": {"bus_nodes": 3, "bus_failover_ms": 2, "bus_reconnect_ms": 40.5},
      "faults": [{"at_s": 1, "kind": "kill_bus_node", "target": 2, "duration_s": 2},
                 {"at_s": 2, "kind": "kill_bus_node", "target": -1}]})");
  ASSERT_TRUE(s.has_value()) << s.error();
  EXPECT_EQ(s->topo.bus_nodes, 3);
  EXPECT_EQ(s->topo.bus_failover, 2000);
  EXPECT_EQ(s->topo.bus_reconnect, 40500);
  ASSERT_EQ(s->faults.size(), 2u);
  EXPECT_EQ(s->faults[0].kind, fault_kind::kill_bus_node);
  EXPECT_EQ(s->faults[0].target, 2);
  EXPECT_EQ(s->faults[0].duration, 2 * seconds);
  EXPECT_EQ(s->faults[1].target, -1);
  EXPECT_EQ(s->faults[1].duration, 0);  // until the heal
  EXPECT_EQ(to_string(fault_kind::kill_bus_node), "kill_bus_node");
}

TEST(Scenario, AbsentFieldsTakeTheDefaults) {
  auto s = parse_text(R"({"name": "minimal", "description": "", "topology": {}})");
  ASSERT_TRUE(s.has_value()) << s.error();
  const scenario d;
  EXPECT_EQ(s->name, "minimal");
  EXPECT_EQ(s->description, "");
  EXPECT_EQ(s->seed, 1u);
  EXPECT_EQ(s->duration, 30 * seconds);
  EXPECT_EQ(s->liveness, 30 * seconds);
  EXPECT_EQ(s->topo.mgmt, 1);
  EXPECT_EQ(s->topo.proxies, 2);
  EXPECT_EQ(s->topo.hosts, 10);
  EXPECT_EQ(s->topo.endpoints_per_host, 2);
  EXPECT_EQ(s->topo.proxy_order, "rotate");
  EXPECT_EQ(s->topo.link_latency, 1 * ms);
  EXPECT_EQ(s->topo.link_jitter, 0);
  EXPECT_EQ(s->topo.backbone_latency, 500);
  EXPECT_EQ(s->topo.host_bus_latency, 50);
  EXPECT_EQ(s->topo.bus_nodes, 1);
  EXPECT_EQ(s->topo.bus_failover, 1 * ms);
  EXPECT_EQ(s->topo.bus_reconnect, 250 * ms);
  EXPECT_TRUE(s->workload.empty());
  EXPECT_TRUE(s->faults.empty());
  EXPECT_FALSE(s->expect.min_ok_ratio.has_value());
  EXPECT_FALSE(s->expect.max_timeout_ratio.has_value());
  EXPECT_FALSE(s->expect.min_unreachable_ratio.has_value());
  EXPECT_FALSE(s->expect.reattach_within.has_value());
  EXPECT_FALSE(s->expect.converge_within.has_value());
  EXPECT_FALSE(s->expect.violation.has_value());
  EXPECT_EQ(s->sabotage, "");
}

TEST(Scenario, EmptyWorkloadAndFaultArraysAndExpectObject) {
  auto s = parse_text(
      R"({"name": "x", "description": "", "topology": {}, "workload": [], "faults": [],
          "expect": {}, "sabotage": ""})");
  ASSERT_TRUE(s.has_value()) << s.error();
  EXPECT_TRUE(s->workload.empty());
  EXPECT_TRUE(s->faults.empty());
}

TEST(Scenario, TimesRoundToTheNearestMicrosecond) {
  auto s = parse_text(R"({"name": "x", "description": "", "duration_s": 1.0000004,
      "liveness_s": 1.0000006,
      "topology": {"link_latency_ms": 0.0014, "link_jitter_ms": 0.0016,
                   "backbone_latency_ms": 0.0004, "host_bus_latency_ms": 0.0496}})");
  ASSERT_TRUE(s.has_value()) << s.error();
  EXPECT_EQ(s->duration, 1'000'000);
  EXPECT_EQ(s->liveness, 1'000'001);
  EXPECT_EQ(s->topo.link_latency, 1);
  EXPECT_EQ(s->topo.link_jitter, 2);
  EXPECT_EQ(s->topo.backbone_latency, 0);
  EXPECT_EQ(s->topo.host_bus_latency, 50);
}

// Each range at its limits; the limit + 1 cases are in the error table below.
TEST(Scenario, ValuesAtTheLimitsAreAccepted) {
  for (const char* text : {
           R"({"topology": {"mgmt": 100, "proxies": 1000, "hosts": 100000,
                            "endpoints_per_host": 2048, "link_latency_ms": 60000,
                            "link_jitter_ms": 60000, "backbone_latency_ms": 60000,
                            "host_bus_latency_ms": 60000}, "duration_s": 86400,
               "liveness_s": 86400, "seed": 0})",
           R"({"topology": {"mgmt": 1, "proxies": 1, "hosts": 1, "endpoints_per_host": 0,
                            "link_latency_ms": 0}, "duration_s": 0.000001, "liveness_s": 0})",
           R"({"topology": {}, "faults": [{"at_s": 29.999999, "kind": "slow_consumer",
               "target": 1, "factor": 1000}, {"at_s": 0, "kind": "half_open", "target": 9},
               {"at_s": 0, "kind": "bus_outage", "target": 2147483647, "duration_s": 0.000001,
               "count": 2147483647}]})",
           R"({"topology": {}, "workload": [{"to": "ccp://agent/{host}/agent",
               "every_ms": 0.001, "timeout_ms": 86400000, "start_s": 29.999999,
               "stop_s": 86400}]})",
           R"({"topology": {}, "expect": {"min_ok_ratio": 1, "max_timeout_ratio": 0,
               "min_unreachable_ratio": 1, "reattach_within_s": 30, "converge_within_s": 0}})",
       }) {
    json j = json::parse(text);
    j["name"] = "abcdefghijklmnopqrstuvwxyz-0123456789-abcdefghijklmnopqrstuvwxyz";  // 64
    j["description"] = "limits";
    auto s = parse_scenario(j);
    EXPECT_TRUE(s.has_value()) << text << "\n" << s.error();
  }
}

// A json built in C++ holds non-negative integers as signed values: they are accepted too.
TEST(Scenario, TheProcessingCostIsOffByDefaultAndEachCostOverridesItsDefault) {
  const cost_model defaults;
  auto unsaid = parse_text(R"({"name": "c", "description": "d", "topology": {}})");
  ASSERT_TRUE(unsaid.has_value()) << unsaid.error();
  EXPECT_FALSE(unsaid->topo.cost.on);
  auto on = parse_text(R"({"name": "c", "description": "d", "topology": {"cost": true}})");
  ASSERT_TRUE(on.has_value()) << on.error();
  EXPECT_TRUE(on->topo.cost.on);
  EXPECT_GT(on->topo.cost.hello_ns, 0);
  auto off = parse_text(R"({"name": "c", "description": "d", "topology": {"cost": false}})");
  ASSERT_TRUE(off.has_value()) << off.error();
  EXPECT_FALSE(off->topo.cost.on);
  auto given = parse_text(R"({"name": "c", "description": "d", "topology": {"cost":
      {"accept_us": 1.5, "hello_us": 0, "directory_us": 1000000, "byte_ns": 0.25}}})");
  ASSERT_TRUE(given.has_value()) << given.error();
  EXPECT_TRUE(given->topo.cost.on);
  EXPECT_EQ(given->topo.cost.accept_ns, 1500);
  EXPECT_EQ(given->topo.cost.hello_ns, 0);
  EXPECT_EQ(given->topo.cost.directory_ns, 1'000'000'000);
  EXPECT_EQ(given->topo.cost.frame_ns, defaults.frame_ns);
  EXPECT_DOUBLE_EQ(given->topo.cost.byte_ns, 0.25);
}

TEST(Scenario, AcceptsAValueBuiltInCpp) {
  json j = {
      {"name", "built"}, {"description", "in C++"}, {"seed", 5}, {"topology", {{"hosts", 3}}}};
  j["faults"] = json::array({{{"at_s", 1}, {"kind", "kill_agent"}, {"target", 2}}});
  auto s = parse_scenario(j);
  ASSERT_TRUE(s.has_value()) << s.error();
  EXPECT_EQ(s->seed, 5u);
  EXPECT_EQ(s->topo.hosts, 3);
  EXPECT_EQ(s->faults.at(0).target, 2);
}

// The example in scenarios/README.md is the one users copy: it must stay valid.
TEST(Scenario, ReadmeExampleIsValid) {
  std::ifstream in(std::string(CCP_SOURCE_DIR) + "/scenarios/README.md");
  ASSERT_TRUE(in) << "cannot open scenarios/README.md";
  std::stringstream buf;
  buf << in.rdbuf();
  std::string doc = buf.str();
  auto begin = doc.find("```json\n");
  ASSERT_NE(begin, std::string::npos) << "no ```json block";
  begin += 8;
  auto end = doc.find("```", begin);
  ASSERT_NE(end, std::string::npos);
  EXPECT_EQ(doc.find("```json\n", end), std::string::npos) << "expected one example";
  auto s = parse_text(doc.substr(begin, end - begin));
  ASSERT_TRUE(s.has_value()) << s.error();
  EXPECT_EQ(s->name, "proxy-crash");
  EXPECT_FALSE(s->workload.empty());
  EXPECT_FALSE(s->faults.empty());
}

// ---- Errors of parse_scenario: one per class, each with its exact message -----------------

// A valid scenario, changed by `patches` (JSON Pointer -> JSON text; nullptr removes).
constexpr const char* base = R"({
  "name": "t", "description": "d", "topology": {},
  "workload": [{"to": "ccp://endpoint/{host}/{ep}", "every_ms": 100}],
  "faults": [{"at_s": 1, "kind": "kill_proxy"}]
})";

struct error_case {
  const char* name;
  std::vector<std::pair<const char*, const char*>> patches;
  std::string error;
};

void PrintTo(const error_case& c, std::ostream* os) {
  *os << c.name;
}

class ScenarioError : public testing::TestWithParam<error_case> {};

TEST_P(ScenarioError, ReportsPathAndWhatWasExpected) {
  const error_case& c = GetParam();
  json j = json::parse(base);
  for (const auto& [pointer, value] : c.patches) {
    json::json_pointer p(pointer);
    if (value)
      j[p] = json::parse(value);
    else
      j[p.parent_pointer()].erase(p.back());
  }
  ASSERT_TRUE(parse_scenario(json::parse(base)).has_value());
  auto s = parse_scenario(j);
  ASSERT_FALSE(s.has_value()) << j.dump();
  EXPECT_EQ(s.error(), c.error) << j.dump();
}

const std::string all_top_keys =
    "name, description, seed, duration_s, liveness_s, topology, workload, faults, expect, "
    "sabotage";
const std::string all_fault_kinds =
    "kill_proxy, restart_proxy, drain_proxy, kill_agent, half_open, partition_proxy, "
    "latency_spike, stall_proxy, slow_consumer, bus_outage, endpoint_churn, kill_mgmt, "
    "kill_bus_node";
const std::string name_what =
    "a name of 1 to 64 characters from a-z, 0-9 and - (e.g. \"proxy-crash\")";

// The strings are built once, before the test cases take pointers to them.
const std::string unknown_top = "/nmae: unknown key, expected one of " + all_top_keys;
const std::string unknown_fault_kind = "/faults/2/kind: expected one of " + all_fault_kinds;
const std::string missing_name = "/name: missing, expected " + name_what;
const std::string bad_name = "/name: expected " + name_what;

INSTANTIATE_TEST_SUITE_P(
    Scenario, ScenarioError,
    testing::Values(
        // Shape and unknown keys.
        error_case{"RootNotAnObject", {{"", "[]"}}, "/: expected an object"},
        error_case{"UnknownTopLevelKey", {{"/nmae", "\"x\""}}, unknown_top},
        error_case{"UnknownTopologyKey",
                   {{"/topology/hostz", "1"}},
                   "/topology/hostz: unknown key, expected one of mgmt, proxies, hosts, "
                   "endpoints_per_host, proxy_order, link_latency_ms, link_jitter_ms, "
                   "backbone_latency_ms, host_bus_latency_ms, bus_nodes, bus_failover_ms, "
                   "bus_reconnect_ms, cost"},
        // The processing cost.
        error_case{"CostNotABoolOrObject",
                   {{"/topology/cost", "1"}},
                   "/topology/cost: expected false, true or an object of costs"},
        error_case{"UnknownCostKey",
                   {{"/topology/cost", R"({"hello_ms": 1})"}},
                   "/topology/cost/hello_ms: unknown key, expected one of accept_us, hello_us, "
                   "directory_us, frame_us, byte_ns"},
        error_case{"NegativeCost",
                   {{"/topology/cost", R"({"frame_us": -1})"}},
                   "/topology/cost/frame_us: expected a number of microseconds from 0 to 1000000 "
                   "(fractions allowed)"},
        error_case{"CostAboveItsLimit",
                   {{"/topology/cost", R"({"byte_ns": 1000001})"}},
                   "/topology/cost/byte_ns: expected a number of nanoseconds from 0 to 1000000 "
                   "(fractions allowed)"},
        error_case{"CostAsText",
                   {{"/topology/cost", R"({"hello_us": "5"})"}},
                   "/topology/cost/hello_us: expected a number of microseconds from 0 to 1000000 "
                   "(fractions allowed)"},
        error_case{"UnknownWorkloadKey",
                   {{"/workload/0/every", "1"}},
                   "/workload/0/every: unknown key, expected one of from, to, kind, type, "
                   "every_ms, timeout_ms, start_s, stop_s"},
        error_case{"UnknownFaultKey",
                   {{"/faults/0/tagret", "1"}},
                   "/faults/0/tagret: unknown key, expected one of at_s, kind, target, count, "
                   "duration_s, factor"},
        error_case{"UnknownKeyIsEscapedInThePath",
                   {{"/expect/a~1b~0c", "1"}},
                   "/expect/a~1b~0c: unknown key, expected one of min_ok_ratio, "
                   "max_timeout_ratio, min_unreachable_ratio, max_unreachable_ratio, "
                   "max_partial_ratio, reattach_within_s, converge_within_s, "
                   "group_complete_within_ms, balance_within_s, balance_tolerance, "
                   "max_any_share_skew, violation"},
        // Rebalancing and `any` over members.
        error_case{"BalanceWithinBeyondTheFaultPhase",
                   {{"/expect/balance_within_s", "31"}},
                   "/expect/balance_within_s: expected a number from 0 to 30 (duration_s)"},
        error_case{"BalanceToleranceAlone",
                   {{"/expect/balance_tolerance", "0.2"}},
                   "/expect/balance_tolerance: expected only with balance_within_s"},
        error_case{"BalanceToleranceAboveOne",
                   {{"/expect/balance_within_s", "10"}, {"/expect/balance_tolerance", "1.5"}},
                   "/expect/balance_tolerance: expected a number from 0 to 1"},
        error_case{"AnyShareSkewBelowOne",
                   {{"/expect/max_any_share_skew", "0.5"}},
                   "/expect/max_any_share_skew: expected a number from 1 to 1000"},
        // Required fields.
        error_case{"MissingName", {{"/name", nullptr}}, missing_name},
        error_case{"MissingDescription",
                   {{"/description", nullptr}},
                   "/description: missing, expected a string"},
        error_case{
            "MissingTopology", {{"/topology", nullptr}}, "/topology: missing, expected an object"},
        error_case{"MissingTo",
                   {{"/workload/0/to", nullptr}},
                   "/workload/0/to: missing, expected an address string"},
        error_case{"MissingEveryMs",
                   {{"/workload/0/every_ms", nullptr}},
                   "/workload/0/every_ms: missing, expected a number from 0.001 to 86400000"},
        error_case{"MissingAt",
                   {{"/faults/0/at_s", nullptr}},
                   "/faults/0/at_s: missing, expected a number >= 0 and < 30 (duration_s)"},
        error_case{"MissingFaultKind",
                   {{"/faults/0/kind", nullptr}},
                   "/faults/0/kind: missing, expected one of " + all_fault_kinds},
        error_case{"MissingDurationOfATimedFault",
                   {{"/faults/0/kind", "\"partition_proxy\""}},
                   "/faults/0/duration_s: missing, expected a number from 0.000001 to 86400 "
                   "for partition_proxy"},
        // Wrong types.
        error_case{"NameNotAString", {{"/name", "5"}}, bad_name},
        error_case{
            "DescriptionNotAString", {{"/description", "null"}}, "/description: expected a string"},
        error_case{"TopologyNotAnObject", {{"/topology", "[]"}}, "/topology: expected an object"},
        error_case{"IntegerGivenAsString",
                   {{"/topology/hosts", "\"10\""}},
                   "/topology/hosts: expected an integer from 1 to 100000"},
        error_case{"IntegerGivenAsFloat",
                   {{"/topology/hosts", "10.0"}},
                   "/topology/hosts: expected an integer from 1 to 100000"},
        error_case{"IntegerGivenAsBool",
                   {{"/topology/mgmt", "true"}},
                   "/topology/mgmt: expected an integer from 1 to 100"},
        error_case{"NumberGivenAsString",
                   {{"/duration_s", "\"30\""}},
                   "/duration_s: expected a number from 0.000001 to 86400"},
        error_case{"WorkloadNotAnArray", {{"/workload", "{}"}}, "/workload: expected an array"},
        error_case{"WorkloadItemNotAnObject",
                   {{"/workload/0", "\"x\""}},
                   "/workload/0: expected an object"},
        error_case{"FaultsNotAnArray", {{"/faults", "1"}}, "/faults: expected an array"},
        error_case{"ExpectNotAnObject", {{"/expect", "[]"}}, "/expect: expected an object"},
        error_case{"ToNotAString",
                   {{"/workload/0/to", "5"}},
                   "/workload/0/to: expected an address string"},
        error_case{"RatioGivenAsString",
                   {{"/expect/min_ok_ratio", "\"0.9\""}},
                   "/expect/min_ok_ratio: expected a number from 0 to 1"},
        // Names and enumerations.
        error_case{"NameEmpty", {{"/name", "\"\""}}, bad_name},
        error_case{"NameWithUpperCaseAndUnderscore", {{"/name", "\"Proxy_Crash\""}}, bad_name},
        error_case{
            "NameOf65Bytes",
            {{"/name", "\"abcdefghijklmnopqrstuvwxyz-0123456789-abcdefghijklmnopqrstuvwxyz1\""}},
            bad_name},
        error_case{"ProxyOrder",
                   {{"/topology/proxy_order", "\"random\""}},
                   "/topology/proxy_order: expected one of rotate, shuffle, same"},
        error_case{"WorkloadFrom",
                   {{"/workload/0/from", "\"client\""}},
                   "/workload/0/from: expected one of mgmt, proxy, agent, endpoint"},
        error_case{"WorkloadKind",
                   {{"/workload/0/kind", "\"event\""}},
                   "/workload/0/kind: expected one of request, notification"},
        error_case{"WorkloadType",
                   {{"/workload/0/type", "\"get\""}},
                   "/workload/0/type: expected one of echo, ping"},
        error_case{"FaultKindInThirdFault",
                   {{"/faults/1", R"({"at_s": 2, "kind": "kill_agent"})"},
                    {"/faults/2", R"({"at_s": 3, "kind": "reboot"})"}},
                   unknown_fault_kind},
        error_case{"Violation",
                   {{"/expect/violation", "\"crash\""}, {"/sabotage", "\"fencing_off\""}},
                   "/expect/violation: expected one of non_member_delivery, duplicate_delivery, "
                   "outcome_count, unbounded_queue, double_ownership, swallowed_any, "
                   "group_accounting, unbalanced, any_share_skew"},
        error_case{"Sabotage",
                   {{"/sabotage", "\"chaos\""}},
                   "/sabotage: expected one of \"\", fencing_off, empty_proxy_takes_any, "
                   "duplicate_delivery, misroute, double_complete, no_link_bound, lax_groups, "
                   "no_rebalance, any_over_proxies"},
        // Ranges: each limit + 1 (and - 1 where there is a lower one).
        error_case{"SeedNegative",
                   {{"/seed", "-1"}},
                   "/seed: expected an integer from 0 to 18446744073709551615"},
        error_case{"SeedFloat",
                   {{"/seed", "1.5"}},
                   "/seed: expected an integer from 0 to 18446744073709551615"},
        error_case{"DurationZero",
                   {{"/duration_s", "0"}},
                   "/duration_s: expected a number from 0.000001 to 86400"},
        error_case{"DurationRoundsToZero",
                   {{"/duration_s", "0.0000004"}},
                   "/duration_s: expected a number from 0.000001 to 86400"},
        error_case{"DurationAboveADay",
                   {{"/duration_s", "86400.000001"}},
                   "/duration_s: expected a number from 0.000001 to 86400"},
        error_case{"DurationHuge",
                   {{"/duration_s", "1e300"}},
                   "/duration_s: expected a number from 0.000001 to 86400"},
        error_case{"LivenessNegative",
                   {{"/liveness_s", "-1"}},
                   "/liveness_s: expected a number from 0 to 86400"},
        error_case{"MgmtZero",
                   {{"/topology/mgmt", "0"}},
                   "/topology/mgmt: expected an integer from 1 to 100"},
        error_case{"MgmtAboveLimit",
                   {{"/topology/mgmt", "101"}},
                   "/topology/mgmt: expected an integer from 1 to 100"},
        error_case{"ProxiesZero",
                   {{"/topology/proxies", "0"}},
                   "/topology/proxies: expected an integer from 1 to 1000"},
        error_case{"ProxiesAboveLimit",
                   {{"/topology/proxies", "1001"}},
                   "/topology/proxies: expected an integer from 1 to 1000"},
        error_case{"HostsZero",
                   {{"/topology/hosts", "0"}},
                   "/topology/hosts: expected an integer from 1 to 100000"},
        error_case{"HostsAboveLimit",
                   {{"/topology/hosts", "100001"}},
                   "/topology/hosts: expected an integer from 1 to 100000"},
        error_case{"HostsAboveInt64",
                   {{"/topology/hosts", "18446744073709551615"}},
                   "/topology/hosts: expected an integer from 1 to 100000"},
        error_case{"EndpointsNegative",
                   {{"/topology/endpoints_per_host", "-1"}},
                   "/topology/endpoints_per_host: expected an integer from 0 to 2048"},
        error_case{"EndpointsAboveLimit",
                   {{"/topology/endpoints_per_host", "2049"}},
                   "/topology/endpoints_per_host: expected an integer from 0 to 2048"},
        error_case{"LatencyNegative",
                   {{"/topology/link_latency_ms", "-0.5"}},
                   "/topology/link_latency_ms: expected a number from 0 to 60000"},
        error_case{"JitterAboveLimit",
                   {{"/topology/link_jitter_ms", "60001"}},
                   "/topology/link_jitter_ms: expected a number from 0 to 60000"},
        error_case{"BackboneLatencyAboveLimit",
                   {{"/topology/backbone_latency_ms", "60000.001"}},
                   "/topology/backbone_latency_ms: expected a number from 0 to 60000"},
        error_case{"BusNodesZero",
                   {{"/topology/bus_nodes", "0"}},
                   "/topology/bus_nodes: expected an integer from 1 to 5"},
        error_case{"BusNodesAboveLimit",
                   {{"/topology/bus_nodes", "6"}},
                   "/topology/bus_nodes: expected an integer from 1 to 5"},
        error_case{"BusFailoverAboveLimit",
                   {{"/topology/bus_failover_ms", "60001"}},
                   "/topology/bus_failover_ms: expected a number from 0 to 60000"},
        error_case{"BusReconnectNegative",
                   {{"/topology/bus_reconnect_ms", "-1"}},
                   "/topology/bus_reconnect_ms: expected a number from 0 to 60000"},
        error_case{"HostBusLatencyNegative",
                   {{"/topology/host_bus_latency_ms", "-1"}},
                   "/topology/host_bus_latency_ms: expected a number from 0 to 60000"},
        error_case{"EveryZero",
                   {{"/workload/0/every_ms", "0"}},
                   "/workload/0/every_ms: expected a number from 0.001 to 86400000"},
        error_case{"EveryRoundsToZero",
                   {{"/workload/0/every_ms", "0.0004"}},
                   "/workload/0/every_ms: expected a number from 0.001 to 86400000"},
        error_case{"TimeoutNegative",
                   {{"/workload/0/timeout_ms", "-5"}},
                   "/workload/0/timeout_ms: expected a number from 0.001 to 86400000"},
        error_case{"StartNegative",
                   {{"/workload/0/start_s", "-1"}},
                   "/workload/0/start_s: expected a number >= 0 and < 30 (duration_s)"},
        error_case{"StartAtTheEndOfTheFaultPhase",
                   {{"/duration_s", "10"}, {"/workload/0/start_s", "10"}},
                   "/workload/0/start_s: expected a number >= 0 and < 10 (duration_s)"},
        error_case{"StopNotAfterStart",
                   {{"/workload/0/start_s", "2.5"}, {"/workload/0/stop_s", "2.5"}},
                   "/workload/0/stop_s: expected a number > 2.5 (start_s) and <= 86400"},
        error_case{"AtTheEndOfTheFaultPhase",
                   {{"/faults/0/at_s", "30"}},
                   "/faults/0/at_s: expected a number >= 0 and < 30 (duration_s)"},
        error_case{"AtNegative",
                   {{"/faults/0/at_s", "-0.1"}},
                   "/faults/0/at_s: expected a number >= 0 and < 30 (duration_s)"},
        error_case{"ProxyTargetPastTheLastProxy",
                   {{"/faults/0/target", "2"}},
                   "/faults/0/target: expected an integer from -1 to 1 (a proxy index, or -1 "
                   "for all)"},
        error_case{"ProxyTargetBelowMinusOne",
                   {{"/faults/0/target", "-2"}},
                   "/faults/0/target: expected an integer from -1 to 1 (a proxy index, or -1 "
                   "for all)"},
        error_case{"HostTargetPastTheLastHost",
                   {{"/faults/0/kind", "\"kill_agent\""}, {"/faults/0/target", "10"}},
                   "/faults/0/target: expected an integer from -1 to 9 (a host index, or -1 "
                   "for all)"},
        error_case{"BusNodeTargetPastTheLastNode",
                   {{"/faults/0/kind", "\"kill_bus_node\""}, {"/faults/0/target", "1"}},
                   "/faults/0/target: expected an integer from -1 to 0 (a bus node index, or -1 "
                   "for all)"},
        error_case{"OtherTargetBelowMinusOne",
                   {{"/faults/0/kind", "\"bus_outage\""}, {"/faults/0/target", "-2"}},
                   "/faults/0/target: expected an integer from -1 to 2147483647"},
        error_case{"CountZero",
                   {{"/faults/0/count", "0"}},
                   "/faults/0/count: expected an integer from 1 to 2147483647"},
        error_case{"DurationOfATimedFaultZero",
                   {{"/faults/0/kind", "\"stall_proxy\""}, {"/faults/0/duration_s", "0"}},
                   "/faults/0/duration_s: expected a number from 0.000001 to 86400 for "
                   "stall_proxy"},
        error_case{"FaultDurationNegative",
                   {{"/faults/0/duration_s", "-1"}},
                   "/faults/0/duration_s: expected a number from 0 to 86400"},
        error_case{"FactorBelowOne",
                   {{"/faults/0/factor", "0.5"}},
                   "/faults/0/factor: expected a number from 1 to 1000"},
        error_case{"FactorAboveLimit",
                   {{"/faults/0/factor", "1000.5"}},
                   "/faults/0/factor: expected a number from 1 to 1000"},
        error_case{"RatioAboveOne",
                   {{"/expect/max_timeout_ratio", "1.01"}},
                   "/expect/max_timeout_ratio: expected a number from 0 to 1"},
        error_case{"RatioNegative",
                   {{"/expect/min_unreachable_ratio", "-0.01"}},
                   "/expect/min_unreachable_ratio: expected a number from 0 to 1"},
        error_case{"ReattachAfterTheLivenessPhase",
                   {{"/expect/reattach_within_s", "30.5"}},
                   "/expect/reattach_within_s: expected a number from 0 to 30 (liveness_s)"},
        error_case{"ReattachWithoutALivenessPhase",
                   {{"/liveness_s", "0"}, {"/expect/reattach_within_s", "0"}},
                   "/expect/reattach_within_s: needs liveness_s > 0 (measured then)"},
        error_case{"ConvergeWithoutALivenessPhase",
                   {{"/liveness_s", "0"}, {"/expect/converge_within_s", "0"}},
                   "/expect/converge_within_s: needs liveness_s > 0 (measured then)"},
        error_case{"ConvergeNegative",
                   {{"/liveness_s", "12.25"}, {"/expect/converge_within_s", "-1"}},
                   "/expect/converge_within_s: expected a number from 0 to 12.25 (liveness_s)"},
        // Addresses.
        error_case{"ToBadType",
                   {{"/workload/0/to", "\"ccp://endpont/{host}/{ep}\""}},
                   "/workload/0/to: expected a ccp address: type must be mgmt, proxy, agent or "
                   "endpoint at offset 6"},
        error_case{"ToOffsetCountsThePlaceholderAsWritten",
                   {{"/workload/0/to", "\"ccp://endpoint/{host}/a b\""}},
                   "/workload/0/to: expected a ccp address: forbidden character at offset 23"},
        error_case{"ToUnknownPlaceholder",
                   {{"/workload/0/to", "\"ccp://endpoint/{hots}/e1\""}},
                   "/workload/0/to: expected a ccp address: bad host (expected IPv4, [IPv6] or an "
                   "RFC 1123 "
                   "name) at offset 15"},
        error_case{"ToEndpointWithoutEndpoints",
                   {{"/topology/endpoints_per_host", "0"}},
                   "/workload/0/to: expected no {ep} (topology has no endpoints)"},
        error_case{"FromEndpointWithoutEndpoints",
                   {{"/topology/endpoints_per_host", "0"}, {"/workload/0/from", "\"endpoint\""}},
                   "/workload/0/from: expected mgmt, proxy or agent (topology has no endpoints)"},
        // Negative scenarios.
        error_case{"SabotageWithoutViolation",
                   {{"/sabotage", "\"no_link_bound\""}},
                   "/sabotage: expected /expect/violation to name the violation it causes"},
        error_case{"ViolationWithoutSabotage",
                   {{"/expect/violation", "\"outcome_count\""}},
                   "/expect/violation: expected only with a /sabotage that causes it"}),
    [](const testing::TestParamInfo<error_case>& p) { return std::string(p.param.name); });

// ---- load_scenario ----------------------------------------------------------------------------

class LoadScenario : public testing::Test {
 protected:
  void SetUp() override {
    // One directory per process and test, so that parallel ctest runs do not collide.
    std::string name = testing::UnitTest::GetInstance()->current_test_info()->name();
    std::replace(name.begin(), name.end(), '/', '_');
    dir_ = std::filesystem::temp_directory_path() /
           ("ccp_scenario_test_" + std::to_string(::getpid()) + "_" + name);
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::string write(const std::string& text) {
    std::string path = (dir_ / "s.json").string();
    std::ofstream(path, std::ios::binary) << text;
    return path;
  }

  std::filesystem::path dir_;
};

TEST_F(LoadScenario, ReadsAValidFile) {
  auto s = load_scenario(write(base));
  ASSERT_TRUE(s.has_value()) << s.error();
  EXPECT_EQ(s->name, "t");
  EXPECT_EQ(s->faults.size(), 1u);
}

TEST_F(LoadScenario, PrefixesErrorsWithTheFileName) {
  std::string path = write(R"({"name": "t", "description": "d", "topology": {"hosts": 0}})");
  auto s = load_scenario(path);
  ASSERT_FALSE(s.has_value());
  EXPECT_EQ(s.error(), path + ": /topology/hosts: expected an integer from 1 to 100000");
}

TEST_F(LoadScenario, MissingFile) {
  std::string path = (dir_ / "absent.json").string();
  auto s = load_scenario(path);
  ASSERT_FALSE(s.has_value());
  EXPECT_EQ(s.error(), path + ": cannot open: No such file or directory");
}

TEST_F(LoadScenario, DirectoryIsNotAFile) {
  auto s = load_scenario(dir_.string());
  ASSERT_FALSE(s.has_value());
  EXPECT_EQ(s.error(), dir_.string() + ": cannot read: is a directory");
}

struct syntax_case {
  const char* name;
  const char* text;
  const char* error;  // after "PATH"
};

void PrintTo(const syntax_case& c, std::ostream* os) {
  *os << c.name;
}

class LoadScenarioSyntax : public LoadScenario, public testing::WithParamInterface<syntax_case> {};

TEST_P(LoadScenarioSyntax, ReportsLineAndColumn) {
  const syntax_case& c = GetParam();
  std::string path = write(c.text);
  auto s = load_scenario(path);
  ASSERT_FALSE(s.has_value());
  EXPECT_EQ(s.error(), path + c.error);
}

INSTANTIATE_TEST_SUITE_P(
    Scenario, LoadScenarioSyntax,
    testing::Values(
        syntax_case{"MissingComma",
                    "{\n  \"name\": \"t\",\n  \"description\": \"d\"\n  \"topology\": {}\n}\n",
                    ":4:12: syntax error while parsing object - unexpected string literal; "
                    "expected '}'"},
        syntax_case{"BadLiteral", "{\n  \"name\": tru\n}\n",
                    ":2:14: syntax error while parsing value - invalid literal; last read: "
                    "'\"name\": tru<U+000A>'"},
        syntax_case{"EmptyFile", "",
                    ":1:1: syntax error while parsing value - unexpected end of input; "
                    "expected '[', '{', or a literal"},
        syntax_case{"UnterminatedObject", "{\"name\": \"t\",\n",
                    ":2:1: syntax error while parsing object key - unexpected end of input; "
                    "expected string literal"},
        syntax_case{"TrailingGarbage", "{}\n\nx",
                    ":3:1: syntax error while parsing value - invalid literal; last read: "
                    "'{}<U+000A><U+000A>x'; expected end of input"},
        // nlohmann reports no position for this one.
        syntax_case{"NumberTooLarge", "{\"seed\": 1e999}", ": number overflow parsing '1e999'"},
        syntax_case{"DuplicateKey",
                    R"({"name": "t", "description": "d", "topology": {"hosts": 1, "hosts": 2}})",
                    ": /topology/hosts: duplicate key"},
        syntax_case{"DuplicateKeyInAnArrayElement",
                    R"({"name": "t", "description": "d", "topology": {},
                        "faults": [{"at_s": 1, "kind": "kill_proxy"}, [1, {"a": 1}],
                                   {"at_s": 2, "kind": "x", "kind": "kill_agent"}]})",
                    ": /faults/2/kind: duplicate key"},
        syntax_case{"SameKeyInTwoObjectsIsFine",
                    R"({"name": "t", "description": "d", "topology": {"name": 1}})",
                    ": /topology/name: unknown key, expected one of mgmt, proxies, hosts, "
                    "endpoints_per_host, proxy_order, link_latency_ms, link_jitter_ms, "
                    "backbone_latency_ms, host_bus_latency_ms, bus_nodes, bus_failover_ms, "
                    "bus_reconnect_ms, cost"}),
    [](const testing::TestParamInfo<syntax_case>& p) { return std::string(p.param.name); });

}  // namespace
}  // namespace ccp::sim
