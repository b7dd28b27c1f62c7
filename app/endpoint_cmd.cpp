// `ccp endpoint`: a sample application on a host bus. Answers ping, echo and the types of
// --answer, prints every message it receives, and with --request sends one request once
// registered and prints its outcome. Runs until SIGINT/SIGTERM (or after --request with
// --exit).
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <ostream>
#include <string>

#include "app/commands.hpp"
#include "app/net_common.hpp"
#include "app/options.hpp"
#include "core/address.hpp"
#include "net/daemons.hpp"
#include "text/message_json.hpp"

namespace ccp::app {

namespace asio = boost::asio;
using detail::bus_option;
using detail::io;
using detail::message_args_error;
using detail::parse_or_explain;
using detail::print_outcome;
using detail::run;
using detail::seed_option;
using detail::self_option;

namespace {

// Everything `ccp endpoint` takes: the one place to add an endpoint option.
constexpr option_spec endpoint_own[] = {
    {.name = "address",
     .value = "ADDRESS",
     .help = "this endpoint, ccp://endpoint/HOST/ID (required)"},
    {.name = "host-bus",
     .value = "URL",
     .help = "host bus, nats://h:p or inproc://name",
     .fallback = detail::default_nats},
    {.name = "answer",
     .value = "TYPE=JSON",
     .help = "answer requests of TYPE with JSON (besides ping, echo)",
     .repeat = true},
    {.name = "request",
     .value = "ADDRESS",
     .help = "once registered, send a request to ADDRESS and print its outcome"},
    {.name = "type", .value = "TYPE", .help = "operation of --request", .fallback = "ping"},
    {.name = "body", .value = "JSON", .help = "body of --request", .fallback = "{}"},
    {.name = "timeout",
     .short_name = 't',
     .value = "DURATION",
     .help = "timeout of --request",
     .fallback = "5s"},
    {.name = "exit", .help = "exit after --request (status 0 when it succeeded)"},
    {.name = "seed", .value = "N", .help = "seed of the role's generator"},
};
constexpr auto endpoint_options =
    detail::joined(endpoint_own, detail::log_options, detail::nats_auth_options);

constexpr command_spec endpoint_command = {
    .name = "endpoint",
    .about =
        "Runs a sample application on a host bus: answers ping, echo and the types of\n"
        "--answer, prints every message it receives as a JSON line, and with --request\n"
        "sends one request once registered. Runs until SIGINT/SIGTERM (or after\n"
        "--request with --exit).\n"
        "Exit status: 0 after a clean stop (with --exit: when the request succeeded),\n"
        "1 when it cannot start or the request failed, 2 on a usage error.",
    .options = endpoint_options,
};

}  // namespace

const command_spec& endpoint_spec() {
  return endpoint_command;
}

int endpoint_main(std::span<const std::string_view> args, std::ostream& out, std::ostream& err) {
  int status = 0;
  auto o = parse_or_explain(args, endpoint_command, out, err, status);
  if (!o) return status;
  if (auto l = detail::log_option(*o); !l) return err << "ccp endpoint: " << l.error() << '\n', 2;
  auto nats = detail::nats_auth_option(*o);
  if (!nats) return err << "ccp endpoint: " << nats.error() << '\n', 2;
  auto self = self_option(*o, core::role::endpoint);
  if (!self) return err << "ccp endpoint: " << self.error() << '\n', 2;
  io lines{out, err, {}};
  net::endpoint_options eo;
  eo.self = *self;
  auto host_bus = bus_option(*o, "host-bus");
  if (!host_bus) return err << "ccp endpoint: " << host_bus.error() << '\n', 2;
  eo.host_bus = *host_bus;
  eo.host_bus_auth = *nats;
  for (const auto& a : o->list("answer")) {
    auto eq = a.find('=');
    if (eq == std::string::npos || eq == 0)
      return err << "ccp endpoint: " << o->origin("answer").where << " '" << a
                 << "': expected TYPE=JSON\n",
             2;
    if (auto e = message_args_error(a.substr(0, eq), a.substr(eq + 1)); !e.empty())
      return err << "ccp endpoint: " << o->origin("answer").where << ": " << e << '\n', 2;
    eo.answers[a.substr(0, eq)] = a.substr(eq + 1);
  }
  eo.on_message = [&lines](const core::message& m) {
    lines.line(lines.out, text::to_json_text(m));
  };
  auto seed = seed_option(*o);
  if (!seed) return err << "ccp endpoint: " << seed.error() << '\n', 2;
  eo.seed = *seed;
  std::optional<core::address> target;
  if (o->get("request")) {
    auto t = detail::address_option(*o, "request");
    if (!t) return err << "ccp endpoint: " << t.error() << '\n', 2;
    target = *t;
    if (auto e = message_args_error(o->value("type"), o->value("body")); !e.empty())
      return err << "ccp endpoint: --request: " << e << '\n', 2;
  }
  auto timeout = o->duration("timeout", 1, max_duration_micros);
  if (!timeout) return err << "ccp endpoint: " << timeout.error() << '\n', 2;
  asio::io_context ioc;
  auto e = net::endpoint_service::start(ioc, std::move(eo));
  if (!e) return err << "ccp endpoint: " << e.error() << '\n', 1;
  auto mon = detail::monitor_option(*o, ioc, {(*e)->monitoring()});
  if (!mon) return err << "ccp endpoint: " << mon.error() << '\n', 1;
  err << "ccp endpoint: " << self->str() << " on host bus " << *host_bus << '\n';
  int result = 0;
  const bool exit_after = o->on("exit");
  if (target) {
    // Registration takes one round trip on the host bus; wait for it (bounded).
    auto timer = std::make_shared<asio::steady_timer>((*e)->host()->executor());
    auto started = std::chrono::steady_clock::now();
    auto poll = std::make_shared<std::function<void()>>();
    *poll = [&, timer, started, poll] {
      auto& role = (*e)->role();
      if (role.state() != core::endpoint::status::registered &&
          std::chrono::steady_clock::now() - started < std::chrono::seconds(5)) {
        timer->expires_after(std::chrono::milliseconds(20));
        timer->async_wait([poll](boost::system::error_code) { (*poll)(); });
        return;
      }
      auto t0 = std::chrono::steady_clock::now();
      (*e)->request(
          *target, o->value("type"), o->value("body"), *timeout, [&, t0](core::act::complete& c) {
            double ms =
                std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0)
                    .count();
            {
              std::lock_guard lock(lines.mu);
              result = print_outcome(c, true, ms, out);
            }
            if (exit_after) {
              (*e)->shutdown();
              asio::post(ioc, [&ioc] { ioc.stop(); });
            }
          });
      *poll = nullptr;
    };
    asio::post((*e)->host()->executor(), [poll] { (*poll)(); });
  }
  run(ioc, 1, [&] {
    (*e)->shutdown();
    asio::post(ioc, [&ioc] { ioc.stop(); });
  });
  return result;
}

}  // namespace ccp::app
