#include "net/ws.hpp"

#include <atomic>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>
#include <deque>
#include <vector>

#include "core/message.hpp"
#include "host/written_frames.hpp"
#include "net/listen.hpp"
#include "net/log.hpp"

namespace ccp::net {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
using tcp = asio::ip::tcp;

constexpr auto handshake_bound = std::chrono::microseconds(core::handshake_timeout);
constexpr auto awaitable_ec = asio::as_tuple(asio::use_awaitable);

template <class Ws>
void set_link_options(Ws& ws, beast::role_type role) {
  websocket::stream_base::timeout t = websocket::stream_base::timeout::suggested(role);
  t.handshake_timeout = handshake_bound;
  t.idle_timeout = ws_idle_timeout;
  t.keep_alive_pings = true;  // both sides: the client too (not Beast's suggestion)
  ws.set_option(t);
  ws.read_message_max(core::max_frame_bytes);
  ws.binary(true);
  ws.auto_fragment(false);
}

// One established websocket link. Lives while a read or write is pending (the handlers
// hold it); everything runs on the stream's strand.
template <class Ws>
class ws_link final : public link, public std::enable_shared_from_this<ws_link<Ws>> {
 public:
  ws_link(Ws ws, core::link_id id, std::shared_ptr<link_events> events, std::string remote,
          std::string claimed = {})
      : ws_(std::move(ws)),
        id_(id),
        events_(std::move(events)),
        remote_(std::move(remote)),
        claimed_(std::move(claimed)) {}

  [[nodiscard]] std::size_t queued() const noexcept override {
    return queued_.load(std::memory_order_relaxed);
  }
  [[nodiscard]] const std::string& remote() const noexcept override { return remote_; }
  [[nodiscard]] const std::string& claimed() const noexcept override { return claimed_; }

  // On the strand: reports the link up and starts reading.
  void start() {
    events_->link_up(id_, this->shared_from_this());
    do_read();
  }

  void send(std::vector<core::frame_ptr> frames) override {
    asio::post(ws_.get_executor(), [self = this->shared_from_this(), fs = std::move(frames)] {
      if (self->closing_ || self->down_) return;
      for (auto& f : fs)
        self->queue_.push_back(std::move(f));
      self->queued_.store(self->queue_.size(), std::memory_order_relaxed);
      if (!self->writing_) self->do_write();
    });
  }

  void close() override {
    asio::post(ws_.get_executor(), [self = this->shared_from_this()] {
      self->owner_closed_ = true;
      if (self->closing_ || self->down_) return;
      self->closing_ = true;
      if (!self->writing_) self->do_close();
    });
  }

 private:
  void do_read() {
    ws_.async_read(buf_, [self = this->shared_from_this()](beast::error_code ec, std::size_t) {
      self->on_read(ec);
    });
  }

  void on_read(beast::error_code ec) {
    if (ec) return fail(ec.message());
    const auto data = buf_.cdata();
    std::vector<core::frame_buf> frames;
    split_frames(
        std::string_view(static_cast<const char*>(data.data()), data.size()),
        [&frames](std::string_view f) { frames.push_back(std::make_shared<std::string>(f)); });
    buf_.consume(buf_.size());
    events_->link_frames(id_, std::move(frames));
    do_read();
  }

  // Copies queued frames, up to max_frame_bytes in all, into one websocket message. One
  // contiguous buffer: Beast walks a sequence of many small buffers (one per frame) at a
  // cost per buffer well above that of copying a frame, and the frames are freed at once.
  // The buffer is reused while the queue keeps the writer busy and freed when it empties.
  void do_write() {
    out_.clear();
    std::size_t frames = 0;
    while (!queue_.empty()) {
      const auto& f = queue_.front();
      if (frames > 0 && out_.size() + f->size() > core::max_frame_bytes) break;
      out_.append(*f);
      ++frames;
      queue_.pop_front();
    }
    queued_.store(queue_.size(), std::memory_order_relaxed);
    writing_ = true;
    ws_.async_write(asio::buffer(out_),
                    [self = this->shared_from_this(), frames](beast::error_code ec, std::size_t) {
                      self->on_write(ec, frames);
                    });
  }

  // `frames`: how many frames the finished write carried.
  void on_write(beast::error_code ec, std::size_t frames) {
    writing_ = false;
    if (ec) return fail("write: " + ec.message());
    if (const std::size_t report = written_.add(frames)) events_->link_flushed(id_, report);
    if (!queue_.empty()) return do_write();
    std::string().swap(out_);  // an idle link keeps no write buffer
    if (closing_) do_close();
  }

  void do_close() {
    ws_.async_close(websocket::close_code::normal,
                    [self = this->shared_from_this()](beast::error_code) { self->fail("closed"); });
  }

  // The link is gone: report it once (unless its owner closed it) and drop the queue.
  void fail(std::string why) {
    if (down_) return;
    down_ = true;
    queue_.clear();
    queued_.store(0, std::memory_order_relaxed);
    beast::error_code ignored;
    beast::get_lowest_layer(ws_).socket().close(ignored);
    if (!owner_closed_) events_->link_down(id_, std::move(why));
  }

  Ws ws_;
  core::link_id id_;
  std::shared_ptr<link_events> events_;
  const std::string remote_;
  const std::string claimed_;
  std::atomic<std::size_t> queued_{0};  // queue_.size(), for the monitor
  beast::flat_buffer buf_;
  std::deque<core::frame_ptr> queue_;
  std::string out_;               // the message being written: frames back to back
  host::written_frames written_;  // what the owner has not been told was written
  bool writing_ = false;
  bool closing_ = false;
  bool owner_closed_ = false;
  bool down_ = false;
};

using plain_ws = websocket::stream<beast::tcp_stream>;
using tls_ws = websocket::stream<beast::ssl_stream<beast::tcp_stream>>;

std::string bearer_token(std::string_view authorization) {
  constexpr std::string_view scheme = "Bearer ";
  if (!authorization.starts_with(scheme)) return {};
  return std::string(authorization.substr(scheme.size()));
}

// What every connection of one listener shares.
struct server_ctx {
  std::shared_ptr<asio::ssl::context> tls;
  authorizer authorize;
  std::string name;
  std::shared_ptr<service_metrics> metrics;
  std::shared_ptr<link_events> events;
  log_limiter limit;  // refusals: a scanner or a misconfigured fleet costs a few lines

  // Counts a refusal and logs it (rate-limited).
  void refused(upgrade_refusal r, std::string_view event, std::string_view remote,
               std::string_view agent, std::string_view why) {
    if (metrics) metrics->upgrade_refusals[static_cast<std::size_t>(r)].add();
    std::uint64_t held = 0;
    if (!limit.allow(&held)) return;
    const std::string reason =
        held == 0 ? std::string(why)
                  : std::string(why) + " (" + std::to_string(held) + " lines held back)";
    log(log_level::warn, event,
        {{"self", name},
         {"remote", remote},
         {"agent", agent.empty() ? std::string_view("-") : agent},
         {"reason", reason}});
  }
};

// Reads the upgrade request on `stream` (TLS already done), checks the credentials and
// accepts the websocket; a refused agent gets 401 and the connection closes.
template <class Ws, class Stream>
asio::awaitable<void> accept_upgrade(Stream stream, std::shared_ptr<server_ctx> ctx,
                                     std::string remote) {
  beast::flat_buffer buf;
  http::request<http::string_body> req;
  beast::get_lowest_layer(stream).expires_after(handshake_bound);
  auto [rec, rn] = co_await http::async_read(stream, buf, req, awaitable_ec);
  if (rec) {
    // A connection closed before a byte is a port probe (a load balancer's check): quiet.
    if (rec == http::error::end_of_stream && buf.size() == 0) co_return;
    ctx->refused(upgrade_refusal::bad_http, "connection refused: not an HTTP upgrade", remote, {},
                 rec.message());
    co_return;
  }
  const auto refuse = [&](http::status status, std::string_view why) -> asio::awaitable<void> {
    http::response<http::string_body> res{status, req.version()};
    res.set(http::field::content_type, "text/plain");
    res.body() = std::string(why) + "\n";
    res.keep_alive(false);
    res.prepare_payload();
    co_await http::async_write(stream, res, awaitable_ec);
    beast::error_code ignored;
    beast::get_lowest_layer(stream).socket().shutdown(tcp::socket::shutdown_both, ignored);
  };
  const std::string agent(req[std::string_view("X-Ccp-Agent")]);
  if (!websocket::is_upgrade(req)) {
    ctx->refused(upgrade_refusal::not_websocket, "connection refused: not a websocket upgrade",
                 remote, agent, "HTTP 400");
    co_await refuse(http::status::bad_request, "ccp proxy: websocket upgrade expected");
    co_return;
  }
  if (ctx->authorize && !ctx->authorize(agent, bearer_token(req[http::field::authorization]))) {
    ctx->refused(upgrade_refusal::credentials, "agent refused", remote, agent,
                 "HTTP 401: credentials refused");
    co_await refuse(http::status::unauthorized, "ccp proxy: credentials refused");
    co_return;
  }
  beast::get_lowest_layer(stream).expires_never();  // the websocket's own timeouts rule now
  Ws ws(std::move(stream));
  set_link_options(ws, beast::role_type::server);
  auto [aec] = co_await ws.async_accept(req, awaitable_ec);
  if (aec) {
    log(log_level::debug, "websocket accept failed",
        {{"self", ctx->name}, {"remote", remote}, {"agent", agent}, {"reason", aec.message()}});
    co_return;
  }
  auto& events = ctx->events;
  std::make_shared<ws_link<Ws>>(std::move(ws), events->new_link_id(), events, std::move(remote),
                                agent)
      ->start();
}

std::string endpoint_text(const tcp::socket& s) {
  beast::error_code ec;
  const auto ep = s.remote_endpoint(ec);
  if (ec) return "?";
  const auto a = ep.address();
  return (a.is_v6() ? "[" + a.to_string() + "]" : a.to_string()) + ":" + std::to_string(ep.port());
}

asio::awaitable<void> serve(tcp::socket socket, std::shared_ptr<server_ctx> ctx) {
  beast::error_code ignored;
  socket.set_option(tcp::no_delay(true), ignored);
  std::string remote = endpoint_text(socket);
  beast::tcp_stream stream(std::move(socket));
  if (!ctx->tls) {
    co_await accept_upgrade<plain_ws>(std::move(stream), std::move(ctx), std::move(remote));
    co_return;
  }
  beast::ssl_stream<beast::tcp_stream> ssl(std::move(stream), *ctx->tls);
  beast::get_lowest_layer(ssl).expires_after(handshake_bound);
  auto [ec] = co_await ssl.async_handshake(asio::ssl::stream_base::server, awaitable_ec);
  if (ec) {
    // "http request": a ws:// client on this wss:// listener; "unknown ca": the client does
    // not trust our certificate.
    ctx->refused(upgrade_refusal::tls, "connection refused: TLS handshake failed", remote, {},
                 ec.message());
    co_return;
  }
  co_await accept_upgrade<tls_ws>(std::move(ssl), std::move(ctx), std::move(remote));
}

class listener final : public ws_listener, public std::enable_shared_from_this<listener> {
 public:
  listener(asio::io_context& ioc, ws_server_options opts, std::shared_ptr<link_events> events)
      : ioc_(ioc), acceptor_(asio::make_strand(ioc)), opts_(std::move(opts)) {
    ctx_ = std::make_shared<server_ctx>();
    ctx_->tls = opts_.tls;
    ctx_->authorize = opts_.authorize;
    ctx_->name = opts_.name;
    ctx_->metrics = opts_.metrics;
    ctx_->events = std::move(events);
  }

  std::expected<void, std::string> open() {
    auto port = listen_at(acceptor_, opts_.at, "listen");
    if (!port) return std::unexpected(std::move(port.error()));
    port_ = *port;
    return {};
  }

  void accept() {
    auto self = shared_from_this();
    accept_with_retry(
        self, ioc_, acceptor_, retry_, std::chrono::milliseconds(50),
        [this](tcp::socket s) {
          auto ex = s.get_executor();
          asio::co_spawn(ex, serve(std::move(s), ctx_), asio::detached);
        },
        [this](const beast::error_code& ec) {
          std::uint64_t held = 0;
          if (accept_errors_.allow(&held))
            log(log_level::error, "accept failed",
                {{"self", opts_.name},
                 {"reason", ec.message()},
                 {"held_back", std::to_string(held)}});
        });
  }

  [[nodiscard]] std::uint16_t port() const override { return port_; }
  void close() override {
    asio::post(acceptor_.get_executor(), [self = shared_from_this()] {
      beast::error_code ignored;
      self->acceptor_.close(ignored);
    });
  }

 private:
  asio::io_context& ioc_;
  tcp::acceptor acceptor_;
  asio::steady_timer retry_{acceptor_.get_executor()};
  ws_server_options opts_;
  std::shared_ptr<server_ctx> ctx_;
  log_limiter accept_errors_;
  std::uint16_t port_ = 0;
};

template <class Ws>
void decorate(Ws& ws, const ws_dial_options& opts) {
  ws.set_option(websocket::stream_base::decorator(
      [agent = opts.agent, token = opts.token](websocket::request_type& req) {
        req.set(http::field::user_agent, "ccp-agent");
        if (!agent.empty()) req.set("X-Ccp-Agent", agent);
        if (!token.empty()) req.set(http::field::authorization, "Bearer " + token);
      }));
}

// The websocket handshake of a dialled link (TLS, if any, already done); on success the
// link starts (link_up). Returns whether it did.
template <class Ws>
asio::awaitable<bool> client_upgrade(Ws ws, const std::string& host, const std::string& path,
                                     const ws_dial_options& opts, core::link_id id,
                                     const std::shared_ptr<link_events>& events,
                                     const std::string& url, std::string& why) {
  beast::get_lowest_layer(ws).expires_never();  // the websocket's own timeouts rule now
  set_link_options(ws, beast::role_type::client);
  decorate(ws, opts);
  websocket::response_type res;
  auto [ec] = co_await ws.async_handshake(res, host, path, awaitable_ec);
  if (ec) {
    why = "websocket handshake: " + ec.message();
    if (res.result_int() != 0 && res.result() != http::status::switching_protocols) {
      // The proxy's answer says why: "HTTP 401 Unauthorized: ccp proxy: credentials refused".
      why = "HTTP " + std::to_string(res.result_int()) + " " + std::string(res.reason());
      std::string body = res.body();
      while (!body.empty() && (body.back() == '\n' || body.back() == '\r'))
        body.pop_back();
      if (!body.empty()) why += ": " + body.substr(0, 200);
    }
    co_return false;
  }
  std::make_shared<ws_link<Ws>>(std::move(ws), id, events, url)->start();
  co_return true;
}

asio::awaitable<void> dial(core::link_id id, ws_target target, std::string url,
                           ws_dial_options opts, std::shared_ptr<link_events> events) {
  auto ex = co_await asio::this_coro::executor;
  bool up = false;
  std::string why = "dial abandoned";
  // Reports the failed dial however we leave (error or exception).
  struct report_down {
    bool& up;
    std::string& why;
    const std::shared_ptr<link_events>& events;
    core::link_id id;
    ~report_down() {
      if (!up) events->link_down(id, std::move(why));
    }
  } guard{up, why, events, id};

  tcp::resolver resolver(ex);
  auto [rec, results] = co_await resolver.async_resolve(target.host, target.port, awaitable_ec);
  if (rec) {
    why = "resolve " + target.host + ": " + rec.message();
    co_return;
  }
  beast::tcp_stream stream(ex);
  stream.expires_after(handshake_bound);
  auto [cec, ep] = co_await stream.async_connect(results, awaitable_ec);
  if (cec) {
    why = "connect: " + cec.message();
    co_return;
  }
  beast::error_code ignored;
  stream.socket().set_option(tcp::no_delay(true), ignored);
  const std::string host_header = target.host + ":" + target.port;
  if (!target.tls) {
    up = co_await client_upgrade(plain_ws(std::move(stream)), host_header, target.path, opts, id,
                                 events, url, why);
    co_return;
  }
  if (!opts.tls) {  // wss:// without a TLS context: the caller's config said so
    why = "wss:// target but no TLS context";
    co_return;
  }
  tls_ws ws(std::move(stream), *opts.tls);
  auto& ssl = ws.next_layer();
  SSL_set_tlsext_host_name(ssl.native_handle(), target.host.c_str());
  ssl.set_verify_mode(asio::ssl::verify_peer);
  ssl.set_verify_callback(asio::ssl::host_name_verification(target.host));
  auto [sec] = co_await ssl.async_handshake(asio::ssl::stream_base::client, awaitable_ec);
  if (sec) {
    // "wrong version number": a wss:// URL for a plain ws:// proxy; "certificate verify
    // failed": the proxy's certificate is not signed by our CA.
    why = "TLS handshake: " + sec.message();
    co_return;
  }
  up = co_await client_upgrade(std::move(ws), host_header, target.path, opts, id, events, url, why);
}

}  // namespace

std::expected<std::shared_ptr<ws_listener>, std::string> listen_ws(
    boost::asio::io_context& ioc, ws_server_options opts, std::shared_ptr<link_events> events) {
  auto l = std::make_shared<listener>(ioc, std::move(opts), std::move(events));
  if (auto r = l->open(); !r) return std::unexpected(r.error());
  l->accept();
  return l;
}

std::expected<ws_target, std::string> parse_ws_target(std::string_view url) {
  ws_target t;
  const auto bad = [&](std::string_view what) {
    return std::unexpected("proxy URL '" + std::string(url) + "': " + std::string(what));
  };
  std::string_view rest;
  if (url.starts_with("ws://")) {
    rest = url.substr(5);
  } else if (url.starts_with("wss://")) {
    t.tls = true;
    rest = url.substr(6);
  } else {
    return bad("expected ws://host:port[/path] or wss://host:port[/path]");
  }
  const auto slash = rest.find('/');
  t.path = slash == std::string_view::npos ? "/" : std::string(rest.substr(slash));
  auto authority = rest.substr(0, slash);
  std::size_t colon = authority.rfind(':');
  if (authority.starts_with('[')) {  // [v6]:port
    const auto close = authority.find(']');
    if (close == std::string_view::npos) return bad("unterminated '[' in the host");
    t.host = std::string(authority.substr(1, close - 1));
    colon = close + 1 < authority.size() && authority[close + 1] == ':' ? close + 1
                                                                        : std::string_view::npos;
  } else {
    t.host = std::string(authority.substr(0, colon));
  }
  if (t.host.empty()) return bad("missing host");
  if (colon == std::string_view::npos) return bad("missing :port");
  t.port = std::string(authority.substr(colon + 1));
  unsigned long port = 0;
  for (char c : t.port) {
    if (c < '0' || c > '9' || port > 65535) return bad("port must be a number 1..65535");
    port = port * 10 + static_cast<unsigned long>(c - '0');
  }
  if (t.port.empty() || port == 0 || port > 65535) return bad("port must be a number 1..65535");
  return t;
}

void dial_ws(boost::asio::io_context& ioc, core::link_id id, std::string_view url,
             const ws_dial_options& opts, std::shared_ptr<link_events> events) {
  auto target = parse_ws_target(url);
  if (!target) {  // a bad target in the config: a failed dial, reported like any other
    asio::post(ioc, [events, id, why = target.error()]() mutable {
      events->link_down(id, std::move(why));
    });
    return;
  }
  asio::co_spawn(asio::make_strand(ioc),
                 dial(id, std::move(*target), std::string(url), opts, std::move(events)),
                 asio::detached);
}

}  // namespace ccp::net
