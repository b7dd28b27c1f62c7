#include "net/nats_bus.hpp"

#include <gtest/gtest.h>
#include <nats/nats.h>

#include <algorithm>
#include <atomic>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "net/frame_batch.hpp"
#include "testkit/eventually.hpp"
#include "testkit/nats_server.hpp"

namespace {

namespace asio = boost::asio;
using ccp::net::bus;
using ccp::net::bus_options;
using ccp::net::bus_state;
using namespace std::chrono_literals;

// Every wait in these tests is bounded by this (a healthy run needs milliseconds).
constexpr auto wait_bound = 10s;
// How long a test watches for something that must not happen (a duplicate, a stray frame).
constexpr auto settle = 200ms;
// Payload of the frames a test publishes until a subscription is known to be live on the
// server (SUB and PUB travel on different connections, so a SUB is not ordered before a
// later PUB of another client). Handlers count probes apart from the test's frames.
const std::string probe_payload = "probe";

ccp::core::frame_ptr make_frame(std::string s) {
  return std::make_shared<const std::string>(std::move(s));
}

// Polls `pred` every 2 ms until it holds or `bound` passed.
bool wait_for(const std::function<bool()>& pred, std::chrono::milliseconds bound = wait_bound) {
  return ccp::testkit::eventually(pred, bound, 2ms);
}

// Publishes probes on `subject` every 20 ms until `ready` holds (bounded).
bool probe_until(bus& pub, std::string_view subject, const std::function<bool()>& ready) {
  const auto probe = make_frame(probe_payload);
  const auto deadline = std::chrono::steady_clock::now() + wait_bound;
  while (!ready()) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    pub.publish(subject, probe);
    std::this_thread::sleep_for(20ms);
  }
  return true;
}

// What one subscription received: the test's frames in order, probes only counted.
class inbox {
 public:
  ccp::net::bus_handler handler() {
    return [this](std::string_view subject, ccp::core::frame_buf f) {
      std::lock_guard lock(mu_);
      if (*f == probe_payload) {
        ++probes_;
      } else {
        msgs_.emplace_back(std::string(subject), std::move(*f));
      }
    };
  }
  std::size_t size() const {
    std::lock_guard lock(mu_);
    return msgs_.size();
  }
  std::size_t probes() const {
    std::lock_guard lock(mu_);
    return probes_;
  }
  std::vector<std::pair<std::string, std::string>> msgs() const {
    std::lock_guard lock(mu_);
    return msgs_;
  }

 private:
  mutable std::mutex mu_;
  std::vector<std::pair<std::string, std::string>> msgs_;
  std::size_t probes_ = 0;
};

// Publishes `payload` on `subject` every 20 ms until `in` received it (bounded): a frame
// that must get through once the bus has recovered.
bool publish_until_received(bus& pub, std::string_view subject, const std::string& payload,
                            const inbox& in) {
  const auto f = make_frame(payload);
  return wait_for([&] {
    pub.publish(subject, f);
    std::this_thread::sleep_for(20ms);
    const auto msgs = in.msgs();
    return std::any_of(msgs.begin(), msgs.end(),
                       [&](const auto& m) { return m.second == payload; });
  });
}

// Records on_state reports.
class state_log {
 public:
  std::function<void(bus_state, std::string_view)> callback() {
    return [this](bus_state s, std::string_view) {
      std::lock_guard lock(mu_);
      states_.push_back(s);
    };
  }
  std::size_t count(bus_state s) const {
    std::lock_guard lock(mu_);
    std::size_t n = 0;
    for (auto x : states_)
      n += x == s ? 1 : 0;
    return n;
  }

 private:
  mutable std::mutex mu_;
  std::vector<bus_state> states_;
};

// One nats-server per test, and an io_context run by two threads (so that strands matter).
class NatsBusTest : public ::testing::Test {
 protected:
  NatsBusTest() : guard_(asio::make_work_guard(ioc_)) {
    for (int i = 0; i < 2; ++i)
      threads_.emplace_back([this] { ioc_.run(); });
  }
  ~NatsBusTest() override {
    guard_.reset();
    ioc_.stop();
    for (auto& t : threads_)
      t.join();
  }

  std::shared_ptr<bus> open(bus_options opts = {}) { return open_on(server_, std::move(opts)); }
  // The same on another server than the fixture's.
  std::shared_ptr<bus> open_on(const ccp::testkit::nats_server& server, bus_options opts = {}) {
    if (!opts.io_executor) opts.io_executor = ioc_.get_executor();
    auto b = ccp::net::open_nats_bus(server.url(), std::move(opts));
    if (!b) throw std::runtime_error("open_nats_bus: " + b.error());
    return *b;
  }
  asio::any_io_executor strand() { return asio::make_strand(ioc_); }
  // Receivers live as long as the fixture, past the io threads: a handler that began before
  // its bus was destroyed may still run on another thread while the test body unwinds.
  inbox& make_inbox() { return inboxes_.emplace_back(); }
  state_log& make_state_log() { return logs_.emplace_back(); }
  // Waits until everything posted to `ex` before this call has run.
  bool drain(const asio::any_io_executor& ex) {
    auto done = std::make_shared<std::atomic<bool>>(false);
    asio::post(ex, [done] { done->store(true); });
    return wait_for([&] { return done->load(); });
  }

  ccp::testkit::nats_server server_;
  std::deque<inbox> inboxes_;
  std::deque<state_log> logs_;
  asio::io_context ioc_;
  asio::executor_work_guard<asio::io_context::executor_type> guard_;
  std::vector<std::thread> threads_;
};

TEST_F(NatsBusTest, PlainSubscriptionFansOutToEverySubscriber) {
  inbox& in1 = make_inbox();
  inbox& in2 = make_inbox();
  auto pub = open();
  auto b1 = open();
  auto b2 = open();
  const std::string subject = "ccp.test.fan";
  ASSERT_TRUE(b1->subscribe(subject, "", strand(), in1.handler()));
  ASSERT_TRUE(b2->subscribe(subject, "", strand(), in2.handler()));
  ASSERT_TRUE(probe_until(*pub, subject, [&] { return in1.probes() > 0 && in2.probes() > 0; }));

  constexpr int n = 50;
  for (int i = 0; i < n; ++i)
    pub->publish(subject, make_frame("m" + std::to_string(i)));
  ASSERT_TRUE(wait_for([&] { return in1.size() == n && in2.size() == n; }))
      << in1.size() << " and " << in2.size() << " of " << n;
  for (const inbox* in : {&in1, &in2}) {
    const auto msgs = in->msgs();
    for (int i = 0; i < n; ++i) {
      EXPECT_EQ(msgs[i].first, subject);
      EXPECT_EQ(msgs[i].second, "m" + std::to_string(i));  // one publisher: order is kept
    }
  }
  EXPECT_EQ(pub->dropped(), 0u);
}

TEST_F(NatsBusTest, QueueGroupDeliversEachMessageToExactlyOneMember) {
  inbox& in1 = make_inbox();
  inbox& in2 = make_inbox();
  auto pub = open();
  auto b1 = open();
  auto b2 = open();
  const std::string subject = "ccp.test.any";
  ASSERT_TRUE(b1->subscribe(subject, "workers", strand(), in1.handler()));
  ASSERT_TRUE(b2->subscribe(subject, "workers", strand(), in2.handler()));
  // The server picks a member at random: probe until both have been picked once.
  ASSERT_TRUE(probe_until(*pub, subject, [&] { return in1.probes() > 0 && in2.probes() > 0; }));

  // A run of publications to one subject leaves as one batch, which one member takes whole:
  // 20 bursts apart in time, so that the server picks a member 20 times or more (all 20
  // picks alike: 1 in 2^19).
  constexpr int n = 200;
  for (int i = 0; i < n; ++i) {
    pub->publish(subject, make_frame(std::to_string(i)));
    if (i % 10 == 9) std::this_thread::sleep_for(5ms);
  }
  ASSERT_TRUE(wait_for([&] { return in1.size() + in2.size() >= n; }));
  std::this_thread::sleep_for(settle);  // a duplicate would arrive by now

  std::multiset<std::string> seen;
  for (const inbox* in : {&in1, &in2}) {
    for (const auto& m : in->msgs())
      seen.insert(m.second);
  }
  ASSERT_EQ(seen.size(), static_cast<std::size_t>(n));
  for (int i = 0; i < n; ++i)
    EXPECT_EQ(seen.count(std::to_string(i)), 1u) << i;
  EXPECT_GT(in1.size(), 0u);
  EXPECT_GT(in2.size(), 0u);
}

TEST_F(NatsBusTest, UnsubscribeFromTheHandlerStopsDeliveryAtOnce) {
  inbox& sentinel = make_inbox();
  auto pub = open();
  auto sub = open();
  const std::string subject = "ccp.test.unsub";
  const auto ex = strand();

  std::atomic<ccp::net::subscription_id> id{0};
  std::atomic<int> calls{0};
  std::atomic<int> calls_after_unsubscribe{0};
  std::atomic<bool> unsubscribed{false};
  std::atomic<bool> probed{false};
  auto h = [&](std::string_view, ccp::core::frame_buf f) {
    if (unsubscribed.load()) ++calls_after_unsubscribe;
    if (*f == probe_payload) {
      probed = true;
      return;
    }
    if (++calls == 20) {  // on the handler's executor: no call may follow
      sub->unsubscribe(id.load());
      unsubscribed = true;
    }
  };
  auto r = sub->subscribe(subject, "", ex, h);
  ASSERT_TRUE(r) << r.error();
  id = *r;
  ASSERT_TRUE(sub->subscribe(subject, "", strand(), sentinel.handler()));
  ASSERT_TRUE(probe_until(*pub, subject, [&] { return probed.load() && sentinel.probes() > 0; }));

  // Flood, so that frames are queued on the executor when the handler unsubscribes.
  std::atomic<bool> stop{false};
  std::thread flood([&] {
    const auto f = make_frame("x");
    while (!stop.load()) {
      for (int i = 0; i < 100; ++i)
        pub->publish(subject, f);
      std::this_thread::sleep_for(1ms);
    }
  });
  const bool went_on = wait_for([&] { return unsubscribed.load() && sentinel.size() > 2000; });
  stop = true;
  flood.join();
  ASSERT_TRUE(went_on) << "calls " << calls.load() << ", sentinel " << sentinel.size();
  ASSERT_TRUE(drain(ex));
  EXPECT_EQ(calls.load(), 20);
  EXPECT_EQ(calls_after_unsubscribe.load(), 0);
  sub->unsubscribe(id.load());  // again: ignored
  sub->unsubscribe(987654321);  // unknown: ignored
}

TEST_F(NatsBusTest, UnsubscribeFromAnotherThreadStopsDeliveryOnceDrained) {
  inbox& in = make_inbox();
  inbox& sentinel = make_inbox();
  auto pub = open();
  auto sub = open();
  const std::string subject = "ccp.test.unsub2";
  const auto ex = strand();
  auto r = sub->subscribe(subject, "", ex, in.handler());
  ASSERT_TRUE(r) << r.error();
  ASSERT_TRUE(sub->subscribe(subject, "", strand(), sentinel.handler()));
  ASSERT_TRUE(probe_until(*pub, subject, [&] { return in.probes() > 0 && sentinel.probes() > 0; }));

  std::atomic<bool> stop{false};
  std::thread flood([&] {
    const auto f = make_frame("x");
    while (!stop.load()) {
      for (int i = 0; i < 100; ++i)
        pub->publish(subject, f);
      std::this_thread::sleep_for(1ms);
    }
  });
  ASSERT_TRUE(wait_for([&] { return in.size() > 500; }));
  sub->unsubscribe(*r);
  // unsubscribe returned: nothing new is posted; what was posted is dropped on the executor.
  ASSERT_TRUE(drain(ex));
  const auto frozen = in.size();
  const auto sentinel_then = sentinel.size();
  const bool went_on = wait_for([&] { return sentinel.size() > sentinel_then + 2000; });
  stop = true;
  flood.join();
  ASSERT_TRUE(went_on);
  EXPECT_EQ(in.size(), frozen);
}

// A queue member whose executor is stuck (a stalled process) while the server gives it its
// share, then leaves the group keeping what was received: every message reaches one of the
// two members, none is lost (NATS drains the member: what the server gave it before the
// UNSUB is still delivered). A plain unsubscribe here loses the stuck member's share.
TEST_F(NatsBusTest, AQueueMemberThatLeavesKeepingWhatItReceivedLosesNothing) {
  inbox& in1 = make_inbox();
  inbox& in2 = make_inbox();
  auto pub = open();
  auto b1 = open();
  auto b2 = open();
  const std::string subject = "ccp.test.any.leave";
  const auto stuck = strand();
  auto r1 = b1->subscribe(subject, "workers", stuck, in1.handler());
  ASSERT_TRUE(r1) << r1.error();
  ASSERT_TRUE(b2->subscribe(subject, "workers", strand(), in2.handler()));
  ASSERT_TRUE(probe_until(*pub, subject, [&] { return in1.probes() > 0 && in2.probes() > 0; }));

  // Member 1's executor runs nothing until released: what the server gives it waits.
  std::atomic<bool> release{false};
  asio::post(stuck, [&release] {
    while (!release.load())
      std::this_thread::sleep_for(1ms);
  });
  constexpr int n = 400;
  for (int i = 0; i < n; ++i) {
    pub->publish(subject, make_frame(std::to_string(i)));
    if (i % 10 == 9) std::this_thread::sleep_for(2ms);  // the server picks a member per burst
  }
  ASSERT_TRUE(wait_for([&] { return in2.size() > 0 && in2.size() < static_cast<std::size_t>(n); }));
  std::this_thread::sleep_for(settle);  // member 1's share has reached its connection
  b1->unsubscribe(*r1, true);
  release = true;
  ASSERT_TRUE(wait_for([&] { return in1.size() + in2.size() >= static_cast<std::size_t>(n); }))
      << "member 1 got " << in1.size() << ", member 2 " << in2.size() << " of " << n;
  EXPECT_GT(in1.size(), 0u);
  std::multiset<std::string> seen;
  for (const inbox* in : {&in1, &in2})
    for (const auto& m : in->msgs())
      seen.insert(m.second);
  EXPECT_EQ(seen.size(), static_cast<std::size_t>(n));
  for (int i = 0; i < n; ++i)
    EXPECT_EQ(seen.count(std::to_string(i)), 1u) << i;
  // And the member that left gets nothing new.
  const auto left_with = in1.size();
  for (int i = 0; i < 50; ++i)
    pub->publish(subject, make_frame("after " + std::to_string(i)));
  ASSERT_TRUE(wait_for([&] { return in2.size() + left_with >= static_cast<std::size_t>(n + 50); }));
  EXPECT_EQ(in1.size(), left_with);
}

// An unsubscribe that keeps what was received, from the handler under a flood (what a
// proxy does when it leaves an `any` group with requests queued): every frame the bus had
// taken still reaches the handler, in order, after the unsubscribe; then nothing more,
// while the flood goes on.
TEST_F(NatsBusTest, AnUnsubscribeThatKeepsWhatWasReceivedHandsItOverThenStops) {
  inbox& sentinel = make_inbox();
  auto pub = open();
  auto sub = open();
  const std::string subject = "ccp.test.unsub.keep";
  const auto ex = strand();

  std::atomic<ccp::net::subscription_id> id{0};
  std::atomic<int> calls{0};
  std::atomic<int> calls_after_unsubscribe{0};
  std::atomic<bool> unsubscribed{false};
  std::atomic<bool> probed{false};
  auto h = [&](std::string_view, ccp::core::frame_buf f) {
    if (unsubscribed.load()) ++calls_after_unsubscribe;
    if (*f == probe_payload) {
      probed = true;
      return;
    }
    if (++calls == 20) {
      sub->unsubscribe(id.load(), true);
      unsubscribed = true;
    }
  };
  auto r = sub->subscribe(subject, "", ex, h);
  ASSERT_TRUE(r) << r.error();
  id = *r;
  ASSERT_TRUE(sub->subscribe(subject, "", strand(), sentinel.handler()));
  ASSERT_TRUE(probe_until(*pub, subject, [&] { return probed.load() && sentinel.probes() > 0; }));

  std::atomic<bool> stop{false};
  std::thread flood([&] {
    const auto f = make_frame("x");
    while (!stop.load()) {
      for (int i = 0; i < 100; ++i)
        pub->publish(subject, f);
      std::this_thread::sleep_for(1ms);
    }
  });
  ASSERT_TRUE(wait_for([&] { return unsubscribed.load(); }));
  ASSERT_TRUE(drain(ex));
  const int handed_after = calls_after_unsubscribe.load();
  const auto sentinel_then = sentinel.size();
  const bool went_on = wait_for([&] { return sentinel.size() > sentinel_then + 2000; });
  stop = true;
  flood.join();
  ASSERT_TRUE(went_on) << "sentinel " << sentinel.size();
  ASSERT_TRUE(drain(ex));
  // What was queued when it unsubscribed came after it; the flood after that did not.
  EXPECT_EQ(calls_after_unsubscribe.load(), handed_after);
  EXPECT_EQ(calls.load(), 20 + handed_after);
}

// libnats 3.4.1's read loop may still hold a pointer to a subscription that was just
// unsubscribed (see nats_bus::end): churn under traffic is where freeing it early shows up
// (under ThreadSanitizer as a lock of a destroyed mutex, otherwise as memory corruption).
TEST_F(NatsBusTest, SubscribeUnsubscribeChurnUnderTraffic) {
  inbox& sentinel = make_inbox();
  auto pub = open();
  auto sub = open();
  const std::string subject = "ccp.test.churn";
  ASSERT_TRUE(sub->subscribe(subject, "", strand(), sentinel.handler()));
  ASSERT_TRUE(probe_until(*pub, subject, [&] { return sentinel.probes() > 0; }));

  std::atomic<bool> stop{false};
  std::thread flood([&] {
    const auto f = make_frame("x");
    while (!stop.load()) {
      for (int i = 0; i < 100; ++i)
        pub->publish(subject, f);
      std::this_thread::sleep_for(1ms);
    }
  });
  // Shared with the handlers: a drained queue member (every fourth round) may still be
  // handed what the server gave it after the test's last look.
  auto calls = std::make_shared<std::atomic<int>>(0);
  const auto ex = strand();
  constexpr int rounds = 100;
  for (int i = 0; i < rounds; ++i) {
    auto r = sub->subscribe(subject, i % 2 == 0 ? "" : "q", ex,
                            [calls](std::string_view, ccp::core::frame_buf) { ++*calls; });
    ASSERT_TRUE(r) << r.error();
    if (i == 0) {
      // The first one stays until a message reached its handler (bounded): the churn below
      // must not hide a bus that never delivers. 2 ms windows alone may catch nothing.
      ASSERT_TRUE(wait_for([&] { return calls->load() > 0; }));
    } else {
      std::this_thread::sleep_for(2ms);
    }
    sub->unsubscribe(*r, i % 4 == 1);  // every other queue member leaves keeping what it got
  }
  const auto sentinel_then = sentinel.size();
  const bool went_on = wait_for([&] { return sentinel.size() > sentinel_then + 1000; });
  stop = true;
  flood.join();
  EXPECT_TRUE(went_on);
  ASSERT_TRUE(drain(ex));
  EXPECT_GT(calls->load(), 0);
}

TEST_F(NatsBusTest, PrefixIsOnTheWireAndHiddenFromHandlers) {
  inbox& in_a = make_inbox();
  inbox& in_b = make_inbox();
  inbox& raw_a = make_inbox();
  inbox& raw_b = make_inbox();
  bus_options oa, ob;
  oa.prefix = "pa.";
  ob.prefix = "pb.";
  auto a = open(oa);
  auto b = open(ob);
  auto raw = open();
  const std::string subject = "ccp.test.pfx";
  ASSERT_TRUE(a->subscribe(subject, "", strand(), in_a.handler()));
  ASSERT_TRUE(b->subscribe(subject, "", strand(), in_b.handler()));
  ASSERT_TRUE(raw->subscribe("pa." + subject, "", strand(), raw_a.handler()));
  ASSERT_TRUE(raw->subscribe("pb." + subject, "", strand(), raw_b.handler()));
  ASSERT_TRUE(probe_until(*a, subject, [&] { return in_a.probes() > 0 && raw_a.probes() > 0; }));
  ASSERT_TRUE(probe_until(*b, subject, [&] { return in_b.probes() > 0 && raw_b.probes() > 0; }));

  constexpr int n = 10;
  for (int i = 0; i < n; ++i)
    a->publish(subject, make_frame("from-a"));
  for (int i = 0; i < n; ++i)
    b->publish(subject, make_frame("from-b"));
  raw->publish("pb." + subject, make_frame("from-raw"));
  ASSERT_TRUE(wait_for([&] {
    return in_a.size() == n && raw_a.size() == n && in_b.size() == n + 1 && raw_b.size() == n + 1;
  }));
  std::this_thread::sleep_for(settle);  // a frame crossing prefixes would arrive by now

  for (const auto& [subj, payload] : in_a.msgs()) {
    EXPECT_EQ(subj, subject);  // the handler sees the core's subject
    EXPECT_EQ(payload, "from-a");
  }
  for (const auto& [subj, payload] : in_b.msgs()) {
    EXPECT_EQ(subj, subject);
    EXPECT_NE(payload, "from-a");
  }
  for (const auto& [subj, payload] : raw_a.msgs()) {
    EXPECT_EQ(subj, "pa." + subject);  // the wire carries the prefix
    EXPECT_EQ(payload, "from-a");
  }
  // Published by a plain bus on the prefixed subject: b's handler gets it without the prefix.
  // (Frames of different publishers are not ordered: look for it, not at the end.)
  bool from_raw = false;
  for (const auto& m : in_b.msgs())
    from_raw = from_raw || m.second == "from-raw";
  EXPECT_TRUE(from_raw);
}

// A subscription without wildcards hands its own subject to the handler (the bus keeps no
// per-message copy of it); one with wildcards hands each message the subject it came on.
TEST_F(NatsBusTest, WildcardSubscriptionSeesEachMessagesSubject) {
  inbox& exact = make_inbox();
  inbox& star = make_inbox();
  inbox& tail = make_inbox();
  bus_options o;
  o.prefix = "pw.";
  auto pub = open(o);
  auto sub = open(o);
  ASSERT_TRUE(sub->subscribe("ccp.wild.a", "", strand(), exact.handler()));
  ASSERT_TRUE(sub->subscribe("ccp.*.b", "", strand(), star.handler()));
  ASSERT_TRUE(sub->subscribe("ccp.wild.>", "", strand(), tail.handler()));
  ASSERT_TRUE(probe_until(*pub, "ccp.wild.a", [&] { return exact.probes() > 0; }));
  ASSERT_TRUE(probe_until(*pub, "ccp.wild.b", [&] { return star.probes() > 0; }));
  ASSERT_TRUE(probe_until(*pub, "ccp.wild.z", [&] { return tail.probes() > 0; }));

  pub->publish("ccp.wild.a", make_frame("1"));
  pub->publish("ccp.wild.b", make_frame("2"));
  pub->publish("ccp.other.b", make_frame("3"));
  pub->publish("ccp.wild.c.d", make_frame("4"));
  ASSERT_TRUE(wait_for([&] { return exact.size() == 1 && star.size() == 2 && tail.size() == 3; }));
  std::this_thread::sleep_for(settle);

  using msgs = std::vector<std::pair<std::string, std::string>>;
  EXPECT_EQ(exact.msgs(), (msgs{{"ccp.wild.a", "1"}}));
  EXPECT_EQ(star.msgs(), (msgs{{"ccp.wild.b", "2"}, {"ccp.other.b", "3"}}));
  EXPECT_EQ(tail.msgs(), (msgs{{"ccp.wild.a", "1"}, {"ccp.wild.b", "2"}, {"ccp.wild.c.d", "4"}}));
}

TEST_F(NatsBusTest, FramesOf256KiBPassIntact) {
  inbox& in = make_inbox();
  auto pub = open();
  auto sub = open();
  const std::string subject = "ccp.test.big";
  ASSERT_TRUE(sub->subscribe(subject, "", strand(), in.handler()));
  ASSERT_TRUE(probe_until(*pub, subject, [&] { return in.probes() > 0; }));

  std::vector<std::string> sent;
  std::uint32_t x = 12345;  // a fixed LCG: every byte value, no pattern aligned to a buffer
  for (int k = 0; k < 4; ++k) {
    std::string f(256 * 1024, '\0');
    for (auto& c : f) {
      x = x * 1664525u + 1013904223u;
      c = static_cast<char>(x >> 24);
    }
    sent.push_back(std::move(f));
  }
  sent.emplace_back();  // and an empty frame
  for (const auto& f : sent)
    pub->publish(subject, make_frame(f));
  ASSERT_TRUE(wait_for([&] { return in.size() == sent.size(); }));
  const auto got = in.msgs();
  for (std::size_t i = 0; i < sent.size(); ++i) {
    EXPECT_EQ(got[i].second.size(), sent[i].size()) << i;
    EXPECT_TRUE(got[i].second == sent[i]) << "frame " << i << " differs";
  }
  EXPECT_EQ(pub->dropped(), 0u);
}

// A burst larger than any one batch, to a handler on the io_context itself (two threads, no
// strand): every frame arrives, in the publisher's order, and the handler is never called
// twice at once (the bus drains one batch at a time).
TEST_F(NatsBusTest, BurstArrivesWholeInOrderOneHandlerCallAtATime) {
  auto pub = open();
  auto sub = open();
  const std::string subject = "ccp.test.burst";
  // Shared with the handler: it may still be returning on an io thread when the test ends.
  struct seen {
    std::atomic<int> inside{0};
    std::atomic<bool> overlapped{false};
    std::atomic<std::size_t> probes{0};
    std::mutex mu;
    std::vector<std::string> frames;  // guarded by mu
    std::size_t count() {
      std::lock_guard lock(mu);
      return frames.size();
    }
  };
  auto st = std::make_shared<seen>();
  auto handler = [st](std::string_view, ccp::core::frame_buf f) {
    if (st->inside.fetch_add(1) != 0) st->overlapped.store(true);
    if (*f == probe_payload) {
      st->probes.fetch_add(1);
    } else {
      std::lock_guard lock(st->mu);
      st->frames.push_back(std::move(*f));
    }
    st->inside.fetch_sub(1);
  };
  ASSERT_TRUE(sub->subscribe(subject, "", ioc_.get_executor(), handler));
  ASSERT_TRUE(probe_until(*pub, subject, [&] { return st->probes.load() > 0; }));

  constexpr std::size_t n = 20'000;
  for (std::size_t i = 0; i < n; ++i)
    pub->publish(subject, make_frame("m" + std::to_string(i)));
  ASSERT_TRUE(wait_for([&] { return st->count() == n; })) << st->count() << " of " << n;
  EXPECT_FALSE(st->overlapped.load());
  std::lock_guard lock(st->mu);
  for (std::size_t i = 0; i < n; ++i)
    ASSERT_EQ(st->frames[i], "m" + std::to_string(i)) << "at " << i;
  EXPECT_EQ(pub->dropped(), 0u);
}

// A plain libnats connection next to the buses: what is on the wire, and payloads that no
// ccp bus would publish. Blocking calls, on the test's thread only.
class raw_nats {
 public:
  explicit raw_nats(const std::string& url) {
    if (natsConnection_ConnectTo(&nc_, url.c_str()) != NATS_OK)
      throw std::runtime_error("raw libnats connection failed");
  }
  ~raw_nats() {
    if (sub_ != nullptr) natsSubscription_Destroy(sub_);
    natsConnection_Destroy(nc_);
  }
  raw_nats(const raw_nats&) = delete;
  raw_nats& operator=(const raw_nats&) = delete;

  void subscribe(const std::string& subject) {
    ASSERT_EQ(natsConnection_SubscribeSync(&sub_, nc_, subject.c_str()), NATS_OK);
    ASSERT_EQ(natsConnection_Flush(nc_), NATS_OK);
  }
  // The next payload on the subscription, or nullopt after `bound`.
  std::optional<std::string> next(std::chrono::milliseconds bound = wait_bound) {
    natsMsg* m = nullptr;
    if (natsSubscription_NextMsg(&m, sub_, bound.count()) != NATS_OK) return std::nullopt;
    std::string payload(natsMsg_GetData(m), static_cast<std::size_t>(natsMsg_GetDataLength(m)));
    natsMsg_Destroy(m);
    return payload;
  }
  void publish(const std::string& subject, const std::string& payload) {
    ASSERT_EQ(natsConnection_Publish(nc_, subject.c_str(), payload.data(),
                                     static_cast<int>(payload.size())),
              NATS_OK);
    ASSERT_EQ(natsConnection_Flush(nc_), NATS_OK);
  }

 private:
  natsConnection* nc_ = nullptr;
  natsSubscription* sub_ = nullptr;
};

// Publications to one subject leave in batches (net/frame_batch.hpp): fewer NATS messages
// than frames on the wire, each one a frame or a well-formed batch, and the subscriber gets
// back every frame in order. Publications alternating between two subjects stay in their
// order for a subscriber of both.
TEST_F(NatsBusTest, RunsOfOneSubjectLeaveAsBatchesAndArriveAsTheirFrames) {
  inbox& in = make_inbox();
  inbox& both = make_inbox();
  auto pub = open();
  auto sub = open();
  raw_nats wire(server_.url());
  wire.subscribe("ccp.batch.a");
  ASSERT_TRUE(sub->subscribe("ccp.batch.a", "", strand(), in.handler()));
  ASSERT_TRUE(sub->subscribe("ccp.batch.*", "", strand(), both.handler()));
  ASSERT_TRUE(probe_until(*pub, "ccp.batch.a", [&] { return in.probes() > 0; }));
  ASSERT_TRUE(probe_until(*pub, "ccp.batch.b", [&] { return both.probes() > 1; }));
  while (wire.next(settle)) {
  }  // the probes

  constexpr std::size_t n = 5000;
  for (std::size_t i = 0; i < n; ++i)
    pub->publish("ccp.batch.a", make_frame("a" + std::to_string(i)));
  std::size_t frames = 0;
  std::size_t messages = 0;
  while (frames < n) {
    auto payload = wire.next();
    ASSERT_TRUE(payload) << "after " << frames << " frames";
    ++messages;
    std::vector<std::string_view> views;
    if (ccp::net::needs_batch(*payload)) {
      ASSERT_TRUE(ccp::net::split_batch(*payload, views)) << "message " << messages;
    } else {
      views.assign(1, *payload);
    }
    for (auto v : views)
      ASSERT_EQ(v, "a" + std::to_string(frames++));
  }
  EXPECT_LT(messages, n) << "no publication was batched";
  ASSERT_TRUE(wait_for([&] { return in.size() == n; })) << in.size() << " of " << n;
  const auto got = in.msgs();
  for (std::size_t i = 0; i < n; ++i)
    ASSERT_EQ(got[i].second, "a" + std::to_string(i)) << "at " << i;

  // Alternating subjects: runs of one frame, in the order published.
  ASSERT_TRUE(wait_for([&] { return both.size() == n; }));
  const std::size_t before = n;
  std::vector<std::pair<std::string, std::string>> sent;
  for (std::size_t i = 0; i < 1000; ++i) {
    const std::string subject = i % 3 == 0 ? "ccp.batch.b" : "ccp.batch.a";
    sent.emplace_back(subject, "x" + std::to_string(i));
    pub->publish(subject, make_frame(sent.back().second));
  }
  ASSERT_TRUE(wait_for([&] { return both.size() == before + sent.size(); }));
  const auto all = both.msgs();
  EXPECT_TRUE(
      std::equal(sent.begin(), sent.end(), all.begin() + static_cast<std::ptrdiff_t>(before)));
  EXPECT_EQ(pub->dropped(), 0u);
}

// A server whose max_payload is below the bus's batch size: batches stay within it, so a
// burst of small frames arrives whole, and a frame over it is dropped at once.
TEST_F(NatsBusTest, BatchesFitAServersSmallerMaxPayload) {
  ccp::testkit::nats_server small("max_payload: 4096\n");
  inbox& in = make_inbox();
  auto pub = open_on(small);
  auto sub = open_on(small);
  const std::string subject = "ccp.test.small";
  ASSERT_TRUE(sub->subscribe(subject, "", strand(), in.handler()));
  ASSERT_TRUE(probe_until(*pub, subject, [&] { return in.probes() > 0; }));

  pub->publish(subject, make_frame(std::string(4097, 'x')));
  EXPECT_EQ(pub->dropped(), 1u);
  constexpr std::size_t n = 2000;  // 200 KiB in all: 50 times the server's max_payload
  for (std::size_t i = 0; i < n; ++i)
    pub->publish(subject, make_frame(std::string(96, 'a') + std::to_string(i)));
  ASSERT_TRUE(wait_for([&] { return in.size() == n; })) << in.size() << " of " << n;
  const auto got = in.msgs();
  for (std::size_t i = 0; i < n; ++i)
    ASSERT_EQ(got[i].second, std::string(96, 'a') + std::to_string(i)) << "at " << i;
  EXPECT_EQ(pub->dropped(), 1u);
}

// A server restarted with a larger max_payload takes longer frames at once, though the bus
// publishes nothing shorter meanwhile (which would make it read the server's new figure).
TEST_F(NatsBusTest, AServerRestartedWithALargerMaxPayloadTakesLongerFrames) {
  ccp::testkit::nats_server grown("max_payload: 4096\n");
  inbox& in = make_inbox();
  auto pub = open_on(grown);
  auto sub = open_on(grown);
  const std::string subject = "ccp.test.grown";
  ASSERT_TRUE(sub->subscribe(subject, "", strand(), in.handler()));
  ASSERT_TRUE(probe_until(*pub, subject, [&] { return in.probes() > 0; }));
  const std::string longer(8192, 'x');
  pub->publish(subject, make_frame(longer));
  EXPECT_EQ(pub->dropped(), 1u);

  grown.set_config("max_payload: 65536\n");
  grown.restart();
  // Refused while the bus reconnects; then taken, and delivered once the subscriber's
  // subscription is back.
  ASSERT_TRUE(publish_until_received(*pub, subject, longer, in)) << pub->dropped() << " dropped";
}

// Payloads that start with the batch magic but are no batch reach the handler as they were
// sent: published through a bus (which sends them as a batch of one) or by a foreign client.
// A foreign client's well-formed batch is split like a bus's.
TEST_F(NatsBusTest, PayloadsThatOnlyLookLikeBatchesArriveUnchanged) {
  inbox& in = make_inbox();
  auto pub = open();
  auto sub = open();
  raw_nats foreign(server_.url());
  const std::string subject = "ccp.test.magic";
  ASSERT_TRUE(sub->subscribe(subject, "", strand(), in.handler()));
  ASSERT_TRUE(probe_until(*pub, subject, [&] { return in.probes() > 0; }));

  const std::string looks_like_a_batch("\xCB\x01\x01\x00\x01\x00\x00\x00z", 9);  // a batch of "z"
  pub->publish(subject, make_frame(looks_like_a_batch));
  pub->publish(subject, make_frame("\xCB"));
  ASSERT_TRUE(wait_for([&] { return in.size() == 2; }));
  foreign.publish(subject, "\xCB\x01\x05\x00junk");
  foreign.publish(subject, looks_like_a_batch);
  ASSERT_TRUE(wait_for([&] { return in.size() == 4; }));
  std::this_thread::sleep_for(settle);
  using msgs = std::vector<std::pair<std::string, std::string>>;
  EXPECT_EQ(in.msgs(), (msgs{{subject, looks_like_a_batch},
                             {subject, "\xCB"},
                             {subject, "\xCB\x01\x05\x00junk"},
                             {subject, "z"}}));
}

TEST_F(NatsBusTest, PublishCountsFramesItCannotSend) {
  auto pub = open();
  pub->publish("ccp.test.ok", make_frame("fine"));
  EXPECT_EQ(pub->dropped(), 0u);
  pub->publish("bad subject", make_frame("x"));  // a blank would split the protocol line
  pub->publish("", make_frame("x"));
  EXPECT_EQ(pub->dropped(), 2u);
  // Past the server's max_payload (1 MiB by default): libnats refuses it.
  pub->publish("ccp.test.huge", make_frame(std::string(2 * 1024 * 1024, 'x')));
  EXPECT_EQ(pub->dropped(), 3u);
}

TEST_F(NatsBusTest, PublishDropsFramesWhileTheServerReadsNothingThenRecovers) {
  inbox& in = make_inbox();
  auto pub = open();
  auto sub = open();
  const std::string subject = "ccp.test.hung";
  ASSERT_TRUE(sub->subscribe(subject, "", strand(), in.handler()));
  ASSERT_TRUE(probe_until(*pub, subject, [&] { return in.probes() > 0; }));

  server_.pause();
  const auto big = make_frame(std::string(64 * 1024, 'x'));
  // The kernel's socket buffers take a few MiB, then libnats' buffer up to its bound (8 MiB),
  // and the bus's queue as much again until the strand takes it: 64 MiB is far past all.
  int sent = 0;
  while (pub->dropped() == 0 && sent < 1024) {
    pub->publish(subject, big);
    ++sent;
  }
  // The strand hands what is queued to libnats while the server still reads nothing: the
  // bound is measured at its fullest before the server reads again.
  std::this_thread::sleep_for(100ms);
  server_.resume();
  EXPECT_GT(pub->dropped(), 0u) << "after " << sent << " frames of 64 KiB";
  // The connection survived: what was buffered arrives, and so do new frames, as large as
  // those that filled the buffer (the bound must be measured again once the server reads).
  const std::string after = "after" + std::string(64 * 1024 - 5, 'y');
  ASSERT_TRUE(publish_until_received(*pub, subject, after, in)) << pub->dropped() << " dropped";
}

TEST_F(NatsBusTest, SubscribeRefusesBadSubjectsNamingThem) {
  auto b = open();
  auto r = b->subscribe("bad subject", "", strand(), [](std::string_view, ccp::core::frame_buf) {});
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().find("'bad subject'"), std::string::npos) << r.error();
  r = b->subscribe("", "", strand(), [](std::string_view, ccp::core::frame_buf) {});
  EXPECT_FALSE(r);
  r = b->subscribe("ok", "bad queue", strand(), [](std::string_view, ccp::core::frame_buf) {});
  EXPECT_FALSE(r);
}

TEST_F(NatsBusTest, MalformedUrlGivesAnErrorNamingIt) {
  const std::string port = std::to_string(server_.port());
  for (const std::string& url : std::vector<std::string>{
           "http://127.0.0.1:" + port,
           "nats://",
           "nats://127.0.0.1",
           "nats://127.0.0.1:",
           "nats://:4222",
           "nats://127.0.0.1:0",
           "nats://127.0.0.1:65536",
           "nats://127.0.0.1:42x2",
           "nats://127.0.0.1:" + port + ",",
           "nats://127.0.0.1:" + port + ",nohost",
           "nats://127.0.0.1:" + port + "/path",
           "nats://[::1:" + port,
           "nats://::1:" + port,
       }) {
    auto b = ccp::net::open_nats_bus(url, {});
    ASSERT_FALSE(b) << url;
    EXPECT_NE(b.error().find("'" + url + "'"), std::string::npos) << b.error();
    EXPECT_NE(b.error().find("nats://[user[:password]@]host:port"), std::string::npos) << b.error();
  }
  // Well-formed lists connect to the first server that answers (user info is libnats' to
  // read: nats_auth_test.cpp).
  for (const std::string& url : std::vector<std::string>{
           "nats://127.0.0.1:" + port,
           "nats://127.0.0.1:" + port + ",127.0.0.1:1",
           "nats://127.0.0.1:" + port + ",nats://localhost:" + port,
       }) {
    bus_options o;
    o.io_executor = ioc_.get_executor();
    auto b = ccp::net::open_nats_bus(url, o);
    EXPECT_TRUE(b) << url << ": " << b.error();
  }
  bus_options bad_prefix;
  bad_prefix.io_executor = ioc_.get_executor();
  bad_prefix.prefix = "p*.";
  EXPECT_FALSE(ccp::net::open_nats_bus(server_.url(), bad_prefix));
  // The connection's I/O needs an executor to run on.
  auto no_executor = ccp::net::open_nats_bus(server_.url(), {});
  ASSERT_FALSE(no_executor);
  EXPECT_NE(no_executor.error().find("io_executor"), std::string::npos) << no_executor.error();
}

TEST_F(NatsBusTest, UnreachableServerAtStartIsAnError) {
  const std::string url = server_.url();
  server_.kill();
  const auto t0 = std::chrono::steady_clock::now();
  bus_options o;
  o.io_executor = ioc_.get_executor();
  auto b = ccp::net::open_nats_bus(url, o);
  ASSERT_FALSE(b);
  EXPECT_NE(b.error().find("'" + url + "'"), std::string::npos) << b.error();
  EXPECT_NE(b.error().find("no NATS server reachable"), std::string::npos) << b.error();
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 5s);  // refused, not retried
}

TEST_F(NatsBusTest, SubscriptionsKeepWorkingAfterTheServerRestarts) {
  inbox& plain = make_inbox();
  inbox& queued = make_inbox();
  state_log& pub_states = make_state_log();
  state_log& sub_states = make_state_log();
  bus_options po, so;
  po.on_state = pub_states.callback();
  po.state_executor = strand();
  so.on_state = sub_states.callback();
  so.state_executor = strand();
  auto pub = open(po);
  auto sub = open(so);
  const std::string subject = "ccp.test.restart";
  ASSERT_TRUE(sub->subscribe(subject, "", strand(), plain.handler()));
  ASSERT_TRUE(sub->subscribe(subject, "group", strand(), queued.handler()));
  ASSERT_TRUE(probe_until(*pub, subject, [&] { return plain.probes() > 0 && queued.probes(); }));
  EXPECT_TRUE(wait_for([&] { return sub_states.count(bus_state::connected) == 1; }));

  server_.kill();
  ASSERT_TRUE(wait_for([&] {
    return pub_states.count(bus_state::disconnected) > 0 &&
           sub_states.count(bus_state::disconnected) > 0;
  }));
  server_.restart();
  ASSERT_TRUE(wait_for([&] {
    return pub_states.count(bus_state::reconnected) > 0 &&
           sub_states.count(bus_state::reconnected) > 0;
  }));
  // libnats re-sent both subscriptions on the reconnect: frames flow again.
  const auto f = make_frame("after");
  ASSERT_TRUE(wait_for([&] {
    pub->publish(subject, f);
    std::this_thread::sleep_for(20ms);
    return plain.size() > 0 && queued.size() > 0;
  }));
  for (const auto& m : plain.msgs())
    EXPECT_EQ(m.second, "after");
  EXPECT_EQ(sub_states.count(bus_state::closed), 0u);
}

TEST_F(NatsBusTest, NoHandlerOrStateCallbackAfterTheBusIsDestroyed) {
  inbox& sentinel = make_inbox();
  state_log& states = make_state_log();
  auto pub = open();
  bus_options so;
  so.on_state = states.callback();
  so.state_executor = strand();
  auto sub = open(so);
  const std::string subject = "ccp.test.destroy";
  const auto ex = strand();
  std::atomic<bool> destroyed{false};
  std::atomic<int> calls_after{0};
  std::atomic<int> calls{0};
  ASSERT_TRUE(sub->subscribe(subject, "", ex, [&](std::string_view, ccp::core::frame_buf) {
    if (destroyed.load()) ++calls_after;
    ++calls;
    std::this_thread::sleep_for(20us);  // slower than the flood: frames queue up on `ex`
  }));
  auto watcher = open();
  ASSERT_TRUE(watcher->subscribe(subject, "", strand(), sentinel.handler()));
  ASSERT_TRUE(probe_until(*pub, subject, [&] { return calls.load() > 0 && sentinel.probes(); }));

  std::atomic<bool> stop{false};
  std::thread flood([&] {
    const auto f = make_frame("x");
    while (!stop.load()) {
      for (int i = 0; i < 100; ++i)
        pub->publish(subject, f);
      std::this_thread::sleep_for(1ms);
    }
  });
  ASSERT_TRUE(wait_for([&] { return calls.load() > 500; }));
  // Destroyed on the handler's executor: nothing may run there afterwards.
  std::atomic<bool> done{false};
  asio::post(ex, [&] {
    sub.reset();
    destroyed = true;
    done = true;
  });
  ASSERT_TRUE(wait_for([&] { return done.load(); }));
  const auto sentinel_then = sentinel.size();
  const bool went_on = wait_for([&] { return sentinel.size() > sentinel_then + 2000; });
  stop = true;
  flood.join();
  ASSERT_TRUE(went_on);
  ASSERT_TRUE(drain(ex));
  EXPECT_EQ(calls_after.load(), 0);
  EXPECT_EQ(states.count(bus_state::closed), 0u);  // not reported once destruction began
}

}  // namespace
