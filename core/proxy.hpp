#pragma once
// The proxy role: terminates agent links and joins them to the backbone bus.
//
// An agent attaches with a hello (its address, an epoch that grows with every connect,
// credentials, its endpoints). The proxy checks the credentials with the injected
// verifier and the epoch against the directory (a stale epoch is rejected), takes the
// host's subject ccp.host.H, announces the attachment, and answers with a welcome. A
// newer attachment of the same host anywhere fences this one: the proxy drops the route
// and closes the link, so no message is delivered twice. Frames from an agent must come
// from an address on the agent's own host (no spoofing). A proxy holding no agents is
// not subscribed to ccp.agent.any / ccp.endpoint.any, so it never swallows an `any`.
//
// Moves are make-before-break. A proxy that drains (or is cut off from the backbone) asks
// its agents to move (ccp.drain) and keeps routing for each until its new attachment
// elsewhere fences this one; then it stops routing to the host but keeps reading the
// agent's link until the agent's bye, so nothing the agent sent before it switched is
// lost. A draining proxy says its ccp.bye to the backbone only once it holds no host.
//
// Rebalancing. A proxy that holds more than its share of the fleet's agents moves a few of
// them, make-before-break, to the least loaded proxy. Its view is its route directory: the
// hosts each proxy announced and whether its heartbeat says it takes agents ("open"). It
// acts only on a whole and fresh view: every proxy heard within rebalance_fresh and open,
// itself too (so never during a drain, a partition, a stall or a global outage), started
// or resumed rebalance_settle ago, and no sync in progress. Every rebalance_interval it
// looks once: when it holds more than ceil(fair) and either it is above fair by
// rebalance_tolerance_pct or some proxy is below fair by as much, it asks up to
// max(rebalance_min_batch, attached / rebalance_batch_divisor) agents (ccp.move, naming
// the least loaded proxy) to move there; never so many that it would fall below ceil(fair),
// the target rise above it (its deficit shared among the proxies above fair), or the two
// swap places (at most half their difference: every round makes the spread smaller, so it
// cannot oscillate). It asks no more while asked agents have not moved (up to
// rebalance_move_timeout). The named proxy accepts such a hello only if it is the one named
// and open; an agent that cannot reach it stays where it is. A restarted proxy so gets its
// share within about rebalance_interval * rebalance_batch_divisor / 2 (20 s) of its
// first heartbeat plus rebalance_settle, whatever the fleet's size.
//
// `any` over members. NATS queue groups choose uniformly among their subscribers, which
// are proxies; an `any` should choose uniformly among the group's members. A proxy that
// takes an `any` from its group keeps it with the probability that makes its share the
// share of the members it holds (from the directory: k proxies serving the group, W
// members in all, w of them here: min(1, k*w/W)) and otherwise forwards it, unchanged, to
// the subject of one proxy that holds more than 1/k of the members, chosen in proportion
// to that excess; such a forwarded frame is served where it lands. With equal shares no
// frame is forwarded; the choice among a proxy's own links is weighted by their members.
// The same on NATS and in the simulator: only concrete subjects and queue groups.
//
// A proxy that finds it was not scheduled for longer than stall_threshold (its own timer
// is that late: SIGSTOP, a long pause) may have been given up by its agents and its peers
// meanwhile: it leaves the `any` groups, answers nothing from its stale view (an `any` it
// took during the stall goes back to its group; a frame it cannot deliver is dropped, not
// answered `unreachable`), and rejoins once its own heartbeat came back and every peer's
// had time to (revalidation).

#include <array>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/backbone.hpp"
#include "core/flat_map.hpp"

namespace ccp::core {

// Whether two secrets are equal, in a time that depends on their lengths only (no early
// exit that tells a guesser how much of a token matched).
[[nodiscard]] bool same_secret(std::string_view a, std::string_view b) noexcept;

// Decides whether an agent may attach. Pure: no I/O, no blocking; hosts implement it
// with a token table or a shared secret.
class credential_verifier {
 public:
  virtual ~credential_verifier() = default;
  [[nodiscard]] virtual bool verify(const address& agent, std::string_view token) const = 0;
};

// Accepts agents whose token equals `secret`.
class shared_secret_verifier final : public credential_verifier {
 public:
  explicit shared_secret_verifier(std::string secret) : secret_(std::move(secret)) {}
  [[nodiscard]] bool verify(const address&, std::string_view token) const override;

 private:
  std::string secret_;
};

// Rebalancing (see above). Rounds every rebalance_interval: long enough for a round's moves
// (move_spread and a hello) to show in the directory before the next one looks.
inline constexpr micros rebalance_interval = 2 * seconds;
// A proxy rebalances only once its view is whole: every proxy's heartbeat heard since it
// started or resumed, and the syncs they caused done.
inline constexpr micros rebalance_settle = 3 * heartbeat_interval;
// A peer whose last heartbeat is older than this is not trusted for a count (nor as a
// target): one beat missed and a half.
inline constexpr micros rebalance_fresh = heartbeat_interval + heartbeat_interval / 2;
// Hysteresis: no move while every proxy is within this many percent of fair.
inline constexpr std::uint64_t rebalance_tolerance_pct = 10;
// Agents asked per round: max(min_batch, attached / divisor): 5% of a proxy's agents, so
// a move never looks like a storm to the target, and even a fleet of one agent moves.
inline constexpr std::size_t rebalance_min_batch = 4;
inline constexpr std::size_t rebalance_batch_divisor = 20;
// An asked agent that has not moved by then gave up (its target refused, or is gone).
inline constexpr micros rebalance_move_timeout = move_spread + handshake_timeout + 1 * seconds;

// How the proxy at `self` among the proxies serving an `any` group (their members:
// `weights`, each > 0) shares what the queue group hands it (see the top of this file):
// it keeps an `any` when a uniform draw below `total` is below `keep`, and otherwise
// forwards it to weights[j] for the first (cumulative excess, j) in `excess` above a
// uniform draw below the last one. With the queue group choosing uniformly, member m of
// proxy j is reached with probability 1/W for every j: tested exactly in proxy_test.
struct any_plan {
  std::uint64_t keep = 0;
  std::uint64_t total = 0;
  std::vector<std::pair<std::uint64_t, std::size_t>> excess;
};
[[nodiscard]] any_plan plan_any(const std::vector<std::uint64_t>& weights, std::size_t self);

class proxy final : public backbone_node {
 public:
  // `self` must be a concrete proxy address; `verifier` must outlive the proxy.
  proxy(address self, std::uint64_t seed, const credential_verifier& verifier);

  void start(micros now) override;
  // Graceful shutdown: tells every agent to move (ccp.drain) and refuses new agents, but
  // routes for each attached host until its agent attached elsewhere (make-before-break);
  // says ccp.bye once it holds no host, and act::drained once it holds no link. The host
  // closes the process then (or at its own bound).
  void drain(micros now);
  // The graceful stop of a proxy is its drain.
  void stop(micros now) override { drain(now); }
  void on_bus(std::string_view subject, frame_buf f, micros now) override;
  void on_link_up(link_id link, micros now) override;
  void on_link_frame(link_id link, frame_buf f, micros now) override;
  void on_link_down(link_id link, micros now) override;
  // The host wrote `frames` frames of `link` to the network (frees queue space).
  void on_link_flushed(link_id link, std::size_t frames) override;

  [[nodiscard]] std::size_t attached() const noexcept { return hosts_.size(); }
  [[nodiscard]] bool holds(std::string_view host) const { return hosts_.contains(host); }
  [[nodiscard]] bool draining() const noexcept { return draining_; }
  [[nodiscard]] bool cut_off() const noexcept { return cut_off_; }
  // Resumed after a stall and not yet sure of its routes: out of the `any` groups.
  [[nodiscard]] bool revalidating() const noexcept { return revalidating_; }
  // Takes new agents: not draining, cut off or revalidating (its heartbeat says so).
  [[nodiscard]] bool open() const noexcept { return !draining_ && !cut_off_ && !revalidating_; }
  // Agents this proxy asked to move for balance, since it started.
  [[nodiscard]] std::uint64_t rebalance_moves() const noexcept { return stats_.moves_asked; }
  // The last round of rebalancing that asked agents to move, for the host's log: where to,
  // why (this proxy above fair, or the target below it, by rebalance_tolerance_pct), the
  // loads that made the round (this proxy's hosts, the target's, ceil(fair) over
  // `proxies`), and the agents asked. Empty `agents` before the first round.
  struct rebalance_round {
    std::string to;
    std::string_view why;
    std::uint64_t mine = 0, target_hosts = 0, fair = 0, proxies = 0;
    std::vector<address> agents;
  };
  [[nodiscard]] const rebalance_round& last_rebalance() const noexcept { return last_round_; }

 protected:
  void route_out(frame_buf f, const frame_header& h, micros now) override;
  void role_tick(micros now) override;
  [[nodiscard]] micros role_wake() const override;
  [[nodiscard]] std::optional<std::string> builtin(const message& m) override;
  void route_taken(std::string_view host, std::uint64_t epoch, micros now) override;
  [[nodiscard]] std::vector<route_directory::synced_route> own_routes() const override;

 private:
  struct link_state {
    bool attached = false;
    micros opened = 0;
    micros last_rx = 0;
    address agent;
    std::string host;
    // The addresses of the endpoints and of the agent of `host`: the senders it may use.
    host_prefix endpoints_at;
    host_prefix agent_at;
    std::uint64_t epoch = 0;
    std::vector<std::string> endpoints;
    std::size_t inflight = 0;  // frames handed to the host, not yet flushed
    // When this link's refused frames would be paid off at refusals_per_second (a GCRA's
    // theoretical arrival time): more than refusal_burst ahead of now closes the link.
    micros refusals_due = 0;
    std::string heartbeat_frame;  // our encoded ccp.hb to `agent`, built at the first beat
    bool told_to_move = false;    // we sent it ccp.drain: its move is make-before-break
    // Fenced after we told it to move: no longer routed to, but read (the agent's frames
    // sent before it switched) until its bye, its close, or handshake_timeout.
    bool handed_over = false;
    micros handed_over_at = 0;
    micros move_asked_at = never;  // we asked it to move for balance (ccp.move)
  };
  // An attached host's link and its state (in links_).
  struct host_route {
    link_id link;
    link_state* state;
  };
  // Links in a vector for O(1) random choice, with positions for O(1) removal.
  struct link_set {
    std::vector<link_id> items;
    std::unordered_map<link_id, std::size_t> pos;
    void insert(link_id l);
    void erase(link_id l);
    [[nodiscard]] bool contains(link_id l) const { return pos.contains(l); }
  };

  void hello(link_id link, link_state& ls, const frame_header& h, micros now);
  // Who lives on the host of `ls`, as the directory keeps it (endpoint ids sorted).
  [[nodiscard]] static route_directory::members members_of(const link_state& ls);
  // The forwarding path's own steps take the frame by rvalue reference: a by-value
  // shared_ptr is a move and a destructor call per step (16 instructions a frame).
  void from_agent(link_id link, link_state& ls, frame_buf&& f, frame_header& h, micros now);
  // Whether the sender of `h` (read with its `from` deferred) is the agent of `ls` or an
  // endpoint of its host; sets h.from when it is. Malformed senders are not own.
  [[nodiscard]] static bool own_source(const link_state& ls, frame_header& h);
  void route(frame_buf&& f, const frame_header& h, micros now);
  // Tells the sender of a group request that came on `link` its members (core/members.hpp).
  void tell_members(link_id link, const frame_header& h);
  // For a header read with its addresses deferred: the route of the attached host that a
  // `to` of an endpoint or agent names, with h.to set from it (the route vouches for the
  // host; the rest is checked). nullptr when there is none: check_to decides then.
  [[nodiscard]] const host_route* attached_route(frame_header& h) const;
  // A frame that came over the bus. `direct`: on our own subject (an `any` another proxy
  // forwarded to us).
  void to_links(frame_buf f, const frame_header& h, micros now, bool direct = false);
  // Queues a frame on a link, or bounces `overloaded` when its queue is full. `from_bus`:
  // the frame came over the bus, so a frame of ours has left us and its failure here is
  // a router's answer (node::bounce's `came_back`), not a failure before sending.
  void send_link(link_id link, frame_ptr f, const frame_header& h, micros now, bool from_bus);
  // The same for a link whose state the caller has (nullptr: the link is gone).
  void send_link(link_id link, link_state* ls, frame_ptr f, const frame_header& h, micros now,
                 bool from_bus);
  // Bounces `overloaded` for a full link: out of line, off the forwarding path.
  [[gnu::noinline]] void link_full(const link_state& ls, const frame_header& h, micros now,
                                   bool from_bus);
  // Sends a message this proxy makes straight on a link (replies during the handshake,
  // errors answering the link's own frames, drain notices). It counts against the link's
  // queue bound like any frame: with the queue full it is dropped, and false returned.
  bool send_direct(link_id link, message m);
  // A frame of `link` was refused (spoofed sender, malformed): closes the link when its
  // refusals go past refusals_per_second with bursts of refusal_burst. Returns true when
  // the link is closed (`ls` is gone with it): the caller returns at once.
  bool refused(link_id link, link_state& ls, micros now);
  void detach(link_id link, bool announce_it, micros now);
  // Closes a link the proxy is done with (detached first) and forgets it at once: the
  // host reports no link_down for a link its role closed.
  void close_link(link_id link, errc code);
  // Says act::drained once a draining proxy holds no link.
  void check_drained();
  // Says ccp.bye once a draining proxy holds no host (its routes are all elsewhere now).
  void check_bye(micros now);
  // `type` (ccp.drain: move if another proxy takes you; ccp.stay: the reason is gone) to
  // every attached agent.
  void tell_agents(std::string_view type);
  // Called first by every entry point: notices that the host did not run us for longer
  // than stall_threshold past our own timer.
  void check_schedule(micros now) {
    if (now > overdue_at_) [[unlikely]]
      resumed(now);
  }
  [[gnu::noinline]] void resumed(micros now);
  // An `any` (to_links checked its form) this proxy took and cannot serve now, handed back
  // to its group's subject: only once we left that group, so another member takes it (or
  // nobody, and its sender's deadline answers). Its hop count bounds any ping-pong.
  void hand_back(frame_buf&& f, const frame_header& h);
  // links_ and hosts_ sorted by link id and by host: the order of every loop that acts per
  // link or lists hosts, whatever the hashing.
  [[nodiscard]] std::vector<std::pair<link_id, link_state*>> links_in_order();
  [[nodiscard]] std::vector<std::pair<std::string_view, const link_state*>> hosts_in_order() const;
  void update_group_subscriptions();
  [[nodiscard]] link_id pick(const link_set& s);
  // A link of with_endpoints_, each weighted by its endpoints (members, not hosts).
  [[nodiscard]] link_id pick_endpoint_link();
  // One round of rebalancing (see the top of this file).
  void rebalance(micros now);
  // An agent asked to move for balance left (fenced by its new attachment, or its bye):
  // counted in stats_.moved_away, once.
  void count_moved_away(link_state& ls);
  // For an `any` of agents (hosts) or endpoints taken from its queue group: nullptr to
  // serve it here, else the subject of the proxy to forward it to (see the top).
  [[nodiscard]] const subject_text* any_elsewhere(role type);
  // What any_elsewhere draws from, derived from the directory (dir_.version()).
  struct any_share {
    std::uint64_t version = UINT64_MAX;
    std::uint64_t keep = 0;   // keep when a draw below `total` is below this
    std::uint64_t total = 0;  // W
    std::vector<std::pair<std::uint64_t, subject_text>> excess;  // cumulative excess, subject
  };
  void update_share(any_share& s, role type);

  // Index into group_subjects_ of TYPE/any (form any) or TYPE/all (form all).
  static constexpr std::size_t group_index(role r, scope form) {
    return static_cast<std::size_t>(r) * 2 + (form == scope::all ? 1 : 0);
  }

  const credential_verifier& verifier_;
  // Backbone subjects of ccp://TYPE/any and ccp://TYPE/all, by group_index.
  std::array<subject_text, role_count * 2> group_subjects_;
  // Hash maps: at fleet scale (10,000 agents) a tree's lookup walked ~14 nodes, most of
  // them cache misses when consecutive frames are for different hosts (bench/:
  // BM_ProxyBusToLink10kAgentsSpread), and flat ones (flat_map.hpp): a link's frames and a
  // host's cost one multiplication and one probe or two to find their state. Their order
  // must reach no action and no reply (the simulator's traces are the same whatever the
  // hashing): loops over them go through links_in_order() and hosts_in_order().
  // A link's state stays put (hosts_ points at it) while the table moves its pointer.
  flat_map<link_id, std::unique_ptr<link_state>, std::hash<link_id>, std::equal_to<>> links_;
  // Attached host -> its link, and that link's state in links_; detach removes the entry
  // before the link goes, so a frame for a host costs one lookup.
  flat_map<std::string, host_route, bytes_hash, bytes_equal> hosts_;
  link_set with_agents_;
  link_set with_endpoints_;
  // Cumulative endpoint counts over with_endpoints_.items, rebuilt when stale.
  std::vector<std::uint64_t> endpoint_weights_;
  bool endpoint_weights_stale_ = true;
  std::array<any_share, 2> any_share_;  // agent, endpoint
  subject_text self_subject_;           // our concrete subject: a forwarded `any` lands there
  micros next_rebalance_ = never;
  micros settled_from_ = 0;  // started, resumed or back from a cut-off: no rebalance before
  rebalance_round last_round_;
  bool agents_subscribed_ = false;
  bool endpoints_subscribed_ = false;
  bool draining_ = false;
  bool drained_said_ = false;
  bool bye_said_ = false;
  // Resumed after a stall: until revalidate_at_ and our own heartbeat heard after
  // resumed_at_, we take no `any` and answer nothing from the stale view.
  bool revalidating_ = false;
  micros resumed_at_ = 0;
  micros revalidate_at_ = never;
  // A call after this time means the host did not run us for stall_threshold past our
  // own timer (next_heartbeat_).
  micros overdue_at_ = never;
  // Our own heartbeats stopped coming back: we are cut off from the backbone, so our
  // agents are told to move to a proxy that is not, until the heartbeats return.
  bool cut_off_ = false;
  micros started_ = 0;
  micros next_heartbeat_ = 0;
  micros next_link_scan_ = 0;
};

}  // namespace ccp::core
