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
using detail::default_nats;
using detail::io;
using detail::message_args_error;
using detail::parse_or_explain;
using detail::print_outcome;
using detail::run;
using detail::seed_option;
using detail::self_option;

int endpoint_main(std::span<const std::string_view> args, std::ostream& out, std::ostream& err) {
  static constexpr option_spec own[] = {
      {"address", "ADDRESS", "this endpoint, ccp://endpoint/HOST/ID (required)"},
      {"host-bus", "URL", "host bus, nats://h:p or inproc://name"},
      {"answer", "TYPE=JSON", "answer requests of TYPE with JSON (besides ping, echo)", true},
      {"request", "ADDRESS", "once registered, send a request to ADDRESS and print it"},
      {"type", "TYPE", "operation of --request (default ping)"},
      {"body", "JSON", "body of --request (default {})"},
      {"timeout", "DURATION", "timeout of --request (default 5s)"},
      {"exit", "", "exit after --request (status 0 when it succeeded)"},
      {"seed", "N", "seed of the role's generator"},
  };
  static constexpr auto specs = detail::join_specs(own, detail::daemon_specs);
  int status = 0;
  auto o = parse_or_explain(args, specs, 0, "ccp endpoint --address ADDRESS [options]", out, err,
                            status);
  if (!o) return status;
  if (auto l = detail::log_option(*o); !l) return err << "ccp endpoint: " << l.error() << '\n', 2;
  auto nats = detail::nats_auth_option(*o);
  if (!nats) return err << "ccp endpoint: " << nats.error() << '\n', 2;
  auto self = self_option(*o, core::role::endpoint, "");
  if (!self) return err << "ccp endpoint: " << self.error() << '\n', 2;
  io lines{out, err, {}};
  net::endpoint_options eo;
  eo.self = *self;
  eo.host_bus = o->get_or("host-bus", default_nats);
  eo.host_bus_auth = *nats;
  for (const auto& a : o->list("answer")) {
    auto eq = a.find('=');
    if (eq == std::string::npos || eq == 0)
      return err << "ccp endpoint: --answer '" << a << "': expected TYPE=JSON\n", 2;
    if (auto e = message_args_error(a.substr(0, eq), a.substr(eq + 1)); !e.empty())
      return err << "ccp endpoint: --answer: " << e << '\n', 2;
    eo.answers[a.substr(0, eq)] = a.substr(eq + 1);
  }
  eo.on_message = [&lines](const core::message& m) {
    lines.line(lines.out, text::to_json_text(m));
  };
  auto seed = seed_option(*o);
  if (!seed) return err << "ccp endpoint: " << seed.error() << '\n', 2;
  eo.seed = *seed;
  std::optional<core::address> target;
  if (auto r = o->get("request")) {
    auto t = core::address::parse(*r);
    if (!t)
      return err << "ccp endpoint: --request '" << *r << "': " << t.error().message() << '\n', 2;
    target = *t;
    if (auto e = message_args_error(o->get_or("type", "ping"), o->get_or("body", "{}")); !e.empty())
      return err << "ccp endpoint: --request: " << e << '\n', 2;
  }
  auto timeout = parse_duration_micros(o->get_or("timeout", "5s"));
  if (!timeout) return err << "ccp endpoint: --timeout: " << timeout.error() << '\n', 2;
  asio::io_context ioc;
  auto e = net::endpoint_service::start(ioc, std::move(eo));
  if (!e) return err << "ccp endpoint: " << e.error() << '\n', 1;
  auto mon = detail::monitor_option(*o, ioc, {(*e)->monitoring()});
  if (!mon) return err << "ccp endpoint: " << mon.error() << '\n', 1;
  err << "ccp endpoint: " << self->str() << " on host bus " << o->get_or("host-bus", default_nats)
      << '\n';
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
      (*e)->request(*target, o->get_or("type", "ping"), o->get_or("body", "{}"), *timeout,
                    [&, t0](core::act::complete& c) {
                      double ms = std::chrono::duration<double, std::milli>(
                                      std::chrono::steady_clock::now() - t0)
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
