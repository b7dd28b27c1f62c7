#pragma once
// The in-process bus: subjects, queue groups and fan-out inside one process, for `ccp up`
// and single-process fleets. Same contract as NATS (net/bus.hpp): every receiver gets its
// own copy of the frame, posted to its executor; a queue group hands each message to one
// member, chosen round-robin. As on NATS, order holds per subscription, not across them:
// each subscription's messages reach its executor in batches (net/inbox.hpp), so on one
// strand A1, B1, A2 published to subjects A and B may be handled as A1, A2, B1.

#include <memory>
#include <string_view>

#include "net/bus.hpp"

namespace ccp::net {

// The bus named `name` in this process, created on first use and kept while any holder
// lives. Thread safety: all of net::bus's members may be called from any thread.
[[nodiscard]] std::shared_ptr<bus> open_inproc_bus(std::string_view name, const bus_options& opts);

}  // namespace ccp::net
