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

// Options of every daemon (proxy, agent, endpoint, mgmt) and of `up`: the log and the
// monitor (log_options below).
inline constexpr option_spec log_level = {.name = "log-level",
                                          .value = "LEVEL",
                                          .help = "debug, info, warn, error or off",
                                          .fallback = "info"};
inline constexpr option_spec log_format = {.name = "log-format",
                                           .value = "FORMAT",
                                           .help = "text, or json (one object a line)",
                                           .fallback = "text"};
inline constexpr option_spec log_file = {
    .name = "log-file",
    .value = "FILE",
    .help = "append the log to FILE, reopened on SIGHUP (default stderr)"};
inline constexpr option_spec monitor = {
    .name = "monitor",
    .value = "IP:PORT",
    .help = "serve /metrics, /healthz and /readyz over HTTP there"};

// NATS credentials and TLS, of every command that opens a NATS bus (nats_auth_options
// below). Secrets come from files (never argv); user and password may also be in the URL.
inline constexpr option_spec nats_user = {
    .name = "nats-user",
    .value = "USER",
    .help = "NATS user name (password from --nats-password-file)"};
inline constexpr option_spec nats_password_file = {
    .name = "nats-password-file", .value = "FILE", .help = "file holding the NATS password"};
inline constexpr option_spec nats_token_file = {
    .name = "nats-token-file", .value = "FILE", .help = "file holding a NATS auth token"};
inline constexpr option_spec nats_creds = {
    .name = "nats-creds", .value = "FILE", .help = "NATS credentials file (.creds)"};
inline constexpr option_spec nats_ca = {
    .name = "nats-ca", .value = "FILE", .help = "CA certificates for the NATS server (TLS)"};
inline constexpr option_spec nats_cert = {
    .name = "nats-cert", .value = "FILE", .help = "client certificate for NATS (PEM, TLS)"};
inline constexpr option_spec nats_key = {
    .name = "nats-key", .value = "FILE", .help = "client private key for NATS (PEM)"};

// The shared options as groups, listed once: a command appends them to its own with
// `joined` (the log and the monitor for every daemon and `up`; the NATS credentials for
// every command that opens a NATS bus).
inline constexpr option_spec log_options[] = {log_level, log_format, log_file, monitor};
inline constexpr option_spec nats_auth_options[] = {
    nats_user, nats_password_file, nats_token_file, nats_creds, nats_ca, nats_cert, nats_key};

// One table of `first` followed by each of `rest`, in order, built at compile time.
template <std::size_t N, std::size_t... M>
constexpr std::array<option_spec, (N + ... + M)> joined(const option_spec (&first)[N],
                                                        const option_spec (&... rest)[M]) {
  std::array<option_spec, (N + ... + M)> out{};
  std::size_t i = 0;
  for (const option_spec& o : first)
    out[i++] = o;
  (
      [&] {
        for (const option_spec& o : rest)
          out[i++] = o;
      }(),
      ...);
  return out;
}

// --nats-*: the credentials and TLS files. Errors: a secret file cannot be read (named).
std::expected<net::nats_auth, std::string> nats_auth_option(const options& o);

// --log-*: configures the process's log. Errors: a bad level or format, an unwritable file.
std::expected<void, std::string> log_option(const options& o);

// --monitor: starts the monitor there with `services` (nullptr when not asked). Errors: a
// bad IP:PORT or one that cannot be bound.
std::expected<std::shared_ptr<net::monitor>, std::string> monitor_option(
    const options& o, boost::asio::io_context& ioc, std::vector<net::monitored> services);

// Parses the options or prints the help / the error (with the usage line). nullopt:
// return `status` (0 after --help, 2 after a usage error).
std::optional<options> parse_or_explain(std::span<const std::string_view> args,
                                        const command_spec& spec, std::ostream& out,
                                        std::ostream& err, int& status);

// An address option, --NAME. Errors: missing, or not an address (naming its origin).
std::expected<core::address, std::string> address_option(const options& o, std::string_view name);

// A daemon's own address, --address (or `fallback` when none is given): a concrete address
// of its role.
std::expected<core::address, std::string> self_option(const options& o, core::role r,
                                                      std::string_view fallback = {});

// An IP:PORT option such as --listen (an IPv6 address may be bracketed; port 0..65535).
std::expected<boost::asio::ip::tcp::endpoint, std::string> endpoint_option(const options& o,
                                                                           std::string_view name);

// A bus URL option (--backbone, --host-bus): `inproc://NAME` or
// `nats://[USER[:PASSWORD]@]HOST:PORT[,...]` (`tls://` for TLS). Only its shape is checked
// here (a bad URL is a usage error, exit 2); the bus checks the rest when it connects.
std::expected<std::string, std::string> bus_option(const options& o, std::string_view name);
// Why `url` is not a bus URL; empty when its shape is right.
std::string bus_url_error(std::string_view url);

// The role's seed: --seed when given (a whole number), else one that differs per run.
std::expected<std::uint64_t, std::string> seed_option(const options& o);

// Runs `ioc` on `threads` threads until it stops; SIGINT/SIGTERM call `stop` once; SIGHUP
// reopens the log file, then calls `reload` (may be empty), and stops nothing. The daemon
// is started when this is called: it tells systemd so (READY=1, Type=notify units), and
// STOPPING=1 when it begins to stop.
void run(boost::asio::io_context& ioc, std::size_t threads, std::function<void()> stop,
         std::function<void()> reload = {});

// What the core would refuse to send (as a bare bad_request), said before connecting and
// with what is wrong: a type it cannot encode or one of the protocol's own, or a body that
// is not the JSON the usage asks for. Empty when the message can go.
std::string message_args_error(std::string_view type, std::string_view body);

// Prints a request's outcome: a table for people, or JSON lines with --json. Returns the
// exit status: 0 when the outcome is ok, 1 otherwise.
int print_outcome(const core::act::complete& c, bool json, double ms, std::ostream& out);

// Prints the outcome of `ccp agents`' request to every proxy (agents_cmd.cpp): a table of
// the agents each proxy holds (or JSON lines) on `out`; when the outcome is not ok, why
// and each proxy that did not answer on `err`. Returns the exit status, 0 when ok.
int print_agents(const core::act::complete& c, bool json, std::int64_t timeout, std::ostream& out,
                 std::ostream& err);

// Options every client command (send, request, agents) takes; each command's table
// lists them with its own.
inline constexpr option_spec client_backbone = {
    .name = "backbone",
    .value = "URL",
    .help = "backbone bus, nats://h:p[,h:p] or inproc://name",
    .fallback = default_nats};
inline constexpr option_spec client_address = {
    .name = "address",
    .value = "ADDRESS",
    .help = "this client's mgmt address (default ccp://mgmt/HOSTNAME/cli-RANDOM)"};

// Starts a transient mgmt node, waits for its directory, runs `act`, stops when `act`
// calls finish(status) or on a signal (requests in flight end with shutting_down).
// `on_message` (may be empty) sees what is sent to the client, on the node's strand: errors
// answering its notifications among them.
int as_mgmt_client(const options& o, std::ostream& err, std::string_view cmd,
                   std::function<void(net::mgmt_service&, std::function<void(int)>)> act,
                   std::function<void(const core::message&)> on_message = {});

}  // namespace ccp::app::detail
