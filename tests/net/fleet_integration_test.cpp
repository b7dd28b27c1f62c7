// The daemons as real processes on loopback with a real nats-server: 2 proxies, 20 agents
// (each hosting endpoints e1 and e2 on its NATS host bus), and this test as the
// management node. Faults: kill -9 of a proxy, a proxy restarted, nats-server restarted,
// a wrong token, a spoofed `from`, garbage and oversized frames. Every wait is bounded;
// every process started is stopped by its destructor.
#include <gtest/gtest.h>

#include <algorithm>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <future>
#include <iostream>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>

#include "core/message.hpp"
#include "net/daemons.hpp"
#include "testkit/eventually.hpp"
#include "testkit/nats_server.hpp"
#include "testkit/port.hpp"
#include "testkit/process.hpp"

namespace ccp::test {
namespace {

using namespace std::chrono_literals;
namespace asio = boost::asio;
namespace beast = boost::beast;
using testkit::eventually;
using testkit::free_port;
using testkit::nats_server;
using testkit::process;

constexpr std::size_t hosts = 20;
constexpr std::string_view secret = "integration-secret";
// After a proxy dies, every agent must be attached elsewhere within this bound: the
// idle timeout (3 s) to notice a silent link, plus the reconnect backoff's first steps.
constexpr auto failover_bound = 15s;

std::string host_of(std::size_t i) {
  return "10.0.0." + std::to_string(i + 1);
}

class Fleet : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("ccp-it-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(dir_);
    nats_ = std::make_unique<nats_server>();
    ports_ = {free_port(), free_port()};
    for (int i = 0; i < 2; ++i)
      start_proxy(i);
    for (std::size_t i = 0; i < hosts; ++i)
      start_agent(i, std::string(secret));
    for (int i = 0; i < 2; ++i)
      threads_.emplace_back([this] { ioc_.run(); });
    net::mgmt_options mo;
    mo.self = *core::address::parse("ccp://mgmt/127.0.0.1/it");
    mo.backbone = nats_->url();
    auto m = net::mgmt_service::start(ioc_, std::move(mo));
    ASSERT_TRUE(m) << m.error();
    mgmt_ = *m;
    // As every client does: requests wait until mgmt's directory is complete (it answers
    // `unreachable` and knows the members of `all` groups from it).
    std::promise<void> ready;
    mgmt_->when_ready([&ready] { ready.set_value(); });
    ASSERT_EQ(ready.get_future().wait_for(10s), std::future_status::ready);
    ASSERT_TRUE(eventually([&] { return attached_hosts().size() == hosts; }, 20s))
        << "attached: " << attached_hosts().size() << "\n"
        << proxies_[0]->output();
  }

  void TearDown() override {
    if (mgmt_) mgmt_->shutdown();
    std::this_thread::sleep_for(50ms);
    work_.reset();
    ioc_.stop();
    for (auto& t : threads_)
      t.join();
    agents_.clear();
    for (auto& p : proxies_)
      p.reset();
    if (!HasFailure()) std::filesystem::remove_all(dir_);
  }

  std::string log(const std::string& name) const { return (dir_ / (name + ".log")).string(); }
  std::string proxy_url(int i) const { return "ws://127.0.0.1:" + std::to_string(ports_[i]) + "/"; }

  void start_proxy(int i) {
    const std::string n = std::to_string(i + 1);
    proxies_[i] = std::make_unique<process>(
        std::vector<std::string>{CCP_BINARY, "proxy", "--address",
                                 "ccp://proxy/127.0.1." + n + "/p" + n, "--listen",
                                 "127.0.0.1:" + std::to_string(ports_[i]), "--backbone",
                                 nats_->url(), "--secret", std::string(secret)},
        log("proxy-" + n));
  }

  void start_agent(std::size_t i, const std::string& token) {
    // Even hosts prefer proxy 1, odd hosts proxy 2.
    const int first = static_cast<int>(i % 2);
    agents_.push_back(std::make_unique<process>(
        std::vector<std::string>{CCP_BINARY, "agent", "--address",
                                 "ccp://agent/" + host_of(i) + "/agent", "--proxy",
                                 proxy_url(first), "--proxy", proxy_url(1 - first), "--token",
                                 token, "--host-bus", nats_->url(), "--endpoints", "e1,e2"},
        log("agent-" + host_of(i))));
  }

  core::act::complete request(std::string_view to, std::string type, std::string body = "{}",
                              core::micros timeout = 2 * core::seconds) {
    std::promise<core::act::complete> p;
    auto fut = p.get_future();
    mgmt_->request(*core::address::parse(to), std::move(type), std::move(body), timeout,
                   [&p](core::act::complete& c) { p.set_value(std::move(c)); });
    if (fut.wait_for(30s) != std::future_status::ready) throw std::runtime_error("no outcome");
    return fut.get();
  }

  // host -> proxy, from every proxy's `agents` answer.
  std::map<std::string, std::string> attached_hosts() {
    std::map<std::string, std::string> out;
    auto c = request("ccp://proxy/all", "agents", "{}", 1 * core::seconds);
    for (const auto& r : c.replies) {
      if (r.kind != core::msg_kind::response) continue;
      auto j = nlohmann::json::parse(r.body, nullptr, false);
      if (j.is_discarded()) continue;
      for (const auto& a : j["agents"])
        out[a.value("host", "")] = r.from.str();
    }
    return out;
  }

  // Whether every host's e1 answers an echo.
  bool every_host_answers() {
    for (std::size_t i = 0; i < hosts; ++i) {
      auto c = request("ccp://endpoint/" + host_of(i) + "/e1", "echo", "{}", 1 * core::seconds);
      if (c.code != core::errc{}) return false;
    }
    return true;
  }

  std::filesystem::path dir_;
  std::unique_ptr<nats_server> nats_;
  std::vector<int> ports_;
  std::array<std::unique_ptr<process>, 2> proxies_;
  std::vector<std::unique_ptr<process>> agents_;
  asio::io_context ioc_;
  asio::executor_work_guard<asio::io_context::executor_type> work_{ioc_.get_executor()};
  std::vector<std::thread> threads_;
  std::shared_ptr<net::mgmt_service> mgmt_;
};

TEST_F(Fleet, RoundTripsFromMgmtToEndpointsAndBack) {
  auto one = request("ccp://endpoint/10.0.0.7/e2", "echo", R"({"x":1})");
  ASSERT_EQ(one.code, core::errc{});
  ASSERT_EQ(one.replies.size(), 1u);
  EXPECT_EQ(one.replies[0].body, R"({"x":1})");
  EXPECT_EQ(one.replies[0].from.str(), "ccp://endpoint/10.0.0.7/e2");

  auto any = request("ccp://endpoint/any", "echo");
  ASSERT_EQ(any.code, core::errc{});
  EXPECT_EQ(any.replies.size(), 1u);

  auto host_all = request("ccp://endpoint/10.0.0.3/all", "ping");
  ASSERT_EQ(host_all.code, core::errc{});
  EXPECT_EQ(host_all.replies.size(), 2u);

  auto all = request("ccp://endpoint/all", "ping");
  ASSERT_EQ(all.code, core::errc{});
  std::set<std::string> from;
  for (auto& r : all.replies)
    from.insert(r.from.str());
  EXPECT_EQ(all.replies.size(), 2 * hosts);
  EXPECT_EQ(from.size(), 2 * hosts);  // no duplicates

  auto agents = request("ccp://agent/all", "ping");
  EXPECT_EQ(agents.code, core::errc{});
  EXPECT_EQ(agents.replies.size(), hosts);

  EXPECT_EQ(request("ccp://endpoint/10.0.0.200/e1", "echo").code, core::errc::unreachable);
  EXPECT_EQ(request("ccp://endpoint/10.0.0.1/nobody", "echo").code, core::errc::unreachable);
}

TEST_F(Fleet, EndpointProcessReachesMgmt) {
  process ep({CCP_BINARY, "endpoint", "--address", "ccp://endpoint/10.0.0.4/tool", "--host-bus",
              nats_->url(), "--request", "ccp://mgmt/any", "--type", "ping", "--exit"},
             log("endpoint-tool"));
  auto status = ep.wait(15s);
  ASSERT_TRUE(status) << ep.output();
  EXPECT_EQ(*status, 0) << ep.output();
  EXPECT_NE(ep.output().find(R"("outcome":"ok")"), std::string::npos) << ep.output();
  EXPECT_NE(ep.output().find("ccp://mgmt/127.0.0.1/it"), std::string::npos) << ep.output();
}

// The client commands as a person or a script runs them.
TEST_F(Fleet, ClientCommandsRequestSendAndListAgents) {
  process req({CCP_BINARY, "request", "ccp://endpoint/all", "ping", "--backbone", nats_->url(),
               "--timeout", "1s", "--json"},
              log("cli-request"));
  ASSERT_EQ(req.wait(20s), 0) << req.output();
  const std::string out = req.output();
  EXPECT_EQ(std::count(out.begin(), out.end(), '\n'), static_cast<long>(2 * hosts + 1)) << out;
  EXPECT_NE(out.find(R"("outcome":"ok","replies":40)"), std::string::npos) << out;

  process table({CCP_BINARY, "request", "ccp://endpoint/10.0.0.2/e1", "echo", R"({"k":"v"})",
                 "--backbone", nats_->url()},
                log("cli-table"));
  ASSERT_EQ(table.wait(20s), 0) << table.output();
  EXPECT_NE(table.output().find("ccp://endpoint/10.0.0.2/e1"), std::string::npos);
  EXPECT_NE(table.output().find(R"({"k":"v"})"), std::string::npos);
  EXPECT_NE(table.output().find("outcome: ok, 1 reply"), std::string::npos) << table.output();

  process missing(
      {CCP_BINARY, "request", "ccp://endpoint/10.0.0.99/e1", "echo", "--backbone", nats_->url()},
      log("cli-missing"));
  EXPECT_EQ(missing.wait(20s), 1) << missing.output();
  EXPECT_NE(missing.output().find("outcome: unreachable"), std::string::npos) << missing.output();

  process agents({CCP_BINARY, "agents", "--backbone", nats_->url()}, log("cli-agents"));
  ASSERT_EQ(agents.wait(20s), 0) << agents.output();
  for (std::size_t i = 0; i < hosts; ++i)
    EXPECT_NE(agents.output().find("ccp://agent/" + host_of(i) + "/agent "), std::string::npos)
        << host_of(i) << "\n"
        << agents.output();

  process send({CCP_BINARY, "send", "ccp://endpoint/10.0.0.1/e1", "note", R"({"a":1})",
                "--backbone", nats_->url()},
               log("cli-send"));
  EXPECT_EQ(send.wait(20s), 0) << send.output();

  process bad({CCP_BINARY, "request", "ccp://nonsense", "ping"}, log("cli-bad"));
  EXPECT_EQ(bad.wait(20s), 2) << bad.output();
}

TEST_F(Fleet, KillNineOfAProxyUnderTrafficMovesEveryAgent) {
  std::atomic<bool> stop{false};
  std::atomic<int> ok{0}, failed{0};
  std::thread traffic([&] {
    for (std::size_t i = 0; !stop; ++i) {
      auto c =
          request("ccp://endpoint/" + host_of(i % hosts) + "/e1", "echo", "{}", 500 * core::ms);
      (c.code == core::errc{} ? ok : failed)++;
    }
  });
  std::this_thread::sleep_for(300ms);
  proxies_[0]->signal(SIGKILL);
  ASSERT_TRUE(proxies_[0]->wait(5s));
  const auto t0 = std::chrono::steady_clock::now();
  const bool moved = eventually(
      [&] {
        auto a = attached_hosts();
        return a.size() == hosts && std::all_of(a.begin(), a.end(), [](auto& kv) {
                 return kv.second == "ccp://proxy/127.0.1.2/p2";
               });
      },
      failover_bound);
  const auto took = std::chrono::steady_clock::now() - t0;
  stop = true;
  traffic.join();
  EXPECT_TRUE(moved) << "attached: " << attached_hosts().size();
  EXPECT_TRUE(eventually([&] { return every_host_answers(); }, 10s));
  std::cout << "failover of " << hosts / 2 << " agents took "
            << std::chrono::duration_cast<std::chrono::milliseconds>(took).count()
            << " ms; traffic during the test: " << ok << " ok, " << failed << " failed\n";
  EXPECT_GT(ok.load(), 0);
}

TEST_F(Fleet, SigtermDrainsAProxyItsAgentsMoveAndItExitsCleanly) {
  const auto t0 = std::chrono::steady_clock::now();
  proxies_[0]->signal(SIGTERM);
  auto status = proxies_[0]->wait(10s);
  ASSERT_TRUE(status) << proxies_[0]->output();
  EXPECT_EQ(*status, 0) << proxies_[0]->output();
  EXPECT_NE(proxies_[0]->output().find("telling agents to move"), std::string::npos);
  // A drain notice moves the agents at once (no idle timeout, no backoff).
  EXPECT_TRUE(eventually(
      [&] {
        auto a = attached_hosts();
        return a.size() == hosts && std::all_of(a.begin(), a.end(), [](auto& kv) {
                 return kv.second == "ccp://proxy/127.0.1.2/p2";
               });
      },
      5s));
  std::cout << "drain of " << hosts / 2 << " agents took "
            << std::chrono::duration_cast<std::chrono::milliseconds>(
                   std::chrono::steady_clock::now() - t0)
                   .count()
            << " ms\n";
  EXPECT_TRUE(every_host_answers());
}

TEST_F(Fleet, RestartedProxyDoesNotCauseDuplicateDelivery) {
  proxies_[0]->signal(SIGKILL);
  ASSERT_TRUE(proxies_[0]->wait(5s));
  ASSERT_TRUE(eventually([&] { return attached_hosts().size() == hosts; }, failover_bound));
  start_proxy(0);  // same port: agents that prefer it may come back
  std::this_thread::sleep_for(2s);
  for (int round = 0; round < 3; ++round) {
    auto all = request("ccp://endpoint/all", "ping");
    std::multiset<std::string> from;
    for (auto& r : all.replies)
      from.insert(r.from.str());
    std::set<std::string> unique(from.begin(), from.end());
    EXPECT_EQ(from.size(), unique.size()) << "duplicate delivery in round " << round;
    EXPECT_EQ(unique.size(), 2 * hosts) << "round " << round;
  }
  EXPECT_EQ(attached_hosts().size(), hosts);
}

TEST_F(Fleet, NatsServerRestartedUnderTrafficFleetRecovers) {
  std::atomic<bool> stop{false};
  std::thread traffic([&] {
    for (std::size_t i = 0; !stop; ++i)
      request("ccp://endpoint/" + host_of(i % hosts) + "/e1", "echo", "{}", 300 * core::ms);
  });
  std::this_thread::sleep_for(300ms);
  nats_->kill();
  std::this_thread::sleep_for(1s);
  nats_->restart();
  EXPECT_TRUE(eventually([&] { return every_host_answers(); }, 30s));
  stop = true;
  traffic.join();
  EXPECT_EQ(attached_hosts().size(), hosts);
}

TEST_F(Fleet, WrongTokenIsRejectedAndTheFleetCarriesOn) {
  start_agent(hosts, "wrong-token");  // host 10.0.0.21
  std::this_thread::sleep_for(2s);
  EXPECT_FALSE(attached_hosts().contains(host_of(hosts)));
  EXPECT_EQ(request("ccp://endpoint/" + host_of(hosts) + "/e1", "echo").code,
            core::errc::unreachable);
  EXPECT_TRUE(every_host_answers());
}

// A hand-made agent on a raw websocket: hello, then frames of our choosing.
class raw_agent {
 public:
  // Attaches as the agent of `host` with `epoch`; throws unless welcomed when `welcome_needed`
  // (else hello_answer() says what the proxy answered).
  raw_agent(int port, std::string host, std::uint64_t epoch = 1'000'000'000'000'000ull,
            bool welcome_needed = true)
      : host_(std::move(host)) {
    beast::get_lowest_layer(ws_).expires_after(5s);
    beast::get_lowest_layer(ws_).connect(
        {asio::ip::make_address("127.0.0.1"), static_cast<std::uint16_t>(port)});
    beast::get_lowest_layer(ws_).expires_never();
    ws_.set_option(beast::websocket::stream_base::decorator(
        [self = self()](beast::websocket::request_type& r) {
          r.set("X-Ccp-Agent", self);
          r.set(beast::http::field::authorization, "Bearer " + std::string(secret));
        }));
    ws_.handshake("127.0.0.1", "/");
    ws_.binary(true);
    core::message hello;
    hello.id = ++id_;
    hello.kind = core::msg_kind::request;
    hello.from = *core::address::parse(self());
    hello.to = core::address::group(core::role::proxy, core::scope::any);
    hello.type = "ccp.hello";
    hello.body = R"({"epoch":)" + std::to_string(epoch) + R"(,"token":")" + std::string(secret) +
                 R"(","endpoints":[]})";
    write(hello);
    answer_ = read_until([](const core::message& m) { return m.correlation == 1; });
    if (welcome_needed && (!answer_ || answer_->kind != core::msg_kind::response))
      throw std::runtime_error("no welcome");
  }
  [[nodiscard]] const std::optional<core::message>& hello_answer() const { return answer_; }
  void close() {
    beast::error_code ec;
    ws_.close(beast::websocket::close_code::normal, ec);
  }
  [[nodiscard]] std::string self() const { return "ccp://agent/" + host_ + "/agent"; }

  void write(const core::message& m) {
    std::string f;
    if (!core::encode(m, f)) throw std::runtime_error("encode");
    ws_.write(asio::buffer(f));
  }
  void write_raw(const std::string& bytes) { ws_.write(asio::buffer(bytes)); }
  // Reads until the proxy closes the link or `most` frames came; how many came.
  int read_until_closed(int most) {
    int n = 0;
    for (; n < most; ++n) {
      beast::flat_buffer b;
      beast::error_code ec;
      ws_.read(b, ec);
      if (ec) break;
    }
    return n;
  }
  // Writes `m`; false once the link is closed.
  bool try_write(const core::message& m) {
    std::string f;
    if (!core::encode(m, f)) return false;
    beast::error_code ec;
    ws_.write(asio::buffer(f), ec);
    return !ec;
  }
  std::uint64_t request_from(std::string from, std::string to, std::string type) {
    core::message m;
    m.id = ++id_;
    m.kind = core::msg_kind::request;
    m.from = *core::address::parse(from);
    m.to = *core::address::parse(to);
    m.type = std::move(type);
    m.ttl_ms = 2000;
    m.body = "{}";
    write(m);
    return m.id;
  }

  // Reads frames (bounded by 5 s) until one satisfies `want`; nullopt when the link
  // closed or time ran out.
  template <class P>
  std::optional<core::message> read_until(P want) {
    beast::get_lowest_layer(ws_).expires_after(5s);
    for (int i = 0; i < 1000; ++i) {
      beast::flat_buffer b;
      beast::error_code ec;
      ws_.read(b, ec);
      if (ec) return std::nullopt;
      std::string bytes = beast::buffers_to_string(b.data());
      auto m = core::decode(bytes);
      if (m && want(*m)) return *m;
    }
    return std::nullopt;
  }

 private:
  asio::io_context ioc_;
  beast::websocket::stream<beast::tcp_stream> ws_{ioc_};
  std::string host_;
  std::uint64_t id_ = 0;
  std::optional<core::message> answer_;
};

TEST_F(Fleet, SpoofedFromIsRejectedAndTheAgentStaysConnected) {
  raw_agent a(ports_[0], "10.0.9.1");
  auto spoofed = a.request_from("ccp://agent/10.0.0.1/agent", "ccp://mgmt/any", "ping");
  auto err = a.read_until([&](const core::message& m) { return m.correlation == spoofed; });
  ASSERT_TRUE(err);
  EXPECT_EQ(err->kind, core::msg_kind::error);
  EXPECT_EQ(err->code, core::errc::rejected);
  auto honest = a.request_from(a.self(), "ccp://mgmt/any", "ping");
  auto reply = a.read_until([&](const core::message& m) { return m.correlation == honest; });
  ASSERT_TRUE(reply) << "the link should still be open";
  EXPECT_EQ(reply->kind, core::msg_kind::response);
}

TEST_F(Fleet, GarbageAndOversizedFramesHarmNoOtherAgent) {
  raw_agent garbage(ports_[0], "10.0.9.2");
  garbage.write_raw(std::string(100, '\x5a'));
  garbage.write_raw(std::string("\xcc\x01\x03\x00\xff\xff\xff\x7f", 8) + std::string(60, 'x'));
  // The garbage is dropped; the sender stays connected and can still talk.
  auto honest = garbage.request_from(garbage.self(), "ccp://mgmt/any", "ping");
  auto reply = garbage.read_until([&](const core::message& m) { return m.correlation == honest; });
  ASSERT_TRUE(reply);
  EXPECT_EQ(reply->kind, core::msg_kind::response);

  raw_agent big(ports_[0], "10.0.9.3");
  big.write_raw(std::string(core::max_frame_bytes + 1024, 'x'));  // past read_message_max
  EXPECT_FALSE(big.read_until([](const core::message&) { return false; }))
      << "an oversized message closes that link";
  EXPECT_TRUE(every_host_answers());
  auto all = request("ccp://endpoint/all", "ping");
  EXPECT_EQ(all.replies.size(), 2 * hosts);
}

// Issue 23: with the shared secret, a process claiming a host's agent with epoch 2^64-1
// locked the real agent out for good. The largest epoch is refused now, and an impostor
// with the largest epoch allowed holds the host only until the real agent's next hello
// takes it back (the newest attachment wins), and nothing of it remains once it left.
TEST_F(Fleet, AnImpostorWithAHugeEpochDoesNotLockAHostOut) {
  const std::string victim = host_of(0);
  raw_agent refused(ports_[0], victim, UINT64_MAX, false);
  ASSERT_TRUE(refused.hello_answer());
  EXPECT_EQ(refused.hello_answer()->kind, core::msg_kind::error);
  EXPECT_EQ(refused.hello_answer()->code, core::errc::bad_request);
  {
    // Attaches at the proxy the real agent does not use: it fences the real agent, whose
    // reconnect takes the host back at once.
    raw_agent impostor(ports_[1], victim, core::max_agent_epoch);
    // The real agent's next hello (its epoch is its start time in microseconds, far
    // below) is given the epoch after the impostor's.
    auto epoch_of = [&](const std::string& host) {
      auto c = request("ccp://proxy/all", "agents", "{}", 1 * core::seconds);
      for (const auto& r : c.replies) {
        auto j = nlohmann::json::parse(r.body, nullptr, false);
        if (j.is_discarded() || !j.contains("agents")) continue;
        for (const auto& a : j["agents"])
          if (a.value("host", "") == host) return a.value("epoch", std::uint64_t{0});
      }
      return std::uint64_t{0};
    };
    EXPECT_TRUE(
        eventually([&] { return epoch_of(victim) == core::max_agent_epoch + 1; }, failover_bound))
        << "epoch of " << victim << ": " << epoch_of(victim);
    EXPECT_TRUE(eventually(
        [&] {
          auto c = request("ccp://endpoint/" + victim + "/e1", "echo", "{}", 1 * core::seconds);
          return c.code == core::errc{};
        },
        failover_bound))
        << "the real agent of " << victim << " did not get its host back";
    impostor.close();
  }
  EXPECT_TRUE(eventually([&] { return attached_hosts().size() == hosts; }, failover_bound));
  EXPECT_TRUE(every_host_answers());
}

// Resident memory of a process in KiB (VmRSS), 0 when unknown.
std::size_t rss_kib(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line))
    if (line.starts_with("VmRSS:")) return std::stoul(line.substr(6));
  return 0;
}

// Issue 23: a client that never reads and floods spoofed frames took a proxy from 19 MB to
// 472 MB. Each spoofed frame earns an error on the client's own link, which now counts
// against the link's bound, and a link refused faster than 64 frames/s (bursts of 256) is
// closed: the flood costs each connection a few hundred frames and the proxy no memory.
TEST_F(Fleet, ASpoofedFloodFromAClientThatNeverReadsKeepsTheProxysMemoryFlat) {
  constexpr int connections = 20;
  constexpr int frames_per_connection = 20'000;
  const std::size_t before = rss_kib(proxies_[0]->pid());
  ASSERT_GT(before, 0u);
  int most_answered = 0;
  for (int c = 0; c < connections; ++c) {
    raw_agent flooder(ports_[0], "10.0.9.4");
    core::message m;
    m.kind = core::msg_kind::request;
    m.from = *core::address::parse("ccp://agent/10.0.0.1/agent");  // another host's agent
    m.to = *core::address::parse("ccp://mgmt/any");
    m.type = "ping";
    m.ttl_ms = 2000;
    m.body = "{}";
    for (int i = 0; i < frames_per_connection; ++i) {
      m.id = 100 + static_cast<std::uint64_t>(i);
      if (!flooder.try_write(m)) break;
    }
    // What the proxy queued for it before it closed the link: an error per refused frame
    // up to the refusal burst, then the close (a websocket close drains what it is sent).
    const int answered = flooder.read_until_closed(frames_per_connection);
    most_answered = std::max(most_answered, answered);
    EXPECT_LT(answered, static_cast<int>(core::link_queue_frames))
        << "connection " << c << " was answered " << answered << " times";
  }
  std::this_thread::sleep_for(500ms);
  const std::size_t after = rss_kib(proxies_[0]->pid());
  std::cout << "proxy RSS " << before / 1024 << " MiB -> " << after / 1024 << " MiB after "
            << connections << " connections of " << frames_per_connection
            << " spoofed frames each (at most " << most_answered
            << " errors queued on one before it was closed)\n";
  EXPECT_LT(after, before + 32 * 1024) << "the proxy grew by " << (after - before) / 1024 << " MiB";
  EXPECT_TRUE(every_host_answers());
}

}  // namespace
}  // namespace ccp::test
