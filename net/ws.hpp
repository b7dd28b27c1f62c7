#pragma once
// Websocket links with Boost.Beast: the proxy serves (ws_listener), the agent dials
// (ws_dial). Binary websocket messages carry the core's wire format; one message holds one
// or more whole frames back to back (the writer coalesces queued frames, the reader splits
// them by the length in each header), never more than max_frame_bytes in all, which is
// also the reader's read_message_max.
//
// Every wait has a deadline: TCP connect and TLS + HTTP + websocket handshakes are
// bounded by handshake_timeout; an established link that hears nothing (not even a pong)
// for ws_idle_timeout is closed, and both sides send websocket pings to keep it alive.
//
// Credentials travel in the upgrade request (Authorization: Bearer TOKEN, and the
// agent's address in X-Ccp-Agent); a server that refuses them answers HTTP 401 and opens
// no session.

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <cstdint>
#include <expected>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "core/limits.hpp"
#include "net/link.hpp"
#include "net/metrics.hpp"

namespace ccp::net {

// Beast closes a link that received nothing for this long; pings go out at half of it.
// Longer than the core's idle_timeout so the core, which knows more, decides first.
inline constexpr std::chrono::seconds ws_idle_timeout{10};

// Decides at the upgrade whether an agent may connect: its address text and token.
using authorizer = std::function<bool(std::string_view agent, std::string_view token)>;

struct ws_server_options {
  boost::asio::ip::tcp::endpoint at;               // port 0 picks a free port
  std::shared_ptr<boost::asio::ssl::context> tls;  // null: plain ws
  authorizer authorize;                            // empty: every agent may upgrade
  std::string name;                                // `self` in the log's lines
  std::shared_ptr<service_metrics> metrics;        // counts refusals; may be null
};

// Accepts agents' websockets. Thread affinity: open/port/close from any thread.
class ws_listener {
 public:
  virtual ~ws_listener() = default;
  [[nodiscard]] virtual std::uint16_t port() const = 0;
  // Stops accepting (links already open stay).
  virtual void close() = 0;
};

// Binds and starts accepting on `ioc`; each accepted link is reported to `events`.
// Errors: the address cannot be bound (message names it and the cause).
[[nodiscard]] std::expected<std::shared_ptr<ws_listener>, std::string> listen_ws(
    boost::asio::io_context& ioc, ws_server_options opts, std::shared_ptr<link_events> events);

struct ws_dial_options {
  std::string agent;                               // X-Ccp-Agent
  std::string token;                               // Authorization: Bearer
  std::shared_ptr<boost::asio::ssl::context> tls;  // for wss:// targets; verifies the peer
};

// A dial target, `ws://host:port[/path]` or `wss://host:port[/path]`.
struct ws_target {
  bool tls = false;
  std::string host;
  std::string port;
  std::string path;
};
// Errors: a message naming the target and what is wrong.
[[nodiscard]] std::expected<ws_target, std::string> parse_ws_target(std::string_view url);

// Dials `url` as link `id`: reports link_up or link_down (a refused, timed-out or rejected
// dial, with what failed: "connect: Connection refused", "HTTP 401 Unauthorized: ...",
// "TLS handshake: certificate verify failed") for `id` to `events` exactly once.
void dial_ws(boost::asio::io_context& ioc, core::link_id id, std::string_view url,
             const ws_dial_options& opts, std::shared_ptr<link_events> events);

// Splits a websocket message into frames as the writer packed them. A piece whose header
// length is impossible is handed on whole, for the core to reject as malformed.
template <class F>
void split_frames(std::string_view msg, F&& each) {
  while (!msg.empty()) {
    std::size_t len = msg.size();
    if (msg.size() >= 8) {
      const auto* p = reinterpret_cast<const unsigned char*>(msg.data()) + 4;
      const std::size_t declared = std::size_t{p[0]} | std::size_t{p[1]} << 8 |
                                   std::size_t{p[2]} << 16 | std::size_t{p[3]} << 24;
      if (declared >= 44 && declared <= msg.size()) len = declared;
    }
    each(msg.substr(0, len));
    msg.remove_prefix(len);
  }
}

}  // namespace ccp::net
