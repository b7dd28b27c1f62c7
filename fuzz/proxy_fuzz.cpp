// The proxy role driven by event sequences decoded from the fuzz input: agents' links
// come up, carry frames (hellos, their hosts' traffic, byes, junk) and go down, the
// backbone brings other proxies' routes, heartbeats, syncs and mgmt's requests, time
// passes (or the proxy is not scheduled for a while: a stall), the application sends and
// requests, the proxy drains. fuzz/role_fuzz.hpp checks every action it returns.
#include <cstddef>
#include <cstdint>
#include <iterator>
#include <memory>
#include <string>
#include <vector>

#include "core/proxy.hpp"
#include "fuzz/role_fuzz.hpp"

using namespace ccp;
using namespace ccp::fuzz;

namespace {

constexpr std::string_view subject_pool[] = {
    "",
    "ccp.ctl.route",
    "ccp.ctl.hb",
    "ccp.host.10_0_0_7",
    "ccp.proxy.10_0_1_1.p1",
    "ccp.proxy.any",
    "ccp.endpoint.any",
    "ccp.agent.all",
};

// Picks a link: one the proxy holds, or one it had (frames of a closed link may still
// arrive), or an id it never saw.
link_id pick_link(input& in, const std::vector<link_id>& seen) {
  const std::uint8_t i = in.byte();
  if (i < 0xf0 && !seen.empty()) return seen[i % seen.size()];
  return 1000 + i;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  input in(data, size);
  frame_builder b(in);
  const core::shared_secret_verifier verifier("s3cret");
  core::proxy p(*address::parse("ccp://proxy/10.0.1.1/p1"), in.byte(), verifier);
  p.serve("echo");
  action_checker c(p, bus_kind::backbone, {});
  // A proxy holding no agents must never swallow an `any` (DESIGN.md): out of the groups.
  c.after_each = [&] {
    if (p.attached() == 0)
      check(!c.subscribed.contains("ccp.agent.any") && !c.subscribed.contains("ccp.endpoint.any"),
            "a proxy that holds no host is in an `any` group");
  };
  micros now = 0;
  std::vector<link_id> seen;  // every link id the host opened, in order
  link_id next_link = 1;

  p.handle(in::start{}, now);
  c.take(b);
  for (int steps = 0; !in.empty() && steps < 256; ++steps) {
    switch (in.byte() % 12) {
      case 0: {  // an agent connects
        const link_id l = next_link++;
        seen.push_back(l);
        c.link_up(l);
        p.handle(in::link_up{l}, now);
        c.take(b);
        break;
      }
      case 1:
      case 2:
      case 3: {  // a frame on a link
        const link_id l = pick_link(in, seen);
        auto f = b.frame();
        if (!c.up.contains(l)) break;  // the host has no such link open: nothing arrives
        p.handle(in::link_frame{l, f}, now);
        c.take(b, f);
        break;
      }
      case 4: {  // a link goes down (the agent closed it, or the network)
        const link_id l = pick_link(in, seen);
        if (!c.up.contains(l)) break;  // not reported for a link the proxy closed
        c.link_down(l);
        p.handle(in::link_down{l}, now);
        c.take(b);
        break;
      }
      case 5:  // the host wrote some of a link's frames
        flush_some(in, p, c, b, pick_link(in, seen), now);
        break;
      case 6:
      case 7: {  // a frame from the backbone
        const std::string_view subject = in.pick(subject_pool);
        auto f = b.frame();
        p.handle(in::bus_frame{subject, f}, now);
        c.take(b, f);
        break;
      }
      case 8:  // time passes (or the host stalls)
        pass_time(in, p, c, b, now);
        break;
      case 9:  // the application sends or requests
        app_sends(in, p, c, b, now);
        break;
      case 10:  // the application answers a request delivered to it
        app_answers(in, p, c, b, now);
        break;
      case 11: {  // a graceful stop: the proxy drains
        p.handle(in::stop{}, now);
        c.take(b);
        break;
      }
    }
  }
  finish(p, c, b, now);
  return 0;
}
