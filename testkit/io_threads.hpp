#pragma once
// An io_context run by threads of its own for a test's or a benchmark's lifetime, and a
// bounded way to read a role's state on its strand.

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <future>
#include <thread>
#include <vector>

namespace ccp::testkit {

// Runs `ioc` on `n` threads (two unless given: the development machine has two cores, and
// two make strands matter) until stop() or the destructor.
struct io_threads {
  boost::asio::io_context ioc;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work{ioc.get_executor()};
  std::vector<std::thread> threads;

  explicit io_threads(int n = 2) {
    for (int i = 0; i < n; ++i)
      threads.emplace_back([this] { ioc.run(); });
  }
  ~io_threads() { stop(); }
  io_threads(const io_threads&) = delete;
  io_threads& operator=(const io_threads&) = delete;

  // Stops the context and joins the threads; what is still queued does not run.
  void stop() {
    work.reset();
    ioc.stop();
    for (auto& t : threads)
      if (t.joinable()) t.join();
  }
};

// Runs f(h.role()) on the host's strand (h.executor()) and waits for its result. Call it
// from a thread that is not the strand's, while the context runs.
template <class Host, class F>
auto query(Host& h, F f) {
  std::promise<decltype(f(h.role()))> p;
  auto fut = p.get_future();
  boost::asio::post(h.executor(), [&h, &p, &f] { p.set_value(f(h.role())); });
  return fut.get();
}

}  // namespace ccp::testkit
