#include "core/mgmt.hpp"

namespace ccp::core {

mgmt::mgmt(address self, std::uint64_t seed) : backbone_node(std::move(self), seed) {}

void mgmt::start(micros now) {
  subscribe_backbone(now);
}

void mgmt::on_bus(std::string_view /*subject*/, frame_buf f, micros now) {
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
  if (address_equal::same(h.to, self_.view())) {
    accept(*f, h, now);
    return;
  }
  route_backbone(std::move(f), h, now);
}

}  // namespace ccp::core
