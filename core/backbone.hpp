#pragma once
// What mgmt nodes and proxies share as members of the backbone bus: their subscriptions,
// the route directory and the control traffic that feeds it (route announcements,
// proxy heartbeats, sync), and routing of a frame onto the backbone with an explicit
// `unreachable` for a host no proxy holds.

#include <array>
#include <set>
#include <vector>

#include "core/directory.hpp"
#include "core/node.hpp"

namespace ccp::core {

class backbone_node : public node {
 public:
  [[nodiscard]] const route_directory& directory() const noexcept { return dir_; }
  // Whether a directory sync with some proxy is still in progress. A fresh member knows
  // the routes once it heard every proxy's heartbeat (heartbeat_interval) and its syncs
  // ended; a client that wants `unreachable` to be exact waits for that.
  [[nodiscard]] bool syncing() const noexcept { return !sync_requests_.empty(); }
  // Whether the directory is learnt: the wait for act::ready is over (every proxy's
  // heartbeat could be heard and the syncs ended, or the fleet's sync answered in full),
  // whether or not the role said ready (mgmt: not while it claims its address). Until
  // then an empty directory proves nothing: route_backbone publishes what it would have
  // answered `unreachable` and lets the bus decide (the request's deadline bounds it), and
  // expected_members knows no group (an `all` gathers until its deadline).
  [[nodiscard]] bool learnt() const noexcept { return learnt_; }

 protected:
  backbone_node(address self, std::uint64_t seed);

  // Subscribes the subjects of self_ (concrete, TYPE/any, TYPE/all, TYPE/H/any|all) and
  // the control subjects, and starts the wait for act::ready.
  void subscribe_backbone(micros now);
  // Whether `h` (its `to` checked) is a control announcement of the backbone: a control
  // notification to every proxy (ccp://proxy/all), which every member reads. Any other
  // frame is a member's only when it is addressed to it.
  [[nodiscard]] static bool is_announcement(const frame_header& h) noexcept {
    return h.kind == msg_kind::notification && is_control_type(h.type) &&
           h.to.type == role::proxy && h.to.form == scope::all;
  }
  // Handles ccp.route, ccp.hb and ccp.sync; other control types are the role's.
  void control(const frame_header& h, micros now) override;
  void control_reply(const message& m, micros now) override;
  // A directory entry for `host` was taken by `proxy` (not us) with `epoch`.
  virtual void route_taken(std::string_view /*host*/, std::uint64_t /*epoch*/, micros /*now*/) {}
  // The routes this member announces in sync replies: empty for mgmt.
  [[nodiscard]] virtual std::vector<route_directory::synced_route> own_routes() const { return {}; }
  // Asks every proxy at once (ccp://proxy/all, one ccp.sync) for the routes it holds and
  // the proxies it knows: act::ready is due as soon as every proxy named by an answer has
  // answered in full (one round trip), instead of a heartbeat interval after the start. A
  // proxy that does not answer (dead within its lease) leaves the old bound in force.
  void sync_fleet(micros now);
  // Announces that this proxy holds `host` (epoch, and who lives there) to the backbone.
  void announce_attach(std::string_view host, std::uint64_t epoch,
                       const route_directory::members& m, micros now);
  // The directory missed what the backbone said for a while (we were cut off from it: every
  // peer's lease ended): it is not learnt again until every proxy's heartbeat can have been
  // heard once more (the same bound as at the start; the syncs it causes may still run).
  void relearn(micros now);
  // Whether act::ready may be said now (mgmt: not while it claims its address).
  [[nodiscard]] virtual bool may_be_ready(micros /*now*/) const { return true; }
  void backbone_tick(micros now);
  [[nodiscard]] micros backbone_wake() const;

  // Publishes a frame for `h.to` on the backbone, or bounces `unreachable` when the
  // directory, learnt, knows no proxy that could deliver it.
  void route_backbone(frame_buf f, const frame_header& h, micros now);
  // Where an `any` to agents, endpoints or proxies goes. While every proxy is heard (a
  // heartbeat within any_fresh_bound, and none whose lease ended without a goodbye since
  // it was last heard), nullptr: it is published on the group's
  // subject and the bus's queue group picks (a dead proxy's subscription goes with its
  // connection at once). Once one of them is silent that long, the sender picks instead,
  // among the proxies still heard and open, in proportion to their members (hosts for
  // agents, endpoints for endpoints, one each for proxies), and publishes on that proxy's
  // own subject, where it serves the frame from its own links: a proxy that stopped
  // (SIGSTOP, a long stall) stays in the bus's queue groups for as long as the bus keeps
  // its connection, however long (README "A hung proxy"). Also nullptr while the
  // directory is not learnt, when no heard proxy has members, and under the negative
  // scenarios' sabotages of `any`.
  [[nodiscard]] const subject_text* any_target(role type, micros now);
  // Publishes a control notification to all backbone members.
  void announce(std::string_view subject, std::string_view type, std::string body, micros now);
  // The members of an agent, endpoint or proxy group, from the directory (mgmt groups
  // are not in it: nullopt). A host whose proxy did not announce who lives there (an
  // older proxy) makes an agent or endpoint group unknown too, and so does a directory
  // not yet learnt (every group).
  [[nodiscard]] std::optional<std::vector<address>> expected_members(
      const address& to) const override;

  route_directory dir_;
  std::string self_text_;
  micros last_own_heartbeat_ = 0;  // when our own heartbeat last came back over the bus

 private:
  std::map<std::string, std::vector<route_directory::synced_route>, std::less<>> sync_parts_;
  struct sync_request {
    std::string proxy;
    micros sent = 0;
  };
  std::map<std::uint64_t, sync_request> sync_requests_;  // internal request id -> proxy
  micros next_expire_check_ = never;
  // The next expiry check comes no later than `t`.
  void expire_by(micros t);
  // act::ready: due once every proxy's heartbeat can have been heard and no sync is in
  // progress, or at ready_bound_ whatever the syncs; never once it was said.
  void check_ready(micros now);
  micros ready_at_ = never;
  micros ready_bound_ = never;
  bool learnt_ = false;
  micros relearn_at_ = never;  // relearn: learnt again then
  // The answers to sync_fleet's request (id 0: none in flight).
  struct fleet_sync {
    std::uint64_t id = 0;
    micros sent = 0;
    std::set<std::string, std::less<>> named, answered;
    std::map<std::string, std::vector<route_directory::synced_route>, std::less<>> parts;
  } fleet_;
  [[nodiscard]] bool fleet_synced() const;
  // any_target's choice for agents, endpoints and proxies, rebuilt when the directory
  // changes: the proxies' subjects and their cumulative weights.
  struct any_choice {
    std::uint64_t version = ~std::uint64_t{0};
    micros valid_until = 0;  // rebuilt then: the first heard proxy may fall silent
    bool someone_silent = false;
    std::vector<std::uint64_t> upto;
    std::vector<subject_text> subjects;
  };
  std::array<any_choice, 3> any_choice_;
  // Proxies whose lease ended without a goodbye, until heard again: dead, or stopped and
  // still in the bus's queue groups (any_target routes around them either way).
  std::set<std::string, std::less<>> lapsed_;
  void fleet_reply(const message& m, micros now);
};

// A backbone member drops a silent proxy's routes at most this long after its lease
// (idle_timeout since its last heartbeat) ended.
inline constexpr micros expiry_precision = heartbeat_interval / 10;

// A proxy not heard for this long (heartbeat_interval is 1 s) is taken for stopped by the
// senders of `any` (backbone_node::any_target): they route around it.
inline constexpr micros any_fresh_bound = 2 * heartbeat_interval;

// Bytes of routes in one sync reply frame (keeps it well under max_frame_bytes, whatever
// the number of endpoints per host).
inline constexpr std::size_t sync_bytes_per_frame = 64 * 1024;

}  // namespace ccp::core
