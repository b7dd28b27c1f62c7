#pragma once
// Coverage marks: named edge cases of the core, counted whenever the code takes them.
//
// A test suite that passes says nothing about the branches it never took. A mark names one
// edge case (a hello that races a stale attachment, an `any` at a proxy that just lost its
// last agent, a fenced route...) at the line that handles it; the simulator reports which
// marks a run hit (`ccp sim --marks`), and CI fails when the scenario suite plus the swarm
// leave one unhit (`--require-marks`), so a change that makes an edge case unreachable,
// or a scenario that stops reaching it, is noticed. The idea is TigerBeetle's and sled's
// coverage marks (after rust-analyzer's `cov_mark`).
//
// Cost: one relaxed atomic increment, and only on the cold paths the marks sit on (none is
// on the forwarding path of an ordinary frame). Always compiled in: the daemons count too,
// which is harmless, and there is no second build of the core to keep in step. Relaxed
// atomics because the daemons run roles on several threads; the counts are statistics,
// never a decision.

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace ccp::core::coverage {

// X(name, what it means). Add a mark here and one CCP_MARK line where the case is handled.
#define CCP_COVERAGE_MARKS(X)                                                                      \
  X(proxy_hello_while_draining, "a hello reached a draining proxy, which refused it")              \
  X(proxy_hello_while_cut_off,                                                                     \
    "a hello reached a proxy cut off from the backbone, which refused it")                         \
  X(proxy_hello_epoch_raised,                                                                      \
    "a hello's epoch was not above the live route's (a stale or late attachment): the proxy took " \
    "the next epoch")                                                                              \
  X(proxy_hello_supersedes_link,                                                                   \
    "a hello of a host already attached at this proxy replaced its older link")                    \
  X(proxy_route_fenced,                                                                            \
    "a newer attachment elsewhere fenced a proxy's route; it closed the stale link")               \
  X(proxy_fenced_while_moving,                                                                     \
    "a route fenced while its agent was moving (drain): the old link stays open until the bye")    \
  X(proxy_any_handed_back,                                                                         \
    "an `any` taken after the proxy left the group was handed back to the bus")                    \
  X(proxy_any_no_member,                                                                           \
    "an `any` reached a proxy in the group that had just lost its last member: unreachable")       \
  X(proxy_frame_for_moved_host_dropped,                                                            \
    "a frame for a host another proxy now holds was dropped silently")                             \
  X(proxy_link_full, "a link's queue was full: the frame bounced as overloaded")                   \
  X(proxy_cut_off, "a proxy stopped hearing its own heartbeat and told its agents to move")        \
  X(proxy_rejoined, "a cut-off proxy heard the backbone again and told its agents to stay")        \
  X(proxy_link_timed_out, "a proxy closed a silent or half-open link (idle or handshake timeout)") \
  X(proxy_revalidating_forward,                                                                    \
    "a proxy resumed from a stall forwarded to the backbone rather than answer unreachable")       \
  X(backbone_any_around_silent_proxy,                                                              \
    "a proxy with members fell silent: a sender picked the proxy of an `any` itself")              \
  X(backbone_unlearnt_publish,                                                                     \
    "a backbone member whose directory was not yet learnt published a frame for a host it "        \
    "knew no proxy of, rather than answer unreachable")                                            \
  X(proxy_drained, "a draining proxy saw its last link go and reported drained")                   \
  X(agent_move_refused, "the proxy an agent moved to refused it: the agent stayed where it was")   \
  X(agent_hello_refused, "an agent's hello was refused: it dials again with backoff")              \
  X(agent_told_to_drain, "an agent was told to move (ccp.drain)")                                  \
  X(agent_told_to_stay, "an agent was told to stay (ccp.stay) after a drain for a cut-off")        \
  X(agent_handover_duplicate_dropped,                                                              \
    "both proxies of a move forwarded one frame: the agent dropped the second")                    \
  X(agent_late_dial_closed, "a link came up for a dial the agent had given up on: closed")         \
  X(agent_leaving_link_delivered,                                                                  \
    "a frame came on the old link after a move (make-before-break) and was delivered")             \
  X(node_own_frame_failed_as_router,                                                               \
    "a node's own request came back over the bus and failed at it as a router (a full link): "     \
    "a router's answer, not a failure before sending")                                             \
  X(group_member_unreachable,                                                                      \
    "an agent's error made a group request's members on its host unreachable")                     \
  X(group_members_told,                                                                            \
    "a router told an endpoint's or agent's group request its members (ccp.members)")              \
  X(directory_stale_epoch_refused,                                                                 \
    "a directory refused an attachment older than the route it holds")                             \
  X(directory_proxy_expired, "a directory expired a proxy it stopped hearing, with its routes")

enum class mark : std::uint16_t {
#define CCP_COVERAGE_ENUM(name, what) name,
  CCP_COVERAGE_MARKS(CCP_COVERAGE_ENUM)
#undef CCP_COVERAGE_ENUM
};

struct mark_info {
  std::string_view name;
  std::string_view what;
};

inline constexpr std::array marks = {
#define CCP_COVERAGE_INFO(name, what) mark_info{#name, what},
    CCP_COVERAGE_MARKS(CCP_COVERAGE_INFO)
#undef CCP_COVERAGE_INFO
};
inline constexpr std::size_t mark_count = marks.size();

// The counts, one per mark, for the whole process (every role of every thread).
inline std::array<std::atomic<std::uint64_t>, mark_count> counters{};

inline void hit(mark m) noexcept {
  counters[static_cast<std::size_t>(m)].fetch_add(1, std::memory_order_relaxed);
}

// The counts now, by mark: for a host that reports what a run hit (take one before and
// one after and subtract).
[[nodiscard]] inline std::array<std::uint64_t, mark_count> snapshot() noexcept {
  std::array<std::uint64_t, mark_count> s{};
  for (std::size_t i = 0; i < mark_count; ++i)
    s[i] = counters[i].load(std::memory_order_relaxed);
  return s;
}

}  // namespace ccp::core::coverage

// Counts edge case `name` (a mark of CCP_COVERAGE_MARKS) when control reaches this line.
#define CCP_MARK(name) ::ccp::core::coverage::hit(::ccp::core::coverage::mark::name)
// Counts edge case `name` when `cond` holds; `cond` must have no side effect.
#define CCP_MARK_IF(name, cond) \
  do {                          \
    if (cond) [[unlikely]]      \
      CCP_MARK(name);           \
  } while (false)
