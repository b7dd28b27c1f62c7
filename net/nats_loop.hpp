#pragma once
// Driving libnats from an Asio executor: the adapter the NATS bus (net/nats_bus.cpp) hands
// to natsOptions_SetEventLoop. Internal to the NATS bus.
//
// natsOptions_SetEventLoop: libnats does no socket reads of its own (no read-loop thread)
// and, with send_asap, no flusher thread either; it asks this adapter to watch its socket.
// Reads and writes then run on a strand of the bus's io executor: one read per readiness
// event, and a publication posts one write that takes every publication made meanwhile.
//
// libnats calls these callbacks from any of its threads (the connecting thread, its
// reconnect thread, its ping timer, a publisher, or our own strand inside a Process call),
// sometimes holding its connection lock, so they never block and never call libnats: they
// set flags and post to the strand.
//
// The strand watches a dup() of libnats' socket, so that Asio owns what it registered with
// epoll (libnats closes its descriptor on its own schedule; the number may be reused at
// once). Asio's epoll reactor is edge-triggered and libnats reads at most one buffer per
// event. Asio (1.26, Boost 1.81) re-arms the descriptor when a wait starts, so data waiting
// then is reported, but that is not part of its contract: the strand polls the socket after each
// read and reads again while data waits (a few buffers, then it yields to other work), and
// checks once more after arming a wait. Writes are not waited for: the socket almost always
// has room, so a write request runs the write at once and waits for room only when the
// socket was full.
//
// Why: the e2e chain (bench/e2e) crosses four NATS connections. Measured on the 2-core dev
// VM against nats-server 2.9.10 (libnats 3.4.1, 180-byte frames), libnats writing from its
// own threads: with send-asap (a write per publication) the chain reached 95-110 k msg/s,
// nats-server spending a whole core on tiny reads; with libnats' flusher (it sleeps 1 ms
// before each write) a request's round trip took 2.0 ms; with a flusher thread of ours that
// wrote at once and then waited for a PING/PONG (until 71fdcee) every burst woke that thread
// and libnats' reader. Against the latter, four alternating runs each (2026-11-29,
// `--phases chain,req --host-bus both --seconds 3`, medians): chain over the NATS host bus
// 0.161 -> 0.194 of raw NATS, CPU per notification 7.4 -> 6.1 us, request p50 0.96 -> 0.62
// ms. libnats' delivery thread still hands every message on (natsConnection has no way to
// take asynchronous messages on the reading thread); since the outbox (net/nats_outbox.hpp) sends a
// run of frames as one message, that is once per batch rather than once per frame.

#include <nats/nats.h>

#include <atomic>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <utility>

namespace ccp::net::detail {

// Thread affinity: the static callbacks are libnats', from any of its threads; write_now,
// forget_connection and run_on_strand from any thread; everything else on the strand.
class loop_attachment : public std::enable_shared_from_this<loop_attachment> {
 public:
  explicit loop_attachment(const boost::asio::any_io_executor& ex)
      : strand_(boost::asio::make_strand(ex)) {}

  // The `loop` handed to natsOptions_SetEventLoop: the executor every connection made with
  // these options is attached to. Outlives the connection (owned by the bus's conn_state).
  struct loop {
    boost::asio::any_io_executor ex;
    std::weak_ptr<loop_attachment> attached;  // set by the first on_attach
  };

  // Writes what libnats buffered, as far as the socket takes it without waiting (any
  // thread; the bus's destructor, before it closes: libnats' close does not write for an
  // event loop).
  void write_now() { (void)write_buffered(); }

  // Called by the bus before natsConnection_Close: after it, no handler touches the
  // connection, so the caller may close and destroy it. Waits for a handler inside a Process
  // call.
  void forget_connection();

  // Runs `f` on the strand, after any read in progress (the bus frees ended subscriptions
  // this way: libnats 3.4.1's read path may still touch one it just looked up).
  template <class F>
  void run_on_strand(F f) {
    boost::asio::post(strand_, [self = shared_from_this(), f = std::move(f)]() mutable { f(); });
  }

  // natsOptions_SetEventLoop's callbacks (libnats' threads): they never block and never
  // call libnats. on_attach returns NATS_SYS_ERROR when it cannot dup() the socket and
  // NATS_NO_MEMORY when it cannot allocate; the others always NATS_OK.
  static natsStatus on_attach(void** user, void* loop_ptr, natsConnection* nc, natsSock fd);
  static natsStatus on_read(void* user, bool add);
  static natsStatus on_write(void* user, bool add);
  static natsStatus on_detach(void* user);

 private:
  using descriptor = boost::asio::posix::stream_descriptor;

  void reattach(int fd);
  void drop_socket();
  bool ready(short events);
  void do_read();
  void arm_read();
  void wait(descriptor::wait_type what, bool& waiting, void (loop_attachment::*next)());
  bool write_buffered();
  void do_write();

  boost::asio::strand<boost::asio::any_io_executor> strand_;
  std::shared_ptr<loop_attachment> self_;  // libnats' reference, dropped by on_detach
  std::mutex nc_mu_;
  natsConnection* nc_ = nullptr;  // guarded by nc_mu_; null once the bus let go of it
  std::atomic<bool> want_read_{false};
  std::atomic<bool> want_write_{false};
  std::atomic<bool> write_posted_{false};
  // On the strand:
  std::optional<descriptor> sd_;
  bool read_waiting_ = false;
  bool write_waiting_ = false;
  std::uint64_t generation_ = 0;
};

}  // namespace ccp::net::detail
