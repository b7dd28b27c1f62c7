// `ccp send` and `ccp request`: a notification, or a request whose replies are printed, sent
// by a transient management node on the backbone bus.
#include <chrono>
#include <cstdint>
#include <expected>
#include <functional>
#include <ostream>
#include <string>

#include "app/commands.hpp"
#include "app/net_common.hpp"
#include "app/options.hpp"
#include "core/address.hpp"
#include "net/daemons.hpp"

namespace ccp::app {

using detail::as_mgmt_client;
using detail::client_specs;
using detail::message_args_error;
using detail::parse_or_explain;
using detail::print_outcome;

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

}  // namespace ccp::app
