#pragma once
// One subscription's way from the thread that receives a message (libnats' delivery
// thread, or whoever publishes on the in-process bus) to the subscriber's executor.
//
// Messages arrive there in batches: push appends to the inbox and posts a drain only when
// none is posted yet; the drain hands everything the inbox holds to the handler. Under
// load that is one post (and at most one thread wake-up) per batch instead of one per
// message, which was the busiest thread of the e2e chain. At most one drain is posted or
// running at a time, so the handler is never called concurrently and sees the order of
// push, whatever the executor.
//
// close() stops deliveries: a drain checks before each message, so once close() returned
// on the executor nothing more reaches the handler. seal() only stops taking messages:
// what the inbox holds is still handed over. A posted drain holds a reference, so the
// inbox (and its handler) lives as long as something may still call it.

#include <atomic>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/post.hpp>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "net/bus.hpp"

namespace ccp::net {

class inbox : public std::enable_shared_from_this<inbox> {
 public:
  // `fixed_subject`: the subject every message has (a subscription without wildcards), so
  // that no message carries a copy of it; empty when messages bring their own.
  inbox(boost::asio::any_io_executor ex, bus_handler h, std::string fixed_subject)
      : ex_(std::move(ex)), handler_(std::move(h)), fixed_subject_(std::move(fixed_subject)) {}

  // Any thread. `subject` is ignored when the inbox has a fixed subject.
  void push(std::string_view subject, core::frame_buf frame) {
    push_all(subject, std::span(&frame, 1));
  }
  // The same for several frames of one subject, in order (a NATS batch, net/frame_batch.hpp):
  // one lock and at most one post for all of them. Moves from `frames`.
  void push_all(std::string_view subject, std::span<core::frame_buf> frames) {
    if (!accepting()) return;
    bool post = false;
    {
      std::lock_guard lock(mu_);
      for (auto& f : frames)
        queued_.push_back(
            {fixed_subject_.empty() ? std::string(subject) : std::string(), std::move(f)});
      post = !std::exchange(drain_posted_, true);
    }
    if (post) boost::asio::post(ex_, [self = shared_from_this()] { self->drain(); });
  }

  // Any thread; see above.
  void close() noexcept { open_.store(false, std::memory_order_release); }
  void seal() noexcept { sealed_.store(true, std::memory_order_release); }
  [[nodiscard]] bool open() const noexcept { return open_.load(std::memory_order_acquire); }
  // Takes new messages: neither closed nor sealed.
  [[nodiscard]] bool accepting() const noexcept {
    return open() && !sealed_.load(std::memory_order_acquire);
  }

 private:
  struct message {
    std::string subject;  // empty when it is fixed_subject_
    core::frame_buf frame;
  };

  // On ex_; one at a time. Takes one batch, then posts itself again if more came
  // meanwhile, so a busy subscription does not hold a strand for ever.
  void drain() {
    {
      std::lock_guard lock(mu_);
      draining_.swap(queued_);
    }
    for (auto& m : draining_) {
      if (!open()) break;
      handler_(m.subject.empty() ? fixed_subject_ : m.subject, std::move(m.frame));
    }
    draining_.clear();  // keeps its capacity for the next batch
    bool more = false;
    {
      std::lock_guard lock(mu_);
      if (!open()) queued_.clear();  // pushed before close(): never delivered
      more = !queued_.empty();
      if (!more) drain_posted_ = false;
    }
    if (more) boost::asio::post(ex_, [self = shared_from_this()] { self->drain(); });
  }

  std::atomic<bool> open_{true};
  std::atomic<bool> sealed_{false};
  const boost::asio::any_io_executor ex_;
  const bus_handler handler_;
  const std::string fixed_subject_;
  std::mutex mu_;
  std::vector<message> queued_;    // guarded by mu_: pushed, not yet drained
  bool drain_posted_ = false;      // guarded by mu_: a drain is posted or running
  std::vector<message> draining_;  // the running drain's batch (one drain at a time)
};

}  // namespace ccp::net
