// `ccp timeline`: the filter and formatter on hand-written trace lines, and the command as a
// user calls it on a trace `ccp sim --trace` wrote (errors: exit 2 with what and where).
#include "app/timeline.hpp"

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "app/commands.hpp"

namespace ccp::app {
namespace {

const std::vector<std::string> trace_lines = {
    R"({"t":1000,"ev":"dial","at":"ccp://agent/10.0.0.1/agent","link":1,"target":"ccp://proxy/10.200.0.1/p1"})",
    R"({"t":3000,"ev":"attach","at":"ccp://agent/10.0.0.1/agent","proxy":"ccp://proxy/10.200.0.1/p1","epoch":1})",
    R"({"t":3500,"ev":"attach","at":"ccp://agent/10.0.0.2/agent","proxy":"ccp://proxy/10.200.0.1/p1","epoch":1})",
    R"({"t":1000000,"ev":"send","at":"ccp://mgmt/mgmt-1.sim/m1","id":77,"to":"ccp://endpoint/10.0.0.2/all","expect":1,"expected":["ccp://endpoint/10.0.0.2/e1"]})",
    R"({"t":1002000,"ev":"deliver","at":"ccp://endpoint/10.0.0.2/e1","from":"ccp://mgmt/mgmt-1.sim/m1","id":77,"kind":"request"})",
    R"({"t":1500000,"ev":"fault","kind":"kill_proxy","target":0})",
    R"({"t":1600000,"ev":"send","at":"ccp://mgmt/mgmt-1.sim/m1","id":78,"to":"ccp://endpoint/10.0.0.1/e1","expect":1,"expected":["ccp://endpoint/10.0.0.1/e1"]})",
    R"({"t":2004000,"ev":"complete","at":"ccp://mgmt/mgmt-1.sim/m1","id":77,"code":"timeout","replies":0,"members":1})",
    R"({"t":3000000,"ev":"heal"})",
};

std::expected<std::vector<std::string>, std::string> run(timeline_filter f,
                                                         const std::vector<std::string>& in) {
  timeline t(std::move(f));
  for (std::size_t k = 0; k < in.size(); ++k)
    if (auto r = t.add(in[k], k + 1); !r) return std::unexpected(r.error());
  return t.finish();
}

// The events of formatted lines: the second word of each.
std::vector<std::string> events(const std::vector<std::string>& lines) {
  std::vector<std::string> v;
  for (const auto& l : lines) {
    std::istringstream s(l);
    std::string t, ev;
    s >> t >> ev;
    v.push_back(t + " " + ev);
  }
  return v;
}

TEST(TimelineFormat, TimeEventProcessThenFieldsInOrder) {
  auto l = format_trace_line(trace_lines[1]);
  ASSERT_TRUE(l) << l.error();
  EXPECT_EQ(*l,
            "   0.003000s  attach      ccp://agent/10.0.0.1/agent  "
            "proxy=ccp://proxy/10.200.0.1/p1  epoch=1");
  auto s = format_trace_line(trace_lines[3]);
  ASSERT_TRUE(s);
  EXPECT_EQ(*s,
            "   1.000000s  send        ccp://mgmt/mgmt-1.sim/m1  id=77  "
            "to=ccp://endpoint/10.0.0.2/all  expect=1  expected=[\"ccp://endpoint/10.0.0.2/e1\"]");
  auto h = format_trace_line(R"({"t":123456789,"ev":"heal"})");
  ASSERT_TRUE(h);
  EXPECT_EQ(*h, " 123.456789s  heal");
}

TEST(TimelineFilter, HostKeepsItsLinesAndTheFaults) {
  auto out = run({.host = "10.0.0.1"}, trace_lines);
  ASSERT_TRUE(out) << out.error();
  EXPECT_EQ(events(*out),
            (std::vector<std::string>{"0.001000s dial", "0.003000s attach", "1.500000s fault",
                                      "1.600000s send", "3.000000s heal"}));
}

TEST(TimelineFilter, ProxyHostMatchesThroughAnyField) {
  auto out = run({.host = "10.200.0.1"}, trace_lines);
  ASSERT_TRUE(out) << out.error();
  EXPECT_EQ(events(*out),
            (std::vector<std::string>{"0.001000s dial", "0.003000s attach", "0.003500s attach",
                                      "1.500000s fault", "3.000000s heal"}));
}

TEST(TimelineFilter, RequestKeepsItsLifeAndTheFaultsWhileOpen) {
  auto out = run({.request = 77}, trace_lines);
  ASSERT_TRUE(out) << out.error();
  EXPECT_EQ(events(*out), (std::vector<std::string>{"1.000000s send", "1.002000s deliver",
                                                    "1.500000s fault", "2.004000s complete"}));
}

TEST(TimelineFilter, TimeWindowAndHostTogether) {
  auto out = run({.host = "10.0.0.2", .from = 1'001'000, .to = 2'500'000}, trace_lines);
  ASSERT_TRUE(out) << out.error();
  EXPECT_EQ(events(*out), (std::vector<std::string>{"1.002000s deliver", "1.500000s fault"}));
}

TEST(TimelineFilter, UnknownHostOrRequestIsAnError) {
  auto h = run({.host = "10.0.0.9"}, trace_lines);
  ASSERT_FALSE(h);
  EXPECT_EQ(h.error(), "host 10.0.0.9 appears in no line of the trace");
  auto r = run({.request = 5}, trace_lines);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), "request 5 appears in no send, deliver or complete line of the trace");
  auto w = run({.from = 9'000'000}, trace_lines);
  ASSERT_FALSE(w);
  EXPECT_EQ(w.error(), "no line of the trace lies between --from and --to");
}

TEST(TimelineFilter, MalformedLinesAreNamedByNumber) {
  std::vector<std::string> in = trace_lines;
  in.insert(in.begin() + 2, "");  // blank: skipped, but counted
  in.insert(in.begin() + 3, R"({"t":5,"ev":"x")");
  auto a = run({}, in);
  ASSERT_FALSE(a);
  EXPECT_EQ(a.error(), "line 4: not a JSON object");
  EXPECT_EQ(run({}, {R"({"ev":"x"})"}).error(),
            "line 1: no \"t\" (a whole number of microseconds)");
  EXPECT_EQ(run({}, {R"({"t":1.5,"ev":"x"})"}).error(),
            "line 1: no \"t\" (a whole number of microseconds)");
  EXPECT_EQ(run({}, {R"({"t":1})"}).error(), "line 1: no \"ev\" (a string)");
  EXPECT_EQ(run({}, {"[1,2]"}).error(), "line 1: not a JSON object");
}

// The command, as `ccp timeline` runs it, on a trace of `ccp sim --trace`.
class TimelineCli : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("ccp-timeline-test-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  int ccp(std::vector<std::string_view> args) {
    out_.str({});
    err_.str({});
    return ccp_main(args, out_, err_);
  }
  std::filesystem::path dir_;
  std::ostringstream out_, err_;
};

TEST_F(TimelineCli, ShowsOneHostOfASimulatedRun) {
  const std::string trace = (dir_ / "t.jsonl").string();
  const std::string scenario =
      std::string(CCP_SOURCE_DIR) + "/scenarios/proxy-crash-under-load.json";
  ASSERT_EQ(ccp({"sim", scenario, "--trace", trace}), 0) << out_.str() << err_.str();
  ASSERT_EQ(ccp({"timeline", trace, "--host", "10.0.0.7", "--to", "3"}), 0) << err_.str();
  const std::string text = out_.str();
  EXPECT_NE(text.find("attach      ccp://agent/10.0.0.7/agent  proxy=ccp://proxy/"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("dial        ccp://agent/10.0.0.7/agent"), std::string::npos);
  EXPECT_EQ(text.find("10.0.0.8/"), std::string::npos) << "another host's line";
}

TEST_F(TimelineCli, ErrorsExitTwoNamingWhatAndWhere) {
  const std::string missing = (dir_ / "none.jsonl").string();
  EXPECT_EQ(ccp({"timeline", missing}), 2);
  EXPECT_EQ(err_.str(), "ccp timeline: cannot read " + missing + ": no such file or unreadable\n");
  const std::string bad = (dir_ / "bad.jsonl").string();
  std::ofstream(bad) << trace_lines[0] << "\nnot json\n";
  EXPECT_EQ(ccp({"timeline", bad}), 2);
  EXPECT_EQ(err_.str(), "ccp timeline: " + bad + ": line 2: not a JSON object\n");
  const std::string good = (dir_ / "good.jsonl").string();
  {
    std::ofstream g(good);
    for (const auto& l : trace_lines)
      g << l << '\n';
  }
  EXPECT_EQ(ccp({"timeline", good, "--host", "10.9.9.9"}), 2);
  EXPECT_EQ(err_.str(),
            "ccp timeline: " + good + ": host 10.9.9.9 appears in no line of the trace\n");
  EXPECT_EQ(ccp({"timeline", good, "--host", "bad host!"}), 2);
  EXPECT_NE(err_.str().find("--host 'bad host!': not a host name or address"), std::string::npos)
      << err_.str();
  EXPECT_EQ(ccp({"timeline", good, "--from", "soon"}), 2);
  EXPECT_NE(err_.str().find("expected seconds"), std::string::npos) << err_.str();
  EXPECT_EQ(ccp({"timeline", good, "--from", "2", "--to", "1"}), 2);
  EXPECT_EQ(err_.str(), "ccp timeline: --from is after --to\n");
  EXPECT_EQ(ccp({"timeline"}), 2);
  EXPECT_EQ(ccp({"timeline", good, "--request", "77"}), 0) << err_.str();
  EXPECT_NE(out_.str().find("complete"), std::string::npos);
}

}  // namespace
}  // namespace ccp::app
