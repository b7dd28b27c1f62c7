#pragma once
// What `ccp real` (app/real_cmd.cpp) and the processes it starts (`ccp real-node`,
// app/real_node.cpp) agree on: the names of a scenario's nodes (the simulator's, so that
// a file's addresses mean the same in both worlds) and a node process's command line.

#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace ccp::app {

// The agents' shared secret (loopback only; every proxy of the run checks it).
inline constexpr std::string_view real_secret = "ccp-real";

// Host i's name, ccp://mgmt/... of mgmt node j, ccp://proxy/... of proxy p: as the
// simulator names them (sim/world.cpp).
[[nodiscard]] inline std::string real_host_name(int i) {
  const unsigned n = static_cast<unsigned>(i) + 1;
  return "10." + std::to_string((n >> 16) & 255) + "." + std::to_string((n >> 8) & 255) + "." +
         std::to_string(n & 255);
}
[[nodiscard]] inline std::string real_mgmt_address(int j) {
  return "ccp://mgmt/mgmt-" + std::to_string(j + 1) + ".sim/m" + std::to_string(j + 1);
}
[[nodiscard]] inline std::string real_proxy_address(int p) {
  return "ccp://proxy/10.200." + std::to_string(p / 250) + "." + std::to_string(p % 250 + 1) +
         "/p" + std::to_string(p + 1);
}

// One node process: `role` is mgmt (node `index`), proxy (`index`, listening on `port`),
// hosts (hosts first..last-1: agents dialling `proxy_urls`, and their endpoints), agents
// (the same without endpoints) or endpoints (those hosts' endpoints alone); agents and
// endpoints meet on `host_bus`.
struct real_node_spec {
  std::string scenario, dir, trace, backbone, role;
  std::string host_bus = "inproc://real-hosts";
  std::string listen = "127.0.0.1";  // a proxy's address (its network namespace's, in one)
  int index = 0, first = 0, last = 0, port = 0;
  std::vector<std::string> proxy_urls;
};
// Its command line, starting with `self_exe`.
[[nodiscard]] std::vector<std::string> real_node_argv(const std::string& self_exe,
                                                      const real_node_spec& n);

// `ccp real-node ...`: one process of a run (app/real_node.cpp).
int real_node_main(std::span<const std::string_view> args, std::ostream& out, std::ostream& err);

}  // namespace ccp::app
