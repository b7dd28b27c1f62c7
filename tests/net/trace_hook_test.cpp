// The real processes' link lines (net/trace_hook.hpp): each a JSON object in the
// simulator's vocabulary, whatever bytes a socket's reason holds; nothing without a trace;
// the epoch read from an agent's hello.
#include "net/trace_hook.hpp"

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "core/control.hpp"

namespace ccp::net {
namespace {

TEST(TraceHook, HelloEpochReadsTheAgentsHelloBody) {
  const std::string body = core::flat_json_writer{}
                               .add("epoch", std::uint64_t{4294967298})
                               .add("token", "t")
                               .add("endpoints", std::vector<std::string>{"e1"})
                               .finish();
  EXPECT_EQ(hello_epoch(body), 4294967298u);
  EXPECT_EQ(hello_epoch(R"({"token":"t"})"), 0u);
  EXPECT_EQ(hello_epoch("not json"), 0u);
}

TEST(TraceHook, LinkLinesAreJsonInTheSimulatorsWords) {
  const std::string path = (std::filesystem::temp_directory_path() /
                            ("ccp-trace-hook-" + std::to_string(::getpid()) + ".jsonl"))
                               .string();
  trace_link("link_up", "ccp://agent/10.0.0.1/agent", 1, "", "");  // no trace: nothing
  ASSERT_EQ(trace_file::open(path, 0), "");
  trace_dial("ccp://agent/10.0.0.1/agent", 1, "ws://127.0.0.1:1/");
  trace_link("link_up", "ccp://agent/10.0.0.1/agent", 1, "", "");
  trace_link("link_up", "ccp://proxy/10.200.0.1/p1", 9, "claimed\"", "");
  trace_attachment("attach", "ccp://agent/10.0.0.1/agent", "ccp://proxy/10.200.0.1/p1", 7, "");
  trace_link("link_down", "ccp://agent/10.0.0.1/agent", 1, "ccp://proxy/10.200.0.1/p1",
             "reset \"by\" peer\\\n\x01");
  trace_attachment("detach", "ccp://agent/10.0.0.1/agent", "ccp://proxy/10.200.0.1/p1", 7, "lost");
  trace_file::close();
  trace_link("link_up", "ccp://agent/10.0.0.1/agent", 2, "", "");  // closed: nothing

  std::vector<nlohmann::json> v;
  std::ifstream in(path);
  for (std::string l; std::getline(in, l);)
    v.push_back(nlohmann::json::parse(l));  // throws, failing the test, on a bad line
  std::filesystem::remove(path);
  ASSERT_EQ(v.size(), 6u);
  EXPECT_EQ(v[2]["peer"], "claimed\"");
  v.erase(v.begin() + 2);  // the proxy's line: the rest are the agent's
  EXPECT_EQ(v[0]["ev"], "dial");
  EXPECT_EQ(v[0]["target"], "ws://127.0.0.1:1/");
  EXPECT_EQ(v[1]["ev"], "link_up");
  EXPECT_FALSE(v[1].contains("peer"));
  EXPECT_EQ(v[2]["ev"], "attach");
  EXPECT_EQ(v[2]["proxy"], "ccp://proxy/10.200.0.1/p1");
  EXPECT_EQ(v[2]["epoch"], 7);
  EXPECT_EQ(v[3]["ev"], "link_down");
  EXPECT_EQ(v[3]["peer"], "ccp://proxy/10.200.0.1/p1");
  EXPECT_EQ(v[3]["why"], "reset \"by\" peer\\??");
  EXPECT_EQ(v[4]["ev"], "detach");
  EXPECT_EQ(v[4]["why"], "lost");
  for (const auto& j : v) {
    EXPECT_EQ(j["at"], "ccp://agent/10.0.0.1/agent");
    EXPECT_TRUE(j["t"].is_number_integer());
  }
}

}  // namespace
}  // namespace ccp::net
