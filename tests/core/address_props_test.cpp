#include "core/address.hpp"

#include <functional>
#include <string>
#include <string_view>

#include <gtest/gtest.h>
#include <rapidcheck.h>
#include <rapidcheck/gtest.h>

#include "tests/core/generators.hpp"

namespace ccp::core {
namespace {

using test::address_value;
using test::all_roles;
using test::all_scopes;
using test::gen_address;
using test::gen_concrete_address;
using test::parse_or_throw;

// An address that shares all but (usually) one part with `a`: type, form, host or id
// changed, or an id differing only in case. Equal, nearly equal and unrelated pairs are
// what ordering, hashing and membership must tell apart.
rc::Gen<address> gen_related(const address& a) {
  return rc::gen::exec([a] {
    address_value v;
    v.type = a.type();
    v.form = a.form();
    v.id = std::string(a.id());
    std::string host(a.host());
    switch (*rc::gen::inRange(0, 6)) {
      case 0:
        v.type = *rc::gen::elementOf(all_roles);
        break;
      case 1:
        v.form = *rc::gen::elementOf(all_scopes);
        break;
      case 2:
        host = (*test::gen_host_value()).canonical();
        break;
      case 3:
        v.id = *test::gen_id();
        break;
      case 4:
        for (char& c : v.id) {
          if (c >= 'a' && c <= 'z') {
            c = static_cast<char>(c - 'a' + 'A');
            break;
          }
        }
        break;
      default:
        break;  // unchanged
    }
    if (v.has_host() && host.empty()) host = (*test::gen_host_value()).canonical();
    if (v.form == scope::one && v.id.empty()) v.id = *test::gen_id();
    return parse_or_throw(v.text_with_host(host));
  });
}

// Strings that look like addresses: the bytes of the grammar and those around it.
rc::Gen<std::string> gen_address_like() {
  using namespace std::string_view_literals;
  static constexpr std::string_view alphabet =
      "ccp:///agentmgmtproxyendpointanyall[]:..--_09aAfFzZ%?# \x7f\xff\x00"sv;
  auto chars = rc::gen::container<std::string>(rc::gen::elementOf(alphabet));
  auto prefixed = [chars](std::string prefix) {
    return rc::gen::map(chars, [prefix](const std::string& s) { return prefix + s; });
  };
  return rc::gen::oneOf(test::gen_bytes(), chars, prefixed("ccp://"), prefixed("ccp://agent/"),
                        prefixed("ccp://endpoint/[::"), prefixed("ccp://proxy/h/"));
}

// A byte that keeps a host or id valid more often than not, a delimiter, or any byte.
rc::Gen<char> gen_mutation_byte() {
  static constexpr std::string_view name_bytes = "abcxyzABCXYZ0129-._";
  static constexpr std::string_view delimiters = "/:.[] ?#%";
  return rc::gen::weightedOneOf<char>({{4, rc::gen::elementOf(name_bytes)},
                                       {2, rc::gen::elementOf(delimiters)},
                                       {1, rc::gen::cast<char>(rc::gen::inRange<int>(-128, 128))}});
}

// `base` with one to four bytes inserted, deleted or replaced.
rc::Gen<std::string> gen_mutated(std::string base) {
  return rc::gen::exec([base] {
    std::string s = base;
    int edits = *rc::gen::weightedOneOf<int>({{3, rc::gen::just(1)}, {1, rc::gen::inRange(2, 5)}});
    for (int i = 0; i < edits; ++i) {
      int op = s.empty() ? 0 : *rc::gen::inRange(0, 3);
      if (op == 0) {
        s.insert(s.begin() + *rc::gen::inRange<std::ptrdiff_t>(0, std::ssize(s) + 1),
                 *gen_mutation_byte());
      } else if (op == 1) {
        s.erase(s.begin() + *rc::gen::inRange<std::ptrdiff_t>(0, std::ssize(s)));
      } else {
        s[*rc::gen::inRange<std::size_t>(0, s.size())] = *gen_mutation_byte();
      }
    }
    return s;
  });
}

// What every input must satisfy: a value or an error inside the input, the three entry
// points agree, a parsed value round-trips, and canonical_only accepts only canonical text.
void check_total(const std::string& text) {
  test::exact_bytes bytes(text);  // ASan sees any read past the end
  auto v = parse_address_view(bytes.view());
  auto c = parse_address_view(bytes.view(), true);
  auto a = address::parse(bytes.view());
  RC_ASSERT(v.has_value() == a.has_value());
  if (!v) {
    RC_ASSERT(v.error().offset <= text.size());
    RC_ASSERT(v.error().code >= parse_errc::empty);
    RC_ASSERT(v.error().code <= parse_errc::too_long);
    RC_ASSERT(v.error().field.empty());
    RC_ASSERT(a.error() == v.error());
    RC_ASSERT(!c.has_value());
    return;
  }
  RC_ASSERT(address_equal::same(address::from_view(*v).view(), a->view()));
  std::string canonical = a->str();
  auto again = address::parse(canonical);
  RC_ASSERT(again.has_value());
  RC_ASSERT(*again == *a);
  auto canonical_view = parse_address_view(canonical, true);
  RC_ASSERT(canonical_view.has_value());
  RC_ASSERT(address_equal::same(*canonical_view, a->view()));
  if (c) {
    RC_ASSERT(canonical == text);
    RC_ASSERT(address_equal::same(*c, *v));
  } else {
    RC_ASSERT(canonical != text);
  }
}

RC_GTEST_PROP(AddressProps, SpellingsParseToTheModelsCanonicalForm, ()) {
  address_value model = *test::gen_address_value();
  std::string text = *test::gen_spelling(model);
  RC_TAG(std::string(to_string(model.form)));
  auto a = address::parse(text);
  RC_ASSERT(a.has_value());
  RC_ASSERT(a->str() == model.canonical());
  RC_ASSERT(a->type() == model.type);
  RC_ASSERT(a->form() == model.form);
  RC_ASSERT(a->id() == model.id);
  RC_ASSERT(a->host() == (model.has_host() ? model.host.canonical() : std::string()));
  // The canonical spelling, and only it, passes canonical_only.
  RC_ASSERT(parse_address_view(text, true).has_value() == (text == model.canonical()));
  RC_ASSERT(parse_address_view(model.canonical(), true).has_value());
}

RC_GTEST_PROP(AddressProps, FormattedTextParsesBackEqual, ()) {
  address a = *gen_address();
  std::string s = a.str();
  auto b = address::parse(s);
  RC_ASSERT(b.has_value());
  RC_ASSERT(*b == a);
  RC_ASSERT(b->str() == s);  // canonical text is a fixed point
  RC_ASSERT(to_string(a.view()) == s);
  std::string appended = "x";
  a.append_to(appended);
  RC_ASSERT(appended == "x" + s);
  auto v = parse_address_view(s, true);
  RC_ASSERT(v.has_value());
  RC_ASSERT(address::from_view(*v) == a);
  RC_ASSERT(s.size() <= max_address_bytes);
}

RC_GTEST_PROP(AddressProps, AllSpellingsOfAValueAreOneAddress, ()) {
  address_value model = *test::gen_address_value();
  address a = parse_or_throw(*test::gen_spelling(model));
  address b = parse_or_throw(*test::gen_spelling(model));
  RC_ASSERT(a == b);
  RC_ASSERT(!(a < b) && !(b < a));
  RC_ASSERT(hash_value(a) == hash_value(b));
  RC_ASSERT(a.str() == b.str());
}

RC_GTEST_PROP(AddressProps, ArbitraryBytesGiveAValueOrAnErrorInside, ()) {
  check_total(*gen_address_like());
}

RC_GTEST_PROP(AddressProps, MutatedAddressesGiveAValueOrAnErrorInside, ()) {
  address_value model = *test::gen_address_value();
  std::string text = *gen_mutated(*test::gen_spelling(model));
  check_total(text);
}

RC_GTEST_PROP(AddressProps, ParsedTextReparsesEqual, ()) {
  // Edits after "ccp://TYPE/" stay close to valid, so many parse: exercise that branch.
  std::string s = (*gen_address()).str();
  std::size_t keep = s.find('/', 6) + 1;
  std::string text = s.substr(0, keep) + *gen_mutated(s.substr(keep));
  auto b = address::parse(text);
  RC_CLASSIFY(b.has_value());
  if (b) {
    auto c = address::parse(b->str());
    RC_ASSERT(c.has_value());
    RC_ASSERT(*c == *b);
    RC_ASSERT(c->str() == b->str());
  }
}

RC_GTEST_PROP(AddressProps, ConcreteAddressMembership, ()) {
  address m = *gen_concrete_address();
  role other_type =
      *rc::gen::suchThat(rc::gen::elementOf(all_roles), [&m](role r) { return r != m.type(); });
  for (scope form : {scope::any, scope::all}) {
    RC_ASSERT(is_member(m, address::group(m.type(), form)));
    RC_ASSERT(!is_member(m, address::group(other_type, form)));
  }
  address elsewhere = *gen_concrete_address();
  for (scope form : {scope::host_any, scope::host_all}) {
    auto own = address::host_group(m.type(), m.host(), form);
    RC_ASSERT(own.has_value());
    RC_ASSERT(is_member(m, *own));
    auto other_type_group = address::host_group(other_type, m.host(), form);
    RC_ASSERT(other_type_group.has_value());
    RC_ASSERT(!is_member(m, *other_type_group));
    auto other_host_group = address::host_group(m.type(), elsewhere.host(), form);
    RC_ASSERT(other_host_group.has_value());
    RC_ASSERT(is_member(m, *other_host_group) == (elsewhere.host() == m.host()));
  }
  RC_ASSERT(is_member(m, m));
  address other = *gen_related(m);
  if (!other.is_group()) RC_ASSERT(is_member(m, other) == (m == other));
}

RC_GTEST_PROP(AddressProps, MembershipMatchesTheModel, ()) {
  address m = *rc::gen::weightedOneOf<address>({{3, gen_concrete_address()}, {1, gen_address()}});
  address g = *rc::gen::oneOf(gen_related(m), gen_related(*gen_related(m)), gen_address());
  bool expected = false;
  if (!m.is_group() && m.type() == g.type()) {
    switch (g.form()) {
      case scope::one:
        expected = m == g;
        break;
      case scope::any:
      case scope::all:
        expected = true;
        break;
      case scope::host_any:
      case scope::host_all:
        expected = m.host() == g.host();
        break;
    }
  }
  RC_CLASSIFY(expected);
  RC_ASSERT(is_member(m, g) == expected);
  RC_ASSERT(is_member(m.view(), g.view()) == expected);
  if (m.is_group()) RC_ASSERT(!is_member(m, m));  // a group is never a member
}

// host_prefix's shortcut accepts only what the full parser accepts, with the same view,
// and it accepts every concrete or host-group address of its type and host; anything else
// is left to the full parser.
RC_GTEST_PROP(AddressProps, HostPrefixParsesAsTheFullParser, ()) {
  address a = *gen_address();
  address b = *rc::gen::weightedOneOf<address>(
      {{1, rc::gen::just(a)}, {3, gen_related(a)}, {1, gen_address()}});
  RC_PRE(b.form() != scope::any && b.form() != scope::all);
  const host_prefix prefix(b.type(), b.host());
  RC_ASSERT(prefix.text() ==
            b.str().substr(0, b.str().size() - b.id().size() - (b.form() == scope::one ? 0 : 3)));
  const std::string text =
      *rc::gen::weightedOneOf<std::string>({{3, rc::gen::just(a.str())},
                                            {1, gen_mutated(a.str())},
                                            {1, rc::gen::just(std::string(prefix.text()))}});
  auto fast = prefix.parse(text);
  auto full = parse_address_view(text, true);
  RC_CLASSIFY(fast.has_value());
  if (fast) {
    RC_ASSERT(full.has_value());
    RC_ASSERT(address_equal::same(*fast, *full));
    RC_ASSERT(fast->host.data() == full->host.data());  // views into `text`, as the parser's
    RC_ASSERT(fast->id.data() == full->id.data() || fast->id.empty());
  }
  if (full && full->type == b.type() && full->form != scope::any && full->form != scope::all &&
      full->host == b.host())
    RC_ASSERT(fast.has_value());
}

// parse_group's literal compares accept only what the full parser accepts, with the same
// view, and they accept every fleet-wide group (ccp://TYPE/any, ccp://TYPE/all).
RC_GTEST_PROP(AddressProps, GroupParsesAsTheFullParser, ()) {
  const address a = *rc::gen::weightedOneOf<address>(
      {{2, gen_address(rc::gen::element(scope::any, scope::all))}, {1, gen_address()}});
  const std::string text =
      *rc::gen::weightedOneOf<std::string>({{2, rc::gen::just(a.str())},
                                            {2, gen_mutated(a.str())},
                                            {1, rc::gen::arbitrary<std::string>()}});
  const auto fast = parse_group(text);
  const auto full = parse_address_view(text, true);
  RC_CLASSIFY(fast.has_value());
  if (fast) {
    RC_ASSERT(full.has_value());
    RC_ASSERT(address_equal::same(*fast, *full));
  }
  if (full && (full->form == scope::any || full->form == scope::all)) RC_ASSERT(fast.has_value());
}

RC_GTEST_PROP(AddressProps, OrderingAndHashingAgreeWithEquality, ()) {
  address a = *gen_address();
  address b = *rc::gen::weightedOneOf<address>(
      {{1, rc::gen::just(a)}, {3, gen_related(a)}, {1, gen_address()}});
  address c = *rc::gen::oneOf(gen_related(b), gen_related(a));
  RC_CLASSIFY(a == b);
  bool equal = a == b;
  RC_ASSERT(equal == (!(a < b) && !(b < a)));
  RC_ASSERT(int{a < b} + int{equal} + int{b < a} == 1);
  RC_ASSERT(((a <=> b) == 0) == equal);
  RC_ASSERT(equal == (a.str() == b.str()));
  if (equal) RC_ASSERT(hash_value(a) == hash_value(b));
  RC_ASSERT(hash_value(a) == hash_value(a.view()));
  RC_ASSERT(address_hash{}(a) == address_hash{}(a.view()));
  RC_ASSERT(std::hash<address>{}(a) == address_hash{}(a));
  RC_ASSERT(address_equal{}(a, b.view()) == equal);
  RC_ASSERT(address_equal{}(a.view(), b) == equal);
  RC_ASSERT(address_equal{}(a, b) == equal);
  if (a < b && b < c) RC_ASSERT(a < c);
  if (b < a && c < b) RC_ASSERT(c < a);
}

}  // namespace
}  // namespace ccp::core
