#include "text/message_json.hpp"

namespace ccp::text {
namespace {

using core::msg_kind;
using nlohmann::json;

std::expected<msg_kind, std::string> kind_from_string(std::string_view s) {
  for (auto k : {msg_kind::request, msg_kind::response, msg_kind::notification, msg_kind::error})
    if (core::to_string(k) == s) return k;
  return std::unexpected("expected one of request, response, notification, error");
}

}  // namespace

std::expected<core::errc, std::string> errc_from_string(std::string_view s) {
  for (std::uint16_t c = 1; c <= core::errc_max; ++c)
    if (core::to_string(static_cast<core::errc>(c)) == s) return static_cast<core::errc>(c);
  return std::unexpected("unknown error code \"" + std::string(s) + "\"");
}

json to_json(const core::message& m) {
  json j;
  j["id"] = m.id;
  j["kind"] = core::to_string(m.kind);
  j["from"] = m.from.str();
  j["to"] = m.to.str();
  if (m.correlation != 0) j["correlation"] = m.correlation;
  j["type"] = m.type;
  j["ttl_ms"] = m.ttl_ms;
  j["hops"] = m.hops;
  if (m.kind == msg_kind::error) {
    j["code"] = core::to_string(m.code);
    j["text"] = m.text;
  }
  if (!m.body.empty()) {
    if (json::accept(m.body))
      j["body"] = json::parse(m.body);
    else
      j["body_raw"] = m.body;
  }
  return j;
}

std::string to_json_text(const core::message& m) {
  return to_json(m).dump(-1, ' ', false, json::error_handler_t::replace);
}

std::expected<core::message, std::string> message_from_json(const json& j) {
  if (!j.is_object()) return std::unexpected("/: expected an object");
  core::message m;
  auto field = [&](const char* name) -> const json* {
    auto it = j.find(name);
    return it == j.end() ? nullptr : &*it;
  };
  auto need_uint = [&](const char* name, std::uint64_t max,
                       std::uint64_t& out) -> std::expected<void, std::string> {
    const json* v = field(name);
    if (!v) return {};
    // A value built in C++ holds a non-negative literal as a signed integer: accept it too.
    bool non_negative =
        v->is_number_unsigned() || (v->is_number_integer() && v->get<std::int64_t>() >= 0);
    if (!non_negative || v->get<std::uint64_t>() > max)
      return std::unexpected(std::string("/") + name + ": expected an integer from 0 to " +
                             std::to_string(max));
    out = v->get<std::uint64_t>();
    return {};
  };
  auto need_addr = [&](const char* name, core::address& out) -> std::expected<void, std::string> {
    const json* v = field(name);
    if (!v || !v->is_string())
      return std::unexpected(std::string("/") + name + ": expected an address string");
    auto a = core::address::parse(v->get<std::string>());
    if (!a) return std::unexpected(std::string("/") + name + ": " + a.error().message());
    out = *a;
    return {};
  };

  std::uint64_t n = 0;
  if (auto r = need_uint("id", UINT64_MAX, n); !r) return std::unexpected(r.error());
  m.id = n;
  const json* k = field("kind");
  if (!k || !k->is_string()) return std::unexpected("/kind: expected a string");
  auto kind = kind_from_string(k->get<std::string>());
  if (!kind) return std::unexpected("/kind: " + kind.error());
  m.kind = *kind;
  if (auto r = need_addr("from", m.from); !r) return std::unexpected(r.error());
  if (auto r = need_addr("to", m.to); !r) return std::unexpected(r.error());
  n = 0;
  if (auto r = need_uint("correlation", UINT64_MAX, n); !r) return std::unexpected(r.error());
  m.correlation = n;
  const json* t = field("type");
  if (!t || !t->is_string() || !core::valid_type(t->get<std::string>()))
    return std::unexpected("/type: expected an operation name ([a-z0-9_.-], 1 to 64 bytes)");
  m.type = t->get<std::string>();
  n = 0;
  if (auto r = need_uint("ttl_ms", UINT32_MAX, n); !r) return std::unexpected(r.error());
  m.ttl_ms = static_cast<std::uint32_t>(n);
  n = 0;
  if (auto r = need_uint("hops", UINT8_MAX, n); !r) return std::unexpected(r.error());
  m.hops = static_cast<std::uint8_t>(n);
  if (const json* c = field("code")) {
    if (!c->is_string()) return std::unexpected("/code: expected an error code name");
    auto code = errc_from_string(c->get<std::string>());
    if (!code) return std::unexpected("/code: " + code.error());
    m.code = *code;
  }
  if (const json* x = field("text")) {
    if (!x->is_string()) return std::unexpected("/text: expected a string");
    m.text = x->get<std::string>();
  }
  if (const json* b = field("body")) m.body = b->dump();
  if (const json* b = field("body_raw")) {
    if (!b->is_string()) return std::unexpected("/body_raw: expected a string");
    m.body = b->get<std::string>();
  }
  return m;
}

}  // namespace ccp::text
