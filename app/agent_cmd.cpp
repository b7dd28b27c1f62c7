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
using detail::default_nats;
using detail::parse_or_explain;
using detail::run;
using detail::seed_option;
using detail::self_option;

int agent_main(std::span<const std::string_view> args, std::ostream& out, std::ostream& err) {
  static constexpr option_spec own[] = {
      {"address", "ADDRESS", "this agent, ccp://agent/HOST/ID (required)"},
      {"proxy", "URL", "proxy to dial, ws://h:p or wss://h:p; several, in order", true},
      {"shuffle", "", "shuffle the proxy list once"},
      {"token", "TOKEN", "credentials presented to the proxy"},
      {"ca", "FILE", "CA certificates to verify wss:// proxies"},
      {"host-bus", "URL", "host bus, nats://h:p or inproc://name"},
      {"endpoints", "IDS", "sample endpoints to run in this process (comma list)", true},
      {"seed", "N", "seed of the role's generator"},
  };
  static constexpr auto specs = detail::join_specs(own, detail::daemon_specs);
  int status = 0;
  auto o = parse_or_explain(args, specs, 0, "ccp agent --address ADDRESS --proxy URL... [options]",
                            out, err, status);
  if (!o) return status;
  if (auto l = detail::log_option(*o); !l) return err << "ccp agent: " << l.error() << '\n', 2;
  auto nats = detail::nats_auth_option(*o);
  if (!nats) return err << "ccp agent: " << nats.error() << '\n', 2;
  net::agent_options ao;
  auto self = self_option(*o, core::role::agent, "");
  if (!self) return err << "ccp agent: " << self.error() << '\n', 2;
  ao.self = *self;
  ao.proxies = o->list("proxy");
  if (ao.proxies.empty())
    return err << "ccp agent: option --proxy is required (ws:// or wss:// URL, one or more)\n", 2;
  for (const auto& p : ao.proxies)
    if (auto t = net::parse_ws_target(p); !t) return err << "ccp agent: " << t.error() << '\n', 2;
  ao.shuffle = o->on("shuffle");
  ao.token = o->get_or("token", "");
  ao.ca = o->get_or("ca", "");
  ao.host_bus = o->get_or("host-bus", default_nats);
  ao.host_bus_auth = *nats;
  ao.endpoints = o->list("endpoints");
  for (const auto& id : ao.endpoints)
    if (auto a = core::address::one(core::role::endpoint, ao.self.host(), id); !a)
      return err << "ccp agent: --endpoints '" << id << "': " << a.error().message() << '\n', 2;
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
  run(ioc, 1, [&] {
    (*a)->shutdown();
    asio::post(ioc, [&ioc] { ioc.stop(); });
  });
  return 0;
}

}  // namespace ccp::app
