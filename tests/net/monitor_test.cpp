// The monitor (net/monitor.hpp) of real services in one process, and what both sides log
// when an agent is turned away: a wrong token (HTTP 401) and ws:// against a wss:// proxy.
// /metrics is checked line by line here, and by `promtool check metrics` when it is
// installed (Debian package `prometheus`; the test says it skipped that when it is not).
#include "net/monitor.hpp"

#include <gtest/gtest.h>

#include <boost/asio/connect.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <string>

#include "net/daemons.hpp"
#include "testkit/eventually.hpp"
#include "testkit/io_threads.hpp"

namespace ccp::net {
namespace {

using namespace std::chrono_literals;
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using testkit::eventually;

struct reply {
  int status = 0;
  std::string body;
};

// One GET on its own connection, from the test's thread.
reply get(std::uint16_t port, const std::string& target) {
  asio::io_context ioc;
  tcp::socket s(ioc);
  s.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
  http::request<http::empty_body> req{http::verb::get, target, 11};
  req.set(http::field::host, "127.0.0.1");
  req.keep_alive(false);
  http::write(s, req);
  beast::flat_buffer buf;
  http::response<http::string_body> res;
  http::read(s, buf, res);
  return {static_cast<int>(res.result_int()), res.body()};
}

std::string read_all(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// The exposition format as promtool reads it: HELP and TYPE once per family, before its
// samples; sample lines `name{label="value",...} number`; a family's samples together.
::testing::AssertionResult well_formed(const std::string& text) {
  const std::regex help(R"(^# HELP ([a-zA-Z_:][a-zA-Z0-9_:]*) .+$)");
  const std::regex type(R"(^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge)$)");
  const std::regex sample(
      R"(^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[a-zA-Z_][a-zA-Z0-9_]*="(\\.|[^"\\])*"(,[a-zA-Z_][a-zA-Z0-9_]*="(\\.|[^"\\])*")*\})? -?[0-9.e+]+$)");
  std::set<std::string> seen;
  std::string current;
  std::istringstream in(text);
  int n = 0;
  for (std::string line; std::getline(in, line);) {
    ++n;
    std::smatch m;
    if (std::regex_match(line, m, help)) {
      if (!seen.insert(m[1]).second)
        return ::testing::AssertionFailure() << "family twice: " << line;
      current = m[1];
    } else if (std::regex_match(line, m, type)) {
      if (m[1] != current) return ::testing::AssertionFailure() << "TYPE without HELP: " << line;
    } else if (std::regex_match(line, m, sample)) {
      if (m[1] != current) return ::testing::AssertionFailure() << "stray sample: " << line;
    } else {
      return ::testing::AssertionFailure() << "line " << n << " malformed: " << line;
    }
  }
  return ::testing::AssertionSuccess();
}

// A proxy with a shared secret, an agent with the right token and one with a wrong one, a
// monitor over all three, and the log in a file of the test's own.
struct refused_fleet : ::testing::Test {
  testkit::io_threads rt;
  std::string log_path = (std::filesystem::temp_directory_path() /
                          ("ccp-monitor-test-" + std::to_string(::getpid()) + ".log"))
                             .string();
  std::shared_ptr<proxy_service> proxy;
  std::shared_ptr<agent_service> good, bad;
  std::shared_ptr<monitor> mon;

  void SetUp() override {
    std::filesystem::remove(log_path);
    ASSERT_TRUE(configure_log({log_level::info, log_format::text, log_path}));
    const std::string tag = std::to_string(::getpid()) + "-" +
                            ::testing::UnitTest::GetInstance()->current_test_info()->name();
    proxy_options po;
    po.self = *core::address::parse("ccp://proxy/127.0.0.1/p1");
    po.listen = tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0);
    po.backbone = "inproc://monitor-backbone-" + tag;
    po.secret = "right";
    auto p = proxy_service::start(rt.ioc, po);
    ASSERT_TRUE(p) << p.error();
    proxy = *p;
    const std::string url = "ws://127.0.0.1:" + std::to_string(proxy->port());
    good = start_agent("ccp://agent/10.0.0.1/a", url, "right", tag);
    bad = start_agent("ccp://agent/10.0.0.66/a", url, "wrong", tag);
    auto m = monitor::start(rt.ioc, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
    ASSERT_TRUE(m) << m.error();
    mon = *m;
    mon->add(proxy->monitoring());
    mon->add(good->monitoring());
    mon->add(bad->monitoring());
  }
  std::shared_ptr<agent_service> start_agent(const std::string& self, const std::string& url,
                                             const std::string& token, const std::string& tag) {
    agent_options ao;
    ao.self = *core::address::parse(self);
    ao.proxies = {url};
    ao.token = token;
    ao.host_bus = "inproc://monitor-host-" + tag + self;
    auto a = agent_service::start(rt.ioc, ao);
    if (!a) throw std::runtime_error(a.error());
    return *a;
  }
  void TearDown() override {
    if (mon) mon->close();
    for (auto& a : {good, bad})
      if (a) a->shutdown();
    if (proxy) proxy->stop();
    std::this_thread::sleep_for(50ms);
    rt.stop();
    (void)configure_log({});
    std::filesystem::remove(log_path);
  }
};

TEST_F(refused_fleet, MetricsShowTheRefusalAndTheAttachedAgent) {
  const std::regex refused(
      R"re(ccp_refusals_total\{self="ccp://proxy/127\.0\.0\.1/p1",role="proxy",stage="upgrade",reason="credentials"\} [1-9])re");
  const std::string attached =
      R"(ccp_attached_links{self="ccp://proxy/127.0.0.1/p1",role="proxy"} 1)";
  std::string text;
  ASSERT_TRUE(eventually(
      [&] {
        auto r = get(mon->port(), "/metrics");
        text = r.body;
        return r.status == 200 && std::regex_search(text, refused) &&
               text.find(attached) != std::string::npos;
      },
      10s))
      << text;
  EXPECT_TRUE(well_formed(text));
  EXPECT_NE(text.find("process_resident_memory_bytes "), std::string::npos);
  EXPECT_NE(text.find("process_open_fds "), std::string::npos);
  EXPECT_NE(text.find(R"(ccp_bus_up{self="ccp://agent/10.0.0.1/a",role="agent",bus="host"} 1)"),
            std::string::npos);
}

TEST_F(refused_fleet, BothSidesLogTheRefusalWithTheAgentsAddress) {
  std::string log;
  ASSERT_TRUE(eventually(
      [&] {
        log = read_all(log_path);
        return log.find("agent refused self=ccp://proxy/127.0.0.1/p1") != std::string::npos &&
               log.find("dial failed self=ccp://agent/10.0.0.66/a") != std::string::npos;
      },
      10s))
      << log;
  EXPECT_NE(log.find("agent=ccp://agent/10.0.0.66/a reason=\"HTTP 401: credentials refused\""),
            std::string::npos)
      << log;
  EXPECT_NE(log.find("HTTP 401 Unauthorized: ccp proxy: credentials refused"), std::string::npos)
      << log;
  EXPECT_NE(log.find("attached self=ccp://proxy/127.0.0.1/p1 peer=ccp://agent/10.0.0.1/a"),
            std::string::npos)
      << log;
  EXPECT_NE(log.find("attached self=ccp://agent/10.0.0.1/a peer=ccp://proxy/127.0.0.1/p1"),
            std::string::npos)
      << log;
}

TEST_F(refused_fleet, HealthzIsOkAndReadyzNamesTheAgentThatIsNotAttached) {
  EXPECT_EQ(get(mon->port(), "/healthz").status, 200);
  reply r;
  ASSERT_TRUE(eventually(
      [&] {
        r = get(mon->port(), "/readyz");
        return r.body.find("10.0.0.1") == std::string::npos;  // the good agent attached
      },
      10s))
      << r.body;
  EXPECT_EQ(r.status, 503);
  EXPECT_EQ(r.body, "ccp://agent/10.0.0.66/a: not attached to a proxy\n");
  EXPECT_EQ(get(mon->port(), "/nope").status, 404);
}

TEST_F(refused_fleet, PromtoolAcceptsTheMetrics) {
  if (std::system("command -v promtool > /dev/null 2>&1") != 0)
    GTEST_SKIP() << "promtool is not installed (Debian package `prometheus`): the format was "
                    "checked by MetricsShowTheRefusalAndTheAttachedAgent's own reader only";
  ASSERT_TRUE(eventually(
      [&] {
        return get(mon->port(), "/metrics").body.find("reason=\"credentials\"} 1") !=
               std::string::npos;
      },
      10s));
  const std::string path = log_path + ".metrics";
  {
    std::ofstream out(path);
    out << get(mon->port(), "/metrics").body;
  }
  const int rc =
      std::system(("promtool check metrics < " + path + " > " + path + ".out 2>&1").c_str());
  const std::string said = read_all(path + ".out");
  std::filesystem::remove(path);
  std::filesystem::remove(path + ".out");
  EXPECT_EQ(rc, 0) << said;
}

// ws:// against a wss:// proxy: the proxy logs the failed TLS handshake, the agent the
// failed dial, each with the other's address.
TEST(MonitorTls, PlainAgentAgainstTlsProxyIsLoggedOnBothSides) {
  testkit::io_threads rt;
  const std::string log_path = (std::filesystem::temp_directory_path() /
                                ("ccp-monitor-tls-" + std::to_string(::getpid()) + ".log"))
                                   .string();
  ASSERT_TRUE(configure_log({log_level::info, log_format::text, log_path}));
  const std::string certs = CCP_SOURCE_DIR "/tests/net/certs/";
  proxy_options po;
  po.self = *core::address::parse("ccp://proxy/127.0.0.1/tls");
  po.listen = tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0);
  po.backbone = "inproc://monitor-tls-" + std::to_string(::getpid());
  po.cert = certs + "proxy.pem";
  po.key = certs + "proxy.key";
  auto p = proxy_service::start(rt.ioc, po);
  ASSERT_TRUE(p) << p.error();
  agent_options ao;
  ao.self = *core::address::parse("ccp://agent/10.0.0.9/a");
  ao.proxies = {"ws://127.0.0.1:" + std::to_string((*p)->port())};
  ao.host_bus = "inproc://monitor-tls-host-" + std::to_string(::getpid());
  auto a = agent_service::start(rt.ioc, ao);
  ASSERT_TRUE(a) << a.error();
  std::string log;
  const bool both = eventually(
      [&] {
        log = read_all(log_path);
        return log.find(
                   "connection refused: TLS handshake failed self=ccp://proxy/127.0.0.1/tls") !=
                   std::string::npos &&
               log.find("dial failed self=ccp://agent/10.0.0.9/a") != std::string::npos;
      },
      10s);
  (*a)->shutdown();
  (*p)->stop();
  std::this_thread::sleep_for(50ms);
  rt.stop();
  (void)configure_log({});
  std::filesystem::remove(log_path);
  EXPECT_TRUE(both) << log;
}

}  // namespace
}  // namespace ccp::net
