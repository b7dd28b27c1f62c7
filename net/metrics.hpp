#pragma once
// What a service counts for its monitor (net/monitor.hpp): frames and bytes per path,
// request outcomes, refusals, link churn and bus state. The role's own counters
// (core::node_stats) and gauges that live on its strand (links, queue depths) are read there
// at scrape time instead (role_host::snapshot).
//
// Thread affinity: counters may be read from any thread at any time (a scrape). bump() is
// for counters that one strand writes (a role's host): a relaxed load and store, no locked
// instruction on the forwarding path; add() for counters that several strands write (the
// listener's connections).

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "core/error.hpp"

namespace ccp::net {

class counter {
 public:
  void add(std::uint64_t n = 1) noexcept { v_.fetch_add(n, std::memory_order_relaxed); }
  void bump(std::uint64_t n = 1) noexcept {
    v_.store(v_.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
  }
  [[nodiscard]] std::uint64_t get() const noexcept { return v_.load(std::memory_order_relaxed); }

 private:
  std::atomic<std::uint64_t> v_{0};
};

// Where frames travel through a role's host.
enum class path : std::uint8_t { link_in, link_out, backbone_in, backbone_out, host_in, host_out };
inline constexpr std::size_t path_count = 6;
[[nodiscard]] constexpr std::string_view to_string(path p) noexcept {
  constexpr std::string_view names[] = {"link_in",      "link_out", "backbone_in",
                                        "backbone_out", "host_in",  "host_out"};
  return names[static_cast<std::size_t>(p)];
}

// Why a proxy's listener turned a connection away before any link existed.
enum class upgrade_refusal : std::uint8_t {
  credentials,    // HTTP 401: the agent's token was refused
  not_websocket,  // HTTP 400: a request that is not a websocket upgrade
  bad_http,       // the bytes were not HTTP (a TLS client on a ws:// listener, a scanner)
  tls,            // the TLS handshake failed (plain ws:// on a wss:// listener, unknown CA)
};
inline constexpr std::size_t upgrade_refusal_count = 4;
[[nodiscard]] constexpr std::string_view to_string(upgrade_refusal r) noexcept {
  constexpr std::string_view names[] = {"credentials", "not_websocket", "bad_http", "tls"};
  return names[static_cast<std::size_t>(r)];
}

// Whether a bus of the service is connected: unused (the role has no such bus), up or down.
enum class bus_health : std::uint8_t { unused, up, down };

struct service_metrics {
  std::array<counter, path_count> frames;
  std::array<counter, path_count> bytes;
  // Requests of this service's application that ended, by code (index 0: ok).
  std::array<counter, core::errc_max + 1> outcomes;
  std::array<counter, upgrade_refusal_count> upgrade_refusals;
  // Hellos answered with an error (by this proxy, or to this agent), by code.
  std::array<counter, core::errc_max + 1> hello_refusals;
  counter dials;          // links dialled (an agent's connects and reconnects)
  counter dial_failures;  // dials that never came up
  counter attaches;       // links whose hello was welcomed
  counter links_lost;     // links that went down without their role closing them
  counter links_closed;   // links the role closed (detach, fence, idle, bye)
  counter bus_disconnects;
  std::array<std::atomic<bus_health>, 2> bus{bus_health::unused, bus_health::unused};  // bus_kind
};

}  // namespace ccp::net
