#pragma once
// Hosts one core role on Asio: the host kernel (host/kernel.hpp) around the role, with
// buses, websocket links and a steady timer as the kernel's world. It feeds the role bus
// frames, link events and time, and makes no routing decision of its own; nor does it know
// which role it holds.
//
// Thread affinity: the role lives on the host's strand. Every call into the kernel and the
// role, every application callback and every action runs there; links and buses post to
// it. Timers: the kernel asks for one wake at a time (world_port::wake_at), kept by one
// timer. Sends are gathered per link and handed over once per turn of the strand.
//
// What it reports: each link's life is logged (net/log.hpp) with the addresses it
// concerns, role-agnostically, from what passes the host: a dial ("dialling", or
// "reconnecting" with the attempt and how long the role backed off), the hello exchange
// on a link that is not attached yet (the only frames the host reads: "attached", "hello
// refused" with the code and the peer's reason, on both sides), the reason the role closes
// a link ("detached"), and a link lost with the socket's reason. Malformed frames are
// logged at most a few lines per 10 s. Frames and bytes per path are counted in
// service_metrics; the role's counters and the links' queue depths are read on the strand
// (snapshot).

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>

#include "core/node.hpp"
#include "host/kernel.hpp"
#include "net/bus.hpp"
#include "net/link.hpp"
#include "net/log.hpp"
#include "net/metrics.hpp"
#include "net/ws.hpp"

namespace ccp::net {

class role_host final : public link_events,
                        public host::world_port,
                        public std::enable_shared_from_this<role_host> {
 public:
  using strand = boost::asio::strand<boost::asio::io_context::executor_type>;

  // `backbone` for mgmt and proxies, `host_bus` for agents and endpoints (the other may be
  // null). `app` hears deliveries and completions (may be null). `dial` is what an
  // agent's links use.
  role_host(boost::asio::io_context& ioc, std::unique_ptr<core::node> role,
            std::shared_ptr<bus> backbone, std::shared_ptr<bus> host_bus,
            std::unique_ptr<host::application> app, ws_dial_options dial = {},
            std::shared_ptr<service_metrics> metrics = nullptr);

  [[nodiscard]] const strand& executor() const noexcept { return strand_; }
  [[nodiscard]] const std::shared_ptr<service_metrics>& metrics() const noexcept {
    return metrics_;
  }
  [[nodiscard]] const std::string& self() const noexcept { return self_; }

  // What the monitor reads on the strand.
  struct snapshot_t {
    core::node_stats stats;
    std::size_t links = 0;       // open links
    std::size_t attached = 0;    // links whose hello was welcomed
    std::size_t queued = 0;      // frames queued on all links, not yet written
    std::size_t queued_max = 0;  // the most on one link
    std::size_t pending_requests = 0;
    bool cut_off = false;  // a proxy that stopped hearing its own heartbeats
  };
  // On the strand only.
  [[nodiscard]] snapshot_t snapshot() const;

  // Tells the role `e` on the strand. From any thread.
  void handle(core::event e);
  // Runs f(role, now) on the strand (the application's calls: request, send), then carries
  // out the role's actions. From any thread.
  template <class F>
  void post(F f) {
    boost::asio::post(strand_, [self = shared_from_this(), f = std::move(f)]() mutable {
      if (self->kernel_.closed()) return;
      const core::micros now = now_micros();
      f(self->kernel_.role(), now);
      self->kernel_.run_actions(now);
    });
  }

  // Stops I/O: hands over what is queued, unsubscribes, closes links, cancels the timer.
  // The role is not told (do that first with handle(in::stop{})). From any thread;
  // idempotent.
  void stop();

  // Calls `done` (on the strand) once every link this host closed has finished closing (its
  // last frames written: an agent's bye), or after `bound`, whichever is first. For a
  // graceful exit after stop(). From any thread.
  void when_closed(std::chrono::milliseconds bound, std::function<void()> done);

  // On the strand only.
  [[nodiscard]] std::size_t link_count() const noexcept { return kernel_.link_count(); }

  // `f` runs on the strand after each of the role's timer turns (where a proxy's
  // rebalancing and cut-off happen), to look at the role; the host logs cut-offs itself.
  // Set before the role starts (in::start); not thread-safe against a running host.
  void after_tick(std::function<void(const core::node&)> f) { after_tick_ = std::move(f); }

  // link_events: links report here from their strands; we hop onto ours.
  core::link_id new_link_id() override { return ++last_link_id_; }
  void link_up(core::link_id id, std::shared_ptr<link> l) override;
  void link_frames(core::link_id id, std::vector<core::frame_buf> frames) override;
  void link_flushed(core::link_id id, std::size_t frames) override;
  void link_down(core::link_id id, std::string why) override;

 private:
  // world_port: the kernel's world, on the strand.
  void publish(core::bus_kind b, std::string_view subject, core::frame_ptr frame) override;
  bool subscribe(core::bus_kind b, const std::string& subject, const std::string& queue) override;
  void unsubscribe(core::bus_kind b, const std::string& subject) override;
  void send(core::link_id id, core::frame_ptr frame) override;
  void send(core::link_id id, std::vector<core::frame_ptr>&& frames) override;
  void close(core::link_id id) override;
  void closing(core::link_id id, core::errc reason) override;
  void dial(core::link_id id, const std::string& target) override;
  void wake_at(core::micros at, std::uint64_t generation) override;
  void hand_over_soon() override;

  [[nodiscard]] bus* bus_of(core::bus_kind k) const {
    return k == core::bus_kind::backbone ? backbone_.get() : host_bus_.get();
  }
  // What the host knows of a link, for the log.
  struct link_entry {
    std::weak_ptr<link> sock;  // empty until up
    std::string remote;        // ip:port of an accepted link, the URL of a dialled one
    std::string peer;          // the other role's address, once a hello told it
    bool dialled = false;
    bool handshaking = true;  // no hello answer seen yet: its frames are read
    bool attached = false;
    bool refused = false;
    std::uint64_t epoch = 0;  // of the hello this host sent on it (for the trace)
  };
  // Reads a handshake frame of `e` (`out`: we send it): notes the peer, logs the answer.
  void peek(core::link_id id, link_entry& e, std::string_view frame, bool out);
  void end_handshake(link_entry& e);
  // Logs malformed frames the role counted since the last look (rate-limited).
  void check_malformed(std::string_view from);
  // Logs the role's cut-off and rejoin (node_stats counters; they change at ticks only).
  void check_cut_off();
  void log_link(log_level level, std::string_view event, core::link_id id, const link_entry& e,
                std::string_view reason);

  // Runs f(*this) on the strand unless stopped.
  template <class F>
  void on_strand(F f) {
    boost::asio::post(strand_, [self = shared_from_this(), f = std::move(f)]() mutable {
      if (!self->kernel_.closed()) f(*self);
    });
  }

  boost::asio::io_context& ioc_;
  strand strand_;
  boost::asio::steady_timer timer_;
  std::shared_ptr<bus> backbone_;
  std::shared_ptr<bus> host_bus_;
  std::unique_ptr<host::application> app_;
  ws_dial_options dial_;
  host::kernel kernel_;  // after app_: it holds a pointer to it
  std::map<std::pair<core::bus_kind, std::string>, subscription_id> subs_;
  // The open links' sockets, held weakly: a link keeps itself alive while its socket is
  // open (its reads are pending) and holds this host strongly (link_events), so a strong
  // hold here would be a cycle that outlives an io_context stopped before stop() ran.
  std::map<core::link_id, link_entry> links_;
  // Links closed, while their sockets still write what was queued (when_closed).
  std::vector<std::weak_ptr<link>> closing_;
  std::atomic<core::link_id> last_link_id_{0};
  std::shared_ptr<service_metrics> metrics_;
  std::string self_;             // the role's address, for the log
  std::size_t handshaking_ = 0;  // links_ entries with handshaking set
  unsigned attempts_ = 0;        // dials since the last attachment
  core::micros last_lost_ = 0;   // when the last link or dial went down
  std::uint64_t malformed_seen_ = 0;
  std::uint64_t cut_offs_seen_ = 0, rejoins_seen_ = 0;
  std::function<void(const core::node&)> after_tick_;  // may be empty
  log_limiter malformed_log_;
  log_limiter dial_log_{10, 60'000};
};

}  // namespace ccp::net
