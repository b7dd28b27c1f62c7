#pragma once
// The daemons' log: one line at a time on stderr, with a UTC time stamp.

#include <string_view>

namespace ccp::net {

// Writes `line` to stderr as "HH:MM:SS.mmmZ line". Thread-safe.
void log_line(std::string_view line);

}  // namespace ccp::net
