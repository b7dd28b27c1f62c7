// ccp_e2e_bench: the networked build end to end on loopback, next to a raw NATS baseline
// measured on the same nats-server in the same run (issue 5, "Benchmarks").
//
//   ccp_e2e_bench [--nats nats://127.0.0.1:PORT] [--seconds S] [--connections N]
//                 [--phases raw,chain,req,idle] [--host-bus nats|inproc|both]
//                 [--window W] [--frame-bytes B] [--json] [--quick]
//
// Without --nats it starts `nats-server -a 127.0.0.1 -p <free port>` (from $CCP_NATS_SERVER,
// PATH or /usr/sbin) and stops it at exit. Phases, in the order they run:
//   idle   one proxy in this process; N full agents (agent_service on an in-process host bus)
//          in a child process (this binary re-executed with --agents-child), so that this
//          process's RSS and heap deltas are the proxy's alone. Runs first, on a fresh heap.
//   raw    one libnats publisher connection -> one subscriber connection, frames of the same
//          size as the chain's, libnats defaults (the baseline), then the same through
//          net::open_bus (ccp's NATS bus as the daemons open it: socket I/O on the io_context,
//          batched posts) for information, and
//          a two-hop relay in libnats alone (publisher -> relay connection republishing each
//          message -> subscriber): the chain over the NATS host bus crosses the server twice,
//          so this is its ceiling with libnats on this machine, with no ccp code in the path.
//   chain  mgmt -> NATS backbone -> proxy -> websocket -> agent -> host bus -> endpoint:
//          notifications paced by a window of W in flight (sent - delivered - refused); the
//          rate is what the endpoint receives, refused (overloaded, ...) errors are counted.
//   req    mgmt -> endpoint `echo`: sequential round trips (p50/p99), then 64 in flight.
// --quick runs every phase briefly (a CI smoke test); --json prints one JSON object.
// Exit status: 0 when every phase ran (targets missed or not), 1 when one could not run.

#include <fcntl.h>
#include <malloc.h>
#if defined(CCP_TCMALLOC)
#include <gperftools/malloc_extension_c.h>
#endif
#include <nats/nats.h>
#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "bench/e2e/options.hpp"
#include "bench/e2e/report.hpp"
#include "core/message.hpp"
#include "net/bus.hpp"
#include "net/daemons.hpp"
#include "net/link.hpp"
#include "testkit/io_threads.hpp"
#include "testkit/nats_server.hpp"
#include "testkit/process.hpp"

namespace {

namespace asio = boost::asio;
namespace core = ccp::core;
namespace net = ccp::net;
using namespace std::chrono_literals;
using steady = std::chrono::steady_clock;
using ccp::e2e::figure;
using ccp::e2e::has_phase;
using ccp::e2e::human;
using ccp::e2e::options;
using ccp::e2e::parse_options;
using ccp::e2e::report;
using ccp::e2e::target_connections;  // idle agents on one proxy (bench/e2e/options.hpp)
using ccp::testkit::query;
using runtime = ccp::testkit::io_threads;

// --- Targets of issue 5 -------------------------------------------------------------------
constexpr double target_chain_ratio = 0.30;   // chain notifications/s over raw NATS msgs/s
constexpr double target_p50_ms = 1.0;         // sequential request round trip
constexpr double target_kib_per_conn = 12.0;  // proxy memory per idle connection

// --- Settings, each with its reason -------------------------------------------------------
// Requests in flight for the throughput figure (the issue's number).
constexpr std::size_t concurrent_requests = 64;
// Notifications the sender posts per turn on the mgmt strand before yielding it, so that
// bus traffic for mgmt (errors, heartbeats) interleaves with the sending.
constexpr std::size_t send_batch = 64;
// Fds kept free beside the connections (nats, listener, pipes, the agents' buses).
constexpr rlim_t spare_fds = 64;
// Agents the child starts per step, and the step (1000 agents/s): this measures connections
// held, not a connection storm. 10k agents dialling within a second back the proxy's strand
// up for seconds; its idle scan then drops agents whose heartbeats wait in that backlog, and
// the fleet never settles (see the report of issue 5).
constexpr std::size_t agents_per_step = 50;
constexpr auto agent_step = 50ms;
// The idle phase stops waiting when the attached count has not grown for this long.
constexpr auto idle_plateau = 5s;

double secs(steady::duration d) {
  return std::chrono::duration<double>(d).count();
}

// Raises the soft fd limit to the hard one; returns the new soft limit.
rlim_t raise_fd_limit() {
  rlimit r{};
  if (::getrlimit(RLIMIT_NOFILE, &r) != 0) return 1024;
  r.rlim_cur = r.rlim_max;
  (void)::setrlimit(RLIMIT_NOFILE, &r);
  (void)::getrlimit(RLIMIT_NOFILE, &r);
  return r.rlim_cur;
}

// ------------------------------------------------------------------------------------------
// The io_context on two threads (the development machine has two cores), testkit::io_threads;
// a role's state read on its strand, testkit::query.

// testkit::query with a bound: nullopt when the strand did not run it within `bound` (it still
// runs later, on state the closure owns).
template <class Host, class F>
auto query_within(std::shared_ptr<Host> h, F f, std::chrono::milliseconds bound)
    -> std::optional<decltype(f(h->role()))> {
  using T = decltype(f(h->role()));
  auto p = std::make_shared<std::promise<T>>();
  auto fut = p->get_future();
  asio::post(h->executor(), [h, p, f] { p->set_value(f(h->role())); });
  if (fut.wait_for(bound) != std::future_status::ready) return std::nullopt;
  return fut.get();
}

core::address addr(const std::string& text) {
  auto a = core::address::parse(text);
  if (!a) throw std::runtime_error("address '" + text + "': " + a.error().message());
  return *a;
}

// ------------------------------------------------------------------------------------------
// Medians and percentiles (the figures and their printing: bench/e2e/report.hpp)

double median(std::vector<double> v) {
  if (v.empty()) return NAN;
  std::sort(v.begin(), v.end());
  const std::size_t n = v.size();
  return n % 2 == 1 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

double percentile(std::vector<double> v, double p) {
  if (v.empty()) return NAN;
  std::sort(v.begin(), v.end());
  const auto i = static_cast<std::size_t>(std::ceil(p / 100.0 * static_cast<double>(v.size())));
  return v[std::min(v.size() - 1, i == 0 ? 0 : i - 1)];
}

// ------------------------------------------------------------------------------------------
// Phase raw: libnats publisher -> subscriber on the same server.

struct raw_counter {
  std::atomic<std::uint64_t> got{0};
  std::atomic<std::int64_t> last_ns{0};
};

void raw_on_msg(natsConnection*, natsSubscription*, natsMsg* m, void* closure) {
  auto* c = static_cast<raw_counter*>(closure);
  c->got.fetch_add(1, std::memory_order_relaxed);
  c->last_ns.store(steady::now().time_since_epoch().count(), std::memory_order_relaxed);
  natsMsg_Destroy(m);
}

struct nats_conn {
  natsConnection* c = nullptr;
  ~nats_conn() {
    if (c != nullptr) natsConnection_Destroy(c);
  }
};

void check(natsStatus s, const char* what) {
  if (s != NATS_OK) throw std::runtime_error(std::string(what) + ": " + natsStatus_GetText(s));
}

void connect(nats_conn& out, const std::string& url) {
  natsOptions* o = nullptr;
  check(natsOptions_Create(&o), "natsOptions_Create");
  natsOptions_SetURL(o, url.c_str());
  natsOptions_SetName(o, "ccp_e2e_bench raw");
  const natsStatus s = natsConnection_Connect(&out.c, o);
  natsOptions_Destroy(o);
  check(s, ("connect " + url).c_str());
}

// Publishes `n` frames of `size` bytes and returns messages/s as the subscriber saw them:
// received / (last receipt - first publish). Bounded wait for the tail.
struct rate_run {
  double rate = 0;
  std::uint64_t sent = 0, received = 0;
};

// Publishes `n` frames of `size` bytes on `subject` as fast as libnats takes them, then
// flushes. Returns when the first one was published.
steady::time_point flood(natsConnection* pub, const char* subject, std::size_t n,
                         std::size_t size) {
  const std::string payload(size, 'x');
  const auto t0 = steady::now();
  for (std::size_t i = 0; i < n; ++i)
    natsConnection_Publish(pub, subject, payload.data(), static_cast<int>(size));
  natsConnection_Flush(pub);
  return t0;
}

// Waits (at most `bound`) until `c` counted `n`, then the rate it saw since t0.
rate_run received_rate(const raw_counter& c, std::size_t n, steady::time_point t0,
                       steady::duration bound) {
  const auto until = steady::now() + bound;
  while (c.got.load() < n && steady::now() < until)
    std::this_thread::sleep_for(1ms);
  rate_run r;
  r.sent = n;
  r.received = c.got.load();
  const auto last = steady::time_point(steady::duration(c.last_ns.load()));
  r.rate = static_cast<double>(r.received) / std::max(1e-9, secs(last - t0));
  return r;
}

rate_run raw_nats_once(const std::string& url, std::size_t n, std::size_t size) {
  nats_conn pub, sub;
  connect(pub, url);
  connect(sub, url);
  raw_counter c;
  natsSubscription* s = nullptr;
  check(natsConnection_Subscribe(&s, sub.c, "bench.raw", raw_on_msg, &c), "subscribe");
  natsSubscription_SetPendingLimits(s, -1, -1);  // measure throughput, not drops
  check(natsConnection_Flush(sub.c), "flush");   // the server knows the subscription
  const rate_run r = received_rate(c, n, flood(pub.c, "bench.raw", n, size), 10s);
  natsSubscription_Unsubscribe(s);
  natsSubscription_Destroy(s);
  return r;
}

// Two hops through libnats alone: publisher -> relay connection, whose message callback
// publishes each message again -> subscriber. The chain over the NATS host bus crosses
// nats-server twice with a forwarding step between; this is what libnats and the server
// give such a path with no ccp code in it, a ceiling for the chain on this machine.
void relay_on_msg(natsConnection* nc, natsSubscription*, natsMsg* m, void*) {
  natsConnection_Publish(nc, "bench.relay.out", natsMsg_GetData(m), natsMsg_GetDataLength(m));
  natsMsg_Destroy(m);
}

rate_run relay_nats_once(const std::string& url, std::size_t n, std::size_t size) {
  nats_conn pub, relay, sub;
  connect(pub, url);
  connect(relay, url);
  connect(sub, url);
  raw_counter c;
  natsSubscription* out = nullptr;
  natsSubscription* in = nullptr;
  check(natsConnection_Subscribe(&out, sub.c, "bench.relay.out", raw_on_msg, &c), "subscribe");
  check(natsConnection_Subscribe(&in, relay.c, "bench.relay.in", relay_on_msg, nullptr),
        "subscribe");
  natsSubscription_SetPendingLimits(out, -1, -1);
  natsSubscription_SetPendingLimits(in, -1, -1);
  check(natsConnection_Flush(sub.c), "flush");
  check(natsConnection_Flush(relay.c), "flush");
  const rate_run r = received_rate(c, n, flood(pub.c, "bench.relay.in", n, size), 20s);
  natsSubscription_Unsubscribe(in);
  natsSubscription_Destroy(in);
  natsSubscription_Unsubscribe(out);
  natsSubscription_Destroy(out);
  return r;
}

// The same through ccp's NATS bus (net::open_bus) as the daemons open it: publish appends to
// libnats' buffer and a strand of `ioc` writes it; each received message is copied and
// handed to an executor in batches. Such a publish never blocks: past 8 MiB unwritten it
// drops frames, so the flood keeps at most `window` frames unreceived (about 2 MiB).
rate_run ccp_bus_once(asio::io_context& ioc, const std::string& url, std::size_t n,
                      std::size_t size) {
  net::bus_options po, so;
  po.name = "ccp_e2e_bench bus pub";
  so.name = "ccp_e2e_bench bus sub";
  po.io_executor = so.io_executor = ioc.get_executor();
  auto pub = net::open_bus(url, po);
  auto sub = net::open_bus(url, so);
  if (!pub || !sub) throw std::runtime_error(!pub ? pub.error() : sub.error());
  auto c = std::make_shared<raw_counter>();
  auto id = (*sub)->subscribe(
      "bench.bus", "", ioc.get_executor(), [c](std::string_view, core::frame_buf) {
        c->got.fetch_add(1, std::memory_order_relaxed);
        c->last_ns.store(steady::now().time_since_epoch().count(), std::memory_order_relaxed);
      });
  if (!id) throw std::runtime_error(id.error());
  std::this_thread::sleep_for(50ms);  // the bus has no flush: let the SUB reach the server
  auto frame = std::make_shared<const std::string>(size, 'x');
  constexpr std::uint64_t window = 10'000;
  const auto t0 = steady::now();
  const auto give_up = t0 + 10s;
  for (std::size_t i = 0; i < n; ++i) {
    while (i - c->got.load(std::memory_order_relaxed) >= window && steady::now() < give_up)
      std::this_thread::yield();
    (*pub)->publish("bench.bus", frame);
  }
  const rate_run r = received_rate(*c, n, t0, 10s);
  (*sub)->unsubscribe(*id);
  return r;
}

// Warm-up, then three runs sized to about seconds/3 each; the median rate.
template <class Once>
std::pair<double, rate_run> repeated(Once once, double seconds, std::size_t warm) {
  const rate_run w = once(warm);
  const auto n = static_cast<std::size_t>(
      std::max(static_cast<double>(warm), w.rate * std::max(0.05, seconds / 3)));
  std::vector<double> rates;
  rate_run last;
  for (int i = 0; i < 3; ++i) {
    last = once(n);
    rates.push_back(last.rate);
  }
  return {median(rates), last};
}

// ------------------------------------------------------------------------------------------
// The chain: mgmt, proxy, agent, endpoint; NATS backbone; host bus NATS or in-process.

struct pacer;

struct chain {
  std::shared_ptr<net::mgmt_service> mgmt;
  std::shared_ptr<net::proxy_service> proxy;
  std::shared_ptr<net::agent_service> agent;
  std::shared_ptr<net::endpoint_service> endpoint;
  core::address target;
  core::address self;
  std::atomic<std::uint64_t> delivered{0};   // bench notifications at the endpoint
  std::atomic<std::uint64_t> refused{0};     // error messages back at mgmt (any code)
  std::atomic<std::uint64_t> overloaded{0};  // of which overloaded
  std::atomic<pacer*> sender{nullptr};

  void on_done();
  void shutdown() {
    if (agent) agent->shutdown();
    if (endpoint) endpoint->shutdown();
    if (proxy) proxy->stop();
    if (mgmt) mgmt->shutdown();
  }
};

// Sends notifications on the mgmt strand, keeping at most `window` unanswered
// (sent - delivered - refused). It parks when the window is full; deliveries wake it.
struct pacer : std::enable_shared_from_this<pacer> {
  chain& c;
  std::size_t window;
  std::string body;
  std::atomic<std::uint64_t> sent{0};
  std::uint64_t send_errors = 0;  // mgmt strand
  std::atomic<bool> parked{false};
  std::atomic<bool> stopping{false};

  pacer(chain& ch, std::size_t w, std::string b) : c(ch), window(w), body(std::move(b)) {}

  [[nodiscard]] std::uint64_t inflight() const {
    const std::uint64_t done = c.delivered.load() + c.refused.load();
    const std::uint64_t s = sent.load();
    return s > done ? s - done : 0;
  }
  void kick() {
    c.mgmt->post(
        [self = shared_from_this()](core::mgmt& m, core::micros now) { self->pump(m, now); });
  }
  void pump(core::mgmt& m, core::micros now) {
    if (stopping.load()) return;
    const std::uint64_t in = inflight();
    if (in >= window) {
      parked.store(true);
      // A delivery between the check and the store would not have seen the flag.
      if (inflight() < window / 2 && parked.exchange(false)) kick();
      return;
    }
    const std::size_t n = std::min<std::uint64_t>(send_batch, window - in);
    for (std::size_t i = 0; i < n; ++i) {
      auto r = m.send(c.target, "bench", body, now);
      if (r) {
        sent.fetch_add(1, std::memory_order_relaxed);
      } else {
        ++send_errors;
      }
    }
    kick();  // yield the strand, then continue
  }
  // From a delivery or a refusal, on any strand.
  void on_done() {
    if (parked.load(std::memory_order_relaxed) && inflight() < window / 2 && parked.exchange(false))
      kick();
  }
};

void chain::on_done() {
  if (pacer* p = sender.load(std::memory_order_acquire)) p->on_done();
}

std::unique_ptr<chain> start_chain(asio::io_context& ioc, const std::string& nats,
                                   const std::string& host_bus, const std::string& host) {
  auto c = std::make_unique<chain>();
  chain* raw = c.get();
  c->self = addr("ccp://mgmt/127.0.0.1/bench-" + host);
  c->target = addr("ccp://endpoint/" + host + "/e1");

  net::mgmt_options mo;
  mo.self = c->self;
  mo.backbone = nats;
  mo.on_message = [raw](const core::message& m) {
    if (m.kind != core::msg_kind::error) return;
    raw->refused.fetch_add(1, std::memory_order_relaxed);
    if (m.code == core::errc::overloaded) raw->overloaded.fetch_add(1, std::memory_order_relaxed);
    raw->on_done();
  };
  auto mg = net::mgmt_service::start(ioc, std::move(mo));
  if (!mg) throw std::runtime_error("mgmt: " + mg.error());
  c->mgmt = *mg;

  net::proxy_options po;
  po.self = addr("ccp://proxy/127.0.1.1/p-" + host);
  po.listen = {asio::ip::make_address("127.0.0.1"), 0};
  po.backbone = nats;
  auto px = net::proxy_service::start(ioc, std::move(po));
  if (!px) throw std::runtime_error("proxy: " + px.error());
  c->proxy = *px;

  net::endpoint_options eo;
  eo.self = c->target;
  eo.host_bus = host_bus;
  eo.answers["bench"] = "{}";  // handled: notifications of an unhandled type are dropped
  eo.on_message = [raw](const core::message& m) {
    if (m.kind != core::msg_kind::notification) return;
    raw->delivered.fetch_add(1, std::memory_order_relaxed);
    raw->on_done();
  };
  auto ep = net::endpoint_service::start(ioc, std::move(eo));
  if (!ep) throw std::runtime_error("endpoint: " + ep.error());
  c->endpoint = *ep;

  net::agent_options ao;
  ao.self = addr("ccp://agent/" + host + "/agent");
  ao.proxies = {"ws://127.0.0.1:" + std::to_string(c->proxy->port()) + "/"};
  ao.host_bus = host_bus;
  auto ag = net::agent_service::start(ioc, std::move(ao));
  if (!ag) throw std::runtime_error("agent: " + ag.error());
  c->agent = *ag;

  std::promise<void> ready;
  c->mgmt->when_ready([&ready] { ready.set_value(); });
  if (ready.get_future().wait_for(10s) != std::future_status::ready)
    throw std::runtime_error("mgmt never became ready");
  // The endpoint answers once it registered with the agent and the agent's route reached
  // mgmt's directory.
  const auto until = steady::now() + 15s;
  while (true) {
    std::promise<core::errc> p;
    auto f = p.get_future();
    c->mgmt->request(c->target, "ping", "{}", 500 * core::ms,
                     [&p](core::act::complete& done) { p.set_value(done.code); });
    if (f.wait_for(2s) == std::future_status::ready && f.get() == core::errc{}) break;
    if (steady::now() >= until) throw std::runtime_error("the endpoint never answered a ping");
    std::this_thread::sleep_for(100ms);
  }
  return c;
}

// A body that makes the notification frame exactly `frame_bytes` long (when possible).
std::string body_for(const chain& c, std::size_t frame_bytes) {
  core::message m;
  m.id = 1;
  m.kind = core::msg_kind::notification;
  m.from = c.self;
  m.to = c.target;
  m.type = "bench";
  m.body = R"({"p":""})";
  const std::size_t base = core::encoded_size(m);
  if (frame_bytes > base) m.body.insert(6, frame_bytes - base, 'x');
  return m.body;
}

// CPU time (user + system) this process has used so far, in seconds.
double process_cpu_seconds() {
  rusage u{};
  (void)::getrusage(RUSAGE_SELF, &u);
  auto sec = [](const timeval& t) {
    return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) / 1e6;
  };
  return sec(u.ru_utime) + sec(u.ru_stime);
}

struct chain_result {
  double median_rate = NAN, mean_rate = NAN;
  // CPU of this process (every role and its libnats threads; not nats-server) per
  // notification delivered during the measured slices: steadier than a rate on a shared
  // machine, for comparing builds.
  double cpu_us_per_msg = NAN;
  std::uint64_t sent = 0, delivered = 0, refused = 0, overloaded = 0, send_errors = 0;
  std::uint64_t bus_dropped = 0;
};

chain_result run_notifications(chain& c, const options& o) {
  auto p = std::make_shared<pacer>(c, o.window, body_for(c, o.frame_bytes));
  c.sender.store(p.get(), std::memory_order_release);
  const std::uint64_t d0 = c.delivered.load(), r0 = c.refused.load(), o0 = c.overloaded.load();
  p->kick();
  std::this_thread::sleep_for(std::chrono::duration<double>(std::min(1.0, o.seconds / 3)));
  constexpr int slices = 5;
  const auto slice = std::chrono::duration<double>(o.seconds / slices);
  std::vector<double> rates;
  const auto t_start = steady::now();
  const double cpu_start = process_cpu_seconds();
  const std::uint64_t start = c.delivered.load();
  std::uint64_t prev = start;
  auto t_prev = t_start;
  for (int i = 0; i < slices; ++i) {
    std::this_thread::sleep_for(slice);
    const auto t = steady::now();
    const std::uint64_t d = c.delivered.load();
    rates.push_back(static_cast<double>(d - prev) / secs(t - t_prev));
    prev = d;
    t_prev = t;
  }
  chain_result r;
  r.mean_rate = static_cast<double>(prev - start) / secs(t_prev - t_start);
  r.median_rate = median(rates);
  if (prev > start)
    r.cpu_us_per_msg =
        (process_cpu_seconds() - cpu_start) * 1e6 / static_cast<double>(prev - start);
  p->stopping.store(true);
  // Let what is in flight arrive (or come back refused), bounded.
  const auto until = steady::now() + 3s;
  while (p->inflight() > 0 && steady::now() < until)
    std::this_thread::sleep_for(5ms);
  c.sender.store(nullptr, std::memory_order_release);
  std::this_thread::sleep_for(20ms);  // a wake-up already posted finds `stopping`
  r.sent = p->sent.load();
  r.delivered = c.delivered.load() - d0;
  r.refused = c.refused.load() - r0;
  r.overloaded = c.overloaded.load() - o0;
  r.send_errors = query(*c.mgmt, [&p](core::mgmt&) { return p->send_errors; });
  return r;
}

// ------------------------------------------------------------------------------------------
// Requests: sequential latency and 64 in flight.

struct request_result {
  double p50_ms = NAN, p99_ms = NAN, max_ms = NAN;
  std::size_t ok = 0, failed = 0;
  double conc_rate = NAN, conc_p50_ms = NAN, conc_p99_ms = NAN;
  std::size_t conc_ok = 0, conc_failed = 0;
};

// Issues requests one after another, each from the previous one's completion (on the mgmt
// strand); with `lanes` > 1, that many such chains run at once until `deadline`.
struct requester : std::enable_shared_from_this<requester> {
  chain& c;
  std::string body;
  std::size_t remaining;  // sequential mode: requests left (all lanes share it)
  steady::time_point deadline;
  std::vector<double> lat_ms;  // mgmt strand
  std::size_t ok = 0, failed = 0;
  std::size_t lanes_open = 0;
  std::promise<void> done;

  requester(chain& ch, std::string b, std::size_t n, steady::time_point d)
      : c(ch), body(std::move(b)), remaining(n), deadline(d) {}

  void start(std::size_t lanes) {
    lanes_open = lanes;
    for (std::size_t i = 0; i < lanes; ++i)
      next();
  }
  void next() {
    if (remaining == 0 || steady::now() >= deadline) {
      // Runs on the caller's thread for the first requests, on the strand afterwards; the
      // lane count is only touched from the strand once requests are in flight.
      if (--lanes_open == 0) done.set_value();
      return;
    }
    --remaining;
    const auto t0 = steady::now();
    c.mgmt->request(c.target, "echo", body, 2 * core::seconds,
                    [self = shared_from_this(), t0](core::act::complete& r) {
                      self->lat_ms.push_back(
                          std::chrono::duration<double, std::milli>(steady::now() - t0).count());
                      if (r.code == core::errc{}) {
                        ++self->ok;
                      } else {
                        ++self->failed;
                      }
                      self->next();
                    });
  }
};

request_result run_requests(chain& c, const options& o) {
  request_result r;
  const std::string body = body_for(c, o.frame_bytes);
  const auto far = steady::now() + 1h;
  {  // warm-up
    auto w =
        std::make_shared<requester>(c, body, std::max<std::size_t>(50, o.sequential / 10), far);
    auto f = w->done.get_future();
    w->start(1);
    f.wait_for(30s);
  }
  {
    auto s = std::make_shared<requester>(c, body, o.sequential, far);
    auto f = s->done.get_future();
    s->start(1);
    if (f.wait_for(120s) != std::future_status::ready) throw std::runtime_error("requests hung");
    r.p50_ms = percentile(s->lat_ms, 50);
    r.p99_ms = percentile(s->lat_ms, 99);
    r.max_ms = percentile(s->lat_ms, 100);
    r.ok = s->ok;
    r.failed = s->failed;
  }
  {
    const auto t0 = steady::now();
    auto s = std::make_shared<requester>(c, body, SIZE_MAX,
                                         t0 + std::chrono::duration_cast<steady::duration>(
                                                  std::chrono::duration<double>(o.seconds)));
    auto f = s->done.get_future();
    // Start every lane on the strand so that lanes_open is only touched there.
    asio::post(c.mgmt->executor(), [s] { s->start(concurrent_requests); });
    if (f.wait_for(std::chrono::duration<double>(o.seconds) + 30s) != std::future_status::ready)
      throw std::runtime_error("concurrent requests hung");
    const double elapsed = secs(steady::now() - t0);
    r.conc_ok = s->ok;
    r.conc_failed = s->failed;
    r.conc_rate = static_cast<double>(s->ok) / elapsed;
    r.conc_p50_ms = percentile(s->lat_ms, 50);
    r.conc_p99_ms = percentile(s->lat_ms, 99);
  }
  return r;
}

// ------------------------------------------------------------------------------------------
// Idle connections: the proxy here, the agents in a child process.

struct mem_sample {
  double rss_bytes = 0;
  double heap_bytes = 0;  // allocated and in use, as the allocator counts it
};

// The allocator linked in (CMake's CCP_ALLOCATOR): bytes in use, and handing free memory
// back to the system, so that RSS shows what the connections hold.
double heap_in_use() {
#if defined(CCP_TCMALLOC)
  std::size_t v = 0;
  MallocExtension_GetNumericProperty("generic.current_allocated_bytes", &v);
  return static_cast<double>(v);
#else
  const struct mallinfo2 mi = ::mallinfo2();
  return static_cast<double>(mi.uordblks + mi.hblkhd);
#endif
}

void release_free_memory() {
#if defined(CCP_TCMALLOC)
  MallocExtension_ReleaseFreeMemory();
#else
  ::malloc_trim(0);
#endif
}

mem_sample memory_now() {
  mem_sample m;
  if (FILE* f = std::fopen("/proc/self/statm", "r")) {
    unsigned long size = 0, resident = 0;
    if (std::fscanf(f, "%lu %lu", &size, &resident) == 2)
      m.rss_bytes = static_cast<double>(resident) * static_cast<double>(::sysconf(_SC_PAGESIZE));
    std::fclose(f);
  }
  m.heap_bytes = heap_in_use();
  return m;
}

std::size_t open_fds() {
  std::size_t n = 0;
  for (int fd = 0; fd < 65536; ++fd)  // bounded by the limit we raised to
    if (::fcntl(fd, F_GETFD) != -1) ++n;
  return n;
}

std::size_t count_threads() {
  std::size_t n = 0;
  if (FILE* f = std::fopen("/proc/self/status", "r")) {
    char line[256];
    while (std::fgets(line, sizeof line, f) != nullptr)
      if (std::sscanf(line, "Threads: %zu", &n) == 1) break;
    std::fclose(f);
  }
  return n;
}

struct idle_result {
  std::size_t requested = 0, attempted = 0, attached = 0, best = 0, links = 0, threads = 0;
  bool stalled = false;  // the proxy's strand did not answer a query within 10 s
  double rss_per_conn = NAN, heap_per_conn = NAN, trimmed_rss_per_conn = NAN;
  double ramp_seconds = NAN;
  rlim_t fd_limit = 0;
  std::size_t fds = 0;
};

idle_result run_idle(asio::io_context& ioc, const std::string& nats, const options& o,
                     const std::string& self_exe) {
  idle_result r;
  r.requested = o.connections;
  r.fd_limit = raise_fd_limit();
  r.attempted = std::min<std::size_t>(o.connections, r.fd_limit - spare_fds);

  net::proxy_options po;
  po.self = addr("ccp://proxy/127.0.1.9/idle");
  po.listen = {asio::ip::make_address("127.0.0.1"), 0};
  po.backbone = nats;
  auto px = net::proxy_service::start(ioc, std::move(po));
  if (!px) throw std::runtime_error("idle proxy: " + px.error());
  auto proxy = *px;
  // The proxy's strand may fall seconds behind under the ramp: every query is bounded.
  auto attached = [&]() -> std::optional<std::size_t> {
    return query_within(
        proxy, [](core::proxy& p) { return p.attached(); }, std::chrono::seconds(10));
  };
  std::this_thread::sleep_for(300ms);  // started: subscriptions, first heartbeat
  release_free_memory();
  const mem_sample before = memory_now();

  const std::string url = "ws://127.0.0.1:" + std::to_string(proxy->port()) + "/";
  const auto t0 = steady::now();
  // Dies with this process's thread if the run crashes: nothing outlives it.
  ccp::testkit::spawn_options child;
  child.parent_death_signal = SIGTERM;
  ccp::testkit::process agents({self_exe, "--agents-child", url, std::to_string(r.attempted)},
                               std::move(child));
  std::size_t best = 0;
  auto last_growth = steady::now();
  const auto bound = steady::now() + std::max(20s, std::chrono::seconds(r.attempted / 200));
  while (steady::now() < bound) {
    std::this_thread::sleep_for(200ms);
    const auto q = attached();
    if (!q) {
      r.stalled = true;
      break;
    }
    const std::size_t n = *q;
    if (o.verbose)
      std::fprintf(stderr, "idle: %.1fs %zu attached, child %s\n", secs(steady::now() - t0), n,
                   agents.running() ? "running" : "exited");
    if (n > best) {
      best = n;
      last_growth = steady::now();
      r.ramp_seconds = secs(last_growth - t0);
    }
    if (n >= r.attempted || steady::now() - last_growth > idle_plateau || !agents.running()) break;
  }
  std::this_thread::sleep_for(1500ms);  // a few heartbeats: buffers reach their idle size
  const mem_sample after = memory_now();
  // Free memory the allocator kept from the ramp (HTTP upgrade buffers, coroutine frames)
  // is in RSS but not in use: the trimmed figure is what the connections hold.
  release_free_memory();
  const mem_sample trimmed = memory_now();
  r.attached = attached().value_or(0);
  r.best = best;
  r.links = query_within(
                proxy, [h = proxy->host().get()](core::proxy&) { return h->link_count(); },
                std::chrono::seconds(10))
                .value_or(0);
  r.threads = count_threads();
  r.fds = open_fds();
  if (r.attached > 0) {
    r.rss_per_conn = (after.rss_bytes - before.rss_bytes) / static_cast<double>(r.attached);
    r.heap_per_conn = (after.heap_bytes - before.heap_bytes) / static_cast<double>(r.attached);
    r.trimmed_rss_per_conn =
        (trimmed.rss_bytes - before.rss_bytes) / static_cast<double>(r.attached);
  }
  // No teardown of the proxy: with one libnats subscription per attached host, stopping it
  // unsubscribes thousands of them one by one on its strand. The run ends with _Exit.
  agents.stop(5s);
  return r;
}

// The child: `attempt` agents dialling `url`, each a full agent_service on an in-process host
// bus (its heartbeats and pings are the idle traffic). Runs until killed.
int agents_child(const std::string& url, std::size_t n) {
  raise_fd_limit();
  runtime rt(1);
  std::vector<std::shared_ptr<net::agent_service>> agents;
  agents.reserve(n);
  for (std::size_t i = 0; i < n; ++i) {
    net::agent_options ao;
    const std::size_t k = i + 1;
    ao.self = addr("ccp://agent/10.1." + std::to_string(k / 256) + "." + std::to_string(k % 256) +
                   "/agent");
    ao.proxies = {url};
    ao.host_bus = "inproc://idle-hosts";
    ao.seed = 7 + i;
    auto a = net::agent_service::start(rt.ioc, std::move(ao));
    if (!a) {
      std::fprintf(stderr, "agents child: %s\n", a.error().c_str());
      return 1;
    }
    agents.push_back(*a);
    if (k % agents_per_step == 0) std::this_thread::sleep_for(agent_step);
  }
  while (true)
    std::this_thread::sleep_for(1h);
}

// ------------------------------------------------------------------------------------------
// The run: every phase asked for, then the report

// `nats-server -a 127.0.0.1 -p <free port>`, stopped at exit (testkit/nats_server.hpp).
std::unique_ptr<ccp::testkit::nats_server> start_nats_server() {
  try {
    return std::make_unique<ccp::testkit::nats_server>();
  } catch (const std::exception& e) {
    throw std::runtime_error(std::string(e.what()) + "; install it or pass --nats URL");
  }
}

std::string verdict(bool pass) {
  return pass ? "PASS" : "MISS";
}

std::string fmt(const char* f, double v) {
  char buf[128];
  std::snprintf(buf, sizeof buf, f, v);
  return buf;
}

int run(const options& o, const std::string& self_exe) {
  std::unique_ptr<ccp::testkit::nats_server> server;
  std::string url = o.nats;
  if (url.empty()) {
    server = start_nats_server();
    url = server->url();
  }
  report rep;
  int status = 0;
  auto failed = [&](const std::string& phase, const std::exception& e) {
    rep.notes.push_back(phase + " phase failed: " + e.what());
    status = 1;
  };
  runtime rt;

  double raw = NAN;
  double relay = NAN;
  if (has_phase(o, "raw") || has_phase(o, "chain")) {
    try {
      const std::size_t warm = o.quick ? 20'000 : 100'000;
      auto [rate, last] = repeated(
          [&](std::size_t n) { return raw_nats_once(url, n, o.frame_bytes); }, o.seconds, warm);
      raw = rate;
      rep.add({"raw_nats_msgs_per_s", "raw NATS pub->sub (libnats defaults)", raw, "msg/s",
               "baseline (issue: ~1M on the dev box)", ""});
      if (last.received < last.sent)
        rep.notes.push_back("raw: the subscriber got " + std::to_string(last.received) + " of " +
                            std::to_string(last.sent) + " in the last run");
      auto [bus_rate, bus_last] =
          repeated([&](std::size_t n) { return ccp_bus_once(rt.ioc, url, n, o.frame_bytes); },
                   o.seconds, warm / 2);
      rep.add({"ccp_bus_msgs_per_s", "ccp NATS bus pub->sub (as the daemons)", bus_rate, "msg/s",
               fmt("%.2f of raw", bus_rate / raw), ""});
      if (bus_last.received < bus_last.sent)
        rep.notes.push_back("bus: the subscriber got " + std::to_string(bus_last.received) +
                            " of " + std::to_string(bus_last.sent) + " in the last run");
      auto [relay_rate, relay_last] =
          repeated([&](std::size_t n) { return relay_nats_once(url, n, o.frame_bytes); }, o.seconds,
                   warm / 2);
      relay = relay_rate;
      rep.add({"relay_nats_msgs_per_s", "raw NATS relay, 2 hops (libnats only)", relay, "msg/s",
               fmt("%.2f of raw", relay / raw), ""});
      if (relay_last.received < relay_last.sent)
        rep.notes.push_back("relay: the subscriber got " + std::to_string(relay_last.received) +
                            " of " + std::to_string(relay_last.sent) + " in the last run");
    } catch (const std::exception& e) {
      failed("raw", e);
    }
  }

  std::size_t n_bus = 0;
  for (const auto& hb : o.host_buses) {
    if (!has_phase(o, "chain") && !has_phase(o, "req")) break;
    const std::string host_bus = hb == "nats" ? url : "inproc://e2e-hosts";
    const std::string host = "10.0.0." + std::to_string(++n_bus);
    std::unique_ptr<chain> c;
    try {
      c = start_chain(rt.ioc, url, host_bus, host);
      if (has_phase(o, "chain")) {
        const chain_result r = run_notifications(*c, o);
        const double ratio = r.median_rate / raw;
        rep.add({"chain_" + hb + "_msgs_per_s", "chain notifications/s (host bus " + hb + ")",
                 r.median_rate, "msg/s", "raw " + human(raw) + " msg/s", ""});
        rep.add({"chain_" + hb + "_ratio", "  ratio chain/raw (host bus " + hb + ")", ratio, "",
                 fmt("target >= %.2f", target_chain_ratio),
                 std::isnan(ratio) ? "" : verdict(ratio >= target_chain_ratio)});
        rep.add({"chain_" + hb + "_relay_ratio", "  ratio chain/relay (host bus " + hb + ")",
                 r.median_rate / relay, "", "the libnats 2-hop relay above", ""});
        rep.add({"chain_" + hb + "_cpu_us_per_msg", "  CPU per notification (host bus " + hb + ")",
                 r.cpu_us_per_msg, "us", "this process: all roles, not nats-server", ""});
        rep.notes.push_back(
            "chain (" + hb + "): window " + std::to_string(o.window) + ", " +
            std::to_string(r.sent) + " sent, " + std::to_string(r.delivered) + " delivered, " +
            std::to_string(r.refused) + " refused (" + std::to_string(r.overloaded) +
            " overloaded), " + std::to_string(r.send_errors) + " send errors; mean " +
            human(r.mean_rate) + " msg/s, median of 5 slices " + human(r.median_rate));
      }
      if (has_phase(o, "req")) {
        const request_result r = run_requests(*c, o);
        rep.add({"req_" + hb + "_p50_ms", "request p50 sequential (host bus " + hb + ")", r.p50_ms,
                 "ms", fmt("target <= %.1f ms", target_p50_ms),
                 verdict(r.p50_ms <= target_p50_ms)});
        rep.add({"req_" + hb + "_p99_ms", "request p99 sequential (host bus " + hb + ")", r.p99_ms,
                 "ms", "(informational)", ""});
        rep.add({"req_" + hb + "_conc64_per_s", "requests/s, 64 in flight (host bus " + hb + ")",
                 r.conc_rate, "req/s",
                 fmt("p50 %.2f ms", r.conc_p50_ms) + fmt(", p99 %.2f ms", r.conc_p99_ms), ""});
        rep.notes.push_back("req (" + hb + "): sequential " + std::to_string(r.ok) + " ok, " +
                            std::to_string(r.failed) + " failed, max " + fmt("%.2f ms", r.max_ms) +
                            "; 64 in flight " + std::to_string(r.conc_ok) + " ok, " +
                            std::to_string(r.conc_failed) + " failed");
      }
    } catch (const std::exception& e) {
      failed("chain/req (" + hb + ")", e);
    }
    if (c) {
      c->shutdown();
      std::this_thread::sleep_for(200ms);
    }
  }
  // Idle last: its proxy is left as it is (see run_idle). Releasing free memory before its
  // baseline hands the other phases' freed memory back, so that reusing it does not hide growth.
  if (has_phase(o, "idle")) {
    try {
      const idle_result r = run_idle(rt.ioc, url, o, self_exe);
      rep.add({"idle_connections", "idle agent connections on one proxy",
               static_cast<double>(r.attached), "conns",
               "target >= " + std::to_string(target_connections),
               verdict(r.attached >= target_connections)});
      const double kib = r.rss_per_conn / 1024, heap_kib = r.heap_per_conn / 1024;
      const double trimmed_kib = r.trimmed_rss_per_conn / 1024;
      rep.add({"proxy_kib_per_conn_rss", "proxy RSS per idle connection", kib, "KiB",
               fmt("target <= %.0f KiB", target_kib_per_conn),
               verdict(kib <= target_kib_per_conn)});
      rep.add({"proxy_kib_per_conn_rss_trimmed", "  the same after releasing free memory",
               trimmed_kib, "KiB", fmt("target <= %.0f KiB", target_kib_per_conn),
               verdict(trimmed_kib <= target_kib_per_conn)});
      rep.add({"proxy_kib_per_conn_heap", "proxy heap in use per idle connection", heap_kib, "KiB",
               "(allocator's count, informational)", ""});
      rep.add({"idle_ramp_seconds", "time until the last agent attached", r.ramp_seconds, "s",
               "(informational)", ""});
      rep.notes.push_back("idle: asked " + std::to_string(r.requested) + ", tried " +
                          std::to_string(r.attempted) + " (fd limit " + std::to_string(r.fd_limit) +
                          "), " + std::to_string(r.attached) + " attached at the end (" +
                          std::to_string(r.best) + " at best), " + std::to_string(r.links) +
                          " links, " + std::to_string(r.fds) + " fds and " +
                          std::to_string(r.threads) + " threads in the proxy process" +
                          (r.stalled ? " (its strand stopped answering queries)" : "") +
                          "; agents run in a child process; "
                          "kernel socket buffers are not in RSS");
    } catch (const std::exception& e) {
      failed("idle", e);
    }
  }

  print(rep, o, url);
  std::fflush(stdout);
  // Skip the teardown (see run_idle): stop the server we started and leave.
  if (server) server->stop();
  std::_Exit(status);
}

}  // namespace

int main(int argc, char** argv) {
  try {
    // Warnings only: 10,000 agents attaching would otherwise log 20,000 info lines.
    (void)ccp::net::configure_log({ccp::net::log_level::warn, ccp::net::log_format::text, {}});
    if (argc == 4 && std::string(argv[1]) == "--agents-child")
      return agents_child(argv[2], static_cast<std::size_t>(std::stoul(argv[3])));
    const options o = parse_options(argc, argv);
    // Re-executed for the agents' child: /proc/self/exe names this binary whatever argv[0] is.
    char exe[4096] = {};
    const ssize_t len = ::readlink("/proc/self/exe", exe, sizeof exe - 1);
    const std::string self = len > 0 ? std::string(exe, static_cast<std::size_t>(len)) : argv[0];
    ::signal(SIGPIPE, SIG_IGN);
    return run(o, self);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "ccp_e2e_bench: %s\n", e.what());
    return 1;
  }
}
