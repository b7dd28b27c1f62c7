#include "core/endpoint.hpp"

#include "core/control.hpp"
#include "core/subject.hpp"

namespace ccp::core {

endpoint::endpoint(address self, std::uint64_t seed) : node(std::move(self), seed) {
  nonce_ = rng_.next() | 1;  // never 0
}

message endpoint::control_message(std::string_view type, msg_kind kind, std::uint64_t id) const {
  message m;
  m.id = id;
  m.kind = kind;
  m.from = self_;
  m.to = *address::host_group(role::agent, self_.host(), scope::host_any);
  m.type = type;
  m.body = flat_json_writer{}.add("nonce", nonce_).finish();
  return m;
}

void endpoint::start(micros now) {
  push(act::subscribe{bus_kind::host, endpoint_instance_subject(nonce_), {}});
  push(act::subscribe{bus_kind::host, std::string(subject_endpoints), {}});
  send_register(now);
}

void endpoint::stop(micros now) {
  if (state_ == status::registered) {
    send_control("ccp.unregister", msg_kind::notification, next_id(), now);
    push(act::unsubscribe{bus_kind::host, endpoint_subject(self_.id())});
  }
  push(act::unsubscribe{bus_kind::host, endpoint_instance_subject(nonce_)});
  push(act::unsubscribe{bus_kind::host, std::string(subject_endpoints)});
  state_ = status::idle;
  next_heartbeat_ = register_deadline_ = never;
}

void endpoint::send_control(std::string_view type, msg_kind kind, std::uint64_t id, micros now) {
  auto f = std::make_shared<std::string>();
  (void)encode(control_message(type, kind, id), *f);
  push(act::publish{bus_kind::host, subject_agent_inbox, std::move(f)});
  (void)now;
}

void endpoint::send_heartbeat() {
  // Every heartbeat is the same frame but for its id: encoded once, then copied.
  if (heartbeat_frame_.empty())
    (void)encode(control_message("ccp.hb", msg_kind::notification, 1), heartbeat_frame_);
  actions().emplace_back(std::in_place_type<act::publish>, bus_kind::host, subject_agent_inbox,
                         restamp(heartbeat_frame_, next_id()));
}

void endpoint::send_register(micros now) {
  state_ = status::registering;
  register_id_ = next_id();
  send_control("ccp.register", msg_kind::request, register_id_, now);
  register_deadline_ = now + heartbeat_interval;  // the agent answers at once when it runs
  next_heartbeat_ = never;
}

void endpoint::on_bus(std::string_view /*subject*/, frame_buf f, micros now) {
  auto h = read_header(*f);
  if (!h) {
    ++stats_.malformed;
    return;
  }
  agent_seen_ = now;  // only the agent publishes where an endpoint listens
  if (!is_member(self_.view(), h->to) && !sabotage_.misroute) [[unlikely]] {
    ++stats_.dropped;  // not for us: the agent never does this; count it, deliver nothing
    return;
  }
  if ((h->kind == msg_kind::response || h->kind == msg_kind::error) &&
      h->correlation == register_id_ && register_id_ != 0) {
    register_id_ = 0;
    register_deadline_ = never;
    if (h->kind == msg_kind::response) {
      state_ = status::registered;
      push(act::subscribe{bus_kind::host, endpoint_subject(self_.id()), {}});
      next_heartbeat_ = now + heartbeat_interval;
    } else {
      state_ = status::rejected;
      push(act::deliver{decode(*f, *h)});  // the application learns why
    }
    return;
  }
  accept(*f, *h, now);
}

void endpoint::control(const frame_header& h, micros now) {
  // The agent no longer knows us (it restarted, or expired us), or a new agent process
  // started on the host: register again.
  bool unknown = h.type == "ccp.unknown" && state_ == status::registered;
  bool agent_up = h.type == "ccp.agent-up" && state_ != status::rejected && state_ != status::idle;
  // The agent we declared gone speaks again (it was stalled, or its host bus was cut):
  // register again, it may have expired us meanwhile.
  bool back = h.type == "ccp.hb" && state_ == status::agent_gone;
  if (unknown || agent_up || back) {
    if (state_ == status::registered)
      push(act::unsubscribe{bus_kind::host, endpoint_subject(self_.id())});
    send_register(now);
  }
}

void endpoint::route_out(frame_buf f, const frame_header& h, micros now) {
  if (state_ != status::registered) {
    bounce(h, errc::unreachable,
           state_ == status::agent_gone
               ? "the agent of " + std::string(self_.host()) + " is gone (silent for " +
                     std::to_string(agent_silence / ms) + " ms)"
               : std::string("endpoint not registered with its agent"),
           now);
    return;
  }
  if (address_equal::same(h.to, self_.view())) {
    accept(*f, h, now);
    return;
  }
  push(act::publish{bus_kind::host, subject_agent_inbox, std::move(f)});
}

void endpoint::role_tick(micros now) {
  if (state_ == status::registered && now - agent_seen_ > agent_silence) {
    // The agent is gone: nothing we sent can be answered, nothing new can leave.
    state_ = status::agent_gone;
    next_heartbeat_ = never;
    push(act::unsubscribe{bus_kind::host, endpoint_subject(self_.id())});
    abort_pending(errc::unreachable);
    return;
  }
  if (now >= register_deadline_) send_register(now);  // the agent did not answer: retry
  if (now >= next_heartbeat_) {
    send_heartbeat();
    next_heartbeat_ = now + heartbeat_interval;
  }
}

micros endpoint::role_wake() const {
  micros t = std::min(next_heartbeat_, register_deadline_);
  if (state_ == status::registered) t = std::min(t, agent_seen_ + agent_silence + 1);
  return t;
}

}  // namespace ccp::core
