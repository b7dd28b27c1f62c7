// A fleet in one process on loopback (net/fleet.hpp): real websockets between agents and
// proxies, in-process buses. Every wait is bounded.
#include "net/fleet.hpp"

#include <gtest/gtest.h>

#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>
#include <chrono>
#include <future>
#include <set>
#include <thread>

#include "testkit/eventually.hpp"
#include "testkit/io_threads.hpp"

namespace ccp::net {
namespace {

using namespace std::chrono_literals;
namespace asio = boost::asio;
using testkit::eventually;
using testkit::io_threads;  // an io_context on two threads for the test's lifetime
using testkit::query;       // reads role state on its strand

std::size_t attached(local_fleet& f) {
  std::size_t n = 0;
  for (auto& p : f.proxies())
    n += query(*p, [](core::proxy& r) { return r.attached(); });
  return n;
}

core::act::complete request(local_fleet& f, std::string_view to, std::string type,
                            std::string body = "{}", core::micros timeout = 3 * core::seconds) {
  std::promise<core::act::complete> p;
  auto fut = p.get_future();
  f.mgmt().request(*core::address::parse(to), std::move(type), std::move(body), timeout,
                   [&p](core::act::complete& c) { p.set_value(std::move(c)); });
  if (fut.wait_for(10s) != std::future_status::ready) throw std::runtime_error("no outcome");
  return fut.get();
}

struct fleet_fixture {
  io_threads rt;
  std::unique_ptr<local_fleet> fleet;
  explicit fleet_fixture(fleet_options o) {
    auto f = local_fleet::start(rt.ioc, o);
    if (!f) throw std::runtime_error(f.error());
    fleet = std::move(*f);
    std::promise<void> ready;
    fleet->mgmt().when_ready([&ready] { ready.set_value(); });
    ready.get_future().wait();
  }
  ~fleet_fixture() {
    fleet->shutdown();
    std::this_thread::sleep_for(50ms);  // let the byes go out before the context stops
    rt.stop();
  }
};

fleet_options small(std::string name, std::size_t agents = 6) {
  fleet_options o;
  o.agents = agents;
  o.backbone = "inproc://" + name + "-backbone";
  o.host_bus = "inproc://" + name + "-hosts";
  return o;
}

TEST(LocalFleet, AllEndpointsAnswerUnicastAnyAndAll) {
  fleet_fixture t(small("rt"));
  ASSERT_TRUE(eventually([&] { return attached(*t.fleet) == 6; }, 5s));
  auto one = request(*t.fleet, "ccp://endpoint/10.0.0.3/e2", "echo", R"({"n":1})");
  ASSERT_EQ(one.code, core::errc{});
  ASSERT_EQ(one.replies.size(), 1u);
  EXPECT_EQ(one.replies[0].body, R"({"n":1})");
  EXPECT_EQ(one.replies[0].from.str(), "ccp://endpoint/10.0.0.3/e2");

  auto any = request(*t.fleet, "ccp://endpoint/any", "echo");
  ASSERT_EQ(any.code, core::errc{});
  EXPECT_EQ(any.replies.size(), 1u);

  // Every endpoint answers once (the directory knows how many to expect).
  auto all = request(*t.fleet, "ccp://endpoint/all", "ping");
  ASSERT_EQ(all.code, core::errc{});
  std::set<std::string> from;
  for (auto& r : all.replies)
    from.insert(r.from.str());
  EXPECT_EQ(all.replies.size(), 12u);
  EXPECT_EQ(from.size(), 12u);

  auto missing = request(*t.fleet, "ccp://endpoint/10.9.9.9/e1", "echo");
  EXPECT_EQ(missing.code, core::errc::unreachable);
}

TEST(LocalFleet, AgentsFailOverWhenAProxyDies) {
  fleet_fixture t(small("failover"));
  ASSERT_TRUE(eventually([&] { return attached(*t.fleet) == 6; }, 5s));
  t.fleet->proxies()[0]->stop();  // a crash: links cut, no drain notice
  auto& survivor = *t.fleet->proxies()[1];
  // Backoff is at most backoff_cap in theory; the first retries are 100-400 ms.
  EXPECT_TRUE(eventually(
      [&] { return query(survivor, [](core::proxy& r) { return r.attached(); }) == 6; }, 8s));
  bool all_answer = eventually(
      [&] {
        auto all = request(*t.fleet, "ccp://endpoint/all", "ping", "{}", 1 * core::seconds);
        return all.code == core::errc{} && all.replies.size() == 12;
      },
      8s);
  EXPECT_TRUE(all_answer);
}

TEST(LocalFleet, GracefulShutdownMovesAgentsWithADrainNotice) {
  fleet_fixture t(small("drain", 4));
  ASSERT_TRUE(eventually([&] { return attached(*t.fleet) == 4; }, 5s));
  std::promise<void> done;
  t.fleet->proxies()[0]->shutdown(3s, [&done] { done.set_value(); });
  ASSERT_EQ(done.get_future().wait_for(5s), std::future_status::ready);
  auto& survivor = *t.fleet->proxies()[1];
  EXPECT_TRUE(eventually(
      [&] { return query(survivor, [](core::proxy& r) { return r.attached(); }) == 4; }, 5s));
}

TEST(LocalFleet, WrongTokenGets401AndNoSession) {
  fleet_fixture t(small("token", 1));
  namespace beast = boost::beast;
  asio::io_context ioc;
  beast::websocket::stream<beast::tcp_stream> ws(ioc);
  beast::get_lowest_layer(ws).expires_after(5s);
  beast::get_lowest_layer(ws).connect(
      {asio::ip::make_address("127.0.0.1"), t.fleet->proxies()[0]->port()});
  ws.set_option(beast::websocket::stream_base::decorator([](beast::websocket::request_type& r) {
    r.set("X-Ccp-Agent", "ccp://agent/10.0.0.200/agent");
    r.set(beast::http::field::authorization, "Bearer wrong");
  }));
  beast::websocket::response_type res;
  beast::error_code ec;
  ws.handshake(res, "127.0.0.1", "/", ec);
  EXPECT_TRUE(ec);
  EXPECT_EQ(res.result(), beast::http::status::unauthorized);
}

TEST(LocalFleet, StoppingMgmtEndsRequestsInFlightWithShuttingDown) {
  fleet_fixture t(small("abort", 1));
  // Ready is the directory, not yet the host's endpoints: until they registered, the group
  // has no member and the request would end `unreachable` at once (fail fast), not in
  // flight. Wait (bounded) until the group answers.
  auto answered = [&t] {
    std::promise<core::errc> done;
    t.fleet->mgmt().request(*core::address::parse("ccp://endpoint/10.0.0.1/all"), "echo", "{}",
                            1 * core::seconds,
                            [&done](core::act::complete& c) { done.set_value(c.code); });
    return done.get_future().get() == core::errc{};
  };
  const auto until = std::chrono::steady_clock::now() + 10s;
  while (!answered() && std::chrono::steady_clock::now() < until)
    std::this_thread::sleep_for(20ms);
  std::promise<core::act::complete> p;
  // A request to a host that exists but will not answer in time: its endpoint lacks `slow`.
  t.fleet->mgmt().request(*core::address::parse("ccp://endpoint/10.0.0.1/all"), "echo", "{}",
                          30 * core::seconds,
                          [&p](core::act::complete& c) { p.set_value(std::move(c)); });
  t.fleet->mgmt().shutdown();
  auto fut = p.get_future();
  ASSERT_EQ(fut.wait_for(5s), std::future_status::ready);
  // Either every endpoint answered first (success) or the stop ended it explicitly.
  const auto code = fut.get().code;
  EXPECT_TRUE(code == core::errc::shutting_down || code == core::errc{});
}

// A proxy named `self` that listens on a free loopback port, on the in-process backbone
// `backbone`.
proxy_options loopback_proxy(std::string_view self, std::string backbone) {
  proxy_options po;
  po.self = *core::address::parse(self);
  po.listen = {asio::ip::make_address("127.0.0.1"), 0};
  po.backbone = "inproc://" + std::move(backbone);
  return po;
}

// wss: the proxy serves TLS with a certificate, the agent verifies it against a CA file.
struct tls_pair {
  io_threads rt;
  std::shared_ptr<proxy_service> proxy;
  std::shared_ptr<agent_service> agent;
  tls_pair(std::string name, std::string ca) {
    const std::string certs = CCP_SOURCE_DIR "/tests/net/certs/";
    proxy_options po = loopback_proxy("ccp://proxy/127.0.1.1/tls", name);
    po.cert = certs + "proxy.pem";
    po.key = certs + "proxy.key";
    auto p = proxy_service::start(rt.ioc, po);
    if (!p) throw std::runtime_error(p.error());
    proxy = *p;
    agent_options ao;
    ao.self = *core::address::parse("ccp://agent/10.0.0.1/agent");
    ao.proxies = {"wss://127.0.0.1:" + std::to_string(proxy->port()) + "/"};
    ao.ca = certs + ca;
    ao.host_bus = "inproc://" + name + "-host";
    auto a = agent_service::start(rt.ioc, ao);
    if (!a) throw std::runtime_error(a.error());
    agent = *a;
  }
  ~tls_pair() {
    agent->shutdown();
    proxy->stop();
    std::this_thread::sleep_for(50ms);
    rt.stop();
  }
  std::size_t attached() {
    return query(*proxy, [](core::proxy& r) { return r.attached(); });
  }
};

TEST(LocalFleet, AgentAttachesOverWssWhenItsCaVouchesForTheProxy) {
  tls_pair t("tls-ok", "ca.pem");
  EXPECT_TRUE(eventually([&] { return t.attached() == 1; }, 5s));
}

TEST(LocalFleet, AgentRefusesAProxyCertificateItsCaDoesNotVouchFor) {
  tls_pair t("tls-bad", "other-ca.pem");
  EXPECT_FALSE(eventually([&] { return t.attached() == 1; }, 1500ms));
}

TEST(LocalFleet, MissingCertificateFileIsNamed) {
  io_threads rt;
  proxy_options po = loopback_proxy("ccp://proxy/127.0.1.1/tls", "missing-cert");
  po.cert = "/nonexistent/cert.pem";
  po.key = "/nonexistent/key.pem";
  auto p = proxy_service::start(rt.ioc, po);
  ASSERT_FALSE(p);
  EXPECT_NE(p.error().find("/nonexistent/cert.pem"), std::string::npos) << p.error();
}

// A daemon is one concrete address of its role: a proxy started as ccp://agent/all, or an
// endpoint as a host's `any`, is refused before it touches a bus.
TEST(LocalFleet, ServicesRefuseAnAddressOfAnotherKindOrAGroup) {
  io_threads rt;
  auto p = proxy_service::start(rt.ioc, loopback_proxy("ccp://agent/all", "refuse"));
  ASSERT_FALSE(p);
  EXPECT_EQ(p.error(), "'ccp://agent/all' is not a concrete proxy address");

  endpoint_options eo;
  eo.self = *core::address::parse("ccp://endpoint/10.0.0.1/any");
  eo.host_bus = "inproc://refuse-hosts";
  auto e = endpoint_service::start(rt.ioc, eo);
  ASSERT_FALSE(e);
  EXPECT_EQ(e.error(), "'ccp://endpoint/10.0.0.1/any' is not a concrete endpoint address");
}

}  // namespace
}  // namespace ccp::net
