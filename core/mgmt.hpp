#pragma once
// The mgmt role: a management node on the backbone bus. It sends and requests to any
// address, receives what is sent to ccp://mgmt/... (status reports arrive on
// ccp://mgmt/any), and keeps the route directory so that a request to a host no proxy
// holds ends in `unreachable` at once instead of a timeout. At its start it asks every
// proxy for its routes (sync_fleet), so that it is ready one round trip later.
//
// An address may be claimed (claim_address): before it is ready the node announces a
// nonce on its own address's subject (ccp.claim), and a live node that holds the address
// answers there with its own (ccp.claimed). Hearing one within claim_window, the newcomer
// gives the address up: it delivers an error `rejected` of type ccp.claim to its
// application, ends its requests `rejected`, leaves the bus and never says ready.

#include "core/backbone.hpp"

namespace ccp::core {

// How long a claim waits for a holder's answer: far above a bus round trip on one LAN
// (about a millisecond, a few under load), far below a heartbeat interval.
inline constexpr micros claim_window = 250 * ms;

// How long a client waits for a first word from any proxy (an answer to the sync of its
// start, a heartbeat, a route) before it concludes that the backbone has no proxy and
// fails: the heartbeat bound at which it is ready anyway, so that every live proxy's
// heartbeat can have come. A shorter window (250 ms) refused a live fleet over TLS
// (tests/app/secure_fleet_test.sh), where the answer to the start's sync is lost at times.
inline constexpr micros no_proxy_window = heartbeat_interval + heartbeat_interval / 5;

class mgmt final : public backbone_node {
 public:
  enum class status : std::uint8_t { running, claiming, refused };

  // `self` must be a concrete mgmt address.
  mgmt(address self, std::uint64_t seed);

  // Before start: make sure no live node holds this address (see above). A client whose
  // address is random (unique by construction) need not.
  void claim_address() noexcept { claim_ = true; }

  void start(micros now) override;
  void on_bus(std::string_view subject, frame_buf f, micros now) override;

  [[nodiscard]] status state() const noexcept { return state_; }

 protected:
  void route_out(frame_buf f, const frame_header& h, micros now) override;
  void role_tick(micros now) override;
  [[nodiscard]] micros role_wake() const override;
  void control(const frame_header& h, micros now) override;
  [[nodiscard]] bool may_be_ready(micros now) const override {
    return state_ == status::running || (state_ == status::claiming && now >= claim_until_);
  }

 private:
  void publish_claim(std::string_view type);
  void refuse(micros now);

  bool claim_ = false;
  status state_ = status::running;
  std::uint64_t nonce_ = 0;
  micros claim_until_ = never;
};

}  // namespace ccp::core
