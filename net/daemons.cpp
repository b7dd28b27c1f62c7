#include "net/daemons.hpp"

#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <optional>
#include <string>

#include "core/subject.hpp"
#include "net/monitor.hpp"

namespace ccp::net {
namespace {

namespace asio = boost::asio;

}  // namespace

// The application of a service (on its host's strand): reports what it receives, answers
// as the sample application does when it has one (endpoints), and hands each of its
// requests' outcomes to whoever waits for it.
class service_app final : public host::application {
 public:
  using done_fn = std::function<void(core::act::complete&)>;

  void deliver(core::node& role, const core::message& m, core::micros now) override {
    if (on_message) on_message(m);
    if (sample) sample->deliver(role, m, now);
  }
  void ready(core::node&, core::micros) override { said(ready_, on_ready_); }
  void drained(core::node&, core::micros) override { said(drained_, on_drained_); }
  // Runs `f` once the role said ready (drained): at once when it already did.
  void when_ready(std::function<void()> f) { once(ready_, on_ready_, std::move(f)); }
  void when_drained(std::function<void()> f) { once(drained_, on_drained_, std::move(f)); }

  void complete(core::node&, core::act::complete& c, core::micros) override {
    const auto code = static_cast<std::size_t>(c.code);
    if (metrics && code < metrics->outcomes.size()) metrics->outcomes[code].bump();
    auto it = waiting_.find(c.request);
    if (it == waiting_.end()) return;
    auto done = std::move(it->second);
    waiting_.erase(it);
    done(c);
  }
  // Starts a request of the role; `done` runs once with its outcome (at once when the role
  // refuses to send it).
  void request(core::node& role, const core::address& to, std::string_view type, std::string body,
               core::micros timeout, core::micros now, done_fn done) {
    auto id = role.request(to, type, std::move(body), timeout, now);
    if (!id) {
      core::act::complete c{0, id.error(), {}};
      done(c);
      return;
    }
    waiting_[*id] = std::move(done);
  }

  std::function<void(const core::message&)> on_message;  // may be empty
  std::optional<host::sample_app> sample;
  std::shared_ptr<service_metrics> metrics;  // counts outcomes; may be null
  [[nodiscard]] bool is_ready() const noexcept { return ready_; }

 private:
  using waiters = std::vector<std::function<void()>>;
  static void said(bool& flag, waiters& w) {
    flag = true;
    for (auto& f : std::exchange(w, {}))
      f();
  }
  static void once(bool flag, waiters& w, std::function<void()> f) {
    if (flag)
      f();
    else
      w.push_back(std::move(f));
  }

  std::map<std::uint64_t, done_fn> waiting_;
  bool ready_ = false, drained_ = false;
  waiters on_ready_, on_drained_;
};

namespace {

// Every service runs as one concrete address of its own role: the reason when `self` is not.
std::optional<std::string> not_concrete(const core::address& self, core::role r) {
  if (self.type() == r && !self.is_group()) return std::nullopt;
  return "'" + self.str() + "' is not a concrete " + std::string(core::to_string(r)) + " address";
}

// Bus options that log connection changes ("bus disconnected self=... bus=backbone") and
// keep the bus's state in `metrics`. The first connect is logged at debug only (the caller
// says it started; clients' output stays clean).
bus_options logged_bus(asio::io_context& ioc, std::string name, core::bus_kind kind,
                       const std::shared_ptr<service_metrics>& metrics) {
  bus_options o;
  o.name = name;
  o.state_executor = ioc.get_executor();
  o.io_executor = ioc.get_executor();
  metrics->bus[static_cast<std::size_t>(kind)].store(bus_health::up);
  o.on_state = [name, kind, m = metrics](bus_state s, std::string_view detail) {
    static constexpr std::string_view events[] = {"bus connected", "bus disconnected",
                                                  "bus reconnected", "bus closed"};
    const bool up = s == bus_state::connected || s == bus_state::reconnected;
    m->bus[static_cast<std::size_t>(kind)].store(up ? bus_health::up : bus_health::down);
    if (!up) m->bus_disconnects.add();
    log(s == bus_state::connected     ? log_level::debug
        : s == bus_state::reconnected ? log_level::info
                                      : log_level::warn,
        events[static_cast<int>(s)],
        {{"self", name},
         {"bus", kind == core::bus_kind::backbone ? "backbone" : "host"},
         {up ? "server" : "reason", detail}});
  };
  return o;
}

}  // namespace

bool token_verifier::verify(const core::address& agent, std::string_view token) const {
  if (open()) return true;
  // The table is looked up by the agent's name (not secret); tokens are compared in
  // constant time. A host's token claims that host only.
  if (!secret_.empty() && core::same_secret(token, secret_)) return true;
  const auto t = tokens();
  if (auto it = t->find(agent.str()); it != t->end()) return core::same_secret(token, it->second);
  if (auto it = t->find(std::string(agent.host())); it != t->end())
    return core::same_secret(token, it->second);
  return false;
}

std::shared_ptr<const token_verifier::table> token_verifier::tokens() const {
  std::lock_guard lock(mu_);
  return tokens_;
}

void token_verifier::replace(table tokens) {
  auto t = std::make_shared<const table>(std::move(tokens));
  std::lock_guard lock(mu_);
  tokens_ = std::move(t);
}

std::size_t token_verifier::size() const {
  return tokens()->size();
}

std::expected<std::shared_ptr<bus>, std::string> open_host_bus(
    asio::io_context& ioc, std::string_view url, std::string_view host, std::string_view name,
    const nats_auth& auth, std::shared_ptr<service_metrics> metrics) {
  if (!metrics) metrics = std::make_shared<service_metrics>();
  bus_options o = logged_bus(ioc, std::string(name), core::bus_kind::host, metrics);
  o.auth = auth;
  o.prefix = "h.";
  core::append_host_token(host, o.prefix);
  o.prefix += '.';
  return open_bus(url, std::move(o));
}

std::expected<std::shared_ptr<asio::ssl::context>, std::string> server_tls(
    const std::string& cert_file, const std::string& key_file) {
  auto ctx = std::make_shared<asio::ssl::context>(asio::ssl::context::tls_server);
  boost::system::error_code ec;
  ctx->set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
                       asio::ssl::context::no_sslv3 | asio::ssl::context::no_tlsv1 |
                       asio::ssl::context::no_tlsv1_1,
                   ec);
  if (ctx->use_certificate_chain_file(cert_file, ec); ec)
    return std::unexpected("certificate '" + cert_file + "': " + ec.message());
  if (ctx->use_private_key_file(key_file, asio::ssl::context::pem, ec); ec)
    return std::unexpected("key '" + key_file + "': " + ec.message());
  return ctx;
}

std::expected<std::shared_ptr<asio::ssl::context>, std::string> client_tls(
    const std::string& ca_file) {
  auto ctx = std::make_shared<asio::ssl::context>(asio::ssl::context::tls_client);
  boost::system::error_code ec;
  if (ca_file.empty()) {
    ctx->set_default_verify_paths(ec);
  } else {
    ctx->load_verify_file(ca_file, ec);
  }
  if (ec) return std::unexpected("CA file '" + ca_file + "': " + ec.message());
  ctx->set_verify_mode(asio::ssl::verify_peer);
  return ctx;
}

// ---- proxy

namespace {

// Logs a proxy's rebalancing after the timer turn that did it: each round that asked agents
// to move (which, to where, why, and the loads behind it), and the asked agents that have
// since attached elsewhere. The counts are also on /metrics (ccp_balance_*).
std::function<void(const core::node&)> move_logger(std::string self) {
  return [self = std::move(self), asked_seen = std::uint64_t{0},
          away_seen = std::uint64_t{0}](const core::node& n) mutable {
    const core::node_stats& st = n.stats();
    if (st.moves_asked != asked_seen) {
      asked_seen = st.moves_asked;
      const auto& r = static_cast<const core::proxy&>(n).last_rebalance();
      std::string agents;
      for (const auto& a : r.agents)
        agents += (agents.empty() ? "" : ",") + a.str();
      log(log_level::info, "rebalancing: agents asked to move",
          {{"self", self},
           {"to", r.to},
           {"reason", r.why},
           {"count", std::to_string(r.agents.size())},
           {"agents", agents},
           {"hosts", std::to_string(r.mine)},
           {"target_hosts", std::to_string(r.target_hosts)},
           {"fair", std::to_string(r.fair)},
           {"proxies", std::to_string(r.proxies)}});
    }
    if (st.moved_away != away_seen) {
      log(log_level::info, "rebalancing: asked agents attached elsewhere",
          {{"self", self},
           {"count", std::to_string(st.moved_away - away_seen)},
           {"total", std::to_string(st.moved_away)}});
      away_seen = st.moved_away;
    }
  };
}

}  // namespace

std::expected<std::shared_ptr<proxy_service>, std::string> proxy_service::start(
    asio::io_context& ioc, proxy_options opts) {
  if (auto e = not_concrete(opts.self, core::role::proxy)) return std::unexpected(std::move(*e));
  auto s = std::make_shared<proxy_service>();
  s->ioc_ = &ioc;
  auto bo = logged_bus(ioc, opts.self.str(), core::bus_kind::backbone, s->metrics_);
  bo.auth = opts.backbone_auth;
  auto backbone = open_bus(opts.backbone, std::move(bo));
  if (!backbone) return std::unexpected(backbone.error());
  s->verifier_ = std::make_unique<token_verifier>(opts.tokens, opts.secret, opts.tokens_file);
  auto app = std::make_unique<service_app>();
  app->metrics = s->metrics_;
  s->app_ = app.get();
  s->host_role(ioc, std::make_unique<core::proxy>(opts.self, opts.seed, *s->verifier_), *backbone,
               nullptr, std::move(app));
  s->host_->after_tick(move_logger(opts.self.str()));
  ws_server_options wo;
  wo.at = opts.listen;
  wo.name = opts.self.str();
  wo.metrics = s->metrics_;
  if (!opts.cert.empty() || !opts.key.empty()) {
    auto tls = server_tls(opts.cert, opts.key);
    if (!tls) return std::unexpected(tls.error());
    wo.tls = *tls;
  }
  const token_verifier* v = s->verifier_.get();
  wo.authorize = [v](std::string_view agent, std::string_view token) {
    if (v->open()) return true;
    auto a = core::address::parse(agent);
    return a && a->type() == core::role::agent && v->verify(*a, token);
  };
  auto l = listen_ws(ioc, std::move(wo), s->host_);
  if (!l) return std::unexpected(l.error());
  s->listener_ = *l;
  s->host_->handle(core::in::start{});
  return s;
}

monitored proxy_service::monitoring() {
  return {"proxy", host_,
          [self = shared_from_this()](const role_host::snapshot_t& snap) -> std::string {
            if (self->draining()) return "draining";
            if (snap.cut_off) return "cut off from the backbone";
            return buses_not_ready(*self->metrics_);
          }};
}

monitored endpoint_service::monitoring() {
  // Its role's view of its agent: gone after core::agent_silence without a word from it.
  return {"endpoint", host_,
          [self = shared_from_this()](const role_host::snapshot_t&) -> std::string {
            if (auto why = buses_not_ready(*self->metrics_); !why.empty()) return why;
            switch (self->role().state()) {
              case core::endpoint::status::registered:
                return "";
              case core::endpoint::status::agent_gone:
                return "its agent is gone (silent for " +
                       std::to_string(core::agent_silence / core::ms) + " ms)";
              case core::endpoint::status::rejected:
                return "its address is held by another live instance";
              default:
                return "not registered with its agent";
            }
          }};
}

monitored agent_service::monitoring() {
  return {"agent", host_, [m = metrics_](const role_host::snapshot_t& snap) -> std::string {
            if (auto why = buses_not_ready(*m); !why.empty()) return why;
            return snap.attached == 0 ? "not attached to a proxy" : "";
          }};
}

monitored mgmt_service::monitoring() {
  return {"mgmt", host_, [m = metrics_, app = app_](const role_host::snapshot_t&) -> std::string {
            if (auto why = buses_not_ready(*m); !why.empty()) return why;
            return app->is_ready() ? "" : "route directory not complete yet";
          }};
}

std::size_t proxy_service::reload_tokens(token_verifier::table tokens) {
  verifier_->replace(std::move(tokens));
  return verifier_->size();
}

void proxy_service::shutdown(std::chrono::milliseconds bound, std::function<void()> done) {
  listener_->close();
  // Ends once the role says it is drained (no link left) or `bound` passed, whichever is
  // first; both run on the strand.
  auto finished = std::make_shared<bool>(false);
  auto finish = [this, finished, done = std::move(done)]() mutable {
    if (*finished) return;
    *finished = true;
    host_->stop();
    if (done) asio::post(*ioc_, std::move(done));
  };
  auto timer = std::make_shared<asio::steady_timer>(host_->executor());
  draining_.store(true);
  host_->post([app = app_, finish, h = host_.get()](core::node&, core::micros) {
    log(log_level::info, "drain started: agents told to move",
        {{"self", h->self()}, {"agents", std::to_string(h->snapshot().attached)}});
    app->when_drained([finish, h]() mutable {
      log(log_level::info, "drain ended: no agent left", {{"self", h->self()}});
      finish();
    });
  });
  host_->handle(core::in::stop{});  // a proxy's graceful stop is its drain
  timer->expires_after(bound);
  timer->async_wait([timer, finish, finished, h = host_](boost::system::error_code ec) mutable {
    if (!ec && !*finished)
      log(log_level::warn, "drain cut short: agents still attached",
          {{"self", h->self()}, {"agents", std::to_string(h->snapshot().attached)}});
    finish();
  });
}

void proxy_service::stop() {
  listener_->close();
  host_->stop();
}

// ---- endpoint

std::expected<std::shared_ptr<endpoint_service>, std::string> endpoint_service::start(
    asio::io_context& ioc, endpoint_options opts) {
  if (auto e = not_concrete(opts.self, core::role::endpoint)) return std::unexpected(std::move(*e));
  auto s = std::make_shared<endpoint_service>();
  auto hb = open_host_bus(ioc, opts.host_bus, opts.self.host(), opts.self.str(), opts.host_bus_auth,
                          s->metrics_);
  if (!hb) return std::unexpected(hb.error());
  auto app = std::make_unique<service_app>();
  app->metrics = s->metrics_;
  app->on_message = std::move(opts.on_message);
  app->sample.emplace(std::move(opts.answers));
  auto role = std::make_unique<core::endpoint>(opts.self, opts.seed);
  app->sample->serve_on(*role);
  s->app_ = app.get();
  s->host_role(ioc, std::move(role), nullptr, *hb, std::move(app));
  s->host_->handle(core::in::start{});
  return s;
}

void endpoint_service::request(core::address to, std::string type, std::string body,
                               core::micros timeout,
                               std::function<void(core::act::complete&)> done) {
  host_->post([app = app_, to = std::move(to), type = std::move(type), body = std::move(body),
               timeout, done = std::move(done)](core::node& n, core::micros now) mutable {
    app->request(n, to, type, std::move(body), timeout, now, std::move(done));
  });
}

void endpoint_service::shutdown() {
  host_->post([](core::node& e, core::micros) { e.abort_pending(core::errc::shutting_down); });
  host_->handle(core::in::stop{});
  host_->stop();
}

// ---- agent

std::expected<std::shared_ptr<agent_service>, std::string> agent_service::start(
    asio::io_context& ioc, agent_options opts) {
  if (auto e = not_concrete(opts.self, core::role::agent)) return std::unexpected(std::move(*e));
  if (opts.proxies.empty()) return std::unexpected("an agent needs at least one proxy URL");
  for (const auto& p : opts.proxies)
    if (auto t = parse_ws_target(p); !t) return std::unexpected(t.error());
  auto s = std::make_shared<agent_service>();
  auto hb = open_host_bus(ioc, opts.host_bus, opts.self.host(), opts.self.str(), opts.host_bus_auth,
                          s->metrics_);
  if (!hb) return std::unexpected(hb.error());
  ws_dial_options dial;
  dial.agent = opts.self.str();
  dial.token = opts.token;
  bool any_tls = false;
  for (const auto& p : opts.proxies)
    any_tls = any_tls || p.starts_with("wss://");
  if (any_tls) {
    auto tls = client_tls(opts.ca);
    if (!tls) return std::unexpected(tls.error());
    dial.tls = *tls;
  }
  core::agent_config cfg;
  cfg.self = opts.self;
  cfg.proxies = opts.proxies;
  cfg.shuffle = opts.shuffle;
  cfg.token = opts.token;
  // Epochs must grow across restarts: start from the wall clock in microseconds (the
  // connect count adds one per connect, far less than the time between two restarts).
  cfg.epoch_base =
      static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::microseconds>(
                                     std::chrono::system_clock::now().time_since_epoch())
                                     .count());
  cfg.seed = opts.seed;
  s->host_role(ioc, std::make_unique<core::agent>(std::move(cfg)), nullptr, *hb, nullptr,
               std::move(dial));
  s->host_->handle(core::in::start{});
  std::uint64_t seed = opts.seed;
  for (const auto& id : opts.endpoints) {
    auto addr = core::address::parse("ccp://endpoint/" + std::string(opts.self.host()) + "/" + id);
    if (!addr) return std::unexpected("endpoint id '" + id + "': " + addr.error().message());
    endpoint_options eo;
    eo.self = *addr;
    eo.host_bus = opts.host_bus;
    eo.host_bus_auth = opts.host_bus_auth;
    eo.seed = ++seed * 7919;
    auto e = endpoint_service::start(ioc, std::move(eo));
    if (!e) return std::unexpected(e.error());
    s->endpoints_.push_back(*e);
  }
  return s;
}

void agent_service::shutdown() {
  for (auto& e : endpoints_)
    e->shutdown();
  host_->post([](core::node& a, core::micros) { a.abort_pending(core::errc::shutting_down); });
  host_->handle(core::in::stop{});
  host_->stop();
}

void agent_service::shutdown(std::chrono::milliseconds bound, std::function<void()> done) {
  shutdown();
  host_->when_closed(bound, std::move(done));
}

// ---- mgmt

std::expected<std::shared_ptr<mgmt_service>, std::string> mgmt_service::start(asio::io_context& ioc,
                                                                              mgmt_options opts) {
  if (auto e = not_concrete(opts.self, core::role::mgmt)) return std::unexpected(std::move(*e));
  auto s = std::make_shared<mgmt_service>();
  auto bo = logged_bus(ioc, opts.self.str(), core::bus_kind::backbone, s->metrics_);
  bo.auth = opts.backbone_auth;
  auto backbone = open_bus(opts.backbone, std::move(bo));
  if (!backbone) return std::unexpected(backbone.error());
  auto app = std::make_unique<service_app>();
  app->metrics = s->metrics_;
  // A refused claim comes to the application as an error of type ccp.claim from itself.
  app->on_message = [self = opts.self, on_message = std::move(opts.on_message),
                     on_refused = std::move(opts.on_refused)](const core::message& m) {
    if (m.kind == core::msg_kind::error && m.type == "ccp.claim" && m.from == self) {
      if (on_refused) on_refused(m.text);
      return;
    }
    if (on_message) on_message(m);
  };
  s->app_ = app.get();
  auto role = std::make_unique<core::mgmt>(opts.self, opts.seed);
  if (opts.claim) role->claim_address();
  s->host_role(ioc, std::move(role), *backbone, nullptr, std::move(app));
  s->host_->handle(core::in::start{});
  return s;
}

void mgmt_service::when_ready(std::function<void()> then) {
  host_->post([app = app_, then = std::move(then)](core::node&, core::micros) mutable {
    app->when_ready(std::move(then));
  });
}

void mgmt_service::request(core::address to, std::string type, std::string body,
                           core::micros timeout, std::function<void(core::act::complete&)> done) {
  host_->post([app = app_, to = std::move(to), type = std::move(type), body = std::move(body),
               timeout, done = std::move(done)](core::node& n, core::micros now) mutable {
    app->request(n, to, type, std::move(body), timeout, now, std::move(done));
  });
}

void mgmt_service::send(core::address to, std::string type, std::string body,
                        std::function<void(std::expected<std::uint64_t, core::errc>)> sent) {
  host_->post([to = std::move(to), type = std::move(type), body = std::move(body),
               sent = std::move(sent)](core::node& m, core::micros now) mutable {
    auto r = m.send(to, type, std::move(body), now);
    if (sent) sent(r);
  });
}

void mgmt_service::shutdown() {
  host_->post([](core::node& m, core::micros) { m.abort_pending(core::errc::shutting_down); });
  host_->stop();
}

}  // namespace ccp::net
