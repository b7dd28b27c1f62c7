// `ccp proxy`: a proxy daemon. Agents connect to it over websockets (ws, or wss with
// --cert/--key) with a token; it reaches management over the backbone bus. Runs until
// SIGINT/SIGTERM, then tells its agents to move before it closes.
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <exception>
#include <fstream>
#include <nlohmann/json.hpp>
#include <ostream>
#include <string>

#include "app/commands.hpp"
#include "app/net_common.hpp"
#include "app/options.hpp"
#include "net/daemons.hpp"
#include "net/nats_url.hpp"

namespace ccp::app {

namespace asio = boost::asio;
using detail::count_option;
using detail::default_nats;
using detail::endpoint_option;
using detail::parse_or_explain;
using detail::run;
using detail::seed_option;
using detail::self_option;

int proxy_main(std::span<const std::string_view> args, std::ostream& out, std::ostream& err) {
  static constexpr option_spec own[] = {
      {"address", "ADDRESS", "this proxy, ccp://proxy/HOST/ID (required)"},
      {"listen", "IP:PORT", "where agents connect (default 0.0.0.0:7700)"},
      {"backbone", "URL", "backbone bus, nats://h:p[,h:p] or inproc://name"},
      {"cert", "FILE", "TLS certificate chain (PEM): serve wss"},
      {"key", "FILE", "TLS private key (PEM)"},
      {"secret", "TOKEN", "shared secret every agent may present"},
      {"tokens", "FILE", "JSON object: agent address or host -> token"},
      {"threads", "N", "I/O threads (default 1)"},
      {"seed", "N", "seed of the role's generator"},
  };
  static constexpr auto specs = detail::join_specs(own, detail::daemon_specs);
  int status = 0;
  auto o =
      parse_or_explain(args, specs, 0, "ccp proxy --address ADDRESS [options]", out, err, status);
  if (!o) return status;
  if (auto l = detail::log_option(*o); !l) return err << "ccp proxy: " << l.error() << '\n', 2;
  auto nats = detail::nats_auth_option(*o);
  if (!nats) return err << "ccp proxy: " << nats.error() << '\n', 2;
  net::proxy_options po;
  auto self = self_option(*o, core::role::proxy, "");
  if (!self) return err << "ccp proxy: " << self.error() << '\n', 2;
  po.self = *self;
  auto at = endpoint_option(o->get_or("listen", "0.0.0.0:7700"));
  if (!at) return err << "ccp proxy: " << at.error() << '\n', 2;
  po.listen = *at;
  po.backbone = o->get_or("backbone", default_nats);
  po.backbone_auth = *nats;
  po.cert = o->get_or("cert", "");
  po.key = o->get_or("key", "");
  po.secret = o->get_or("secret", "");
  if (auto file = o->get("tokens")) {
    std::ifstream in(*file);
    try {
      auto j = nlohmann::json::parse(in);
      for (const auto& [k, v] : j.items())
        po.tokens[k] = v.get<std::string>();
    } catch (const std::exception& e) {
      return err << "ccp proxy: --tokens '" << *file << "': " << e.what() << '\n', 2;
    }
  }
  auto seed = seed_option(*o);
  if (!seed) return err << "ccp proxy: " << seed.error() << '\n', 2;
  po.seed = *seed;
  auto threads = count_option(*o, "threads", "1", 1, 256);
  if (!threads) return err << "ccp proxy: " << threads.error() << '\n', 2;
  asio::io_context ioc;
  auto p = net::proxy_service::start(ioc, po);
  if (!p) return err << "ccp proxy: " << p.error() << '\n', 1;
  auto mon = detail::monitor_option(*o, ioc, {(*p)->monitoring()});
  if (!mon) return err << "ccp proxy: " << mon.error() << '\n', 1;
  err << "ccp proxy: " << po.self.str() << " listening on "
      << (po.cert.empty() ? "ws://" : "wss://") << at->address().to_string() << ':' << (*p)->port()
      << ", backbone " << net::detail::redact_nats_url(po.backbone) << '\n';
  run(ioc, *threads, [&] {
    err << "ccp proxy: stopping; telling agents to move\n";
    (*p)->shutdown(std::chrono::seconds(2), [&ioc] { ioc.stop(); });
  });
  return 0;
}

}  // namespace ccp::app
