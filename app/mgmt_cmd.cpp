// `ccp mgmt`: a management node on the backbone bus that prints every message it receives
// as a JSON line. Runs until SIGINT/SIGTERM.
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <ostream>
#include <string>

#include "app/commands.hpp"
#include "app/net_common.hpp"
#include "app/options.hpp"
#include "net/daemons.hpp"
#include "net/nats_url.hpp"
#include "text/message_json.hpp"

namespace ccp::app {

namespace asio = boost::asio;
using detail::io;
using detail::parse_or_explain;
using detail::run;
using detail::seed_option;
using detail::self_option;

namespace {

// Everything `ccp mgmt` takes: the one place to add a mgmt option.
constexpr option_spec mgmt_own[] = {
    {.name = "address",
     .value = "ADDRESS",
     .help = "this node, ccp://mgmt/HOST/ID",
     .fallback = "ccp://mgmt/localhost/mgmt-1"},
    {.name = "backbone",
     .value = "URL",
     .help = "backbone bus, nats://h:p[,h:p] or inproc://name",
     .fallback = detail::default_nats},
    {.name = "seed", .value = "N", .help = "seed of the role's generator"},
};
constexpr auto mgmt_options =
    detail::joined(mgmt_own, detail::log_options, detail::nats_auth_options);

constexpr command_spec mgmt_command = {
    .name = "mgmt",
    .about =
        "Runs a management node on the backbone bus that prints every message sent to it\n"
        "as a JSON line. Runs until SIGINT/SIGTERM.\n"
        "Exit status: 0 after a clean stop, 1 when it cannot start (its\n"
        "address in use by a live node among them), 2 on a usage error.",
    .options = mgmt_options,
};

}  // namespace

const command_spec& mgmt_spec() {
  return mgmt_command;
}

int mgmt_main(std::span<const std::string_view> args, std::ostream& out, std::ostream& err) {
  int status = 0;
  auto o = parse_or_explain(args, mgmt_command, out, err, status);
  if (!o) return status;
  if (auto l = detail::log_option(*o); !l) return err << "ccp mgmt: " << l.error() << '\n', 2;
  auto nats = detail::nats_auth_option(*o);
  if (!nats) return err << "ccp mgmt: " << nats.error() << '\n', 2;
  auto self = self_option(*o, core::role::mgmt);
  if (!self) return err << "ccp mgmt: " << self.error() << '\n', 2;
  auto backbone = detail::bus_option(*o, "backbone");
  if (!backbone) return err << "ccp mgmt: " << backbone.error() << '\n', 2;
  io lines{out, err, {}};
  net::mgmt_options mo;
  mo.self = *self;
  mo.backbone = *backbone;
  mo.backbone_auth = *nats;
  auto seed = seed_option(*o);
  if (!seed) return err << "ccp mgmt: " << seed.error() << '\n', 2;
  mo.seed = *seed;
  mo.on_message = [&lines](const core::message& m) {
    lines.line(lines.out, text::to_json_text(m));
  };
  // Two daemons with one address would take each other's replies: the second refuses.
  asio::io_context ioc;
  status = 0;
  mo.claim = true;
  mo.on_refused = [&](const std::string& why) {
    err << "ccp mgmt: " << why << '\n' << std::flush;
    status = 1;
    asio::post(ioc, [&ioc] { ioc.stop(); });
  };
  auto m = net::mgmt_service::start(ioc, std::move(mo));
  if (!m) return err << "ccp mgmt: " << m.error() << '\n', 1;
  auto mon = detail::monitor_option(*o, ioc, {(*m)->monitoring()});
  if (!mon) return err << "ccp mgmt: " << mon.error() << '\n', 1;
  err << "ccp mgmt: " << self->str() << " on " << net::detail::redact_nats_url(*backbone) << '\n';
  run(ioc, 1, [&] {
    (*m)->shutdown();
    asio::post(ioc, [&ioc] { ioc.stop(); });
  });
  return status;
}

}  // namespace ccp::app
