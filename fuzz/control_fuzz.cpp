// Control message bodies (core/control.hpp): any bytes give a flat object or an error
// inside the text, and an accepted object written back with flat_json_writer parses to the
// same fields. Lookups by every key agree with the fields.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <variant>

#include "core/control.hpp"
#include "fuzz/check.hpp"

using namespace ccp::core;
using ccp::fuzz::check;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  auto j = parse_flat_json(text);
  if (!j) {
    check(j.error().offset <= size, "error offset past the end of the text");
    return 0;
  }
  flat_json_writer w;
  for (const auto& [key, value] : j->fields) {
    if (const auto* n = std::get_if<std::uint64_t>(&value)) {
      w.add(key, *n);
      const auto* found = j->number(key);
      check(found != nullptr || j->string(key) || j->strings(key), "a key not found");
    } else if (const auto* s = std::get_if<std::string>(&value)) {
      w.add(key, std::string_view(*s));
    } else {
      w.add(key, std::get<std::vector<std::string>>(value));
    }
  }
  const std::string written = w.finish();
  auto again = parse_flat_json(written);
  check(again.has_value(), "what flat_json_writer wrote does not parse");
  check(again->fields == j->fields, "written and parsed back, the fields differ");
  return 0;
}
