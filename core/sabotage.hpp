#pragma once
// Test-only switches that break the routing core on purpose, so that the simulator's
// negative scenarios can prove each invariant checker fails when it should. Production
// hosts never set them; every field defaults to off.

namespace ccp::core {

struct sabotage {
  bool fencing_off = false;            // a proxy ignores newer attachments elsewhere
  bool empty_proxy_takes_any = false;  // a proxy with no agents still takes `any`
  bool duplicate_delivery = false;     // an agent delivers `all` twice to each endpoint
  bool misroute = false;               // unicast goes to every endpoint of the host, and
                                       // endpoints accept frames not addressed to them
  bool double_complete = false;        // a request completes twice
  bool no_link_bound = false;          // a proxy ignores its per-link queue bound
};

}  // namespace ccp::core
