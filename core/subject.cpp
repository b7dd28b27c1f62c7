#include "core/subject.hpp"

namespace ccp::core {

void append_host_token(std::string_view host, std::string& out) {
  for (char c : host) {
    if (c == '[' || c == ']') continue;
    out += c == '.' ? '_' : c == ':' ? '~' : c;
  }
}

void append_id_token(std::string_view id, std::string& out) {
  for (char c : id)
    out += c == '.' ? '~' : c;
}

std::string backbone_subject(const address_view& to) {
  std::string s = "ccp.";
  if (to.type == role::agent || to.type == role::endpoint) {
    switch (to.form) {
      case scope::any:
      case scope::all:
        s += to_string(to.type);
        s += to.form == scope::any ? ".any" : ".all";
        return s;
      default:
        s += "host.";
        append_host_token(to.host, s);
        return s;
    }
  }
  s += to_string(to.type);
  s += '.';
  switch (to.form) {
    case scope::any:
      s += "any";
      break;
    case scope::all:
      s += "all";
      break;
    case scope::one:
      append_host_token(to.host, s);
      s += '.';
      append_id_token(to.id, s);
      break;
    case scope::host_any:
    case scope::host_all:
      append_host_token(to.host, s);
      s += to.form == scope::host_any ? ".any" : ".all";
      break;
  }
  return s;
}

std::string backbone_queue(const address_view& to) {
  if (to.form == scope::any) return "ccp." + std::string(to_string(to.type));
  if (to.form == scope::host_any && (to.type == role::mgmt || to.type == role::proxy)) {
    std::string q = "ccp." + std::string(to_string(to.type)) + ".";
    append_host_token(to.host, q);
    return q;
  }
  return {};
}

std::string host_subject(std::string_view host) {
  std::string s = "ccp.host.";
  append_host_token(host, s);
  return s;
}

std::string endpoint_subject(std::string_view id) {
  std::string s = "ccp.ep.";
  append_id_token(id, s);
  return s;
}

std::string endpoint_instance_subject(std::uint64_t nonce) {
  return "ccp.epi." + std::to_string(nonce);
}

}  // namespace ccp::core
