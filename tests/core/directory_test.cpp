#include "core/directory.hpp"

#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <ostream>
#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>
#include <rapidcheck.h>
#include <rapidcheck/gtest.h>

#include "core/limits.hpp"

namespace ccp::core {
namespace {

const std::string h1 = "10.0.0.1";
const std::string h2 = "10.0.0.2";
const std::string h3 = "[2001:db8::3]";
const std::string p1 = "ccp://proxy/10.1.0.1/p1";
const std::string p2 = "ccp://proxy/10.1.0.2/p2";
const std::string p3 = "ccp://proxy/10.1.0.3/p3";

constexpr micros t0 = 5 * seconds;

// The holder of `host` as "proxy@epoch", or "none": one comparable value per assertion.
std::string holder(const route_directory& d, const std::string& host) {
  const auto* r = d.find(host);
  return r ? r->proxy + "@" + std::to_string(r->epoch) : "none";
}
std::string at(const std::string& proxy, std::uint64_t epoch) {
  return proxy + "@" + std::to_string(epoch);
}

// ---- attach --------------------------------------------------------------------------------

struct attach_case {
  const char* name;
  std::uint64_t held_epoch;
  const std::string* held_by;
  std::uint64_t epoch;
  const std::string* by;
  bool taken;
};

void PrintTo(const attach_case& c, std::ostream* os) {
  *os << c.name;
}

class DirectoryAttach : public testing::TestWithParam<attach_case> {};

TEST_P(DirectoryAttach, OnlyANewerEpochOrTheSameAttachmentIsTaken) {
  const auto& c = GetParam();
  route_directory d;
  ASSERT_TRUE(d.attach(h1, c.held_epoch, *c.held_by, t0));
  EXPECT_EQ(d.attach(h1, c.epoch, *c.by, t0 + 1), c.taken);

  const auto& winner = c.taken ? *c.by : *c.held_by;
  const auto winner_epoch = c.taken ? c.epoch : c.held_epoch;
  EXPECT_EQ(holder(d, h1), at(winner, winner_epoch));
  EXPECT_EQ(d.hosts(), 1u);
  EXPECT_EQ(d.hosts_of(winner), 1u);
  if (*c.by != *c.held_by) {
    EXPECT_EQ(d.hosts_of(c.taken ? *c.held_by : *c.by), 0u);
  }
}

INSTANTIATE_TEST_SUITE_P(
    Table, DirectoryAttach,
    testing::Values(attach_case{"NewerEpochOtherProxy", 5, &p1, 6, &p2, true},
                    attach_case{"NewerEpochSameProxy", 5, &p1, 6, &p1, true},
                    attach_case{"MuchNewerEpoch", 5, &p1, UINT64_MAX, &p2, true},
                    attach_case{"OlderEpochOtherProxy", 5, &p1, 4, &p2, false},
                    attach_case{"OlderEpochSameProxy", 5, &p1, 4, &p1, false},
                    attach_case{"EpochZeroAfterOne", 1, &p1, 0, &p2, false},
                    attach_case{"SameEpochOtherProxyFirstWins", 5, &p1, 5, &p2, false},
                    attach_case{"SameAttachmentAgain", 5, &p1, 5, &p1, true}),
    [](const auto& tp) { return std::string(tp.param.name); });

TEST(Directory, AttachToAnUnknownHostIsTaken) {
  route_directory d;
  EXPECT_EQ(d.find(h1), nullptr);
  EXPECT_TRUE(d.attach(h1, 0, p1, t0));
  EXPECT_EQ(holder(d, h1), at(p1, 0));
  EXPECT_EQ(d.hosts(), 1u);
  EXPECT_EQ(d.proxies(), 1u);
  EXPECT_EQ(d.hosts_of(p1), 1u);
}

TEST(Directory, RepeatedSameAttachmentIsCountedOnce) {
  route_directory d;
  for (int i = 0; i < 3; ++i)
    EXPECT_TRUE(d.attach(h1, 7, p1, t0 + i));
  EXPECT_EQ(d.hosts_of(p1), 1u);
  EXPECT_FALSE(d.heartbeat(p1, 1, t0 + 10));
}

TEST(Directory, ARefusedAttachStillRecordsTheProxy) {
  route_directory d;
  ASSERT_TRUE(d.attach(h1, 5, p1, t0));
  ASSERT_FALSE(d.attach(h1, 5, p2, t0));
  EXPECT_EQ(d.proxies(), 2u);
  EXPECT_EQ(d.hosts_of(p2), 0u);
}

TEST(Directory, AMoveBetweenProxiesMovesTheCounts) {
  route_directory d;
  ASSERT_TRUE(d.attach(h1, 1, p1, t0));
  ASSERT_TRUE(d.attach(h2, 1, p1, t0));
  ASSERT_TRUE(d.attach(h1, 2, p2, t0));
  EXPECT_EQ(d.hosts_of(p1), 1u);
  EXPECT_EQ(d.hosts_of(p2), 1u);
  ASSERT_TRUE(d.attach(h1, 3, p1, t0));
  EXPECT_EQ(d.hosts_of(p1), 2u);
  EXPECT_EQ(d.hosts_of(p2), 0u);
  EXPECT_EQ(d.hosts(), 2u);
}

// ---- detach --------------------------------------------------------------------------------

struct detach_case {
  const char* name;
  std::string host;
  std::uint64_t epoch;
  const std::string* by;
  bool removed;
};

void PrintTo(const detach_case& c, std::ostream* os) {
  *os << c.name;
}

class DirectoryDetach : public testing::TestWithParam<detach_case> {};

TEST_P(DirectoryDetach, OnlyTheHolderWithItsEpochRemovesTheEntry) {
  const auto& c = GetParam();
  route_directory d;
  ASSERT_TRUE(d.attach(h1, 5, p1, t0));
  ASSERT_TRUE(d.attach(h2, 1, p2, t0));
  d.detach(c.host, c.epoch, *c.by);
  EXPECT_EQ(holder(d, h1), c.removed ? "none" : at(p1, 5));
  EXPECT_EQ(d.hosts_of(p1), c.removed ? 0u : 1u);
  EXPECT_EQ(holder(d, h2), at(p2, 1));
  EXPECT_EQ(d.hosts_of(p2), 1u);
  EXPECT_EQ(d.hosts(), c.removed ? 1u : 2u);
}

INSTANTIATE_TEST_SUITE_P(Table, DirectoryDetach,
                         testing::Values(detach_case{"Match", h1, 5, &p1, true},
                                         detach_case{"OlderEpoch", h1, 4, &p1, false},
                                         detach_case{"NewerEpoch", h1, 6, &p1, false},
                                         detach_case{"OtherProxy", h1, 5, &p2, false},
                                         detach_case{"UnknownProxy", h1, 5, &p3, false},
                                         detach_case{"UnknownHost", h3, 5, &p1, false}),
                         [](const auto& tp) { return std::string(tp.param.name); });

// A detach that arrives after the host moved on (stale) must not remove the new holder.
TEST(Directory, StaleDetachAfterAMoveIsIgnored) {
  route_directory d;
  ASSERT_TRUE(d.attach(h1, 1, p1, t0));
  ASSERT_TRUE(d.attach(h1, 2, p2, t0 + 1));
  d.detach(h1, 1, p1);
  EXPECT_EQ(holder(d, h1), at(p2, 2));
  EXPECT_EQ(d.hosts_of(p2), 1u);
}

TEST(Directory, NothingOfAHostIsKeptOnceNobodyHoldsIt) {
  // No epoch outlives the claim that sent it: once the host's route is gone (detach, the
  // holder forgotten or silent past its lease), an attachment with any epoch is taken.
  route_directory d;
  ASSERT_TRUE(d.attach(h1, UINT64_MAX, p1, t0));
  d.detach(h1, UINT64_MAX, p1);
  EXPECT_EQ(d.find(h1), nullptr);
  EXPECT_TRUE(d.attach(h1, 1, p2, t0));
  EXPECT_EQ(holder(d, h1), at(p2, 1));
  d.forget(p2);
  EXPECT_TRUE(d.attach(h1, 1, p3, t0));
  EXPECT_EQ(holder(d, h1), at(p3, 1));
  ASSERT_TRUE(d.attach(h2, UINT64_MAX, p1, t0));
  EXPECT_FALSE(d.expire(t0 + idle_timeout + 1).empty());
  EXPECT_EQ(d.find(h2), nullptr);
  EXPECT_TRUE(d.attach(h2, 2, p2, t0 + idle_timeout + 1));
  EXPECT_EQ(holder(d, h2), at(p2, 2));
}

// ---- heartbeat -----------------------------------------------------------------------------

struct heartbeat_case {
  std::uint64_t held;        // routes the directory holds for the proxy
  std::uint64_t advertised;  // count in the heartbeat
  bool sync;
};

void PrintTo(const heartbeat_case& c, std::ostream* os) {
  *os << "held " << c.held << " advertised " << c.advertised;
}

class DirectoryHeartbeat : public testing::TestWithParam<heartbeat_case> {};

TEST_P(DirectoryHeartbeat, AsksForASyncWhenTheCountsDisagree) {
  const auto& c = GetParam();
  route_directory d;
  const std::array<std::string, 3> hosts = {h1, h2, h3};
  for (std::uint64_t i = 0; i < c.held; ++i)
    ASSERT_TRUE(d.attach(hosts[i], 1, p1, t0));
  EXPECT_EQ(d.heartbeat(p1, c.advertised, t0 + 1), c.sync);
  EXPECT_EQ(d.hosts_of(p1), c.held);  // a heartbeat never changes routes
  EXPECT_EQ(d.hosts(), c.held);
}

INSTANTIATE_TEST_SUITE_P(Table, DirectoryHeartbeat,
                         testing::Values(heartbeat_case{0, 0, false}, heartbeat_case{0, 1, true},
                                         heartbeat_case{2, 1, true}, heartbeat_case{2, 2, false},
                                         heartbeat_case{2, 3, true},
                                         heartbeat_case{3, UINT64_MAX, true}));

TEST(Directory, HeartbeatFromAnUnknownProxyRegistersIt) {
  route_directory d;
  EXPECT_FALSE(d.heartbeat(p1, 0, t0));
  EXPECT_EQ(d.proxies(), 1u);
  EXPECT_EQ(d.next_expiry(), t0 + idle_timeout + 1);
}

TEST(Directory, HeartbeatKeepsAProxyAlive) {
  route_directory d;
  ASSERT_TRUE(d.attach(h1, 1, p1, t0));
  EXPECT_FALSE(d.heartbeat(p1, 1, t0 + idle_timeout));
  EXPECT_TRUE(d.expire(t0 + idle_timeout + 1).empty());
  EXPECT_EQ(holder(d, h1), at(p1, 1));
  EXPECT_EQ(d.next_expiry(), t0 + 2 * idle_timeout + 1);
}

TEST(Directory, DetachMakesTheNextHeartbeatAgree) {
  route_directory d;
  ASSERT_TRUE(d.attach(h1, 1, p1, t0));
  ASSERT_TRUE(d.attach(h2, 1, p1, t0));
  d.detach(h1, 1, p1);
  EXPECT_FALSE(d.heartbeat(p1, 1, t0 + 1));
  EXPECT_TRUE(d.heartbeat(p1, 2, t0 + 2));
}

// ---- sync ----------------------------------------------------------------------------------

TEST(Directory, SyncReplacesEverythingKnownAboutTheProxy) {
  route_directory d;
  ASSERT_TRUE(d.attach(h1, 1, p1, t0));
  ASSERT_TRUE(d.attach(h2, 1, p1, t0));
  d.sync(p1, {{h2, 2, {}}, {h3, 1, {}}}, t0 + 1);
  EXPECT_EQ(holder(d, h1), "none");
  EXPECT_EQ(holder(d, h2), at(p1, 2));
  EXPECT_EQ(holder(d, h3), at(p1, 1));
  EXPECT_EQ(d.hosts_of(p1), 2u);
  EXPECT_FALSE(d.heartbeat(p1, 2, t0 + 2));
}

TEST(Directory, SyncWithNothingEmptiesTheProxy) {
  route_directory d;
  ASSERT_TRUE(d.attach(h1, 1, p1, t0));
  d.sync(p1, {}, t0 + 1);
  EXPECT_EQ(d.hosts(), 0u);
  EXPECT_EQ(d.hosts_of(p1), 0u);
  EXPECT_EQ(d.proxies(), 1u);
  EXPECT_EQ(d.next_expiry(), t0 + 1 + idle_timeout + 1);
}

TEST(Directory, SyncKeepsNewerAndEqualEpochsHeldByOthers) {
  route_directory d;
  ASSERT_TRUE(d.attach(h1, 7, p2, t0));
  ASSERT_TRUE(d.attach(h2, 3, p2, t0));
  ASSERT_TRUE(d.attach(h3, 1, p2, t0));
  d.sync(p1, {{h1, 6, {}}, {h2, 3, {}}, {h3, 2, {}}}, t0 + 1);
  EXPECT_EQ(holder(d, h1), at(p2, 7));  // newer elsewhere: kept
  EXPECT_EQ(holder(d, h2), at(p2, 3));  // same epoch elsewhere: first one wins
  EXPECT_EQ(holder(d, h3), at(p1, 2));  // older elsewhere: taken over
  EXPECT_EQ(d.hosts_of(p1), 1u);
  EXPECT_EQ(d.hosts_of(p2), 2u);
  EXPECT_FALSE(d.heartbeat(p2, 2, t0 + 2));
}

TEST(Directory, SyncRefreshesTheProxy) {
  route_directory d;
  ASSERT_TRUE(d.attach(h1, 1, p1, t0));
  d.sync(p1, {{h1, 1, {}}}, t0 + idle_timeout);
  EXPECT_TRUE(d.expire(t0 + idle_timeout + 1).empty());
  EXPECT_EQ(holder(d, h1), at(p1, 1));
}

// ---- expiry --------------------------------------------------------------------------------

struct expire_case {
  micros silence;
  bool dropped;
};

void PrintTo(const expire_case& c, std::ostream* os) {
  *os << "silent for " << c.silence;
}

class DirectoryExpire : public testing::TestWithParam<expire_case> {};

// idle_timeout is the limit: silent for exactly idle_timeout is still alive, one
// microsecond more is gone.
TEST_P(DirectoryExpire, DropsProxiesSilentForMoreThanIdleTimeout) {
  const auto& c = GetParam();
  route_directory d;
  ASSERT_TRUE(d.attach(h1, 1, p1, t0));
  ASSERT_TRUE(d.attach(h2, 1, p1, t0));
  auto gone = d.expire(t0 + c.silence);
  if (c.dropped) {
    EXPECT_EQ(gone, std::vector<std::string>{p1});
    EXPECT_EQ(d.hosts(), 0u);
    EXPECT_EQ(d.proxies(), 0u);
    EXPECT_EQ(d.hosts_of(p1), 0u);
    EXPECT_EQ(d.next_expiry(), never);
  } else {
    EXPECT_TRUE(gone.empty());
    EXPECT_EQ(holder(d, h1), at(p1, 1));
    EXPECT_EQ(d.hosts_of(p1), 2u);
  }
}

INSTANTIATE_TEST_SUITE_P(Limit, DirectoryExpire,
                         testing::Values(expire_case{0, false},
                                         expire_case{idle_timeout - 1, false},
                                         expire_case{idle_timeout, false},
                                         expire_case{idle_timeout + 1, true},
                                         expire_case{10 * idle_timeout, true}));

TEST(Directory, ExpireDropsOnlyTheSilentProxies) {
  route_directory d;
  ASSERT_TRUE(d.attach(h1, 1, p1, t0));
  ASSERT_TRUE(d.attach(h2, 1, p2, t0 + seconds));
  ASSERT_TRUE(d.attach(h3, 1, p3, t0));
  auto gone = d.expire(t0 + idle_timeout + 1);
  EXPECT_EQ(gone, (std::vector<std::string>{p1, p3}));
  EXPECT_EQ(holder(d, h1), "none");
  EXPECT_EQ(holder(d, h2), at(p2, 1));
  EXPECT_EQ(holder(d, h3), "none");
  EXPECT_EQ(d.proxies(), 1u);
  EXPECT_TRUE(d.expire(t0 + idle_timeout + 1).empty());  // nothing twice
}

TEST(Directory, AnAttachRefreshesTheAnnouncingProxyOnly) {
  route_directory d;
  ASSERT_TRUE(d.attach(h1, 1, p1, t0));
  ASSERT_TRUE(d.attach(h2, 1, p2, t0));
  ASSERT_TRUE(d.attach(h1, 2, p2, t0 + idle_timeout));
  EXPECT_EQ(d.expire(t0 + idle_timeout + 1), std::vector<std::string>{p1});
  EXPECT_EQ(holder(d, h1), at(p2, 2));
  EXPECT_EQ(d.hosts_of(p2), 2u);
}

TEST(Directory, AnOlderTimestampDoesNotRewindAnAttach) {
  route_directory d;
  ASSERT_TRUE(d.attach(h1, 1, p1, t0 + seconds));
  ASSERT_TRUE(d.attach(h2, 1, p1, t0));
  EXPECT_EQ(d.next_expiry(), t0 + seconds + idle_timeout + 1);
}

// ---- forget --------------------------------------------------------------------------------

TEST(Directory, ForgetDropsTheProxyAtOnce) {
  route_directory d;
  ASSERT_TRUE(d.attach(h1, 1, p1, t0));
  ASSERT_TRUE(d.attach(h2, 1, p1, t0));
  ASSERT_TRUE(d.attach(h3, 1, p2, t0));
  d.forget(p1);
  EXPECT_EQ(holder(d, h1), "none");
  EXPECT_EQ(holder(d, h2), "none");
  EXPECT_EQ(holder(d, h3), at(p2, 1));
  EXPECT_EQ(d.proxies(), 1u);
  EXPECT_EQ(d.hosts_of(p1), 0u);
  EXPECT_EQ(d.next_expiry(), t0 + idle_timeout + 1);
  EXPECT_TRUE(d.expire(t0 + idle_timeout + 1) == std::vector<std::string>{p2});
}

TEST(Directory, ForgetAnUnknownProxyChangesNothing) {
  route_directory d;
  ASSERT_TRUE(d.attach(h1, 1, p1, t0));
  d.forget(p2);
  EXPECT_EQ(holder(d, h1), at(p1, 1));
  EXPECT_EQ(d.proxies(), 1u);
}

// ---- next_expiry ---------------------------------------------------------------------------

TEST(Directory, NextExpiryIsNeverWhenEmpty) {
  route_directory d;
  EXPECT_EQ(d.next_expiry(), never);
}

// next_expiry is the first time at which expire drops someone: nothing a microsecond
// before, the earliest proxy at that time.
TEST(Directory, NextExpiryIsTheFirstTimeExpireDropsSomeone) {
  route_directory d;
  ASSERT_TRUE(d.attach(h1, 1, p1, t0 + 2 * seconds));
  EXPECT_FALSE(d.heartbeat(p2, 0, t0));
  ASSERT_TRUE(d.attach(h3, 1, p3, t0 + seconds));
  EXPECT_EQ(d.next_expiry(), t0 + idle_timeout + 1);

  EXPECT_TRUE(d.expire(d.next_expiry() - 1).empty());
  EXPECT_EQ(d.expire(d.next_expiry()), std::vector<std::string>{p2});
  EXPECT_EQ(d.next_expiry(), t0 + seconds + idle_timeout + 1);
  EXPECT_EQ(d.expire(d.next_expiry()), std::vector<std::string>{p3});
  EXPECT_EQ(d.next_expiry(), t0 + 2 * seconds + idle_timeout + 1);
  EXPECT_EQ(d.expire(d.next_expiry()), std::vector<std::string>{p1});
  EXPECT_EQ(d.next_expiry(), never);
}

// ---- properties ----------------------------------------------------------------------------

// A few hosts, proxies and epochs, so that operations collide often.
const std::array<std::string, 3> pool_hosts = {h1, h2, h3};
const std::array<std::string, 3> pool_proxies = {p1, p2, p3};

struct op {
  enum class kind : std::uint8_t { attach, detach, heartbeat, sync, expire, forget } k{};
  std::size_t host = 0;
  std::size_t proxy = 0;
  std::uint64_t epoch = 0;
  micros advance = 0;                                         // time passing before the operation
  std::vector<std::pair<std::size_t, std::uint64_t>> routes;  // for sync
};

void showValue(const op& o, std::ostream& os) {
  static constexpr std::array<const char*, 6> names = {"attach", "detach", "heartbeat",
                                                       "sync",   "expire", "forget"};
  os << "+" << o.advance << " " << names[static_cast<std::size_t>(o.k)] << " h" << o.host + 1
     << " p" << o.proxy + 1 << " e" << o.epoch;
  if (o.k == op::kind::sync) {
    os << " [";
    for (const auto& [h, e] : o.routes)
      os << " h" << h + 1 << "@" << e;
    os << " ]";
  }
}

rc::Gen<op> gen_op(std::vector<op::kind> kinds) {
  return rc::gen::exec([kinds] {
    op o;
    o.k = *rc::gen::elementOf(kinds);
    o.host = *rc::gen::inRange<std::size_t>(0, pool_hosts.size());
    o.proxy = *rc::gen::inRange<std::size_t>(0, pool_proxies.size());
    o.epoch = *rc::gen::inRange<std::uint64_t>(0, 5);
    o.advance = *rc::gen::element<micros>(0, 1, seconds, idle_timeout, idle_timeout + 1);
    if (o.k == op::kind::sync) {
      auto n = *rc::gen::inRange<std::size_t>(0, 4);
      for (std::size_t i = 0; i < n; ++i)
        o.routes.emplace_back(*rc::gen::inRange<std::size_t>(0, pool_hosts.size()),
                              *rc::gen::inRange<std::uint64_t>(0, 5));
    }
    return o;
  });
}

// hosts_of(p) must be the number of hosts whose entry names p: it is what heartbeats are
// compared with.
void check_counts(const route_directory& d) {
  std::size_t total = 0;
  for (const auto& p : pool_proxies) {
    std::size_t held = 0;
    for (const auto& h : pool_hosts)
      if (const auto* r = d.find(h); r && r->proxy == p) ++held;
    RC_ASSERT(d.hosts_of(p) == held);
    total += held;
  }
  RC_ASSERT(d.hosts() == total);
}

// The documented fence: an entry is only ever replaced by a strictly higher epoch, and no
// entry is above the highest epoch seen for its host. Attach and detach only, so an entry
// can disappear only through a matching detach.
RC_GTEST_PROP(DirectoryProps, AnEntryIsOnlyReplacedByAHigherEpoch, ()) {
  const auto ops =
      *rc::gen::container<std::vector<op>>(gen_op({op::kind::attach, op::kind::detach}));
  route_directory d;
  std::map<std::string, route_directory::route> held;  // entries after the previous step
  micros now = t0;
  for (const auto& o : ops) {
    now += o.advance;
    const auto& host = pool_hosts[o.host];
    const auto& proxy = pool_proxies[o.proxy];
    const auto before = held.contains(host) ? std::optional(held[host]) : std::nullopt;
    if (o.k == op::kind::attach) {
      bool taken = d.attach(host, o.epoch, proxy, now);
      bool expected = !before || o.epoch > before->epoch ||
                      (o.epoch == before->epoch && before->proxy == proxy);
      RC_ASSERT(taken == expected);
    } else {
      d.detach(host, o.epoch, proxy);
    }
    for (const auto& h : pool_hosts) {
      const auto* now_held = d.find(h);
      auto prev = held.find(h);
      if (now_held) {
        if (prev != held.end()) {
          RC_ASSERT(now_held->epoch >= prev->second.epoch);
          if (now_held->epoch == prev->second.epoch)
            RC_ASSERT(now_held->proxy == prev->second.proxy);
        }
        held[h] = *now_held;
      } else {
        // Only a detach of exactly that host, epoch and proxy removes an entry.
        if (prev != held.end())
          RC_ASSERT(o.k == op::kind::detach && h == host && prev->second.epoch == o.epoch &&
                    prev->second.proxy == proxy);
        held.erase(h);
      }
    }
    check_counts(d);
  }
}

// With every operation, the counts a heartbeat is compared with stay true, and every entry
// stays at or below the highest epoch seen for its host.
RC_GTEST_PROP(DirectoryProps, CountsMatchEntriesUnderEveryOperation, ()) {
  const auto ops = *rc::gen::container<std::vector<op>>(
      gen_op({op::kind::attach, op::kind::attach, op::kind::detach, op::kind::heartbeat,
              op::kind::sync, op::kind::expire, op::kind::forget}));
  route_directory d;
  micros now = t0;
  for (const auto& o : ops) {
    now += o.advance;
    const auto& host = pool_hosts[o.host];
    const auto& proxy = pool_proxies[o.proxy];
    switch (o.k) {
      case op::kind::attach:
        (void)d.attach(host, o.epoch, proxy, now);
        break;
      case op::kind::detach:
        d.detach(host, o.epoch, proxy);
        break;
      case op::kind::heartbeat: {
        bool sync = d.heartbeat(proxy, o.epoch, now);
        RC_ASSERT(sync == (d.hosts_of(proxy) != o.epoch));
        break;
      }
      case op::kind::sync: {
        std::vector<route_directory::synced_route> routes;
        for (const auto& [h, e] : o.routes)
          routes.push_back({pool_hosts[h], e, {}});
        d.sync(proxy, routes, now);
        break;
      }
      case op::kind::expire: {
        const auto next = d.next_expiry();
        const auto gone = d.expire(now);
        RC_ASSERT(gone.empty() == (now < next));
        for (const auto& p : gone)
          RC_ASSERT(d.hosts_of(p) == 0u);
        break;
      }
      case op::kind::forget:
        d.forget(proxy);
        break;
    }
    check_counts(d);
  }
}

// ---- loads (rebalancing, `any` over members) ----------------------------------------------

// What for_each_load reports of `proxy`: "hosts/endpoints/open", or "none".
std::string load_of(const route_directory& d, const std::string& proxy) {
  std::string out = "none";
  d.for_each_load([&](const route_directory::proxy_load& l) {
    if (l.name == proxy)
      out = std::to_string(l.hosts) + "/" + std::to_string(l.endpoints) + "/" +
            (l.open ? "open" : "closed");
  });
  return out;
}

route_directory::members with_endpoints(std::size_t n) {
  route_directory::members m{"agent", {}};
  for (std::size_t i = 1; i <= n; ++i)
    m.endpoints.push_back("e" + std::to_string(i));
  return m;
}

// Each proxy's endpoints follow its routes: attach, a new member list of the same
// attachment, a move to another proxy, a detach and a sync.
// Two hosts that swapped proxies while their announcements were lost (a bus outage, the
// proxies restarted): every count agrees, so only the digest can tell the directory it
// is wrong; a heartbeat without one (an older proxy) is judged by its count as before.
TEST(Directory, AHeartbeatsDigestRevealsHostsThatSwappedProxiesUnannounced) {
  route_directory d;
  d.attach(h1, 1, p1, t0);
  d.attach(h2, 1, p2, t0);
  // What the proxies hold now: p1 has h2 (epoch 2), p2 has h1 (epoch 2).
  const std::uint64_t p1_now = route_directory::route_digest(h2, 2);
  const std::uint64_t p2_now = route_directory::route_digest(h1, 2);
  EXPECT_TRUE(d.heartbeat(p1, 1, t0 + 1 * seconds, true, &p1_now));
  EXPECT_TRUE(d.heartbeat(p2, 1, t0 + 1 * seconds, true, &p2_now));
  EXPECT_FALSE(d.heartbeat(p1, 1, t0 + 1 * seconds));  // no digest: the counts agree
  // The sync that follows makes them agree.
  d.sync(p1, {{h2, 2, {}}}, t0 + 2 * seconds);
  d.sync(p2, {{h1, 2, {}}}, t0 + 2 * seconds);
  EXPECT_FALSE(d.heartbeat(p1, 1, t0 + 3 * seconds, true, &p1_now));
  EXPECT_FALSE(d.heartbeat(p2, 1, t0 + 3 * seconds, true, &p2_now));
  EXPECT_EQ(d.digest_of(p1), p1_now);
}

// The digest is kept route by route: whatever order attaches, moves, detaches and syncs
// come in, it is the sum of route_digest over the routes the directory gives the proxy.
RC_GTEST_PROP(DirectoryProps, TheDigestIsTheSumOfTheProxysRoutes, ()) {
  route_directory d;
  const std::array<std::string, 3> hosts{h1, h2, h3};
  const std::array<std::string, 3> proxies{p1, p2, p3};
  const auto ops = *rc::gen::container<std::vector<std::array<std::uint8_t, 4>>>(
      rc::gen::arbitrary<std::array<std::uint8_t, 4>>());
  micros t = t0;
  for (const auto& [op, h, p, e] : ops) {
    const std::string& host = hosts[h % 3];
    const std::string& proxy = proxies[p % 3];
    const std::uint64_t epoch = e % 4 + 1;
    t += 1 * ms;
    switch (op % 4) {
      case 0:
        d.attach(host, epoch, proxy, t);
        break;
      case 1:
        d.detach(host, epoch, proxy);
        break;
      case 2:
        d.sync(proxy, {{host, epoch, {}}}, t);
        break;
      default:
        d.forget(proxy);
        break;
    }
  }
  for (const auto& proxy : proxies) {
    std::uint64_t want = 0;
    for (const auto& [host, r] : d.routes())
      if (r.proxy == proxy) want += route_directory::route_digest(host, r.epoch);
    RC_ASSERT(d.digest_of(proxy) == want);
  }
}

TEST(Directory, EndpointCountsFollowTheRoutes) {
  route_directory d;
  auto three = with_endpoints(3), five = with_endpoints(5), two = with_endpoints(2);
  d.attach(h1, 1, p1, t0, &three);
  d.attach(h2, 1, p1, t0, &two);
  EXPECT_EQ(load_of(d, p1), "2/5/open");
  d.attach(h1, 1, p1, t0, &five);  // the same attachment, its endpoints changed
  EXPECT_EQ(load_of(d, p1), "2/7/open");
  d.attach(h1, 2, p2, t0, &five);  // h1 moves to p2
  EXPECT_EQ(load_of(d, p1), "1/2/open");
  EXPECT_EQ(load_of(d, p2), "1/5/open");
  d.detach(h2, 1, p1);
  EXPECT_EQ(load_of(d, p1), "0/0/open");
  d.sync(p2, {{h3, 4, three}}, t0);
  EXPECT_EQ(load_of(d, p2), "1/3/open");
}

// A heartbeat says whether the proxy takes agents; the version moves with every change a
// reader derives something from, and not with a heartbeat that changes nothing.
TEST(Directory, OpennessAndVersionFollowTheHeartbeats) {
  route_directory d;
  const std::uint64_t v0 = d.version();
  d.heartbeat(p1, 0, t0);
  const std::uint64_t v1 = d.version();
  EXPECT_GT(v1, v0);  // a new proxy
  d.heartbeat(p1, 0, t0 + 1);
  EXPECT_EQ(d.version(), v1);
  d.heartbeat(p1, 0, t0 + 2, false);
  EXPECT_EQ(load_of(d, p1), "0/0/closed");
  EXPECT_GT(d.version(), v1);
  const std::uint64_t v2 = d.version();
  d.attach(h1, 1, p1, t0 + 3);
  EXPECT_GT(d.version(), v2);
  const std::uint64_t v3 = d.version();
  d.forget(p1);
  EXPECT_GT(d.version(), v3);
  EXPECT_EQ(load_of(d, p1), "none");
}

}  // namespace
}  // namespace ccp::core
