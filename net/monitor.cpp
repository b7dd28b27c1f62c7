#include "net/monitor.hpp"

#include <dirent.h>
#include <unistd.h>

#include <atomic>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <cstdio>
#include <mutex>
#include <string_view>

#include "net/listen.hpp"

namespace ccp::net {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

constexpr auto awaitable_ec = asio::as_tuple(asio::use_awaitable);
// A scraper that sends nothing, or reads nothing, is dropped after this long.
constexpr auto request_timeout = std::chrono::seconds(10);

void escape_label(std::string& out, std::string_view v) {
  for (char c : v) {
    if (c == '\\' || c == '"') {
      out += '\\';
      out += c;
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
}

// Writes one family: HELP, TYPE, then a sample per service (`value` returns the number and
// may add labels after self and role).
class writer {
 public:
  explicit writer(std::string& out) : out_(out) {}
  void family(std::string_view name, std::string_view type, std::string_view help) {
    out_.append("# HELP ").append(name).append(" ").append(help).append("\n");
    out_.append("# TYPE ").append(name).append(" ").append(type).append("\n");
  }
  void sample(std::string_view name, const service_sample* s,
              std::initializer_list<std::pair<std::string_view, std::string_view>> labels,
              double value) {
    out_.append(name);
    bool first = true;
    auto label = [&](std::string_view k, std::string_view v) {
      out_ += first ? '{' : ',';
      first = false;
      out_.append(k).append("=\"");
      escape_label(out_, v);
      out_ += '"';
    };
    if (s) {
      label("self", s->self);
      label("role", s->role);
    }
    for (const auto& [k, v] : labels)
      label(k, v);
    if (!first) out_ += '}';
    char buf[32];
    std::snprintf(buf, sizeof buf, " %.17g\n", value);
    out_.append(buf);
  }

 private:
  std::string& out_;
};

double u(std::uint64_t v) {
  return static_cast<double>(v);
}

// Resident set size from /proc/self/statm (pages), and the open descriptors in /proc/self/fd.
std::uint64_t resident_bytes() {
  std::FILE* f = std::fopen("/proc/self/statm", "r");
  if (!f) return 0;
  unsigned long long size = 0, resident = 0;
  const int n = std::fscanf(f, "%llu %llu", &size, &resident);
  std::fclose(f);
  if (n != 2) return 0;
  return resident * static_cast<std::uint64_t>(sysconf(_SC_PAGESIZE));
}

std::uint64_t open_fds() {
  DIR* d = opendir("/proc/self/fd");
  if (!d) return 0;
  std::uint64_t n = 0;
  while (const dirent* e = readdir(d))
    if (e->d_name[0] != '.') ++n;
  closedir(d);
  return n > 0 ? n - 1 : 0;  // not the descriptor of the directory being read
}

}  // namespace

std::string buses_not_ready(const service_metrics& m) {
  std::string why;
  for (std::size_t i = 0; i < m.bus.size(); ++i) {
    if (m.bus[i].load() != bus_health::down) continue;
    if (!why.empty()) why += "; ";
    why += i == static_cast<std::size_t>(core::bus_kind::backbone) ? "backbone" : "host bus";
    why += " disconnected";
  }
  return why;
}

std::string render_metrics(const std::vector<service_sample>& samples) {
  std::string out;
  out.reserve(4096 + samples.size() * 4096);
  writer w(out);
  const auto per_service = [&](std::string_view name, std::string_view type, std::string_view help,
                               auto value) {
    w.family(name, type, help);
    for (const auto& s : samples)
      w.sample(name, &s, {}, value(s));
  };

  w.family("ccp_frames_total", "counter", "Frames through the role's host, by path.");
  for (const auto& s : samples)
    for (std::size_t p = 0; p < path_count; ++p)
      w.sample("ccp_frames_total", &s, {{"path", to_string(static_cast<path>(p))}},
               u(s.metrics->frames[p].get()));
  w.family("ccp_bytes_total", "counter", "Frame bytes through the role's host, by path.");
  for (const auto& s : samples)
    for (std::size_t p = 0; p < path_count; ++p)
      w.sample("ccp_bytes_total", &s, {{"path", to_string(static_cast<path>(p))}},
               u(s.metrics->bytes[p].get()));
  w.family("ccp_request_outcomes_total", "counter",
           "Requests of the service's application that ended, by outcome.");
  for (const auto& s : samples)
    for (std::size_t c = 0; c < s.metrics->outcomes.size(); ++c)
      w.sample("ccp_request_outcomes_total", &s,
               {{"outcome", c == 0 ? "ok" : core::to_string(static_cast<core::errc>(c))}},
               u(s.metrics->outcomes[c].get()));
  w.family("ccp_refusals_total", "counter",
           "Agents turned away: at the websocket upgrade (proxy) or at the hello, by reason.");
  for (const auto& s : samples) {
    for (std::size_t r = 0; r < upgrade_refusal_count; ++r)
      w.sample("ccp_refusals_total", &s,
               {{"stage", "upgrade"}, {"reason", to_string(static_cast<upgrade_refusal>(r))}},
               u(s.metrics->upgrade_refusals[r].get()));
    for (std::size_t c = 1; c < s.metrics->hello_refusals.size(); ++c)
      w.sample("ccp_refusals_total", &s,
               {{"stage", "hello"}, {"reason", core::to_string(static_cast<core::errc>(c))}},
               u(s.metrics->hello_refusals[c].get()));
  }
  per_service("ccp_dials_total", "counter", "Links dialled (an agent's connects and reconnects).",
              [](const service_sample& s) { return u(s.metrics->dials.get()); });
  per_service("ccp_dial_failures_total", "counter", "Dials that never came up.",
              [](const service_sample& s) { return u(s.metrics->dial_failures.get()); });
  per_service("ccp_attaches_total", "counter", "Links whose hello was welcomed.",
              [](const service_sample& s) { return u(s.metrics->attaches.get()); });
  per_service("ccp_links_lost_total", "counter",
              "Links that went down without their role closing them.",
              [](const service_sample& s) { return u(s.metrics->links_lost.get()); });
  per_service("ccp_links_closed_total", "counter",
              "Links the role closed (detach, fenced, idle, goodbye).",
              [](const service_sample& s) { return u(s.metrics->links_closed.get()); });
  per_service("ccp_bus_disconnects_total", "counter", "Bus connection losses.",
              [](const service_sample& s) { return u(s.metrics->bus_disconnects.get()); });
  per_service("ccp_delivered_total", "counter",
              "Requests and notifications handed to the application.",
              [](const service_sample& s) { return u(s.snap.stats.delivered); });
  per_service("ccp_requests_completed_total", "counter", "Requests of this node that ended.",
              [](const service_sample& s) { return u(s.snap.stats.completed); });
  per_service("ccp_forwarded_total", "counter", "Frames routed on for others.",
              [](const service_sample& s) { return u(s.snap.stats.forwarded); });
  per_service("ccp_errors_sent_total", "counter", "Error replies this node generated.",
              [](const service_sample& s) { return u(s.snap.stats.errors_sent); });
  per_service("ccp_dropped_total", "counter",
              "Frames discarded (late replies, malformed, no route).",
              [](const service_sample& s) { return u(s.snap.stats.dropped); });
  per_service("ccp_malformed_total", "counter", "Frames rejected by the codec.",
              [](const service_sample& s) { return u(s.snap.stats.malformed); });
  per_service("ccp_cut_offs_total", "counter",
              "Times a proxy stopped hearing its own heartbeats on the backbone.",
              [](const service_sample& s) { return u(s.snap.stats.cut_offs); });
  per_service("ccp_balance_moves_total", "counter",
              "Agents a proxy asked to move to another proxy for balance (ccp.move).",
              [](const service_sample& s) { return u(s.snap.stats.moves_asked); });
  per_service("ccp_balance_moved_away_total", "counter",
              "Agents asked to move for balance that attached to the other proxy.",
              [](const service_sample& s) { return u(s.snap.stats.moved_away); });
  per_service("ccp_balance_received_total", "counter",
              "Agents that attached to this proxy on a move for balance naming it.",
              [](const service_sample& s) { return u(s.snap.stats.moves_received); });
  per_service("ccp_links", "gauge", "Open links.",
              [](const service_sample& s) { return u(s.snap.links); });
  per_service("ccp_attached_links", "gauge",
              "Links whose hello was welcomed: attached agents (proxy), 0 or 1 (agent).",
              [](const service_sample& s) { return u(s.snap.attached); });
  per_service("ccp_link_queued_frames", "gauge", "Frames queued on all links, not yet written.",
              [](const service_sample& s) { return u(s.snap.queued); });
  per_service("ccp_link_queued_frames_max", "gauge", "The most frames queued on one link.",
              [](const service_sample& s) { return u(s.snap.queued_max); });
  per_service("ccp_pending_requests", "gauge", "Requests of the application in flight.",
              [](const service_sample& s) { return u(s.snap.pending_requests); });
  per_service("ccp_cut_off", "gauge", "1 while a proxy is cut off from the backbone.",
              [](const service_sample& s) { return s.snap.cut_off ? 1.0 : 0.0; });
  per_service("ccp_ready", "gauge", "1 when the service is ready (/readyz), else 0.",
              [](const service_sample& s) { return s.not_ready.empty() ? 1.0 : 0.0; });
  w.family("ccp_bus_up", "gauge", "1 while the bus connection is up, 0 while it is down.");
  for (const auto& s : samples)
    for (std::size_t b = 0; b < s.metrics->bus.size(); ++b) {
      const bus_health h = s.metrics->bus[b].load();
      if (h == bus_health::unused) continue;
      w.sample(
          "ccp_bus_up", &s,
          {{"bus", b == static_cast<std::size_t>(core::bus_kind::backbone) ? "backbone" : "host"}},
          h == bus_health::up ? 1.0 : 0.0);
    }
  w.family("process_resident_memory_bytes", "gauge", "Resident memory size in bytes.");
  w.sample("process_resident_memory_bytes", nullptr, {}, u(resident_bytes()));
  w.family("process_open_fds", "gauge", "Number of open file descriptors.");
  w.sample("process_open_fds", nullptr, {}, u(open_fds()));
  return out;
}

namespace {

class monitor_impl final : public monitor, public std::enable_shared_from_this<monitor_impl> {
 public:
  monitor_impl(asio::io_context& ioc, tcp::endpoint at)
      : ioc_(ioc), acceptor_(asio::make_strand(ioc)), at_(at) {}

  std::expected<void, std::string> open() {
    auto port = listen_at(acceptor_, at_, "monitor");
    if (!port) return std::unexpected(std::move(port.error()));
    port_ = *port;
    return {};
  }

  void accept() {
    auto self = shared_from_this();
    accept_with_retry(
        self, ioc_, acceptor_, retry_, std::chrono::milliseconds(100),
        [this](tcp::socket s) {
          auto ex = s.get_executor();
          asio::co_spawn(ex, serve(std::move(s)), asio::detached);
        },
        [](const beast::error_code&) {});
  }

  void add(monitored m) override {
    std::lock_guard lock(mu_);
    services_.push_back(std::move(m));
  }
  [[nodiscard]] std::uint16_t port() const override { return port_; }
  void close() override {
    asio::post(acceptor_.get_executor(), [self = shared_from_this()] {
      beast::error_code ignored;
      self->acceptor_.close(ignored);
    });
  }

 private:
  // Reads every service on its own strand; `done` runs on `ex` with the samples.
  template <class Executor>
  void gather(Executor ex, std::function<void(std::vector<service_sample>)> done) {
    std::vector<monitored> ms;
    {
      std::lock_guard lock(mu_);
      ms = services_;
    }
    struct state {
      std::vector<service_sample> samples;
      std::atomic<std::size_t> left;
      std::function<void(std::vector<service_sample>)> done;
    };
    auto st = std::make_shared<state>();
    st->samples.resize(ms.size());
    st->left.store(ms.size());
    st->done = std::move(done);
    if (ms.empty()) {
      asio::post(ex, [st] { st->done({}); });
      return;
    }
    for (std::size_t i = 0; i < ms.size(); ++i) {
      auto h = ms[i].host;
      asio::post(h->executor(), [st, i, ex, m = std::move(ms[i])] {
        service_sample& s = st->samples[i];
        s.self = m.host->self();
        s.role = m.role;
        s.snap = m.host->snapshot();
        s.metrics = m.host->metrics();
        s.not_ready = m.not_ready ? m.not_ready(s.snap) : buses_not_ready(*s.metrics);
        if (st->left.fetch_sub(1, std::memory_order_acq_rel) == 1)
          asio::post(ex, [st] { st->done(std::move(st->samples)); });
      });
    }
  }

  // gather() as an awaitable: resumes on `ex` with the samples.
  template <class Executor>
  auto async_gather(Executor ex, std::vector<service_sample>& out) {
    return asio::async_initiate<decltype(awaitable_ec), void(beast::error_code)>(
        [this, ex, &out](auto handler) {
          auto h = std::make_shared<decltype(handler)>(std::move(handler));
          gather(ex, [h, &out](std::vector<service_sample> samples) {
            out = std::move(samples);
            (*h)(beast::error_code{});
          });
        },
        awaitable_ec);
  }

  asio::awaitable<void> serve(tcp::socket socket) {
    beast::tcp_stream stream(std::move(socket));
    beast::flat_buffer buf;
    auto ex = co_await asio::this_coro::executor;
    for (;;) {
      http::request<http::empty_body> req;
      stream.expires_after(request_timeout);
      auto [ec, n] = co_await http::async_read(stream, buf, req, awaitable_ec);
      if (ec) co_return;
      http::response<http::string_body> res{http::status::ok, req.version()};
      res.keep_alive(req.keep_alive());
      res.set(http::field::content_type, "text/plain; charset=utf-8");
      const std::string_view target = req.target();
      const std::string_view path = target.substr(0, target.find('?'));
      if (req.method() != http::verb::get && req.method() != http::verb::head) {
        res.result(http::status::method_not_allowed);
        res.body() = "GET only\n";
      } else if (path == "/healthz") {
        res.body() = "ok\n";
      } else if (path == "/metrics" || path == "/readyz") {
        // Hop to each role's strand and back: the scrape never blocks a strand.
        std::vector<service_sample> samples;
        auto [wait_ec] = co_await async_gather(ex, samples);
        (void)wait_ec;
        if (path == "/metrics") {
          res.set(http::field::content_type, "text/plain; version=0.0.4; charset=utf-8");
          res.body() = render_metrics(samples);
        } else {
          std::string why;
          for (const auto& s : samples)
            if (!s.not_ready.empty()) why += s.self + ": " + s.not_ready + "\n";
          if (why.empty()) {
            res.body() = "ready\n";
          } else {
            res.result(http::status::service_unavailable);
            res.body() = why;
          }
        }
      } else {
        res.result(http::status::not_found);
        res.body() = "not found: try /metrics, /healthz or /readyz\n";
      }
      res.prepare_payload();
      auto [wec, wn] = co_await http::async_write(stream, res, awaitable_ec);
      if (wec || !res.keep_alive()) break;
    }
    beast::error_code ignored;
    stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
  }

  asio::io_context& ioc_;
  tcp::acceptor acceptor_;
  asio::steady_timer retry_{acceptor_.get_executor()};
  tcp::endpoint at_;
  std::uint16_t port_ = 0;
  std::mutex mu_;
  std::vector<monitored> services_;  // guarded by mu_
};

}  // namespace

std::expected<std::shared_ptr<monitor>, std::string> monitor::start(asio::io_context& ioc,
                                                                    tcp::endpoint at) {
  auto m = std::make_shared<monitor_impl>(ioc, at);
  if (auto r = m->open(); !r) return std::unexpected(r.error());
  m->accept();
  return m;
}

}  // namespace ccp::net
