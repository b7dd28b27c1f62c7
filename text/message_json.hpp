#pragma once
// The JSON text form of a message, for people (logs, the CLI) and tests. Not a wire
// format: frames use the binary codec in core/message.hpp.
//
//   {"id":7,"kind":"request","from":"ccp://mgmt/10.0.0.1/m1","to":"ccp://agent/all",
//    "type":"ping","ttl_ms":500,"hops":0,"body":{...}}
// plus "correlation" on replies, "code" and "text" on errors. A body that is valid JSON
// appears as a JSON value (and comes back as its compact dump); any other body appears
// as the string "body_raw" (invalid UTF-8 replaced by U+FFFD).

#include <expected>
#include <string>

#include <nlohmann/json.hpp>

#include "core/message.hpp"

namespace ccp::text {

[[nodiscard]] nlohmann::json to_json(const core::message& m);
[[nodiscard]] std::string to_json_text(const core::message& m);  // one line

// Reads the form above. Errors name the JSON path and what was expected, e.g.
// "/to: bad host at offset 15" or "/kind: expected one of request, response, ...".
[[nodiscard]] std::expected<core::message, std::string> message_from_json(const nlohmann::json& j);

// "unreachable" -> errc::unreachable; nullopt-like error for unknown names.
[[nodiscard]] std::expected<core::errc, std::string> errc_from_string(std::string_view s);

}  // namespace ccp::text
