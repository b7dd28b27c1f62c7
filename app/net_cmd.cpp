// The networked commands: daemons (proxy, agent, endpoint, mgmt), client commands that
// act as a management node (send, request, agents), and `up`, a whole fleet in one
// process. Each builds its options, starts services from net/daemons.hpp on an
// io_context, and stops cleanly on SIGINT/SIGTERM.
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <cerrno>
#include <chrono>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <limits>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>

#include "app/commands.hpp"
#include "app/options.hpp"
#include "core/message.hpp"
#include "net/daemons.hpp"
#include "net/fleet.hpp"
#include "net/ws.hpp"
#include "text/message_json.hpp"

namespace ccp::app {
namespace {

namespace asio = boost::asio;

constexpr std::string_view default_nats = "nats://127.0.0.1:4222";

struct io {
  std::ostream& out;
  std::ostream& err;
  std::mutex mu;  // lines from several strands
  void line(std::ostream& s, const std::string& text) {
    std::lock_guard lock(mu);
    s << text << '\n' << std::flush;
  }
};

// Parses the options or prints the help / the error. nullopt: return `status`.
std::optional<options> parse_or_explain(std::span<const std::string_view> args,
                                        std::span<const option_spec> specs,
                                        std::size_t max_positional, std::string_view usage,
                                        std::ostream& out, std::ostream& err, int& status) {
  auto o = options::parse(args, specs, max_positional);
  if (!o) {
    err << "ccp: " << o.error() << "\n" << options_help(usage, specs);
    status = 2;
    return std::nullopt;
  }
  if (o->help()) {
    out << options_help(usage, specs);
    status = 0;
    return std::nullopt;
  }
  return std::move(*o);
}

std::expected<core::address, std::string> address_option(const options& o, std::string_view name,
                                                         std::string_view fallback) {
  std::string text = o.get_or(name, fallback);
  if (text.empty()) return std::unexpected("option --" + std::string(name) + " is required");
  auto a = core::address::parse(text);
  if (!a)
    return std::unexpected("--" + std::string(name) + " '" + text + "': " + a.error().message());
  return *a;
}

// A daemon's own address, --address (or `fallback`): a concrete address of its role.
std::expected<core::address, std::string> self_option(const options& o, core::role r,
                                                      std::string_view fallback) {
  auto a = address_option(o, "address", fallback);
  if (a && (a->type() != r || a->is_group())) {
    const std::string role(core::to_string(r));
    return std::unexpected("--address '" + a->str() + "': expected a concrete " + role +
                           " address, ccp://" + role + "/HOST/ID");
  }
  return a;
}

std::expected<asio::ip::tcp::endpoint, std::string> endpoint_option(const std::string& text) {
  auto colon = text.rfind(':');
  if (colon == std::string::npos)
    return std::unexpected("--listen '" + text + "': expected HOST:PORT");
  std::string host = text.substr(0, colon);
  if (host.starts_with('[') && host.ends_with(']')) host = host.substr(1, host.size() - 2);
  boost::system::error_code ec;
  auto addr = asio::ip::make_address(host, ec);
  if (ec) return std::unexpected("--listen '" + text + "': '" + host + "' is not an IP address");
  char* end = nullptr;
  long port = std::strtol(text.c_str() + colon + 1, &end, 10);
  if (*end != '\0' || port < 0 || port > 65535)
    return std::unexpected("--listen '" + text + "': port must be 0..65535");
  return asio::ip::tcp::endpoint(addr, static_cast<std::uint16_t>(port));
}

// A count option: a whole number in [min, max]. Errors name the option and the text.
std::expected<std::size_t, std::string> count_option(const options& o, std::string_view name,
                                                     std::string_view fallback, std::size_t min,
                                                     std::size_t max) {
  const std::string text = o.get_or(name, fallback);
  char* end = nullptr;
  errno = 0;
  const unsigned long long v = std::strtoull(text.c_str(), &end, 10);
  if (text.empty() || *end != '\0' || errno != 0 || text[0] == '-' || v < min || v > max)
    return std::unexpected("--" + std::string(name) + " '" + text + "': expected a number from " +
                           std::to_string(min) + " to " + std::to_string(max));
  return static_cast<std::size_t>(v);
}

// The role's seed: --seed when given (a whole number), else one that differs per run.
std::expected<std::uint64_t, std::string> seed_option(const options& o) {
  if (!o.get("seed"))
    return static_cast<std::uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count()) ^
           static_cast<std::uint64_t>(::getpid());
  auto v = count_option(o, "seed", "", 0, std::numeric_limits<std::size_t>::max());
  if (!v) return std::unexpected(v.error());
  return static_cast<std::uint64_t>(*v);
}

// Runs `ioc` on `threads` threads until it stops; SIGINT/SIGTERM call `stop` once.
void run(asio::io_context& ioc, std::size_t threads, std::function<void()> stop) {
  asio::signal_set signals(ioc, SIGINT, SIGTERM);
  signals.async_wait([stop = std::move(stop)](boost::system::error_code ec, int) {
    if (!ec) stop();
  });
  std::vector<std::thread> pool;
  for (std::size_t i = 1; i < threads; ++i)
    pool.emplace_back([&ioc] { ioc.run(); });
  ioc.run();
  for (auto& t : pool)
    t.join();
}

std::string mgmt_client_address() {
  return "ccp://mgmt/localhost/cli-" + std::to_string(::getpid());
}

// What the core would refuse to send (as a bare bad_request), said before connecting and
// with what is wrong: a type it cannot encode or one of the protocol's own, or a body that
// is not the JSON the usage asks for. Empty when the message can go.
std::string message_args_error(std::string_view type, std::string_view body) {
  if (!core::valid_type(type))
    return "type '" + std::string(type) + "': expected 1 to " +
           std::to_string(core::max_type_bytes) + " bytes of a-z, 0-9, '_', '.' and '-'";
  if (core::is_control_type(type))
    return "type '" + std::string(type) + "': ccp.* types belong to the protocol";
  try {
    [[maybe_unused]] const auto parsed = nlohmann::json::parse(body);
  } catch (const nlohmann::json::parse_error& e) {
    std::string_view what = e.what();  // "[json.exception.parse_error.101] parse error at ..."
    if (auto end = what.find("] "); end != std::string_view::npos) what.remove_prefix(end + 2);
    return "body '" + std::string(body) + "' is not JSON: " + std::string(what);
  }
  return {};
}

// Prints a request's outcome: a table for people, or JSON lines with --json.
int print_outcome(const core::act::complete& c, bool json, double ms, std::ostream& out) {
  if (json) {
    for (const auto& r : c.replies)
      out << text::to_json_text(r) << '\n';
    nlohmann::json end = {{"outcome", c.code == core::errc{} ? "ok" : core::to_string(c.code)},
                          {"replies", c.replies.size()},
                          {"ms", ms}};
    out << end.dump() << '\n';
  } else {
    if (!c.replies.empty())
      out << std::left << std::setw(44) << "FROM" << std::setw(14) << "RESULT"
          << "BODY\n";
    for (const auto& r : c.replies) {
      std::string result =
          r.kind == core::msg_kind::error ? std::string(core::to_string(r.code)) : "ok";
      std::string body = r.kind == core::msg_kind::error ? r.text : r.body;
      out << std::left << std::setw(44) << r.from.str() << std::setw(14) << result << body << '\n';
    }
    out << "outcome: " << (c.code == core::errc{} ? "ok" : core::to_string(c.code)) << ", "
        << c.replies.size() << (c.replies.size() == 1 ? " reply" : " replies") << " in "
        << std::fixed << std::setprecision(1) << ms << " ms\n";
  }
  out << std::flush;
  return c.code == core::errc{} ? 0 : 1;
}

}  // namespace

// ---- daemons

int proxy_main(std::span<const std::string_view> args, std::ostream& out, std::ostream& err) {
  static constexpr option_spec specs[] = {
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
  int status = 0;
  auto o =
      parse_or_explain(args, specs, 0, "ccp proxy --address ADDRESS [options]", out, err, status);
  if (!o) return status;
  net::proxy_options po;
  auto self = self_option(*o, core::role::proxy, "");
  if (!self) return err << "ccp proxy: " << self.error() << '\n', 2;
  po.self = *self;
  auto at = endpoint_option(o->get_or("listen", "0.0.0.0:7700"));
  if (!at) return err << "ccp proxy: " << at.error() << '\n', 2;
  po.listen = *at;
  po.backbone = o->get_or("backbone", default_nats);
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
  err << "ccp proxy: " << po.self.str() << " listening on "
      << (po.cert.empty() ? "ws://" : "wss://") << at->address().to_string() << ':' << (*p)->port()
      << ", backbone " << po.backbone << '\n';
  run(ioc, *threads, [&] {
    err << "ccp proxy: stopping; telling agents to move\n";
    (*p)->shutdown(std::chrono::seconds(2), [&ioc] { ioc.stop(); });
  });
  return 0;
}

int agent_main(std::span<const std::string_view> args, std::ostream& out, std::ostream& err) {
  static constexpr option_spec specs[] = {
      {"address", "ADDRESS", "this agent, ccp://agent/HOST/ID (required)"},
      {"proxy", "URL", "proxy to dial, ws://h:p or wss://h:p; several, in order", true},
      {"shuffle", "", "shuffle the proxy list once"},
      {"token", "TOKEN", "credentials presented to the proxy"},
      {"ca", "FILE", "CA certificates to verify wss:// proxies"},
      {"host-bus", "URL", "host bus, nats://h:p or inproc://name"},
      {"endpoints", "IDS", "sample endpoints to run in this process (comma list)", true},
      {"seed", "N", "seed of the role's generator"},
  };
  int status = 0;
  auto o = parse_or_explain(args, specs, 0, "ccp agent --address ADDRESS --proxy URL... [options]",
                            out, err, status);
  if (!o) return status;
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
  err << "ccp agent: " << ao.self.str() << ", " << ao.proxies.size() << " proxies, host bus "
      << ao.host_bus << '\n';
  run(ioc, 1, [&] {
    (*a)->shutdown();
    asio::post(ioc, [&ioc] { ioc.stop(); });
  });
  return 0;
}

int endpoint_main(std::span<const std::string_view> args, std::ostream& out, std::ostream& err) {
  static constexpr option_spec specs[] = {
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
  int status = 0;
  auto o = parse_or_explain(args, specs, 0, "ccp endpoint --address ADDRESS [options]", out, err,
                            status);
  if (!o) return status;
  auto self = self_option(*o, core::role::endpoint, "");
  if (!self) return err << "ccp endpoint: " << self.error() << '\n', 2;
  io lines{out, err, {}};
  net::endpoint_options eo;
  eo.self = *self;
  eo.host_bus = o->get_or("host-bus", default_nats);
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

int mgmt_main(std::span<const std::string_view> args, std::ostream& out, std::ostream& err) {
  static constexpr option_spec specs[] = {
      {"address", "ADDRESS", "this node, ccp://mgmt/HOST/ID (default ccp://mgmt/localhost/mgmt-1)"},
      {"backbone", "URL", "backbone bus, nats://h:p[,h:p] or inproc://name"},
      {"seed", "N", "seed of the role's generator"},
  };
  int status = 0;
  auto o = parse_or_explain(args, specs, 0, "ccp mgmt [options]", out, err, status);
  if (!o) return status;
  auto self = self_option(*o, core::role::mgmt, "ccp://mgmt/localhost/mgmt-1");
  if (!self) return err << "ccp mgmt: " << self.error() << '\n', 2;
  io lines{out, err, {}};
  net::mgmt_options mo;
  mo.self = *self;
  mo.backbone = o->get_or("backbone", default_nats);
  auto seed = seed_option(*o);
  if (!seed) return err << "ccp mgmt: " << seed.error() << '\n', 2;
  mo.seed = *seed;
  mo.on_message = [&lines](const core::message& m) {
    lines.line(lines.out, text::to_json_text(m));
  };
  asio::io_context ioc;
  auto m = net::mgmt_service::start(ioc, std::move(mo));
  if (!m) return err << "ccp mgmt: " << m.error() << '\n', 1;
  err << "ccp mgmt: " << self->str() << " on " << o->get_or("backbone", default_nats) << '\n';
  run(ioc, 1, [&] {
    (*m)->shutdown();
    asio::post(ioc, [&ioc] { ioc.stop(); });
  });
  return 0;
}

// ---- client commands

namespace {

constexpr option_spec client_specs[] = {
    {"backbone", "URL", "backbone bus, nats://h:p[,h:p] or inproc://name"},
    {"address", "ADDRESS", "this client's mgmt address (default ccp://mgmt/localhost/cli-PID)"},
    {"timeout", "DURATION", "request timeout, e.g. 500ms, 2s (default 5s)"},
    {"json", "", "JSON lines instead of a table"},
};

// Starts a transient mgmt node, waits for its directory, runs `act`, stops when `act`
// calls finish(status) or on a signal (requests in flight end with shutting_down).
int as_mgmt_client(const options& o, std::ostream& err, std::string_view cmd,
                   std::function<void(net::mgmt_service&, std::function<void(int)>)> act) {
  auto self = self_option(o, core::role::mgmt, mgmt_client_address());
  if (!self) return err << "ccp " << cmd << ": " << self.error() << '\n', 2;
  net::mgmt_options mo;
  mo.self = *self;
  mo.backbone = o.get_or("backbone", default_nats);
  asio::io_context ioc;
  auto m = net::mgmt_service::start(ioc, std::move(mo));
  if (!m) return err << "ccp " << cmd << ": " << m.error() << '\n', 1;
  int status = 1;
  auto finish = [&](int s) {
    status = s;
    (*m)->shutdown();
    asio::post(ioc, [&ioc] { ioc.stop(); });
  };
  (*m)->when_ready([&] { act(**m, finish); });
  run(ioc, 1, [&] { (*m)->shutdown(); });  // pending requests complete with shutting_down
  return status;
}

}  // namespace

int send_main(std::span<const std::string_view> args, std::ostream& out, std::ostream& err) {
  int status = 0;
  auto o = parse_or_explain(args, client_specs, 3, "ccp send ADDRESS TYPE [JSON] [options]", out,
                            err, status);
  if (!o) return status;
  if (o->positional().size() < 2) return err << "ccp send: ADDRESS and TYPE are required\n", 2;
  auto to = core::address::parse(o->positional()[0]);
  if (!to)
    return err << "ccp send: '" << o->positional()[0] << "': " << to.error().message() << '\n', 2;
  std::string body = o->positional().size() > 2 ? o->positional()[2] : "{}";
  std::string type = o->positional()[1];
  if (auto e = message_args_error(type, body); !e.empty())
    return err << "ccp send: " << e << '\n', 2;
  return as_mgmt_client(
      *o, err, "send", [&](net::mgmt_service& m, std::function<void(int)> finish) {
        m.send(*to, type, body, [&, finish](std::expected<std::uint64_t, core::errc> r) {
          if (!r) {
            err << "ccp send: " << core::to_string(r.error()) << '\n';
            return finish(1);
          }
          out << "sent " << type << " to " << to->str() << " (id " << *r << ")\n";
          finish(0);
        });
      });
}

int request_main(std::span<const std::string_view> args, std::ostream& out, std::ostream& err) {
  int status = 0;
  auto o = parse_or_explain(args, client_specs, 3,
                            "ccp request ADDRESS TYPE [JSON] [--timeout D] [--json] [options]", out,
                            err, status);
  if (!o) return status;
  if (o->positional().size() < 2) return err << "ccp request: ADDRESS and TYPE are required\n", 2;
  auto to = core::address::parse(o->positional()[0]);
  if (!to)
    return err << "ccp request: '" << o->positional()[0] << "': " << to.error().message() << '\n',
           2;
  auto timeout = parse_duration_micros(o->get_or("timeout", "5s"));
  if (!timeout) return err << "ccp request: --timeout: " << timeout.error() << '\n', 2;
  std::string body = o->positional().size() > 2 ? o->positional()[2] : "{}";
  std::string type = o->positional()[1];
  if (auto e = message_args_error(type, body); !e.empty())
    return err << "ccp request: " << e << '\n', 2;
  const bool json = o->on("json");
  return as_mgmt_client(
      *o, err, "request", [&](net::mgmt_service& m, std::function<void(int)> finish) {
        auto t0 = std::chrono::steady_clock::now();
        m.request(*to, type, body, *timeout, [&, t0, finish](core::act::complete& c) {
          double ms =
              std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0)
                  .count();
          finish(print_outcome(c, json, ms, out));
        });
      });
}

int agents_main(std::span<const std::string_view> args, std::ostream& out, std::ostream& err) {
  int status = 0;
  auto o =
      parse_or_explain(args, client_specs, 0, "ccp agents [--json] [options]", out, err, status);
  if (!o) return status;
  const bool json = o->on("json");
  auto timeout = parse_duration_micros(o->get_or("timeout", "2s"));
  if (!timeout) return err << "ccp agents: --timeout: " << timeout.error() << '\n', 2;
  return as_mgmt_client(
      *o, err, "agents", [&](net::mgmt_service& m, std::function<void(int)> finish) {
        m.request(core::address::group(core::role::proxy, core::scope::all), "agents", "{}",
                  *timeout, [&, finish](core::act::complete& c) {
                    if (json) {
                      for (const auto& r : c.replies)
                        out << text::to_json_text(r) << '\n';
                    } else {
                      out << std::left << std::setw(34) << "PROXY" << std::setw(34) << "AGENT"
                          << std::setw(22) << "EPOCH"
                          << "ENDPOINTS\n";
                      for (const auto& r : c.replies) {
                        if (r.kind == core::msg_kind::error) {
                          out << r.from.str() << "  error: " << core::to_string(r.code) << '\n';
                          continue;
                        }
                        auto j = nlohmann::json::parse(r.body, nullptr, false);
                        if (j.is_discarded() || !j.contains("agents")) continue;
                        for (const auto& a : j["agents"])
                          out << std::left << std::setw(34) << r.from.str() << std::setw(34)
                              << a.value("agent", "") << std::setw(22) << a.value("epoch", 0ull)
                              << a.value("endpoints", 0) << '\n';
                      }
                    }
                    out << std::flush;
                    finish(c.code == core::errc{} ? 0 : 1);
                  });
      });
}

// ---- up

int up_main(std::span<const std::string_view> args, std::ostream& out, std::ostream& err) {
  static constexpr option_spec specs[] = {
      {"agents", "N", "agents (hosts), default 4"},
      {"endpoints", "M", "endpoints per agent, default 2"},
      {"proxies", "N", "proxies, default 2"},
      {"nats", "URL", "use NATS at URL for the backbone and host buses"},
      {"exit", "", "exit after the first request (for scripts)"},
  };
  int status = 0;
  auto o = parse_or_explain(args, specs, 0, "ccp up [--agents N] [--endpoints M] [--nats URL]", out,
                            err, status);
  if (!o) return status;
  net::fleet_options fo;
  auto agents = count_option(*o, "agents", "4", 1, 60000);
  auto endpoints = count_option(*o, "endpoints", "2", 0, core::max_endpoints_per_agent);
  auto proxies = count_option(*o, "proxies", "2", 1, 250);
  for (const auto* c : {&agents, &endpoints, &proxies})
    if (!*c) return err << "ccp up: " << c->error() << '\n', 2;
  fo.agents = *agents;
  fo.endpoints_per_agent = *endpoints;
  fo.proxies = *proxies;
  if (auto nats = o->get("nats")) {
    fo.backbone = *nats;
    fo.host_bus = *nats;
  }
  asio::io_context ioc;
  auto f = net::local_fleet::start(ioc, fo);
  if (!f) return err << "ccp up: " << f.error() << '\n', 1;
  auto& fleet = **f;
  out << "ccp up: mgmt ccp://mgmt/127.0.0.1/up, " << fo.proxies << " proxies (";
  for (std::size_t i = 0; i < fleet.proxies().size(); ++i)
    out << (i ? ", " : "") << "ws://127.0.0.1:" << fleet.proxies()[i]->port();
  out << "), " << fo.agents << " agents, " << fo.agents * fo.endpoints_per_agent
      << " endpoints; buses " << fo.backbone << " / " << fo.host_bus << '\n'
      << std::flush;
  const bool exit_after = o->on("exit");
  int result = 0;
  // Wait until the agents are attached and mgmt knows their routes, then ask every endpoint.
  fleet.mgmt().when_ready([&] {
    auto t0 = std::chrono::steady_clock::now();
    out << "request ccp://endpoint/all ping (an all request gathers replies until its 2 s "
           "deadline)\n"
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
  });
  run(ioc, 1, [&] {
    out << "ccp up: stopping\n" << std::flush;
    fleet.shutdown();
    asio::post(ioc, [&ioc] { ioc.stop(); });
  });
  return result;
}

}  // namespace ccp::app
