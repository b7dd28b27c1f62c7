#pragma once
// The endpoint role: an application on a host. It talks only to its host's agent, over
// the host bus. It registers its address with the agent (which rejects a second claim of
// an address already held on the host), heartbeats so the agent can expire it, and sends
// and receives through the agent.
//
// The agent beats on the host bus every heartbeat_interval (ccp.hb to every endpoint of
// its host). An endpoint that hears nothing from its agent for agent_silence declares it
// gone: its requests in flight end `unreachable` at once, and so does every new one, until
// the agent speaks again (its beat, or ccp.agent-up of a new process) and the endpoint has
// registered anew.

#include "core/node.hpp"

namespace ccp::core {

// How long an endpoint waits for a word from its agent before it declares the agent gone:
// two missed beats and half an interval of slack for a late timer, so one late or lost beat
// is no failure. So an endpoint's requests fail at most agent_silence after its agent's
// last beat, not at their deadlines.
inline constexpr micros agent_silence = 2 * heartbeat_interval + heartbeat_interval / 2;

class endpoint final : public node {
 public:
  // agent_gone: was registered, then heard nothing from its agent for agent_silence.
  enum class status : std::uint8_t { idle, registering, registered, rejected, agent_gone };

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
  micros agent_seen_ = 0;        // when a frame from the agent last arrived
  std::string heartbeat_frame_;  // the encoded ccp.hb, built at the first heartbeat
};

}  // namespace ccp::core
