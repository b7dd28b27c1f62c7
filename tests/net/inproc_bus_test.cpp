#include "net/inproc_bus.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/strand.hpp>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "net/bus.hpp"

namespace ccp::net {
namespace {

core::frame_ptr frame(std::string s) {
  return std::make_shared<const std::string>(std::move(s));
}

struct received {
  std::vector<std::pair<std::string, std::string>> got;
  bus_handler handler() {
    return [this](std::string_view subject, core::frame_buf f) {
      got.emplace_back(std::string(subject), *f);
    };
  }
};

TEST(InprocBus, PlainSubscribersEachGetTheirOwnCopy) {
  boost::asio::io_context ioc;
  auto bus = open_inproc_bus("plain", {});
  received a, b;
  std::vector<core::frame_buf> seen;
  ASSERT_TRUE(bus->subscribe("s.x", "", ioc.get_executor(), a.handler()));
  ASSERT_TRUE(bus->subscribe("s.x", "", ioc.get_executor(),
                             [&](std::string_view, core::frame_buf f) { seen.push_back(f); }));
  ASSERT_TRUE(bus->subscribe("s.y", "", ioc.get_executor(), b.handler()));
  bus->publish("s.x", frame("hello"));
  ioc.run();
  ASSERT_EQ(a.got.size(), 1u);
  EXPECT_EQ(a.got[0], std::make_pair(std::string("s.x"), std::string("hello")));
  ASSERT_EQ(seen.size(), 1u);
  seen[0]->assign("changed by its receiver");  // must not reach the other copy
  EXPECT_EQ(a.got[0].second, "hello");
  EXPECT_TRUE(b.got.empty());
}

TEST(InprocBus, QueueGroupHandsEachMessageToOneMember) {
  boost::asio::io_context ioc;
  auto bus = open_inproc_bus("queue", {});
  received a, b, plain;
  ASSERT_TRUE(bus->subscribe("s", "g", ioc.get_executor(), a.handler()));
  ASSERT_TRUE(bus->subscribe("s", "g", ioc.get_executor(), b.handler()));
  ASSERT_TRUE(bus->subscribe("s", "", ioc.get_executor(), plain.handler()));
  for (int i = 0; i < 10; ++i)
    bus->publish("s", frame(std::to_string(i)));
  ioc.run();
  EXPECT_EQ(a.got.size() + b.got.size(), 10u);
  EXPECT_EQ(a.got.size(), 5u);  // round-robin
  EXPECT_EQ(plain.got.size(), 10u);
}

TEST(InprocBus, NoDeliveryAfterUnsubscribeEvenWhenAlreadyPosted) {
  boost::asio::io_context ioc;
  auto bus = open_inproc_bus("unsub", {});
  received a;
  auto id = bus->subscribe("s", "", ioc.get_executor(), a.handler());
  ASSERT_TRUE(id);
  bus->publish("s", frame("posted before"));
  bus->unsubscribe(*id);
  bus->publish("s", frame("after"));
  ioc.run();
  EXPECT_TRUE(a.got.empty());
}

// An unsubscribe that keeps what was received (what a role host does): a frame the bus
// already took still reaches the handler; nothing published after does. A queue member that
// leaves its group owns what was given to it.
TEST(InprocBus, AnUnsubscribeThatKeepsWhatWasReceivedHandsItOverAndTakesNothingNew) {
  boost::asio::io_context ioc;
  auto bus = open_inproc_bus("unsub-keep", {});
  received a, b;
  auto id = bus->subscribe("s", "q", ioc.get_executor(), a.handler());
  ASSERT_TRUE(id);
  bus->publish("s", frame("posted before"));
  bus->unsubscribe(*id, true);
  ASSERT_TRUE(bus->subscribe("s", "q", ioc.get_executor(), b.handler()));
  bus->publish("s", frame("after"));
  ioc.run();
  ASSERT_EQ(a.got.size(), 1u);
  EXPECT_EQ(a.got[0].second, "posted before");
  ASSERT_EQ(b.got.size(), 1u);  // the group's only member now
  EXPECT_EQ(b.got[0].second, "after");
}

// A burst from another thread to a handler on an io_context run by two threads, no strand:
// every frame arrives, in the publisher's order, and the handler is never called twice at
// once (deliveries come in batches, one drain at a time).
TEST(InprocBus, BurstArrivesWholeInOrderOneHandlerCallAtATime) {
  boost::asio::io_context ioc;
  auto bus = open_inproc_bus("burst", {});
  constexpr std::size_t n = 20'000;
  std::atomic<int> inside{0};
  std::atomic<bool> overlapped{false};
  std::mutex mu;
  std::condition_variable cv;
  std::vector<std::string> got;  // guarded by mu
  ASSERT_TRUE(bus->subscribe("s", "", ioc.get_executor(), [&](std::string_view, core::frame_buf f) {
    if (inside.fetch_add(1) != 0) overlapped.store(true);
    {
      std::lock_guard lock(mu);
      got.push_back(std::move(*f));
    }
    inside.fetch_sub(1);
    cv.notify_all();
  }));
  auto work = boost::asio::make_work_guard(ioc);
  std::vector<std::thread> threads;
  for (int i = 0; i < 2; ++i)
    threads.emplace_back([&ioc] { ioc.run(); });
  std::thread publisher([&] {
    for (std::size_t i = 0; i < n; ++i)
      bus->publish("s", frame("m" + std::to_string(i)));
  });
  publisher.join();
  {
    std::unique_lock lock(mu);
    EXPECT_TRUE(cv.wait_for(lock, std::chrono::seconds(20), [&] { return got.size() == n; }))
        << got.size() << " of " << n;
  }
  work.reset();
  ioc.stop();
  for (auto& t : threads)
    t.join();
  EXPECT_FALSE(overlapped.load());
  std::lock_guard lock(mu);
  ASSERT_EQ(got.size(), n);
  for (std::size_t i = 0; i < n; ++i)
    ASSERT_EQ(got[i], "m" + std::to_string(i)) << "at " << i;
}

TEST(InprocBus, SameNameIsOneBusOtherNameOrPrefixIsAnother) {
  boost::asio::io_context ioc;
  auto one = open_inproc_bus("shared", {});
  auto two = open_inproc_bus("shared", {});
  auto other = open_inproc_bus("elsewhere", {});
  bus_options prefixed;
  prefixed.prefix = "h1.";
  auto third = open_inproc_bus("shared", prefixed);
  received a, b, c;
  ASSERT_TRUE(two->subscribe("s", "", ioc.get_executor(), a.handler()));
  ASSERT_TRUE(other->subscribe("s", "", ioc.get_executor(), b.handler()));
  ASSERT_TRUE(third->subscribe("s", "", ioc.get_executor(), c.handler()));
  one->publish("s", frame("x"));
  ioc.run();
  EXPECT_EQ(a.got.size(), 1u);
  EXPECT_TRUE(b.got.empty());
  EXPECT_TRUE(c.got.empty());
}

TEST(InprocBus, DestroyingAHolderEndsItsSubscriptions) {
  boost::asio::io_context ioc;
  auto keep = open_inproc_bus("holder", {});
  received a;
  {
    auto gone = open_inproc_bus("holder", {});
    ASSERT_TRUE(gone->subscribe("s", "", ioc.get_executor(), a.handler()));
  }
  keep->publish("s", frame("x"));
  ioc.run();
  EXPECT_TRUE(a.got.empty());
}

TEST(OpenBus, ChoosesByUrlAndNamesWhatIsWrong) {
  EXPECT_TRUE(open_bus("inproc://a", {}));
  auto none = open_bus("inproc://", {});
  ASSERT_FALSE(none);
  EXPECT_NE(none.error().find("inproc:// needs a name"), std::string::npos);
  auto bad = open_bus("http://x", {});
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().find("'http://x'"), std::string::npos);
}

}  // namespace
}  // namespace ccp::net
