#pragma once
// A whole fleet in one process on loopback: mgmt, proxies, agents and their endpoints,
// joined by real websockets and by in-process (or NATS) buses. What `ccp up` runs and
// what the net tests and the end-to-end bench drive.

#include <boost/asio/io_context.hpp>
#include <cstddef>
#include <expected>
#include <memory>
#include <string>
#include <vector>

#include "net/daemons.hpp"

namespace ccp::net {

struct fleet_options {
  std::size_t proxies = 2;
  std::size_t agents = 4;
  std::size_t endpoints_per_agent = 2;  // ids e1, e2, ...
  std::string backbone = "inproc://up-backbone";
  std::string host_bus = "inproc://up-hosts";  // shared, with a prefix per host
  std::string token = "ccp-up";                // shared secret of the proxies
  std::uint64_t seed = 1;
};

// Host names: proxies 127.0.1.N, agents 10.0.0.N / 10.0.N/256.N%256 (addresses only;
// everything listens and dials on 127.0.0.1).
class local_fleet {
 public:
  // Starts everything on `ioc` (which the caller runs). Errors name what failed.
  static std::expected<std::unique_ptr<local_fleet>, std::string> start(
      boost::asio::io_context& ioc, fleet_options opts);

  [[nodiscard]] mgmt_service& mgmt() { return *mgmt_; }
  [[nodiscard]] std::vector<std::shared_ptr<proxy_service>>& proxies() { return proxies_; }
  [[nodiscard]] std::vector<std::shared_ptr<agent_service>>& agents() { return agents_; }
  [[nodiscard]] const fleet_options& options() const noexcept { return opts_; }
  // The address of agent i's host.
  [[nodiscard]] static std::string agent_host(std::size_t i);

  // Stops everything gracefully (agents say bye, proxies close).
  void shutdown();

 private:
  fleet_options opts_;
  std::shared_ptr<mgmt_service> mgmt_;
  std::vector<std::shared_ptr<proxy_service>> proxies_;
  std::vector<std::shared_ptr<agent_service>> agents_;
};

}  // namespace ccp::net
