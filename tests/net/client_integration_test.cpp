// Clients and endpoints against real processes on loopback (a nats-server, `ccp proxy`,
// `ccp agent`, `ccp mgmt`, `ccp request`): a client is ready from one round trip to the
// proxies, a configured address already in use is refused, and an endpoint whose agent is
// killed fails its requests `unreachable` instead of letting them time out. Every wait is
// bounded; every process started is stopped by its PID.
#include <gtest/gtest.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <future>
#include <iostream>
#include <sstream>
#include <thread>

#include "core/endpoint.hpp"
#include "core/mgmt.hpp"
#include "net/daemons.hpp"
#include "net/monitor.hpp"
#include "testkit/eventually.hpp"
#include "testkit/nats_server.hpp"
#include "testkit/port.hpp"
#include "testkit/process.hpp"

namespace ccp::test {
namespace {

using namespace std::chrono_literals;
namespace asio = boost::asio;
using testkit::eventually;
using testkit::free_port;
using testkit::nats_server;
using testkit::process;

constexpr std::string_view host = "10.0.0.1";

class Clients : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("ccp-clients-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(dir_);
    nats_ = std::make_unique<nats_server>();
    port_ = free_port();
    proxy_ = std::make_unique<process>(
        std::vector<std::string>{CCP_BINARY, "proxy", "--address", "ccp://proxy/127.0.1.1/p1",
                                 "--listen", "127.0.0.1:" + std::to_string(port_), "--backbone",
                                 nats_->url()},
        log("proxy"));
    start_agent();
    threads_.emplace_back([this] { ioc_.run(); });
    net::mgmt_options mo;
    mo.self = *core::address::parse("ccp://mgmt/127.0.0.1/it");
    mo.backbone = nats_->url();
    auto m = net::mgmt_service::start(ioc_, std::move(mo));
    ASSERT_TRUE(m) << m.error();
    mgmt_ = *m;
    std::promise<void> ready;
    mgmt_->when_ready([&ready] { ready.set_value(); });
    ASSERT_EQ(ready.get_future().wait_for(10s), std::future_status::ready);
    ASSERT_TRUE(eventually(
        [&] { return request("ccp://endpoint/10.0.0.1/e1", "ping").code == core::errc{}; }, 20s))
        << proxy_->output() << agent_->output();
  }

  void TearDown() override {
    if (endpoint_) endpoint_->shutdown();
    if (mgmt_) mgmt_->shutdown();
    std::this_thread::sleep_for(50ms);
    work_.reset();
    ioc_.stop();
    for (auto& t : threads_)
      t.join();
    agent_.reset();
    proxy_.reset();
    if (!HasFailure()) std::filesystem::remove_all(dir_);
  }

  std::string log(const std::string& name) const { return (dir_ / (name + ".log")).string(); }

  void start_agent() {
    agent_ = std::make_unique<process>(
        std::vector<std::string>{CCP_BINARY, "agent", "--address",
                                 "ccp://agent/" + std::string(host) + "/agent", "--proxy",
                                 "ws://127.0.0.1:" + std::to_string(port_) + "/", "--host-bus",
                                 nats_->url(), "--endpoints", "e1"},
        log("agent"));
  }

  core::act::complete request(std::string_view to, std::string type,
                              core::micros timeout = 2 * core::seconds) {
    std::promise<core::act::complete> p;
    auto fut = p.get_future();
    mgmt_->request(*core::address::parse(to), std::move(type), "{}", timeout,
                   [&p](core::act::complete& c) { p.set_value(std::move(c)); });
    if (fut.wait_for(30s) != std::future_status::ready) throw std::runtime_error("no outcome");
    return fut.get();
  }

  // Runs `ccp ARGS... --backbone URL` to its end (bounded); its exit status and output.
  std::pair<std::optional<int>, std::string> ccp(std::vector<std::string> args,
                                                 const std::string& name) {
    std::vector<std::string> argv{CCP_BINARY};
    argv.insert(argv.end(), args.begin(), args.end());
    argv.insert(argv.end(), {"--backbone", nats_->url()});
    process p(argv, log(name));
    auto status = p.wait(20s);
    return {status, p.output()};
  }

  std::filesystem::path dir_;
  std::unique_ptr<nats_server> nats_;
  int port_ = 0;
  std::unique_ptr<process> proxy_, agent_;
  asio::io_context ioc_;
  asio::executor_work_guard<asio::io_context::executor_type> work_{ioc_.get_executor()};
  std::vector<std::thread> threads_;
  std::shared_ptr<net::mgmt_service> mgmt_;
  std::shared_ptr<net::endpoint_service> endpoint_;
};

TEST_F(Clients, AFreshNodeIsReadyWithTheWholeDirectoryFromItsFirstRoundTrip) {
  // Ready from the proxies' answers to its start's sync: it knows the host and its endpoint
  // then (how long it took is printed, not judged here: bench/client/startup.py).
  net::mgmt_options mo;
  mo.self = *core::address::parse("ccp://mgmt/127.0.0.1/fresh");
  mo.backbone = nats_->url();
  const auto t0 = std::chrono::steady_clock::now();  // connect included
  auto fresh = net::mgmt_service::start(ioc_, std::move(mo));
  ASSERT_TRUE(fresh) << fresh.error();
  std::promise<std::vector<std::string>> known;
  (*fresh)->when_ready([&known, m = *fresh] {
    std::vector<std::string> eps;
    if (const auto* r = m->role().directory().find(host)) eps = r->on_host.endpoints;
    known.set_value(eps);
  });
  auto fut = known.get_future();
  ASSERT_EQ(fut.wait_for(10s), std::future_status::ready);
  const double ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_EQ(fut.get(), std::vector<std::string>{"e1"});
  RecordProperty("ready_ms", std::to_string(ms));
  std::cout << "a fresh mgmt node was ready after " << ms << " ms\n";
  (*fresh)->shutdown();
}

TEST_F(Clients, RequestCommandAnswersWithoutWaitingForHeartbeats) {
  auto [status, out] =
      ccp({"request", "ccp://endpoint/10.0.0.1/e1", "echo", R"({"client":1})", "-t", "2s"}, "req");
  ASSERT_EQ(status, 0) << out;
  EXPECT_NE(out.find(R"({"client":1})"), std::string::npos) << out;
  // A group request knows its members from that round trip too.
  auto [gstatus, gout] = ccp({"request", "ccp://endpoint/all", "ping", "-t", "2s"}, "all");
  ASSERT_EQ(gstatus, 0) << gout;
  EXPECT_NE(gout.find("1/1 answered"), std::string::npos) << gout;
}

TEST_F(Clients, AConfiguredAddressInUseIsRefused) {
  process holder(
      {CCP_BINARY, "mgmt", "--address", "ccp://mgmt/127.0.0.1/taken", "--backbone", nats_->url()},
      log("holder"));
  ASSERT_TRUE(eventually(
      [&] { return request("ccp://mgmt/127.0.0.1/taken", "ping").code == core::errc{}; }, 10s))
      << holder.output();
  auto [status, out] = ccp({"request", "ccp://endpoint/10.0.0.1/e1", "echo", "--address",
                            "ccp://mgmt/127.0.0.1/taken", "-t", "2s"},
                           "taken");
  EXPECT_EQ(status, 1) << out;
  EXPECT_NE(out.find("ccp://mgmt/127.0.0.1/taken is in use by another live process"),
            std::string::npos)
      << out;
  auto [dstatus, dout] = ccp({"mgmt", "--address", "ccp://mgmt/127.0.0.1/taken"}, "second");
  EXPECT_EQ(dstatus, 1) << dout;
  EXPECT_NE(dout.find("is in use"), std::string::npos) << dout;
  // The holder was not disturbed, and a free address works.
  EXPECT_TRUE(holder.running());
  EXPECT_EQ(request("ccp://mgmt/127.0.0.1/taken", "ping").code, core::errc{});
  auto [fstatus, fout] = ccp({"request", "ccp://endpoint/10.0.0.1/e1", "echo", "--address",
                              "ccp://mgmt/127.0.0.1/free", "-t", "2s"},
                             "free");
  EXPECT_EQ(fstatus, 0) << fout;
}

TEST_F(Clients, AnEndpointWhoseAgentIsKilledFailsItsRequestsUnreachable) {
  net::endpoint_options eo;
  eo.self = *core::address::parse("ccp://endpoint/10.0.0.1/app");
  eo.host_bus = nats_->url();
  auto e = net::endpoint_service::start(ioc_, std::move(eo));
  ASSERT_TRUE(e) << e.error();
  endpoint_ = *e;
  auto ask = [&](core::micros timeout) {
    auto p = std::make_shared<std::promise<core::act::complete>>();
    auto fut = p->get_future();
    endpoint_->request(*core::address::parse("ccp://mgmt/127.0.0.1/it"), "ping", "{}", timeout,
                       [p](core::act::complete& c) { p->set_value(std::move(c)); });
    return fut;
  };
  // What /readyz says of the endpoint: its monitor's not_ready, read on its strand.
  const net::monitored mon = endpoint_->monitoring();
  auto not_ready = [&] {
    auto p = std::make_shared<std::promise<std::string>>();
    auto fut = p->get_future();
    asio::post(mon.host->executor(),
               [p, &mon] { p->set_value(mon.not_ready(mon.host->snapshot())); });
    return fut.get();
  };
  ASSERT_TRUE(eventually(
      [&] {
        auto f = ask(1 * core::seconds);
        return f.wait_for(5s) == std::future_status::ready && f.get().code == core::errc{};
      },
      10s));
  EXPECT_EQ(not_ready(), "");
  agent_->kill();
  const auto killed = std::chrono::steady_clock::now();
  // Sent into the silence: it ends unreachable once the endpoint declares its agent gone,
  // long before its 20 s deadline (within core::agent_silence of the agent's last beat; how
  // long it took is printed, not judged).
  auto pending = ask(20 * core::seconds);
  ASSERT_EQ(pending.wait_for(10s), std::future_status::ready) << "still pending";
  EXPECT_EQ(pending.get().code, core::errc::unreachable);
  const double ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - killed).count();
  RecordProperty("failed_after_kill_ms", std::to_string(ms));
  std::cout << "the pending request ended unreachable " << ms << " ms after the kill\n";
  // And a new one fails at once.
  auto fresh = ask(20 * core::seconds);
  ASSERT_EQ(fresh.wait_for(1s), std::future_status::ready);
  auto c = fresh.get();
  EXPECT_EQ(c.code, core::errc::unreachable);
  ASSERT_EQ(c.replies.size(), 1u);
  EXPECT_NE(c.replies[0].text.find("is gone"), std::string::npos) << c.replies[0].text;
  // /readyz says so: take it out of rotation, do not restart it.
  EXPECT_EQ(not_ready(), "its agent is gone (silent for " +
                             std::to_string(core::agent_silence / core::ms) + " ms)");
  // The agent comes back: the endpoint registers again and its requests get through.
  start_agent();
  EXPECT_TRUE(eventually(
      [&] {
        auto f = ask(1 * core::seconds);
        return f.wait_for(5s) == std::future_status::ready && f.get().code == core::errc{};
      },
      20s))
      << agent_->output();
  EXPECT_EQ(not_ready(), "");
}

// With no proxy on the backbone, a client hears from none and says so at
// core::no_proxy_window, the heartbeat bound, rather than answer `unreachable` (how long it
// took is printed, not judged: bench/client/startup.py measures).
TEST(ClientsWithoutProxy, ARequestSaysAtOnceThatNoProxyAnswered) {
  nats_server nats;
  const auto log = std::filesystem::temp_directory_path() /
                   ("ccp-no-proxy-" + std::to_string(::getpid()) + ".log");
  const auto t0 = std::chrono::steady_clock::now();
  process p({CCP_BINARY, "request", "ccp://endpoint/10.0.0.1/e1", "echo", "-t", "5s", "--backbone",
             nats.url()},
            log.string());
  auto status = p.wait(20s);
  const double ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  const std::string out = p.output();
  EXPECT_EQ(status, 1) << out;
  EXPECT_NE(out.find("ccp request: no proxy answered on the backbone " + nats.url() + " within " +
                     std::to_string(core::no_proxy_window / core::ms) + " ms"),
            std::string::npos)
      << out;
  std::cout << "ccp request with no proxy ended after " << ms << " ms\n";
  std::filesystem::remove(log);
}

}  // namespace
}  // namespace ccp::test
