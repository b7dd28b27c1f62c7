#include "net/role_host.hpp"

#include <algorithm>
#include <chrono>

#include "core/message.hpp"
#include "net/trace_hook.hpp"

namespace ccp::net {
namespace {

constexpr std::string_view hello_type = "ccp.hello";

// Why a role closes a link, in words (core/proxy.cpp, core/agent.cpp are the authority).
std::string_view close_reason(core::errc reason) {
  if (reason == core::errc{}) return "goodbye";
  switch (reason) {
    case core::errc::rejected:
      return "rejected: fenced by a newer attachment of the host, or a spoofed sender";
    case core::errc::timeout:
      return "timeout: silent past the idle or handshake timeout";
    case core::errc::shutting_down:
      return "shutting_down";
    default:
      return core::to_string(reason);
  }
}

}  // namespace

role_host::role_host(boost::asio::io_context& ioc, std::unique_ptr<core::node> role,
                     std::shared_ptr<bus> backbone, std::shared_ptr<bus> host_bus,
                     std::unique_ptr<host::application> app, ws_dial_options dial,
                     std::shared_ptr<service_metrics> metrics)
    : ioc_(ioc),
      strand_(boost::asio::make_strand(ioc)),
      timer_(strand_),
      backbone_(std::move(backbone)),
      host_bus_(std::move(host_bus)),
      app_(traced(std::move(app))),  // ccp real: deliveries and outcomes traced
      dial_(std::move(dial)),
      kernel_(std::move(role), *this, app_.get(), host::send_mode::per_turn),
      metrics_(metrics ? std::move(metrics) : std::make_shared<service_metrics>()),
      self_(kernel_.role().self().str()) {}

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

void role_host::when_closed(std::chrono::milliseconds bound, std::function<void()> done) {
  struct waiter {
    std::shared_ptr<role_host> host;
    std::chrono::steady_clock::time_point until;
    std::function<void()> done;
    boost::asio::steady_timer timer;
    void check(const std::shared_ptr<waiter>& self) {
      const bool open = std::any_of(host->closing_.begin(), host->closing_.end(),
                                    [](const std::weak_ptr<link>& w) { return !w.expired(); });
      if (!open || std::chrono::steady_clock::now() >= until) {
        done();
        return;
      }
      timer.expires_after(std::chrono::milliseconds(5));
      timer.async_wait([self](boost::system::error_code) { self->check(self); });
    }
  };
  auto w =
      std::make_shared<waiter>(waiter{shared_from_this(), std::chrono::steady_clock::now() + bound,
                                      std::move(done), boost::asio::steady_timer(strand_)});
  boost::asio::post(strand_, [w] { w->check(w); });
}

role_host::snapshot_t role_host::snapshot() const {
  snapshot_t s;
  s.stats = kernel_.role().stats();
  s.links = kernel_.link_count();
  s.pending_requests = kernel_.role().pending_requests();
  s.cut_off = s.stats.cut_offs > s.stats.rejoins;
  for (const auto& [id, e] : links_) {
    if (e.attached) ++s.attached;
    if (auto l = e.sock.lock()) {
      const std::size_t q = l->queued();
      s.queued += q;
      s.queued_max = std::max(s.queued_max, q);
    }
  }
  return s;
}

void role_host::log_link(log_level level, std::string_view event, core::link_id id,
                         const link_entry& e, std::string_view reason) {
  if (!log_enabled(level)) return;
  const std::string link_text = std::to_string(id);
  if (reason.empty()) {
    log(level, event,
        {{"self", self_},
         {"peer", e.peer.empty() ? "-" : e.peer},
         {"remote", e.remote},
         {"link", link_text}});
  } else {
    log(level, event,
        {{"self", self_},
         {"peer", e.peer.empty() ? "-" : e.peer},
         {"remote", e.remote},
         {"link", link_text},
         {"reason", reason}});
  }
}

void role_host::end_handshake(link_entry& e) {
  if (!e.handshaking) return;
  e.handshaking = false;
  --handshaking_;
}

void role_host::peek(core::link_id id, link_entry& e, std::string_view frame, bool out) {
  auto m = core::decode(frame);
  if (!m || m->type != hello_type) return;
  if (m->kind == core::msg_kind::request) {
    // The dialler's hello: it names the peer (an accepted link's agent).
    e.peer = (out ? m->to : m->from).str();
    if (out && e.peer.empty()) e.peer = "-";
    if (out) e.epoch = hello_epoch(m->body);
    return;
  }
  if (!out) e.peer = m->from.str();
  if (m->kind == core::msg_kind::response) {
    e.attached = true;
    attempts_ = 0;
    metrics_->attaches.bump();
    log_link(log_level::info, "attached", id, e, {});
    if (!out) trace_attachment("attach", self_, e.peer, e.epoch, {});  // we are the agent
  } else if (m->kind == core::msg_kind::error) {
    e.refused = true;
    const auto code = static_cast<std::size_t>(m->code);
    if (code < metrics_->hello_refusals.size()) metrics_->hello_refusals[code].bump();
    const std::string why = std::string(core::to_string(m->code)) + ": " + m->text;
    // Ours to the peer (a proxy refusing an agent) or the peer's to us (an agent refused).
    log_link(log_level::warn, out ? "hello refused" : "hello refused by peer", id, e, why);
  }
  end_handshake(e);
}

void role_host::check_malformed(std::string_view from) {
  const std::uint64_t now_seen = kernel_.role().stats().malformed;
  if (now_seen == malformed_seen_) return;
  const std::uint64_t fresh = now_seen - malformed_seen_;
  malformed_seen_ = now_seen;
  std::uint64_t held = 0;
  if (!malformed_log_.allow(&held)) return;
  log(log_level::warn, "malformed frames dropped",
      {{"self", self_},
       {"from", from},
       {"count", std::to_string(fresh)},
       {"total", std::to_string(now_seen)},
       {"held_back", std::to_string(held)}});
}

void role_host::check_cut_off() {
  const auto& st = kernel_.role().stats();
  if (st.cut_offs != cut_offs_seen_) {
    cut_offs_seen_ = st.cut_offs;
    log(log_level::warn, "cut off from the backbone: own heartbeats not heard; agents told to move",
        {{"self", self_}, {"agents", std::to_string(snapshot().attached)}});
  }
  if (st.rejoins != rejoins_seen_) {
    rejoins_seen_ = st.rejoins;
    log(log_level::info, "back on the backbone: own heartbeats heard again", {{"self", self_}});
  }
}

void role_host::link_up(core::link_id id, std::shared_ptr<link> l) {
  on_strand([id, l = std::move(l)](role_host& h) mutable {
    auto [it, fresh] = h.links_.try_emplace(id);
    link_entry& e = it->second;
    if (fresh) {  // accepted: the agent's claim names it until its hello does
      ++h.handshaking_;
      e.remote = l->remote();
      e.peer = l->claimed();
      h.log_link(log_level::debug, "link up", id, e, {});
    } else {
      h.log_link(log_level::debug, "link up, hello sent", id, e, {});
    }
    trace_link("link_up", h.self_, id, e.peer, {});
    e.sock = std::move(l);
    h.kernel_.handle(core::in::link_up{id}, now_micros());
  });
}

void role_host::link_frames(core::link_id id, std::vector<core::frame_buf> frames) {
  on_strand([id, fs = std::move(frames)](role_host& h) mutable {
    const core::micros now = now_micros();
    std::size_t bytes = 0;
    for (const auto& f : fs)
      bytes += f->size();
    h.metrics_->frames[static_cast<std::size_t>(path::link_in)].bump(fs.size());
    h.metrics_->bytes[static_cast<std::size_t>(path::link_in)].bump(bytes);
    if (h.handshaking_ != 0) {  // only while some link has not finished its hello
      if (auto it = h.links_.find(id); it != h.links_.end() && it->second.handshaking)
        for (const auto& f : fs)
          if (it->second.handshaking) h.peek(id, it->second, *f, false);
    }
    // The kernel drops the frames after one on which the role closed the link.
    for (auto& f : fs)
      h.kernel_.handle(core::in::link_frame{id, std::move(f)}, now);
    if (h.kernel_.role().stats().malformed != h.malformed_seen_) {
      auto it = h.links_.find(id);
      h.check_malformed(it == h.links_.end()
                            ? "link " + std::to_string(id)
                            : (it->second.peer.empty() ? it->second.remote : it->second.peer) +
                                  " (" + it->second.remote + ")");
    }
  });
}

void role_host::link_flushed(core::link_id id, std::size_t frames) {
  on_strand([id, frames](role_host& h) {
    h.kernel_.handle(core::in::link_flushed{id, frames}, now_micros());
  });
}

void role_host::link_down(core::link_id id, std::string why) {
  on_strand([id, why = std::move(why)](role_host& h) {
    const core::micros now = now_micros();
    if (auto it = h.links_.find(id); it != h.links_.end()) {
      link_entry& e = it->second;
      h.last_lost_ = now;
      trace_link("link_down", h.self_, id, e.peer, why);
      if (e.attached && e.dialled) trace_attachment("detach", h.self_, e.peer, e.epoch, "lost");
      if (e.attached) {
        h.metrics_->links_lost.bump();
        h.log_link(log_level::warn, "link lost", id, e, why);
      } else if (e.sock.expired() && e.dialled && !e.refused) {
        h.metrics_->dial_failures.bump();
        std::uint64_t held = 0;
        if (h.dial_log_.allow(&held))
          h.log_link(log_level::warn, "dial failed", id, e,
                     held == 0 ? why : why + " (" + std::to_string(held) + " lines held back)");
      } else if (!e.refused) {
        h.metrics_->links_lost.bump();
        h.log_link(log_level::warn, "link lost before its hello was answered", id, e, why);
      }
      h.end_handshake(e);
      h.links_.erase(it);
    }
    h.kernel_.handle(core::in::link_down{id}, now);
  });
}

void role_host::publish(core::bus_kind b, std::string_view subject, core::frame_ptr frame) {
  const path p = b == core::bus_kind::backbone ? path::backbone_out : path::host_out;
  metrics_->frames[static_cast<std::size_t>(p)].bump();
  metrics_->bytes[static_cast<std::size_t>(p)].bump(frame->size());
  if (bus* x = bus_of(b)) x->publish(subject, std::move(frame));
}

bool role_host::subscribe(core::bus_kind b, const std::string& subject, const std::string& queue) {
  bus* x = bus_of(b);
  if (!x) return false;
  const auto p =
      static_cast<std::size_t>(b == core::bus_kind::backbone ? path::backbone_in : path::host_in);
  auto id = x->subscribe(subject, queue, strand_,
                         [w = weak_from_this(), p](std::string_view s, core::frame_buf f) {
                           auto self = w.lock();
                           if (!self) return;
                           self->metrics_->frames[p].bump();
                           self->metrics_->bytes[p].bump(f->size());
                           self->kernel_.handle(core::in::bus_frame{s, std::move(f)}, now_micros());
                           if (self->kernel_.role().stats().malformed != self->malformed_seen_)
                             self->check_malformed(std::string("bus subject ") + std::string(s));
                         });
  if (!id) {  // the role stays deaf on that subject: say so, loudly
    log(log_level::error, "cannot subscribe", {{"self", self_}, {"reason", id.error()}});
    return false;
  }
  subs_.insert_or_assign(std::make_pair(b, subject), *id);
  return true;
}

void role_host::unsubscribe(core::bus_kind b, const std::string& subject) {
  auto it = subs_.find(std::make_pair(b, subject));
  if (it == subs_.end()) return;
  // What the bus already took for us still reaches the role, as in the simulator: a proxy
  // that leaves an `any` group with requests queued hands them back instead of losing them
  // (the handler holds the host weakly, so it may run after this).
  bus_of(b)->unsubscribe(it->second, true);
  subs_.erase(it);
}

void role_host::send(core::link_id id, core::frame_ptr frame) {
  std::vector<core::frame_ptr> one;
  one.push_back(std::move(frame));
  send(id, std::move(one));
}

void role_host::send(core::link_id id, std::vector<core::frame_ptr>&& frames) {
  auto it = links_.find(id);
  if (it == links_.end()) return;
  std::size_t bytes = 0;
  for (const auto& f : frames)
    bytes += f->size();
  metrics_->frames[static_cast<std::size_t>(path::link_out)].bump(frames.size());
  metrics_->bytes[static_cast<std::size_t>(path::link_out)].bump(bytes);
  if (it->second.handshaking)
    for (const auto& f : frames)
      if (it->second.handshaking) peek(id, it->second, *f, true);
  if (auto l = it->second.sock.lock()) l->send(std::move(frames));
}

void role_host::closing(core::link_id id, core::errc reason) {
  auto it = links_.find(id);
  if (it == links_.end()) return;
  link_entry& e = it->second;
  metrics_->links_closed.bump();
  if (e.attached && e.dialled)
    trace_attachment("detach", self_, e.peer, e.epoch,
                     reason == core::errc{} ? "goodbye" : core::to_string(reason));
  if (e.attached) {
    log_link(log_level::info, "detached", id, e, close_reason(reason));
  } else if (e.sock.expired() && e.dialled) {
    log_link(log_level::debug, "dial abandoned", id, e, close_reason(reason));
  } else if (!e.refused) {
    log_link(log_level::warn, "link closed before its hello was answered", id, e,
             close_reason(reason));
  }
}

void role_host::close(core::link_id id) {
  if (auto it = links_.find(id); it != links_.end()) {
    trace_link("link_down", self_, id, it->second.peer, "closed");
    if (auto l = it->second.sock.lock()) {
      l->close();
      std::erase_if(closing_, [](const std::weak_ptr<link>& w) { return w.expired(); });
      closing_.push_back(l);
    }
    end_handshake(it->second);
    links_.erase(it);
  }
}

void role_host::dial(core::link_id id, const std::string& target) {
  metrics_->dials.bump();
  link_entry& e = links_[id];
  e.dialled = true;
  e.remote = target;
  ++handshaking_;
  const bool moving =
      std::any_of(links_.begin(), links_.end(), [](const auto& l) { return l.second.attached; });
  std::uint64_t held = 0;
  if (moving) {
    log_link(log_level::info, "dialling another proxy while attached (moving)", id, e, {});
  } else if (attempts_ == 0 && last_lost_ == 0) {
    log_link(log_level::info, "dialling", id, e, {});
  } else if (dial_log_.allow(&held)) {
    const core::micros waited = last_lost_ == 0 ? 0 : now_micros() - last_lost_;
    log(log_level::info, "reconnecting",
        {{"self", self_},
         {"remote", target},
         {"link", std::to_string(id)},
         {"attempt", std::to_string(attempts_ + 1)},
         {"backoff_ms", std::to_string(waited / 1000)}});
  }
  ++attempts_;
  trace_dial(self_, id, target);
  dial_ws(ioc_, id, target, dial_, shared_from_this());
}

void role_host::wake_at(core::micros at, std::uint64_t generation) {
  timer_.expires_at(std::chrono::steady_clock::time_point(std::chrono::microseconds(at)));
  timer_.async_wait([w = weak_from_this(), generation](boost::system::error_code ec) {
    auto self = w.lock();
    if (!self || ec == boost::asio::error::operation_aborted) return;
    self->kernel_.wake(generation, now_micros());
    self->check_cut_off();
    if (self->after_tick_) self->after_tick_(self->kernel_.role());
  });
}

void role_host::hand_over_soon() {
  // Posted: it runs after what the strand is doing now (a whole batch of bus messages,
  // say), so a link gets one hand-over for many frames instead of one per frame.
  on_strand([](role_host& h) { h.kernel_.hand_over(); });
}

}  // namespace ccp::net
