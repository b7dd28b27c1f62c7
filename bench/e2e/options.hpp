#pragma once
// ccp_e2e_bench's command line; bench/e2e/README.md explains each option.

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace ccp::e2e {

// Idle agents on one proxy: issue 5's target, and the default of --connections.
inline constexpr std::size_t target_connections = 10000;

struct options {
  std::string nats;  // empty: start our own server
  double seconds = 3.0;
  std::size_t connections = target_connections;
  std::size_t window = 1000;  // below core::link_queue_frames: a paced sender is never refused
  std::size_t frame_bytes = 180;
  std::size_t sequential = 2000;
  std::vector<std::string> phases = {"idle", "raw", "chain", "req"};
  std::vector<std::string> host_buses = {"nats", "inproc"};
  bool json = false;
  bool quick = false;
  bool verbose = false;  // progress on stderr
};

// Parses the command line. --quick shortens what was not given (seconds, connections,
// sequential). On an unknown option or phase, a missing or bad value, or --help, prints why
// and the usage to stderr and exits with status 2.
[[nodiscard]] options parse_options(int argc, char** argv);

// Whether --phases holds `p`.
[[nodiscard]] bool has_phase(const options& o, std::string_view p);

}  // namespace ccp::e2e
