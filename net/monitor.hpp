#pragma once
// The monitor of a daemon: an HTTP listener of its own (`--monitor HOST:PORT`, apart from
// the agents' port) that serves, with Boost.Beast:
//   GET /metrics  Prometheus text format 0.0.4: every service's counters and gauges,
//                 labelled with its address (`self`) and role, and the process's RSS and fds.
//   GET /healthz  200 "ok" while the process's event loop answers (nothing else is checked:
//                 a failing /healthz means restart the process).
//   GET /readyz   200 "ready" when every service can do its job now, else 503 with one line
//                 per service that cannot and why (a proxy draining, cut off from the
//                 backbone or with its backbone down; an agent not attached to a proxy or
//                 with its host bus down; an endpoint with its host bus down; mgmt before
//                 its route directory is complete or with its backbone down). A load
//                 balancer or orchestrator takes a not-ready process out of rotation.
//
// Thread affinity: start, add, port and close from any thread. A scrape reads each
// service's role on that role's strand (role_host::snapshot), never blocking a strand.

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <cstdint>
#include <expected>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "net/role_host.hpp"

namespace ccp::net {

// One service the monitor reports on.
struct monitored {
  std::string role;  // "proxy", "agent", "endpoint", "mgmt"
  std::shared_ptr<role_host> host;
  // Called on the host's strand with its snapshot: why the service is not ready, or "" when
  // it is. Empty: ready while every bus it uses is connected.
  std::function<std::string(const role_host::snapshot_t&)> not_ready;
};

// What a scrape read of one service.
struct service_sample {
  std::string self, role;
  role_host::snapshot_t snap;
  std::shared_ptr<service_metrics> metrics;
  std::string not_ready;  // "" when ready
};

// The Prometheus text of `samples` and of this process (RSS, fds). Every family is written
// once with its HELP and TYPE, whatever the number of services.
[[nodiscard]] std::string render_metrics(const std::vector<service_sample>& samples);

// Why a service with these metrics is not ready because of its buses ("" when none is down).
[[nodiscard]] std::string buses_not_ready(const service_metrics& m);

class monitor {
 public:
  virtual ~monitor() = default;
  // Binds `at` (port 0: a free port) and serves. Errors: the address cannot be bound (the
  // message names it and the cause).
  [[nodiscard]] static std::expected<std::shared_ptr<monitor>, std::string> start(
      boost::asio::io_context& ioc, boost::asio::ip::tcp::endpoint at);
  virtual void add(monitored m) = 0;
  [[nodiscard]] virtual std::uint16_t port() const = 0;
  // Stops accepting; requests being answered finish.
  virtual void close() = 0;
};

}  // namespace ccp::net
