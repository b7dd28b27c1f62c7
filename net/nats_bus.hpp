#pragma once
// The NATS bus: libnats (the NATS C client) behind net::bus.
//
// libnats calls back on its own threads; every message is copied into a frame and handed to
// the subscriber's executor (STYLE rule 11) in batches: one post per batch, the handler
// called once per message, one call at a time and in the order libnats received them,
// whatever the executor. Reconnects forever with a bounded reconnect buffer; libnats re-sends
// the subscriptions after a reconnect. No blocking libnats call (Request, Flush, NextMsg) is
// made on a caller's thread.
//
// Behaviour beyond net::bus's contract (the constants and their reasons are in
// nats_bus.cpp and nats_outbox.cpp):
// - on_state gets `connected` (detail: the server's URL) once open_nats_bus succeeded, then
//   `disconnected` (detail: libnats' last error) and `reconnected` (the URL) as the
//   connection goes, and `closed` only if libnats gives up, which it does not by itself
//   (it retries forever). Nothing is reported once the bus's destructor has begun.
// - libnats' socket I/O runs on a strand of bus_options::io_executor (required here):
//   libnats has no reader or flusher thread of its own. publish queues the frame and, when
//   nothing was queued, posts a hand-over to the strand, which gives libnats what was published
//   meanwhile and writes it; it never blocks. Consecutive publications to one subject leave
//   as one NATS message (net/frame_batch.hpp, up to 64 KiB of frames), split again by the
//   receiving bus, so handlers still get one frame per call, in order. While the server
//   reads nothing, past 8 MiB unwritten publish drops and counts frames. While
//   disconnected, frames go to an 8 MiB reconnect buffer, sent after the reconnect; past it
//   they are dropped and counted. Frames over the server's max_payload (1 MiB by default)
//   and subjects holding blanks or control characters are dropped and counted too. The
//   destructor writes what is queued and buffered as far as the socket takes it without
//   waiting. Messages are handed over by libnats' delivery thread.
// - The destructor waits (bounded, normally microseconds) until libnats' threads have left
//   the bus's callbacks, so nothing is posted to a handler's executor once it returned, and
//   closes the connection. unsubscribe does not wait: a drain posted after it returned finds
//   the subscription closed and calls nothing.
// - libnats 3.4.1 may still touch an unsubscribed subscription from its read path, so the
//   bus frees it later, on the strand that runs the reads.
// - Each subscription queues up to 1 M messages / 1 GiB inside libnats before libnats drops
//   them (a slow consumer: our callback only copies and posts, so that needs a starved
//   process).

#include <chrono>
#include <expected>
#include <memory>
#include <string>
#include <string_view>

#include "net/bus.hpp"

namespace ccp::net {

// Before the process exits, once every bus is closed: waits, at most `bound`, until
// libnats' own threads have let go of every connection (nats_CloseAndWait), so that the
// exit handlers (OpenSSL's cleanup) never run under a thread still freeing a TLS context.
// Does nothing when no NATS bus was opened. Not from a libnats callback.
void release_nats(std::chrono::milliseconds bound);

// Connects to `url`, `nats://host:port[,host:port...]` (a later server may repeat
// `nats://`; an IPv6 host is bracketed: `[::1]:4222`). Servers are tried in the given order;
// the first that answers is used, the others on reconnect. Blocks while connecting (up to
// 2 s per server): call it at startup, not on a live io_context thread.
// Errors (the message names the URL): the URL is malformed (scheme, empty host, port not in
// 1..65535), opts.prefix holds blanks, controls or wildcards, opts.on_state is set without a
// state_executor, opts.io_executor is empty, or no server answered at start (with libnats'
// reason). The caller should
// report it and exit or retry later; nothing is retried here.
[[nodiscard]] std::expected<std::shared_ptr<bus>, std::string> open_nats_bus(std::string_view url,
                                                                             bus_options opts);

}  // namespace ccp::net
