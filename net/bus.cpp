#include "net/bus.hpp"

#include "net/inproc_bus.hpp"
#include "net/nats_bus.hpp"

namespace ccp::net {

std::expected<std::shared_ptr<bus>, std::string> open_bus(std::string_view url, bus_options opts) {
  constexpr std::string_view inproc = "inproc://";
  // tls:// is NATS with TLS required (libnats reads the scheme; net/nats_url.hpp).
  if (url.starts_with("nats://") || url.starts_with("tls://"))
    return open_nats_bus(url, std::move(opts));
  if (url.starts_with(inproc)) {
    auto name = url.substr(inproc.size());
    if (name.empty()) {
      return std::unexpected("bus URL '" + std::string(url) + "': inproc:// needs a name");
    }
    return open_inproc_bus(name, opts);
  }
  return std::unexpected(
      "bus URL '" + std::string(url) +
      "': expected nats://host:port[,host:port...] (or tls://) or inproc://name");
}

}  // namespace ccp::net
