#include "core/members.hpp"

#include "core/control.hpp"

namespace ccp::core {

std::vector<message> members_notices(const address& router, const address& sender,
                                     std::uint64_t request, const std::vector<address>& members) {
  std::vector<std::vector<std::string>> parts(1);
  std::size_t bytes = 0;
  for (const auto& a : members) {
    const std::size_t n = a.str().size() + 3;  // quotes and comma
    if (bytes + n > members_bytes_per_notice && !parts.back().empty()) {
      parts.emplace_back();
      bytes = 0;
    }
    parts.back().push_back(a.str());
    bytes += n;
  }
  std::vector<message> out;
  out.reserve(parts.size());
  for (std::size_t i = 0; i < parts.size(); ++i) {
    message m;
    m.kind = msg_kind::notification;
    m.from = router;
    m.to = sender;
    m.type = members_type;
    m.body = flat_json_writer{}
                 .add("request", request)
                 .add("part", i)
                 .add("parts", parts.size())
                 .add("members", parts[i])
                 .finish();
    out.push_back(std::move(m));
  }
  return out;
}

std::expected<members_part, errc> read_members_notice(std::string_view body) {
  auto j = parse_flat_json(body);
  if (!j) return std::unexpected(errc::bad_request);
  const std::uint64_t* request = j->number("request");
  const std::uint64_t* part = j->number("part");
  const std::uint64_t* parts = j->number("parts");
  const std::vector<std::string>* members = j->strings("members");
  if (!request || *request == 0 || !part || !parts || !members || *part >= *parts ||
      *parts > max_members_notices)
    return std::unexpected(errc::bad_request);
  members_part out{*request, *part, *parts, {}};
  out.members.reserve(members->size());
  for (const auto& s : *members) {
    auto a = address::parse(s);
    if (!a || a->form() != scope::one) return std::unexpected(errc::bad_request);
    out.members.push_back(std::move(*a));
  }
  return out;
}

}  // namespace ccp::core
