#pragma once
// What the four roles share: the application API (send, request, reply), request
// bookkeeping with deadlines, local dispatch with the built-in operations, and error
// replies. A role derives from node and adds how frames leave and arrive.
//
// Threading: none. A node is driven by one caller at a time; every call may append
// actions, which the host takes with take_actions() and executes before calling again.

#include <cstdint>
#include <expected>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "core/action.hpp"
#include "core/address.hpp"
#include "core/event.hpp"
#include "core/limits.hpp"
#include "core/message.hpp"
#include "core/random.hpp"
#include "core/sabotage.hpp"

namespace ccp::core {

// Counters a host can export and the simulator checks.
struct node_stats {
  std::uint64_t delivered = 0;    // requests and notifications handed to the application
  std::uint64_t completed = 0;    // requests of this node that ended (any outcome)
  std::uint64_t forwarded = 0;    // frames routed on for others
  std::uint64_t errors_sent = 0;  // error replies this node generated
  std::uint64_t dropped = 0;      // frames discarded (late replies, malformed, no route)
  std::uint64_t malformed = 0;    // frames rejected by the codec
  std::uint64_t cut_offs = 0;     // a proxy stopped hearing its own heartbeats (cut off)
  std::uint64_t rejoins = 0;      // ... and heard them again
  // Rebalancing (a proxy): agents asked to move (ccp.move), asked agents that then left for
  // another proxy (fenced by their new attachment, or their bye), and agents that attached
  // here on a move that named this proxy.
  std::uint64_t moves_asked = 0;
  std::uint64_t moved_away = 0;
  std::uint64_t moves_received = 0;
};

class node {
 public:
  node(address self, std::uint64_t seed);
  virtual ~node() = default;
  node(const node&) = delete;
  node& operator=(const node&) = delete;

  [[nodiscard]] const address& self() const noexcept { return self_; }
  [[nodiscard]] const node_stats& stats() const noexcept { return stats_; }

  // The one entry point of every role: the host reports what happened (core/event.hpp),
  // then executes the actions it produced. A role ignores events that are not its kind's.
  void handle(event&& e, micros now);

  // The application serves requests and notifications of operation `type`. Requests of
  // a type nobody serves are answered with errc::no_handler; built-in operations
  // (ping, and each role's own) are answered by the core.
  void serve(std::string_view type);

  // Sends a notification. Returns its message id. Errors: bad_request (invalid type or
  // `to`), too_large. A routing failure comes back later as a deliver of an error message.
  [[nodiscard]] std::expected<std::uint64_t, errc> send(const address& to, std::string_view type,
                                                        std::string body, micros now);
  // Starts a request; exactly one act::complete with the returned id follows. `timeout`
  // <= 0 means default_request_timeout. A group address (any/all forms) gathers every
  // reply until the deadline (or until every target known to be reachable answered).
  // Errors (no complete follows): bad_request, too_large, overloaded (max_pending_requests).
  [[nodiscard]] std::expected<std::uint64_t, errc> request(const address& to, std::string_view type,
                                                           std::string body, micros timeout,
                                                           micros now);
  // Answers a request delivered to the application.
  void reply(const message& req, std::string body, micros now);
  void reply_error(const message& req, errc code, std::string_view text, micros now);

  // Ends every pending request of the application at once with `code` (a host that
  // stops passes errc::shutting_down): one act::complete each, no request left silent.
  void abort_pending(errc code);

  // Time advanced to `now`: expires deadlines and runs the role's timers.
  void tick(micros now);
  // The earliest time at which tick must be called; `never` when nothing is pending.
  [[nodiscard]] micros next_wake() const;

  // The actions produced so far, in order. The host executes and clears them.
  [[nodiscard]] std::vector<action>& actions() noexcept { return out_; }
  [[nodiscard]] std::size_t pending_requests() const noexcept { return pending_.size(); }

  // Breaks this node on purpose, for the simulator's negative scenarios (sabotage.hpp).
  void set_sabotage(const sabotage& s, sabotage_key) noexcept { sabotage_ = s; }

 protected:
  // What handle() dispatches to. Each role overrides those of its kind (and makes them
  // public, for tests and benchmarks that drive one role directly); the rest do nothing.
  virtual void start(micros now) = 0;
  virtual void stop(micros /*now*/) {}
  virtual void on_bus(std::string_view subject, frame_buf f, micros now) = 0;
  virtual void on_link_up(link_id /*link*/, micros /*now*/) {}
  virtual void on_link_frame(link_id /*link*/, frame_buf /*f*/, micros /*now*/) {}
  virtual void on_link_down(link_id /*link*/, micros /*now*/) {}
  virtual void on_link_flushed(link_id /*link*/, std::size_t /*frames*/) {}

  // Sends a frame this node originated (or a reply it generated) on its way.
  virtual void route_out(frame_buf f, const frame_header& h, micros now) = 0;
  // Role timers; called from tick.
  virtual void role_tick(micros /*now*/) {}
  [[nodiscard]] virtual micros role_wake() const { return never; }
  // Answers a role-specific built-in request; nullopt when `type` is not one.
  [[nodiscard]] virtual std::optional<std::string> builtin(const message& /*m*/) {
    return std::nullopt;
  }
  // Handles a control message (type "ccp.*") addressed to this node.
  virtual void control(const frame_header& /*h*/, micros /*now*/) {}
  // A reply to a request sent with originate_internal.
  virtual void control_reply(const message& /*m*/, micros /*now*/) {}
  // For a group request (an `all` form): its members now, sorted, when this node can know
  // them (a backbone member, from its directory); nullopt when it cannot.
  [[nodiscard]] virtual std::optional<std::vector<address>> expected_members(
      const address& /*to*/) const {
    return std::nullopt;
  }

  // A frame addressed to this node (to == self, or a group that contains self). Both this
  // and bounce check what read_header deferred (the addresses, the type), and count the
  // frame as malformed when that fails.
  void accept(std::string_view frame, const frame_header& h, micros now);
  // Answers the sender of `h` with an error (never for a response or an error). When this
  // node itself sent `h`, the outcome is delivered locally instead: as a failure before the
  // message left (a group's members are all unreachable), or, with `came_back` (the frame
  // left and the bus brought it back to us as a router), as the router's answer that any
  // other node would have sent.
  void bounce(const frame_header& h, errc code, std::string_view text, micros now,
              bool came_back = false);
  // A copy of `h` with what read_header deferred checked (addresses parsed, the type
  // checked); nullopt, counted as malformed, when one fails.
  [[nodiscard]] std::optional<frame_header> completed(const frame_header& h);
  // Encodes `m` (from = self, fresh id unless set) and routes it. Returns the id.
  std::expected<std::uint64_t, errc> originate(message m, micros now);
  // Sends a core-internal request (a sync, a registration): its replies, any number of
  // them, go to control_reply until end_internal(id); no act::complete is produced.
  std::expected<std::uint64_t, errc> originate_internal(message m, micros now);
  void end_internal(std::uint64_t id) { internal_.erase(id); }

  std::uint64_t next_id() noexcept { return ++last_id_; }
  void push(action a) { out_.push_back(std::move(a)); }

  address self_;
  rng rng_;
  node_stats stats_;
  sabotage sabotage_;

 private:
  struct pending {
    micros deadline = 0;
    bool group = false;
    role target{};                            // the type of the group's members
    bool known = false;                       // group: its members were fixed at send
    std::vector<act::member_result> members;  // known groups: sorted by member
    std::size_t waiting = 0;                  // members still silent
    std::vector<message> replies;
    // Unknown groups: the members a router told so far (ccp.members, core/members.hpp).
    std::vector<address> told;
    std::uint64_t parts_told = 0, parts = 0;
  };
  void finish(std::uint64_t id, errc code, std::vector<message> replies,
              std::vector<act::member_result> members = {});
  // Ends a group request with the outcome its members and replies make (action.hpp).
  void finish_group(std::uint64_t id, pending& p);
  // Accounts a reply to a known group: a member's answer, or a router's word that the
  // members of a host cannot be reached.
  static void account(pending& p, const message& m);
  // A router told the members of one of our group requests (core/members.hpp): once all
  // its parts came, the group is known, and the replies that came before are accounted.
  void on_members(const frame_header& h);
  // `local`: the error of a message of ours that failed at this node (bounce), not an
  // answer that came back, such as this node's own as a member of the group it asked.
  void on_reply(message m, micros now, bool local = false);
  // Whether `id` is a notification of the application sent within
  // notification_error_window of `now` (forgets older ones).
  [[nodiscard]] bool notified(std::uint64_t id, micros now);

  std::vector<action> out_;
  std::uint64_t last_id_;  // this incarnation's ids start above first_message_id(seed)
  std::unordered_set<std::string> handled_;
  std::unordered_set<std::uint64_t> internal_;
  std::unordered_map<std::uint64_t, pending> pending_;
  std::set<std::pair<micros, std::uint64_t>> deadlines_;
  // The application's notifications (id, when sent), oldest first: ids grow with time,
  // so both orders agree. An error is its news only when it answers one of them.
  // Oldest first (ids grow); the first notifications_head_ entries are gone. A vector with
  // a head rather than a std::deque, which allocates 576 bytes in every node at once, and
  // most nodes of a fleet never send a notification.
  std::vector<std::pair<std::uint64_t, micros>> notifications_;
  std::size_t notifications_head_ = 0;
  void forget_notifications(std::size_t n);  // the n oldest
};

// Lower-case role name for built-in answers: {"role":"agent","address":"ccp://..."}.
[[nodiscard]] std::string ping_body(const address& self);

}  // namespace ccp::core
