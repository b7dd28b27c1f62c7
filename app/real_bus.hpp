#pragma once
// The backbone bus of a `ccp real` run (app/real_cmd.cpp): one nats-server on a free
// loopback port, or with `bus_nodes` > 1 a NATS cluster of that many, each node with its
// own client, cluster-route and monitoring ports, every node routed to every other. Each
// node is a process of its own, stopped by its PID.

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "testkit/nats_server.hpp"

namespace ccp::app {

class real_bus {
 public:
  // Starts `nodes` servers and, for a cluster, waits until every node has a route to every
  // other (their monitoring endpoint /routez), within `bound`. Throws std::runtime_error
  // naming what did not come up; the nodes started so far are stopped.
  explicit real_bus(int nodes, std::chrono::milliseconds bound = std::chrono::seconds(10));
  // Every node stopped by its PID (woken first if paused, so that it stops at once).
  ~real_bus();
  real_bus(const real_bus&) = delete;
  real_bus& operator=(const real_bus&) = delete;

  [[nodiscard]] int nodes() const noexcept { return static_cast<int>(servers_.size()); }
  // The bus URL for backbone client `k`: every node, node k mod nodes() first and the rest
  // in ring order after it (libnats tries them in that order, net/nats_bus.cpp).
  [[nodiscard]] std::string url_for(int k) const;
  // Node b's client port.
  [[nodiscard]] int port(int b) const;

  // Node b killed (SIGKILL: its clients see their connection close and reconnect to
  // another node) and started again on the same ports.
  void kill(int b);
  void restart(int b);
  [[nodiscard]] bool running(int b) const;
  // Every node that is down, started again.
  void restart_dead();
  // Every node frozen (SIGSTOP) or woken (SIGCONT): a bus outage.
  void pause();
  void resume();
  // Whether every running node has a route to every other running node now.
  [[nodiscard]] bool routes_up() const;

 private:
  std::vector<std::unique_ptr<testkit::nats_server>> servers_;
  std::vector<int> monitor_ports_;
  bool paused_ = false;
};

}  // namespace ccp::app
