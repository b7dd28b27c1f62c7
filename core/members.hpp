#pragma once
// ccp.members: a router tells the sender of a group request whom it waits for.
//
// A group request (an `all` form) sent from below the backbone (by an endpoint or an agent)
// cannot know its members itself: the route directory lives on the backbone. The router
// that can know them answers the request, before it forwards it, with one or more
// ccp.members notices addressed to the sender that name the request's id: the proxy
// of the sender's host from its directory, for a fleet-wide group or another host's; the
// agent, for a group of its own host. The sender fixes its members from them, as a
// backbone member does from its own directory, and the request ends as soon as each has
// answered or is known unreachable. Replies that come before the notices are kept and
// accounted once the notices are all in.

#include <cstdint>
#include <expected>
#include <vector>

#include "core/address.hpp"
#include "core/error.hpp"
#include "core/message.hpp"

namespace ccp::core {

inline constexpr std::string_view members_type = "ccp.members";

// Bytes of member addresses in one notice: keeps each frame well under max_frame_bytes, so
// a group of any size (10,000 endpoints take about 300 KB) is told in several parts.
inline constexpr std::size_t members_bytes_per_notice = 64 * 1024;
// Notices for one request at most: what a reader accepts (as many as a group of a million
// members needs), so that a bad `parts` cannot make a sender wait for notices that never come.
inline constexpr std::uint64_t max_members_notices = 1024;

// The notices that tell `sender` the members of its request `request`, from `router`:
// at least one (an empty group is one notice with no member). Each body is
// {"request":ID,"part":I,"parts":N,"members":[ADDRESS,...]} with I from 0 to N-1 (a
// notification carries no correlation id).
[[nodiscard]] std::vector<message> members_notices(const address& router, const address& sender,
                                                   std::uint64_t request,
                                                   const std::vector<address>& members);

// One notice's body, read. Errors: bad_request when it is not such a body (a field missing
// or of another type, request 0, part >= parts, parts > max_members_notices, a member that
// is not a concrete address); the caller drops the notice and counts it malformed.
struct members_part {
  std::uint64_t request = 0;
  std::uint64_t part = 0;
  std::uint64_t parts = 0;
  std::vector<address> members;
};
[[nodiscard]] std::expected<members_part, errc> read_members_notice(std::string_view body);

}  // namespace ccp::core
