#pragma once
// Publications on their way to libnats: the NATS bus's outbox (internal to
// net/nats_bus.cpp).
//
// publish appends to runs of consecutive publications to one subject and posts one hand-over
// to the strand that writes the socket; the hand-over gives each run to libnats as one NATS
// message (a batch of its frames, net/frame_batch.hpp) and libnats' write follows on the same
// strand. That is where libnats coalesced the bytes of those publications anyway (the write
// posted by the first of them took them all), so batching adds no wait; it saves the server
// and both clients their work per message: one PUB, one routing step, one MSG, one natsMsg,
// one delivery and one free per run instead of per frame.
//
// Shared with the posted hand-overs, which may run after the bus began its destruction.
// The limits and their reasons are in nats_outbox.cpp.

#include <nats/nats.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/action.hpp"

namespace ccp::net::detail {

class outbox {
 public:
  outbox(natsConnection* conn, std::string prefix)
      : prefix_(std::move(prefix)), conn_(conn), max_payload_(natsConnection_GetMaxPayload(conn)) {}

  // Any thread. False when the frame is dropped at once: longer than the server takes, or
  // past max_unwritten_bytes queued here, waiting for the strand (a frame counts with its
  // length field in a batch, so that empty frames are bounded too). True when queued, and
  // then `post_hand_over` is true when the caller must post a hand-over. libnats' own buffer
  // is not counted here: only the hand-over measures it, and a figure kept from the last
  // hand-over would be stale once the server reads again and refuse every frame with no
  // hand-over to renew it.
  [[nodiscard]] bool add(std::string_view subject, core::frame_ptr frame, bool& post_hand_over);

  // Hands what is queued to libnats (the strand, or the bus's destructor before it closes).
  // Frames libnats refuses, or that find its buffer past max_unwritten_bytes, are counted:
  // while the server reads nothing, libnats holds at most that plus one run, and the outbox
  // at most that again.
  void hand_over();

  // The bus's destructor, after its last hand-over: a hand-over posted before runs after the
  // connection is gone and counts what it finds as dropped (nothing, normally).
  void close();

  void count_dropped() noexcept { dropped_.fetch_add(1, std::memory_order_relaxed); }
  [[nodiscard]] std::uint64_t dropped() const noexcept {
    return dropped_.load(std::memory_order_relaxed);
  }

 private:
  struct run {
    std::string subject;  // the core's, without the prefix
    std::vector<core::frame_ptr> frames;
    std::size_t bytes = 0;  // what its frames cost, see add()
  };

  // The server's max_payload as of the last hand-over or, for a frame longer than that, as
  // libnats knows it now: a server restarted with a larger one takes such frames at once,
  // though a refused frame posts no hand-over that would renew the figure.
  [[nodiscard]] std::int64_t max_payload_for(std::size_t n);

  // With hand_over_mu_ held: reads the server's max_payload from libnats into max_payload_,
  // and returns it.
  std::int64_t renew_max_payload();

  const std::string prefix_;
  std::mutex mu_;
  std::vector<run> runs_;          // guarded by mu_: [0, used_) queued, the rest empty for reuse
  std::size_t used_ = 0;           // guarded by mu_
  std::size_t bytes_ = 0;          // guarded by mu_: what is queued costs, see add()
  bool hand_over_posted_ = false;  // guarded by mu_
  std::mutex hand_over_mu_;        // one hand-over at a time; guards what follows
  std::vector<run> handing_over_;  // the runs being handed over, swapped with runs_
  natsConnection* conn_;           // null once the bus closed it
  std::atomic<std::int64_t> max_payload_;  // the server's, see renew_max_payload()
  std::atomic<std::uint64_t> dropped_{0};
};

}  // namespace ccp::net::detail
