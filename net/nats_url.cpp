#include "net/nats_url.hpp"

#include <algorithm>
#include <cstddef>
#include <utility>

namespace ccp::net::detail {
namespace {

constexpr std::string_view nats_scheme = "nats://";
constexpr std::string_view url_grammar = "expected nats://host:port[,host:port...]";

std::string url_error(std::string_view url, std::string_view detail) {
  std::string e = "bus URL '";
  e.append(url).append("': ").append(url_grammar);
  if (!detail.empty()) e.append(" (").append(detail).append(")");
  return e;
}

bool is_host_char(char c) {
  auto u = static_cast<unsigned char>(c);
  return u > 0x20 && u != 0x7f && c != '/' && c != '@' && c != '?' && c != '#' && c != ',' &&
         c != '[' && c != ']' && c != ':';
}

// One `host:port` (or `[v6]:port`) of the list; returns the libnats URL for it.
std::expected<std::string, std::string> parse_server(std::string_view item, std::size_t index) {
  const std::string which = "server " + std::to_string(index + 1);
  if (item.starts_with(nats_scheme)) item.remove_prefix(nats_scheme.size());
  if (item.empty()) return std::unexpected(which + " is empty");
  std::string_view host;
  std::string_view rest;
  if (item.front() == '[') {
    const auto close = item.find(']');
    if (close == std::string_view::npos) return std::unexpected(which + " has no closing ']'");
    host = item.substr(0, close + 1);
    const auto inner = host.substr(1, host.size() - 2);
    if (inner.empty()) return std::unexpected(which + " has an empty host");
    for (char c : inner) {
      const bool ok = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') ||
                      c == ':' || c == '.';
      if (!ok) return std::unexpected(which + " has a bad IPv6 address");
    }
    rest = item.substr(close + 1);
  } else {
    const auto colon = item.find(':');
    host = item.substr(0, std::min(colon, item.size()));
    rest = colon == std::string_view::npos ? std::string_view{} : item.substr(colon);
    if (host.empty()) return std::unexpected(which + " has an empty host");
    for (char c : host) {
      if (!is_host_char(c)) return std::unexpected(which + " has a bad character in its host");
    }
  }
  if (rest.empty() || rest.front() != ':') return std::unexpected(which + " has no port");
  const auto port = rest.substr(1);
  if (port.empty() || port.size() > 5) return std::unexpected(which + " has a bad port");
  unsigned value = 0;
  for (char c : port) {
    if (c < '0' || c > '9') return std::unexpected(which + " has a bad port");
    value = value * 10 + static_cast<unsigned>(c - '0');
  }
  if (value < 1 || value > 65535) return std::unexpected(which + " has a port outside 1..65535");
  std::string out(nats_scheme);
  out.append(host).append(":").append(port);
  return out;
}

}  // namespace

std::expected<std::vector<std::string>, std::string> parse_nats_url(std::string_view url) {
  if (!url.starts_with(nats_scheme)) return std::unexpected(url_error(url, "scheme is not nats"));
  std::string_view list = url.substr(nats_scheme.size());
  std::vector<std::string> servers;
  std::size_t index = 0;
  while (true) {
    const auto comma = list.find(',');
    auto server = parse_server(list.substr(0, comma), index);
    if (!server) return std::unexpected(url_error(url, server.error()));
    servers.push_back(std::move(*server));
    if (comma == std::string_view::npos) break;
    list.remove_prefix(comma + 1);
    ++index;
  }
  return servers;
}

}  // namespace ccp::net::detail
