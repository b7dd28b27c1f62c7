#pragma once
// What a host tells a role: one closed set of inputs, taken by node::handle(event&&, now).
// A host feeds every role through that one call and never needs to know which role it
// holds; a role ignores the inputs that do not concern it (a link event at a role without
// links). Time and the application's calls (send, request, reply) are not events: time is
// tick(now) at next_wake() (ngtcp2's expiry API), the application calls the node itself.

#include <cstddef>
#include <string_view>
#include <variant>

#include "core/action.hpp"

namespace ccp::core {
namespace in {

// The role begins: it subscribes its subjects, an agent dials its first proxy.
struct start {};
// A graceful stop: a proxy drains (tells its agents to move, refuses new ones), an agent
// says bye to its proxy, an endpoint unregisters. Pending requests are the host's to end
// (node::abort_pending), since only the host knows whether the process goes away.
struct stop {};
// A frame arrived on a bus subscription. `subject` is the subscription's subject when
// the host knows it (a view valid for the call only); no role routes by it.
struct bus_frame {
  std::string_view subject;
  frame_buf frame;
};
// Link `link` is open: an agent's dial succeeded, or a proxy accepted an agent.
struct link_up {
  link_id link;
};
// A frame arrived on link `link`, in order.
struct link_frame {
  link_id link;
  frame_buf frame;
};
// Link `link` is gone, or a dial failed. Not sent for a link the role closed itself.
struct link_down {
  link_id link;
};
// The host wrote `frames` frames of `link` to the network: queue space is free again. A
// host reports at least every written_report_frames frames (core/limits.hpp), not per
// write.
struct link_flushed {
  link_id link;
  std::size_t frames;
};

}  // namespace in

using event = std::variant<in::start, in::stop, in::bus_frame, in::link_up, in::link_frame,
                           in::link_down, in::link_flushed>;

}  // namespace ccp::core
