#pragma once
// Opening a listening TCP socket, for the proxy's websocket listener and the monitor.

#include <boost/asio/ip/tcp.hpp>
#include <cstdint>
#include <expected>
#include <string>
#include <string_view>

namespace ccp::net {

// Opens, binds and listens `acceptor` at `at` (address reuse on); returns the port it
// got (at's port, or the one the system chose for 0). Errors: "WHAT on IP:PORT: STEP:
// REASON", e.g. "listen on 0.0.0.0:7700: bind: Address already in use".
inline std::expected<std::uint16_t, std::string> listen_at(boost::asio::ip::tcp::acceptor& acceptor,
                                                           const boost::asio::ip::tcp::endpoint& at,
                                                           std::string_view what) {
  namespace asio = boost::asio;
  boost::system::error_code ec;
  const auto fail = [&](std::string_view step) {
    return std::unexpected(std::string(what) + " on " + at.address().to_string() + ":" +
                           std::to_string(at.port()) + ": " + std::string(step) + ": " +
                           ec.message());
  };
  acceptor.open(at.protocol(), ec);
  if (ec) return fail("open");
  acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (ec) return fail("option");
  acceptor.bind(at, ec);
  if (ec) return fail("bind");
  acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) return fail("listen");
  return acceptor.local_endpoint(ec).port();
}

}  // namespace ccp::net
