#pragma once
// The endpoint role: an application on a host. It talks only to its host's agent, over
// the host bus. It registers its address with the agent (which rejects a second claim of
// an address already held on the host), heartbeats so the agent can expire it, and sends
// and receives through the agent.

#include "core/node.hpp"

namespace ccp::core {

class endpoint final : public node {
 public:
  enum class status : std::uint8_t { idle, registering, registered, rejected };

  // `self` must be a concrete endpoint address. `seed` drives the instance nonce.
  endpoint(address self, std::uint64_t seed);

  // Subscribes its instance inbox and registers with the agent.
  void start(micros now) override;
  // Unregisters and unsubscribes (graceful stop).
  void stop(micros now) override;
  // A frame arrived on the host bus on `subject`.
  void on_bus(std::string_view subject, frame_buf f, micros now) override;

  [[nodiscard]] status state() const noexcept { return state_; }
  [[nodiscard]] std::uint64_t nonce() const noexcept { return nonce_; }

 protected:
  void route_out(frame_buf f, const frame_header& h, micros now) override;
  void role_tick(micros now) override;
  [[nodiscard]] micros role_wake() const override;
  void control(const frame_header& h, micros now) override;

 private:
  void send_register(micros now);
  void send_control(std::string_view type, msg_kind kind, std::uint64_t id, micros now);
  void send_heartbeat();  // send_control("ccp.hb", notification, next_id()), precomputed
  [[nodiscard]] message control_message(std::string_view type, msg_kind kind,
                                        std::uint64_t id) const;

  status state_ = status::idle;
  std::uint64_t nonce_;
  std::uint64_t register_id_ = 0;
  micros next_heartbeat_ = never;
  micros register_deadline_ = never;
  std::string heartbeat_frame_;  // the encoded ccp.hb, built at the first heartbeat
};

}  // namespace ccp::core
