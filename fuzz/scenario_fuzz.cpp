// Scenario files (sim/scenario.hpp): any text gives a scenario or an error that names the
// origin, and nothing throws (the JSON reader's exceptions, a duplicate key, a number out
// of range, a bad duration or address in a field).
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "fuzz/check.hpp"
#include "sim/scenario.hpp"

using ccp::fuzz::check;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto s = ccp::sim::parse_scenario_text(text, "fuzz.json");
  if (!s) check(s.error().starts_with("fuzz.json:"), "an error that does not name its file");
  return 0;
}
