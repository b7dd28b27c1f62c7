#include "net/inproc_bus.hpp"

#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/strand.hpp>
#include <string>
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
