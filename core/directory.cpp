#include "core/directory.hpp"

#include <algorithm>

#include "core/coverage.hpp"

namespace ccp::core {

bool route_directory::attach(std::string_view host, std::uint64_t epoch, std::string_view proxy,
                             micros now, const members* m) {
  ++version_;
  auto& p = proxies_[std::string(proxy)];
  if (p.last_seen < now) p.last_seen = now;
  auto it = routes_.find(host);
  if (it != routes_.end()) {
    CCP_MARK_IF(directory_stale_epoch_refused, it->second.epoch > epoch);
    if (it->second.epoch > epoch) return false;
    if (it->second.epoch == epoch && it->second.proxy == proxy) {
      if (m) {  // the same attachment, with who lives there now
        p.endpoints -= std::min(p.endpoints, it->second.on_host.endpoints.size());
        p.endpoints += m->endpoints.size();
        it->second.on_host = *m;
      }
      return true;
    }
    if (it->second.epoch == epoch) return false;  // same epoch, other proxy: first one wins
    if (auto old = proxies_.find(it->second.proxy); old != proxies_.end()) {
      if (old->second.hosts > 0) --old->second.hosts;
      old->second.endpoints -= std::min(old->second.endpoints, it->second.on_host.endpoints.size());
      old->second.digest -= route_digest(host, it->second.epoch);
    }
    it->second = route{std::string(proxy), epoch, m ? *m : members{}};
  } else {
    routes_.emplace(std::string(host), route{std::string(proxy), epoch, m ? *m : members{}});
  }
  ++p.hosts;
  p.digest += route_digest(host, epoch);
  if (m) p.endpoints += m->endpoints.size();
  return true;
}

void route_directory::detach(std::string_view host, std::uint64_t epoch, std::string_view proxy) {
  auto it = routes_.find(host);
  if (it == routes_.end() || it->second.epoch != epoch || it->second.proxy != proxy) return;
  ++version_;
  if (auto p = proxies_.find(proxy); p != proxies_.end()) {
    if (p->second.hosts > 0) --p->second.hosts;
    p->second.endpoints -= std::min(p->second.endpoints, it->second.on_host.endpoints.size());
    p->second.digest -= route_digest(host, epoch);
  }
  routes_.erase(it);
}

bool route_directory::heartbeat(std::string_view proxy, std::uint64_t hosts, micros now, bool open,
                                const std::uint64_t* digest) {
  auto [at, fresh] = proxies_.try_emplace(std::string(proxy));
  auto& p = at->second;
  if (fresh || p.open != open) ++version_;
  p.last_seen = now;
  p.open = open;
  return p.hosts != hosts || (digest != nullptr && p.digest != *digest);
}

std::uint64_t route_directory::route_digest(std::string_view host, std::uint64_t epoch) {
  std::uint64_t h = 14695981039346656037ull;  // FNV-1a of the host, then a splitmix64 finish
  for (char c : host) {
    h ^= static_cast<unsigned char>(c);
    h *= 1099511628211ull;
  }
  std::uint64_t z = h ^ (epoch * 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

std::uint64_t route_directory::digest_of(std::string_view proxy) const {
  auto it = proxies_.find(proxy);
  return it == proxies_.end() ? 0 : it->second.digest;
}

void route_directory::sync(std::string_view proxy, const std::vector<synced_route>& routes,
                           micros now) {
  std::string name(proxy);
  drop_owned(name);
  proxies_[name].last_seen = now;
  for (const auto& r : routes)
    attach(r.host, r.epoch, proxy, now, &r.on_host);
}

void route_directory::drop_owned(const std::string& proxy) {
  ++version_;
  for (auto it = routes_.begin(); it != routes_.end();) {
    if (it->second.proxy == proxy)
      it = routes_.erase(it);
    else
      ++it;
  }
  if (auto p = proxies_.find(proxy); p != proxies_.end()) {
    p->second.hosts = p->second.endpoints = 0;
    p->second.digest = 0;
  }
}

std::vector<std::string> route_directory::expire(micros now) {
  std::vector<std::string> gone;
  for (auto it = proxies_.begin(); it != proxies_.end();) {
    if (now - it->second.last_seen > idle_timeout) {
      CCP_MARK(directory_proxy_expired);
      gone.push_back(it->first);
      it = proxies_.erase(it);
    } else {
      ++it;
    }
  }
  for (const auto& p : gone)
    drop_owned(p);
  return gone;
}

void route_directory::forget(std::string_view proxy) {
  std::string name(proxy);
  drop_owned(name);
  proxies_.erase(name);
  ++version_;
}

const route_directory::route* route_directory::find(std::string_view host) const {
  auto it = routes_.find(host);
  return it == routes_.end() ? nullptr : &it->second;
}

std::size_t route_directory::hosts_of(std::string_view proxy) const {
  auto it = proxies_.find(proxy);
  return it == proxies_.end() ? 0 : it->second.hosts;
}

micros route_directory::next_expiry() const {
  micros t = never;
  for (const auto& [name, p] : proxies_)
    t = std::min(t, p.last_seen + idle_timeout + 1);
  return t;
}

}  // namespace ccp::core
