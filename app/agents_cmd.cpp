// `ccp agents`: asks every proxy which agents it holds, as a transient management node, and
// prints them, a table or JSON lines.
#include <functional>
#include <iomanip>
#include <nlohmann/json.hpp>
#include <ostream>

#include "app/commands.hpp"
#include "app/net_common.hpp"
#include "app/options.hpp"
#include "core/address.hpp"
#include "net/daemons.hpp"
#include "text/message_json.hpp"

namespace ccp::app {

using detail::as_mgmt_client;
using detail::client_specs;
using detail::parse_or_explain;

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

}  // namespace ccp::app
