#include "core/subject.hpp"

namespace ccp::core {

namespace {

// The builders, for std::string and subject_text alike.
template <class Out>
void host_token(std::string_view host, Out& out) {
  for (char c : host) {
    if (c == '[' || c == ']') continue;
    out += c == '.' ? '_' : c == ':' ? '~' : c;
  }
}

template <class Out>
void id_token(std::string_view id, Out& out) {
  for (char c : id)
    out += c == '.' ? '~' : c;
}

template <class Out>
void build_backbone_subject(const address_view& to, Out& s) {
  s += std::string_view("ccp.");
  if (to.type == role::agent || to.type == role::endpoint) {
    switch (to.form) {
      case scope::any:
      case scope::all:
        s += to_string(to.type);
        s += std::string_view(to.form == scope::any ? ".any" : ".all");
        return;
      default:
        s += std::string_view("host.");
        host_token(to.host, s);
        return;
    }
  }
  s += to_string(to.type);
  s += '.';
  switch (to.form) {
    case scope::any:
      s += std::string_view("any");
      break;
    case scope::all:
      s += std::string_view("all");
      break;
    case scope::one:
      host_token(to.host, s);
      s += '.';
      id_token(to.id, s);
      break;
    case scope::host_any:
    case scope::host_all:
      host_token(to.host, s);
      s += std::string_view(to.form == scope::host_any ? ".any" : ".all");
      break;
  }
}

}  // namespace

void append_host_token(std::string_view host, std::string& out) {
  host_token(host, out);
}

void append_id_token(std::string_view id, std::string& out) {
  id_token(id, out);
}

std::string backbone_subject(const address_view& to) {
  std::string s;
  build_backbone_subject(to, s);
  return s;
}

subject_text backbone_subject_text(const address_view& to) {
  subject_text s;
  build_backbone_subject(to, s);
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
  host_token(host, s);
  return s;
}

std::string endpoint_subject(std::string_view id) {
  std::string s = "ccp.ep.";
  id_token(id, s);
  return s;
}

std::string endpoint_instance_subject(std::uint64_t nonce) {
  return "ccp.epi." + std::to_string(nonce);
}

}  // namespace ccp::core
