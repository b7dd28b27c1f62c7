#pragma once
// Bounded polling for tests that wait on another thread or process.

#include <chrono>
#include <thread>

namespace ccp::test {

// Polls `pred` every 20 ms until it holds or `bound` passes; the last answer.
template <class P>
bool eventually(P pred, std::chrono::milliseconds bound) {
  const auto until = std::chrono::steady_clock::now() + bound;
  while (std::chrono::steady_clock::now() < until) {
    if (pred()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return pred();
}

}  // namespace ccp::test
