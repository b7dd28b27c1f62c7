// `ccp up`: a whole fleet in one process (net/fleet.hpp) on loopback, then a request to
// every endpoint whose replies are printed. Runs until SIGINT/SIGTERM, or after that
// request with --exit.
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <functional>
#include <ostream>

#include "app/commands.hpp"
#include "app/net_common.hpp"
#include "app/options.hpp"
#include "core/address.hpp"
#include "net/fleet.hpp"

namespace ccp::app {

namespace asio = boost::asio;
using detail::parse_or_explain;
using detail::print_outcome;
using detail::run;

namespace {

// Everything `ccp up` takes.
constexpr option_spec up_own[] = {
    {.name = "agents", .value = "N", .help = "agents (hosts)", .fallback = "4"},
    {.name = "endpoints", .value = "M", .help = "endpoints per agent", .fallback = "2"},
    {.name = "proxies", .value = "N", .help = "proxies", .fallback = "2"},
    {.name = "nats", .value = "URL", .help = "use NATS at URL for the backbone and host buses"},
    {.name = "exit", .help = "exit after the first request (for scripts)"},
};
constexpr auto up_options = detail::joined(up_own, detail::log_options);

constexpr command_spec up_command = {
    .name = "up",
    .about =
        "Runs a whole fleet in one process on loopback (mgmt, proxies, agents with their\n"
        "endpoints), waits until mgmt knows every endpoint, asks ccp://endpoint/all for a\n"
        "ping and prints every reply; then runs until SIGINT/SIGTERM (or exits, --exit).\n"
        "Exit status: 0 when every endpoint answered, 1 otherwise, 2 on a usage error.",
    .options = up_options,
};

}  // namespace

const command_spec& up_spec() {
  return up_command;
}

int up_main(std::span<const std::string_view> args, std::ostream& out, std::ostream& err) {
  int status = 0;
  auto o = parse_or_explain(args, up_command, out, err, status);
  if (!o) return status;
  if (auto l = detail::log_option(*o); !l) return err << "ccp up: " << l.error() << '\n', 2;
  net::fleet_options fo;
  auto agents = o->count("agents", 1, 60000);
  auto endpoints = o->count("endpoints", 0, core::max_endpoints_per_agent);
  auto proxies = o->count("proxies", 1, 250);
  for (const auto* c : {&agents, &endpoints, &proxies})
    if (!*c) return err << "ccp up: " << c->error() << '\n', 2;
  fo.agents = static_cast<std::size_t>(*agents);
  fo.endpoints_per_agent = static_cast<std::size_t>(*endpoints);
  fo.proxies = static_cast<std::size_t>(*proxies);
  if (o->get("nats")) {
    auto nats = detail::bus_option(*o, "nats");
    if (!nats) return err << "ccp up: " << nats.error() << '\n', 2;
    fo.backbone = *nats;
    fo.host_bus = *nats;
  }
  asio::io_context ioc;
  auto f = net::local_fleet::start(ioc, fo);
  if (!f) return err << "ccp up: " << f.error() << '\n', 1;
  auto& fleet = **f;
  std::vector<net::monitored> watched{fleet.mgmt().monitoring()};
  for (auto& p : fleet.proxies())
    watched.push_back(p->monitoring());
  for (auto& a : fleet.agents())
    watched.push_back(a->monitoring());
  auto mon = detail::monitor_option(*o, ioc, std::move(watched));
  if (!mon) return err << "ccp up: " << mon.error() << '\n', 1;
  out << "ccp up: mgmt ccp://mgmt/127.0.0.1/up, " << fo.proxies << " proxies (";
  for (std::size_t i = 0; i < fleet.proxies().size(); ++i)
    out << (i ? ", " : "") << "ws://127.0.0.1:" << fleet.proxies()[i]->port();
  out << "), " << fo.agents << " agents, " << fo.agents * fo.endpoints_per_agent
      << " endpoints; buses " << fo.backbone << " / " << fo.host_bus << '\n'
      << std::flush;
  const bool exit_after = o->on("exit");
  int result = 0;
  // Wait until mgmt's directory holds every agent's host with its endpoints (a fleet of
  // thousands takes seconds to attach), bounded, then ask every endpoint.
  auto ask = [&] {
    auto t0 = std::chrono::steady_clock::now();
    out << "request ccp://endpoint/all ping (it ends when every endpoint mgmt knows answered, "
           "or at its 2 s deadline)\n"
        << std::flush;
    fleet.mgmt().request(core::address::group(core::role::endpoint, core::scope::all), "ping", "{}",
                         2 * core::seconds, [&, t0](core::act::complete& c) {
                           double ms = std::chrono::duration<double, std::milli>(
                                           std::chrono::steady_clock::now() - t0)
                                           .count();
                           result = print_outcome(c, false, ms, out);
                           if (c.replies.size() != fo.agents * fo.endpoints_per_agent) result = 1;
                           if (exit_after) {
                             fleet.shutdown();
                             asio::post(ioc, [&ioc] { ioc.stop(); });
                           } else if (fo.backbone.starts_with("inproc://")) {
                             // An in-process bus: no other process can join this fleet.
                             out << "running; press Ctrl-C to stop (started with --nats URL, "
                                    "other shells reach it with `ccp request ADDRESS TYPE "
                                    "--backbone URL`)\n"
                                 << std::flush;
                           } else {
                             out << "running; from another shell try `ccp request "
                                    "ccp://endpoint/all ping --backbone "
                                 << fo.backbone << "`, or press Ctrl-C\n"
                                 << std::flush;
                           }
                         });
  };
  const std::size_t want_hosts = fo.agents;
  const std::size_t want_endpoints = fo.agents * fo.endpoints_per_agent;
  auto attached = [&fleet, want_hosts, want_endpoints] {
    const auto& routes = fleet.mgmt().role().directory().routes();
    std::size_t known = 0;
    for (const auto& [host, r] : routes)
      known += r.on_host.endpoints.size();
    return routes.size() >= want_hosts && known >= want_endpoints;
  };
  asio::steady_timer wait(fleet.mgmt().executor());
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  std::function<void()> check = [&] {
    if (attached() || std::chrono::steady_clock::now() >= give_up) return ask();
    wait.expires_after(std::chrono::milliseconds(50));
    wait.async_wait([&](boost::system::error_code ec) {
      if (!ec) check();
    });
  };
  fleet.mgmt().when_ready([&] { check(); });
  run(ioc, 1, [&] {
    out << "ccp up: stopping\n" << std::flush;
    fleet.shutdown();
    asio::post(ioc, [&ioc] { ioc.stop(); });
  });
  return result;
}

}  // namespace ccp::app
