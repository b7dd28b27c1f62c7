#pragma once
// `ccp timeline TRACE`: a readable timeline of one host or one request from a trace that
// `ccp sim --trace` or `ccp real` wrote (scenarios/README.md, "Trace", documents its
// lines). The filter and formatter are here, apart from the command, for the tests.

#include <cstdint>
#include <expected>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/limits.hpp"

namespace ccp::app {

// Which lines a timeline shows. Every field narrows it; none set: the whole trace.
struct timeline_filter {
  std::string host;                      // lines naming a process on this host (any field)
  std::optional<std::uint64_t> request;  // send, deliver and complete lines of this id
  core::micros from = std::numeric_limits<core::micros>::min();  // t >= from
  core::micros to = std::numeric_limits<core::micros>::max();    // t <= to
};

// Reads a trace line by line and keeps what the filter selects. Fault, fault_end, heal and
// killed lines are kept as context for any filter (within the request's span with
// --request).
class timeline {
 public:
  explicit timeline(timeline_filter f) : f_(std::move(f)) {}

  // Line `number` (from 1) of the trace. Blank lines are skipped. Error: "line N: WHAT"
  // for a line that is not a JSON object with a number "t" and a string "ev".
  std::expected<void, std::string> add(std::string_view line, std::size_t number);

  // The selected lines, formatted (format_trace_line), in trace order. Errors: the host or
  // the request appears in no line of the trace ("host H appears in no line"), or nothing
  // at all lies between --from and --to.
  [[nodiscard]] std::expected<std::vector<std::string>, std::string> finish() const;

 private:
  struct kept {
    core::micros t;
    std::string text;
    bool context;
  };
  timeline_filter f_;
  std::vector<kept> kept_;
  bool host_seen_ = false;
  core::micros request_first_ = std::numeric_limits<core::micros>::max();
  core::micros request_last_ = std::numeric_limits<core::micros>::min();
  std::size_t in_window_ = 0;
};

// One trace line for people: "   12.345678s  EV         AT  key=value ...", the time in
// seconds of the trace's clock, then every other field in the line's own order (strings
// bare, arrays and numbers as JSON). Error as timeline::add's.
[[nodiscard]] std::expected<std::string, std::string> format_trace_line(std::string_view line);

}  // namespace ccp::app
