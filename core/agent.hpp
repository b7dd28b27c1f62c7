#pragma once
// The agent role: one per host. It holds one link to one proxy at a time and the host bus
// with the host's endpoints.
//
// Connection: proxies are tried in order from the configured list (shuffled once with
// the seeded generator when asked), skipping one that recently sent a drain notice. Each
// connect sends a hello with a higher epoch (epoch_base + connect count; the host gives a
// larger epoch_base after a restart). A lost or rejected link is redialled after
// next_delay(attempt): exponential backoff with full jitter, capped, so a crowd of agents
// that lost the same proxy spreads its reconnects instead of stampeding the next one.
//
// The newest connect owns a host: two live agent processes configured for one host
// (a misconfiguration) take it from each other at every reconnect.
//
// A move is make-before-break. Told to move (ccp.drain: its proxy drains, or is cut off
// from the backbone), the agent keeps its link and dials the next proxy within
// move_spread; only once that one welcomed it does it say bye on the old link, which it
// reads until the old proxy closes it (a frame both proxies forwarded reaches the host
// once). A proxy that refuses (it is draining or cut off too) changes nothing: the agent
// stays, and tries again after next_delay, until its proxy says ccp.stay. So in an outage
// of the whole backbone no agent lets go of its link. The backoff resets once an
// attachment lasted stable_attachment.
//
// A proxy that holds more than its share asks a few agents to move for balance (ccp.move,
// naming the proxy to move to: proxy.hpp). Such a move is make-before-break too, but it is
// optional: the agent dials the named proxy (which dial target that is it learns from each
// proxy's answers; an unknown one it finds by trying the targets it has not heard from, one
// at a time, each refusing a hello whose move names another), and when none takes it, it
// stays where it is: no backoff, no retry. A drain notice during it makes it a drain's move.
//
// While no link is up, messages that must leave the host fail at once with
// `unreachable` (a documented choice: no buffering, so no stale message is sent late).
//
// Endpoints register over the host bus; a second instance claiming an id held by a live
// instance is rejected; an endpoint that misses heartbeats for idle_timeout expires.
// The agent beats on the host bus every heartbeat_interval (ccp.hb to every endpoint of
// the host), so that its endpoints learn when it is gone (endpoint.hpp, agent_silence).

#include <map>
#include <optional>
#include <unordered_set>

#include "core/flat_map.hpp"
#include "core/node.hpp"

namespace ccp::core {

struct agent_config {
  address self;                      // ccp://agent/HOST/ID
  std::vector<std::string> proxies;  // dial targets, tried in order
  bool shuffle = false;              // shuffle the list once (seeded)
  std::string token;                 // credentials for the proxy's verifier
  std::uint64_t epoch_base = 0;      // must grow across restarts of the agent
  std::uint64_t seed = 1;
};

// Backoff before reconnect attempt `attempt` (0-based): uniform in
// [0, min(backoff_cap, backoff_base * 2^attempt)] ("full jitter").
[[nodiscard]] micros next_delay(unsigned attempt, rng& r) noexcept;

class agent final : public node {
 public:
  enum class link_status : std::uint8_t { down, connecting, handshaking, up };

  explicit agent(agent_config cfg);

  void start(micros now) override;
  // Graceful stop: says bye to the proxy and closes the link.
  void stop(micros now) override;
  void on_bus(std::string_view subject, frame_buf f, micros now) override;
  void on_link_up(link_id link, micros now) override;
  void on_link_frame(link_id link, frame_buf f, micros now) override;
  void on_link_down(link_id link, micros now) override;
  void on_link_flushed(link_id link, std::size_t frames) override;

  [[nodiscard]] link_status status() const noexcept { return status_; }
  [[nodiscard]] std::uint64_t epoch() const noexcept { return epoch_; }
  [[nodiscard]] const std::string& proxy_target() const noexcept { return target_; }
  // Asked to move and not yet welcomed elsewhere.
  [[nodiscard]] bool moving() const noexcept { return moving_; }
  [[nodiscard]] std::size_t endpoint_count() const noexcept { return endpoints_.size(); }
  [[nodiscard]] bool has_endpoint(std::string_view id) const { return endpoints_.contains(id); }

 protected:
  void route_out(frame_buf f, const frame_header& h, micros now) override;
  void role_tick(micros now) override;
  [[nodiscard]] micros role_wake() const override;
  [[nodiscard]] std::optional<std::string> builtin(const message& m) override;
  void control(const frame_header& h, micros now) override;
  // Its own host's groups (endpoint/HOST/all: its endpoint table; agent/HOST/all: itself);
  // nullopt for the rest, whose members only the backbone's directory knows.
  [[nodiscard]] std::optional<std::vector<address>> expected_members(
      const address& to) const override;

 private:
  // Tells the endpoint that sent `h`, a request to a group of this host, its members
  // (core/members.hpp).
  void tell_members(const frame_header& h);
  struct endpoint_reg {
    std::uint64_t nonce = 0;
    micros last_seen = 0;
    subject_text subject;  // endpoint_subject(id), built once: copied without allocating
  };
  // This host's endpoints by id, in the order of their ids (the order of an `all` delivery
  // and the choice of an `any` must not depend on hashing), with a flat index for the
  // lookup that every forwarded frame makes: a walk of the tree was 14% of
  // BM_AgentLinkToEndpoint (perf, bench/routing_bench.cpp).
  class endpoint_table {
   public:
    using const_iterator = std::map<std::string, endpoint_reg, bytes_less>::const_iterator;
    endpoint_table() = default;
    endpoint_table(const endpoint_table&) = delete;  // the index views the tree's keys
    endpoint_table& operator=(const endpoint_table&) = delete;

    [[nodiscard, gnu::always_inline]] endpoint_reg* find(std::string_view id) noexcept {
      endpoint_reg* const* r = index_.find(id);
      return r ? *r : nullptr;
    }
    [[nodiscard]] bool contains(std::string_view id) const noexcept { return index_.contains(id); }
    // Registers `id` with `reg`, replacing its registration. True when `id` is new.
    bool set(std::string_view id, endpoint_reg reg);
    void erase(std::string_view id);
    // Erases every registration for which expired(reg) holds. True when one was.
    template <class Pred>
    bool erase_if(Pred expired) {
      bool any = false;
      for (auto it = tree_.begin(); it != tree_.end();) {
        if (!expired(it->second)) {
          ++it;
          continue;
        }
        index_.erase(std::string_view(it->first));
        it = tree_.erase(it);
        any = true;
      }
      return any;
    }
    [[nodiscard]] std::size_t size() const noexcept { return tree_.size(); }
    [[nodiscard]] bool empty() const noexcept { return tree_.empty(); }
    [[nodiscard]] const_iterator begin() const noexcept { return tree_.begin(); }
    [[nodiscard]] const_iterator end() const noexcept { return tree_.end(); }

   private:
    std::map<std::string, endpoint_reg, bytes_less> tree_;
    // Views of tree_'s keys (a node's key stays put) -> its registration.
    flat_map<std::string_view, endpoint_reg*, bytes_hash, bytes_equal> index_;
  };

  void dial(micros now);
  // The index in cfg_.proxies of the next proxy to dial, skipping proxies that asked us to
  // move unless all did, and `not_this` (the current proxy, when moving); nullopt when no
  // proxy but `not_this` is left.
  [[nodiscard]] std::optional<std::size_t> next_target(micros now, std::string_view not_this);
  void link_lost(micros now);
  // Sends a hello on `link`; returns its message id (0 when it could not be encoded).
  // `move_to`: the proxy a move for balance is for (it refuses the hello otherwise).
  std::uint64_t send_hello(link_id link, std::uint64_t epoch, std::string_view move_to = {});
  // The index in cfg_.proxies to try next for a move for balance: the one known to be
  // move_to_, else one not yet tried nor known to be another proxy; nullopt: none left.
  [[nodiscard]] std::optional<std::size_t> move_target() const;
  // The move for balance is over (done, or given up): the agent stays where it is.
  void end_rebalance();
  // The link of a move (make-before-break), while link_ stays up.
  void dial_candidate(micros now);
  void candidate_failed(micros now);
  // The candidate's proxy welcomed us: it is our link now; bye to the old one.
  void promote(const frame_header& welcome, micros now);
  // The frames of links_ and of the link being left, while a move may overlap: true when
  // this frame was seen already (forwarded by both proxies).
  [[nodiscard]] bool seen_before(const frame_header& h);
  // Handles a frame from our proxy (on link_, or on the link we are leaving).
  void from_proxy(frame_buf&& f, frame_header& h, micros now);
  // check_to for a header read with `to` deferred, trying the prefix of this host's
  // endpoints first (no parse of the host).
  [[nodiscard]] bool check_to_here(frame_header& h) const;
  // By rvalue reference, as the proxy's forwarding steps (proxy.hpp).
  void send_up(frame_ptr&& f, const frame_header& h, micros now);
  void route_from_host(frame_buf&& f, const frame_header& h, micros now);
  void to_endpoints(frame_buf&& f, const frame_header& h, micros now);
  void endpoint_control(const frame_header& h, micros now);
  void reply_instance(std::uint64_t nonce, const frame_header& h, msg_kind kind, errc code,
                      std::string text);
  void endpoints_changed(micros now);
  // Publishes ccp.hb to every endpoint of the host (its liveness on the host bus).
  void beat_host_bus();
  // A notification of `type` to every endpoint of our host, on the host bus.
  void notify_host_endpoints(std::string_view type, std::string body);
  [[nodiscard]] bool local(const address_view& to) const;
  [[nodiscard]] std::vector<std::string> endpoint_ids() const;

  agent_config cfg_;
  // Where the frames from our proxy go, mostly: the endpoints of this host.
  host_prefix endpoints_here_;
  link_status status_ = link_status::down;
  link_id link_ = 0;
  link_id last_link_id_ = 0;
  std::string target_;
  std::size_t next_target_ = 0;
  unsigned attempt_ = 0;
  std::uint64_t connects_ = 0;
  std::uint64_t epoch_ = 0;
  std::uint64_t hello_id_ = 0;
  address proxy_;                // the proxy that welcomed us
  std::string heartbeat_frame_;  // our encoded ccp.hb to proxy_, built at the first beat
  micros next_dial_ = never;
  micros handshake_deadline_ = never;
  micros last_rx_ = 0;
  micros next_heartbeat_ = never;
  micros next_expiry_scan_ = never;
  std::size_t inflight_ = 0;
  bool endpoints_dirty_ = false;  // the proxy has not seen the current endpoint list
  micros up_since_ = never;       // when link_ was welcomed
  // Make-before-break (see the top of this file).
  bool moving_ = false;
  struct candidate {
    link_id link = 0;
    link_status status = link_status::down;
    std::string target;
    std::uint64_t epoch = 0;
    std::uint64_t hello_id = 0;
    micros deadline = never;
    std::size_t inflight = 0;
    bool endpoints_dirty = false;  // the list changed after its hello
  };
  candidate cand_;
  link_id leaving_ = 0;  // the link we left, read until its proxy closes it
  micros leaving_deadline_ = never;
  // Frames seen while a move may overlap (a hash of sender and id): from the candidate's
  // hello until handover_dedup after the old link closed. A 64-bit hash: two different
  // frames collide with odds of about 2^-64 per pair.
  bool dedup_ = false;
  micros dedup_until_ = never;
  std::unordered_set<std::uint64_t> seen_;
  std::map<std::string, micros, std::less<>> avoid_;  // drained proxy -> until
  // A move for balance (ccp.move): the proxy it is for (empty: none, or a drain's move),
  // and the dial targets that refused it or failed.
  std::string move_to_;
  std::vector<std::string> move_tried_;
  // Dial target -> the address of the proxy that answered there (welcome or refusal).
  std::map<std::string, std::string, std::less<>> known_;
  endpoint_table endpoints_;
};

}  // namespace ccp::core
