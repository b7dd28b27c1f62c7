#pragma once
// Hosts one core role on Asio: turns its actions into bus and link I/O, feeds it bus
// messages, link events and time, and makes no routing decision of its own.
//
// Thread affinity: the role lives on the host's strand. Every call into the role, every
// hook (deliver, complete) and every action runs there; links and buses post to it.
// Timers: after each call the host arms one timer at the role's next_wake().

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "core/action.hpp"
#include "core/node.hpp"
#include "net/bus.hpp"
#include "net/link.hpp"
#include "net/log.hpp"
#include "net/ws.hpp"

namespace ccp::net {

// What the application on top of a role hears. Both run on the role's strand.
struct app_hooks {
  // A request or notification for the application, or an error answering one of its
  // notifications. Answer requests with reply() on the host (same strand, so directly).
  std::function<void(const core::message&)> deliver;
  // A request of the application ended (exactly once per request id).
  std::function<void(core::act::complete&)> complete;
};

template <class Role>
class role_host final : public link_events, public std::enable_shared_from_this<role_host<Role>> {
 public:
  using strand = boost::asio::strand<boost::asio::io_context::executor_type>;

  // `backbone` for mgmt and proxies, `host_bus` for agents and endpoints (the other may
  // be null). `dial` is what an agent's links use.
  role_host(boost::asio::io_context& ioc, std::unique_ptr<Role> role, std::shared_ptr<bus> backbone,
            std::shared_ptr<bus> host_bus, app_hooks hooks, ws_dial_options dial = {})
      : ioc_(ioc),
        strand_(boost::asio::make_strand(ioc)),
        timer_(strand_),
        role_(std::move(role)),
        backbone_(std::move(backbone)),
        host_bus_(std::move(host_bus)),
        hooks_(std::move(hooks)),
        dial_(std::move(dial)) {}

  [[nodiscard]] const strand& executor() const noexcept { return strand_; }

  // Runs f(role, now) on the strand, then executes the role's actions. From any thread.
  template <class F>
  void post(F f) {
    boost::asio::post(strand_, [self = this->shared_from_this(), f = std::move(f)]() mutable {
      if (self->stopped_) return;
      f(*self->role_, now_micros());
      self->run_actions();
    });
  }
  // The same, when already on the strand (from a hook): the caller's drain runs the actions.
  [[nodiscard]] Role& role() noexcept { return *role_; }

  // Stops I/O: unsubscribes, closes links, cancels the timer. The role is not told (do
  // that first with post()). From any thread; idempotent.
  void stop() {
    boost::asio::post(strand_, [self = this->shared_from_this()] {
      if (self->stopped_) return;
      self->stopped_ = true;
      self->timer_.cancel();
      self->flush_outbox();  // what the role sent before stopping (a bye) goes out first
      for (auto& [key, id] : self->subs_)
        bus_of(*self, key.first)->unsubscribe(id);
      self->subs_.clear();
      for (auto& [id, l] : self->links_)
        l->close();
      self->links_.clear();
    });
  }

  // link_events: links report here from their strands; we hop onto ours.
  core::link_id new_link_id() override { return ++last_link_id_; }
  void link_up(core::link_id id, std::shared_ptr<link> l) override {
    post_link([id, l = std::move(l)](role_host& h, core::micros now) {
      if constexpr (has_links) {
        const bool dialled = h.dialing_.erase(id) > 0;
        if (!dialled && h.is_dialer()) {  // the role gave up on this dial meanwhile
          l->close();
          return;
        }
        h.links_[id] = l;
        h.role_->on_link_up(id, now);
      }
    });
  }
  void link_frames(core::link_id id, std::vector<core::frame_buf> frames) override {
    post_link([id, fs = std::move(frames)](role_host& h, core::micros now) mutable {
      if constexpr (has_links) {
        for (auto& f : fs) {
          if (!h.links_.contains(id)) break;  // the role closed it on an earlier frame
          h.role_->on_link_frame(id, std::move(f), now);
        }
      }
    });
  }
  void link_flushed(core::link_id id, std::size_t frames) override {
    post_link([id, frames](role_host& h, core::micros) {
      if constexpr (has_links) {
        if (h.links_.contains(id)) h.role_->on_link_flushed(id, frames);
      }
    });
  }
  void link_down(core::link_id id) override {
    post_link([id](role_host& h, core::micros now) {
      if constexpr (has_links) {
        // A dial that failed, or an open link that went away; not one the role closed.
        if (h.dialing_.erase(id) > 0 || h.links_.erase(id) > 0) h.role_->on_link_down(id, now);
      }
    });
  }

  [[nodiscard]] std::size_t link_count() const noexcept { return links_.size(); }

 private:
  static constexpr bool has_links = requires(Role & r, core::link_id id, core::micros now) {
    r.on_link_up(id, now);
  };
  [[nodiscard]] bool is_dialer() const noexcept { return !dial_.agent.empty(); }

  static bus* bus_of(role_host& h, core::bus_kind k) {
    return k == core::bus_kind::backbone ? h.backbone_.get() : h.host_bus_.get();
  }

  template <class F>
  void post_link(F f) {
    boost::asio::post(strand_, [self = this->shared_from_this(), f = std::move(f)]() mutable {
      if (self->stopped_) return;
      f(*self, now_micros());
      self->run_actions();
    });
  }

  // Executes the role's actions until it has none, then re-arms the timer.
  void run_actions() {
    auto& out = role_->actions();
    while (!out.empty()) {
      batch_.clear();
      batch_.swap(out);
      for (auto& a : batch_)
        std::visit([this](auto& x) { execute(x); }, a);
    }
    batch_.clear();
    arm_timer();
  }

  void execute(core::act::publish& p) {
    if (bus* b = bus_of(*this, p.bus)) b->publish(p.subject, std::move(p.frame));
  }
  void execute(core::act::subscribe& s) {
    bus* b = bus_of(*this, s.bus);
    auto key = std::make_pair(s.bus, s.subject);
    if (!b || subs_.contains(key)) return;
    auto id =
        b->subscribe(s.subject, s.queue, strand_,
                     [w = this->weak_from_this()](std::string_view subject, core::frame_buf f) {
                       auto self = w.lock();
                       if (!self || self->stopped_) return;
                       self->role_->on_bus(subject, std::move(f), now_micros());
                       self->run_actions();
                     });
    if (id) {
      subs_.emplace(std::move(key), *id);
    } else {  // the role stays deaf on that subject: say so, loudly
      log_line(role_->self().str() + ": cannot subscribe: " + id.error());
    }
  }
  void execute(core::act::unsubscribe& u) {
    auto it = subs_.find(std::make_pair(u.bus, u.subject));
    if (it == subs_.end()) return;
    bus_of(*this, u.bus)->unsubscribe(it->second);
    subs_.erase(it);
  }
  // Sends are gathered per link and handed over once per turn of the strand: the first send
  // posts flush_outbox, which runs after what the strand is doing now (a whole batch of bus
  // messages, say), so a link gets one post for many frames instead of one per frame. A
  // close flushes its link's frames first.
  void execute(core::act::send& s) {
    if (!links_.contains(s.link)) return;
    outbox_[s.link].push_back(std::move(s.frame));
    if (outbox_posted_) return;
    outbox_posted_ = true;
    boost::asio::post(strand_, [self = this->shared_from_this()] { self->flush_outbox(); });
  }
  void flush_outbox() {
    outbox_posted_ = false;
    for (auto& [id, frames] : outbox_)
      if (auto it = links_.find(id); it != links_.end()) it->second->send(std::move(frames));
    outbox_.clear();
  }
  void execute(core::act::close& c) {
    if (auto out = outbox_.find(c.link); out != outbox_.end()) {
      if (auto it = links_.find(c.link); it != links_.end())
        it->second->send(std::move(out->second));
      outbox_.erase(out);
    }
    dialing_.erase(c.link);
    if (auto it = links_.find(c.link); it != links_.end()) {
      it->second->close();
      links_.erase(it);
    }
  }
  void execute(core::act::dial& d) {
    dialing_.insert(d.link);
    dial_ws(ioc_, d.link, d.target, dial_, this->shared_from_this());
  }
  void execute(core::act::deliver& d) {
    if (hooks_.deliver) hooks_.deliver(d.msg);
  }
  void execute(core::act::complete& c) {
    if (hooks_.complete) hooks_.complete(c);
  }

  void arm_timer() {
    const core::micros wake = role_->next_wake();
    if (stopped_ || wake == core::never || (armed_ && wake >= armed_at_)) return;
    armed_ = true;
    armed_at_ = wake;
    const std::uint64_t gen = ++timer_gen_;
    timer_.expires_at(std::chrono::steady_clock::time_point(std::chrono::microseconds(wake)));
    timer_.async_wait([self = this->shared_from_this(), gen](boost::system::error_code) {
      if (gen != self->timer_gen_ || self->stopped_) return;  // re-armed or stopped
      self->armed_ = false;
      self->role_->tick(now_micros());
      self->run_actions();
    });
  }

  boost::asio::io_context& ioc_;
  strand strand_;
  boost::asio::steady_timer timer_;
  std::unique_ptr<Role> role_;
  std::shared_ptr<bus> backbone_;
  std::shared_ptr<bus> host_bus_;
  app_hooks hooks_;
  ws_dial_options dial_;
  std::vector<core::action> batch_;
  std::map<std::pair<core::bus_kind, std::string>, subscription_id> subs_;
  std::map<core::link_id, std::shared_ptr<link>> links_;
  std::map<core::link_id, std::vector<core::frame_ptr>> outbox_;  // sends of this turn
  bool outbox_posted_ = false;                                    // flush_outbox is posted
  std::set<core::link_id> dialing_;
  std::atomic<core::link_id> last_link_id_{0};
  bool armed_ = false;
  core::micros armed_at_ = 0;
  std::uint64_t timer_gen_ = 0;
  bool stopped_ = false;
};

}  // namespace ccp::net
