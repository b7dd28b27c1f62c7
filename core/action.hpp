#pragma once
// What a role asks its host to do. Roles return actions as values; the host executes
// them after the call returns, so a role is never re-entered from inside itself.

#include <cstdint>
#include <memory>
#include <string>
#include <variant>
#include <vector>

#include "core/error.hpp"
#include "core/limits.hpp"
#include "core/message.hpp"
#include "core/subject_text.hpp"

namespace ccp::core {

// Frames travel as shared immutable buffers so that a fan-out shares one copy.
using frame_ptr = std::shared_ptr<const std::string>;
// A received frame handed to a role: the role may change its hop byte in place before
// forwarding it, so the host must not share it with another receiver.
using frame_buf = std::shared_ptr<std::string>;

using link_id = std::uint64_t;

enum class bus_kind : std::uint8_t { backbone = 0, host = 1 };

namespace act {

struct publish {
  bus_kind bus;
  subject_text subject;  // inline when short: no allocation per forwarded frame
  frame_ptr frame;
};
struct subscribe {
  bus_kind bus;
  std::string subject;
  std::string queue;  // queue group; empty for a plain subscription
};
struct unsubscribe {
  bus_kind bus;
  std::string subject;
};
struct send {
  link_id link;
  frame_ptr frame;
};
struct close {
  link_id link;
  errc reason;
};
// Agent only: open link `link` to `target` (a proxy URL from the agent's list). The host
// answers with on_link_up or on_link_down for that id.
struct dial {
  link_id link;
  std::string target;
};
// A request or notification for the local application, or an error answering one of its
// notifications. The application answers a request with the role's reply().
struct deliver {
  message msg;
};
// What became of one member of a group request (an `all` form).
struct member_result {
  enum class answer : std::uint8_t {
    ok,           // answered with a response
    error,        // answered with an error (`code`)
    silent,       // no answer by the deadline
    unreachable,  // a router on its way said it cannot be reached (`code`)
  };
  address member;
  answer result = answer::silent;
  errc code{};
};
[[nodiscard]] std::string_view to_string(member_result::answer a) noexcept;

// A request of the local application ended. Exactly one complete per request id.
// - One destination (a concrete address, an `any` form): code is zero when it succeeded
//   and `replies` holds the response; otherwise code says why, and `replies` holds the
//   error message when one came back.
// - A group (an `all` form) whose members the sender knows (a backbone member: mgmt or
//   proxy, from its directory; an agent, for its own host's groups; an endpoint or an
//   agent told by its router's ccp.members, core/members.hpp): `members` accounts for each
//   member fixed when they became known,
//   once, sorted by address; the request ends as soon as none is left waiting, and code
//   is ok when every member answered ok, `unreachable` when the group had no member or
//   none could be reached, `timeout` when members were reachable but none answered, and
//   `partial` otherwise. `replies` holds every reply that came (errors too, and replies
//   of members that joined after the send, which are not in `members`).
// - A group whose members the sender cannot know (mgmt groups; an agent's or endpoint's
//   group that its router could not tell): `members` is empty and the request
//   gathers until its deadline: ok when every reply was ok, `partial` when some were
//   errors, `timeout` when none came; `unreachable` at once when a proxy answers that the
//   group has no member anywhere.
struct complete {
  std::uint64_t request;
  errc code;
  std::vector<message> replies;
  std::vector<member_result> members{};
};
// A backbone member (mgmt, proxy) knows the fleet's routes: every proxy answered the sync
// a mgmt node asks at its start, or it heard every proxy's heartbeat and its directory
// syncs ended (or a bound passed). Once per start. A host that
// acts on the directory's answers (a client's `unreachable`) waits for it.
struct ready {};
// A draining proxy holds no link any more: its host may close it. Once per drain.
struct drained {};
}  // namespace act

using action = std::variant<act::publish, act::subscribe, act::unsubscribe, act::send, act::close,
                            act::dial, act::deliver, act::complete, act::ready, act::drained>;
// Timers are not actions: after each call the host asks the role for next_wake() and
// calls tick(now) at that time at the latest (as ngtcp2's get_expiry/handle_expiry).

}  // namespace ccp::core
