// `ccp real-node`: one process of a `ccp real` run (app/real_cmd.cpp starts them). It hosts
// a scenario's mgmt node, a proxy, or a range of hosts (each host's agent, with its own
// websocket, and its endpoints on an in-process host bus), writes the trace
// (net/trace_hook.hpp), and runs its share of the workload items whose `from` is a role it
// hosts, on the run's clock: the runner writes the run's origin (CLOCK_MONOTONIC
// microseconds) to RUN_DIR/origin once the fleet is up.
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <charconv>
#include <chrono>
#include <fstream>
#include <memory>
#include <mutex>
#include <ostream>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "app/commands.hpp"
#include "app/real.hpp"
#include "net/daemons.hpp"
#include "net/link.hpp"
#include "net/trace_hook.hpp"
#include "sim/scenario.hpp"

namespace ccp::app {
namespace {

namespace asio = boost::asio;
using core::micros;

bool parse_int(std::string_view s, long long& out) {
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return !s.empty() && ec == std::errc{} && end == s.data() + s.size();
}

// One sender of the workload: what it sends as, and how to start a request or a
// notification on its strand.
struct sender {
  std::string self;
  std::function<void(std::function<void(core::node&, micros)>)> post;
};

struct node_args {
  std::string scenario, dir, trace, backbone, role;
  std::string host_bus = "inproc://real-hosts";
  std::string listen = "127.0.0.1";
  int index = 0, first = 0, last = 0, port = 0;
  std::vector<std::string> proxy_urls;
};

std::string urls_joined(const std::vector<std::string>& v) {
  std::string s;
  for (const auto& u : v)
    s += (s.empty() ? "" : ",") + u;
  return s;
}

}  // namespace

std::vector<std::string> real_node_argv(const std::string& self_exe, const real_node_spec& n) {
  std::vector<std::string> a = {self_exe,
                                "real-node",
                                n.scenario,
                                "--dir",
                                n.dir,
                                "--trace",
                                n.trace,
                                "--backbone",
                                n.backbone,
                                "--role",
                                n.role,
                                "--index",
                                std::to_string(n.index),
                                "--hosts",
                                std::to_string(n.first) + ".." + std::to_string(n.last),
                                "--port",
                                std::to_string(n.port),
                                "--host-bus",
                                n.host_bus,
                                "--listen",
                                n.listen};
  if (!n.proxy_urls.empty()) {
    a.push_back("--proxies");
    a.push_back(urls_joined(n.proxy_urls));
  }
  return a;
}

int real_node_main(std::span<const std::string_view> args, std::ostream& out, std::ostream& err) {
  if (args.empty() || args[0] == "--help") {
    out << "usage: ccp real-node SCENARIO --dir DIR --trace FILE --backbone URL\n"
           "           --role mgmt|proxy|hosts|agents|endpoints [--index N]\n"
           "           [--hosts A..B] [--port P] [--listen ADDRESS] [--proxies URL,...]\n"
           "           [--host-bus URL]\n"
           "One process of a `ccp real` run; started by `ccp real`, not by hand.\n";
    return args.empty() ? 2 : 0;
  }
  node_args a;
  a.scenario = std::string(args[0]);
  for (std::size_t i = 1; i < args.size(); ++i) {
    const std::string_view k = args[i];
    if (i + 1 >= args.size()) return err << "ccp real-node: " << k << " needs a value\n", 2;
    const std::string v(args[++i]);
    long long n = 0;
    if (k == "--dir") {
      a.dir = v;
    } else if (k == "--trace") {
      a.trace = v;
    } else if (k == "--backbone") {
      a.backbone = v;
    } else if (k == "--host-bus") {
      a.host_bus = v;
    } else if (k == "--listen") {
      a.listen = v;
    } else if (k == "--role") {
      a.role = v;
    } else if (k == "--index" && parse_int(v, n)) {
      a.index = static_cast<int>(n);
    } else if (k == "--port" && parse_int(v, n)) {
      a.port = static_cast<int>(n);
    } else if (k == "--hosts" && v.find("..") != std::string::npos) {
      long long lo = 0, hi = 0;
      if (!parse_int(std::string_view(v).substr(0, v.find("..")), lo) ||
          !parse_int(std::string_view(v).substr(v.find("..") + 2), hi))
        return err << "ccp real-node: --hosts " << v << ": expected A..B\n", 2;
      a.first = static_cast<int>(lo);
      a.last = static_cast<int>(hi);
    } else if (k == "--proxies") {
      std::size_t s = 0;
      while (s <= v.size()) {
        auto c = v.find(',', s);
        if (c == std::string::npos) c = v.size();
        if (c > s) a.proxy_urls.push_back(v.substr(s, c - s));
        s = c + 1;
      }
    } else {
      return err << "ccp real-node: bad option " << k << " " << v << "\n", 2;
    }
  }
  auto sc = sim::load_scenario(a.scenario);
  if (!sc) return err << "ccp real-node: " << sc.error() << "\n", 2;
  if (auto e = net::trace_file::open(a.trace, 0); !e.empty())
    return err << "ccp real-node: " << e << "\n", 1;

  asio::io_context ioc;
  const sim::topology& t = sc->topo;
  std::vector<sender> senders_mgmt, senders_proxy, senders_agent, senders_endpoint;
  std::shared_ptr<net::proxy_service> proxy;
  std::shared_ptr<net::mgmt_service> mgmt;
  std::vector<std::shared_ptr<net::agent_service>> agents;
  std::vector<std::shared_ptr<net::endpoint_service>> endpoints;
  // Attached agents of this process and the proxy URL each is on ("" when not attached),
  // each slot written on its agent's strand.
  std::unique_ptr<std::atomic<bool>[]> attached;
  std::mutex targets_mutex;
  std::vector<std::string> targets;
  auto must = [](std::string text) {
    auto p = core::address::parse(text);
    if (!p) throw std::runtime_error("real-node built a bad address " + text);
    return *p;
  };
  const std::uint64_t seed = sc->seed * 1'000'003 + static_cast<std::uint64_t>(a.index * 7919) +
                             static_cast<std::uint64_t>(a.first);

  if (a.role == "mgmt") {
    net::mgmt_options mo;
    mo.self = must(real_mgmt_address(a.index));
    mo.backbone = a.backbone;
    mo.seed = seed;
    auto m = net::mgmt_service::start(ioc, std::move(mo));
    if (!m) return err << "ccp real-node: " << m.error() << "\n", 1;
    mgmt = *m;
    senders_mgmt.push_back({mgmt->role().self().str(), [mgmt](auto f) {
                              mgmt->post([f](core::mgmt& r, micros now) { f(r, now); });
                            }});
  } else if (a.role == "proxy") {
    net::proxy_options po;
    po.self = must(real_proxy_address(a.index));
    boost::system::error_code bad;
    const auto listen = asio::ip::make_address(a.listen, bad);
    if (bad) return err << "ccp real-node: --listen " << a.listen << ": not an IP address\n", 2;
    po.listen = {listen, static_cast<std::uint16_t>(a.port)};
    po.backbone = a.backbone;
    po.secret = real_secret;
    po.seed = seed;
    auto p = net::proxy_service::start(ioc, std::move(po));
    if (!p) return err << "ccp real-node: " << p.error() << "\n", 1;
    proxy = *p;
    senders_proxy.push_back({proxy->role().self().str(), [proxy](auto f) {
                               proxy->post([f](core::proxy& r, micros now) { f(r, now); });
                             }});
  } else if (a.role == "hosts" || a.role == "agents" || a.role == "endpoints") {
    const int n = a.last - a.first;
    const bool with_agents = a.role != "endpoints", with_endpoints = a.role != "agents";
    if (n <= 0 || a.first < 0 || a.last > t.hosts || (with_agents && a.proxy_urls.empty()))
      return err << "ccp real-node: --hosts and --proxies do not fit the scenario\n", 2;
    if (with_agents) {
      attached = std::make_unique<std::atomic<bool>[]>(static_cast<std::size_t>(n));
      targets.assign(static_cast<std::size_t>(n), std::string());
    }
    for (int h = a.first; h < a.last; ++h) {
      const std::string host = real_host_name(h);
      if (with_agents) {
        net::agent_options ao;
        ao.self = must("ccp://agent/" + host + "/agent");
        const std::size_t p = a.proxy_urls.size();
        const std::size_t first = t.proxy_order == "rotate" ? static_cast<std::size_t>(h) % p : 0;
        for (std::size_t k = 0; k < p; ++k)
          ao.proxies.push_back(a.proxy_urls[(first + k) % p]);
        ao.shuffle = t.proxy_order == "shuffle";
        ao.token = real_secret;
        ao.host_bus = a.host_bus;
        ao.seed = seed + static_cast<std::uint64_t>(h) * 31;
        auto ag = net::agent_service::start(ioc, std::move(ao));
        if (!ag) return err << "ccp real-node: " << ag.error() << "\n", 1;
        agents.push_back(*ag);
        senders_agent.push_back({(*ag)->role().self().str(), [s = *ag](auto f) {
                                   s->post([f](core::agent& r, micros now) { f(r, now); });
                                 }});
      }
      for (int e = 0; with_endpoints && e < t.endpoints_per_host; ++e) {
        net::endpoint_options eo;
        eo.self = must("ccp://endpoint/" + host + "/e" + std::to_string(e + 1));
        eo.host_bus = a.host_bus;
        eo.seed = seed + static_cast<std::uint64_t>(h * 4099 + e);
        auto ep = net::endpoint_service::start(ioc, std::move(eo));
        if (!ep) return err << "ccp real-node: " << ep.error() << "\n", 1;
        endpoints.push_back(*ep);
        senders_endpoint.push_back({(*ep)->role().self().str(), [s = *ep](auto f) {
                                      s->post([f](core::endpoint& r, micros now) { f(r, now); });
                                    }});
      }
    }
  } else {
    return err << "ccp real-node: --role must be mgmt, proxy, hosts, agents or endpoints\n", 2;
  }

  // Stop: a proxy drains (its graceful stop), endpoints unregister, the rest leaves at once.
  asio::steady_timer stop_timer(ioc);
  asio::signal_set signals(ioc, SIGTERM, SIGINT);
  signals.async_wait([&](const boost::system::error_code& ec, int) {
    if (ec) return;
    if (proxy) {
      proxy->shutdown(std::chrono::seconds(10), [&ioc] { ioc.stop(); });
      return;
    }
    if (a.role == "endpoints") {
      // As the simulator stops a churned endpoint: it unregisters first.
      for (auto& e : endpoints)
        e->shutdown();
      stop_timer.expires_after(std::chrono::milliseconds(300));
      stop_timer.async_wait([&ioc](const boost::system::error_code&) { ioc.stop(); });
      return;
    }
    ioc.stop();
  });

  // The agents' attachment, sampled every 100 ms (as the simulator samples it) and traced
  // when it changes: {"t":..,"ev":"attached","n":K,"of":N,"first":HOST,"on":[URL or "",..]};
  // a mgmt node's directory likewise: {"t":..,"ev":"directory","n":HOSTS,"routes":[PROXY
  // address or "" for each host of the fleet]}.
  asio::strand<asio::io_context::executor_type> work_strand = asio::make_strand(ioc);
  asio::steady_timer sampler(work_strand);
  std::string last_line;
  auto last_directory = std::make_shared<std::string>();
  std::function<void()> sample = [&] {
    int count = 0;
    std::string on;
    {
      std::lock_guard lock(targets_mutex);
      for (std::size_t k = 0; k < agents.size(); ++k) {
        count += attached[k].load() ? 1 : 0;
        on += (k ? ",\"" : "\"") + targets[k] + "\"";
      }
    }
    for (std::size_t k = 0; k < agents.size(); ++k)
      agents[k]->post(
          [slot = &attached[k], target = &targets[k], &targets_mutex](core::agent& r, micros) {
            const bool up = r.status() == core::agent::link_status::up;
            slot->store(up);
            std::lock_guard lock(targets_mutex);
            *target = up ? r.proxy_target() : std::string();
          });
    std::string l = ",\"n\":" + std::to_string(count) + ",\"of\":" + std::to_string(agents.size()) +
                    ",\"first\":" + std::to_string(a.first) + ",\"on\":[" + on + "]}";
    if (!agents.empty() && l != last_line) {
      last_line = l;
      net::trace_file::write(net::trace_file::start("attached") + l);
    }
    if (mgmt)
      mgmt->post([last_directory, hosts = t.hosts](core::mgmt& r, micros) {
        const auto& dir = r.directory();
        std::string d = ",\"n\":" + std::to_string(dir.hosts()) + ",\"routes\":[";
        for (int h = 0; h < hosts; ++h) {
          const auto* route = dir.find(real_host_name(h));
          d += (h ? ",\"" : "\"") + (route ? route->proxy : std::string()) + "\"";
        }
        d += "]}";
        if (d == *last_directory) return;
        *last_directory = d;
        net::trace_file::write(net::trace_file::start("directory") + d);
      });
    sampler.expires_after(std::chrono::milliseconds(100));
    sampler.async_wait([&](const boost::system::error_code& ec) {
      if (!ec) sample();
    });
  };
  if (!agents.empty() || mgmt) sample();

  // The workload, once the runner wrote the origin: each item whose senders live here, at
  // the item's interval times the share of its role's nodes that are not here. Its timers
  // run on one strand (they share the generator).
  struct item_run {
    const sim::workload_item* item = nullptr;
    const std::vector<sender>* from = nullptr;
    micros every = 0, stop = 0;
    std::unique_ptr<asio::steady_timer> timer;
  };
  std::vector<item_run> runs;
  std::mt19937_64 rng(seed);
  micros origin = -1;
  asio::steady_timer origin_poll(work_strand);
  const auto started = std::chrono::steady_clock::now();
  std::function<void(item_run&, micros)> schedule = [&](item_run& run, micros at) {
    if (at >= run.stop) return;
    run.timer->expires_at(
        std::chrono::steady_clock::time_point(std::chrono::microseconds(origin + at)));
    run.timer->async_wait([&, at, r = &run](const boost::system::error_code& ec) {
      if (ec) return;
      const sender& s = (*r->from)[rng() % r->from->size()];
      std::string to = r->item->to;
      auto replace_all = [&to](std::string_view key, const std::string& value) {
        for (auto p = to.find(key); p != std::string::npos; p = to.find(key, p + value.size()))
          to.replace(p, key.size(), value);
      };
      if (to.find("{host}") != std::string::npos)
        replace_all("{host}", real_host_name(static_cast<int>(
                                  rng() % static_cast<std::uint64_t>(std::max(1, t.hosts)))));
      if (to.find("{ep}") != std::string::npos)
        replace_all("{ep}", "e" + std::to_string(1 + rng() % static_cast<std::uint64_t>(std::max(
                                                                 1, t.endpoints_per_host))));
      if (auto addr = core::address::parse(to)) {
        s.post([addr = *addr, item = r->item, self_text = s.self](core::node& n, micros now) {
          if (item->request) {
            auto id = n.request(addr, item->type, "{}", item->timeout, now);
            if (!id) return;
            // Written before the role acts: the send precedes its outcome in the file.
            net::trace_file::write(net::trace_file::start("send") + ",\"at\":\"" + self_text +
                                   "\",\"id\":" + std::to_string(*id) + ",\"to\":\"" + addr.str() +
                                   "\"}");
          } else if (n.send(addr, item->type, "{}", now)) {
            net::trace_file::write(net::trace_file::start("notify") + ",\"at\":\"" + self_text +
                                   "\"}");
          }
        });
      }
      schedule(*r, at + r->every);
    });
  };
  auto start_workload = [&] {
    runs.reserve(sc->workload.size());
    for (const sim::workload_item& item : sc->workload) {
      const std::vector<sender>* from = item.from == "mgmt"    ? &senders_mgmt
                                        : item.from == "proxy" ? &senders_proxy
                                        : item.from == "agent" ? &senders_agent
                                                               : &senders_endpoint;
      if (from->empty()) continue;
      const double role_nodes = item.from == "mgmt"    ? t.mgmt
                                : item.from == "proxy" ? t.proxies
                                : item.from == "agent" ? t.hosts
                                                       : double(t.hosts) * t.endpoints_per_host;
      item_run& run = runs.emplace_back();
      run.item = &item;
      run.from = from;
      run.every = std::max<micros>(
          1, static_cast<micros>(double(item.every) * role_nodes / double(from->size())));
      run.stop = item.stop < 0 ? sc->duration : std::min(item.stop, sc->duration);
      run.timer = std::make_unique<asio::steady_timer>(work_strand);
      // The first send at or after now on the item's grid (a restarted process joins late).
      const micros now = net::now_micros() - origin;
      micros next = item.start;
      if (now > next) next += ((now - next) / run.every + 1) * run.every;
      schedule(run, next);
    }
  };
  std::function<void()> poll_origin = [&] {
    std::ifstream in(a.dir + "/origin");
    long long v = 0;
    if (in >> v) {
      origin = v;
      start_workload();
      return;
    }
    // Bounded: a runner that never says go is gone (the parent-death signal stops us too).
    if (std::chrono::steady_clock::now() - started > std::chrono::minutes(10)) {
      ioc.stop();
      return;
    }
    origin_poll.expires_after(std::chrono::milliseconds(20));
    origin_poll.async_wait([&](const boost::system::error_code& ec) {
      if (!ec) poll_origin();
    });
  };
  poll_origin();

  std::thread second([&ioc] { ioc.run(); });
  ioc.run();
  second.join();
  return 0;
}

}  // namespace ccp::app
