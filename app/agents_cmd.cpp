// `ccp agents`: asks every proxy which agents it holds, as a transient management node, and
// prints them, a table or JSON lines.
#include <cstdint>
#include <functional>
#include <iomanip>
#include <nlohmann/json.hpp>
#include <ostream>
#include <string>
#include <utility>

#include "app/commands.hpp"
#include "app/net_common.hpp"
#include "app/options.hpp"
#include "core/address.hpp"
#include "net/daemons.hpp"
#include "text/message_json.hpp"

namespace ccp::app {

using detail::as_mgmt_client;
using detail::parse_or_explain;

namespace {

// Everything `ccp agents` takes.
constexpr option_spec agents_own[] = {
    detail::client_backbone,
    detail::client_address,
    {.name = "timeout",
     .short_name = 't',
     .value = "DURATION",
     .help = "how long to wait for the proxies' answers",
     .fallback = "2s"},
    {.name = "json", .short_name = 'j', .help = "JSON lines (one per proxy) instead of a table"},
};
constexpr auto agents_options = detail::joined(agents_own, detail::nats_auth_options);

constexpr command_spec agents_command = {
    .name = "agents",
    .about =
        "Asks every proxy which agents it holds, as a transient management node, and\n"
        "prints them. A proxy that does not answer in time is named on stderr.\n"
        "Exit status: 0 when every proxy answered, 1 otherwise, 2 on a usage error.",
    .options = agents_options,
};

// Why the request to every proxy did not end well, for stderr: its outcome, how many
// proxies answered, and each that did not.
std::string not_ok(const core::act::complete& c, std::int64_t timeout) {
  using answer = core::act::member_result::answer;
  std::string why = "ccp agents: " + std::string(core::to_string(c.code));
  if (c.members.empty()) {
    if (c.code == core::errc::unreachable && c.replies.empty())
      return why + ": no proxy is known on the backbone\n";
    return why + ": " + std::to_string(c.replies.size()) + " proxies answered within " +
           duration_text(timeout) + "\n";
  }
  std::size_t answered = 0;
  for (const auto& m : c.members)
    answered += m.result == answer::ok;
  why += ": " + std::to_string(answered) + " of " + std::to_string(c.members.size()) +
         " proxies answered within " + duration_text(timeout) + "\n";
  for (const auto& m : c.members) {
    if (m.result == answer::ok) continue;
    why += "  " + m.member.str() + " " + std::string(core::act::to_string(m.result));
    if (m.code != core::errc{}) why += " (" + std::string(core::to_string(m.code)) + ")";
    why += '\n';
  }
  return why;
}

}  // namespace

const command_spec& agents_spec() {
  return agents_command;
}

int agents_main(std::span<const std::string_view> args, std::ostream& out, std::ostream& err) {
  int status = 0;
  auto o = parse_or_explain(args, agents_command, out, err, status);
  if (!o) return status;
  const bool json = o->on("json");
  auto timeout = o->duration("timeout", 1, max_duration_micros);
  if (!timeout) return err << "ccp agents: " << timeout.error() << '\n', 2;
  return as_mgmt_client(*o, err, "agents",
                        [&](net::mgmt_service& m, std::function<void(int)> finish) {
                          m.request(core::address::group(core::role::proxy, core::scope::all),
                                    "agents", "{}", *timeout, [&, finish](core::act::complete& c) {
                                      finish(detail::print_agents(c, json, *timeout, out, err));
                                    });
                        });
}

namespace detail {

int print_agents(const core::act::complete& c, bool json, std::int64_t timeout, std::ostream& out,
                 std::ostream& err) {
  bool header = false;
  for (const auto& r : c.replies) {
    if (json) {
      out << text::to_json_text(r) << '\n';
      continue;
    }
    if (r.kind == core::msg_kind::error) continue;  // said on stderr
    if (!std::exchange(header, true))
      out << std::left << std::setw(34) << "PROXY" << std::setw(34) << "AGENT" << std::setw(22)
          << "EPOCH"
          << "ENDPOINTS\n";
    auto j = nlohmann::json::parse(r.body, nullptr, false);
    if (j.is_discarded() || !j.contains("agents")) continue;
    for (const auto& a : j["agents"])
      out << std::left << std::setw(34) << r.from.str() << std::setw(34) << a.value("agent", "")
          << std::setw(22) << a.value("epoch", 0ull) << a.value("endpoints", 0) << '\n';
  }
  out << std::flush;
  if (c.code == core::errc{}) return 0;
  err << not_ok(c, timeout) << std::flush;
  return 1;
}

}  // namespace detail
}  // namespace ccp::app
