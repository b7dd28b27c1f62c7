#pragma once
// The route directory every backbone member (mgmt node or proxy) keeps: which proxy
// holds which host, with the attachment's epoch. It is fed by route announcements
// (attach/detach on ccp.ctl.route), proxy heartbeats (ccp.ctl.hb, with the number of
// hosts the proxy holds and a digest of those routes) and sync replies (a proxy's full
// list, asked for whenever a heartbeat's count or digest disagrees with what the directory
// holds for that proxy). A proxy
// whose heartbeats stop for idle_timeout loses all its routes.
//
// It is what lets a sender answer `unreachable` at once for a host nobody holds, and
// what fences a stale attachment: an entry is only ever replaced by a higher epoch.
// Nothing is remembered of a host nobody holds: its epoch goes with its route (detach,
// the holder's lease, a sync), so no epoch an agent once sent outlives the claim it made.

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "core/limits.hpp"

namespace ccp::core {

class route_directory {
 public:
  // Who lives on a host: its agent's id and its endpoints' ids (sorted), as the holding
  // proxy announced them. What a group request (`all`) waits for.
  struct members {
    std::string agent;  // empty: not announced
    std::vector<std::string> endpoints;
  };
  struct route {
    std::string proxy;  // canonical address text of the holding proxy
    std::uint64_t epoch = 0;
    members on_host;
  };

  // A proxy announced that it holds `host` with `epoch`. Returns true when the entry was
  // taken (its epoch is newer than, or the same attachment as, what was known).
  // `m`, when given, is who lives on the host now (the same attachment may announce it
  // again when its endpoints change).
  bool attach(std::string_view host, std::uint64_t epoch, std::string_view proxy, micros now,
              const members* m = nullptr);
  // A proxy announced it let go of `host`; ignored unless it is the current holder with
  // that epoch.
  void detach(std::string_view host, std::uint64_t epoch, std::string_view proxy);
  // A heartbeat from `proxy` saying it holds `hosts` routes whose digest (route_digest
  // summed over them; null: a proxy that sends none) is `digest`, and whether it takes new
  // agents (`open`: not draining, not cut off). Returns true when the directory disagrees
  // and a sync should be asked for (at most once per heartbeat). The digest is what tells
  // two hosts that swapped proxies while their announcements were lost (a bus outage):
  // every count still agrees.
  bool heartbeat(std::string_view proxy, std::uint64_t hosts, micros now, bool open = true,
                 const std::uint64_t* digest = nullptr);
  // One route's share of a proxy's digest: the digest of a set of routes is the sum (mod
  // 2^64) of its routes' shares, so it is kept up to date route by route, in any order.
  [[nodiscard]] static std::uint64_t route_digest(std::string_view host, std::uint64_t epoch);
  // The digest of the routes the directory gives `proxy` (0: none).
  [[nodiscard]] std::uint64_t digest_of(std::string_view proxy) const;
  // One route as a sync reply carries it.
  struct synced_route {
    std::string host;
    std::uint64_t epoch = 0;
    members on_host;
  };
  // Replaces everything known about `proxy` with `routes`, keeping newer epochs held by
  // other proxies.
  void sync(std::string_view proxy, const std::vector<synced_route>& routes, micros now);
  // Drops the routes of proxies silent for longer than idle_timeout. Returns the dropped
  // proxies.
  std::vector<std::string> expire(micros now);
  // Forgets a proxy at once (it said it is shutting down).
  void forget(std::string_view proxy);

  [[nodiscard]] const route* find(std::string_view host) const;
  // Every route, by host; every proxy heard from, by address text.
  [[nodiscard]] const std::map<std::string, route, std::less<>>& routes() const noexcept {
    return routes_;
  }
  template <class F>
  void for_each_proxy(F&& f) const {
    for (const auto& [name, p] : proxies_)
      f(name);
  }
  // What the directory knows of one proxy, as rebalancing weighs it.
  struct proxy_load {
    std::string_view name;
    std::size_t hosts = 0;      // routes it holds, as announced
    std::size_t endpoints = 0;  // endpoints on those hosts, as announced
    micros last_seen = 0;       // its last heartbeat or announcement
    bool open = true;           // its last heartbeat said it takes new agents
  };
  // Whether `proxy` was heard from within `within` before `now`.
  [[nodiscard]] bool heard(std::string_view proxy, micros now, micros within) const {
    auto it = proxies_.find(proxy);
    return it != proxies_.end() && now - it->second.last_seen < within;
  }
  // f(proxy_load) for every proxy heard from, by address text.
  template <class F>
  void for_each_load(F&& f) const {
    for (const auto& [name, p] : proxies_)
      f(proxy_load{name, p.hosts, p.endpoints, p.last_seen, p.open});
  }
  [[nodiscard]] std::size_t hosts() const noexcept { return routes_.size(); }
  [[nodiscard]] std::size_t proxies() const noexcept { return proxies_.size(); }
  [[nodiscard]] std::size_t hosts_of(std::string_view proxy) const;
  [[nodiscard]] micros next_expiry() const;
  // Grows with every change of what for_each_load reports (counts, a proxy's arrival,
  // departure or openness; not last_seen alone): a reader caches what it derives from them.
  [[nodiscard]] std::uint64_t version() const noexcept { return version_; }

 private:
  struct proxy_info {
    micros last_seen = 0;
    std::size_t hosts = 0;
    std::size_t endpoints = 0;  // the sum over its routes of on_host.endpoints
    std::uint64_t digest = 0;   // the sum over its routes of route_digest
    bool open = true;
  };
  void drop_owned(const std::string& proxy);

  // Ordered maps: iteration order reaches decisions (sync, expiry), so it must be the
  // same on every run.
  std::map<std::string, route, std::less<>> routes_;
  std::map<std::string, proxy_info, std::less<>> proxies_;
  std::uint64_t version_ = 0;
};

}  // namespace ccp::core
