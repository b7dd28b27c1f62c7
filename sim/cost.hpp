#pragma once
// The simulator's processing cost (scenarios/README.md, "Processing cost"): what handling
// one event costs a process, and a meter of how busy a process was.
//
// Each simulated process is a single server. An event that arrives while its process is
// busy waits, first come first served, until the process is free; handling it then keeps
// the process busy for the event's cost. So a reconnect storm queues up at the proxy it
// lands on, and everything else that proxy handles waits behind it. The cost of an event
// is not added to the event's own outputs, only to what waits behind it.

#include <cstdint>
#include <string_view>

#include "core/address.hpp"
#include "sim/scenario.hpp"

namespace ccp::sim {

// What the simulator hands a process.
enum class work_kind : std::uint8_t {
  other,       // a timer, a link going down, a write completing: no cost of its own
  link_up,     // a link came up: a proxy accepts the agent's websocket
  link_frame,  // a frame on an agent-proxy link
  bus_frame,   // a frame from a bus (backbone or host bus)
};

// The cost in nanoseconds of `what` (with `frame`, for frames) to a process of role `r`:
// frame_ns and byte_ns for every frame; accept_ns for a proxy's link coming up; hello_ns
// more for a hello (ccp.hello) reaching a proxy on a link; directory_ns more for a route
// announcement, a directory sync or a proxy's goodbye (ccp.route, ccp.sync, ccp.bye)
// reaching mgmt or a proxy on the backbone. A frame whose header does not read costs
// what any frame does.
[[nodiscard]] std::int64_t event_cost(const cost_model& c, core::role r, work_kind what,
                                      std::string_view frame) noexcept;

// How busy one process (or the processes of one proxy slot, restarts included) was: the
// busiest window of `window_ns` (aligned on multiples of it) and the longest wait.
class load_meter {
 public:
  static constexpr std::int64_t window_ns = 100'000'000;  // 100 ms

  // The process was busy from `start_ns` for `cost_ns`, after the event waited `wait_ns`.
  // Calls come in order of `start_ns` per process; a start before the current window (a
  // restarted process) counts in the current window.
  void busy(std::int64_t start_ns, std::int64_t cost_ns, std::int64_t wait_ns) noexcept;
  // The largest share of a window the process was busy, 0 to 1.
  [[nodiscard]] double peak_fraction() const noexcept;
  [[nodiscard]] std::int64_t wait_max_ns() const noexcept { return wait_max_ns_; }
  [[nodiscard]] std::int64_t busy_total_ns() const noexcept { return total_ns_; }

 private:
  std::int64_t window_ = -1;  // index of the current window
  std::int64_t window_busy_ns_ = 0;
  std::int64_t peak_ns_ = 0;
  std::int64_t wait_max_ns_ = 0;
  std::int64_t total_ns_ = 0;
};

}  // namespace ccp::sim
