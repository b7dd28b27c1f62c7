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

// The part of a role's interface role_host uses; actions are pushed by the test.
class scripted_role {
 public:
  std::vector<action>& actions() { return out_; }
  [[nodiscard]] micros next_wake() const { return ccp::core::never; }
  void tick(micros) {}
  void on_bus(std::string_view, frame_buf, micros) {}
  void on_link_up(link_id, micros) {}
  void on_link_frame(link_id, frame_buf, micros) {}
  void on_link_flushed(link_id, std::size_t) {}
  void on_link_down(link_id, micros) {}
  [[nodiscard]] const ccp::core::address& self() const { return self_; }

 private:
  std::vector<action> out_;
  ccp::core::address self_ = *ccp::core::address::parse("ccp://proxy/10.0.0.9/p1");
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
      : host(std::make_shared<ccp::net::role_host<scripted_role>>(
            ioc, std::make_unique<scripted_role>(), nullptr, nullptr, ccp::net::app_hooks{})),
        link(std::make_shared<recording_link>()) {
    host->link_up(7, link);
    ioc.run();
    ioc.restart();
  }

  // Has the role send `frames` on link 7 within one turn of the strand.
  void role_sends(std::vector<std::string> frames) {
    host->post([frames](scripted_role& r, micros) {
      for (const auto& f : frames)
        r.actions().push_back(act::send{7, std::make_shared<const std::string>(f)});
    });
  }

  asio::io_context ioc;
  std::shared_ptr<ccp::net::role_host<scripted_role>> host;
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
  host->post([](scripted_role& r, micros) {
    r.actions().push_back(act::send{7, std::make_shared<const std::string>("last")});
    r.actions().push_back(act::close{7, ccp::core::errc::shutting_down});
  });
  ioc.run();
  EXPECT_EQ(link->events, (std::vector<std::string>{"send 1", "close"}));
}

}  // namespace
