#pragma once
// ccp_e2e_bench's results and their printing: a table for people, or one JSON object
// (--json) for tools.

#include <string>
#include <utility>
#include <vector>

#include "bench/e2e/options.hpp"

namespace ccp::e2e {

struct figure {
  std::string key;      // JSON key
  std::string label;    // human label
  double value = 0;     // NaN when not measured
  std::string unit;     // "msg/s", "ms", ...
  std::string versus;   // "baseline 1.2M msg/s" or "target >= 0.30"
  std::string verdict;  // PASS, MISS or "" (informational)
};

struct report {
  std::vector<figure> figures;
  std::vector<std::string> notes;
  void add(figure f) { figures.push_back(std::move(f)); }
};

// A figure for people: 1.23M, 45.6k, 789, 1.5; "n/a" for NaN.
[[nodiscard]] std::string human(double v);

// Prints `rep` on stdout: one JSON object with --json (o.json), else a table and the notes.
// `nats_url` is the server the run used.
void print(const report& rep, const options& o, const std::string& nats_url);

}  // namespace ccp::e2e
