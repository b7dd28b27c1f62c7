#include "core/mgmt.hpp"

#include "core/control.hpp"
#include "core/subject.hpp"

namespace ccp::core {

mgmt::mgmt(address self, std::uint64_t seed) : backbone_node(std::move(self), seed) {
  nonce_ = rng_.next() | 1;  // never 0
}

void mgmt::start(micros now) {
  subscribe_backbone(now);
  if (claim_) {
    state_ = status::claiming;
    claim_until_ = now + claim_window;
    publish_claim("ccp.claim");
  }
  // A client is ready one round trip after its start, not a heartbeat interval later.
  sync_fleet(now);
}

void mgmt::publish_claim(std::string_view type) {
  message m;
  m.id = next_id();
  m.kind = msg_kind::notification;
  m.from = self_;
  m.to = self_;
  m.type = type;
  m.body = flat_json_writer{}.add("nonce", nonce_).finish();
  auto f = std::make_shared<std::string>();
  if (encode(m, *f)) push(act::publish{bus_kind::backbone, backbone_subject_text(self_.view()), f});
}

void mgmt::control(const frame_header& h, micros now) {
  if (h.type != "ccp.claim" && h.type != "ccp.claimed") {
    backbone_node::control(h, now);
    return;
  }
  // Only a node of this very address speaks on its subject about it.
  if (h.kind != msg_kind::notification || !address_equal::same(h.from, self_.view())) return;
  auto body = parse_flat_json(h.body);
  const std::uint64_t* nonce = body ? body->number("nonce") : nullptr;
  if (!nonce || *nonce == nonce_ || state_ == status::refused) return;  // our own, or moot
  if (h.type == "ccp.claim")
    publish_claim("ccp.claimed");  // we hold it (or claim it too: then neither gets it)
  else if (state_ == status::claiming)
    refuse(now);
}

void mgmt::refuse(micros now) {
  state_ = status::refused;
  claim_until_ = never;
  message m;
  m.id = next_id();
  m.kind = msg_kind::error;
  m.from = self_;
  m.to = self_;
  m.type = "ccp.claim";
  m.code = errc::rejected;
  m.text = "address " + self_.str() + " is in use by another live process";
  push(act::deliver{std::move(m)});
  abort_pending(errc::rejected);
  auto unsub = [this](const address& a) {
    push(act::unsubscribe{bus_kind::backbone, backbone_subject(a.view())});
  };
  unsub(self_);
  unsub(address::group(self_.type(), scope::any));
  unsub(address::group(self_.type(), scope::all));
  unsub(*address::host_group(self_.type(), self_.host(), scope::host_any));
  unsub(*address::host_group(self_.type(), self_.host(), scope::host_all));
  push(act::unsubscribe{bus_kind::backbone, std::string(subject_route)});
  push(act::unsubscribe{bus_kind::backbone, std::string(subject_heartbeat)});
  (void)now;
}

void mgmt::role_tick(micros now) {
  if (state_ == status::refused) return;
  if (state_ == status::claiming && now >= claim_until_) {
    state_ = status::running;  // nobody objected in time: the address is ours
    claim_until_ = never;
  }
  backbone_tick(now);
}

micros mgmt::role_wake() const {
  if (state_ == status::refused) return never;
  return std::min(backbone_wake(), claim_until_);
}

void mgmt::on_bus(std::string_view /*subject*/, frame_buf f, micros now) {
  if (state_ == status::refused) return;
  auto h = read_header(*f);
  if (!h) {
    ++stats_.malformed;
    return;
  }
  // Control announcements (routes, heartbeats) are addressed to the proxies but read by
  // every backbone member; nothing else that is not addressed to us.
  if (is_member(self_.view(), h->to) || is_announcement(*h))
    accept(*f, *h, now);
  else
    ++stats_.dropped;
}

void mgmt::route_out(frame_buf f, const frame_header& h, micros now) {
  if (state_ == status::refused) {
    bounce(h, errc::rejected, "address " + self_.str() + " is in use by another live process", now);
    return;
  }
  if (address_equal::same(h.to, self_.view())) {
    accept(*f, h, now);
    return;
  }
  route_backbone(std::move(f), h, now);
}

}  // namespace ccp::core
