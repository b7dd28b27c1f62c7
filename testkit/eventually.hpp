#pragma once
// Bounded polling for tests that wait on another thread or process.

#include <chrono>
#include <thread>

namespace ccp::testkit {

// Polls `pred` every `step` (20 ms unless given) until it holds or `bound` passes; the last
// answer.
template <class P>
bool eventually(P pred, std::chrono::milliseconds bound,
                std::chrono::milliseconds step = std::chrono::milliseconds(20)) {
  const auto until = std::chrono::steady_clock::now() + bound;
  while (std::chrono::steady_clock::now() < until) {
    if (pred()) return true;
    std::this_thread::sleep_for(step);
  }
  return pred();
}

}  // namespace ccp::testkit
