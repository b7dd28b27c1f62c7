// Rebalancing as an operator sees it (net/daemons.cpp, net/monitor.cpp): a proxy that holds
// every agent when a second proxy comes up asks some of them to move, logs the round (which
// agents, to where, why, the loads) and the agents that left, and both proxies' /metrics
// count the moves (ccp_balance_moves_total, ccp_balance_moved_away_total,
// ccp_balance_received_total). Real websockets on 127.0.0.1, an in-process backbone.
#include <gtest/gtest.h>

#include <boost/asio/connect.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "net/daemons.hpp"
#include "net/log.hpp"
#include "net/monitor.hpp"
#include "testkit/eventually.hpp"
#include "testkit/io_threads.hpp"
#include "testkit/port.hpp"

namespace ccp::net {
namespace {

using namespace std::chrono_literals;
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using testkit::eventually;

std::string metrics_of(std::uint16_t port) {
  asio::io_context ioc;
  tcp::socket s(ioc);
  s.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
  http::request<http::empty_body> req{http::verb::get, "/metrics", 11};
  req.set(http::field::host, "127.0.0.1");
  req.keep_alive(false);
  http::write(s, req);
  beast::flat_buffer buf;
  http::response<http::string_body> res;
  http::read(s, buf, res);
  return res.body();
}

// The value of the one sample of `family` in `text`; -1 when there is none.
long long sample(const std::string& text, const std::string& family) {
  const std::regex line("^" + family + R"(\{[^}]*\} ([0-9]+)$)");
  std::istringstream in(text);
  for (std::string l; std::getline(in, l);) {
    std::smatch m;
    if (std::regex_match(l, m, line)) return std::stoll(m[1]);
  }
  return -1;
}

std::string read_all(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

constexpr int agents = 8;

TEST(Balance, MovesAreLoggedAndCountedOnBothProxies) {
  testkit::io_threads rt;
  const std::string tag = std::to_string(::getpid());
  const std::string log_path =
      (std::filesystem::temp_directory_path() / ("ccp-balance-test-" + tag + ".log")).string();
  std::filesystem::remove(log_path);
  ASSERT_TRUE(configure_log({log_level::info, log_format::text, log_path}));

  auto start_proxy = [&](const std::string& self, std::uint16_t port) {
    proxy_options po;
    po.self = *core::address::parse(self);
    po.listen = tcp::endpoint(asio::ip::make_address("127.0.0.1"), port);
    po.backbone = "inproc://balance-backbone-" + tag;
    auto p = proxy_service::start(rt.ioc, po);
    if (!p) throw std::runtime_error(p.error());
    return *p;
  };
  auto start_monitor = [&](const std::shared_ptr<proxy_service>& p) {
    auto m = monitor::start(rt.ioc, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
    if (!m) throw std::runtime_error(m.error());
    (*m)->add(p->monitoring());
    return *m;
  };
  // p2's port is chosen now and bound later: the agents know both proxies from the start,
  // and all of them attach to p1 while p2 is not there.
  const auto p2_port = static_cast<std::uint16_t>(testkit::free_port());
  auto p1 = start_proxy("ccp://proxy/127.0.0.1/p1", 0);
  auto m1 = start_monitor(p1);
  std::vector<std::shared_ptr<agent_service>> as;
  for (int i = 1; i <= agents; ++i) {
    agent_options ao;
    ao.self = *core::address::parse("ccp://agent/10.0.0." + std::to_string(i) + "/a");
    ao.proxies = {"ws://127.0.0.1:" + std::to_string(p1->port()),
                  "ws://127.0.0.1:" + std::to_string(p2_port)};
    ao.host_bus = "inproc://balance-host-" + tag + "-" + std::to_string(i);
    auto a = agent_service::start(rt.ioc, ao);
    ASSERT_TRUE(a) << a.error();
    as.push_back(*a);
  }
  ASSERT_TRUE(eventually(
      [&] { return sample(metrics_of(m1->port()), "ccp_attached_links") == agents; }, 20s))
      << metrics_of(m1->port());
  const std::string before = metrics_of(m1->port());
  EXPECT_EQ(sample(before, "ccp_balance_moves_total"), 0);
  EXPECT_EQ(sample(before, "ccp_balance_moved_away_total"), 0);

  auto p2 = start_proxy("ccp://proxy/127.0.0.1/p2", p2_port);
  auto m2 = start_monitor(p2);
  // Fair is 4 of 8: one round of 4 (rebalance_min_batch) moves, then nothing.
  ASSERT_TRUE(eventually(
      [&] {
        return sample(metrics_of(m2->port()), "ccp_attached_links") == agents / 2 &&
               sample(metrics_of(m1->port()), "ccp_balance_moved_away_total") == agents / 2;
      },
      30s))
      << metrics_of(m1->port()) << metrics_of(m2->port());
  const std::string after1 = metrics_of(m1->port()), after2 = metrics_of(m2->port());
  EXPECT_EQ(sample(after1, "ccp_balance_moves_total"), agents / 2);
  EXPECT_EQ(sample(after1, "ccp_balance_received_total"), 0);
  EXPECT_EQ(sample(after2, "ccp_balance_received_total"), agents / 2);
  EXPECT_EQ(sample(after2, "ccp_balance_moves_total"), 0);

  const std::string log = read_all(log_path);
  const std::regex round(
      R"(info rebalancing: agents asked to move self=ccp://proxy/127.0.0.1/p1 )"
      R"(to=ccp://proxy/127.0.0.1/p2 reason="above its fair share" count=4 )"
      R"(agents=(ccp://agent/10\.0\.0\.[1-8]/a,){3}ccp://agent/10\.0\.0\.[1-8]/a )"
      R"(hosts=8 target_hosts=0 fair=4 proxies=2)");
  EXPECT_TRUE(std::regex_search(log, round)) << log;
  // Logged at the proxy's next timer turn after they left (the counters are read at once).
  const std::string left =
      "rebalancing: asked agents attached elsewhere self=ccp://proxy/127.0.0.1/p1 count=";
  EXPECT_TRUE(eventually([&] { return read_all(log_path).find(left) != std::string::npos; }, 5s))
      << read_all(log_path);

  for (auto& m : {m1, m2})
    m->close();
  for (auto& a : as)
    a->shutdown();
  p1->stop();
  p2->stop();
  std::this_thread::sleep_for(50ms);
  rt.stop();
  (void)configure_log({});
  std::filesystem::remove(log_path);
}

}  // namespace
}  // namespace ccp::net
