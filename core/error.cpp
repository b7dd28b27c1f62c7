#include "core/error.hpp"

namespace ccp::core {

std::string_view to_string(parse_errc e) noexcept {
  switch (e) {
    case parse_errc::empty:
      return "empty input";
    case parse_errc::bad_scheme:
      return "expected scheme \"ccp://\"";
    case parse_errc::bad_type:
      return "type must be mgmt, proxy, agent or endpoint";
    case parse_errc::missing_segment:
      return "missing segment (expected any, all or HOST/ID)";
    case parse_errc::extra_segment:
      return "extra segment";
    case parse_errc::bad_host:
      return "bad host (expected IPv4, [IPv6] or an RFC 1123 name)";
    case parse_errc::bad_id:
      return "bad id (letters, digits, '-', '_', '.'; not any/all)";
    case parse_errc::forbidden_char:
      return "forbidden character";
    case parse_errc::too_long:
      return "too long";
    case parse_errc::truncated:
      return "truncated frame";
    case parse_errc::too_large:
      return "frame larger than the limit";
    case parse_errc::bad_magic:
      return "not a ccp frame (bad magic byte)";
    case parse_errc::bad_version:
      return "unsupported frame version";
    case parse_errc::bad_kind:
      return "unknown message kind";
    case parse_errc::bad_field:
      return "field value out of range";
    case parse_errc::trailing_bytes:
      return "bytes after the end of the frame";
  }
  return "unknown parse error";
}

std::string_view to_string(errc e) noexcept {
  switch (e) {
    case errc::unreachable:
      return "unreachable";
    case errc::no_handler:
      return "no_handler";
    case errc::timeout:
      return "timeout";
    case errc::overloaded:
      return "overloaded";
    case errc::rejected:
      return "rejected";
    case errc::bad_request:
      return "bad_request";
    case errc::hop_limit:
      return "hop_limit";
    case errc::too_large:
      return "too_large";
    case errc::shutting_down:
      return "shutting_down";
    case errc::internal:
      return "internal";
    case errc::partial:
      return "partial";
  }
  return "unknown";
}

std::string parse_error::message() const {
  std::string s;
  if (!field.empty()) {
    s += field;
    s += ": ";
  }
  s += to_string(code);
  s += " at offset ";
  s += std::to_string(offset);
  return s;
}

namespace {

class parse_category_impl final : public std::error_category {
 public:
  const char* name() const noexcept override { return "ccp.parse"; }
  std::string message(int ev) const override {
    return std::string(to_string(static_cast<parse_errc>(ev)));
  }
};

class message_category_impl final : public std::error_category {
 public:
  const char* name() const noexcept override { return "ccp"; }
  std::string message(int ev) const override {
    return std::string(to_string(static_cast<errc>(ev)));
  }
};

}  // namespace

const std::error_category& parse_category() noexcept {
  static const parse_category_impl c;
  return c;
}

const std::error_category& message_category() noexcept {
  static const message_category_impl c;
  return c;
}

}  // namespace ccp::core
