#include "net/role_host.hpp"

#include <chrono>

#include "net/log.hpp"

namespace ccp::net {

role_host::role_host(boost::asio::io_context& ioc, std::unique_ptr<core::node> role,
                     std::shared_ptr<bus> backbone, std::shared_ptr<bus> host_bus,
                     std::unique_ptr<host::application> app, ws_dial_options dial)
    : ioc_(ioc),
      strand_(boost::asio::make_strand(ioc)),
      timer_(strand_),
      backbone_(std::move(backbone)),
      host_bus_(std::move(host_bus)),
      app_(std::move(app)),
      dial_(std::move(dial)),
      kernel_(std::move(role), *this, app_.get(), host::send_mode::per_turn) {}

void role_host::handle(core::event e) {
  on_strand(
      [e = std::move(e)](role_host& h) mutable { h.kernel_.handle(std::move(e), now_micros()); });
}

void role_host::stop() {
  boost::asio::post(strand_, [self = shared_from_this()] {
    if (self->kernel_.closed()) return;
    self->timer_.cancel();
    self->kernel_.close_all();  // hands over what the role sent before (a bye) first
  });
}

void role_host::link_up(core::link_id id, std::shared_ptr<link> l) {
  on_strand([id, l = std::move(l)](role_host& h) mutable {
    h.links_[id] = std::move(l);
    h.kernel_.handle(core::in::link_up{id}, now_micros());
  });
}

void role_host::link_frames(core::link_id id, std::vector<core::frame_buf> frames) {
  on_strand([id, fs = std::move(frames)](role_host& h) mutable {
    const core::micros now = now_micros();
    // The kernel drops the frames after one on which the role closed the link.
    for (auto& f : fs)
      h.kernel_.handle(core::in::link_frame{id, std::move(f)}, now);
  });
}

void role_host::link_flushed(core::link_id id, std::size_t frames) {
  on_strand([id, frames](role_host& h) {
    h.kernel_.handle(core::in::link_flushed{id, frames}, now_micros());
  });
}

void role_host::link_down(core::link_id id) {
  on_strand([id](role_host& h) {
    h.links_.erase(id);
    h.kernel_.handle(core::in::link_down{id}, now_micros());
  });
}

void role_host::publish(core::bus_kind b, std::string_view subject, core::frame_ptr frame) {
  if (bus* x = bus_of(b)) x->publish(subject, std::move(frame));
}

bool role_host::subscribe(core::bus_kind b, const std::string& subject, const std::string& queue) {
  bus* x = bus_of(b);
  if (!x) return false;
  auto id = x->subscribe(subject, queue, strand_,
                         [w = weak_from_this()](std::string_view s, core::frame_buf f) {
                           auto self = w.lock();
                           if (!self) return;
                           self->kernel_.handle(core::in::bus_frame{s, std::move(f)}, now_micros());
                         });
  if (!id) {  // the role stays deaf on that subject: say so, loudly
    log_line(kernel_.role().self().str() + ": cannot subscribe: " + id.error());
    return false;
  }
  subs_.insert_or_assign(std::make_pair(b, subject), *id);
  return true;
}

void role_host::unsubscribe(core::bus_kind b, const std::string& subject) {
  auto it = subs_.find(std::make_pair(b, subject));
  if (it == subs_.end()) return;
  bus_of(b)->unsubscribe(it->second);
  subs_.erase(it);
}

void role_host::send(core::link_id id, core::frame_ptr frame) {
  std::vector<core::frame_ptr> one;
  one.push_back(std::move(frame));
  send(id, std::move(one));
}

void role_host::send(core::link_id id, std::vector<core::frame_ptr>&& frames) {
  if (auto it = links_.find(id); it != links_.end())
    if (auto l = it->second.lock()) l->send(std::move(frames));
}

void role_host::close(core::link_id id) {
  if (auto it = links_.find(id); it != links_.end()) {
    if (auto l = it->second.lock()) l->close();
    links_.erase(it);
  }
}

void role_host::dial(core::link_id id, const std::string& target) {
  dial_ws(ioc_, id, target, dial_, shared_from_this());
}

void role_host::wake_at(core::micros at, std::uint64_t generation) {
  timer_.expires_at(std::chrono::steady_clock::time_point(std::chrono::microseconds(at)));
  timer_.async_wait([w = weak_from_this(), generation](boost::system::error_code ec) {
    auto self = w.lock();
    if (!self || ec == boost::asio::error::operation_aborted) return;
    self->kernel_.wake(generation, now_micros());
  });
}

void role_host::hand_over_soon() {
  // Posted: it runs after what the strand is doing now (a whole batch of bus messages,
  // say), so a link gets one hand-over for many frames instead of one per frame.
  on_strand([](role_host& h) { h.kernel_.hand_over(); });
}

}  // namespace ccp::net
