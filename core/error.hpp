#pragma once
// Error vocabulary of the core: closed enums, plugged into std::error_code so that
// callers can compare, log and propagate them without strings.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <system_error>

namespace ccp::core {

// Why a piece of text or a frame could not be read. Every parser in core/ returns one
// of these with the byte offset where reading stopped.
enum class parse_errc : std::uint8_t {
  empty = 1,        // nothing to read
  bad_scheme,       // address does not start with "ccp://"
  bad_type,         // TYPE is not mgmt, proxy, agent or endpoint
  missing_segment,  // a required segment is missing or empty
  extra_segment,    // more segments than the grammar allows
  bad_host,         // HOST is neither IPv4, [IPv6] nor an RFC 1123 DNS name
  bad_id,           // ID is empty, too long, has a forbidden byte, or is any/all
  forbidden_char,   // space, '?', '#', '%', or a byte outside the grammar
  too_long,         // text or field longer than its limit
  truncated,        // frame ends before its declared length
  too_large,        // frame larger than max_frame_bytes
  bad_magic,        // frame does not start with the ccp magic byte
  bad_version,      // frame version this build does not speak
  bad_kind,         // message kind outside the closed set
  bad_field,        // a header field has a value outside its range
  trailing_bytes,   // bytes after the declared end of the frame
};

const std::error_category& parse_category() noexcept;
inline std::error_code make_error_code(parse_errc e) noexcept {
  return {static_cast<int>(e), parse_category()};
}

// A parse failure: what went wrong, at which byte offset, and in which field of a frame
// (empty for plain text). Cheap to construct: no allocation on the error path.
struct parse_error {
  parse_errc code{};
  std::size_t offset = 0;
  std::string_view field;  // static string naming the field, e.g. "to"

  // "bad host at offset 15" or "to: bad host at offset 15".
  [[nodiscard]] std::string message() const;
  friend bool operator==(const parse_error&, const parse_error&) = default;
};

// The error codes a message of kind `error` carries back to the sender. Closed set: a
// receiver that sees a value outside it rejects the frame.
enum class errc : std::uint16_t {
  unreachable = 1,  // no route to the destination right now; retry later or elsewhere
  no_handler,       // the destination exists but does not handle this operation
  timeout,          // the deadline passed before an answer arrived
  overloaded,       // a queue on the path was full; back off and retry
  rejected,         // refused by policy: credentials, spoofed source, fenced route
  bad_request,      // malformed frame or arguments; retrying the same is pointless
  hop_limit,        // the message went through too many routers (a loop)
  too_large,        // frame bigger than max_frame_bytes
  shutting_down,    // the process that held the route is stopping
  internal,         // a bug; report it
  partial,          // a group request: some members answered, not all of them ok
};
inline constexpr std::uint16_t errc_max = static_cast<std::uint16_t>(errc::partial);

const std::error_category& message_category() noexcept;
inline std::error_code make_error_code(errc e) noexcept {
  return {static_cast<int>(e), message_category()};
}

// Stable wire/text names: "unreachable", "no_handler", ...
std::string_view to_string(errc e) noexcept;
std::string_view to_string(parse_errc e) noexcept;

}  // namespace ccp::core

template <>
struct std::is_error_code_enum<ccp::core::parse_errc> : std::true_type {};
template <>
struct std::is_error_code_enum<ccp::core::errc> : std::true_type {};
