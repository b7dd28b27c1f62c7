#pragma once
// Opening a listening TCP socket and accepting on it, for the proxy's websocket listener and
// the monitor.

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <chrono>
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

// Accepts connections on `acceptor` until it is closed: each socket, on a strand of its own
// on `ioc`, goes to `serve(socket)`. A failed accept (out of file descriptors, most likely:
// transient, but retrying at once would spin) goes to `failed(ec)`, and accepting resumes
// after `retry_after` on `retry`. `keep` (the owner's shared_ptr) keeps `acceptor`, `retry`
// and the callbacks' targets alive while an accept or a retry is pending. Runs on the
// acceptor's executor (a strand); call it once, there or before the first run.
template <class Keep, class Serve, class Failed>
void accept_with_retry(Keep keep, boost::asio::io_context& ioc,
                       boost::asio::ip::tcp::acceptor& acceptor, boost::asio::steady_timer& retry,
                       std::chrono::milliseconds retry_after, Serve serve, Failed failed) {
  acceptor.async_accept(boost::asio::make_strand(ioc),
                        [keep = std::move(keep), &ioc, &acceptor, &retry, retry_after,
                         serve = std::move(serve), failed = std::move(failed)](
                            boost::system::error_code ec, boost::asio::ip::tcp::socket s) mutable {
                          if (ec == boost::asio::error::operation_aborted || !acceptor.is_open())
                            return;
                          if (ec) {
                            failed(ec);
                            retry.expires_after(retry_after);
                            retry.async_wait([keep, &ioc, &acceptor, &retry, retry_after, serve,
                                              failed](boost::system::error_code) mutable {
                              accept_with_retry(std::move(keep), ioc, acceptor, retry, retry_after,
                                                std::move(serve), std::move(failed));
                            });
                            return;
                          }
                          serve(std::move(s));
                          accept_with_retry(std::move(keep), ioc, acceptor, retry, retry_after,
                                            std::move(serve), std::move(failed));
                        });
}

}  // namespace ccp::net
