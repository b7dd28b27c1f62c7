// The ccp commands as a user calls them, in this process: `ccp help`, `--version`, each
// command's help and usage errors, and the client commands against a fleet on in-process
// buses (net/fleet.hpp). Each test named after a trap of issue 26 failed before its fix.
#include "app/commands.hpp"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <boost/asio/ip/tcp.hpp>
#include <filesystem>
#include <fstream>
#include <future>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "app/net_common.hpp"
#include "core/mgmt.hpp"
#include "net/fleet.hpp"
#include "testkit/io_threads.hpp"

namespace ccp::app {
namespace {

struct result {
  int status;
  std::string out;
  std::string err;
};

result run(std::vector<std::string_view> args) {
  std::ostringstream out, err;
  int status = ccp_main(args, out, err);
  return {status, out.str(), err.str()};
}

bool has(const std::string& text, std::string_view part) {
  return text.find(part) != std::string::npos;
}

struct env_var {
  const char* name;
  env_var(const char* n, const char* v) : name(n) { ::setenv(n, v, 1); }
  ~env_var() { ::unsetenv(name); }
};

// A bus no command can reach: a command that gets as far as connecting exits 1.
constexpr std::string_view dead_bus = "nats://127.0.0.1:1";

TEST(Cli, Version) {
  for (std::string_view flag : {"--version", "-V", "version"}) {
    auto r = run({flag});
    EXPECT_EQ(r.status, 0);
    EXPECT_EQ(r.out, version_text() + "\n");
    EXPECT_TRUE(r.out.starts_with("ccp 0.")) << r.out;
  }
}

// `ccp help request` used to print the top-level usage.
TEST(Cli, HelpCommandPrintsThatCommandsHelp) {
  for (const auto& c : commands()) {
    SCOPED_TRACE(c.name);
    auto help = run({"help", c.name});
    std::vector<std::string_view> flag{c.name, "--help"};
    auto direct = run(flag);
    EXPECT_EQ(help.status, 0);
    EXPECT_EQ(help.out, direct.out);
    EXPECT_TRUE(has(help.out, "usage: ccp " + std::string(c.name))) << help.out;
    std::istringstream lines(help.out);
    for (std::string l; std::getline(lines, l);)
      EXPECT_LE(l.size(), 80u) << l;
  }
  auto top = run({"help"});
  EXPECT_EQ(top.status, 0);
  EXPECT_TRUE(has(top.out, "ccp help [COMMAND]"));
  EXPECT_EQ(run({"help", "nope"}).status, 2);
  EXPECT_EQ(run({"nope"}).status, 2);
  EXPECT_EQ(run({}).status, 2);
}

// `agents --help` said 5 s where the code used 2 s: the help now prints the default the
// code uses, from the same table.
TEST(Cli, AgentsHelpSaysTheDefaultTimeoutItUses) {
  auto r = run({"agents", "--help"});
  EXPECT_TRUE(has(r.out, "-t, --timeout DURATION")) << r.out;
  EXPECT_TRUE(has(r.out, "[default 2s; env CCP_AGENTS_TIMEOUT]")) << r.out;
  EXPECT_FALSE(has(r.out, "5s")) << r.out;
  EXPECT_EQ(agents_spec().options[2].name, "timeout");
  EXPECT_EQ(agents_spec().options[2].fallback, "2s");
}

// `send --help` listed --timeout and --json, which send ignored; now they are not taken.
TEST(Cli, SendTakesOnlyWhatItUses) {
  auto help = run({"send", "--help"});
  EXPECT_FALSE(has(help.out, "--timeout")) << help.out;
  EXPECT_FALSE(has(help.out, "--json")) << help.out;
  EXPECT_TRUE(has(help.out, "not acknowledged") || has(help.out, "never acknowledged"));
  auto r = run({"send", "ccp://agent/all", "note", "--timeout", "1s"});
  EXPECT_EQ(r.status, 2);
  EXPECT_TRUE(has(r.err, "ccp send: unknown option --timeout")) << r.err;
}

// `--timeout 0s` and `--timeout 999999999999999999s` silently became 5 s.
TEST(Cli, TimeoutOutOfRangeIsAUsageError) {
  auto zero = run({"request", "ccp://agent/all", "ping", "--timeout", "0s"});
  EXPECT_EQ(zero.status, 2);
  EXPECT_TRUE(has(zero.err, "ccp request: --timeout '0s': must be more than 0")) << zero.err;
  auto huge = run({"request", "ccp://agent/all", "ping", "--timeout", "999999999999999999s"});
  EXPECT_EQ(huge.status, 2);
  EXPECT_TRUE(has(huge.err, "more than the maximum of 24h")) << huge.err;
  auto agents = run({"agents", "-t", "0ms"});
  EXPECT_EQ(agents.status, 2);
}

// `-t 2s` failed: the short form is taken (the command goes on to the bus, exit 1).
TEST(Cli, ShortTimeout) {
  auto r = run({"request", "ccp://agent/all", "ping", "-t", "2s", "--backbone", dead_bus});
  EXPECT_EQ(r.status, 1) << r.err;
  EXPECT_TRUE(has(r.err, "no NATS server reachable")) << r.err;
}

// `--json true` sent `true` as the body.
TEST(Cli, JsonTrueIsAUsageError) {
  auto r = run({"request", "ccp://agent/all", "ping", "--json", "true", "--backbone", dead_bus});
  EXPECT_EQ(r.status, 2);
  EXPECT_TRUE(has(r.err, "option --json takes no value")) << r.err;
}

// `--` was read as the address.
TEST(Cli, DoubleDashIsNotTheAddress) {
  auto r = run({"request", "--backbone", dead_bus, "--", "ccp://agent/all", "ping"});
  EXPECT_EQ(r.status, 1) << r.err;  // as far as the bus: the address was taken
  EXPECT_FALSE(has(r.err, "'--'")) << r.err;
}

// Bad bus URLs exited 1 (cannot start) instead of 2 (usage error).
TEST(Cli, BadBusUrlIsAUsageError) {
  for (std::string_view url : {"foo://x", "nats://h:port", "nats://", "inproc://", "nats://h"}) {
    SCOPED_TRACE(url);
    auto r = run({"request", "ccp://agent/all", "ping", "--backbone", url});
    EXPECT_EQ(r.status, 2) << r.err;
    EXPECT_TRUE(has(r.err, "ccp request: --backbone '")) << r.err;
    auto m = run({"mgmt", "--backbone", url});
    EXPECT_EQ(m.status, 2) << m.err;
    auto a = run({"agent", "--address", "ccp://agent/h1/agent", "--proxy", "ws://127.0.0.1:1",
                  "--host-bus", url});
    EXPECT_EQ(a.status, 2) << a.err;
  }
  EXPECT_EQ(detail::bus_url_error("nats://u:p@h:4222,nats://h2:4223"), "");
  EXPECT_EQ(detail::bus_url_error("nats://[::1]:4222"), "");
  EXPECT_EQ(detail::bus_url_error("inproc://x"), "");
  EXPECT_EQ(detail::bus_url_error("tls://u:p@h:4222,tls://h2:4223"), "");
}

// A missing --tokens file gave a JSON parse error; so did --config naming a directory.
TEST(Cli, UnreadableFilesSayCannotRead) {
  auto tokens = run({"proxy", "--address", "ccp://proxy/h/p1", "--backbone", dead_bus, "--tokens",
                     "/nonexistent/tokens.json"});
  EXPECT_EQ(tokens.status, 2);
  EXPECT_TRUE(has(tokens.err,
                  "ccp proxy: --tokens '/nonexistent/tokens.json': cannot read: No "
                  "such file or directory"))
      << tokens.err;
  const std::string dir = std::filesystem::temp_directory_path().string();
  auto config = run({"proxy", "--config", dir});
  EXPECT_EQ(config.status, 2);
  EXPECT_TRUE(has(config.err, "config file '" + dir + "': cannot read: Is a directory"))
      << config.err;
}

// Errors name where the value came from.
TEST(Cli, ErrorsNameTheSourceOfTheValue) {
  env_var e("CCP_REQUEST_TIMEOUT", "0s");
  auto r = run({"request", "ccp://agent/all", "ping"});
  EXPECT_EQ(r.status, 2);
  EXPECT_TRUE(has(r.err, "CCP_REQUEST_TIMEOUT '0s': must be more than 0")) << r.err;
  env_var b("CCP_PROXY_BACKBONE", "nats://nope");
  auto p = run({"proxy", "--address", "ccp://proxy/h/p1"});
  EXPECT_EQ(p.status, 2);
  EXPECT_TRUE(has(p.err, "CCP_PROXY_BACKBONE 'nats://nope'")) << p.err;
}

// CCP_ADDRESS set for a proxy broke `ccp request` ("expected a concrete mgmt address").
TEST(Cli, ProxyEnvironmentCannotBreakRequest) {
  env_var shared("CCP_ADDRESS", "ccp://proxy/10.0.1.1/p1");
  env_var proxy("CCP_PROXY_ADDRESS", "ccp://proxy/10.0.1.1/p1");
  auto r = run({"request", "ccp://agent/all", "ping", "--backbone", dead_bus});
  EXPECT_EQ(r.status, 1) << r.err;
  EXPECT_FALSE(has(r.err, "mgmt address")) << r.err;
}

// CCP_ENDPOINTS meant a count for `up` and endpoint ids for `agent`: a count set for one
// made the other fail. Each reads its own variable now.
TEST(Cli, EndpointsVariableIsPerCommand) {
  const std::vector<std::string_view> agent = {
      "agent",      "--address", "ccp://agent/h1/agent", "--proxy", "ws://127.0.0.1:1",
      "--host-bus", dead_bus};
  {
    // Ids set for an agent do not reach `up`, which reads a count (--proxies 0 stops it
    // before it starts a fleet: the error is about that, not about the endpoints).
    env_var shared("CCP_ENDPOINTS", "e1,e2");
    env_var for_agent("CCP_AGENT_ENDPOINTS", "e1,e2");
    auto up = run({"up", "--proxies", "0"});
    EXPECT_EQ(up.status, 2);
    EXPECT_TRUE(has(up.err, "ccp up: --proxies '0'")) << up.err;
    // And the agent's own variable is the one it reads.
    auto r = run(agent);
    EXPECT_EQ(r.status, 1) << r.err;  // as far as the bus: e1, e2 are good ids
  }
  env_var mine("CCP_AGENT_ENDPOINTS", "a b");
  auto r = run(agent);
  EXPECT_EQ(r.status, 2) << r.err;
  EXPECT_TRUE(has(r.err, "ccp agent: CCP_AGENT_ENDPOINTS 'a b': bad id")) << r.err;
}

TEST(Cli, MissingPositionalsAndValuesAreNamed) {
  auto r = run({"request", "ccp://agent/all"});
  EXPECT_EQ(r.status, 2);
  EXPECT_TRUE(has(r.err, "ccp request: missing TYPE\nusage: ccp request ADDRESS TYPE [JSON]"))
      << r.err;
  auto v = run({"proxy", "--address"});
  EXPECT_EQ(v.status, 2);
  EXPECT_TRUE(has(v.err, "option --address needs a value (ADDRESS)")) << v.err;
  EXPECT_FALSE(has(v.err, "a ADDRESS")) << v.err;
}

// Secrets from files; never required on the command line.
TEST(Cli, SecretFiles) {
  auto dir = std::filesystem::temp_directory_path();
  auto empty = (dir / ("ccp-cli-empty-" + std::to_string(::getpid()))).string();
  std::ofstream(empty) << "";
  auto r = run({"proxy", "--address", "ccp://proxy/h/p1", "--secret-file", empty});
  EXPECT_EQ(r.status, 2);
  EXPECT_TRUE(has(r.err, "ccp proxy: --secret-file '" + empty + "': empty")) << r.err;
  auto a = run({"agent", "--address", "ccp://agent/h/agent", "--proxy", "ws://127.0.0.1:1",
                "--token-file", "/nonexistent"});
  EXPECT_EQ(a.status, 2);
  EXPECT_TRUE(has(a.err, "--token-file '/nonexistent': cannot read")) << a.err;
  // The help says where else a secret may come from.
  auto help = run({"proxy", "--help"});
  EXPECT_TRUE(has(help.out, "--secret-file FILE")) << help.out;
  EXPECT_TRUE(has(help.out, "env CCP_PROXY_SECRET]")) << help.out;
}

// `agents --timeout 1ms` exited 1 printing only a header: now no header without a table,
// and stderr says why and which proxies did not answer.
TEST(Cli, AgentsSaysWhyWhenProxiesAreSilent) {
  using answer = core::act::member_result::answer;
  core::act::complete silent{7, core::errc::timeout, {}};
  silent.members = {{*core::address::parse("ccp://proxy/10.0.1.1/p1"), answer::silent, {}},
                    {*core::address::parse("ccp://proxy/10.0.1.2/p2"), answer::silent, {}}};
  std::ostringstream out, err;
  EXPECT_EQ(detail::print_agents(silent, false, 1000, out, err), 1);
  EXPECT_EQ(out.str(), "");
  EXPECT_EQ(err.str(),
            "ccp agents: timeout: 0 of 2 proxies answered within 1ms\n"
            "  ccp://proxy/10.0.1.1/p1 silent\n"
            "  ccp://proxy/10.0.1.2/p2 silent\n");
  core::act::complete none{8, core::errc::unreachable, {}};
  std::ostringstream out2, err2;
  EXPECT_EQ(detail::print_agents(none, false, 1000, out2, err2), 1);
  EXPECT_EQ(out2.str(), "");
  EXPECT_EQ(err2.str(), "ccp agents: unreachable: no proxy is known on the backbone\n");
}

// The same through the command: a backbone without proxies used to print a header alone.
TEST(Cli, AgentsWithoutProxies) {
  auto r = run({"agents", "--backbone", "inproc://cli-no-proxies"});
  EXPECT_EQ(r.status, 1);
  EXPECT_EQ(r.out, "");
  // No proxy says a word within core::no_proxy_window: the client gives up then.
  EXPECT_EQ(r.err, "ccp agents: no proxy answered on the backbone inproc://cli-no-proxies within " +
                       std::to_string(core::no_proxy_window / core::ms) +
                       " ms: is a proxy running there?\n");
}

TEST(Cli, OpenProxyWarning) {
  namespace ip = boost::asio::ip;
  const ip::tcp::endpoint any(ip::make_address("0.0.0.0"), 7700);
  const ip::tcp::endpoint any6(ip::make_address("::"), 7700);
  const ip::tcp::endpoint loop(ip::make_address("127.0.0.1"), 7700);
  EXPECT_TRUE(has(open_proxy_warning(any, false), "every agent that reaches 0.0.0.0:7700"));
  EXPECT_FALSE(open_proxy_warning(any6, false).empty());
  EXPECT_EQ(open_proxy_warning(any, true), "");
  EXPECT_EQ(open_proxy_warning(loop, false), "");
}

// A fleet on in-process buses, run by threads of its own, that the client commands of this
// process reach with --backbone inproc://NAME.
struct fleet_fixture {
  testkit::io_threads rt;
  std::unique_ptr<net::local_fleet> fleet;
  std::string backbone;
  explicit fleet_fixture(const std::string& name) {
    net::fleet_options o;
    o.agents = 2;
    o.endpoints_per_agent = 1;
    o.backbone = "inproc://" + name + "-backbone";
    o.host_bus = "inproc://" + name + "-hosts";
    backbone = o.backbone;
    auto f = net::local_fleet::start(rt.ioc, o);
    if (!f) throw std::runtime_error(f.error());
    fleet = std::move(*f);
    std::promise<void> ready;
    fleet->mgmt().when_ready([&ready] { ready.set_value(); });
    ready.get_future().wait();
  }
  ~fleet_fixture() {
    fleet->shutdown();
    rt.stop();
  }
  // Until a request to every endpoint gets both answers (the agents attached), bounded.
  void wait_attached() {
    for (int i = 0; i < 50; ++i) {
      auto r = run({"request", "ccp://endpoint/all", "ping", "-t", "1s", "--backbone", backbone});
      if (r.status == 0) return;
    }
    FAIL() << "the fleet did not attach";
  }
};

TEST(CliFleet, RequestSendAndAgentsAgainstAFleet) {
  fleet_fixture f("cli-fleet");
  f.wait_attached();
  // `--` before the address.
  auto req =
      run({"request", "-t", "2s", "--backbone", f.backbone, "--", "ccp://endpoint/all", "ping"});
  EXPECT_EQ(req.status, 0) << req.err;
  EXPECT_TRUE(has(req.out, "2/2 answered")) << req.out;

  auto agents = run({"agents", "--backbone", f.backbone});
  EXPECT_EQ(agents.status, 0) << agents.err;
  EXPECT_TRUE(has(agents.out, "PROXY")) << agents.out;
  EXPECT_TRUE(has(agents.out, "ccp://agent/10.0.0.1/")) << agents.out;

  // `send` said "sent" and exited 0 even when nothing could receive it: a routing error
  // that comes back is now exit 1; a notification that left is said to be unacknowledged.
  auto lost = run({"send", "ccp://endpoint/10.9.9.9/e1", "note", "--backbone", f.backbone});
  EXPECT_EQ(lost.status, 1) << lost.out;
  EXPECT_TRUE(has(lost.err, "ccp send: unreachable")) << lost.err;
  auto nobody = run({"send", "ccp://endpoint/10.0.0.1/nope", "note", "--backbone", f.backbone});
  EXPECT_EQ(nobody.status, 1) << nobody.out;
  EXPECT_TRUE(has(nobody.err, "ccp send: ")) << nobody.err;
  auto sent =
      run({"send", "ccp://endpoint/10.0.0.1/e1", "note", R"({"x":1})", "--backbone", f.backbone});
  EXPECT_EQ(sent.status, 0) << sent.err;
  EXPECT_TRUE(has(sent.out, "sent note to ccp://endpoint/10.0.0.1/e1")) << sent.out;
  EXPECT_TRUE(has(sent.out, "not acknowledged")) << sent.out;
}

}  // namespace
}  // namespace ccp::app
