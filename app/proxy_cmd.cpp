// `ccp proxy`: a proxy daemon. Agents connect to it over websockets (ws, or wss with
// --cert/--key) with a token; it reaches management over the backbone bus. Runs until
// SIGINT/SIGTERM, then tells its agents to move before it closes.
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <exception>
#include <map>
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
using detail::bus_option;
using detail::default_nats;
using detail::endpoint_option;
using detail::parse_or_explain;
using detail::run;
using detail::seed_option;
using detail::self_option;

namespace {

// Everything `ccp proxy` takes: the one place to add a proxy option.
constexpr option_spec proxy_own[] = {
    {.name = "address", .value = "ADDRESS", .help = "this proxy, ccp://proxy/HOST/ID (required)"},
    {.name = "listen",
     .value = "IP:PORT",
     .help = "where agents connect",
     .fallback = "0.0.0.0:7700"},
    {.name = "backbone",
     .value = "URL",
     .help = "backbone bus, nats://h:p[,h:p] or inproc://name",
     .fallback = detail::default_nats},
    {.name = "cert", .value = "FILE", .help = "TLS certificate chain (PEM): serve wss"},
    {.name = "key", .value = "FILE", .help = "TLS private key (PEM)"},
    {.name = "secret-file",
     .value = "FILE",
     .help = "file holding the shared secret every agent may present"},
    {.name = "secret",
     .value = "TOKEN",
     .help = "the shared secret itself (seen by `ps`: prefer --secret-file or the environment)",
     .secret = true},
    {.name = "tokens", .value = "FILE", .help = "JSON object: agent address or host -> token"},
    {.name = "threads", .value = "N", .help = "I/O threads", .fallback = "1"},
    {.name = "seed", .value = "N", .help = "seed of the role's generator"},
};
constexpr auto proxy_options =
    detail::joined(proxy_own, detail::log_options, detail::nats_auth_options);

constexpr command_spec proxy_command = {
    .name = "proxy",
    .about =
        "Runs a proxy: agents connect to it over websockets (ws, or wss with --cert and\n"
        "--key) with a token; it reaches management over the backbone bus. Runs until\n"
        "SIGINT/SIGTERM, then tells its agents to move before it closes. SIGHUP reopens\n"
        "the log file and reads --tokens again (agents attached stay; their next hello is\n"
        "checked against the new table).\n"
        "Exit status: 0 after a clean stop, 1 when it cannot start, 2 on a usage error.",
    .options = proxy_options,
};

// The tokens file: a JSON object from agent address or host to token.
std::expected<std::map<std::string, std::string>, std::string> read_tokens(const options& o) {
  std::map<std::string, std::string> tokens;
  const auto file = o.get("tokens");
  if (!file) return tokens;
  const std::string where = o.origin("tokens").where + " '" + *file + "'";
  auto text = read_file(*file);
  if (!text) return std::unexpected(where + ": " + text.error());
  auto j = nlohmann::json::parse(*text, nullptr, false);
  if (j.is_discarded() || !j.is_object())
    return std::unexpected(where + ": expected a JSON object of agent address or host -> token");
  for (const auto& [k, v] : j.items()) {
    if (!v.is_string() || v.get<std::string>().empty())
      return std::unexpected(where + ": \"" + k + "\": expected a non-empty string");
    tokens[k] = v.get<std::string>();
  }
  return tokens;
}

}  // namespace

// The start-up warning of a proxy that accepts every agent on a non-loopback address;
// empty when it authenticates agents or only loopback can reach it.
std::string open_proxy_warning(const boost::asio::ip::tcp::endpoint& listen, bool authenticates) {
  if (authenticates || listen.address().is_loopback()) return {};
  return "warning: no --secret-file, --secret or --tokens: every agent that reaches " +
         listen.address().to_string() + ":" + std::to_string(listen.port()) +
         " is accepted (any host can attach and send as that host)";
}

const command_spec& proxy_spec() {
  return proxy_command;
}

int proxy_main(std::span<const std::string_view> args, std::ostream& out, std::ostream& err) {
  int status = 0;
  auto o = parse_or_explain(args, proxy_command, out, err, status);
  if (!o) return status;
  if (auto l = detail::log_option(*o); !l) return err << "ccp proxy: " << l.error() << '\n', 2;
  auto nats = detail::nats_auth_option(*o);
  if (!nats) return err << "ccp proxy: " << nats.error() << '\n', 2;
  net::proxy_options po;
  auto self = self_option(*o, core::role::proxy);
  if (!self) return err << "ccp proxy: " << self.error() << '\n', 2;
  po.self = *self;
  auto at = endpoint_option(*o, "listen");
  if (!at) return err << "ccp proxy: " << at.error() << '\n', 2;
  po.listen = *at;
  auto backbone = bus_option(*o, "backbone");
  if (!backbone) return err << "ccp proxy: " << backbone.error() << '\n', 2;
  po.backbone = *backbone;
  po.backbone_auth = *nats;
  po.cert = o->value("cert");
  po.key = o->value("key");
  auto secret = o->secret("secret", "secret-file");
  if (!secret) return err << "ccp proxy: " << secret.error() << '\n', 2;
  po.secret = *secret;
  auto tokens = read_tokens(*o);
  if (!tokens) return err << "ccp proxy: " << tokens.error() << '\n', 2;
  po.tokens = std::move(*tokens);
  po.tokens_file = o->get("tokens").has_value();
  auto seed = seed_option(*o);
  if (!seed) return err << "ccp proxy: " << seed.error() << '\n', 2;
  po.seed = *seed;
  auto threads = o->count("threads", 1, 256);
  if (!threads) return err << "ccp proxy: " << threads.error() << '\n', 2;
  asio::io_context ioc;
  auto p = net::proxy_service::start(ioc, po);
  if (!p) return err << "ccp proxy: " << p.error() << '\n', 1;
  if (auto w = open_proxy_warning({po.listen.address(), (*p)->port()},
                                  !po.secret.empty() || po.tokens_file);
      !w.empty())
    err << "ccp proxy: " << w << '\n';
  auto mon = detail::monitor_option(*o, ioc, {(*p)->monitoring()});
  if (!mon) return err << "ccp proxy: " << mon.error() << '\n', 1;
  err << "ccp proxy: " << po.self.str() << " listening on "
      << (po.cert.empty() ? "ws://" : "wss://") << at->address().to_string() << ':' << (*p)->port()
      << ", backbone " << net::detail::redact_nats_url(po.backbone) << '\n';
  // Without credentials, open_proxy_warning above spoke (on any address but loopback).
  if (!po.secret.empty())
    err << "ccp proxy: warning: a shared secret: any agent that knows it may claim any host; "
           "--tokens binds each host to its own token\n";
  // SIGHUP reads the tokens file again; a file that cannot be read or parsed keeps the
  // table in force. Without --tokens there is nothing to reload.
  auto reload = [&o, proxy = *p] {
    if (!o->get("tokens")) return;
    auto t = read_tokens(*o);
    if (!t) {
      net::log(net::log_level::error, "tokens not reloaded: keeping the tokens in force",
               {{"reason", t.error()}});
      return;
    }
    const std::size_t n = proxy->reload_tokens(std::move(*t));
    net::log(net::log_level::info, "tokens reloaded (SIGHUP)",
             {{"file", o->value("tokens")}, {"tokens", std::to_string(n)}});
  };
  run(
      ioc, static_cast<std::size_t>(*threads),
      [&] {
        err << "ccp proxy: stopping; telling agents to move\n";
        (*p)->shutdown(std::chrono::seconds(2), [&ioc] { ioc.stop(); });
      },
      reload);
  return 0;
}

}  // namespace ccp::app
