// The agent role driven by event sequences decoded from the fuzz input: its dials succeed
// or fail, its proxies welcome, refuse, tell it to move or stay and forward traffic, its
// host's endpoints register, beat and send, links drop, time passes, the application
// sends and requests, the agent stops. fuzz/role_fuzz.hpp checks every action it returns,
// and after its stop it must dial nothing and subscribe to nothing.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/agent.hpp"
#include "fuzz/role_fuzz.hpp"

using namespace ccp;
using namespace ccp::fuzz;

namespace {

constexpr std::string_view subject_pool[] = {"", "ccp.agent", "ccp.eps", "ccp.ep.e1"};

// One of the links the agent dialed or holds, in id order; 0 (no link) when there is none.
link_id pick(input& in, const std::set<link_id>& links) {
  const std::uint8_t i = in.byte();
  if (links.empty()) return 0;
  auto it = links.begin();
  std::advance(it, i % links.size());
  return *it;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  input in(data, size);
  frame_builder b(in);
  core::agent_config cfg;
  cfg.self = *address::parse("ccp://agent/10.0.0.7/agent");
  cfg.proxies = {"ws://10.0.1.1:7700", "ws://10.0.1.2:7700", "ws://10.0.1.3:7700"};
  cfg.token = "s3cret";
  cfg.epoch_base = 100;
  cfg.shuffle = in.byte() % 2;
  cfg.seed = in.byte();
  core::agent a(cfg);
  a.serve("echo");
  action_checker c(a, bus_kind::host, cfg.proxies);
  micros now = 0;

  a.handle(in::start{}, now);
  c.take(b);
  for (int steps = 0; !in.empty() && steps < 256; ++steps) {
    switch (in.byte() % 12) {
      case 0: {  // a dial succeeds
        const link_id l = pick(in, c.dialing);
        if (l == 0) break;
        c.link_up(l);
        a.handle(in::link_up{l}, now);
        c.take(b);
        break;
      }
      case 1:
      case 2:
      case 3: {  // a frame from a proxy
        const link_id l = pick(in, c.up);
        auto f = b.frame();
        if (l == 0) break;
        a.handle(in::link_frame{l, f}, now);
        c.take(b, f);
        break;
      }
      case 4: {  // a dial fails, or a link drops
        const bool dialed = in.byte() % 2;
        const link_id l = pick(in, dialed ? c.dialing : c.up);
        if (l == 0) break;
        c.link_down(l);
        a.handle(in::link_down{l}, now);
        c.take(b);
        break;
      }
      case 5:  // the host wrote some of a link's frames
        flush_some(in, a, c, b, pick(in, c.up), now);
        break;
      case 6:
      case 7: {  // a frame on the host bus (an endpoint's)
        const std::string_view subject = in.pick(subject_pool);
        auto f = b.frame();
        a.handle(in::bus_frame{subject, f}, now);
        c.take(b, f);
        break;
      }
      case 8:  // time passes (or the host stalls)
        pass_time(in, a, c, b, now);
        break;
      case 9:  // the application sends or requests
        app_sends(in, a, c, b, now);
        break;
      case 10:  // the application answers a request delivered to it
        app_answers(in, a, c, b, now);
        break;
      case 11: {  // a graceful stop: bye, and every link closed
        a.handle(in::stop{}, now);
        c.stopped = true;
        c.take(b);
        check(c.up.empty() && c.dialing.empty(), "an agent holds a link after its stop");
        break;
      }
    }
  }
  finish(a, c, b, now);
  return 0;
}
