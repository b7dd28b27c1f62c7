#pragma once
// Buses as the networked build sees them: subjects, queue groups, fan-out. Two
// implementations: NATS through libnats (nats_bus.hpp) for real deployments and an
// in-process bus (inproc_bus.hpp) for single-process use. open_bus chooses one by URL.
//
// Subjects are exactly the core's (core/subject.hpp). A bus may add a prefix on the wire
// (bus_options::prefix) so that several host buses can share one NATS server; handlers
// always see the core's subject, without the prefix.

#include <boost/asio/any_io_executor.hpp>
#include <cstdint>
#include <expected>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "core/action.hpp"

namespace ccp::net {

// Called with the core's subject and a frame the receiver owns alone (it may change it).
using bus_handler = std::function<void(std::string_view subject, core::frame_buf frame)>;
using subscription_id = std::uint64_t;

// How the bus connection is doing; reported to the on_state callback.
enum class bus_state : std::uint8_t { connected, disconnected, reconnected, closed };

// Credentials and TLS for a NATS server, passed to libnats' own options (ignored by
// inproc://). User and password may also come in the URL, nats://user:pass@host:port, as
// libnats parses it. Each file is read by libnats when the bus opens: a missing or bad file
// fails open_bus with libnats' reason.
struct nats_auth {
  std::string user, password;  // natsOptions_SetUserInfo
  std::string token;           // natsOptions_SetToken
  std::string creds_file;      // a .creds file (JWT and NKEY seed): SetUserCredentialsFromFiles
  bool tls = false;            // require TLS (also implied by tls:// URLs and the files below)
  std::string ca_file;         // CA to verify the server: LoadCATrustedCertificates
  std::string cert_file, key_file;  // client certificate and key: LoadCertificatesChain
};

struct bus_options {
  std::string name = "ccp";  // connection name shown by the server (NATS)
  std::string prefix;        // prepended to every subject on the wire; "" for none
  // Called on connection state changes, on `state_executor`. May be empty.
  std::function<void(bus_state, std::string_view detail)> on_state;
  boost::asio::any_io_executor state_executor;
  // NATS (required there): the connection's socket reads and writes run on a strand of it.
  boost::asio::any_io_executor io_executor;
  nats_auth auth;  // NATS only
};

// Thread safety: every member function may be called from any thread. Handlers run on
// the executor given to subscribe, never on a libnats thread, and never after
// unsubscribe (or the bus's destruction) returned on that executor, unless that
// unsubscribe kept what was received (see unsubscribe).
class bus {
 public:
  virtual ~bus() = default;

  // Subscribes `subject` (queue group `queue`, or a plain subscription when empty).
  // Messages are posted to `ex` and handed to `h` there. Errors: a message naming the
  // subject and the cause (the subscription does not exist then).
  [[nodiscard]] virtual std::expected<subscription_id, std::string> subscribe(
      std::string_view subject, std::string_view queue, boost::asio::any_io_executor ex,
      bus_handler h) = 0;
  // Ends a subscription; unknown ids are ignored. Without `keep_received`, nothing reaches
  // the handler once this returned on its executor. With it, what the bus already took for
  // this subscriber is still handed to the handler afterwards, and so is, for a NATS queue
  // member (drained), what the server gave it before it processed the unsubscribe; nothing
  // published after that. A subscriber that leaves a queue group owns what the server gave
  // it: dropping it would lose each of those messages (an `any` request), where the
  // handler can still pass it on (a proxy hands an `any` back to its group). The handler
  // must then stay callable until those calls are over (about one round trip to the server).
  virtual void unsubscribe(subscription_id id, bool keep_received = false) = 0;
  // Publishes a frame. Never blocks on the network; a frame the bus cannot take
  // (connection down and buffer full) is dropped and counted in dropped().
  virtual void publish(std::string_view subject, core::frame_ptr frame) = 0;
  // Frames dropped by publish so far.
  [[nodiscard]] virtual std::uint64_t dropped() const noexcept = 0;
};

// Opens a bus from a URL: `nats://host:port[,host:port...]` or `inproc://name` (every
// open_bus of the same name in this process shares one bus). Errors name the URL and the
// cause (bad scheme, no server reachable at start).
[[nodiscard]] std::expected<std::shared_ptr<bus>, std::string> open_bus(std::string_view url,
                                                                        bus_options opts);

}  // namespace ccp::net
