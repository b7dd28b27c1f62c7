#pragma once
// The four roles as running services on an io_context: what `ccp proxy`, `ccp agent`,
// `ccp endpoint`, `ccp mgmt` and the client commands run, and what `ccp up` and the
// tests put together in one process.
//
// Thread affinity: create and call these from any thread; each service's role runs on
// its own strand (net/role_host.hpp). Callbacks given here run on that strand.

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <chrono>
#include <cstdint>
#include <expected>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "core/address.hpp"
#include "core/agent.hpp"
#include "core/endpoint.hpp"
#include "core/mgmt.hpp"
#include "core/proxy.hpp"
#include "net/bus.hpp"
#include "net/log.hpp"
#include "net/metrics.hpp"
#include "net/role_host.hpp"
#include "net/ws.hpp"

namespace ccp::net {

// Agent credentials a proxy accepts: a token per agent (keyed by the agent's address or
// by its host: a host's token claims that host only) and/or one shared secret, which lets
// any agent that knows it claim any host. With neither, every agent is accepted.
// Whether it is open is fixed at construction: a reload of the tokens never opens a proxy
// that authenticated (an emptied tokens file accepts no agent, or only the secret's).
// Thread-safe: the listener and the role verify on their threads, SIGHUP reloads on another.
class token_verifier final : public core::credential_verifier {
 public:
  using table = std::map<std::string, std::string>;
  // `authenticate`: even with no token nor secret (an empty tokens file, to be filled and
  // reloaded), accept no agent.
  token_verifier(table tokens, std::string secret, bool authenticate = false)
      : tokens_(std::make_shared<const table>(std::move(tokens))),
        secret_(std::move(secret)),
        open_(!authenticate && tokens_->empty() && secret_.empty()) {}
  [[nodiscard]] bool verify(const core::address& agent, std::string_view token) const override;
  [[nodiscard]] bool open() const noexcept { return open_; }
  // Replaces the per-agent tokens (the tokens file read again). Attached agents stay: the
  // table is what their next hello is checked against.
  void replace(table tokens);
  [[nodiscard]] std::size_t size() const;

 private:
  [[nodiscard]] std::shared_ptr<const table> tokens() const;
  mutable std::mutex mu_;
  std::shared_ptr<const table> tokens_;  // under mu_; the table itself is never changed
  const std::string secret_;
  const bool open_;
};

// The host bus of `host` on `url`: subjects carry a per-host prefix on the wire, so the
// host buses of many hosts can share one NATS server (or one in-process bus).
// Connection changes are logged and kept in `metrics` (may be null). `auth`: NATS
// credentials and TLS (ignored for inproc://).
[[nodiscard]] std::expected<std::shared_ptr<bus>, std::string> open_host_bus(
    boost::asio::io_context& ioc, std::string_view url, std::string_view host,
    std::string_view name, const nats_auth& auth = {},
    std::shared_ptr<service_metrics> metrics = nullptr);

// TLS contexts from PEM files. Errors name the file and OpenSSL's reason.
[[nodiscard]] std::expected<std::shared_ptr<boost::asio::ssl::context>, std::string> server_tls(
    const std::string& cert_file, const std::string& key_file);
[[nodiscard]] std::expected<std::shared_ptr<boost::asio::ssl::context>, std::string> client_tls(
    const std::string& ca_file);

class service_app;  // a service's application (daemons.cpp)
struct monitored;   // net/monitor.hpp

// What every service of one role offers: its host, and the role it built, typed (the
// service knows its role; the host does not).
template <class Role>
class role_service {
 public:
  [[nodiscard]] std::shared_ptr<role_host> host() const { return host_; }
  [[nodiscard]] const std::shared_ptr<service_metrics>& metrics() const noexcept {
    return metrics_;
  }
  [[nodiscard]] const role_host::strand& executor() const { return host_->executor(); }
  // The role; on the host's strand only.
  [[nodiscard]] Role& role() const { return *role_; }
  // Runs f(role, now) on the strand, then carries out the role's actions. From any thread.
  template <class F>
  void post(F f) {
    host_->post(
        [r = role_, f = std::move(f)](core::node&, core::micros now) mutable { f(*r, now); });
  }

 protected:
  // Builds the host around `role`.
  void host_role(boost::asio::io_context& ioc, std::unique_ptr<Role> role,
                 std::shared_ptr<bus> backbone, std::shared_ptr<bus> host_bus,
                 std::unique_ptr<host::application> app, ws_dial_options dial = {}) {
    role_ = role.get();
    host_ =
        std::make_shared<role_host>(ioc, std::move(role), std::move(backbone), std::move(host_bus),
                                    std::move(app), std::move(dial), metrics_);
  }
  std::shared_ptr<role_host> host_;
  std::shared_ptr<service_metrics> metrics_ = std::make_shared<service_metrics>();
  Role* role_ = nullptr;
};

struct proxy_options {
  core::address self;                          // ccp://proxy/HOST/ID
  boost::asio::ip::tcp::endpoint listen;       // port 0: a free port (see port())
  std::string backbone = "inproc://backbone";  // bus URL
  nats_auth backbone_auth;                     // NATS credentials and TLS of the backbone
  std::string cert, key;                       // both set: serve wss
  std::map<std::string, std::string> tokens;   // agent address or host -> token
  bool tokens_file = false;  // tokens come from a file (reloadable): authenticate even if empty
  std::string secret;        // shared secret
  std::uint64_t seed = 1;
};

class proxy_service : public role_service<core::proxy>,
                      public std::enable_shared_from_this<proxy_service> {
 public:
  // What the monitor reads of this service (net/monitor.hpp), with its readiness.
  [[nodiscard]] monitored monitoring();
  // Opens the backbone, binds the listener and starts the role. Errors name what failed.
  static std::expected<std::shared_ptr<proxy_service>, std::string> start(
      boost::asio::io_context& ioc, proxy_options opts);
  [[nodiscard]] std::uint16_t port() const { return listener_->port(); }
  // Graceful stop: stops accepting, tells every agent to move (drain notice), and once
  // no link is left or `bound` passed, closes everything; then `done` (may be empty).
  void shutdown(std::chrono::milliseconds bound, std::function<void()> done);
  // Hard stop (a crash, for tests): closes links and leaves the bus at once.
  void stop();
  // Replaces the per-agent tokens (SIGHUP: the tokens file read again). From any thread.
  // Returns how many the table now holds.
  std::size_t reload_tokens(token_verifier::table tokens);
  // Whether shutdown began. From any thread.
  [[nodiscard]] bool draining() const noexcept { return draining_.load(); }

 private:
  std::atomic<bool> draining_{false};
  boost::asio::io_context* ioc_ = nullptr;
  std::unique_ptr<token_verifier> verifier_;
  service_app* app_ = nullptr;  // owned by the host
  std::shared_ptr<ws_listener> listener_;
};

// A sample application: answers `ping` (built in) and `echo` (replies with the request's
// body), plus fixed answers per operation type; reports every message it receives.
struct endpoint_options {
  core::address self;  // ccp://endpoint/HOST/ID
  std::string host_bus = "inproc://host";
  nats_auth host_bus_auth;                               // NATS credentials and TLS
  std::map<std::string, std::string> answers;            // request type -> response body
  std::function<void(const core::message&)> on_message;  // may be empty
  std::uint64_t seed = 1;
};

class endpoint_service : public role_service<core::endpoint>,
                         public std::enable_shared_from_this<endpoint_service> {
 public:
  // What the monitor reads of this service (net/monitor.hpp), with its readiness.
  [[nodiscard]] monitored monitoring();
  static std::expected<std::shared_ptr<endpoint_service>, std::string> start(
      boost::asio::io_context& ioc, endpoint_options opts);
  // Sends a request as this endpoint; `done` runs once with its outcome.
  void request(core::address to, std::string type, std::string body, core::micros timeout,
               std::function<void(core::act::complete&)> done);
  // Unregisters, ends requests in flight with shutting_down, and leaves the bus.
  void shutdown();

 private:
  service_app* app_ = nullptr;  // owned by the host
};

struct agent_options {
  core::address self;                // ccp://agent/HOST/ID
  std::vector<std::string> proxies;  // ws://host:port or wss://host:port
  bool shuffle = false;
  std::string token;
  std::string ca;  // CA file for wss:// proxies
  std::string host_bus = "inproc://host";
  nats_auth host_bus_auth;             // NATS credentials and TLS (the sample endpoints' too)
  std::vector<std::string> endpoints;  // sample endpoints (ids) to run in this process
  std::uint64_t seed = 1;
};

class agent_service : public role_service<core::agent>,
                      public std::enable_shared_from_this<agent_service> {
 public:
  // What the monitor reads of this service (net/monitor.hpp), with its readiness.
  [[nodiscard]] monitored monitoring();
  static std::expected<std::shared_ptr<agent_service>, std::string> start(
      boost::asio::io_context& ioc, agent_options opts);
  // Says bye to the proxy, stops the sample endpoints, and leaves the bus.
  void shutdown();
  // The same, then `done` (on the host's strand) once the bye is written and the link
  // closed, or after `bound`: what a process does before it exits, so the proxy reads a
  // goodbye (and withdraws the host's routes at once) rather than a lost link.
  void shutdown(std::chrono::milliseconds bound, std::function<void()> done);

 private:
  std::vector<std::shared_ptr<endpoint_service>> endpoints_;
};

struct mgmt_options {
  core::address self;  // ccp://mgmt/HOST/ID
  std::string backbone = "inproc://backbone";
  nats_auth backbone_auth;                               // NATS credentials and TLS
  std::function<void(const core::message&)> on_message;  // what is sent to this node
  std::uint64_t seed = 1;
  // Make sure no live node holds `self` before it is ready (core::mgmt::claim_address):
  // set for an address that was configured, not drawn at random. When one does,
  // `on_refused` (may be empty) runs on the strand with why, and the node never gets ready.
  bool claim = false;
  std::function<void(const std::string&)> on_refused;
};

class mgmt_service : public role_service<core::mgmt>,
                     public std::enable_shared_from_this<mgmt_service> {
 public:
  // What the monitor reads of this service (net/monitor.hpp), with its readiness.
  [[nodiscard]] monitored monitoring();
  static std::expected<std::shared_ptr<mgmt_service>, std::string> start(
      boost::asio::io_context& ioc, mgmt_options opts);
  // Runs `then` on the role's strand once the role says its route directory is complete
  // (core::act::ready: every proxy answered the sync the node asks at its start, one
  // round trip; else every proxy's heartbeat heard and no sync in progress, or a bound of
  // 3 heartbeat intervals), and its address is its own when it claimed it.
  void when_ready(std::function<void()> then);
  // Sends a request; `done` runs once on the strand with the outcome (an error that
  // prevents sending, such as bad_request, comes back the same way).
  void request(core::address to, std::string type, std::string body, core::micros timeout,
               std::function<void(core::act::complete&)> done);
  // Sends a notification; `sent` runs with the id or the error.
  void send(core::address to, std::string type, std::string body,
            std::function<void(std::expected<std::uint64_t, core::errc>)> sent);
  // Ends requests in flight with shutting_down (their `done` runs) and leaves the bus.
  void shutdown();

 private:
  service_app* app_ = nullptr;  // owned by the host
};

}  // namespace ccp::net
