#pragma once
// The mgmt role: a management node on the backbone bus. It sends and requests to any
// address, receives what is sent to ccp://mgmt/... (status reports arrive on
// ccp://mgmt/any), and keeps the route directory so that a request to a host no proxy
// holds ends in `unreachable` at once instead of a timeout.

#include "core/backbone.hpp"

namespace ccp::core {

class mgmt final : public backbone_node {
 public:
  // `self` must be a concrete mgmt address.
  mgmt(address self, std::uint64_t seed);

  void start(micros now) override;
  void on_bus(std::string_view subject, frame_buf f, micros now) override;

 protected:
  void route_out(frame_buf f, const frame_header& h, micros now) override;
  void role_tick(micros now) override { backbone_tick(now); }
  [[nodiscard]] micros role_wake() const override { return backbone_wake(); }
};

}  // namespace ccp::core
