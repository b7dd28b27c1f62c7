// The address parser: any bytes give an address or an error inside the text, and every
// accepted address is canonical and agrees with the parser's fast paths.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "core/address.hpp"
#include "fuzz/check.hpp"

using namespace ccp::core;
using ccp::fuzz::check;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);

  auto a = address::parse(text);
  auto strict = parse_address_view(text, true);
  auto lax = parse_address_view(text, false);
  check(a.has_value() == lax.has_value(), "parse and parse_address_view disagree");
  if (!a) {
    check(a.error().offset <= size, "error offset past the end of the text");
    check(a.error().code != parse_errc{}, "error without a code");
    check(!strict, "strict parse accepts what the lax one refuses");
  } else {
    // Canonical: the text form parses back to the same value, and is itself canonical.
    const std::string canon = a->str();
    check(canon.size() <= max_address_bytes, "canonical text longer than max_address_bytes");
    auto again = address::parse(canon);
    check(again && *again == *a, "canonical text does not parse back to the address");
    auto canon_view = parse_address_view(canon, true);
    check(canon_view.has_value(), "canonical text refused by the strict parser");
    check(address::from_view(*lax) == *a, "from_view of the lax view differs from parse");
    check(to_string(a->view()) == canon, "to_string(view) differs from str()");
    check(hash_value(*a) == hash_value(*canon_view), "address and its view hash differently");
    check(address_equal{}(*a, *canon_view), "address and its canonical view differ");
    // The strict parser accepts exactly the canonical texts.
    check(strict.has_value() == (canon == text), "strict parse accepts a non-canonical text");
    check(a->is_group() == (a->form() != scope::one), "is_group disagrees with form");
    if (!a->is_group()) {
      check(valid_id(a->id()), "a concrete address with an invalid id");
      check(is_member(*a, *a), "a concrete address is not a member of itself");
      auto host_all = address::host_group(a->type(), a->host(), scope::host_all);
      check(host_all && is_member(*a, *host_all), "not a member of its host's all group");
      check(is_member(*a, address::group(a->type(), scope::any)), "not a member of TYPE/any");
    }
    if (!a->host().empty()) {
      auto h = canonical_host(a->host());
      check(h && *h == a->host(), "canonical_host changes a canonical host");
    }
  }
  // The inline fast paths agree with the full parser on every input.
  if (auto g = parse_group(text)) {
    check(strict && strict->type == g->type && strict->form == g->form,
          "parse_group accepts what the parser does not, or differently");
  }
  if (strict && strict->form != scope::any && strict->form != scope::all) {
    const host_prefix prefix(strict->type, strict->host);
    auto v = prefix.parse(text);
    check(v.has_value(), "host_prefix refuses an address of its own host");
    check(address_equal::same(*v, *strict), "host_prefix parses differently from the parser");
  }
  // canonical_host on the raw bytes: total, and canonical output is a fixed point.
  if (auto h = canonical_host(text)) {
    auto h2 = canonical_host(*h);
    check(h2 && *h2 == *h, "canonical_host is not idempotent");
  } else {
    check(h.error().offset <= size, "canonical_host error offset past the end");
  }
  return 0;
}
