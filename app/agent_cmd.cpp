// `ccp agent`: a host's agent daemon. Holds one websocket to a proxy (the first of --proxy
// that answers) and the host bus its endpoints use. Runs until SIGINT/SIGTERM.
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <ostream>
#include <string>

#include "app/commands.hpp"
#include "app/net_common.hpp"
#include "app/options.hpp"
#include "core/address.hpp"
#include "net/daemons.hpp"
#include "net/nats_url.hpp"
#include "net/ws.hpp"

namespace ccp::app {

namespace asio = boost::asio;
using detail::bus_option;
using detail::parse_or_explain;
using detail::run;
using detail::seed_option;
using detail::self_option;

namespace {

// Everything `ccp agent` takes: the one place to add an agent option.
constexpr option_spec agent_own[] = {
    {.name = "address", .value = "ADDRESS", .help = "this agent, ccp://agent/HOST/ID (required)"},
    {.name = "proxy",
     .value = "URL",
     .help = "proxy to dial, ws://h:p or wss://h:p; several, in order",
     .repeat = true,
     .commas = true},
    {.name = "shuffle", .help = "shuffle the proxy list once"},
    {.name = "token-file",
     .value = "FILE",
     .help = "file holding the credentials presented to the proxy"},
    {.name = "token",
     .value = "TOKEN",
     .help = "the credentials themselves (seen by `ps`: prefer --token-file or the environment)",
     .secret = true},
    {.name = "ca", .value = "FILE", .help = "CA certificates to verify wss:// proxies"},
    {.name = "host-bus",
     .value = "URL",
     .help = "host bus, nats://h:p or inproc://name",
     .fallback = detail::default_nats},
    {.name = "endpoints",
     .value = "IDS",
     .help = "ids of sample endpoints to run in this process (comma list)",
     .repeat = true,
     .commas = true},
    {.name = "seed", .value = "N", .help = "seed of the role's generator"},
};
constexpr auto agent_options =
    detail::joined(agent_own, detail::log_options, detail::nats_auth_options);

constexpr command_spec agent_command = {
    .name = "agent",
    .about =
        "Runs a host's agent: one websocket to a proxy (the first of --proxy that\n"
        "answers, failing over to the others) and the host bus its endpoints use. Runs\n"
        "until SIGINT/SIGTERM.\n"
        "Exit status: 0 after a clean stop, 1 when it cannot start, 2 on a usage error.",
    .options = agent_options,
};

}  // namespace

const command_spec& agent_spec() {
  return agent_command;
}

int agent_main(std::span<const std::string_view> args, std::ostream& out, std::ostream& err) {
  int status = 0;
  auto o = parse_or_explain(args, agent_command, out, err, status);
  if (!o) return status;
  if (auto l = detail::log_option(*o); !l) return err << "ccp agent: " << l.error() << '\n', 2;
  auto nats = detail::nats_auth_option(*o);
  if (!nats) return err << "ccp agent: " << nats.error() << '\n', 2;
  net::agent_options ao;
  auto self = self_option(*o, core::role::agent);
  if (!self) return err << "ccp agent: " << self.error() << '\n', 2;
  ao.self = *self;
  ao.proxies = o->list("proxy");
  if (ao.proxies.empty())
    return err << "ccp agent: option --proxy is required (ws:// or wss:// URL, one or more)\n", 2;
  for (const auto& p : ao.proxies)
    if (auto t = net::parse_ws_target(p); !t)
      return err << "ccp agent: " << o->origin("proxy").where << ": " << t.error() << '\n', 2;
  ao.shuffle = o->on("shuffle");
  auto token = o->secret("token", "token-file");
  if (!token) return err << "ccp agent: " << token.error() << '\n', 2;
  ao.token = *token;
  ao.ca = o->value("ca");
  auto host_bus = bus_option(*o, "host-bus");
  if (!host_bus) return err << "ccp agent: " << host_bus.error() << '\n', 2;
  ao.host_bus = *host_bus;
  ao.host_bus_auth = *nats;
  ao.endpoints = o->list("endpoints");
  for (const auto& id : ao.endpoints)
    if (auto a = core::address::one(core::role::endpoint, ao.self.host(), id); !a)
      return err << "ccp agent: " << o->origin("endpoints").where << " '" << id
                 << "': " << a.error().message() << '\n',
             2;
  auto seed = seed_option(*o);
  if (!seed) return err << "ccp agent: " << seed.error() << '\n', 2;
  ao.seed = *seed;
  asio::io_context ioc;
  auto a = net::agent_service::start(ioc, ao);
  if (!a) return err << "ccp agent: " << a.error() << '\n', 1;
  auto mon = detail::monitor_option(*o, ioc, {(*a)->monitoring()});
  if (!mon) return err << "ccp agent: " << mon.error() << '\n', 1;
  err << "ccp agent: " << ao.self.str() << ", " << ao.proxies.size() << " proxies, host bus "
      << net::detail::redact_nats_url(ao.host_bus) << '\n';
  // The loop runs on until the bye is written (bounded), so the proxy reads a goodbye.
  run(ioc, 1, [&] { (*a)->shutdown(std::chrono::seconds(1), [&ioc] { ioc.stop(); }); });
  return 0;
}

}  // namespace ccp::app
