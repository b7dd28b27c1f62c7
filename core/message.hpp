#pragma once
// The message envelope and its binary wire format.
//
// Wire format, version 1. All integers little-endian. A frame is one whole websocket
// message or NATS payload; its length is known from the transport and must equal the
// length declared in the header.
//
//   offset size field
//   0      1    magic 0xCC
//   1      1    version (1)
//   2      1    kind: 1 request, 2 response, 3 notification, 4 error
//   3      1    hops: routers passed so far; a router increments it in place
//   4      4    frame length, header included
//   8      8    message id, unique per sender, never 0
//   16     8    correlation id: the request's id on responses and errors, else 0
//   24     4    ttl in milliseconds, relative to when the frame was sent; 0 = none
//   28     2    error code (errc) on kind error, else 0
//   30     2    length of `from` (canonical address text)
//   32     2    length of `to` (canonical address text)
//   34     1    length of `type` (operation name)
//   35     1    flags, reserved: must be 0
//   36     2    length of `text` (human message of an error, UTF-8)
//   38     2    reserved: must be 0
//   40     4    length of `body` (opaque bytes, JSON by convention)
//   44     ...  from, to, type, text, body, in that order, with no padding
//
// A router reads this header (read_header) and forwards the bytes unchanged apart from
// the hop byte: it never parses or copies the body, and it parses the addresses only as
// far as it must (see `defer` below). The deadline is a relative ttl, never
// a sender's wall clock: each receiver turns it into a deadline on its own clock.

#include <cstddef>
#include <cstdint>
#include <expected>
#include <optional>
#include <string>
#include <string_view>

#include "core/address.hpp"
#include "core/error.hpp"

namespace ccp::core {

enum class msg_kind : std::uint8_t { request = 1, response = 2, notification = 3, error = 4 };
std::string_view to_string(msg_kind k) noexcept;  // "request", "response", ...

// Limits of the wire format, each with its reason.
// Largest frame ccp carries: fits inventories and config pushes, and keeps the worst case
// of a full per-link queue (link_queue_frames x this) bounded.
inline constexpr std::size_t max_frame_bytes = 256 * 1024;
inline constexpr std::size_t header_bytes = 44;
inline constexpr std::uint8_t wire_magic = 0xCC;
inline constexpr std::uint8_t wire_version = 1;
// Operation names are short tokens: [a-z0-9_.-], 1 to 64 bytes.
inline constexpr std::size_t max_type_bytes = 64;
// Human-readable error text; longer text is cut by the encoder's caller, not by us.
inline constexpr std::size_t max_text_bytes = 1024;

// Whether `s` is a valid operation name.
[[nodiscard]] bool valid_type(std::string_view s) noexcept;

// An owning envelope: what applications and tests build and inspect.
struct message {
  std::uint64_t id = 0;  // unique per sender, never 0
  msg_kind kind = msg_kind::notification;
  address from;
  address to;
  std::uint64_t correlation = 0;  // the request's id, on responses and errors
  std::string type;               // operation name, e.g. "ping"
  std::uint32_t ttl_ms = 0;       // relative deadline; 0 = none
  std::uint8_t hops = 0;
  errc code{};       // on kind error only; zero otherwise
  std::string text;  // human message of an error
  std::string body;  // opaque bytes, JSON by convention

  friend bool operator==(const message&, const message&) = default;
};

// The header of a frame, read in place: views point into the frame's bytes, nothing is
// allocated or copied. Valid while the frame lives.
struct frame_header {
  msg_kind kind = msg_kind::notification;
  std::uint8_t hops = 0;
  std::uint64_t id = 0;
  std::uint64_t correlation = 0;
  std::uint32_t ttl_ms = 0;
  errc code{};
  address_view from;
  address_view to;
  std::string_view type;
  std::string_view text;
  std::string_view body;
  // The addresses as they stand in the frame, and whether `from` and `to` are their parsed
  // views: false for an address read_header deferred, until check_from/check_to.
  std::string_view from_text;
  std::string_view to_text;
  bool from_checked = true;
  bool to_checked = true;
  // Whether `type` was found a valid operation name: false when read for forwarding, until
  // check_type.
  bool type_checked = true;
};

// Which fields read_header leaves to its caller: the addresses only delimited (from_text,
// to_text), and with `forwarding` the type's bytes unchecked too.
// A router needs the sender only to answer it (an error) or when the frame is for itself,
// and it can vouch for a destination more cheaply than a parse: a proxy by the route of
// an attached host, an agent by its own host, any router a fleet-wide group by literal
// compares (check_to). Parsing both addresses was 40% of the instructions of a hop
// (bench/routing_bench.cpp under callgrind). Of the type a router needs only whether it
// is a control operation (the "ccp." prefix); checking its bytes was a tenth of a hop.
// The receiver reads the frame in full (decode) and drops it as malformed there, a
// router checks what it deferred before it answers a frame or takes it (node::completed),
// and a proxy still checks the sender of every frame from an agent against the agent's
// host.
enum class defer : std::uint8_t { nothing, from, from_and_to, forwarding };

// Validates `frame` completely except for the body's content (and the addresses it was
// told to defer) and returns its header. Total and bounded: any byte string gives a
// header or a parse_error naming the field and offset; it never reads past `frame` and
// never allocates.
[[nodiscard]] std::expected<frame_header, parse_error> read_header(
    std::string_view frame, defer d = defer::nothing) noexcept;

// For tests: read_header's checks of the fixed header and the lengths, as the merged
// test of the forwarding path (plain: nothing wrong) and as the sequence that names the
// first failing check (nullopt: nothing wrong). They agree on every frame.
namespace message_detail {
[[nodiscard]] bool fixed_header_plain(std::string_view frame) noexcept;
[[nodiscard]] std::optional<parse_error> fixed_header_error(std::string_view frame) noexcept;
}  // namespace message_detail

// Complete a header whose address was deferred: parse from_text (to_text) into `from`
// (`to`) as the full read would have. False when it does not parse, or when a sender is
// not a concrete address: the frame is malformed. True at once when already checked.
[[nodiscard]] bool parse_deferred_from(frame_header& h) noexcept;
[[nodiscard]] bool parse_deferred_to(frame_header& h) noexcept;
[[nodiscard]] inline bool check_from(frame_header& h) noexcept {
  return h.from_checked || parse_deferred_from(h);
}
// Complete a header read for forwarding: false when its type is not a valid operation
// name (the frame is malformed). True at once when already checked.
[[nodiscard]] inline bool check_type(frame_header& h) noexcept {
  if (h.type_checked) return true;
  h.type_checked = valid_type(h.type);
  return h.type_checked;
}
// Whether nothing of `h` is left to check.
[[nodiscard]] inline bool fully_checked(const frame_header& h) noexcept {
  return h.from_checked && h.to_checked && h.type_checked;
}
// A fleet-wide group (ccp://mgmt/any, ...) is recognized by literal compares, inline.
[[nodiscard]] inline bool check_to(frame_header& h) noexcept {
  if (h.to_checked) return true;
  if (auto g = parse_group(h.to_text)) {
    h.to = *g;
    h.to_checked = true;
    return true;
  }
  return parse_deferred_to(h);
}
// Complete all that read_header deferred (the addresses, the type), in place, as a node
// does before it answers a frame or takes it: false when one fails (the frame is malformed).
[[nodiscard]] inline bool check_deferred(frame_header& h) noexcept {
  return check_from(h) && check_to(h) && check_type(h);
}

// The header of `frame`, which must be exactly encode(m): what read_header(frame) returns,
// built from `m` and the frame's length fields without validating again (a sender routes
// the frame it just encoded). The views point into `frame`.
[[nodiscard]] frame_header header_of_encoded(const message& m, std::string_view frame) noexcept;

// Decodes a whole frame into an owning message (one copy of each field).
[[nodiscard]] std::expected<message, parse_error> decode(std::string_view frame);
// The same for a frame whose header `h` was read from it (read_header(frame), or deferred
// and then checked), without reading it again. The hop count is the frame's current one:
// a router may have counted its hop (set_hops) since it read `h`.
[[nodiscard]] message decode(std::string_view frame, const frame_header& h);

// Encodes `m`, appending to `out`. Errors: errc::bad_request when a field is invalid
// (id 0, bad type token, text too long, correlation missing on a reply); errc::too_large
// when the frame would exceed max_frame_bytes. `out` is unchanged on error.
[[nodiscard]] std::expected<void, errc> encode(const message& m, std::string& out);
// Convenience: a new string holding the frame.
[[nodiscard]] std::expected<std::string, errc> encode(const message& m);

// Size of the frame `m` encodes to.
[[nodiscard]] std::size_t encoded_size(const message& m) noexcept;

// Sets the hop byte of a frame in place (the only byte a router changes). Inline: it is
// one store on every forwarding path.
inline void set_hops(std::string& frame, std::uint8_t hops) noexcept {
  if (frame.size() > 3) frame[3] = static_cast<char>(hops);  // offset 3: see the table above
}

// Whether `type` names one of ccp's own control operations ("ccp." prefix), which
// applications may not send.
[[nodiscard]] inline bool is_control_type(std::string_view type) noexcept {
  return starts_with_lit(type, "ccp.");
}

}  // namespace ccp::core
