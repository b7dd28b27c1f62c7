#include "net/nats_outbox.hpp"

#include <algorithm>
#include <climits>

#include "net/frame_batch.hpp"

namespace ccp::net::detail {
namespace {

// --- Limits, each with its reason ----------------------------------------------------------

// publish only appends to libnats' buffer and the strand writes it without blocking, so a
// server that stops reading would let the buffer grow until the ping timer declares the
// connection stale (15-20 s, see nats_bus.cpp). Past this many unwritten bytes publish drops
// and counts frames instead: 8 MiB, as the reconnect buffer, a few seconds of control traffic.
constexpr int max_unwritten_bytes = 8 * 1024 * 1024;
// A run of publications to one subject leaves as one NATS message (net/frame_batch.hpp) of
// at most this many bytes of frames and their length fields (a longer frame leaves alone),
// or the server's max_payload if that is less: far below its default (1 MiB), and enough that a
// burst of small frames costs the server and both clients one message per few hundred frames.
constexpr std::size_t batch_frame_bytes = 64 * 1024;
// The outbox keeps the buffers of this many runs, each with room for this many frames, from
// one hand-over to the next (no allocation per publication in a steady stream); a burst that
// needed more gives the rest back.
constexpr std::size_t retained_runs = 64;
constexpr std::size_t retained_frames_per_run = 1024;

}  // namespace

bool outbox::add(std::string_view subject, core::frame_ptr frame, bool& post_hand_over) {
  const std::size_t n = frame ? frame->size() : 0;
  const std::int64_t max_payload = max_payload_for(n);
  if (n > INT_MAX || std::cmp_greater(n, max_payload)) return false;
  // A batch must fit the server's max_payload too (configurable, and smaller than ours on
  // some servers).
  const std::size_t limit =
      std::min(batch_frame_bytes, static_cast<std::size_t>(std::max<std::int64_t>(
                                      0, max_payload - std::int64_t{batch_header_bytes})));
  std::lock_guard lock(mu_);
  const std::size_t cost = n + batch_length_bytes;
  if (bytes_ + cost > static_cast<std::size_t>(max_unwritten_bytes)) return false;
  run* r = used_ > 0 ? &runs_[used_ - 1] : nullptr;
  if (r == nullptr || r->subject != subject || r->frames.size() == max_batch_frames ||
      r->bytes + cost > limit) {
    if (used_ == runs_.size()) runs_.emplace_back();
    r = &runs_[used_++];
    r->subject.assign(subject);  // keeps its capacity from earlier runs
  }
  r->frames.push_back(std::move(frame));
  r->bytes += cost;
  bytes_ += cost;
  post_hand_over = !std::exchange(hand_over_posted_, true);
  return true;
}

void outbox::hand_over() {
  std::lock_guard handing(hand_over_mu_);
  std::size_t n = 0;
  {
    std::lock_guard lock(mu_);
    runs_.swap(handing_over_);
    n = std::exchange(used_, 0);
    bytes_ = 0;
    hand_over_posted_ = false;
  }
  // Reused by every hand-over of this thread: no allocation per run.
  thread_local std::string wire;
  thread_local std::string batch;
  for (std::size_t i = 0; i < n; ++i) {
    run& r = handing_over_[i];
    bool sent = false;
    if (conn_ != nullptr && natsConnection_Buffered(conn_) <= max_unwritten_bytes) {
      wire.assign(prefix_).append(r.subject);
      std::string_view data;
      if (r.frames.front()) data = *r.frames.front();
      if (r.frames.size() > 1 || needs_batch(data)) {
        encode_batch(r.frames, batch);
        data = batch;
      }
      sent = natsConnection_Publish(conn_, wire.c_str(), data.data(),
                                    static_cast<int>(data.size())) == NATS_OK;
    }
    if (!sent) dropped_.fetch_add(r.frames.size(), std::memory_order_relaxed);
    r.frames.clear();  // keeps its capacity, up to a bound
    if (r.frames.capacity() > retained_frames_per_run) r.frames = {};
    r.bytes = 0;
  }
  if (handing_over_.size() > retained_runs) handing_over_.resize(retained_runs);
  renew_max_payload();
}

void outbox::close() {
  std::lock_guard handing(hand_over_mu_);
  conn_ = nullptr;
}

std::int64_t outbox::max_payload_for(std::size_t n) {
  const std::int64_t m = max_payload_.load(std::memory_order_relaxed);
  if (std::cmp_less_equal(n, m)) return m;
  std::lock_guard handing(hand_over_mu_);  // for conn_; taken before mu_, as hand_over() does
  return renew_max_payload();
}

std::int64_t outbox::renew_max_payload() {
  // 0 while no server's INFO is known (reconnecting): keep the last one.
  if (conn_ != nullptr) {
    if (const std::int64_t m = natsConnection_GetMaxPayload(conn_); m > 0)
      max_payload_.store(m, std::memory_order_relaxed);
  }
  return max_payload_.load(std::memory_order_relaxed);
}

}  // namespace ccp::net::detail
