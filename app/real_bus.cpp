#include "app/real_bus.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <nlohmann/json.hpp>
#include <optional>
#include <stdexcept>
#include <thread>

#include "testkit/port.hpp"

namespace ccp::app {
namespace {

// GET http://127.0.0.1:port/path, each socket call bounded by 500 ms; the body, or nullopt
// when the server did not answer (yet).
std::optional<std::string> http_get(int port, const std::string& path) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return std::nullopt;
  timeval tv{0, 500'000};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<std::uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  std::string reply;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0) {
    const std::string req = "GET " + path + " HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n";
    if (::send(fd, req.data(), req.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(req.size())) {
      char buf[4096];
      for (ssize_t n; (n = ::recv(fd, buf, sizeof buf, 0)) > 0 && reply.size() < (1u << 20);)
        reply.append(buf, static_cast<std::size_t>(n));
    }
  }
  ::close(fd);
  const auto body = reply.find("\r\n\r\n");
  if (!reply.starts_with("HTTP/1.") || reply.find(" 200 ") == std::string::npos ||
      body == std::string::npos)
    return std::nullopt;
  return reply.substr(body + 4);
}

}  // namespace

real_bus::real_bus(int nodes, std::chrono::milliseconds bound) {
  if (nodes < 1) throw std::invalid_argument("real_bus: needs at least one node");
  if (nodes == 1) {
    servers_.push_back(std::make_unique<testkit::nats_server>());
    return;
  }
  std::vector<int> route_ports;
  for (int b = 0; b < nodes; ++b) {
    route_ports.push_back(testkit::free_port());
    monitor_ports_.push_back(testkit::free_port());
  }
  for (int b = 0; b < nodes; ++b) {
    // Every node names every other as a route (a full mesh at once, whichever starts
    // first); no_advertise keeps the clients' server lists the ones we give them. Options,
    // not a configuration file: a runner that is SIGKILLed leaves no file behind. The
    // monitoring port listens on the server's address (-a 127.0.0.1).
    std::string routes;
    for (int o = 0; o < nodes; ++o)
      if (o != b)
        routes += (routes.empty() ? "" : ",") + std::string("nats-route://127.0.0.1:") +
                  std::to_string(route_ports[static_cast<std::size_t>(o)]);
    servers_.push_back(std::make_unique<testkit::nats_server>(
        std::string(),
        std::vector<std::string>{
            "--server_name", "ccp-real-bus-" + std::to_string(b + 1), "-m",
            std::to_string(monitor_ports_[static_cast<std::size_t>(b)]), "--cluster",
            "nats://127.0.0.1:" + std::to_string(route_ports[static_cast<std::size_t>(b)]),
            "--cluster_name", "ccp-real", "--no_advertise=true", "--routes", routes}));
  }
  const auto until = std::chrono::steady_clock::now() + bound;
  while (!routes_up()) {
    if (std::chrono::steady_clock::now() > until)
      throw std::runtime_error("the NATS cluster of " + std::to_string(nodes) +
                               " nodes did not route every node to every other within " +
                               std::to_string(bound.count()) + " ms (/routez)");
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

real_bus::~real_bus() {
  if (paused_) resume();
  for (auto& s : servers_)
    s->stop();
}

std::string real_bus::url_for(int k) const {
  const int n = nodes();
  std::string url = "nats://";
  for (int i = 0; i < n; ++i)
    url += (i ? ",127.0.0.1:" : "127.0.0.1:") + std::to_string(port(((k % n) + i) % n));
  return url;
}

int real_bus::port(int b) const {
  return servers_.at(static_cast<std::size_t>(b))->port();
}

void real_bus::kill(int b) {
  servers_.at(static_cast<std::size_t>(b))->kill();
}

void real_bus::restart(int b) {
  servers_.at(static_cast<std::size_t>(b))->restart();
  if (paused_) servers_[static_cast<std::size_t>(b)]->pause();  // an outage holds it too
}

bool real_bus::running(int b) const {
  return servers_.at(static_cast<std::size_t>(b))->running();
}

void real_bus::restart_dead() {
  for (int b = 0; b < nodes(); ++b)
    if (!running(b)) restart(b);
}

void real_bus::pause() {
  for (auto& s : servers_)
    s->pause();
  paused_ = true;
}

void real_bus::resume() {
  for (auto& s : servers_)
    s->resume();
  paused_ = false;
}

bool real_bus::routes_up() const {
  int up = 0;
  for (const auto& s : servers_)
    up += s->running() ? 1 : 0;
  for (std::size_t b = 0; b < monitor_ports_.size(); ++b) {
    if (!servers_[b]->running()) continue;
    auto body = http_get(monitor_ports_[b], "/routez");
    if (!body) return false;
    auto j = nlohmann::json::parse(*body, nullptr, false);
    if (j.is_discarded() || j.value("num_routes", 0) < up - 1) return false;
  }
  return true;
}

}  // namespace ccp::app
