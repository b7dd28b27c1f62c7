#pragma once
// Links between an agent and a proxy as the role hosts see them, and the events a link
// reports. A link is a websocket session (net/ws.hpp) on its own strand.

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "core/action.hpp"
#include "core/limits.hpp"

namespace ccp::net {

// The host's monotonic clock in the core's unit. The only clock the roles ever see.
[[nodiscard]] inline core::micros now_micros() noexcept {
  using namespace std::chrono;
  return duration_cast<microseconds>(steady_clock::now().time_since_epoch()).count();
}

// One open link. Thread safety: send and close may be called from any thread; they post
// to the link's strand.
class link {
 public:
  virtual ~link() = default;
  // Queues frames (one post for the batch). Frames are written in order; queued frames are
  // coalesced into one websocket message (several whole frames back to back) up to
  // max_frame_bytes.
  virtual void send(std::vector<core::frame_ptr> frames) = 0;
  // Writes what is queued, then closes (bounded by the websocket close timeout). No
  // link_down is reported for a link its owner closed.
  virtual void close() = 0;
  // Frames queued and not yet written (a gauge for the monitor). From any thread; a snapshot.
  [[nodiscard]] virtual std::size_t queued() const noexcept { return 0; }
  // The other end as text for the log: "127.0.0.1:50412" (an accepted link) or the URL
  // dialled. Fixed when the link is made; from any thread.
  [[nodiscard]] virtual const std::string& remote() const noexcept { return none(); }
  // What the peer claimed at the upgrade (X-Ccp-Agent) on an accepted link; empty otherwise.
  [[nodiscard]] virtual const std::string& claimed() const noexcept { return none(); }

 private:
  static const std::string& none() noexcept {
    static const std::string empty;
    return empty;
  }
};

// What links report to their owner. Thread safety: called on the link's strand; an
// implementation posts to its own strand.
class link_events {
 public:
  virtual ~link_events() = default;
  // A fresh id for a link accepted by a server (the proxy side).
  [[nodiscard]] virtual core::link_id new_link_id() = 0;
  // The link is open (accepted, or dialled and handshaken).
  virtual void link_up(core::link_id id, std::shared_ptr<link> l) = 0;
  // Frames arrived (those of one websocket message, in order); the receiver owns them.
  virtual void link_frames(core::link_id id, std::vector<core::frame_buf> frames) = 0;
  // `frames` queued frames were written to the socket.
  virtual void link_flushed(core::link_id id, std::size_t frames) = 0;
  // The link closed or failed (or a dial failed). Reported once per id. `why` says what
  // happened for the log ("end of stream", "HTTP 401 Unauthorized: credentials refused").
  virtual void link_down(core::link_id id, std::string why) = 0;
};

}  // namespace ccp::net
