// The host kernel on its own: a scripted role whose actions the test writes, and a port
// that records what the kernel asks of its world, in order.
#include "host/kernel.hpp"
#include "host/written_frames.hpp"

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <type_traits>
#include <vector>

#include "core/address.hpp"
#include "core/message.hpp"

namespace ccp::host {
namespace {

using namespace ccp::core;

// A role that only records what it is told; the test pushes its actions.
class scripted_role final : public node {
 public:
  scripted_role() : node(*address::parse("ccp://proxy/10.0.0.9/p1"), 1) {}
  void push_action(action a) { actions().push_back(std::move(a)); }

  std::vector<std::string> heard;
  std::vector<std::string> routed;
  micros wake = never;
  int ticks = 0;

 protected:
  void start(micros) override { heard.push_back("start"); }
  void stop(micros) override { heard.push_back("stop"); }
  void on_bus(std::string_view subject, frame_buf f, micros) override {
    heard.push_back("bus " + std::string(subject) + " " + *f);
  }
  void on_link_up(link_id l, micros) override { heard.push_back("up " + std::to_string(l)); }
  void on_link_frame(link_id l, frame_buf f, micros) override {
    heard.push_back("frame " + std::to_string(l) + " " + *f);
  }
  void on_link_down(link_id l, micros) override { heard.push_back("down " + std::to_string(l)); }
  void on_link_flushed(link_id l, std::size_t n) override {
    heard.push_back("flushed " + std::to_string(l) + " " + std::to_string(n));
  }
  // What the role itself sends (the application's replies): their bodies, in order.
  void route_out(frame_buf f, const frame_header&, micros) override {
    auto m = decode(*f);
    routed.push_back(m ? m->body : "undecodable");
  }
  void role_tick(micros) override {
    ++ticks;
    wake = never;
  }
  [[nodiscard]] micros role_wake() const override { return wake; }
};

class recording_port final : public world_port {
 public:
  void publish(bus_kind, std::string_view subject, frame_ptr f) override {
    calls.push_back("publish " + std::string(subject) + " " + *f);
  }
  bool subscribe(bus_kind, const std::string& subject, const std::string& queue) override {
    calls.push_back("subscribe " + subject + (queue.empty() ? "" : " " + queue));
    return !refuse;
  }
  void unsubscribe(bus_kind, const std::string& subject) override {
    calls.push_back("unsubscribe " + subject);
  }
  void send(link_id l, frame_ptr f) override {
    calls.push_back("send " + std::to_string(l) + " " + *f);
  }
  void send(link_id l, std::vector<frame_ptr>&& fs) override {
    std::string c = "send " + std::to_string(l);
    for (const auto& f : fs)
      c += " " + *f;
    calls.push_back(c);
  }
  void close(link_id l) override { calls.push_back("close " + std::to_string(l)); }
  void dial(link_id l, const std::string& target) override {
    calls.push_back("dial " + std::to_string(l) + " " + target);
  }
  void wake_at(micros at, std::uint64_t gen) override {
    calls.push_back("wake " + std::to_string(at) + " #" + std::to_string(gen));
  }
  void hand_over_soon() override { calls.push_back("hand over soon"); }

  std::vector<std::string> calls;
  bool refuse = false;
};

frame_ptr text(std::string s) {
  return std::make_shared<const std::string>(std::move(s));
}
frame_buf buf(std::string s) {
  return std::make_shared<std::string>(std::move(s));
}

struct KernelTest : ::testing::Test {
  explicit KernelTest(send_mode mode = send_mode::at_once) {
    auto r = std::make_unique<scripted_role>();
    role = r.get();
    k = std::make_unique<kernel>(std::move(r), port, nullptr, mode);
  }
  // The role produces `acts` in one turn.
  void turn(std::vector<action> acts) {
    for (auto& a : acts)
      role->push_action(std::move(a));
    k->run_actions(0);
  }
  recording_port port;
  scripted_role* role = nullptr;
  std::unique_ptr<kernel> k;
};

using strings = std::vector<std::string>;

TEST_F(KernelTest, EveryEventReachesTheRoleThroughOneEntryPoint) {
  k->handle(in::start{}, 0);
  k->handle(in::bus_frame{"s", buf("x")}, 0);
  k->handle(in::link_up{3}, 0);
  k->handle(in::link_frame{3, buf("y")}, 0);
  k->handle(in::link_flushed{3, 2}, 0);
  k->handle(in::link_down{3}, 0);
  k->handle(in::stop{}, 0);
  EXPECT_EQ(role->heard,
            (strings{"start", "bus s x", "up 3", "frame 3 y", "flushed 3 2", "down 3", "stop"}));
}

TEST_F(KernelTest, ASubjectIsJoinedOnceAndLeftOnlyWhenJoined) {
  turn({act::subscribe{bus_kind::backbone, "a", "q"}, act::subscribe{bus_kind::backbone, "a", ""},
        act::unsubscribe{bus_kind::backbone, "b"}, act::unsubscribe{bus_kind::backbone, "a"},
        act::unsubscribe{bus_kind::backbone, "a"}});
  EXPECT_EQ(port.calls, (strings{"subscribe a q", "unsubscribe a"}));
  EXPECT_EQ(k->subscription_count(), 0u);
}

TEST_F(KernelTest, ASubscriptionTheBusRefusedIsTriedAgainNextTime) {
  port.refuse = true;
  turn({act::subscribe{bus_kind::host, "a", ""}});
  port.refuse = false;
  turn({act::subscribe{bus_kind::host, "a", ""}});
  EXPECT_EQ(port.calls, (strings{"subscribe a", "subscribe a"}));
  EXPECT_EQ(k->subscription_count(), 1u);
}

TEST_F(KernelTest, SendsGoStraightToTheWorld) {
  // The role sends only on links it holds (tests/core/roles: stale_links_test.cpp); the
  // world drops a frame for a link it does not have. No lookup per frame here.
  k->handle(in::link_up{1}, 0);
  turn({act::send{1, text("a")}, act::send{2, text("nowhere")}});
  EXPECT_EQ(port.calls, (strings{"send 1 a", "send 2 nowhere"}));
}

TEST_F(KernelTest, AClosedLinksFramesReachTheRoleButItsDownDoesNot) {
  k->handle(in::link_up{4}, 0);
  turn({act::close{4, errc{}}});
  k->handle(in::link_frame{4, buf("late")}, 0);  // in flight when the role closed it
  k->handle(in::link_flushed{4, 1}, 0);
  k->handle(in::link_down{4}, 0);
  EXPECT_EQ(role->heard, (strings{"up 4", "frame 4 late", "flushed 4 1"}));
  EXPECT_EQ(port.calls, (strings{"close 4"}));
  EXPECT_EQ(k->link_count(), 0u);
}

TEST_F(KernelTest, ALinkGoesDownOnceAndAFailedDialIsReported) {
  turn({act::dial{7, "p2"}});
  k->handle(in::link_down{7}, 0);  // the dial failed
  k->handle(in::link_down{7}, 0);
  k->handle(in::link_down{8}, 0);  // never known
  EXPECT_EQ(role->heard, (strings{"down 7"}));
}

TEST_F(KernelTest, ACloseIsPassedOnEvenForALinkTheKernelDoesNotKnow) {
  // The world decides: a dial given up, a link its own network already dropped.
  turn({act::close{9, errc{}}});
  EXPECT_EQ(port.calls, (strings{"close 9"}));
}

TEST_F(KernelTest, TheWorldIsAskedToWakeOnlyForAnEarlierTime) {
  role->wake = 500;
  k->run_actions(0);
  role->wake = 800;  // later: the armed wake comes first anyway
  k->run_actions(0);
  role->wake = 300;
  k->run_actions(0);
  EXPECT_EQ(port.calls, (strings{"wake 500 #1", "wake 300 #2"}));
  k->wake(1, 300);  // superseded
  EXPECT_EQ(role->ticks, 0);
  k->wake(2, 300);
  EXPECT_EQ(role->ticks, 1);
  role->wake = 900;  // after a wake, any time is new
  k->run_actions(300);
  EXPECT_EQ(port.calls.back(), "wake 900 #3");
}

TEST_F(KernelTest, CloseAllLeavesEverythingAndIgnoresLaterEvents) {
  k->handle(in::link_up{5}, 0);
  k->handle(in::link_up{2}, 0);
  turn({act::subscribe{bus_kind::backbone, "s", ""}});
  port.calls.clear();
  k->close_all();
  EXPECT_EQ(port.calls, (strings{"unsubscribe s", "close 2", "close 5"}));
  k->handle(in::bus_frame{"s", buf("x")}, 0);
  EXPECT_EQ(role->heard, (strings{"up 5", "up 2"}));
  EXPECT_TRUE(k->closed());
}

struct PerTurnKernelTest : KernelTest {
  PerTurnKernelTest() : KernelTest(send_mode::per_turn) {}
};

TEST_F(PerTurnKernelTest, SendsOfATurnAreHandedOverTogetherPerLink) {
  k->handle(in::link_up{1}, 0);
  k->handle(in::link_up{2}, 0);
  turn({act::send{1, text("a")}, act::send{2, text("x")}, act::send{1, text("b")}});
  turn({act::send{1, text("c")}});
  EXPECT_EQ(port.calls, (strings{"hand over soon"}));  // asked once
  k->hand_over();
  EXPECT_EQ(port.calls, (strings{"hand over soon", "send 1 a b c", "send 2 x"}));
  turn({act::send{2, text("y")}});
  EXPECT_EQ(port.calls.back(), "hand over soon");  // asked again after a hand-over
}

TEST_F(PerTurnKernelTest, ACloseHandsOverItsLinksFramesFirst) {
  k->handle(in::link_up{1}, 0);
  turn({act::send{1, text("bye")}, act::close{1, errc::shutting_down}});
  EXPECT_EQ(port.calls, (strings{"hand over soon", "send 1 bye", "close 1"}));
}

TEST_F(PerTurnKernelTest, CloseAllHandsOverBeforeItCloses) {
  k->handle(in::link_up{1}, 0);
  turn({act::send{1, text("last")}});
  k->close_all();
  EXPECT_EQ(port.calls, (strings{"hand over soon", "send 1 last", "close 1"}));
}

// The sample application, and the kernel running what it does in the same turn.
class recording_app final : public application {
 public:
  explicit recording_app(application& inner) : inner_(inner) {}
  void deliver(node& role, const message& m, micros now) override {
    delivered.push_back(m.type);
    inner_.deliver(role, m, now);
  }
  void complete(node&, act::complete& c, micros) override { completed.push_back(c.request); }
  std::vector<std::string> delivered;
  std::vector<std::uint64_t> completed;

 private:
  application& inner_;
};

message request_to(const address& self, std::string type, std::string body) {
  message m;
  m.kind = msg_kind::request;
  m.id = 42;
  m.from = *address::parse("ccp://mgmt/10.0.2.1/m1");
  m.to = self;
  m.type = std::move(type);
  m.body = std::move(body);
  return m;
}

TEST(SampleApp, AnswersEchoWithTheBodyAndFixedAnswersAndNothingElse) {
  recording_port port;
  sample_app sample(std::map<std::string, std::string>{{"status", R"({"ok":true})"}});
  recording_app app(sample);
  auto r = std::make_unique<scripted_role>();
  scripted_role* role = r.get();
  kernel k(std::move(r), port, &app);
  sample.serve_on(*role);
  const address self = role->self();
  for (auto [type, body] :
       {std::pair{"echo", "{\"n\":1}"}, std::pair{"status", "{}"}, std::pair{"other", "{}"}}) {
    role->push_action(act::deliver{request_to(self, type, body)});
  }
  message note = request_to(self, "echo", "{}");
  note.kind = msg_kind::notification;
  role->push_action(act::deliver{note});
  k.run_actions(0);
  EXPECT_EQ(app.delivered, (strings{"echo", "status", "other", "echo"}));
  // The replies left through the role in the same turn: none for the type the application
  // does not serve, none for a notification.
  EXPECT_EQ(role->routed, (strings{"{\"n\":1}", R"({"ok":true})"}));
}

}  // namespace
}  // namespace ccp::host

namespace ccp::host {
namespace {

// A world reports written frames in batches: at least every written_report_frames frames,
// never per write, and never more than were written.
TEST(WrittenFrames, ReportsEveryBatchAndNothingInBetween) {
  written_frames w;
  std::size_t reported = 0, reports = 0;
  for (std::size_t i = 0; i < 1000; ++i) {
    if (const std::size_t n = w.add(1)) {
      EXPECT_EQ(n, core::written_report_frames);
      reported += n;
      ++reports;
    }
    EXPECT_LE(i + 1 - reported, core::written_report_frames - 1);  // the role's slack
  }
  EXPECT_EQ(reports, 1000 / core::written_report_frames);
}

TEST(WrittenFrames, ALargeWriteIsReportedWholeAtOnce) {
  written_frames w;
  EXPECT_EQ(w.add(core::written_report_frames - 1), 0u);
  EXPECT_EQ(w.add(300), core::written_report_frames - 1 + 300);
  EXPECT_EQ(w.add(1), 0u);
}

}  // namespace
}  // namespace ccp::host

// Only the simulator can break a role on purpose (core/sabotage.hpp): no host, no daemon,
// no test can make the key.
static_assert(!std::is_default_constructible_v<ccp::core::sabotage_key>);
