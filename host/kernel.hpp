#pragma once
// The host kernel: what every host of a role does around it, in every world.
//
// A role (core/) turns events into actions; something must carry the actions out and keep
// the books that go with them: which subjects the role joined, which of its links are
// open, the frames waiting to be handed to a link, when to wake the role next, and the
// application that answers what is delivered to it. The simulator, the networked daemons
// and the core's test harness all use this kernel for that, so the glue the daemons run is
// the glue the simulator proves. Each world adds only what is truly its own, behind
// world_port: a virtual network and clock (sim/), sockets, strands and timers (net/), a
// scripted queue (tests/). The kernel never knows which role it holds.
//
// Threading: none. A kernel and its role are driven by one caller at a time (the
// simulator's loop, a strand). Standard library only, like core/.

#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/action.hpp"
#include "core/event.hpp"
#include "core/flat_map.hpp"
#include "core/node.hpp"

namespace ccp::host {

using core::micros;

// What a world does for a host: its buses, its links, its timer. The kernel calls it while
// it carries out a role's actions. An implementation never calls back into the kernel from
// inside these calls: what follows from them (a frame that arrives, a link that goes down)
// comes back later, as an event for kernel::handle.
class world_port {
 public:
  virtual ~world_port() = default;
  virtual void publish(core::bus_kind bus, std::string_view subject, core::frame_ptr frame) = 0;
  // Joins `subject`, in queue group `queue` when that is not empty. False when the bus
  // refused: the kernel does not count the subscription, so a later one tries again.
  virtual bool subscribe(core::bus_kind bus, const std::string& subject,
                         const std::string& queue) = 0;
  virtual void unsubscribe(core::bus_kind bus, const std::string& subject) = 0;
  // A frame for an open link (send_mode::at_once).
  virtual void send(core::link_id link, core::frame_ptr frame) = 0;
  // The frames a turn queued for one link, in order (send_mode::per_turn).
  virtual void send(core::link_id link, std::vector<core::frame_ptr>&& frames) {
    for (auto& f : frames)
      send(link, std::move(f));
  }
  // Closes an open link, or gives up a dial. Always passed on, even for a link the kernel
  // does not know: the world decides what that means for its network.
  virtual void close(core::link_id link) = 0;
  // The role closes `link` for `reason` (errc{} for a goodbye): called just before close,
  // for a world that reports it (the daemons' log). Most worlds need nothing here.
  virtual void closing(core::link_id /*link*/, core::errc /*reason*/) {}
  virtual void dial(core::link_id link, const std::string& target) = 0;
  // Call kernel::wake(generation, now) at time `at` (or at once if it has passed). A later
  // call replaces the request: a wake with an older generation is ignored.
  virtual void wake_at(micros at, std::uint64_t generation) = 0;
  // send_mode::per_turn: call kernel::hand_over() once the current turn is done.
  virtual void hand_over_soon() {}
};

// What the application on top of a role hears. Called inside the kernel's turn: it may
// call the role (reply, send, request), and what that produces runs in the same turn.
class application {
 public:
  virtual ~application() = default;
  // A request or notification for the application, or an error answering one of its
  // notifications.
  virtual void deliver(core::node& role, const core::message& m, micros now) = 0;
  // A request of the application ended (exactly once per request id).
  virtual void complete(core::node& role, core::act::complete& c, micros now) = 0;
  // The role's directory is complete (core::act::ready), or a draining proxy holds no
  // link any more (core::act::drained).
  virtual void ready(core::node& /*role*/, micros /*now*/) {}
  virtual void drained(core::node& /*role*/, micros /*now*/) {}
};

// The sample application of the daemons and the simulator: answers `echo` requests with
// their body and each type of `answers` with its fixed body; hears nothing else.
class sample_app : public application {
 public:
  explicit sample_app(std::map<std::string, std::string> answers = {})
      : answers_(std::move(answers)) {}
  // Tells `role` the types this application serves (before the role starts).
  void serve_on(core::node& role) const;
  void deliver(core::node& role, const core::message& m, micros now) override;
  void complete(core::node&, core::act::complete&, micros) override {}

 private:
  std::map<std::string, std::string> answers_;
};

// How sends reach the world: each at once (the simulator, the harness: a send is an event
// on the virtual network), or gathered per link and handed over once per turn (the
// daemons: one write queue hand-over for a burst of frames).
enum class send_mode : std::uint8_t { at_once, per_turn };

class kernel {
 public:
  // `port` and `app` (may be null: nothing is delivered) must outlive the kernel.
  kernel(std::unique_ptr<core::node> role, world_port& port, application* app,
         send_mode mode = send_mode::at_once);
  kernel(const kernel&) = delete;
  kernel& operator=(const kernel&) = delete;

  [[nodiscard]] core::node& role() noexcept { return *role_; }
  [[nodiscard]] const core::node& role() const noexcept { return *role_; }

  // Tells the role what happened, then carries out its actions. A link's down is told once
  // (a second down, or the down of a link the role closed, is dropped here); frames and
  // write reports of a link the role no longer holds reach it, and it drops them (every
  // role checks its own link table on the forwarding path already).
  void handle(core::event&& e, micros now);
  // Carries out the actions the role has produced: after the host called the role's
  // application API (request, send, reply) itself.
  void run_actions(micros now);
  // The world's timer fired for `generation` (see world_port::wake_at).
  void wake(std::uint64_t generation, micros now);
  // send_mode::per_turn: hands the frames gathered this turn to their links.
  void hand_over();
  // Stops all I/O of this host: hands over what is queued, leaves every subject, closes
  // every link. The role is not told (send it in::stop first); later events are ignored.
  void close_all();

  [[nodiscard]] bool closed() const noexcept { return closed_; }
  [[nodiscard]] std::size_t link_count() const noexcept { return links_.size(); }
  [[nodiscard]] bool link_open(core::link_id link) const;
  [[nodiscard]] std::size_t subscription_count() const noexcept { return subs_.size(); }

 private:
  enum class link_state : std::uint8_t { dialing, open };

  void execute(core::act::publish& p, micros now);
  void execute(core::act::subscribe& s, micros now);
  void execute(core::act::unsubscribe& u, micros now);
  void execute(core::act::send& s, micros now);
  void execute(core::act::close& c, micros now);
  void execute(core::act::dial& d, micros now);
  void execute(core::act::deliver& d, micros now);
  void execute(core::act::complete& c, micros now);
  void execute(core::act::ready& r, micros now);
  void execute(core::act::drained& d, micros now);
  void reschedule();
  void hand_over(core::link_id link);

  std::unique_ptr<core::node> role_;
  world_port& port_;
  application* app_;
  send_mode mode_;
  bool closed_ = false;
  // The role's links: dialled and not yet up, or open. A link the role closed, or that
  // went down, is not here. Read on ups, downs, dials, closes and close_all, never per
  // frame.
  core::flat_map<core::link_id, link_state, std::hash<core::link_id>, std::equal_to<>> links_;
  std::set<std::pair<core::bus_kind, std::string>> subs_;
  // send_mode::per_turn: this turn's frames per link, and whether hand_over_soon was asked.
  std::map<core::link_id, std::vector<core::frame_ptr>> outbox_;
  bool hand_over_asked_ = false;
  // The wake requested from the world (never: none), and its generation.
  micros wake_ = core::never;
  std::uint64_t wake_generation_ = 0;
};

}  // namespace ccp::host
