// Micro-benchmarks of the routing core's forwarding paths, on real role instances driven
// through their handshakes by hand, each reported next to baselines measured in the same
// run (STYLE.md rule 14):
//   - BM_CopyFrame200: one copy of the 200-byte frame into a preallocated string, the
//     floor of any per-hop work; forwarding should cost at most 10 of it.
//   - BM_JsonParseEnvelope: nlohmann::json::parse of the same envelope as JSON text, what
//     a text protocol would pay per hop; it should cost at least 20 forwardings.
// One iteration of a forwarding benchmark is what a host does per received frame: hand
// the role the frame, then execute (here: drop) and clear its actions. The host's
// buffer is reused and its hop byte reset each iteration: a real host receives a fresh
// buffer from its socket anyway, and the hop count must not reach max_hops.
// Every benchmark reports `allocs_per_iter` (bench/alloc_counter.hpp); the fan-out ones
// report items as targets, so a flat ns/item over 10, 100, 1000 agents is linear growth.
// bench/routing_ratios.py runs this binary with repetitions and prints the ratios.

#include <benchmark/benchmark.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <expected>
#include <memory>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include <nlohmann/json.hpp>

#include "bench/alloc_counter.hpp"
#include "core/action.hpp"
#include "core/address.hpp"
#include "core/agent.hpp"
#include "core/message.hpp"
#include "core/proxy.hpp"
#include "core/subject.hpp"
#include "text/message_json.hpp"

namespace {

using namespace ccp;
using bench::alloc_meter;
using core::address;
using core::link_id;
using core::micros;
using core::msg_kind;
using core::role;

[[noreturn]] void die(const char* what) {
  std::fprintf(stderr, "routing_bench setup: %s\n", what);
  std::abort();
}

address must(std::expected<address, core::parse_error> a) {
  if (!a) die("fixture address does not parse");
  return *std::move(a);
}

// ---------------------------------------------------------------------------------------
// Frames.

// Every forwarded frame is exactly this long: a realistic small request.
constexpr std::size_t frame_bytes = 200;
// The clock of every call; no timer runs during a benchmark (tick is never called).
constexpr micros t0 = 1'000'000;
// The host tells the role it wrote its link frames every this many iterations, well below
// link_queue_frames, so no queue fills and no send turns into an `overloaded` bounce.
constexpr std::size_t flush_every = 512;
static_assert(flush_every < core::link_queue_frames);

constexpr std::string_view mgmt_text = "ccp://mgmt/10.0.0.1/m1";
constexpr std::string_view proxy_host = "10.0.0.1";

// Agent i of a proxy fixture lives on host 10.7.A.B; agent 0 is the one single-target
// benchmarks use, and the agent fixture sits on the same host.
std::string agent_host(std::size_t i) {
  return "10.7." + std::to_string(i / 250) + "." + std::to_string(i % 250 + 1);
}

// A request from `from` to `to`, its body padded so that the frame is frame_bytes long.
core::message request(std::string_view from, std::string_view to) {
  core::message m;
  m.id = 0x1234'5678'9abcULL;
  m.kind = msg_kind::request;
  m.from = must(address::parse(from));
  m.to = must(address::parse(to));
  m.type = "config.get";
  m.ttl_ms = 5000;
  auto body = [](std::size_t pad) {
    return R"({"keys":["db.pool_size","db.timeout_ms"],"rev":42,"pad":")" + std::string(pad, 'x') +
           R"("})";
  };
  m.body = body(0);
  std::size_t bare = core::encoded_size(m);
  if (bare > frame_bytes) die("fixture request is longer than frame_bytes without padding");
  m.body = body(frame_bytes - bare);
  return m;
}

// The frame of `m`, checked: a benchmark of a frame that does not read would measure an
// error path.
std::string frame_of(const core::message& m) {
  auto f = core::encode(m);
  if (!f) die("fixture message does not encode");
  if (!core::read_header(*f)) die("fixture frame does not read back");
  return *std::move(f);
}

core::frame_buf buffer_of(const core::message& m) {
  return std::make_shared<std::string>(frame_of(m));
}

// The host's side of a call: takes the actions, checks there is exactly one, of type A.
template <class A>
A take_one(std::vector<core::action>& acts, const char* what) {
  if (acts.size() != 1 || !std::holds_alternative<A>(acts.front())) die(what);
  A a = std::get<A>(std::move(acts.front()));
  acts.clear();
  return a;
}

// ---------------------------------------------------------------------------------------
// A proxy with n attached agents, agent i on agent_host(i) with link 100 + i and the one
// endpoint "e1", each attached by its own ccp.hello and answered with a welcome.
class proxy_fixture {
 public:
  explicit proxy_fixture(std::size_t n)
      : proxy_(must(address::one(role::proxy, proxy_host, "p1")), 7, verifier_) {
    proxy_.start(t0);
    proxy_.actions().clear();  // backbone subscriptions
    for (std::size_t i = 0; i < n; ++i)
      attach(i);
    if (proxy_.attached() != n) die("proxy did not attach every agent");
  }

  core::proxy& proxy_role() { return proxy_; }
  [[nodiscard]] const std::vector<link_id>& links() const { return links_; }

  // The host wrote everything queued on every link.
  void flush(std::size_t frames) {
    for (link_id l : links_)
      proxy_.on_link_flushed(l, frames);
  }

 private:
  void attach(std::size_t i) {
    const link_id link = 100 + i;
    const std::string host = agent_host(i);
    core::message hello;
    hello.id = 1;
    hello.kind = msg_kind::request;
    hello.from = must(address::one(role::agent, host, "agent"));
    hello.to = address::group(role::proxy, core::scope::any);
    hello.type = "ccp.hello";
    hello.ttl_ms = 5000;
    hello.body = R"({"epoch":1,"token":"secret","endpoints":["e1"]})";
    proxy_.on_link_up(link, t0);
    proxy_.on_link_frame(link, buffer_of(hello), t0);
    if (!proxy_.holds(host)) die("proxy rejected a hello");
    // The welcome is the last action: a send on the link of a response to the hello.
    auto& acts = proxy_.actions();
    const auto* w = acts.empty() ? nullptr : std::get_if<core::act::send>(&acts.back());
    if (!w || w->link != link) die("proxy sent no welcome");
    auto h = core::read_header(*w->frame);
    if (!h || h->kind != msg_kind::response || h->correlation != hello.id)
      die("proxy's welcome does not answer the hello");
    acts.clear();
    proxy_.on_link_flushed(link, 1);
    links_.push_back(link);
  }

  core::shared_secret_verifier verifier_{"secret"};
  core::proxy proxy_;
  std::vector<link_id> links_;
};

// An agent on agent_host(0), its link up and welcomed by ccp://proxy/10.0.0.1/p1, with
// the endpoints `ids` registered over the host bus.
class agent_fixture {
 public:
  explicit agent_fixture(const std::vector<std::string>& ids) : agent_(config()) {
    agent_.start(t0);
    agent_.actions().clear();  // the inbox subscription
    agent_.tick(t0);
    link_ = take_one<core::act::dial>(agent_.actions(), "agent did not dial").link;
    agent_.on_link_up(link_, t0);
    auto hello_frame = take_one<core::act::send>(agent_.actions(), "agent sent no hello").frame;
    auto hello = core::decode(*hello_frame);
    if (!hello || hello->type != "ccp.hello") die("agent's first frame is not a hello");
    agent_.on_link_flushed(link_, 1);

    core::message welcome;
    welcome.id = 1;
    welcome.kind = msg_kind::response;
    welcome.from = must(address::one(role::proxy, proxy_host, "p1"));
    welcome.to = hello->from;
    welcome.correlation = hello->id;
    welcome.type = "ccp.hello";
    welcome.body = R"({"proxy":"ccp://proxy/10.0.0.1/p1"})";
    agent_.on_link_frame(link_, buffer_of(welcome), t0);
    if (agent_.status() != core::agent::link_status::up) die("agent did not take the welcome");
    agent_.actions().clear();

    for (std::size_t k = 0; k < ids.size(); ++k)
      enroll(ids[k], 1000 + k);
    if (agent_.endpoint_count() != ids.size()) die("agent did not register every endpoint");
  }

  core::agent& agent_role() { return agent_; }
  [[nodiscard]] link_id link() const { return link_; }

 private:
  static core::agent_config config() {
    core::agent_config cfg;
    cfg.self = must(address::one(role::agent, agent_host(0), "agent"));
    cfg.proxies = {"proxy-1"};
    cfg.token = "secret";
    cfg.seed = 11;
    return cfg;
  }

  // What endpoint::send_control sends for ccp.register, as it arrives on the host bus.
  void enroll(const std::string& id, std::uint64_t nonce) {
    core::message m;
    m.id = 1;
    m.kind = msg_kind::request;
    m.from = must(address::one(role::endpoint, agent_host(0), id));
    m.to = must(address::host_group(role::agent, agent_host(0), core::scope::host_any));
    m.type = "ccp.register";
    m.body = R"({"nonce":)" + std::to_string(nonce) + "}";
    agent_.on_bus("ccp.agent", buffer_of(m), t0);
    if (!agent_.has_endpoint(id)) die("agent rejected a registration");
    // The registration reply on the instance subject, then ccp.endpoints on the link.
    agent_.actions().clear();
    agent_.on_link_flushed(link_, 1);
  }

  core::agent agent_;
  link_id link_ = 0;
};

// Counters every forwarding benchmark reports besides its allocations.
void forward_counters(benchmark::State& state, std::size_t targets) {
  state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(targets));
  state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(frame_bytes));
  state.counters["frame_bytes"] = static_cast<double>(frame_bytes);
  state.counters["targets"] = static_cast<double>(targets);
}

// After the timed loop: nothing was bounced, dropped or rejected, so every iteration
// measured the forwarding path.
void check_clean(const core::node& n) {
  const auto& s = n.stats();
  if (s.errors_sent != 0 || s.dropped != 0 || s.malformed != 0)
    die("a forwarding iteration took an error path");
}

// ---------------------------------------------------------------------------------------
// Proxy: a frame from an attached agent's endpoint arrives on the link and leaves on the
// backbone, on the subject of `to`.
void proxy_link_to_bus(benchmark::State& state, std::string_view to, std::string_view subject) {
  proxy_fixture fx(1);
  core::proxy& p = fx.proxy_role();
  const link_id link = fx.links().front();
  auto buf = buffer_of(request("ccp://endpoint/" + agent_host(0) + "/e1", to));
  auto& acts = p.actions();

  p.on_link_frame(link, buf, t0);
  auto pub = take_one<core::act::publish>(acts, "proxy did not publish the frame");
  if (pub.bus != core::bus_kind::backbone || pub.subject != subject || pub.frame != buf ||
      (*buf)[3] != 1)
    die("proxy published elsewhere, another buffer, or without counting the hop");

  alloc_meter meter;
  for (auto _ : state) {
    (*buf)[3] = 0;  // the hop byte: a fresh frame from the agent
    p.on_link_frame(link, buf, t0);
    benchmark::DoNotOptimize(acts.data());
    acts.clear();
  }
  meter.report(state);
  check_clean(p);
  forward_counters(state, 1);
}

// As requested: to ccp://mgmt/any, subject ccp.mgmt.any (cached by the proxy).
void BM_ProxyLinkToBus(benchmark::State& state) {
  proxy_link_to_bus(state, "ccp://mgmt/any", "ccp.mgmt.any");
}
BENCHMARK(BM_ProxyLinkToBus);

// The same to one mgmt node, the path of every reply to mgmt: the subject
// ccp.mgmt.10_0_0_1.m1 is built per frame (into core::subject_text, without allocating;
// a std::string subject allocated here, being longer than its 15-byte inline buffer).
void BM_ProxyLinkToBusLongSubject(benchmark::State& state) {
  proxy_link_to_bus(state, mgmt_text, "ccp.mgmt.10_0_0_1.m1");
}
BENCHMARK(BM_ProxyLinkToBusLongSubject);

// Proxy: a frame for an endpoint of an attached host arrives on the bus (subject
// ccp.host.H) and leaves on that agent's link. With `swap_host`, the host takes the
// actions as tests/core/harness.cpp does (swap into its own vector), so the role starts
// every call with an empty vector. With `agents` attached, the frame is for the host of
// the one in the middle: the route lookup at fleet scale.
void proxy_bus_to_link(benchmark::State& state, bool swap_host, std::size_t agents = 1) {
  proxy_fixture fx(agents);
  core::proxy& p = fx.proxy_role();
  const std::size_t target = agents / 2;
  const link_id link = fx.links()[target];
  const std::string subject = core::host_subject(agent_host(target));
  auto buf = buffer_of(request(mgmt_text, "ccp://endpoint/" + agent_host(target) + "/e1"));
  auto& acts = p.actions();

  p.on_bus(subject, buf, t0);
  auto snd = take_one<core::act::send>(acts, "proxy did not send the frame");
  if (snd.link != link || snd.frame != buf || (*buf)[3] != 1)
    die("proxy sent on another link, another buffer, or without counting the hop");
  p.on_link_flushed(link, 1);

  std::size_t unflushed = 0;
  alloc_meter meter;
  for (auto _ : state) {
    (*buf)[3] = 0;
    p.on_bus(subject, buf, t0);
    if (swap_host) {
      std::vector<core::action> taken;  // executed, then freed with its buffer
      taken.swap(acts);
      benchmark::DoNotOptimize(taken.data());
    } else {
      benchmark::DoNotOptimize(acts.data());
      acts.clear();
    }
    if (++unflushed == flush_every) {
      p.on_link_flushed(link, unflushed);
      unflushed = 0;
    }
  }
  meter.report(state);
  check_clean(p);
  forward_counters(state, 1);
}

void BM_ProxyBusToLink(benchmark::State& state) {
  proxy_bus_to_link(state, false);
}
BENCHMARK(BM_ProxyBusToLink);

// The same with 10,000 agents attached (the idle-connection target of one proxy).
void BM_ProxyBusToLink10kAgents(benchmark::State& state) {
  proxy_bus_to_link(state, false, 10'000);
}
BENCHMARK(BM_ProxyBusToLink10kAgents);

// 10,000 agents attached, and the frames spread over 1,024 of them (every 9th or 10th
// host, in a shuffled order): the route lookup of a busy proxy, whose next frame is seldom
// for the host of the last one, so the lookup's memory is not all in cache as it is when
// every frame names the same host.
void BM_ProxyBusToLink10kAgentsSpread(benchmark::State& state) {
  constexpr std::size_t agents = 10'000;
  constexpr std::size_t targets = 1'024;
  proxy_fixture fx(agents);
  core::proxy& p = fx.proxy_role();
  struct target {
    std::string subject;
    core::frame_buf buf;
    link_id link;
  };
  std::vector<target> ts;
  ts.reserve(targets);
  for (std::size_t k = 0; k < targets; ++k) {
    const std::size_t i = (k * 7919) % targets * agents / targets;  // 7919: prime, a shuffle
    ts.push_back({core::host_subject(agent_host(i)),
                  buffer_of(request(mgmt_text, "ccp://endpoint/" + agent_host(i) + "/e1")),
                  fx.links()[i]});
  }
  auto& acts = p.actions();
  std::size_t k = 0;
  std::size_t rounds = 0;
  std::size_t sent = 0;
  alloc_meter meter;
  for (auto _ : state) {
    target& t = ts[k];
    k = k + 1 == targets ? 0 : k + 1;
    (*t.buf)[3] = 0;
    p.on_bus(t.subject, t.buf, t0);
    sent += acts.size();
    benchmark::DoNotOptimize(acts.data());
    acts.clear();
    if (k == 0 && ++rounds == flush_every) {  // each target's link has flush_every frames
      for (const target& u : ts)
        p.on_link_flushed(u.link, flush_every);
      rounds = 0;
    }
  }
  meter.report(state);
  if (sent != static_cast<std::size_t>(state.iterations()))
    die("proxy did not send every spread frame on a link");
  check_clean(p);
  forward_counters(state, 1);
}
BENCHMARK(BM_ProxyBusToLink10kAgentsSpread);

void BM_ProxyBusToLinkSwapHost(benchmark::State& state) {
  proxy_bus_to_link(state, true);
}
BENCHMARK(BM_ProxyBusToLinkSwapHost);

// Agent: a frame for one of its endpoints arrives on the link and is published on the
// host bus to ccp.ep.ID.
void agent_link_to_endpoint(benchmark::State& state, const std::string& id) {
  agent_fixture fx({"e1", "billing-worker-1"});
  core::agent& a = fx.agent_role();
  const std::string subject = "ccp.ep." + id;
  auto buf = buffer_of(request(mgmt_text, "ccp://endpoint/" + agent_host(0) + "/" + id));
  auto& acts = a.actions();

  a.on_link_frame(fx.link(), buf, t0);
  auto pub = take_one<core::act::publish>(acts, "agent did not publish the frame");
  if (pub.bus != core::bus_kind::host || pub.subject != subject || pub.frame != buf ||
      (*buf)[3] != 1)
    die("agent published elsewhere, another buffer, or without counting the hop");

  alloc_meter meter;
  for (auto _ : state) {
    (*buf)[3] = 0;
    a.on_link_frame(fx.link(), buf, t0);
    benchmark::DoNotOptimize(acts.data());
    acts.clear();
  }
  meter.report(state);
  check_clean(a);
  forward_counters(state, 1);
}

// As requested: endpoint e1, subject ccp.ep.e1.
void BM_AgentLinkToEndpoint(benchmark::State& state) {
  agent_link_to_endpoint(state, "e1");
}
BENCHMARK(BM_AgentLinkToEndpoint);

// The same for an id of 16 bytes: ccp.ep.billing-worker-1 is longer than std::string's
// inline buffer (it allocated per frame when subjects were std::string).
void BM_AgentLinkToEndpointLongId(benchmark::State& state) {
  agent_link_to_endpoint(state, "billing-worker-1");
}
BENCHMARK(BM_AgentLinkToEndpointLongId);

// Agent: a request from endpoint e1 of its host arrives on the host bus for ccp://mgmt/any
// and leaves on the proxy link: the first hop of every request an application makes.
void BM_AgentEndpointToLink(benchmark::State& state) {
  agent_fixture fx({"e1", "billing-worker-1"});
  core::agent& a = fx.agent_role();
  auto buf = buffer_of(request("ccp://endpoint/" + agent_host(0) + "/e1", "ccp://mgmt/any"));
  auto& acts = a.actions();

  a.on_bus("ccp.agent", buf, t0);
  auto snd = take_one<core::act::send>(acts, "agent did not send the frame");
  if (snd.link != fx.link() || snd.frame != buf || (*buf)[3] != 1)
    die("agent sent on another link, another buffer, or without counting the hop");
  a.on_link_flushed(fx.link(), 1);

  std::size_t unflushed = 0;
  alloc_meter meter;
  for (auto _ : state) {
    (*buf)[3] = 0;
    a.on_bus("ccp.agent", buf, t0);
    benchmark::DoNotOptimize(acts.data());
    acts.clear();
    if (++unflushed == flush_every) {
      a.on_link_flushed(fx.link(), unflushed);
      unflushed = 0;
    }
  }
  meter.report(state);
  check_clean(a);
  forward_counters(state, 1);
}
BENCHMARK(BM_AgentEndpointToLink);

// Proxy fan-out: a frame for ccp://agent/all arrives on the bus (ccp.agent.all) and is
// sent on every agent link. Items are targets: ns per item is the cost per agent.
void BM_ProxyFanOutAll(benchmark::State& state) {
  const auto n = static_cast<std::size_t>(state.range(0));
  proxy_fixture fx(n);
  core::proxy& p = fx.proxy_role();
  const std::string subject = "ccp.agent.all";
  auto buf = buffer_of(request(mgmt_text, "ccp://agent/all"));
  auto& acts = p.actions();

  p.on_bus(subject, buf, t0);
  if (acts.size() != n) die("fan-out did not send once per agent");
  for (const auto& a : acts) {
    const auto* s = std::get_if<core::act::send>(&a);
    if (!s || s->frame != buf) die("fan-out produced something else than sends of the frame");
  }
  acts.clear();
  fx.flush(1);

  std::size_t unflushed = 0;
  alloc_meter meter;
  for (auto _ : state) {
    (*buf)[3] = 0;
    p.on_bus(subject, buf, t0);
    benchmark::DoNotOptimize(acts.data());
    acts.clear();
    if (++unflushed == flush_every) {
      fx.flush(unflushed);
      unflushed = 0;
    }
  }
  meter.report(state);
  check_clean(p);
  forward_counters(state, n);
}
BENCHMARK(BM_ProxyFanOutAll)->Arg(10)->Arg(100)->Arg(1000);

// ---------------------------------------------------------------------------------------
// Baselines, on the envelope of BM_ProxyBusToLink (same size as every forwarded frame).

const core::message& baseline_message() {
  static const core::message m = request(mgmt_text, "ccp://endpoint/" + agent_host(0) + "/e1");
  return m;
}

// One copy of the frame into a preallocated string.
void BM_CopyFrame200(benchmark::State& state) {
  const std::string src = frame_of(baseline_message());
  if (src.size() != frame_bytes) die("baseline frame is not frame_bytes long");
  std::string dst;
  dst.reserve(src.size());
  alloc_meter meter;
  for (auto _ : state) {
    benchmark::DoNotOptimize(src.data());
    dst.assign(src);
    benchmark::DoNotOptimize(dst.data());
    benchmark::ClobberMemory();
  }
  meter.report(state);
  if (dst != src) die("copy baseline did not copy");
  forward_counters(state, 1);
}
BENCHMARK(BM_CopyFrame200);

// The same envelope as JSON text (text::to_json_text), parsed into a DOM.
void BM_JsonParseEnvelope(benchmark::State& state) {
  const std::string text = text::to_json_text(baseline_message());
  if (!nlohmann::json::accept(text)) die("baseline JSON text is not JSON");
  std::string_view view = text;
  alloc_meter meter;
  for (auto _ : state) {
    benchmark::DoNotOptimize(view);
    auto j = nlohmann::json::parse(view);
    benchmark::DoNotOptimize(j);
  }
  meter.report(state);
  forward_counters(state, 1);
  state.counters["json_bytes"] = static_cast<double>(text.size());
}
BENCHMARK(BM_JsonParseEnvelope);

}  // namespace

BENCHMARK_MAIN();
