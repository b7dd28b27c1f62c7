// role_host on its own: a scripted role and a link that records what it is handed, on an
// io_context run by the test thread (deterministic: run() returns when nothing is left).
#include "net/role_host.hpp"

#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <memory>
#include <string>
#include <vector>

#include "core/address.hpp"

namespace {

namespace asio = boost::asio;
using ccp::core::action;
using ccp::core::frame_buf;
using ccp::core::frame_ptr;
using ccp::core::link_id;
using ccp::core::micros;
namespace act = ccp::core::act;

// A role that does nothing by itself: the test pushes its actions.
class scripted_role final : public ccp::core::node {
 public:
  scripted_role() : node(*ccp::core::address::parse("ccp://proxy/10.0.0.9/p1"), 1) {}

 protected:
  void start(micros) override {}
  void on_bus(std::string_view, frame_buf, micros) override {}
  void route_out(frame_buf, const ccp::core::frame_header&, micros) override {}
};

// Records every send (one entry per call) and whether close came, in order.
class recording_link final : public ccp::net::link {
 public:
  void send(std::vector<frame_ptr> frames) override {
    std::vector<std::string> call;
    for (const auto& f : frames)
      call.push_back(*f);
    events.push_back("send " + std::to_string(call.size()));
    sends.push_back(std::move(call));
  }
  void close() override { events.push_back("close"); }

  std::vector<std::vector<std::string>> sends;
  std::vector<std::string> events;
};

struct RoleHostTest : ::testing::Test {
  RoleHostTest()
      : host(std::make_shared<ccp::net::role_host>(ioc, std::make_unique<scripted_role>(), nullptr,
                                                   nullptr, nullptr)),
        link(std::make_shared<recording_link>()) {
    host->link_up(7, link);
    ioc.run();
    ioc.restart();
  }

  // Has the role send `frames` on link 7 within one turn of the strand.
  void role_sends(std::vector<std::string> frames) {
    host->post([frames](ccp::core::node& r, micros) {
      for (const auto& f : frames)
        r.actions().push_back(act::send{7, std::make_shared<const std::string>(f)});
    });
  }

  asio::io_context ioc;
  std::shared_ptr<ccp::net::role_host> host;
  std::shared_ptr<recording_link> link;
};

TEST_F(RoleHostTest, SendsOfOneTurnReachTheLinkInOneCallInOrder) {
  role_sends({"a", "b", "c"});
  ioc.run();
  ASSERT_EQ(link->sends.size(), 1u);
  EXPECT_EQ(link->sends[0], (std::vector<std::string>{"a", "b", "c"}));
}

TEST_F(RoleHostTest, SendsOfSeveralTurnsQueuedTogetherAreHandedOverOnce) {
  // Two posts before the io_context runs: both turns run before the posted flush.
  role_sends({"a"});
  role_sends({"b"});
  ioc.run();
  ASSERT_EQ(link->sends.size(), 1u);
  EXPECT_EQ(link->sends[0], (std::vector<std::string>{"a", "b"}));
}

TEST_F(RoleHostTest, SendsMadeJustBeforeStopAreHandedOverBeforeTheLinkCloses) {
  role_sends({"bye"});
  host->stop();  // queued before the flush that the send posts
  ioc.run();
  EXPECT_EQ(link->events, (std::vector<std::string>{"send 1", "close"}));
  ASSERT_EQ(link->sends.size(), 1u);
  EXPECT_EQ(link->sends[0], (std::vector<std::string>{"bye"}));
}

TEST_F(RoleHostTest, ACloseActionHandsOverItsLinksSendsFirst) {
  host->post([](ccp::core::node& r, micros) {
    r.actions().push_back(act::send{7, std::make_shared<const std::string>("last")});
    r.actions().push_back(act::close{7, ccp::core::errc::shutting_down});
  });
  ioc.run();
  EXPECT_EQ(link->events, (std::vector<std::string>{"send 1", "close"}));
}

}  // namespace
