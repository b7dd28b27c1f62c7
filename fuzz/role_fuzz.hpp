#pragma once
// What the stateful targets (proxy_fuzz, agent_fuzz) share: a role driven like a host
// drives it (core/event.hpp through node::handle, tick at next_wake, the application's
// calls), with every event decoded from the fuzz input, and a checker of every action the
// role returns.
//
// Frames are built from pools of the addresses, operation names and control bodies the
// roles know, so that most of them pass the codec and reach the roles' logic (hello,
// routes, heartbeats, registrations, replies to the role's own requests); a raw byte
// string or one mutated byte stands for a malformed frame. A reply's correlation can be
// one of the ids the role itself sent last, which is how a fuzzer finds the welcome to a
// hello.
//
// What is checked of each action (the invariants the core's tests assert one by one):
//   - a send goes to a link the role holds now (up, not closed by it, not reported down);
//     a close names a link the role holds or dialed; a dial opens a link id never used,
//     to a configured target;
//   - every subject is a well-formed NATS subject ("ccp." and dot-separated tokens of
//     visible bytes, no wildcard in a publish), on the bus kind the role has;
//   - every frame a role sends or publishes reads as a frame; one the role made itself
//     (not a received buffer it forwards) decodes in full;
//   - a deliver is a request or notification for this node (itself, or a group it is a
//     member of) or an error answering it;
//   - a complete answers a request the application made, once;
//   - timers advance: tick(now) at next_wake() does not leave next_wake() at now forever;
//   - a role's own check after every event (proxy_fuzz: a proxy that holds no host is in
//     no `any` group, so it never swallows one);
//   - at the end, once time passed every deadline and abort_pending ran, every request of
//     the application has completed exactly once.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <functional>
#include <iterator>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "core/action.hpp"
#include "core/control.hpp"
#include "core/event.hpp"
#include "core/message.hpp"
#include "core/node.hpp"
#include "fuzz/check.hpp"

namespace ccp::fuzz {

using core::action;
using core::address;
using core::bus_kind;
using core::link_id;
using core::micros;
namespace act = core::act;
namespace in = core::in;

// Pools the frame builder picks from.
inline constexpr std::string_view address_pool[] = {
    "ccp://proxy/10.0.1.1/p1",
    "ccp://proxy/10.0.1.2/p2",
    "ccp://agent/10.0.0.7/agent",
    "ccp://agent/10.0.0.8/agent",
    "ccp://endpoint/10.0.0.7/e1",
    "ccp://endpoint/10.0.0.7/e2",
    "ccp://endpoint/10.0.0.8/e1",
    "ccp://mgmt/10.0.2.1/m1",
    "ccp://proxy/any",
    "ccp://proxy/all",
    "ccp://agent/any",
    "ccp://agent/all",
    "ccp://endpoint/any",
    "ccp://endpoint/all",
    "ccp://mgmt/any",
    "ccp://mgmt/all",
    "ccp://endpoint/10.0.0.7/all",
    "ccp://endpoint/10.0.0.7/any",
    "ccp://agent/10.0.0.7/any",
    "ccp://agent/10.0.0.7/all",
    "ccp://endpoint/10.0.0.8/all",
};
inline constexpr std::string_view type_pool[] = {
    "ccp.hello",   "ccp.bye",      "ccp.hb",        "ccp.route",    "ccp.drain",
    "ccp.stay",    "ccp.sync",     "ccp.endpoints", "ccp.register", "ccp.unregister",
    "ccp.unknown", "ccp.agent-up", "echo",          "ping",         "status",
};
inline constexpr std::string_view host_pool[] = {"10.0.0.7", "10.0.0.8",      "10.0.0.9",
                                                 "10.0.1.1", "[2001:db8::1]", "h.example"};
inline constexpr std::string_view id_pool[] = {"e1", "e2", "e3", "agent", "any", ""};
inline constexpr std::string_view token_pool[] = {"s3cret", "wrong", ""};
inline constexpr std::string_view key_pool[] = {"op",    "host",   "epoch",  "agent", "endpoints",
                                                "hosts", "last",   "routes", "nonce", "token",
                                                "proxy", "reason", ""};
inline constexpr micros step_pool[] = {0,
                                       1,
                                       core::ms,
                                       100 * core::ms,
                                       core::heartbeat_interval,
                                       core::idle_timeout,
                                       core::handshake_timeout,
                                       core::stable_attachment,
                                       core::drain_avoid};

// A well-formed subject: "ccp." then tokens of visible ASCII bytes other than '.', none
// empty; wildcards ('*', '>') only where `wildcards` (a subscription).
inline bool valid_subject(std::string_view s, bool wildcards) {
  if (s.size() < 5 || s.size() > 512 || !s.starts_with("ccp.") || s.back() == '.') return false;
  char prev = 0;
  for (char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u >= 0x7f) return false;
    if (c == '.' && prev == '.') return false;
    if (!wildcards && (c == '*' || c == '>')) return false;
    prev = c;
  }
  return true;
}

// Builds frames and bodies from the fuzz input.
class frame_builder {
 public:
  explicit frame_builder(input& in) : in_(in) {}

  // The ids of the last frames the role sent, most recent first (replies correlate them).
  std::deque<std::uint64_t> recent_ids;

  std::string address_text() {
    const std::uint8_t i = in_.byte();
    if (i < std::size(address_pool) * 8)
      return std::string(address_pool[i % std::size(address_pool)]);
    return in_.bytes(80);  // an odd address: the codec judges it
  }

  std::string body() {
    core::flat_json_writer w;
    switch (in_.byte() % 10) {
      case 0:
        return {};
      case 1:
        return "{}";
      case 2: {  // a hello
        std::vector<std::string> eps;
        for (int n = in_.byte() % 4; n > 0; --n)
          eps.emplace_back(in_.pick(id_pool));
        return w.add("epoch", number())
            .add("token", in_.pick(token_pool))
            .add("endpoints", eps)
            .finish();
      }
      case 3: {  // a route announcement
        w.add("op", in_.byte() % 2 ? "attach" : "detach")
            .add("host", in_.pick(host_pool))
            .add("epoch", number());
        if (in_.byte() % 2) w.add("agent", address_text());
        if (in_.byte() % 2)
          w.add("endpoints", std::vector<std::string>{std::string(in_.pick(id_pool))});
        return w.finish();
      }
      case 4:
        return w.add("hosts", in_.byte() % 4).finish();
      case 5:
        return w.add("nonce", in_.byte() % 4).finish();
      case 6:
        return w.add("proxy", address_text()).finish();
      case 7: {  // a sync answer
        std::vector<std::string> routes;
        for (int n = in_.byte() % 3; n > 0; --n)
          routes.emplace_back(in_.pick(host_pool));
        return w.add("routes", routes).add("last", in_.byte() % 2).finish();
      }
      case 8: {  // any flat object of pool keys
        for (int n = in_.byte() % 4; n > 0; --n) {
          const std::string_view key = in_.pick(key_pool);
          switch (in_.byte() % 3) {
            case 0:
              w.add(key, number());
              break;
            case 1:
              w.add(key, in_.pick(host_pool));
              break;
            default:
              w.add(key, std::vector<std::string>{std::string(in_.pick(id_pool))});
          }
        }
        return w.finish();
      }
      default:
        return in_.bytes(256);
    }
  }

  // A frame: raw bytes, or a message built from the pools, encoded, maybe with one byte
  // changed.
  core::frame_buf frame() {
    const std::uint8_t mode = in_.byte();
    if (mode % 16 == 0) return std::make_shared<std::string>(in_.bytes(512));
    core::message m;
    m.kind = static_cast<core::msg_kind>(1 + in_.byte() % 4);
    const std::uint8_t id = in_.byte();
    m.id = id != 0 ? id : in_.u64();
    if (auto a = address::parse(address_text())) m.from = *a;
    if (auto a = address::parse(address_text())) m.to = *a;
    m.type = in_.pick(type_pool);
    if (m.kind == core::msg_kind::response || m.kind == core::msg_kind::error) {
      const std::uint8_t c = in_.byte();
      if (c == 0)
        m.correlation = in_.u64();
      else if (!recent_ids.empty())
        m.correlation = recent_ids[(c - 1) % recent_ids.size()];
      else
        m.correlation = c;
    }
    if (m.kind == core::msg_kind::error) {
      m.code = static_cast<core::errc>(1 + in_.byte() % 12);
      m.text = "fuzz";
    }
    switch (in_.byte() % 4) {
      case 0:
        break;
      case 1:
        m.ttl_ms = 5000;
        break;
      case 2:
        m.ttl_ms = 1;
        break;
      default:
        m.ttl_ms = in_.u32();
    }
    m.hops = static_cast<std::uint8_t>(in_.byte() % (core::max_hops + 2));
    m.body = body();
    auto f = core::encode(m);
    if (!f) return std::make_shared<std::string>(in_.bytes(512));
    if (mode >= 0xf0 && !f->empty()) {  // one byte changed
      const std::size_t at = in_.u16() % f->size();
      (*f)[at] = static_cast<char>((*f)[at] ^ (in_.byte() | 1));
    }
    return std::make_shared<std::string>(std::move(*f));
  }

  std::uint64_t number() {
    switch (in_.byte() % 4) {
      case 0:
        return in_.byte();
      case 1:
        return core::max_agent_epoch;
      case 2:
        return UINT64_MAX;
      default:
        return in_.u64();
    }
  }

 private:
  input& in_;
};

// Checks every action of one role (see the top of this file).
class action_checker {
 public:
  action_checker(const core::node& role, bus_kind bus, std::vector<std::string> dial_targets)
      : role_(role), bus_(bus), dial_targets_(std::move(dial_targets)) {}

  // The links the role holds (it may send on them) and those it dialed (not yet up).
  std::set<link_id> up;
  std::set<link_id> dialing;
  std::set<link_id> used;  // every link id seen, for freshness of dials
  // Frames written on each link and not yet reported flushed.
  std::map<link_id, std::size_t> unflushed;
  // The application's requests: id -> completions seen.
  std::map<std::uint64_t, int> requests;
  // The subjects the role is subscribed to now.
  std::set<std::string, std::less<>> subscribed;
  // A check of the role's own, run after the actions of every event.
  std::function<void()> after_each;
  // The last requests delivered to the application (it may answer them).
  std::vector<core::message> delivered;
  bool stopped = false;

  // Checks and consumes the actions the role produced for one event; `received` is the
  // buffer the event handed in (a frame forwarded as is, which need not decode in full).
  void take(frame_builder& b, const core::frame_buf& received = nullptr) {
    std::vector<action> acts;
    acts.swap(const_cast<core::node&>(role_).actions());
    for (const action& a : acts)
      std::visit([&](const auto& x) { on(x, b, received); }, a);
    if (after_each) after_each();
  }

  void link_up(link_id l) {
    dialing.erase(l);
    up.insert(l);
    used.insert(l);
  }
  void link_down(link_id l) {
    dialing.erase(l);
    up.erase(l);
    unflushed.erase(l);
  }

 private:
  void frame_ok(const core::frame_ptr& f, const core::frame_buf& received, frame_builder& b) {
    check(f != nullptr, "an action carries no frame");
    auto h = core::read_header(*f, core::defer::forwarding);
    check(h.has_value(), "a frame the role sends does not read as a frame");
    if (received && f.get() == received.get()) return;  // forwarded as received
    auto m = core::decode(*f);
    check(m.has_value(), "a frame the role made does not decode");
    b.recent_ids.push_front(m->id);
    if (b.recent_ids.size() > 16) b.recent_ids.pop_back();
  }

  void on(const act::publish& p, frame_builder& b, const core::frame_buf& received) {
    check(p.bus == bus_, "a publish on a bus the role does not have");
    check(valid_subject(p.subject.view(), false), "a publish to a malformed subject");
    frame_ok(p.frame, received, b);
  }
  void on(const act::subscribe& s, frame_builder&, const core::frame_buf&) {
    check(s.bus == bus_, "a subscription on a bus the role does not have");
    check(valid_subject(s.subject, true), "a subscription to a malformed subject");
    check(s.queue.empty() || valid_subject(s.queue, false), "a malformed queue group");
    check(!stopped || bus_ == bus_kind::backbone, "an agent subscribes after its stop");
    subscribed.insert(s.subject);
  }
  void on(const act::unsubscribe& u, frame_builder&, const core::frame_buf&) {
    check(u.bus == bus_, "an unsubscription on a bus the role does not have");
    check(valid_subject(u.subject, true), "an unsubscription from a malformed subject");
    subscribed.erase(u.subject);
  }
  void on(const act::send& s, frame_builder& b, const core::frame_buf& received) {
    check(up.contains(s.link), "a send on a link the role does not hold");
    frame_ok(s.frame, received, b);
    ++unflushed[s.link];
  }
  void on(const act::close& c, frame_builder&, const core::frame_buf&) {
    check(up.contains(c.link) || dialing.contains(c.link),
          "a close of a link the role does not hold");
    link_down(c.link);  // the host reports nothing more of it
  }
  void on(const act::dial& d, frame_builder&, const core::frame_buf&) {
    check(!stopped, "a dial after stop");
    check(!used.contains(d.link), "a dial reuses a link id");
    check(std::find(dial_targets_.begin(), dial_targets_.end(), d.target) != dial_targets_.end(),
          "a dial to a target that is not configured");
    used.insert(d.link);
    dialing.insert(d.link);
  }
  void on(const act::deliver& d, frame_builder&, const core::frame_buf&) {
    const core::message& m = d.msg;
    check(m.kind != core::msg_kind::response, "a response delivered instead of completed");
    if (m.kind == core::msg_kind::error)
      check(m.to == role_.self(), "an error for another node delivered");
    else
      check(core::is_member(role_.self(), m.to), "a message for another node delivered");
    if (m.kind == core::msg_kind::request) {
      if (delivered.size() >= 16) delivered.erase(delivered.begin());
      delivered.push_back(m);
    }
  }
  void on(const act::complete& c, frame_builder&, const core::frame_buf&) {
    auto it = requests.find(c.request);
    check(it != requests.end(), "a completion of a request the application did not make");
    check(++it->second == 1, "a request completed twice");
  }
  void on(const act::ready&, frame_builder&, const core::frame_buf&) {}
  void on(const act::drained&, frame_builder&, const core::frame_buf&) {}

  const core::node& role_;
  bus_kind bus_;
  std::vector<std::string> dial_targets_;
};

// Runs the role's timers up to `to` as a host does (tick at each next_wake), checking each
// tick's actions. A role whose next_wake() stays at or before a time it was just ticked at
// would make its host spin: found here as many ticks at one time.
inline void run_timers(core::node& role, action_checker& c, frame_builder& b, micros& now,
                       micros to) {
  int same = 0;
  for (int guard = 0; guard < 100000; ++guard) {
    const micros w = role.next_wake();
    if (w > to) break;
    const micros at = std::max(w, now);
    same = at == now ? same + 1 : 0;
    check(same < 64, "next_wake() stays at a time the role was ticked at (a busy loop)");
    now = at;
    role.tick(now);
    c.take(b);
  }
  now = std::max(now, to);
}

// Time passes by a step the next byte picks: as a host runs it (tick at every wake), or,
// for a byte of 0x80 or more, as a host that was not scheduled (SIGSTOP, a long pause):
// the clock jumps and the role sees it only at the next event (its stall detection).
inline void pass_time(input& in, core::node& role, action_checker& c, frame_builder& b,
                      micros& now) {
  const std::uint8_t k = in.byte();
  micros dt = step_pool[k % std::size(step_pool)];
  if (dt == 1) dt = static_cast<micros>(in.u16()) * 100;
  if (k >= 0x80)
    now += dt;
  else
    run_timers(role, c, b, now, now + dt);
}

// Ends a run: time passes every deadline, the host aborts what is left, and every request
// of the application must have completed exactly once.
// With CCP_FUZZ_TRACE set in the environment, prints the role's counters at the end of
// each input: how deep an input went (run the target on one file to see).
inline void finish(core::node& role, action_checker& c, frame_builder& b, micros& now) {
  if (std::getenv("CCP_FUZZ_TRACE")) {
    const core::node_stats& s = role.stats();
    const auto n = [](std::uint64_t v) { return static_cast<unsigned long long>(v); };
    std::fprintf(stderr,
                 "fuzz trace: delivered %llu completed %llu forwarded %llu errors_sent %llu "
                 "dropped %llu malformed %llu cut_offs %llu rejoins %llu links up %zu "
                 "requests %zu\n",
                 n(s.delivered), n(s.completed), n(s.forwarded), n(s.errors_sent), n(s.dropped),
                 n(s.malformed), n(s.cut_offs), n(s.rejoins), c.up.size(), c.requests.size());
  }
  // One late tick past every deadline (a request's timeout is at most 60 s here), as a
  // host that was not scheduled meanwhile: ticking through every heartbeat on the way
  // was most of an input's time. Then a second's timers, for what that tick started.
  now += 2 * core::default_request_timeout + 60 * core::seconds;
  role.tick(now);
  c.take(b);
  run_timers(role, c, b, now, now + core::seconds);
  role.abort_pending(core::errc::shutting_down);
  c.take(b);
  for (const auto& [id, n] : c.requests)
    check(n == 1, "a request of the application never completed");
}

// The events both stateful targets decode the same way, each reading the same input bytes
// in the same order as before they were shared (the corpus keeps its meaning).

// The host wrote some (1 + u16 % queued) of link `l`'s unwritten frames.
inline void flush_some(input& in, core::node& role, action_checker& c, frame_builder& b, link_id l,
                       micros now) {
  const std::size_t n = in.u16();
  auto it = c.unflushed.find(l);
  if (it == c.unflushed.end() || it->second == 0) return;
  const std::size_t k = 1 + n % it->second;
  it->second -= k;
  role.handle(in::link_flushed{l, k}, now);
  c.take(b);
}

// The application sends a notification or starts a request (a fresh id, checked).
inline void app_sends(input& in, core::node& role, action_checker& c, frame_builder& b,
                      micros now) {
  auto to = address::parse(b.address_text());
  const std::string_view type = in.pick(type_pool);
  const bool request = in.byte() % 2;
  const micros timeout = static_cast<micros>(in.byte() % 61) * core::seconds;
  if (!to) return;
  if (request) {
    auto id = role.request(*to, type, b.body(), timeout, now);
    if (id) {
      check(!c.requests.contains(*id), "a request id used twice");
      c.requests[*id] = 0;
    }
  } else {
    (void)role.send(*to, type, b.body(), now);
  }
  c.take(b);
}

// The application answers a request delivered to it, with a reply or an error.
inline void app_answers(input& in, core::node& role, action_checker& c, frame_builder& b,
                        micros now) {
  if (c.delivered.empty()) return;
  const core::message m = c.delivered[in.byte() % c.delivered.size()];
  if (in.byte() % 2)
    role.reply(m, "{}", now);
  else
    role.reply_error(m, core::errc::rejected, "no", now);
  c.take(b);
}

}  // namespace ccp::fuzz
