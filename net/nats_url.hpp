#pragma once
// The NATS bus's URL, `nats://host:port[,host:port...]`, parsed into the server URLs libnats
// takes (internal to net/nats_bus.cpp). Total and pure: every input gives the list or an
// error that names the URL and what is wrong; nothing throws on a malformed URL.

#include <expected>
#include <string>
#include <string_view>
#include <vector>

namespace ccp::net::detail {

// One libnats URL, `nats://host:port`, per server of `url`, in the given order. A later
// server may repeat `nats://`; an IPv6 host is bracketed: `[::1]:4222`.
// Errors ("bus URL '...': expected nats://host:port[,host:port...] (cause)"): the scheme is
// not nats, a server is empty, has an empty host, a bad character in its host, a bad IPv6
// address, no port or a port outside 1..65535. The caller reports it; nothing is connected.
[[nodiscard]] std::expected<std::vector<std::string>, std::string> parse_nats_url(
    std::string_view url);

}  // namespace ccp::net::detail
