#pragma once
// Drives one role on its own, in the style of quinn-proto's tests: a test feeds it events
// through node::handle (and tick, and the application API) and asserts the exact actions it
// emits. No harness, no host kernel, no other role: what a peer would have sent is built
// by hand with core::encode, and what the role answers is read back with core::decode.
//
//   driver<core::mgmt> m(address_of("ccp://mgmt/10.0.2.1/m1"), 1);
//   EXPECT_TRUE(actions_are(m.start(0), {want::subscribe{...}, ...}));
//
// Expectations (want::*) name every field that matters: a bus and a subject, a link id, an
// error code, and a msg_spec for the message a frame carries (each field it sets is
// compared; the others are not). actions_are compares a whole list in order; one_of finds
// exactly one action that matches among others, some_of at least one. All print every
// action on failure.

#include <cstddef>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <memory>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include <gtest/gtest.h>

#include "core/action.hpp"
#include "core/address.hpp"
#include "core/event.hpp"
#include "core/message.hpp"
#include "core/node.hpp"

namespace ccp::test::roles {

using core::action;
using core::address;
using core::bus_kind;
using core::errc;
using core::link_id;
using core::message;
using core::micros;
using core::msg_kind;
namespace act = core::act;
namespace in = core::in;

// ---------------------------------------------------------------------------------------
// Building what a peer sends.

// An address the test knows to be valid; throws (fails the test) when it is not.
inline address address_of(std::string_view text) {
  auto a = address::parse(text);
  if (!a) throw std::invalid_argument("bad address in test: " + std::string(text));
  return *a;
}

// A message with the fields every frame needs; the rest is set by the caller.
inline message make_message(msg_kind kind, std::uint64_t id, std::string_view from,
                            std::string_view to, std::string type, std::string body = {}) {
  message m;
  m.id = id;
  m.kind = kind;
  m.from = address_of(from);
  m.to = address_of(to);
  m.type = std::move(type);
  m.body = std::move(body);
  return m;
}

// A response or an error answering request `correlation`.
inline message make_reply(msg_kind kind, std::uint64_t id, std::uint64_t correlation,
                          std::string_view from, std::string_view to, std::string type,
                          std::string body = {}, errc code = {}) {
  message m = make_message(kind, id, from, to, std::move(type), std::move(body));
  m.correlation = correlation;
  m.code = code;
  return m;
}

// The frame of `m` as a role receives it (a buffer of its own: the role may change its hop
// byte in place). Throws when `m` does not encode: a test that means to send a bad frame
// builds the bytes itself.
inline core::frame_buf frame_of(const message& m) {
  auto f = core::encode(m);
  if (!f) throw std::invalid_argument("message does not encode in test");
  return std::make_shared<std::string>(std::move(*f));
}

// The message a frame of an action carries; nullopt when it does not decode.
inline std::optional<message> decoded(const core::frame_ptr& f) {
  if (!f) return std::nullopt;
  auto m = core::decode(*f);
  if (!m) return std::nullopt;
  return *m;
}

// ---------------------------------------------------------------------------------------
// Printing, for failure messages.

inline std::string_view bus_name(bus_kind b) {
  return b == bus_kind::backbone ? "backbone" : "host";
}

inline std::string describe(const message& m) {
  std::ostringstream o;
  o << core::to_string(m.kind) << ' ' << m.type << " #" << m.id << ' ' << m.from.str() << " -> "
    << m.to.str();
  if (m.correlation != 0) o << " corr=" << m.correlation;
  if (m.kind == msg_kind::error) o << " code=" << core::to_string(m.code);
  if (m.hops != 0) o << " hops=" << static_cast<int>(m.hops);
  if (m.ttl_ms != 0) o << " ttl=" << m.ttl_ms << "ms";
  if (!m.text.empty()) o << " text=\"" << m.text << '"';
  if (!m.body.empty()) o << " body=" << m.body;
  return o.str();
}

inline std::string describe_frame(const core::frame_ptr& f) {
  if (!f) return "<no frame>";
  auto m = core::decode(*f);
  if (!m) return "<undecodable: " + m.error().message() + ">";
  return "[" + describe(*m) + "]";
}

inline std::string describe(const action& a) {
  struct visitor {
    std::string operator()(const act::publish& p) const {
      return "publish " + std::string(bus_name(p.bus)) + ' ' + p.subject.str() + ' ' +
             describe_frame(p.frame);
    }
    std::string operator()(const act::subscribe& s) const {
      return "subscribe " + std::string(bus_name(s.bus)) + ' ' + s.subject +
             (s.queue.empty() ? "" : " queue=" + s.queue);
    }
    std::string operator()(const act::unsubscribe& u) const {
      return "unsubscribe " + std::string(bus_name(u.bus)) + ' ' + u.subject;
    }
    std::string operator()(const act::send& s) const {
      return "send link " + std::to_string(s.link) + ' ' + describe_frame(s.frame);
    }
    std::string operator()(const act::close& c) const {
      return "close link " + std::to_string(c.link) + " reason " +
             (c.reason == errc{} ? std::string("none") : std::string(core::to_string(c.reason)));
    }
    std::string operator()(const act::dial& d) const {
      return "dial link " + std::to_string(d.link) + ' ' + d.target;
    }
    std::string operator()(const act::deliver& d) const {
      return "deliver [" + describe(d.msg) + "]";
    }
    std::string operator()(const act::complete& c) const {
      std::string s =
          "complete #" + std::to_string(c.request) + ' ' +
          (c.code == errc{} ? std::string("ok") : std::string(core::to_string(c.code))) + ", " +
          std::to_string(c.replies.size()) + " replies";
      for (const auto& r : c.replies)
        s += " [" + describe(r) + "]";
      return s;
    }
    std::string operator()(const act::ready&) const { return "ready"; }
    std::string operator()(const act::drained&) const { return "drained"; }
  };
  return std::visit(visitor{}, a);
}

inline std::string describe(const std::vector<action>& acts) {
  if (acts.empty()) return "  (no actions)\n";
  std::string s;
  for (std::size_t i = 0; i < acts.size(); ++i)
    s += "  " + std::to_string(i) + ": " + describe(acts[i]) + "\n";
  return s;
}

// ---------------------------------------------------------------------------------------
// Expectations.

// What a message must be: every field that is set is compared, the others are not.
struct msg_spec {
  std::optional<msg_kind> kind{};
  std::optional<std::string> type{};
  std::optional<std::string> from{};
  std::optional<std::string> to{};
  std::optional<std::uint64_t> id{};
  std::optional<std::uint64_t> correlation{};
  std::optional<errc> code{};
  std::optional<std::string> text{};
  std::optional<std::string> body{};
  std::optional<std::uint8_t> hops{};
  std::optional<std::uint32_t> ttl_ms{};
};

// Empty when `m` matches `s`, else what differs.
inline std::string mismatch(const message& m, const msg_spec& s) {
  std::string why;
  auto check = [&why](bool ok, std::string_view field, const std::string& want,
                      const std::string& got) {
    if (!ok) why += std::string(field) + " is " + got + ", want " + want + "; ";
  };
  if (s.kind)
    check(m.kind == *s.kind, "kind", std::string(core::to_string(*s.kind)),
          std::string(core::to_string(m.kind)));
  if (s.type) check(m.type == *s.type, "type", *s.type, m.type);
  if (s.from) check(m.from.str() == *s.from, "from", *s.from, m.from.str());
  if (s.to) check(m.to.str() == *s.to, "to", *s.to, m.to.str());
  if (s.id) check(m.id == *s.id, "id", std::to_string(*s.id), std::to_string(m.id));
  if (s.correlation)
    check(m.correlation == *s.correlation, "correlation", std::to_string(*s.correlation),
          std::to_string(m.correlation));
  if (s.code)
    check(m.code == *s.code, "code", std::string(core::to_string(*s.code)),
          std::string(core::to_string(m.code)));
  if (s.text) check(m.text == *s.text, "text", '"' + *s.text + '"', '"' + m.text + '"');
  if (s.body) check(m.body == *s.body, "body", *s.body, m.body);
  if (s.hops) check(m.hops == *s.hops, "hops", std::to_string(*s.hops), std::to_string(m.hops));
  if (s.ttl_ms)
    check(m.ttl_ms == *s.ttl_ms, "ttl_ms", std::to_string(*s.ttl_ms), std::to_string(m.ttl_ms));
  return why;
}

inline std::string mismatch(const core::frame_ptr& f, const msg_spec& s) {
  auto m = decoded(f);
  if (!m) return "frame does not decode; ";
  return mismatch(*m, s);
}

namespace want {
struct publish {
  bus_kind bus;
  std::string subject;
  msg_spec msg{};
};
struct subscribe {
  bus_kind bus;
  std::string subject;
  std::string queue;  // empty: a plain subscription
};
struct unsubscribe {
  bus_kind bus;
  std::string subject;
};
struct send {
  link_id link;
  msg_spec msg{};
};
struct close {
  link_id link;
  errc reason;
};
struct dial {
  link_id link;
  std::string target;
};
struct deliver {
  msg_spec msg{};
};
struct complete {
  std::uint64_t request;
  errc code;
  std::optional<std::size_t> replies{};  // how many replies it carries, when set
};
struct ready {};
struct drained {};
}  // namespace want

using expectation =
    std::variant<want::publish, want::subscribe, want::unsubscribe, want::send, want::close,
                 want::dial, want::deliver, want::complete, want::ready, want::drained>;

inline std::string describe(const expectation& e) {
  struct visitor {
    std::string operator()(const want::publish& p) const {
      return "publish " + std::string(bus_name(p.bus)) + ' ' + p.subject;
    }
    std::string operator()(const want::subscribe& s) const {
      return "subscribe " + std::string(bus_name(s.bus)) + ' ' + s.subject +
             (s.queue.empty() ? "" : " queue=" + s.queue);
    }
    std::string operator()(const want::unsubscribe& u) const {
      return "unsubscribe " + std::string(bus_name(u.bus)) + ' ' + u.subject;
    }
    std::string operator()(const want::send& s) const {
      return "send link " + std::to_string(s.link);
    }
    std::string operator()(const want::close& c) const {
      return "close link " + std::to_string(c.link) + " reason " +
             (c.reason == errc{} ? std::string("none") : std::string(core::to_string(c.reason)));
    }
    std::string operator()(const want::dial& d) const {
      return "dial link " + std::to_string(d.link) + ' ' + d.target;
    }
    std::string operator()(const want::deliver&) const { return "deliver"; }
    std::string operator()(const want::ready&) const { return "ready"; }
    std::string operator()(const want::drained&) const { return "drained"; }
    std::string operator()(const want::complete& c) const {
      return "complete #" + std::to_string(c.request) + ' ' +
             (c.code == errc{} ? std::string("ok") : std::string(core::to_string(c.code)));
    }
  };
  return std::visit(visitor{}, e);
}

// Empty when action `a` meets `e`, else what differs.
inline std::string mismatch(const action& a, const expectation& e) {
  struct visitor {
    const action& a;
    std::string operator()(const want::publish& w) const {
      const auto* p = std::get_if<act::publish>(&a);
      if (!p) return "not a publish; ";
      std::string why;
      if (p->bus != w.bus) why += "bus is " + std::string(bus_name(p->bus)) + "; ";
      if (p->subject != w.subject) why += "subject is " + p->subject.str() + "; ";
      return why + mismatch(p->frame, w.msg);
    }
    std::string operator()(const want::subscribe& w) const {
      const auto* s = std::get_if<act::subscribe>(&a);
      if (!s) return "not a subscribe; ";
      std::string why;
      if (s->bus != w.bus) why += "bus is " + std::string(bus_name(s->bus)) + "; ";
      if (s->subject != w.subject) why += "subject is " + s->subject + "; ";
      if (s->queue != w.queue) why += "queue is \"" + s->queue + "\"; ";
      return why;
    }
    std::string operator()(const want::unsubscribe& w) const {
      const auto* u = std::get_if<act::unsubscribe>(&a);
      if (!u) return "not an unsubscribe; ";
      std::string why;
      if (u->bus != w.bus) why += "bus is " + std::string(bus_name(u->bus)) + "; ";
      if (u->subject != w.subject) why += "subject is " + u->subject + "; ";
      return why;
    }
    std::string operator()(const want::send& w) const {
      const auto* s = std::get_if<act::send>(&a);
      if (!s) return "not a send; ";
      std::string why;
      if (s->link != w.link) why += "link is " + std::to_string(s->link) + "; ";
      return why + mismatch(s->frame, w.msg);
    }
    std::string operator()(const want::close& w) const {
      const auto* c = std::get_if<act::close>(&a);
      if (!c) return "not a close; ";
      std::string why;
      if (c->link != w.link) why += "link is " + std::to_string(c->link) + "; ";
      if (c->reason != w.reason)
        why += "reason is " + std::string(core::to_string(c->reason)) + "; ";
      return why;
    }
    std::string operator()(const want::dial& w) const {
      const auto* d = std::get_if<act::dial>(&a);
      if (!d) return "not a dial; ";
      std::string why;
      if (d->link != w.link) why += "link is " + std::to_string(d->link) + "; ";
      if (d->target != w.target) why += "target is " + d->target + "; ";
      return why;
    }
    std::string operator()(const want::deliver& w) const {
      const auto* d = std::get_if<act::deliver>(&a);
      if (!d) return "not a deliver; ";
      return mismatch(d->msg, w.msg);
    }
    std::string operator()(const want::ready&) const {
      return std::holds_alternative<act::ready>(a) ? "" : "not a ready; ";
    }
    std::string operator()(const want::drained&) const {
      return std::holds_alternative<act::drained>(a) ? "" : "not a drained; ";
    }
    std::string operator()(const want::complete& w) const {
      const auto* c = std::get_if<act::complete>(&a);
      if (!c) return "not a complete; ";
      std::string why;
      if (c->request != w.request) why += "request is #" + std::to_string(c->request) + "; ";
      if (c->code != w.code)
        why += "code is " +
               (c->code == errc{} ? std::string("ok") : std::string(core::to_string(c->code))) +
               "; ";
      if (w.replies && c->replies.size() != *w.replies)
        why += std::to_string(c->replies.size()) + " replies; ";
      return why;
    }
  };
  return std::visit(visitor{a}, e);
}

// The actions are exactly `want`, in order.
inline ::testing::AssertionResult actions_are(const std::vector<action>& got,
                                              std::initializer_list<expectation> want) {
  std::string why;
  if (got.size() != want.size())
    why += "got " + std::to_string(got.size()) + " actions, want " + std::to_string(want.size()) +
           "\n";
  std::size_t i = 0;
  for (const expectation& e : want) {
    if (i < got.size()) {
      if (auto m = mismatch(got[i], e); !m.empty())
        why += "  action " + std::to_string(i) + " is not " + describe(e) + ": " + m + "\n";
    } else {
      why += "  missing action " + std::to_string(i) + ": " + describe(e) + "\n";
    }
    ++i;
  }
  if (why.empty()) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << why << "actions:\n" << describe(got);
}

// No action at all.
inline ::testing::AssertionResult no_actions(const std::vector<action>& got) {
  return actions_are(got, {});
}

// Exactly one of the actions meets `e` (others may be there too).
inline ::testing::AssertionResult one_of(const std::vector<action>& got, const expectation& e) {
  std::size_t n = 0;
  for (const action& a : got)
    if (mismatch(a, e).empty()) ++n;
  if (n == 1) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << n << " actions are " << describe(e) << ", want 1\n"
                                       << "actions:\n"
                                       << describe(got);
}

// At least one of the actions meets `e`.
inline ::testing::AssertionResult some_of(const std::vector<action>& got, const expectation& e) {
  for (const action& a : got)
    if (mismatch(a, e).empty()) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "no action is " << describe(e) << "\n"
                                       << "actions:\n"
                                       << describe(got);
}

// How many actions are of type A.
template <class A>
std::size_t count_of(const std::vector<action>& acts) {
  std::size_t n = 0;
  for (const action& a : acts)
    n += std::holds_alternative<A>(a) ? 1 : 0;
  return n;
}

// The first action of type A, or nullptr.
template <class A>
const A* first_of(const std::vector<action>& acts) {
  for (const action& a : acts)
    if (const auto* p = std::get_if<A>(&a)) return p;
  return nullptr;
}

// The message the first send (publish) action carries; throws when there is none, so that
// a test stops there instead of reading garbage.
inline message sent_message(const std::vector<action>& acts) {
  const auto* s = first_of<act::send>(acts);
  if (!s) throw std::runtime_error("no send action in:\n" + describe(acts));
  auto m = decoded(s->frame);
  if (!m) throw std::runtime_error("undecodable send in:\n" + describe(acts));
  return *m;
}
inline message published_message(const std::vector<action>& acts) {
  const auto* p = first_of<act::publish>(acts);
  if (!p) throw std::runtime_error("no publish action in:\n" + describe(acts));
  auto m = decoded(p->frame);
  if (!m) throw std::runtime_error("undecodable publish in:\n" + describe(acts));
  return *m;
}

// ---------------------------------------------------------------------------------------
// The driver.

// Owns one role and feeds it: every call returns the actions it produced and clears them,
// as a host that executes them would.
template <class Role>
class driver {
 public:
  template <class... Args>
  explicit driver(Args&&... args) : role_(std::forward<Args>(args)...) {}

  Role& role() noexcept { return role_; }
  Role* operator->() noexcept { return &role_; }

  std::vector<action> handle(core::event e, micros now) {
    role_.handle(std::move(e), now);
    return take();
  }
  std::vector<action> start(micros now) { return handle(in::start{}, now); }
  std::vector<action> stop(micros now) { return handle(in::stop{}, now); }
  std::vector<action> bus(const message& m, micros now, std::string_view subject = {}) {
    return handle(in::bus_frame{subject, frame_of(m)}, now);
  }
  std::vector<action> bus_bytes(std::string bytes, micros now) {
    return handle(in::bus_frame{{}, std::make_shared<std::string>(std::move(bytes))}, now);
  }
  std::vector<action> link_up(link_id link, micros now) { return handle(in::link_up{link}, now); }
  std::vector<action> link_frame(link_id link, const message& m, micros now) {
    return handle(in::link_frame{link, frame_of(m)}, now);
  }
  std::vector<action> link_down(link_id link, micros now) {
    return handle(in::link_down{link}, now);
  }
  std::vector<action> flushed(link_id link, std::size_t frames, micros now) {
    return handle(in::link_flushed{link, frames}, now);
  }
  std::vector<action> tick(micros now) {
    role_.tick(now);
    return take();
  }
  // Runs a call of the application API (send, request, reply...) and returns its actions.
  template <class F>
  std::vector<action> app(F&& call) {
    std::invoke(std::forward<F>(call), role_);
    return take();
  }
  // The actions produced so far, cleared.
  std::vector<action> take() {
    std::vector<action> out;
    out.swap(role_.actions());
    return out;
  }

 private:
  Role role_;
};

}  // namespace ccp::test::roles
