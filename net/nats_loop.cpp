#include "net/nats_loop.hpp"

#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <boost/system/error_code.hpp>

namespace ccp::net::detail {

void loop_attachment::forget_connection() {
  std::lock_guard lock(nc_mu_);
  nc_ = nullptr;
}

natsStatus loop_attachment::on_attach(void** user, void* loop_ptr, natsConnection* nc,
                                      natsSock fd) {
  try {
    auto* self = static_cast<loop_attachment*>(*user);
    if (self == nullptr) {
      auto fresh = std::make_shared<loop_attachment>(static_cast<loop*>(loop_ptr)->ex);
      fresh->self_ = fresh;
      static_cast<loop*>(loop_ptr)->attached = fresh;
      // Not shared with any other thread yet (the post below publishes it), and libnats
      // holds its connection lock here: taking nc_mu_ would order the two locks both ways.
      fresh->nc_ = nc;
      self = fresh.get();
      *user = self;
    }
    const int copy = ::fcntl(fd, F_DUPFD_CLOEXEC, 0);
    if (copy < 0) return NATS_SYS_ERROR;
    self->want_read_.store(true, std::memory_order_release);
    self->run_on_strand([self, copy] { self->reattach(copy); });
    return NATS_OK;
  } catch (...) {
    return NATS_NO_MEMORY;
  }
}

natsStatus loop_attachment::on_read(void* user, bool add) {
  auto* self = static_cast<loop_attachment*>(user);
  self->want_read_.store(add, std::memory_order_release);
  if (!add) self->run_on_strand([self] { self->drop_socket(); });  // disconnected
  return NATS_OK;
}

natsStatus loop_attachment::on_write(void* user, bool add) {
  auto* self = static_cast<loop_attachment*>(user);
  self->want_write_.store(add, std::memory_order_release);
  if (add && !self->write_posted_.exchange(true, std::memory_order_acq_rel))
    self->run_on_strand([self] { self->do_write(); });
  return NATS_OK;
}

natsStatus loop_attachment::on_detach(void* user) {
  auto* self = static_cast<loop_attachment*>(user);
  self->want_read_.store(false, std::memory_order_release);
  self->want_write_.store(false, std::memory_order_release);
  // The posted handler keeps the attachment alive until the strand dropped the socket.
  self->run_on_strand([self] { self->drop_socket(); });
  self->self_.reset();
  return NATS_OK;
}

// On the strand: a new socket (first connect or a reconnect).
void loop_attachment::reattach(int fd) {
  drop_socket();
  boost::system::error_code ec;
  sd_.emplace(strand_);
  sd_->assign(fd, ec);
  if (ec) {
    ::close(fd);
    sd_.reset();
    return;
  }
  ++generation_;
  do_read();
}

void loop_attachment::drop_socket() {
  if (!sd_) return;
  boost::system::error_code ec;
  sd_->close(ec);
  sd_.reset();
  read_waiting_ = write_waiting_ = false;
  ++generation_;
}

bool loop_attachment::ready(short events) {
  pollfd p{sd_->native_handle(), events, 0};
  return ::poll(&p, 1, 0) > 0 && (p.revents & (events | POLLERR | POLLHUP)) != 0;
}

// On the strand: read while data waits (at most a few buffers, then yield), then wait.
void loop_attachment::do_read() {
  constexpr int reads_per_turn = 8;
  for (int i = 0; i < reads_per_turn; ++i) {
    if (!sd_ || !want_read_.load(std::memory_order_acquire)) return;
    {
      std::lock_guard lock(nc_mu_);
      if (nc_ == nullptr) return;
      natsConnection_ProcessReadEvent(nc_);
    }
    if (!sd_ || !ready(POLLIN)) {
      arm_read();
      return;
    }
  }
  run_on_strand([this] { do_read(); });
}

void loop_attachment::arm_read() {
  if (!sd_ || read_waiting_ || !want_read_.load(std::memory_order_acquire)) return;
  wait(descriptor::wait_read, read_waiting_, &loop_attachment::do_read);
  if (ready(POLLIN)) run_on_strand([this] { do_read(); });
}

// Waits until the socket is ready for `what`, with `waiting` set meanwhile, then runs
// `next`; not if the wait failed or the socket was replaced or dropped meanwhile.
void loop_attachment::wait(descriptor::wait_type what, bool& waiting,
                           void (loop_attachment::*next)()) {
  waiting = true;
  sd_->async_wait(what, [self = shared_from_this(), &waiting, next,
                         g = generation_](boost::system::error_code ec) {
    if (g != self->generation_) return;
    waiting = false;
    if (!ec) ((*self).*next)();
  });
}

// Writes libnats' buffer if it holds something. Only then: libnats takes a write of zero
// bytes for a closed connection and starts reconnecting.
bool loop_attachment::write_buffered() {
  std::lock_guard lock(nc_mu_);
  if (nc_ == nullptr || !want_write_.load(std::memory_order_acquire)) return false;
  natsConnection_ProcessWriteEvent(nc_);
  return true;
}

// On the strand: write what libnats buffered; wait for room if the socket is full.
void loop_attachment::do_write() {
  write_posted_.store(false, std::memory_order_release);
  if (!sd_ || !write_buffered()) return;
  // libnats clears want_write_ (on_write(false)) once its buffer is empty.
  if (!sd_ || !want_write_.load(std::memory_order_acquire) || write_waiting_) return;
  wait(descriptor::wait_write, write_waiting_, &loop_attachment::do_write);
  if (ready(POLLOUT) && !write_posted_.exchange(true, std::memory_order_acq_rel))
    run_on_strand([this] { do_write(); });
}

}  // namespace ccp::net::detail
