#pragma once
// Bodies of ccp's own control messages (hello, route announcements, heartbeats...):
// flat JSON objects whose values are unsigned integers, strings or arrays of strings.
// The core cannot link a JSON library, so it writes and reads this subset itself; the
// reader is total and bounded like every parser in core/.

#include <cstdint>
#include <expected>
#include <memory>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "core/address.hpp"
#include "core/error.hpp"

namespace ccp::core {

// Builds {"k":v,...}. Strings are escaped (quote, backslash, control bytes).
class flat_json_writer {
 public:
  flat_json_writer& add(std::string_view key, std::uint64_t v);
  flat_json_writer& add(std::string_view key, std::string_view v);
  flat_json_writer& add(std::string_view key, const std::vector<std::string>& v);
  // Adds `json` as the value verbatim; the caller guarantees it is valid JSON.
  flat_json_writer& add_raw(std::string_view key, std::string_view json);
  [[nodiscard]] std::string finish();

 private:
  void key(std::string_view k);
  void string(std::string_view s);
  std::string out_ = "{";
};

using flat_value = std::variant<std::uint64_t, std::string, std::vector<std::string>>;

// A parsed flat object; lookups return nullptr when the key is missing or has another type.
class flat_json {
 public:
  [[nodiscard]] const std::uint64_t* number(std::string_view key) const;
  [[nodiscard]] const std::string* string(std::string_view key) const;
  [[nodiscard]] const std::vector<std::string>* strings(std::string_view key) const;

  std::vector<std::pair<std::string, flat_value>> fields;
};

// A copy of `frame`, an encoded message, with message id `id`: how a role sends the same
// control message again (a heartbeat) without encoding it again. The id is the 8 bytes at
// offset 8, little-endian (message.hpp). `frame` must be at least header_bytes long.
[[nodiscard]] std::shared_ptr<std::string> restamp(const std::string& frame, std::uint64_t id);

// The ccp.hb notification from `from` to `to`, encoded with id 1 for restamp(): what agent
// and proxy send each other on their link at every heartbeat. Empty if it cannot be
// encoded (an address too long for a frame).
[[nodiscard]] std::string link_heartbeat(const address& from, const address& to);

// Parses a flat object. Errors: parse_errc::bad_field with the offset of the first byte
// that does not fit the subset (for a bad or cut-off escape, its backslash; for other input
// that ends too soon, its size); too_long past max_frame_bytes.
[[nodiscard]] std::expected<flat_json, parse_error> parse_flat_json(std::string_view text);

}  // namespace ccp::core
