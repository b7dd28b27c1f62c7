#include "net/nats_url.hpp"

#include <algorithm>
#include <cstddef>
#include <utility>

namespace ccp::net::detail {
namespace {

constexpr std::string_view nats_scheme = "nats://";
constexpr std::string_view tls_scheme = "tls://";
constexpr std::string_view url_grammar =
    "expected nats://[user[:password]@]host:port[,host:port...] (or tls://)";

std::string url_error(std::string_view url, std::string_view detail) {
  std::string e = "bus URL '";
  e.append(redact_nats_url(url)).append("': ").append(url_grammar);
  if (!detail.empty()) e.append(" (").append(detail).append(")");
  return e;
}

bool is_host_char(char c) {
  auto u = static_cast<unsigned char>(c);
  return u > 0x20 && u != 0x7f && c != '/' && c != '@' && c != '?' && c != '#' && c != ',' &&
         c != '[' && c != ']' && c != ':';
}

// One `[user[:password]@]host:port` (or `[v6]:port`) of the list; returns the libnats URL
// for it, with `scheme` unless the item names its own. libnats reads the user info itself.
std::expected<std::string, std::string> parse_server(std::string_view item, std::size_t index,
                                                     std::string_view scheme) {
  const std::string which = "server " + std::to_string(index + 1);
  if (item.starts_with(nats_scheme)) {
    item.remove_prefix(nats_scheme.size());
    scheme = nats_scheme;
  } else if (item.starts_with(tls_scheme)) {
    item.remove_prefix(tls_scheme.size());
    scheme = tls_scheme;
  }
  std::string_view userinfo;
  if (const auto at = item.rfind('@'); at != std::string_view::npos) {
    userinfo = item.substr(0, at);
    item.remove_prefix(at + 1);
    if (userinfo.empty() || userinfo.front() == ':')
      return std::unexpected(which + " has an empty user name before '@'");
    for (char c : userinfo) {
      const auto u = static_cast<unsigned char>(c);
      if (u <= 0x20 || u == 0x7f || c == '/' || c == '@')
        return std::unexpected(which + " has a bad character in its user info");
    }
  }
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
  std::string out(scheme);
  if (!userinfo.empty()) out.append(userinfo).append("@");
  out.append(host).append(":").append(port);
  return out;
}

}  // namespace

std::string redact_nats_url(std::string_view url) {
  std::string out;
  out.reserve(url.size());
  while (!url.empty()) {
    const auto comma = url.find(',');
    std::string_view item = url.substr(0, comma);
    const auto scheme_end = item.find("://");
    const std::size_t start = scheme_end == std::string_view::npos ? 0 : scheme_end + 3;
    const auto at = item.rfind('@');
    if (at != std::string_view::npos && at >= start) {
      const auto userinfo = item.substr(start, at - start);
      const auto colon = userinfo.find(':');
      out.append(item.substr(0, start));
      // The user name stays (it says who we are); a password or a lone token does not.
      if (colon == std::string_view::npos)
        out.append("***");
      else
        out.append(userinfo.substr(0, colon)).append(":***");
      out.append(item.substr(at));
    } else {
      out.append(item);
    }
    if (comma == std::string_view::npos) break;
    out.append(",");
    url.remove_prefix(comma + 1);
  }
  return out;
}

std::expected<std::vector<std::string>, std::string> parse_nats_url(std::string_view url) {
  std::string_view scheme;
  if (url.starts_with(nats_scheme))
    scheme = nats_scheme;
  else if (url.starts_with(tls_scheme))
    scheme = tls_scheme;
  else
    return std::unexpected(url_error(url, "scheme is not nats or tls"));
  std::string_view list = url.substr(scheme.size());
  std::vector<std::string> servers;
  std::size_t index = 0;
  while (true) {
    const auto comma = list.find(',');
    auto server = parse_server(list.substr(0, comma), index, scheme);
    if (!server) return std::unexpected(url_error(url, server.error()));
    servers.push_back(std::move(*server));
    if (comma == std::string_view::npos) break;
    list.remove_prefix(comma + 1);
    ++index;
  }
  return servers;
}

}  // namespace ccp::net::detail
