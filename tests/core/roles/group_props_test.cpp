// Group requests' accounting, as a property: for random memberships (hosts with random
// endpoints, announced to a mgmt node) and random answer patterns (ok, error, silent, the
// host's agent saying its endpoints cannot be reached, replies in any order, repeats),
// the result of an endpoint/all request names every member once with what it did, ends
// as soon as nobody is waited for (else at the deadline), and has the outcome its
// members make (core/action.hpp). The same for an endpoint, which learns its members from
// its router's ccp.members notices (core/members.hpp), in parts that come in any order
// among the replies.
#include <gtest/gtest.h>
#include <rapidcheck.h>
#include <rapidcheck/gtest.h>

#include <algorithm>
#include <map>
#include <string>
#include <vector>

#include "core/control.hpp"
#include "core/endpoint.hpp"
#include "core/members.hpp"
#include "core/mgmt.hpp"
#include "tests/core/roles/role_driver.hpp"

namespace ccp::test::roles {
namespace {

using answer = act::member_result::answer;
constexpr std::string_view kMgmt = "ccp://mgmt/10.0.2.1/m1";
constexpr std::string_view kProxy = "ccp://proxy/10.0.1.1/p1";

enum class fate { ok, error, silent, host_unreachable };

RC_GTEST_PROP(GroupProps, AccountingIsExactForAnyMembershipAndAnswers, ()) {
  // Up to 6 hosts with 0..4 endpoints each; what each endpoint does; what each agent says.
  const auto hosts = *rc::gen::weightedElement<int>({{1, 0}, {8, *rc::gen::inRange<int>(1, 7)}});
  driver<core::mgmt> m{address_of(kMgmt), 1};
  // Its directory learnt (the one proxy answered its fleet sync): it knows every group.
  const std::uint64_t sync = published_message(m.start(0)).id;
  m.bus(make_reply(msg_kind::response, 800, sync, kProxy, kMgmt, "ccp.sync",
                   core::flat_json_writer{}
                       .add("routes", std::vector<std::string>{})
                       .add("last", 1)
                       .add("proxies", std::vector<std::string>{std::string(kProxy)})
                       .finish()),
        0);
  RC_ASSERT(m->learnt());
  std::map<std::string, fate> expected;  // member address -> its fate
  std::vector<std::string> host_names;
  std::vector<bool> host_down;
  for (int h = 0; h < hosts; ++h) {
    const std::string host = "10.0.0." + std::to_string(h + 1);
    const auto count = *rc::gen::weightedElement<int>({{1, 0}, {6, *rc::gen::inRange<int>(1, 5)}});
    const bool down = *rc::gen::weightedElement<bool>({{1, true}, {8, false}});
    std::vector<std::string> ids;
    for (int e = 0; e < count; ++e)
      ids.push_back("e" + std::to_string(e));
    m.bus(make_message(msg_kind::notification, 900, kProxy, "ccp://proxy/all", "ccp.route",
                       core::flat_json_writer{}
                           .add("op", "attach")
                           .add("host", host)
                           .add("epoch", 1)
                           .add("agent", "agent")
                           .add("endpoints", ids)
                           .finish()),
          0);
    for (const auto& id : ids) {
      fate f =
          down ? fate::host_unreachable : *rc::gen::element(fate::ok, fate::error, fate::silent);
      expected["ccp://endpoint/" + host + "/" + id] = f;
    }
    host_names.push_back(host);
    host_down.push_back(down && count > 0);
  }
  std::uint64_t id = 0;
  auto sent = m.app([&](core::mgmt& n) {
    auto r = n.request(address_of("ccp://endpoint/all"), "echo", "{}", 2 * core::seconds, 1);
    RC_ASSERT(r.has_value());
    id = *r;
  });
  // The replies that come: one per answering member (some twice), one per host down.
  std::vector<message> replies;
  std::uint64_t reply_id = 100;
  for (const auto& [member, f] : expected) {
    if (f != fate::ok && f != fate::error) continue;
    message r = make_reply(f == fate::ok ? msg_kind::response : msg_kind::error, ++reply_id, id,
                           member, kMgmt, "echo");
    if (f == fate::error) r.code = errc::no_handler;
    replies.push_back(r);
    if (*rc::gen::weightedElement<bool>({{1, true}, {5, false}})) replies.push_back(r);  // again
  }
  for (std::size_t h = 0; h < host_names.size(); ++h) {
    if (!host_down[h]) continue;
    message r = make_reply(msg_kind::error, ++reply_id, id,
                           "ccp://agent/" + host_names[h] + "/agent", kMgmt, "echo");
    r.code = errc::unreachable;
    replies.push_back(r);
  }
  for (std::size_t i = replies.size(); i > 1; --i)  // in any order
    std::swap(replies[i - 1], replies[*rc::gen::inRange<std::size_t>(0, i)]);

  std::vector<action> acts = sent;
  const bool waits_for_deadline = std::any_of(
      expected.begin(), expected.end(), [](const auto& e) { return e.second == fate::silent; });
  for (const auto& r : replies) {
    if (count_of<act::complete>(acts) > 0) break;  // ended: later replies are late
    acts = m.bus(r, 10);
  }
  if (count_of<act::complete>(acts) == 0) {
    // Only a silent member may hold the request until its deadline.
    RC_ASSERT(waits_for_deadline);
    acts = m.tick(1 + 2 * core::seconds);
  } else {
    RC_ASSERT(!waits_for_deadline || expected.empty());
  }
  RC_ASSERT(count_of<act::complete>(acts) == 1u);
  const act::complete& c = *first_of<act::complete>(acts);
  RC_ASSERT(c.request == id);

  // Every member once, in order, with what it did.
  RC_ASSERT(c.members.size() == expected.size());
  std::size_t k = 0, ok = 0, answered = 0, unreachable = 0;
  for (const auto& [member, f] : expected) {
    const auto& r = c.members[k++];
    RC_ASSERT(r.member.str() == member);
    switch (f) {
      case fate::ok:
        RC_ASSERT(r.result == answer::ok);
        ++ok;
        ++answered;
        break;
      case fate::error:
        RC_ASSERT(r.result == answer::error);
        RC_ASSERT(r.code == errc::no_handler);
        ++answered;
        break;
      case fate::silent:
        RC_ASSERT(r.result == answer::silent);
        break;
      case fate::host_unreachable:
        RC_ASSERT(r.result == answer::unreachable);
        RC_ASSERT(r.code == errc::unreachable);
        ++unreachable;
        break;
    }
  }
  errc want{};
  if (expected.empty() || unreachable == expected.size())
    want = errc::unreachable;
  else if (ok == expected.size())
    want = errc{};
  else if (answered == 0)
    want = errc::timeout;
  else
    want = errc::partial;
  RC_ASSERT(c.code == want);
  RC_TAG(std::string(want == errc{} ? "ok" : to_string(want)));  // the outcomes' spread
}

// An endpoint's endpoint/all: its router tells the members in 1 to 3 parts, which come
// anywhere among the replies (before, between, after). The result is what a backbone
// member's would be: every member once with what it did, ended as soon as nobody is waited
// for (else at the deadline), with the outcome its members make.
RC_GTEST_PROP(GroupProps, AnEndpointToldItsMembersAccountsExactly, ()) {
  constexpr std::string_view kSelf = "ccp://endpoint/10.0.0.99/me";
  constexpr std::string_view kAgent = "ccp://agent/10.0.0.99/agent";
  driver<core::endpoint> e{address_of(kSelf), 1};
  const auto started = e.start(0);
  const auto* reg = first_of<act::publish>(started);
  RC_ASSERT(reg != nullptr);
  (void)e.bus(
      make_reply(msg_kind::response, 2, decoded(reg->frame)->id, kAgent, kSelf, "ccp.register"), 0);
  RC_ASSERT(e->state() == core::endpoint::status::registered);

  const auto hosts = *rc::gen::inRange<int>(0, 6);
  std::map<std::string, fate> expected;
  std::vector<std::string> down_hosts;
  for (int h = 0; h < hosts; ++h) {
    const std::string host = "10.0.0." + std::to_string(h + 1);
    const auto count = *rc::gen::inRange<int>(0, 5);
    const bool down = count > 0 && *rc::gen::weightedElement<bool>({{1, true}, {8, false}});
    for (int k = 0; k < count; ++k)
      expected["ccp://endpoint/" + host + "/e" + std::to_string(k)] =
          down ? fate::host_unreachable : *rc::gen::element(fate::ok, fate::error, fate::silent);
    if (down) down_hosts.push_back(host);
  }
  std::uint64_t id = 0;
  auto sent = e.app([&](core::endpoint& n) {
    auto r = n.request(address_of("ccp://endpoint/all"), "echo", "{}", 2 * core::seconds, 1);
    RC_ASSERT(r.has_value());
    id = *r;
  });
  RC_ASSERT(count_of<act::complete>(sent) == 0u);  // it cannot know its members yet

  // The notices: the members split in 1 to 3 parts (one, empty, for an empty group).
  std::vector<std::string> all;
  for (const auto& [member, f] : expected)
    all.push_back(member);
  const std::size_t parts = all.empty() ? 1 : *rc::gen::inRange<std::size_t>(1, 4);
  std::vector<std::vector<std::string>> split(parts);
  for (const auto& a : all)
    split[*rc::gen::inRange<std::size_t>(0, parts)].push_back(a);
  std::vector<message> frames;
  std::uint64_t msg_id = 100;
  for (std::size_t i = 0; i < parts; ++i)
    frames.push_back(make_message(msg_kind::notification, ++msg_id, kProxy, kSelf,
                                  std::string(core::members_type),
                                  core::flat_json_writer{}
                                      .add("request", id)
                                      .add("part", i)
                                      .add("parts", parts)
                                      .add("members", split[i])
                                      .finish()));
  for (const auto& [member, f] : expected) {
    if (f != fate::ok && f != fate::error) continue;
    message r = make_reply(f == fate::ok ? msg_kind::response : msg_kind::error, ++msg_id, id,
                           member, kSelf, "echo");
    if (f == fate::error) r.code = errc::no_handler;
    frames.push_back(r);
  }
  for (const auto& host : down_hosts) {
    message r =
        make_reply(msg_kind::error, ++msg_id, id, "ccp://agent/" + host + "/agent", kSelf, "echo");
    r.code = errc::unreachable;
    frames.push_back(r);
  }
  for (std::size_t i = frames.size(); i > 1; --i)  // in any order
    std::swap(frames[i - 1], frames[*rc::gen::inRange<std::size_t>(0, i)]);

  std::vector<action> acts;
  const bool waits_for_deadline = std::any_of(
      expected.begin(), expected.end(), [](const auto& m) { return m.second == fate::silent; });
  std::size_t fed = 0;
  for (const auto& f : frames) {
    if (count_of<act::complete>(acts) > 0) break;
    acts = e.bus(f, 10, "ccp.ep.me");
    ++fed;
  }
  if (count_of<act::complete>(acts) == 0) {
    RC_ASSERT(waits_for_deadline);
    acts = e.tick(1 + 2 * core::seconds);
  } else {
    RC_ASSERT(!waits_for_deadline);
    RC_ASSERT(fed == frames.size());  // ended with the last word it waited for, not before
  }
  RC_ASSERT(count_of<act::complete>(acts) == 1u);
  const act::complete& c = *first_of<act::complete>(acts);
  RC_ASSERT(c.request == id);
  RC_ASSERT(c.members.size() == expected.size());
  std::size_t k = 0, ok = 0, answered = 0, unreachable = 0;
  for (const auto& [member, f] : expected) {
    const auto& r = c.members[k++];
    RC_ASSERT(r.member.str() == member);
    const answer want = f == fate::ok                 ? answer::ok
                        : f == fate::error            ? answer::error
                        : f == fate::host_unreachable ? answer::unreachable
                                                      : answer::silent;
    RC_ASSERT(r.result == want);
    ok += f == fate::ok;
    answered += f == fate::ok || f == fate::error;
    unreachable += f == fate::host_unreachable;
  }
  errc want{};
  if (expected.empty() || unreachable == expected.size())
    want = errc::unreachable;
  else if (ok == expected.size())
    want = errc{};
  else if (answered == 0)
    want = errc::timeout;
  else
    want = errc::partial;
  RC_ASSERT(c.code == want);
  RC_TAG(std::string(want == errc{} ? "ok" : to_string(want)));
}

}  // namespace
}  // namespace ccp::test::roles
