#include "net/nats_bus.hpp"

#include <nats/nats.h>

#include <algorithm>
#include <atomic>
#include <boost/asio/post.hpp>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <new>
#include <stdexcept>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "net/frame_batch.hpp"
#include "net/inbox.hpp"
#include "net/log.hpp"
#include "net/nats_loop.hpp"
#include "net/nats_outbox.hpp"
#include "net/nats_url.hpp"

namespace ccp::net {

namespace {

// Whether this process opened a NATS connection (release_nats has something to wait for).
std::atomic<bool> nats_opened{false};

using detail::loop_attachment;
using detail::outbox;

// --- Limits and settings, each with its reason ---------------------------------------------

// A lost server is retried every 250 ms (plus libnats' jitter of up to 100 ms): a restarted
// server is found again quickly, and one client retrying costs the server almost nothing.
constexpr std::int64_t reconnect_wait_ms = 250;
// -1: never give up reconnecting. A daemon must outlive any server outage; it reports
// `disconnected` through on_state meanwhile.
constexpr int max_reconnect_forever = -1;
// Frames published while disconnected are kept (and sent after the reconnect) up to this
// many bytes; past it publish drops and counts. 8 MiB holds a few seconds of control traffic.
constexpr int reconnect_buf_bytes = 8 * 1024 * 1024;
// Inbound messages libnats may queue per subscription before it drops them and reports a
// slow consumer. Our callback only copies and posts, so the queue stays short unless the
// process is starved; the bound keeps memory finite when it is.
constexpr int pending_msgs_limit = 1'000'000;
constexpr int pending_bytes_limit = 1024 * 1024 * 1024;  // 1 GiB
// TCP connect plus the server's INFO/PONG handshake, per attempt and server.
constexpr std::int64_t connect_timeout_ms = 2000;
// A silent server (half-open TCP) is declared stale after max_pings_out unanswered pings,
// i.e. within about 15-20 s, and the reconnect logic takes over.
constexpr std::int64_t ping_interval_ms = 5000;
constexpr int max_pings_out = 3;
// libnats writes in its own threads while it (re)connects: the handshake, the re-sent
// subscriptions and the reconnect buffer, on a blocking socket. Without a deadline a server
// that stops reading (or a partition without RST) blocks that thread until TCP gives up
// (minutes). With it such a write fails after 2 s and the reconnect logic goes on. A write
// cut short may leave part of a frame on the wire; the server then rejects the stream and the
// connection is re-established, which is the recovery we want from a stuck server anyway.
// (Once connected, the strand writes without blocking; see net/nats_loop.hpp.)
constexpr std::int64_t write_deadline_ms = 2000;
// How long the destructor waits, for all its subscriptions together, for libnats' threads to
// leave our callbacks (normally microseconds: a callback only copies and posts). Past it it
// returns anyway; the state the callbacks use is reference-counted, so a late callback stays
// safe.
constexpr auto callback_drain_bound = std::chrono::seconds(2);
// How long a drained queue subscription may take to hand over what the server gave it
// (one round trip to the server, normally); libnats ends it past that.
constexpr std::int64_t drain_bound_ms = 2000;

// Subjects, queue names and prefixes go into the protocol line as they are: a blank or a
// control character there would split or inject protocol, so they are refused up front.
bool is_wire_token(std::string_view s) {
  for (char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u == 0x7f) return false;
  }
  return true;
}

// Whether a subject has a wildcard token ("*" or ">"), so that its messages may come on
// other subjects.
bool has_wildcard(std::string_view subject) {
  while (true) {
    const auto dot = subject.find('.');
    const std::string_view token = subject.substr(0, dot);
    if (token == "*" || token == ">") return true;
    if (dot == std::string_view::npos) return false;
    subject.remove_prefix(dot + 1);
  }
}

std::string status_text(natsStatus s) {
  std::string text = natsStatus_GetText(s);
  // libnats keeps a per-thread description of the last failure, sometimes more precise than
  // the status's text. Use it only when it is about this failure.
  natsStatus last = NATS_OK;
  const char* raw = nats_GetLastError(&last);
  std::string_view detail = raw != nullptr && last == s ? raw : "";
  // It reads "(conn.c:2088): No server available for connection": drop the source position.
  if (detail.starts_with('(')) {
    const auto end = detail.find("): ");
    if (end != std::string_view::npos) detail.remove_prefix(end + 3);
  }
  if (!detail.empty() && detail != text) text.append(": ").append(detail);
  return text;
}

// --- State shared with libnats' threads ----------------------------------------------------

// The connection-level callbacks' closure. The bus holds one reference and libnats' callback
// thread holds another (libnats_ref) until the closed callback, the last one libnats makes
// for a connection, has run: a callback that runs after the bus is gone still finds it.
struct conn_state : std::enable_shared_from_this<conn_state> {
  std::function<void(bus_state, std::string_view)> on_state;
  boost::asio::any_io_executor state_executor;
  // Cleared when the bus's destructor starts; checked on state_executor before on_state.
  std::atomic<bool> alive{true};
  // Slow-consumer episodes libnats reported (it dropped inbound messages of a subscription).
  // Not exposed yet: net::bus has no accessor for it.
  std::atomic<std::uint64_t> slow_consumers{0};
  std::string name;          // the connection's name, for the log
  log_limiter refusals_log;  // the server's refusals (permissions): a few lines per 10 s
  std::shared_ptr<conn_state> libnats_ref;
  // Handed to libnats (natsOptions_SetEventLoop): the executor its socket I/O runs on.
  loop_attachment::loop loop;
  std::mutex mu;
  std::condition_variable cv;
  bool closed = false;  // guarded by mu: the closed callback has run

  // Posts a state change to state_executor (libnats' callback thread, any time).
  void report(bus_state s, std::string detail) {
    if (!on_state || !alive.load(std::memory_order_acquire)) return;
    boost::asio::post(state_executor, [self = shared_from_this(), s, detail = std::move(detail)] {
      if (self->alive.load(std::memory_order_acquire)) self->on_state(s, detail);
    });
  }
};

std::string connected_url(natsConnection* nc) {
  char buf[256] = {};
  if (natsConnection_GetConnectedUrl(nc, buf, sizeof buf) != NATS_OK) return {};
  return buf;
}

std::string last_error(natsConnection* nc) {
  const char* text = nullptr;
  const natsStatus s = natsConnection_GetLastError(nc, &text);
  if (s == NATS_OK) return {};
  if (text != nullptr && *text != '\0') return text;
  return natsStatus_GetText(s);
}

void on_disconnected(natsConnection* nc, void* closure) {
  static_cast<conn_state*>(closure)->report(bus_state::disconnected, last_error(nc));
}

void on_reconnected(natsConnection* nc, void* closure) {
  static_cast<conn_state*>(closure)->report(bus_state::reconnected, connected_url(nc));
}

void on_closed(natsConnection* nc, void* closure) {
  auto* st = static_cast<conn_state*>(closure);
  st->report(bus_state::closed, last_error(nc));
  // The last callback libnats makes for this connection: drop its reference (after
  // signalling, so that the waiting destructor never sees a freed state).
  auto ref = std::move(st->libnats_ref);
  {
    std::lock_guard lock(st->mu);
    st->closed = true;
  }
  st->cv.notify_all();
}

void on_async_error(natsConnection* nc, natsSubscription*, natsStatus err, void* closure) {
  auto* st = static_cast<conn_state*>(closure);
  if (err == NATS_SLOW_CONSUMER) {
    st->slow_consumers.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  // A publish or subscribe the server refused ("Permissions Violation for Publish to ..."):
  // the frame is gone, and only this line says so.
  std::uint64_t held = 0;
  if (!st->refusals_log.allow(&held)) return;
  const char* text = nullptr;
  natsConnection_GetLastError(nc, &text);
  std::string why = natsStatus_GetText(err);
  if (text != nullptr && *text != '\0') why.append(": ").append(text);
  if (held != 0) why.append(" (").append(std::to_string(held)).append(" lines held back)");
  log(log_level::warn, "NATS server refused an operation", {{"self", st->name}, {"reason", why}});
}

// One subscription's state. libnats' dispatcher thread owns a heap-allocated reference
// (the message callback's closure) until the completion callback, which libnats runs after
// the subscription closed and its last message callback returned.
//
// Messages go to the handler's executor through an inbox (net/inbox.hpp): in batches, one
// drain at a time, in the NATS order. A subscription without wildcards receives only its
// own subject, so a message carries no copy of it (an allocation per message for subjects
// past 15 bytes, such as ccp.host.H).
struct sub_state {
  sub_state(boost::asio::any_io_executor ex, bus_handler h, std::size_t prefix,
            std::string_view subscribed)
      : prefix_len(prefix),
        in(std::make_shared<inbox>(
            std::move(ex), std::move(h),
            has_wildcard(subscribed) ? std::string() : std::string(subscribed))) {}

  // Set once libnats made its last callback and dropped its reference to the sub_state.
  struct completion {
    std::mutex mu;
    std::condition_variable cv;
    bool complete = false;  // guarded by mu
  };

  const std::size_t prefix_len;
  // Closed by unsubscribe before it asks libnats to stop: nothing reaches the handler after
  // unsubscribe returned on its executor. An unsubscribe that keeps what was received seals
  // it instead (what it holds is still handed over), or, for a queue member, leaves it open
  // while libnats drains the subscription (see nats_bus::end). Holds the handler's
  // executor, so its last reference must not be dropped once that executor's io_context is
  // gone: the bus keeps one until `done` (see nats_bus::end).
  const std::shared_ptr<inbox> in;
  const std::shared_ptr<completion> done = std::make_shared<completion>();
};

using sub_ref = std::shared_ptr<sub_state>;

// libnats' delivery thread. A batch (net/frame_batch.hpp) is handed on as its frames, anything
// else (a frame, or a payload that only looks like a batch) as it came.
void on_message(natsConnection*, natsSubscription*, natsMsg* msg, void* closure) {
  const sub_ref& st = *static_cast<sub_ref*>(closure);
  if (st->in->accepting()) {
    try {
      std::string_view subject = natsMsg_GetSubject(msg);
      if (subject.size() >= st->prefix_len) subject.remove_prefix(st->prefix_len);
      const int len = natsMsg_GetDataLength(msg);
      const std::string_view data(natsMsg_GetData(msg),
                                  static_cast<std::size_t>(len > 0 ? len : 0));
      // Reused by every message this thread delivers: no allocation per batch.
      thread_local std::vector<std::string_view> views;
      thread_local std::vector<core::frame_buf> frames;
      if (!needs_batch(data) || !split_batch(data, views)) views.assign(1, data);
      frames.clear();
      for (std::string_view v : views)
        frames.push_back(std::make_shared<std::string>(v));
      st->in->push_all(subject, frames);
      frames.clear();  // what a closed inbox did not take
    } catch (...) {
      // Out of memory: the message is lost, as libnats itself would lose it. Exceptions
      // must not unwind through libnats' C frames.
    }
  }
  natsMsg_Destroy(msg);
}

void on_sub_complete(void* closure) {
  std::unique_ptr<sub_ref> ref(static_cast<sub_ref*>(closure));
  // Drop libnats' reference before saying so: the waiter then holds the last one and frees
  // the inbox on its own thread, while the handler's executor is still valid.
  const std::shared_ptr<sub_state::completion> done = (*ref)->done;
  ref.reset();
  {
    std::lock_guard lock(done->mu);
    done->complete = true;
  }
  done->cv.notify_all();
}

// --- The bus -------------------------------------------------------------------------------

class nats_bus final : public bus {
 public:
  // Throws std::runtime_error when libnats did not attach to the io executor.
  nats_bus(natsConnection* conn, std::shared_ptr<conn_state> state, std::string prefix)
      : conn_(conn),
        state_(std::move(state)),
        prefix_(std::move(prefix)),
        attachment_(state_->loop.attached.lock()),  // attached by natsConnection_Connect
        outbox_(std::make_shared<outbox>(conn, prefix_)) {
    if (!attachment_) throw std::runtime_error("libnats did not attach to the io executor");
  }

  nats_bus(const nats_bus&) = delete;
  nats_bus& operator=(const nats_bus&) = delete;

  ~nats_bus() override {
    state_->alive.store(false, std::memory_order_release);
    std::unordered_map<subscription_id, entry> subs;
    {
      std::lock_guard lock(mu_);
      subs.swap(subs_);
    }
    const auto wait_until = std::chrono::steady_clock::now() + callback_drain_bound;
    for (auto& kv : subs)
      end(kv.second, wait_until);
    std::vector<std::shared_ptr<sub_state>> ending;
    {
      std::lock_guard lock(mu_);
      ending.swap(ending_);
    }
    for (const auto& st : ending)
      (void)wait_done(*st, wait_until);
    // Hand libnats what is still queued; a hand-over posted meanwhile finds nothing, or no
    // connection.
    outbox_->hand_over();
    outbox_->close();
    // libnats' close does not write for an event loop: write what is buffered first. Then
    // stop the strand's reads and writes before libnats closes the socket they use (a read in
    // progress would race with the close: libnats reads outside its own lock).
    attachment_->write_now();
    attachment_->forget_connection();
    natsConnection_Close(conn_);
    // No read can run any more: free what ended subscriptions left.
    {
      std::lock_guard lock(buried_->mu);
      for (natsSubscription* sub : buried_->subs)
        natsSubscription_Destroy(sub);
      buried_->subs.clear();
      for (const auto& d : buried_->draining)
        natsSubscription_Destroy(d.first);
      buried_->draining.clear();
    }
    // The disconnected and closed callbacks run on libnats' callback thread. Wait (bounded)
    // for the closed one, the last, so that no callback of ours runs once we returned.
    natsConnection_Destroy(conn_);
    std::unique_lock lock(state_->mu);
    if (state_->cv.wait_for(lock, callback_drain_bound, [&] { return state_->closed; })) {
      // libnats calls nothing after the closed callback, but that callback may still hold
      // the last reference to the state when it returns, on its own thread, after the
      // io_context of these executors is gone: let go of them here, on ours, first.
      state_->state_executor = {};
      state_->loop.ex = {};
    }
  }

  std::expected<subscription_id, std::string> subscribe(std::string_view subject,
                                                        std::string_view queue,
                                                        boost::asio::any_io_executor ex,
                                                        bus_handler h) override {
    auto fail = [&](std::string_view cause) {
      std::string e = "subscribe '";
      e.append(subject).append("'");
      if (!queue.empty()) e.append(" (queue '").append(queue).append("')");
      e.append(": ").append(cause);
      return std::unexpected(std::move(e));
    };
    if (subject.empty() || !is_wire_token(subject)) {
      return fail("a subject must be non-empty, without blanks or control characters");
    }
    if (!is_wire_token(queue)) return fail("a queue name must not hold blanks or controls");
    if (!ex) return fail("no executor to run the handler on");
    if (!h) return fail("no handler");

    const std::string wire = prefix_ + std::string(subject);
    const std::string group(queue);
    auto st = std::make_shared<sub_state>(std::move(ex), std::move(h), prefix_.size(), subject);
    auto closure = std::make_unique<sub_ref>(st);
    natsSubscription* sub = nullptr;
    natsStatus s =
        group.empty()
            ? natsConnection_Subscribe(&sub, conn_, wire.c_str(), on_message, closure.get())
            : natsConnection_QueueSubscribe(&sub, conn_, wire.c_str(), group.c_str(), on_message,
                                            closure.get());
    if (s != NATS_OK) return fail(status_text(s));  // no subscription, no callback: free it
    s = natsSubscription_SetOnCompleteCB(sub, on_sub_complete, closure.get());
    if (s == NATS_OK) {
      closure.release();  // libnats' now; on_sub_complete frees it
      s = natsSubscription_SetPendingLimits(sub, pending_msgs_limit, pending_bytes_limit);
    }
    entry e{sub, std::move(st), closure == nullptr, !queue.empty()};
    if (s != NATS_OK) {
      const std::string cause = status_text(s);
      // Without a completion callback we cannot know when libnats left on_message: the
      // closure is leaked on purpose (a few bytes, on a path that needs a closed connection).
      if (closure != nullptr) (void)closure.release();
      end(e, std::chrono::steady_clock::now());
      return fail(cause);
    }
    std::lock_guard lock(mu_);
    const subscription_id id = next_id_++;
    subs_.emplace(id, std::move(e));
    return id;
  }

  void unsubscribe(subscription_id id, bool keep_received) override {
    entry e;
    {
      std::lock_guard lock(mu_);
      auto it = subs_.find(id);
      if (it == subs_.end()) return;
      e = std::move(it->second);
      subs_.erase(it);
    }
    end(e, std::chrono::steady_clock::now(), keep_received);
  }

  // Queues the frame in the outbox; the first publication after a hand-over posts the next
  // one to the strand, where libnats' write follows it.
  void publish(std::string_view subject, core::frame_ptr frame) override {
    bool post_hand_over = false;
    if (subject.empty() || !is_wire_token(subject) ||
        !outbox_->add(subject, std::move(frame), post_hand_over)) {
      outbox_->count_dropped();
      return;
    }
    if (post_hand_over) attachment_->run_on_strand([ob = outbox_] { ob->hand_over(); });
  }

  std::uint64_t dropped() const noexcept override { return outbox_->dropped(); }

 private:
  struct entry {
    natsSubscription* sub = nullptr;
    std::shared_ptr<sub_state> state;
    bool has_complete_cb = false;
    bool queue = false;  // a queue group member
  };

  // Ends a subscription: no handler call after this returns on the handler's executor
  // (with `keep_received`: none but for what the inbox already held), and (bounded by
  // callback_drain_bound) no libnats thread inside on_message either, so no post to the
  // executor follows.
  //
  // `wait_until`: how long to wait for libnats to leave on_message. unsubscribe does not wait
  // (it runs on a role's strand, and the closed or sealed inbox already takes nothing new;
  // the closure belongs to libnats until on_sub_complete); the destructor waits, bounded by
  // one deadline for all its subscriptions.
  //
  // The natsSubscription itself is freed later, on the strand that runs libnats' reads:
  // libnats 3.4.1's read path looks a subscription up under a lock, drops the lock and only
  // then locks the subscription, without holding a reference (natsConn_processMsg; later
  // releases retain it first), so freeing it at once could free it under a read in progress.
  // The destructor frees what the strand did not get to.
  void end(entry& e, std::chrono::steady_clock::time_point wait_until, bool keep_received = false) {
    // A queue member that keeps what was received is drained (NATS's own answer to leaving
    // a queue group without loss): the server stops giving it messages, and every message
    // it gave before the UNSUB still reaches the handler, through the open inbox, until
    // libnats reports the drain complete (on_sub_complete). The messages in flight when it
    // unsubscribes are the ones a plain unsubscribe loses: a proxy that leaves the `any`
    // group when it resumes after a stall would lose every `any` queued for it meanwhile.
    const bool draining = keep_received && e.queue && e.has_complete_cb &&
                          natsSubscription_DrainTimeout(e.sub, drain_bound_ms) == NATS_OK;
    if (!draining) {
      if (keep_received)
        e.state->in->seal();  // what it holds still reaches the handler
      else
        e.state->in->close();
      (void)natsSubscription_Unsubscribe(e.sub);  // fails only when already closed
    }
    if (e.has_complete_cb && !wait_done(*e.state, wait_until)) {
      // libnats still holds a reference: keep ours (see sub_state::in) until it let go.
      // Pruned when the list doubled, so that a burst of unsubscribes costs linear time.
      std::lock_guard lock(mu_);
      if (ending_.size() >= prune_ending_at_) {
        std::erase_if(ending_, [](const std::shared_ptr<sub_state>& st) {
          return wait_done(*st, std::chrono::steady_clock::time_point::min());
        });
        prune_ending_at_ = std::max<std::size_t>(64, 2 * ending_.size());
      }
      ending_.push_back(e.state);
    }
    // A draining subscription is freed once its drain completed (natsSubscription_Destroy
    // before that would unsubscribe it and cut the drain short): by the next end()'s pass
    // on the strand, or with the bus. So at most the drains of the last round trip wait.
    {
      std::lock_guard lock(buried_->mu);
      if (draining)
        buried_->draining.emplace_back(e.sub, e.state->done);
      else
        buried_->subs.push_back(e.sub);
    }
    attachment_->run_on_strand([buried = buried_, sub = draining ? nullptr : e.sub] {
      std::lock_guard lock(buried->mu);
      std::erase_if(buried->draining, [](const buried_subs::drained& d) {
        std::lock_guard done(d.second->mu);
        if (!d.second->complete) return false;
        natsSubscription_Destroy(d.first);
        return true;
      });
      if (sub == nullptr) return;
      auto it = std::find(buried->subs.begin(), buried->subs.end(), sub);
      if (it == buried->subs.end()) return;  // the bus's destructor freed it
      buried->subs.erase(it);
      natsSubscription_Destroy(sub);
    });
  }

  // Waits until libnats made its last callback for `st`, at most until `until`.
  static bool wait_done(sub_state& st, std::chrono::steady_clock::time_point until) {
    std::unique_lock lock(st.done->mu);
    return st.done->cv.wait_until(lock, until, [&] { return st.done->complete; });
  }

  // Ended subscriptions not freed yet (see end()).
  struct buried_subs {
    using drained = std::pair<natsSubscription*, std::shared_ptr<sub_state::completion>>;
    std::mutex mu;
    std::vector<natsSubscription*> subs;
    std::vector<drained> draining;  // drained queue members, until their drain completed
  };

  natsConnection* const conn_;
  const std::shared_ptr<conn_state> state_;
  const std::string prefix_;
  const std::shared_ptr<loop_attachment> attachment_;  // runs the connection's socket I/O
  const std::shared_ptr<buried_subs> buried_ = std::make_shared<buried_subs>();
  std::mutex mu_;
  std::unordered_map<subscription_id, entry> subs_;  // guarded by mu_
  // guarded by mu_: ended by unsubscribe, libnats' last callback still to come (see end()).
  std::vector<std::shared_ptr<sub_state>> ending_;
  std::size_t prune_ending_at_ = 64;      // guarded by mu_
  subscription_id next_id_ = 1;           // guarded by mu_
  const std::shared_ptr<outbox> outbox_;  // publications on their way to libnats
};

// Credentials and TLS through libnats' own options. Returns what failed ("" when all is set),
// naming the option and the file, with libnats' reason.
std::string apply_auth(natsOptions* o, const nats_auth& a) {
  const auto check = [](natsStatus r, std::string_view what,
                        const std::string& file) -> std::string {
    if (r == NATS_OK) return {};
    std::string e(what);
    if (!file.empty()) e.append(" '").append(file).append("'");
    e.append(": ").append(status_text(r));
    return e;
  };
  std::string e;
  if (!a.user.empty() || !a.password.empty())
    e = check(natsOptions_SetUserInfo(o, a.user.c_str(), a.password.c_str()), "NATS user", {});
  if (e.empty() && !a.token.empty())
    e = check(natsOptions_SetToken(o, a.token.c_str()), "NATS token", {});
  if (e.empty() && !a.creds_file.empty())
    e = check(natsOptions_SetUserCredentialsFromFiles(o, a.creds_file.c_str(), nullptr),
              "NATS credentials file", a.creds_file);
  const bool tls = a.tls || !a.ca_file.empty() || !a.cert_file.empty();
  if (e.empty() && tls) e = check(natsOptions_SetSecure(o, true), "NATS TLS", {});
  if (e.empty() && !a.ca_file.empty())
    e = check(natsOptions_LoadCATrustedCertificates(o, a.ca_file.c_str()), "NATS CA file",
              a.ca_file);
  if (e.empty() && (!a.cert_file.empty() || !a.key_file.empty()))
    e = check(natsOptions_LoadCertificatesChain(o, a.cert_file.c_str(), a.key_file.c_str()),
              "NATS client certificate", a.cert_file);
  return e;
}

struct options_deleter {
  void operator()(natsOptions* o) const noexcept { natsOptions_Destroy(o); }
};

}  // namespace

std::expected<std::shared_ptr<bus>, std::string> open_nats_bus(std::string_view url,
                                                               bus_options opts) {
  auto servers = detail::parse_nats_url(url);
  if (!servers) return std::unexpected(std::move(servers.error()));
  auto fail = [&](std::string_view cause) {
    std::string e = "bus URL '";
    e.append(detail::redact_nats_url(url)).append("': ").append(cause);
    return std::unexpected(std::move(e));
  };
  if (!is_wire_token(opts.prefix) || opts.prefix.find_first_of("*>") != std::string::npos) {
    return fail("the subject prefix must not hold blanks, controls or wildcards");
  }
  if (opts.on_state && !opts.state_executor) return fail("on_state needs a state_executor");
  if (!opts.io_executor) return fail("no io_executor to run the connection's I/O on");

  natsOptions* raw = nullptr;
  natsStatus s = natsOptions_Create(&raw);
  if (s != NATS_OK) return fail(status_text(s));
  std::unique_ptr<natsOptions, options_deleter> o(raw);

  auto state = std::make_shared<conn_state>();
  state->on_state = std::move(opts.on_state);
  state->name = opts.name;
  state->state_executor = std::move(opts.state_executor);

  std::vector<const char*> urls;
  urls.reserve(servers->size());
  for (const auto& u : *servers)
    urls.push_back(u.c_str());

  auto set = [&s](natsStatus r) {
    if (s == NATS_OK) s = r;
  };
  set(natsOptions_SetServers(o.get(), urls.data(), static_cast<int>(urls.size())));
  // Try the servers in the given order (the first is the preferred one).
  set(natsOptions_SetNoRandomize(o.get(), true));
  if (!opts.name.empty()) set(natsOptions_SetName(o.get(), opts.name.c_str()));
  set(natsOptions_SetTimeout(o.get(), connect_timeout_ms));
  set(natsOptions_SetAllowReconnect(o.get(), true));
  set(natsOptions_SetMaxReconnect(o.get(), max_reconnect_forever));
  set(natsOptions_SetReconnectWait(o.get(), reconnect_wait_ms));
  set(natsOptions_SetReconnectBufSize(o.get(), reconnect_buf_bytes));
  set(natsOptions_SetPingInterval(o.get(), ping_interval_ms));
  set(natsOptions_SetMaxPingsOut(o.get(), max_pings_out));
  set(natsOptions_SetWriteDeadline(o.get(), write_deadline_ms));
  state->loop.ex = opts.io_executor;
  set(natsOptions_SetEventLoop(o.get(), &state->loop, loop_attachment::on_attach,
                               loop_attachment::on_read, loop_attachment::on_write,
                               loop_attachment::on_detach));
  // A publication asks the strand to write at once (no libnats flusher thread).
  set(natsOptions_SetSendAsap(o.get(), true));
  // Without it libnats starts one delivery thread per subscription: a proxy subscribes one
  // subject per attached host, so 10,000 agents meant 10,000 threads (measured by the e2e
  // bench: ~10 KiB of stack per connection). The shared pool delivers them all; our
  // callback only copies and posts, so one thread keeps up.
  set(natsOptions_UseGlobalMessageDelivery(o.get(), true));
  // An unreachable server at start is an error for the caller, not a silent retry loop.
  set(natsOptions_SetRetryOnFailedConnect(o.get(), false, nullptr, nullptr));
  set(natsOptions_SetDisconnectedCB(o.get(), on_disconnected, state.get()));
  set(natsOptions_SetReconnectedCB(o.get(), on_reconnected, state.get()));
  set(natsOptions_SetClosedCB(o.get(), on_closed, state.get()));
  set(natsOptions_SetErrorHandler(o.get(), on_async_error, state.get()));
  if (s != NATS_OK) return fail(status_text(s));
  if (auto e = apply_auth(o.get(), opts.auth); !e.empty()) return fail(e);

  natsConnection* conn = nullptr;
  nats_opened.store(true, std::memory_order_relaxed);
  // From here on libnats may call back (on its own thread) until the closed callback.
  state->libnats_ref = state;
  s = natsConnection_Connect(&conn, o.get());
  if (s != NATS_OK) {
    // A failed connect makes no callback (libnats closes it without them): drop the ref.
    state->libnats_ref.reset();
    return fail("no NATS server reachable (" + status_text(s) + ")");
  }
  std::shared_ptr<bus> b;
  try {
    b = std::make_shared<nats_bus>(conn, state, std::move(opts.prefix));
  } catch (const std::exception& e) {
    state->alive.store(false, std::memory_order_release);  // no `closed` report for this
    natsConnection_Destroy(conn);  // its closed callback releases libnats' reference
    return fail(std::string("cannot start the bus: ") + e.what());
  }
  state->report(bus_state::connected, connected_url(conn));
  return b;
}

void release_nats(std::chrono::milliseconds bound) {
  if (!nats_opened.load(std::memory_order_relaxed)) return;
  const natsStatus s = nats_CloseAndWait(std::max<std::int64_t>(1, bound.count()));
  if (s != NATS_OK)
    log(log_level::debug, "libnats not closed before exit", {{"reason", status_text(s)}});
}

}  // namespace ccp::net
