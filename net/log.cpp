#include "net/log.hpp"

#include <chrono>
#include <cstdio>
#include <ctime>
#include <mutex>

namespace ccp::net {

void log_line(std::string_view line) {
  static std::mutex mu;
  const auto now = std::chrono::system_clock::now();
  const std::time_t t = std::chrono::system_clock::to_time_t(now);
  const auto ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()) % 1000;
  std::tm tm{};
  gmtime_r(&t, &tm);
  char stamp[32];
  std::strftime(stamp, sizeof stamp, "%H:%M:%S", &tm);
  std::lock_guard lock(mu);
  std::fprintf(stderr, "%s.%03dZ %.*s\n", stamp, static_cast<int>(ms.count()),
               static_cast<int>(line.size()), line.data());
}

}  // namespace ccp::net
