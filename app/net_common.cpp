#include "app/net_common.hpp"

#include <unistd.h>

#include <boost/asio/ip/address.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iomanip>
#include <iterator>
#include <limits>
#include <nlohmann/json.hpp>
#include <ostream>
#include <random>
#include <thread>
#include <vector>

#include "core/message.hpp"
#include "net/nats_url.hpp"
#include "net/notify.hpp"
#include "text/message_json.hpp"

namespace ccp::app::detail {

namespace asio = boost::asio;

void io::line(std::ostream& s, const std::string& text) {
  std::lock_guard lock(mu);
  s << text << '\n' << std::flush;
}

// Parses the options or prints the help / the error. nullopt: return `status`.
std::optional<options> parse_or_explain(std::span<const std::string_view> args,
                                        const command_spec& spec, std::ostream& out,
                                        std::ostream& err, int& status) {
  auto o = options::parse(args, spec);
  if (!o) {
    err << "ccp " << spec.name << ": " << o.error() << "\nusage: " << usage_line(spec)
        << "\nRun 'ccp help " << spec.name << "' for its options.\n";
    status = 2;
    return std::nullopt;
  }
  if (o->help()) {
    out << options_help(spec);
    status = 0;
    return std::nullopt;
  }
  return std::move(*o);
}

std::expected<core::address, std::string> address_option(const options& o, std::string_view name) {
  std::string text = o.value(name);
  if (text.empty()) return std::unexpected("option --" + std::string(name) + " is required");
  auto a = core::address::parse(text);
  if (!a) return std::unexpected(o.bad(name, a.error().message()));
  return *a;
}

// A daemon's own address, --address (or `fallback`): a concrete address of its role.
std::expected<core::address, std::string> self_option(const options& o, core::role r,
                                                      std::string_view fallback) {
  const std::string role(core::to_string(r));
  if (!o.get("address") && !fallback.empty()) {
    auto a = core::address::parse(fallback);
    if (!a) return std::unexpected("--address: " + a.error().message());
    return *a;
  }
  auto a = address_option(o, "address");
  if (a && (a->type() != r || a->is_group()))
    return std::unexpected(
        o.bad("address", "expected a concrete " + role + " address, ccp://" + role + "/HOST/ID"));
  return a;
}

std::expected<asio::ip::tcp::endpoint, std::string> endpoint_option(const options& o,
                                                                    std::string_view name) {
  const std::string text = o.value(name);
  auto colon = text.rfind(':');
  if (colon == std::string::npos) return std::unexpected(o.bad(name, "expected IP:PORT"));
  std::string host = text.substr(0, colon);
  if (host.starts_with('[') && host.ends_with(']')) host = host.substr(1, host.size() - 2);
  boost::system::error_code ec;
  auto addr = asio::ip::make_address(host, ec);
  if (ec) return std::unexpected(o.bad(name, "'" + host + "' is not an IP address"));
  const std::string port_text = text.substr(colon + 1);
  char* end = nullptr;
  long port = std::strtol(port_text.c_str(), &end, 10);
  if (port_text.empty() || *end != '\0' || port < 0 || port > 65535)
    return std::unexpected(o.bad(name, "port must be 0..65535"));
  return asio::ip::tcp::endpoint(addr, static_cast<std::uint16_t>(port));
}

std::string bus_url_error(std::string_view url) {
  constexpr std::string_view inproc = "inproc://", nats = "nats://", tls = "tls://";
  constexpr std::string_view expected =
      "expected nats://[USER[:PASSWORD]@]HOST:PORT[,HOST:PORT...] (or tls://) or inproc://NAME";
  if (url.starts_with(inproc)) return url.size() > inproc.size() ? "" : "inproc:// needs a name";
  if (!url.starts_with(nats) && !url.starts_with(tls)) return std::string(expected);
  std::string_view rest = url.substr(url.starts_with(nats) ? nats.size() : tls.size());
  for (;;) {
    const auto comma = rest.find(',');
    std::string_view server = rest.substr(0, comma);
    if (server.starts_with(nats)) server.remove_prefix(nats.size());
    if (server.starts_with(tls)) server.remove_prefix(tls.size());
    if (auto at = server.rfind('@'); at != std::string_view::npos) server.remove_prefix(at + 1);
    const auto colon = server.rfind(':');
    if (server.empty()) return "a server is empty; " + std::string(expected);
    if (colon == std::string_view::npos || colon == 0 || server.ends_with(']'))
      return "server '" + std::string(server) + "' needs HOST:PORT";
    const std::string_view port = server.substr(colon + 1);
    unsigned long p = 0;
    for (char c : port) {
      if (c < '0' || c > '9' || p > 65535) return "server '" + std::string(server) + "': bad port";
      p = p * 10 + static_cast<unsigned long>(c - '0');
    }
    if (port.empty() || p == 0 || p > 65535)
      return "server '" + std::string(server) + "': port must be 1..65535";
    if (comma == std::string_view::npos) break;
    rest = rest.substr(comma + 1);
  }
  return {};
}

std::expected<std::string, std::string> bus_option(const options& o, std::string_view name) {
  std::string url = o.value(name);
  if (auto e = bus_url_error(url); !e.empty()) return std::unexpected(o.bad(name, e));
  return url;
}

// The role's seed: --seed when given (a whole number), else one that differs per run (and
// so do the role's message ids: core::first_message_id).
std::expected<std::uint64_t, std::string> seed_option(const options& o) {
  if (!o.get("seed")) {
    std::random_device random;
    return (static_cast<std::uint64_t>(random()) << 32 ^ random()) ^
           static_cast<std::uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count()) ^
           static_cast<std::uint64_t>(::getpid());
  }
  return o.count("seed", 0, std::numeric_limits<std::uint64_t>::max());
}

namespace {

// Reads a secret from `file`: its whole content less a trailing newline.
std::expected<std::string, std::string> read_secret(const options& o, std::string_view name) {
  const std::string file = o.value(name);
  std::ifstream in(file, std::ios::binary);
  if (!in) return std::unexpected(o.bad(name, "cannot read it"));
  std::string s((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r'))
    s.pop_back();
  return s;
}

// Re-arms itself: every SIGHUP reopens the log file, then reloads what `reload` reloads.
void on_hangup(const std::shared_ptr<asio::signal_set>& hup, std::function<void()> reload) {
  hup->async_wait([hup, reload = std::move(reload)](boost::system::error_code ec, int) mutable {
    if (ec) return;
    if (auto r = net::reopen_log(); !r)
      net::log(net::log_level::error, "cannot reopen the log file", {{"reason", r.error()}});
    else
      net::log(net::log_level::info, "log file reopened (SIGHUP)");
    if (reload) reload();
    on_hangup(hup, std::move(reload));
  });
}

void notify(std::string_view state) {
  if (auto r = net::notify_service_manager(state); !r)
    net::log(net::log_level::warn, "cannot notify systemd",
             {{"state", state}, {"reason", r.error()}});
}

}  // namespace

std::expected<net::nats_auth, std::string> nats_auth_option(const options& o) {
  net::nats_auth a;
  a.user = o.value("nats-user");
  if (o.get("nats-password-file")) {
    auto p = read_secret(o, "nats-password-file");
    if (!p) return std::unexpected(p.error());
    a.password = std::move(*p);
  }
  if (o.get("nats-token-file")) {
    auto t = read_secret(o, "nats-token-file");
    if (!t) return std::unexpected(t.error());
    a.token = std::move(*t);
  }
  a.creds_file = o.value("nats-creds");
  a.ca_file = o.value("nats-ca");
  a.cert_file = o.value("nats-cert");
  a.key_file = o.value("nats-key");
  if (a.cert_file.empty() != a.key_file.empty())
    return std::unexpected("--nats-cert and --nats-key go together");
  return a;
}

std::expected<void, std::string> log_option(const options& o) {
  net::log_config c;
  auto level = net::parse_log_level(o.value("log-level"));
  if (!level) return std::unexpected(o.bad("log-level", level.error()));
  auto format = net::parse_log_format(o.value("log-format"));
  if (!format) return std::unexpected(o.bad("log-format", format.error()));
  c.level = *level;
  c.format = *format;
  c.file = o.value("log-file");
  if (auto r = net::configure_log(c); !r) return std::unexpected(o.bad("log-file", r.error()));
  return {};
}

std::expected<std::shared_ptr<net::monitor>, std::string> monitor_option(
    const options& o, asio::io_context& ioc, std::vector<net::monitored> services) {
  if (!o.get("monitor")) return nullptr;
  auto at = endpoint_option(o, "monitor");
  if (!at) return std::unexpected(at.error());
  auto m = net::monitor::start(ioc, *at);
  if (!m) return std::unexpected(m.error());
  for (auto& s : services)
    (*m)->add(std::move(s));
  net::log(net::log_level::info, "monitor listening",
           {{"at", at->address().to_string() + ":" + std::to_string((*m)->port())}});
  return *m;
}

namespace {

// Keeps SIGINT, SIGTERM and SIGHUP caught until the process ends. Asio puts a signal back
// to its default action when its last signal_set for it goes (run()'s own, as run() returns;
// the SIGHUP set, with the io_context): a stop signal that arrives after that, while the
// daemon tears down, killed it (exit 143 instead of 0). That happens: `timeout` sends its
// signal to the child and then to its process group, systemd may signal twice, operators
// press Ctrl-C again. This set is never destroyed and never waited on, so the signals stay
// caught (and are dropped) until exit; a daemon that stops is already stopping.
void hold_signals_until_exit() {
  static auto* const never_run = new asio::io_context;
  static auto* const held = new asio::signal_set(*never_run, SIGINT, SIGTERM, SIGHUP);
  (void)held;
}

}  // namespace

// Runs `ioc` on `threads` threads until it stops; SIGINT/SIGTERM call `stop` once.
void run(asio::io_context& ioc, std::size_t threads, std::function<void()> stop,
         std::function<void()> reload) {
  hold_signals_until_exit();
  asio::signal_set signals(ioc, SIGINT, SIGTERM);
  signals.async_wait([stop = std::move(stop)](boost::system::error_code ec, int) {
    if (ec) return;
    notify("STOPPING=1");
    stop();
  });
  auto hup = std::make_shared<asio::signal_set>(ioc, SIGHUP);
  on_hangup(hup, std::move(reload));
  notify("READY=1");
  std::vector<std::thread> pool;
  for (std::size_t i = 1; i < threads; ++i)
    pool.emplace_back([&ioc] { ioc.run(); });
  ioc.run();
  for (auto& t : pool)
    t.join();
}

namespace {

// A client's own address unless --address says otherwise: its machine's name and a random
// id, so that clients on two machines (or containers) with the same pid never share one.
// Replies are matched by their request's id as well (random per start: the core's
// incarnation), so even two clients given one address take only their own.
std::string mgmt_client_address() {
  char name[256] = {};
  std::string host = "localhost";
  if (::gethostname(name, sizeof name - 1) == 0 &&
      core::address::one(core::role::mgmt, name, "cli").has_value())
    host = name;
  std::random_device random;
  const std::uint64_t id = (static_cast<std::uint64_t>(random()) << 32) ^ random() ^
                           static_cast<std::uint64_t>(::getpid());
  char hex[17];
  std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(id));
  return "ccp://mgmt/" + host + "/cli-" + hex;
}

}  // namespace

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
  using answer = core::act::member_result::answer;
  const std::string outcome = c.code == core::errc{} ? "ok" : std::string(core::to_string(c.code));
  std::size_t answered = 0;
  for (const auto& m : c.members)
    answered += m.result == answer::ok || m.result == answer::error;
  if (json) {
    // JSON lines: one per reply, then one that ends the request (its outcome, and for a
    // group whose members were known, each member's result).
    for (const auto& r : c.replies)
      out << text::to_json_text(r) << '\n';
    nlohmann::json end = {{"outcome", outcome}, {"replies", c.replies.size()}, {"ms", ms}};
    if (!c.members.empty()) {
      nlohmann::json members = nlohmann::json::array();
      for (const auto& m : c.members) {
        nlohmann::json one = {{"member", m.member.str()},
                              {"result", core::act::to_string(m.result)}};
        if (m.code != core::errc{}) one["code"] = core::to_string(m.code);
        members.push_back(std::move(one));
      }
      end["answered"] = answered;
      end["expected"] = c.members.size();
      end["members"] = std::move(members);
    }
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
    if (!c.members.empty()) {
      out << answered << "/" << c.members.size() << " answered\n";
      for (const auto& m : c.members) {
        if (m.result == answer::ok) continue;
        std::string why(core::act::to_string(m.result));
        if (m.code != core::errc{}) why += " (" + std::string(core::to_string(m.code)) + ")";
        out << std::left << std::setw(44) << m.member.str() << why << '\n';
      }
    }
    out << "outcome: " << outcome << ", " << c.replies.size()
        << (c.replies.size() == 1 ? " reply" : " replies") << " in " << std::fixed
        << std::setprecision(1) << ms << " ms\n";
  }
  out << std::flush;
  return c.code == core::errc{} ? 0 : 1;
}

// Starts a transient mgmt node, waits for its directory, runs `act`, stops when `act`
// calls finish(status) or on a signal (requests in flight end with shutting_down).
int as_mgmt_client(const options& o, std::ostream& err, std::string_view cmd,
                   std::function<void(net::mgmt_service&, std::function<void(int)>)> act,
                   std::function<void(const core::message&)> on_message) {
  auto self = self_option(o, core::role::mgmt, mgmt_client_address());
  if (!self) return err << "ccp " << cmd << ": " << self.error() << '\n', 2;
  auto backbone = bus_option(o, "backbone");
  if (!backbone) return err << "ccp " << cmd << ": " << backbone.error() << '\n', 2;
  net::mgmt_options mo;
  mo.self = *self;
  mo.backbone = *backbone;
  mo.on_message = std::move(on_message);
  // A random address is unique by construction; one that was given may be in use.
  mo.claim = o.get("address").has_value();
  std::function<void(int)> finish_now;  // set before the node runs
  mo.on_refused = [&](const std::string& why) {
    err << "ccp " << cmd << ": " << why << " (choose another --address)\n" << std::flush;
    finish_now(1);
  };
  auto nats = nats_auth_option(o);
  if (!nats) return err << "ccp " << cmd << ": " << nats.error() << '\n', 2;
  mo.backbone_auth = *nats;
  auto seed = seed_option(o);
  if (!seed) return err << "ccp " << cmd << ": " << seed.error() << '\n', 2;
  mo.seed = *seed;  // its own message ids: it takes no other client's replies
  asio::io_context ioc;
  auto m = net::mgmt_service::start(ioc, std::move(mo));
  if (!m) return err << "ccp " << cmd << ": " << m.error() << '\n', 1;
  int status = 1;
  auto finish = [&](int s) {
    status = s;
    (*m)->shutdown();
    asio::post(ioc, [&ioc] { ioc.stop(); });
  };
  finish_now = finish;
  // Ready once every proxy answered the start's sync, or at the heartbeat bound
  // (core::no_proxy_window) when one did not. Then, having heard no proxy at all (no
  // answer, no heartbeat, no route), say so rather than answer `unreachable`.
  (*m)->when_ready([&] {
    if ((*m)->role().directory().proxies() == 0) {
      err << "ccp " << cmd << ": no proxy answered on the backbone "
          << net::detail::redact_nats_url(*backbone) << " within "
          << core::no_proxy_window / core::ms << " ms: is a proxy running there?\n"
          << std::flush;
      finish(1);
      return;
    }
    act(**m, finish);
  });
  run(ioc, 1, [&] { (*m)->shutdown(); });  // pending requests complete with shutting_down
  return status;
}

}  // namespace ccp::app::detail
