#pragma once
// The NATS bus's URL, `nats://host:port[,host:port...]`, parsed into the server URLs libnats
// takes (internal to net/nats_bus.cpp). Total and pure: every input gives the list or an
// error that names the URL and what is wrong; nothing throws on a malformed URL.

#include <expected>
#include <string>
#include <string_view>
#include <vector>

namespace ccp::net::detail {

// One libnats URL, `nats://[user[:password]@]host:port`, per server of `url`, in the given
// order. A later server may repeat the scheme; an IPv6 host is bracketed: `[::1]:4222`.
// `tls://` instead of `nats://` asks for TLS (libnats reads both, and the user info).
// Errors ("bus URL '...': expected nats://[user[:password]@]host:port[,...] (cause)", the
// password shown as ***): the scheme is not nats or tls, a server is empty, has an empty
// user name before '@', an empty host, a bad character in its host, a bad IPv6 address, no
// port or a port outside 1..65535. The caller reports it; nothing is connected.
[[nodiscard]] std::expected<std::vector<std::string>, std::string> parse_nats_url(
    std::string_view url);

// `url` with every password (or lone token) before an '@' replaced by ***, for logs and
// error messages.
[[nodiscard]] std::string redact_nats_url(std::string_view url);

}  // namespace ccp::net::detail
