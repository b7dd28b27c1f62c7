// `ccp send` and `ccp request`: a notification, or a request whose replies are printed, sent
// by a transient management node on the backbone bus.
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstdint>
#include <expected>
#include <functional>
#include <memory>
#include <optional>
#include <ostream>
#include <string>

#include "app/commands.hpp"
#include "app/net_common.hpp"
#include "app/options.hpp"
#include "core/address.hpp"
#include "net/daemons.hpp"

namespace ccp::app {

using detail::as_mgmt_client;
using detail::message_args_error;
using detail::parse_or_explain;
using detail::print_outcome;

namespace {

constexpr positional_spec message_positionals[] = {
    {.name = "ADDRESS",
     .help = "where to, e.g. ccp://endpoint/10.0.0.7/billing-1 or ccp://agent/all"},
    {.name = "TYPE", .help = "the operation, e.g. ping (1 to 64 of a-z, 0-9, '_', '.', '-')"},
    {.name = "JSON", .help = "the body (default {})", .required = false},
};

// Everything `ccp send` takes.
constexpr option_spec send_own[] = {
    detail::client_backbone,
    detail::client_address,
    {.name = "wait",
     .short_name = 'w',
     .value = "DURATION",
     .help = "how long to listen for a routing error (unreachable) coming back",
     .fallback = "500ms"},
};
constexpr auto send_options = detail::joined(send_own, detail::nats_auth_options);

constexpr command_spec send_command = {
    .name = "send",
    .about =
        "Sends a one-way notification as a transient management node. A notification\n"
        "is never acknowledged: exit 0 means it left and no routing error (no proxy\n"
        "holds the host, no such endpoint) came back within --wait. An endpoint that has\n"
        "no handler for TYPE drops it without a word; use `ccp request` to know that it\n"
        "was handled.\n"
        "Exit status: 0 sent, 1 refused or a routing error came back, 2 on a usage error.",
    .positionals = message_positionals,
    .options = send_options,
};

// Everything `ccp request` takes.
constexpr option_spec request_own[] = {
    detail::client_backbone,
    detail::client_address,
    {.name = "timeout",
     .short_name = 't',
     .value = "DURATION",
     .help = "the request's deadline, e.g. 500ms, 2s",
     .fallback = "5s"},
    {.name = "json", .short_name = 'j', .help = "JSON lines instead of a table"},
};
constexpr auto request_options = detail::joined(request_own, detail::nats_auth_options);

constexpr command_spec request_command = {
    .name = "request",
    .about =
        "Sends a request as a transient management node and prints every reply. A\n"
        "request to a group (TYPE/all) ends when every member it knows answered, or at\n"
        "its deadline.\n"
        "Exit status: 0 when the outcome is ok, 1 otherwise, 2 on a usage error.",
    .positionals = message_positionals,
    .options = request_options,
};

struct message_args {
  core::address to;
  std::string type;
  std::string body;
};

std::expected<message_args, std::string> read_message_args(const options& o) {
  const auto& pos = o.positional();
  auto to = core::address::parse(pos[0]);
  if (!to) return std::unexpected("ADDRESS '" + pos[0] + "': " + to.error().message());
  message_args m{*to, pos[1], pos.size() > 2 ? pos[2] : "{}"};
  if (auto e = message_args_error(m.type, m.body); !e.empty()) return std::unexpected(e);
  return m;
}

}  // namespace

const command_spec& send_spec() {
  return send_command;
}
const command_spec& request_spec() {
  return request_command;
}

int send_main(std::span<const std::string_view> args, std::ostream& out, std::ostream& err) {
  int status = 0;
  auto o = parse_or_explain(args, send_command, out, err, status);
  if (!o) return status;
  auto m = read_message_args(*o);
  if (!m) return err << "ccp send: " << m.error() << '\n', 2;
  auto wait = o->duration("wait", 0, max_duration_micros);
  if (!wait) return err << "ccp send: " << wait.error() << '\n', 2;
  // On the client's strand: the id once sent, and whether it has finished.
  std::optional<std::uint64_t> sent;
  bool done = false;
  std::function<void(int)> finish_once;
  auto on_message = [&](const core::message& r) {
    if (done || !sent || r.kind != core::msg_kind::error || r.correlation != *sent) return;
    done = true;
    err << "ccp send: " << core::to_string(r.code) << ": " << r.text << '\n';
    finish_once(1);
  };
  return as_mgmt_client(
      *o, err, "send",
      [&](net::mgmt_service& node, std::function<void(int)> finish) {
        finish_once = finish;
        node.send(m->to, m->type, m->body, [&, finish](std::expected<std::uint64_t, core::errc> r) {
          if (!r) {
            done = true;
            err << "ccp send: " << core::to_string(r.error()) << '\n';
            return finish(1);
          }
          sent = *r;
          // The handler holds its timer: both go with the io_context.
          auto timer = std::make_shared<boost::asio::steady_timer>(node.executor());
          timer->expires_after(std::chrono::microseconds(*wait));
          timer->async_wait([&, finish, timer](boost::system::error_code ec) {
            if (ec || done) return;
            done = true;
            out << "sent " << m->type << " to " << m->to.str() << " (id " << *sent
                << "); not acknowledged, no routing error within " << duration_text(*wait) << '\n'
                << std::flush;
            finish(0);
          });
        });
      },
      on_message);
}

int request_main(std::span<const std::string_view> args, std::ostream& out, std::ostream& err) {
  int status = 0;
  auto o = parse_or_explain(args, request_command, out, err, status);
  if (!o) return status;
  auto m = read_message_args(*o);
  if (!m) return err << "ccp request: " << m.error() << '\n', 2;
  auto timeout = o->duration("timeout", 1, max_duration_micros);
  if (!timeout) return err << "ccp request: " << timeout.error() << '\n', 2;
  const bool json = o->on("json");
  return as_mgmt_client(
      *o, err, "request", [&](net::mgmt_service& node, std::function<void(int)> finish) {
        auto t0 = std::chrono::steady_clock::now();
        node.request(m->to, m->type, m->body, *timeout, [&, t0, finish](core::act::complete& c) {
          double ms =
              std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0)
                  .count();
          finish(print_outcome(c, json, ms, out));
        });
      });
}

}  // namespace ccp::app
