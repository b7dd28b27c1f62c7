#include "net/fleet.hpp"

#include <boost/asio/ip/address.hpp>

namespace ccp::net {

std::string local_fleet::agent_host(std::size_t i) {
  const std::size_t n = i + 1;
  return "10.0." + std::to_string(n / 256) + "." + std::to_string(n % 256);
}

std::expected<std::unique_ptr<local_fleet>, std::string> local_fleet::start(
    boost::asio::io_context& ioc, fleet_options opts) {
  auto f = std::make_unique<local_fleet>();
  f->opts_ = opts;
  auto addr = [](std::string text) -> std::expected<core::address, std::string> {
    auto a = core::address::parse(text);
    if (!a) return std::unexpected("'" + text + "': " + a.error().message());
    return *a;
  };

  mgmt_options mo;
  auto m = addr("ccp://mgmt/127.0.0.1/up");
  if (!m) return std::unexpected(m.error());
  mo.self = *m;
  mo.backbone = opts.backbone;
  mo.seed = opts.seed;
  auto mg = mgmt_service::start(ioc, std::move(mo));
  if (!mg) return std::unexpected(mg.error());
  f->mgmt_ = *mg;

  std::vector<std::string> urls;
  for (std::size_t i = 0; i < opts.proxies; ++i) {
    proxy_options po;
    auto p = addr("ccp://proxy/127.0.1." + std::to_string(i + 1) + "/p" + std::to_string(i + 1));
    if (!p) return std::unexpected(p.error());
    po.self = *p;
    po.listen = {boost::asio::ip::make_address("127.0.0.1"), 0};
    po.backbone = opts.backbone;
    po.secret = opts.token;
    po.seed = opts.seed * 1000 + i;
    auto ps = proxy_service::start(ioc, std::move(po));
    if (!ps) return std::unexpected(ps.error());
    urls.push_back("ws://127.0.0.1:" + std::to_string((*ps)->port()) + "/");
    f->proxies_.push_back(*ps);
  }

  for (std::size_t i = 0; i < opts.agents; ++i) {
    agent_options ao;
    auto a = addr("ccp://agent/" + agent_host(i) + "/agent");
    if (!a) return std::unexpected(a.error());
    ao.self = *a;
    // Spread the agents: each starts with a different proxy and fails over to the next.
    for (std::size_t k = 0; k < urls.size(); ++k)
      ao.proxies.push_back(urls[(i + k) % urls.size()]);
    ao.token = opts.token;
    ao.host_bus = opts.host_bus;
    for (std::size_t e = 0; e < opts.endpoints_per_agent; ++e)
      ao.endpoints.push_back("e" + std::to_string(e + 1));
    ao.seed = opts.seed * 1'000'003 + i;
    auto as = agent_service::start(ioc, std::move(ao));
    if (!as) return std::unexpected(as.error());
    f->agents_.push_back(*as);
  }
  return f;
}

void local_fleet::shutdown() {
  for (auto& a : agents_)
    a->shutdown();
  for (auto& p : proxies_)
    p->stop();
  mgmt_->shutdown();
}

}  // namespace ccp::net
