#pragma once
// Loopback ports for tests and benchmarks that start servers of their own.

namespace ccp::testkit {

// A TCP port on 127.0.0.1 that was free a moment ago: bind port 0, read it back, release
// it. The caller's server binds it next; another process taking it in between makes that
// start fail loudly. Throws std::runtime_error naming the failed call.
[[nodiscard]] int free_port();

// Whether something accepts TCP connections on 127.0.0.1:port now.
[[nodiscard]] bool accepts(int port);

}  // namespace ccp::testkit
