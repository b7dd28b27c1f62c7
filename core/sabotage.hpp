#pragma once
// Test-only switches that break the routing core on purpose, so that the simulator's
// negative scenarios can prove each invariant checker fails when it should. Every field
// defaults to off, and only the simulator can turn one on: node::set_sabotage takes a
// sabotage_key, which nothing but the simulator's world can make. No daemon reaches them.
// Where a switch is read on a forwarding path, it is an [[unlikely]] branch that is never
// taken outside the negative scenarios.

namespace ccp::sim {
class world;
}

namespace ccp::core {

// The permission to break a role (a passkey): constructible by the simulator only.
class sabotage_key {
  friend class ccp::sim::world;
  sabotage_key() = default;
};

struct sabotage {
  bool fencing_off = false;            // a proxy ignores newer attachments elsewhere
  bool empty_proxy_takes_any = false;  // a proxy with no agents still takes `any`
  bool duplicate_delivery = false;     // an agent delivers `all` twice to each endpoint
  bool misroute = false;               // unicast goes to every endpoint of the host, and
                                       // endpoints accept frames not addressed to them
  bool double_complete = false;        // a request completes twice
  bool no_link_bound = false;          // a proxy ignores its per-link queue bound
  bool lax_groups = false;             // a group request with any reply ends ok
  bool no_rebalance = false;           // a proxy never moves agents for balance
  bool any_over_proxies = false;       // `any` is spread over proxies, not over members
};

}  // namespace ccp::core
