#pragma once
// What the networked commands (app/*_cmd.cpp: proxy, agent, endpoint, mgmt, send, request,
// agents, up) share: their option helpers, the loop that runs an io_context until
// SIGINT/SIGTERM, the transient mgmt node of the client commands, and the printing of a
// request's outcome. Internal to the ccp executable.

#include <array>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <cstddef>
#include <cstdint>
#include <expected>
#include <functional>
#include <iosfwd>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "app/options.hpp"
#include "core/action.hpp"
#include "core/address.hpp"
#include "net/daemons.hpp"
#include "net/monitor.hpp"

namespace ccp::app::detail {

// The bus every daemon and client uses when no URL is given.
inline constexpr std::string_view default_nats = "nats://127.0.0.1:4222";

// The command's streams, for lines written from several strands.
struct io {
  std::ostream& out;
  std::ostream& err;
  std::mutex mu;  // lines from several strands
  void line(std::ostream& s, const std::string& text);
};

// `a` then `b`: a command's own options and a shared set (constexpr, for the spec tables).
template <std::size_t N, std::size_t M>
constexpr std::array<option_spec, N + M> join_specs(const option_spec (&a)[N],
                                                    const option_spec (&b)[M]) {
  std::array<option_spec, N + M> r{};
  for (std::size_t i = 0; i < N; ++i)
    r[i] = a[i];
  for (std::size_t i = 0; i < M; ++i)
    r[N + i] = b[i];
  return r;
}

// NATS credentials and TLS: every command that opens a NATS bus takes them. Secrets come
// from files (never argv); user and password may also be in the URL.
inline constexpr option_spec nats_specs[] = {
    {"nats-user", "USER", "NATS user name (its password from --nats-password-file)"},
    {"nats-password-file", "FILE", "file holding the NATS password"},
    {"nats-token-file", "FILE", "file holding a NATS authentication token"},
    {"nats-creds", "FILE", "NATS credentials file (.creds: user JWT and NKEY seed)"},
    {"nats-ca", "FILE", "CA certificates that verify the NATS server (TLS)"},
    {"nats-cert", "FILE", "client certificate chain for NATS (PEM, with --nats-key; TLS)"},
    {"nats-key", "FILE", "client private key for NATS (PEM)"},
};
// What the daemons take besides: the log and the monitor.
inline constexpr option_spec ops_specs[] = {
    {"log-level", "LEVEL", "debug, info (default), warn, error or off"},
    {"log-format", "FORMAT", "text (default) or json (one object a line)"},
    {"log-file", "FILE", "append the log to FILE, reopened on SIGHUP (default stderr)"},
    {"monitor", "IP:PORT", "serve /metrics, /healthz and /readyz over HTTP there"},
};

template <std::size_t N, std::size_t M>
constexpr std::array<option_spec, N + M> join_specs(const option_spec (&a)[N],
                                                    const std::array<option_spec, M>& b) {
  std::array<option_spec, N + M> r{};
  for (std::size_t i = 0; i < N; ++i)
    r[i] = a[i];
  for (std::size_t i = 0; i < M; ++i)
    r[N + i] = b[i];
  return r;
}
// Every daemon's shared options: the log, the monitor, NATS.
inline constexpr auto daemon_specs = join_specs(ops_specs, nats_specs);

// --nats-*: the credentials and TLS files. Errors: a secret file cannot be read (named).
std::expected<net::nats_auth, std::string> nats_auth_option(const options& o);

// --log-*: configures the process's log. Errors: a bad level or format, an unwritable file.
std::expected<void, std::string> log_option(const options& o);

// --monitor: starts the monitor there with `services` (nullptr when not asked). Errors: a
// bad IP:PORT or one that cannot be bound.
std::expected<std::shared_ptr<net::monitor>, std::string> monitor_option(
    const options& o, boost::asio::io_context& ioc, std::vector<net::monitored> services);

// Parses the options or prints the help / the error. nullopt: return `status`.
std::optional<options> parse_or_explain(std::span<const std::string_view> args,
                                        std::span<const option_spec> specs,
                                        std::size_t max_positional, std::string_view usage,
                                        std::ostream& out, std::ostream& err, int& status);

// An address option, --NAME (or `fallback`). Errors: missing, or not an address.
std::expected<core::address, std::string> address_option(const options& o, std::string_view name,
                                                         std::string_view fallback);

// A daemon's own address, --address (or `fallback`): a concrete address of its role.
std::expected<core::address, std::string> self_option(const options& o, core::role r,
                                                      std::string_view fallback);

// --listen's IP:PORT (an IPv6 address may be bracketed; port 0..65535).
std::expected<boost::asio::ip::tcp::endpoint, std::string> endpoint_option(const std::string& text);

// A count option: a whole number in [min, max]. Errors name the option and the text.
std::expected<std::size_t, std::string> count_option(const options& o, std::string_view name,
                                                     std::string_view fallback, std::size_t min,
                                                     std::size_t max);

// The role's seed: --seed when given (a whole number), else one that differs per run.
std::expected<std::uint64_t, std::string> seed_option(const options& o);

// Runs `ioc` on `threads` threads until it stops; SIGINT/SIGTERM call `stop` once; SIGHUP
// reopens the log file (and stops nothing).
void run(boost::asio::io_context& ioc, std::size_t threads, std::function<void()> stop);

// What the core would refuse to send (as a bare bad_request), said before connecting and
// with what is wrong: a type it cannot encode or one of the protocol's own, or a body that
// is not the JSON the usage asks for. Empty when the message can go.
std::string message_args_error(std::string_view type, std::string_view body);

// Prints a request's outcome: a table for people, or JSON lines with --json. Returns the
// exit status: 0 when the outcome is ok, 1 otherwise.
int print_outcome(const core::act::complete& c, bool json, double ms, std::ostream& out);

// The options of the client commands (send, request, agents).
inline constexpr option_spec client_own_specs[] = {
    {"backbone", "URL", "backbone bus, nats://h:p[,h:p] or inproc://name"},
    {"address", "ADDRESS", "this client's mgmt address (default ccp://mgmt/localhost/cli-PID)"},
    {"timeout", "DURATION", "request timeout, e.g. 500ms, 2s (default 5s)"},
    {"json", "", "JSON lines instead of a table"},
};
inline constexpr auto client_specs = join_specs(client_own_specs, nats_specs);

// Starts a transient mgmt node, waits for its directory, runs `act`, stops when `act`
// calls finish(status) or on a signal (requests in flight end with shutting_down).
int as_mgmt_client(const options& o, std::ostream& err, std::string_view cmd,
                   std::function<void(net::mgmt_service&, std::function<void(int)>)> act);

}  // namespace ccp::app::detail
