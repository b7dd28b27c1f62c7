#pragma once
// Limits and timing constants of the routing core, each with its reason. Times are in
// microseconds of the host's monotonic clock (the core never reads a clock).

#include <cstddef>
#include <cstdint>

namespace ccp::core {

using micros = std::int64_t;  // a point on, or a span of, the host's monotonic clock
inline constexpr micros ms = 1000;
inline constexpr micros seconds = 1000 * ms;
inline constexpr micros never = INT64_MAX;

// Routers a message may pass: endpoint -> agent -> proxy -> bus -> proxy -> agent ->
// endpoint is 4 router hops; 8 leaves room and still stops any loop quickly.
inline constexpr std::uint8_t max_hops = 8;
// Frames a link may have queued but not yet written: about 1k frames is 100s of KiB for
// typical frames, enough to ride out a short stall without unbounded memory.
inline constexpr std::size_t link_queue_frames = 1024;
// A host reports the frames a link wrote (in::link_flushed) at least every this many, not
// per write: a busy link costs one report per 256 frames, not one per write, and a role's
// count of unwritten frames is never more than this above the truth, so it refuses
// frames for a link once 3/4 of link_queue_frames at least are really unwritten.
inline constexpr std::size_t written_report_frames = link_queue_frames / 4;
// Requests a node may have in flight: each pending entry costs ~100 bytes; beyond this a
// caller is far ahead of the network and gets `overloaded`.
inline constexpr std::size_t max_pending_requests = 65536;
// A link whose frames the proxy refuses (spoofed senders, malformed frames) may have at
// most refusals_per_second of them refused on average, with bursts of refusal_burst: a
// correct agent has none, a broken one shows itself within a second, and a client that
// floods refused frames is closed instead of making the proxy answer each of them.
inline constexpr std::uint64_t refusals_per_second = 64;
inline constexpr std::uint64_t refusal_burst = 256;
// The largest epoch a hello may carry: above any start time in microseconds plus a connect
// count for 140,000 years, and far enough below 2^64 that a proxy can always give a fresh
// attachment the next epoch above a live claim (2^62 of them) without wrapping.
inline constexpr std::uint64_t max_agent_epoch = std::uint64_t{1} << 62;
// Endpoints one agent registers: keeps the registration message under max_frame_bytes.
inline constexpr std::size_t max_endpoints_per_agent = 2048;

// Liveness. Every peer sends something at least every heartbeat_interval; one that is
// silent for idle_timeout (three missed beats) is considered gone.
inline constexpr micros heartbeat_interval = 1 * seconds;
inline constexpr micros idle_timeout = 3 * heartbeat_interval;
// A link that does not complete its hello/welcome exchange in this time is closed.
inline constexpr micros handshake_timeout = 5 * seconds;
// Default deadline of a request whose caller gave none.
inline constexpr micros default_request_timeout = 5 * seconds;
// An error answering an application's notification is delivered when it comes within this
// time of the send (as long as a request would have waited for its answer); a later one,
// or one for a notification among more than max_pending_requests newer ones, is dropped
// as late. What a node remembers of its notifications stays bounded at any send rate.
inline constexpr micros notification_error_window = default_request_timeout;

// Agent reconnect backoff: full jitter in [0, min(cap, base * 2^attempt)].
inline constexpr micros backoff_base = 100 * ms;
inline constexpr micros backoff_cap = 10 * seconds;
// After a drain notice the agent avoids the draining proxy for this long.
inline constexpr micros drain_avoid = 30 * seconds;
// Agents told to move dial their next proxy within this long (uniformly), so that the
// agents of a draining proxy do not all land on the next one in the same millisecond.
// The move is make-before-break: the spread costs no message, only drain time.
inline constexpr micros move_spread = 800 * ms;
// An attachment that lasted this long resets the agent's backoff: a proxy that welcomes
// agents and drops them at once does not get them back at the base rate forever.
inline constexpr micros stable_attachment = 2 * idle_timeout;
// During a move an agent reads both links; a frame that both proxies forwarded (sent while
// both held the host) reaches the host once. It remembers what it forwarded for this long
// after the old link closed: far more than a bus delivery takes.
inline constexpr micros handover_dedup = 1 * seconds;
// Entries of that memory at most; past it the agent stops remembering (a host receiving
// this many frames in one handover is far beyond a link's queue anyway).
inline constexpr std::size_t handover_dedup_entries = 8 * link_queue_frames;
// A proxy whose own timer is this late was not scheduled (stopped, paused): its peers and
// agents may have given up on it meanwhile, so it revalidates before it serves again.
// Well above a busy host's timer lag, well below idle_timeout.
inline constexpr micros stall_threshold = heartbeat_interval;

}  // namespace ccp::core
