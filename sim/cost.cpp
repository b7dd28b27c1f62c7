#include "sim/cost.hpp"

#include <algorithm>
#include <cmath>

#include "core/message.hpp"

namespace ccp::sim {

std::int64_t event_cost(const cost_model& c, core::role r, work_kind what,
                        std::string_view frame) noexcept {
  switch (what) {
    case work_kind::other:
      return 0;
    case work_kind::link_up:
      return r == core::role::proxy ? c.accept_ns : 0;
    case work_kind::link_frame:
    case work_kind::bus_frame:
      break;
  }
  std::int64_t ns = c.frame_ns + std::llround(c.byte_ns * static_cast<double>(frame.size()));
  const bool hello = what == work_kind::link_frame && r == core::role::proxy;
  const bool directory =
      what == work_kind::bus_frame && (r == core::role::proxy || r == core::role::mgmt);
  if (!hello && !directory) return ns;
  auto h = core::read_header(frame, core::defer::forwarding);
  if (!h || !core::is_control_type(h->type)) return ns;
  if (hello && h->type == "ccp.hello") return ns + c.hello_ns;
  if (directory && (h->type == "ccp.route" || h->type == "ccp.sync" || h->type == "ccp.bye"))
    return ns + c.directory_ns;
  return ns;
}

void load_meter::busy(std::int64_t start_ns, std::int64_t cost_ns, std::int64_t wait_ns) noexcept {
  wait_max_ns_ = std::max(wait_max_ns_, wait_ns);
  total_ns_ += cost_ns;
  const std::int64_t end = start_ns + cost_ns;
  while (start_ns < end) {
    const std::int64_t w = start_ns / window_ns;
    if (w > window_) {
      peak_ns_ = std::max(peak_ns_, window_busy_ns_);
      window_ = w;
      window_busy_ns_ = 0;
    }
    // A start before the current window (a restarted process) counts in the current one.
    const std::int64_t until = std::min(end, (std::max(w, window_) + 1) * window_ns);
    window_busy_ns_ += until - start_ns;
    start_ns = until;
  }
}

double load_meter::peak_fraction() const noexcept {
  const std::int64_t peak = std::max(peak_ns_, window_busy_ns_);
  return std::min(1.0, static_cast<double>(peak) / static_cast<double>(window_ns));
}

}  // namespace ccp::sim
