#include "sim/trace.hpp"

#include <charconv>
#include <string>
#include <vector>

#include "sim/world.hpp"

namespace ccp::sim {

void trace_sink::line(std::string_view s) {
  // Eight bytes per multiply (FNV-1a takes one): little-endian words, the tail zero-padded,
  // then the line's length, so that lines cannot run into each other. Fixed arithmetic on
  // bytes: the same on every platform.
  auto word = [](const char* p, std::size_t n) {
    std::uint64_t w = 0;
    for (std::size_t k = 0; k < n; ++k)
      w |= std::uint64_t{static_cast<unsigned char>(p[k])} << (8 * k);
    return w;
  };
  auto mix = [this](std::uint64_t w) {
    hash_ = (hash_ ^ w) * 0x9e3779b97f4a7c15ull;
    hash_ ^= hash_ >> 29;
  };
  std::size_t i = 0;
  for (; i + 8 <= s.size(); i += 8)
    mix(word(s.data() + i, 8));
  if (i < s.size()) mix(word(s.data() + i, s.size() - i));
  mix(s.size());
  explain(s);
}

void trace_sink::explain(std::string_view s) {
  if (!out_) return;
  std::fwrite(s.data(), 1, s.size(), out_);
  std::fputc('\n', out_);
}

}  // namespace ccp::sim

// The world's explanation lines: built only with --trace (the callers check
// trace_.writing()), written with trace_sink::explain.
namespace ccp::sim {

using namespace ccp::core;

namespace {

// A send line names at most this many of the members it expects (`expect` counts them
// all): a request to every agent of a 10,000-host fleet stays one short line.
constexpr std::size_t max_traced_members = 16;

// ,"KEY":"VALUE": addresses, names and fixed words, none with a character JSON escapes.
void text_field(std::string& l, std::string_view key, std::string_view value) {
  l += ",\"";
  l += key;
  l += "\":\"";
  l += value;
  l += '"';
}

// The index of simulated host `host` (world.cpp's host_name: 10.A.B.C is host A<<16|B<<8|C
// minus one), or -1 when it is not one of `names`.
int host_index(std::string_view host, const std::vector<std::string>& names) {
  unsigned parts[4] = {};
  const char* p = host.data();
  const char* end = p + host.size();
  for (int k = 0; k < 4; ++k) {
    auto r = std::from_chars(p, end, parts[k]);
    if (r.ec != std::errc{} || parts[k] > 255) return -1;
    p = r.ptr;
    if (k < 3) {
      if (p == end || *p != '.') return -1;
      ++p;
    }
  }
  if (p != end || parts[0] != 10) return -1;
  const long i = static_cast<long>(parts[1] << 16 | parts[2] << 8 | parts[3]) - 1;
  if (i < 0 || static_cast<std::size_t>(i) >= names.size() ||
      names[static_cast<std::size_t>(i)] != host)
    return -1;
  return static_cast<int>(i);
}

}  // namespace

std::string world::proxy_address(const std::string& target) const {
  auto p = proxy_by_name_.find(target);
  if (p == proxy_by_name_.end()) return target;
  return nodes_[proxies_[static_cast<std::size_t>(p->second)]].role().self().str();
}

void world::trace_link(std::uint32_t i, std::string_view kind, link_id id, std::string_view why) {
  const sim_node& s = nodes_[i];
  std::string peer;
  if (s.r == role::agent) {
    if (auto it = link_by_agent_.find(static_cast<std::uint64_t>(i) << 32 | id);
        it != link_by_agent_.end())
      peer = nodes_[links_[it->second].proxy].role().self().str();
  } else if (auto it = link_by_proxy_.find(id); it != link_by_proxy_.end()) {
    peer = nodes_[links_[it->second].agent].role().self().str();
  }
  if (why.empty() && kind == "link_down") why = peer.empty() ? "refused" : "lost";
  std::string& l = trace_start(kind);
  text_field(l, "at", s.role().self().str());
  l += ",\"link\":";
  append_number(l, id);
  if (!peer.empty()) text_field(l, "peer", peer);
  if (!why.empty()) text_field(l, "why", why);
  l += '}';
  trace_.explain(l);
}

void world::trace_dial(std::uint32_t agent, link_id id, const std::string& target) {
  std::string& l = trace_start("dial");
  text_field(l, "at", nodes_[agent].role().self().str());
  l += ",\"link\":";
  append_number(l, id);
  text_field(l, "target", proxy_address(target));
  l += '}';
  trace_.explain(l);
}

void world::trace_attachment(std::uint32_t i) {
  const sim_node& s = nodes_[i];
  if (!s.agent) return;
  const core::agent& a = *s.agent;
  const bool up = s.alive && a.status() == core::agent::link_status::up;
  auto it = attachment_traced_.find(i);
  if (it != attachment_traced_.end()) {
    if (up && it->second.target == a.proxy_target() && it->second.epoch == a.epoch()) return;
    std::string& l = trace_start("detach");
    text_field(l, "at", a.self().str());
    text_field(l, "proxy", proxy_address(it->second.target));
    l += ",\"epoch\":";
    append_number(l, it->second.epoch);
    text_field(l, "why", !s.alive ? "killed" : up ? "moved" : "lost");
    l += '}';
    trace_.explain(l);
    attachment_traced_.erase(it);
  }
  if (!up) return;
  std::string& l = trace_start("attach");
  text_field(l, "at", a.self().str());
  text_field(l, "proxy", proxy_address(a.proxy_target()));
  l += ",\"epoch\":";
  append_number(l, a.epoch());
  l += '}';
  trace_.explain(l);
  attachment_traced_[i] = {a.proxy_target(), a.epoch()};
}

void world::trace_send(std::uint32_t from, std::uint64_t id, const address& to) {
  // The live processes `to` names now, in node order: the members the world expects to
  // answer a group request, the candidates of an `any`, the process of a concrete address.
  const topology& t = sc_.topo;
  const address_view group = to.view();
  const bool on_host =
      group.form == scope::one || group.form == scope::host_any || group.form == scope::host_all;
  const int h = on_host ? host_index(group.host, host_names_) : -1;
  std::vector<std::uint32_t> candidates;
  switch (group.type) {
    case role::mgmt:
      candidates = mgmts_;
      break;
    case role::proxy:
      candidates = proxies_;
      break;
    case role::agent:
      if (!on_host)
        candidates = agents_;
      else if (h >= 0)
        candidates.push_back(agents_[static_cast<std::size_t>(h)]);
      break;
    case role::endpoint:
      if (!on_host) {
        for (int k = 0; k < t.hosts; ++k)
          for (std::uint32_t e : endpoints_[static_cast<std::size_t>(k)])
            candidates.push_back(e);
      } else if (h >= 0) {
        candidates = endpoints_[static_cast<std::size_t>(h)];
      }
      break;
  }
  std::uint64_t expect = 0;
  std::string members;
  for (std::uint32_t c : candidates) {
    const sim_node& n = nodes_[c];
    if (!n.alive || !is_member(n.role().self().view(), group)) continue;
    if (expect++ < max_traced_members) {
      members += members.empty() ? "\"" : ",\"";
      n.role().self().append_to(members);
      members += '"';
    }
  }
  std::string& l = trace_start("send");
  text_field(l, "at", nodes_[from].role().self().str());
  l += ",\"id\":";
  append_number(l, id);
  text_field(l, "to", to.str());
  l += ",\"expect\":";
  append_number(l, expect);
  l += ",\"expected\":[";
  l += members;
  l += "]}";
  trace_.explain(l);
}

void world::trace_notify(std::uint32_t from, const address& to) {
  std::string& l = trace_start("notify");
  text_field(l, "at", nodes_[from].role().self().str());
  text_field(l, "to", to.str());
  l += '}';
  trace_.explain(l);
}

}  // namespace ccp::sim
