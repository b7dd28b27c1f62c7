#include "core/message.hpp"

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>

#include <gtest/gtest.h>
#include <rapidcheck.h>
#include <rapidcheck/gtest.h>

#include "tests/core/generators.hpp"

namespace ccp::core {
namespace {

namespace wire = test::wire;
using test::gen_bytes;
using test::gen_message;

// A read that defers fields (defer::from, defer::from_and_to, defer::forwarding) fails
// exactly where the full read fails outside them. When it reads the frame, check_from,
// check_to and check_type complete it to the full read's header, with views into the same
// bytes; or one of them fails where the full read failed, at `from`, `to` or `type`.
// Otherwise it fails at a later field.
void check_deferred_reads(std::string_view frame,
                          const std::expected<frame_header, parse_error>& h) {
  for (defer d : {defer::from, defer::from_and_to, defer::forwarding}) {
    auto r = read_header(frame, d);
    const bool to_deferred = d != defer::from;
    const bool type_deferred = d == defer::forwarding;
    const std::string_view failed = h ? std::string_view{} : h.error().field;
    const bool deferred_field = !h && (failed == "from" || (failed == "to" && to_deferred) ||
                                       (failed == "type" && type_deferred));
    if (!h && !deferred_field) {
      RC_ASSERT(!r.has_value());
      RC_ASSERT(r.error() == h.error());
      continue;
    }
    if (!r) {
      RC_ASSERT(deferred_field);
      RC_ASSERT(r.error().offset > h.error().offset);
      continue;
    }
    RC_ASSERT(!r->from_checked);
    RC_ASSERT(r->to_checked == !to_deferred);
    RC_ASSERT(r->type_checked == !type_deferred);
    RC_ASSERT(!fully_checked(*r));
    const bool from_ok = check_from(*r);
    const bool to_ok = check_to(*r);
    const bool type_ok = check_type(*r);
    RC_ASSERT((from_ok && to_ok && type_ok) == h.has_value());
    if (!h) {
      // The first check that fails is the full read's failing field.
      const bool as_full = failed == "from" ? !from_ok
                           : failed == "to" ? from_ok && !to_ok
                                            : from_ok && to_ok && !type_ok;
      RC_ASSERT(as_full);
      continue;
    }
    RC_ASSERT(fully_checked(*r));
    RC_ASSERT(r->from_text == to_string(h->from) && r->to_text == to_string(h->to));
    for (auto [x, y] : {std::pair{r->from, h->from}, std::pair{r->to, h->to}}) {
      RC_ASSERT(address_equal::same(x, y));
      RC_ASSERT(x.host.data() == y.host.data() && x.id.data() == y.id.data());
    }
    RC_ASSERT(r->type == h->type && r->body == h->body && r->id == h->id);
  }
}

// read_header's merged check of the fixed header and the sequence that names the failing
// field agree, and a frame either refuses gets that field's error from read_header.
void check_fixed_header_checks(std::string_view frame,
                               const std::expected<frame_header, parse_error>& h) {
  const bool plain = message_detail::fixed_header_plain(frame);
  const auto error = message_detail::fixed_header_error(frame);
  RC_ASSERT(plain == !error.has_value());
  if (error) {
    RC_ASSERT(!h.has_value());
    RC_ASSERT(h.error() == *error);
  }
}

// What every byte string must satisfy: read_header and decode agree; an error lies inside
// the frame and names a field; an accepted frame is exactly the encoding of what it decodes
// to (so the decoder accepts nothing the encoder cannot produce), and its views lie inside;
// the reads that defer addresses agree with the full read, and the two checks of the
// fixed header with each other.
void check_frame_total(const std::string& frame) {
  test::exact_bytes bytes(frame);  // ASan sees any read past the end
  auto h = read_header(bytes.view());
  auto d = decode(bytes.view());
  check_deferred_reads(bytes.view(), h);
  check_fixed_header_checks(bytes.view(), h);
  RC_ASSERT(h.has_value() == d.has_value());
  RC_CLASSIFY(h.has_value());
  if (!h) {
    RC_TAG(std::string(to_string(h.error().code)));
    RC_ASSERT(h.error().offset <= frame.size());
    RC_ASSERT(!h.error().field.empty());
    RC_ASSERT(h.error().code >= parse_errc::empty);
    RC_ASSERT(h.error().code <= parse_errc::trailing_bytes);
    RC_ASSERT(d.error() == h.error());
    return;
  }
  auto again = encode(*d);
  RC_ASSERT(again.has_value());
  RC_ASSERT(*again == frame);
  const char* begin = bytes.view().data();
  const char* end = begin + frame.size();
  for (std::string_view v :
       {h->from.host, h->from.id, h->to.host, h->to.id, h->type, h->text, h->body}) {
    if (!v.empty()) RC_ASSERT(v.data() >= begin && v.data() + v.size() <= end);
  }
}

// The length fields of the header: offset and width.
constexpr std::array<std::pair<std::size_t, std::size_t>, 6> length_fields = {
    {{wire::length, 4},
     {wire::from_len, 2},
     {wire::to_len, 2},
     {wire::type_len, 1},
     {wire::text_len, 2},
     {wire::body_len, 4}}};

// `frame` after one to four edits: flip or set a byte, truncate, extend, insert, erase, or
// rewrite a length field (nudged by a few bytes, set to a boundary or to anything).
rc::Gen<std::string> gen_mutated(std::string frame) {
  return rc::gen::exec([frame] {
    std::string f = frame;
    int edits = *rc::gen::inRange(1, 5);
    for (int e = 0; e < edits; ++e) {
      int op = *rc::gen::inRange(0, 7);
      if (f.empty()) op = 3;
      auto any_pos = [&f] { return *rc::gen::inRange<std::size_t>(0, f.size()); };
      auto any_byte = [] { return static_cast<char>(*rc::gen::inRange<int>(-128, 128)); };
      switch (op) {
        case 0: {  // flip bits
          std::size_t i = any_pos();
          f[i] = static_cast<char>(f[i] ^ *rc::gen::inRange<int>(1, 256));
          break;
        }
        case 1:
          f[any_pos()] = any_byte();
          break;
        case 2:
          f.resize(any_pos());
          break;
        case 3:
          f += *gen_bytes();
          break;
        case 4:
          f.insert(f.begin() + static_cast<std::ptrdiff_t>(any_pos()), any_byte());
          break;
        case 5:
          f.erase(f.begin() + static_cast<std::ptrdiff_t>(any_pos()));
          break;
        default: {
          auto [offset, width] = *rc::gen::elementOf(length_fields);
          if (f.size() < offset + width) break;
          std::uint64_t mask = width == 8 ? UINT64_MAX : (std::uint64_t{1} << (8 * width)) - 1;
          std::uint64_t now = test::get_le(f, offset, width);
          std::uint64_t v = *rc::gen::oneOf(
              rc::gen::map(rc::gen::inRange<int>(-3, 4),
                           [now](int d) { return now + static_cast<std::uint64_t>(d); }),
              rc::gen::element<std::uint64_t>(0, 1, mask, max_frame_bytes, max_frame_bytes + 1,
                                              max_text_bytes + 1),
              rc::gen::arbitrary<std::uint64_t>());
          test::put_le(f, offset, v & mask, width);
          break;
        }
      }
    }
    return f;
  });
}

RC_GTEST_PROP(MessageProps, EncodeDecodeRoundTrips, ()) {
  message m = *gen_message();
  RC_TAG(std::string(to_string(m.kind)));
  auto f = encode(m);
  RC_ASSERT(f.has_value());
  RC_ASSERT(f->size() == encoded_size(m));
  auto d = decode(*f);
  RC_ASSERT(d.has_value());
  RC_ASSERT(*d == m);

  // Appending keeps what was there.
  std::string prefix = *gen_bytes();
  std::string out = prefix;
  RC_ASSERT(encode(m, out).has_value());
  RC_ASSERT(out == prefix + *f);
}

RC_GTEST_PROP(MessageProps, ReadHeaderFieldsEqualTheMessage, ()) {
  message m = *gen_message();
  std::string f = encode(m).value();
  auto h = read_header(f);
  RC_ASSERT(h.has_value());
  RC_ASSERT(h->kind == m.kind);
  RC_ASSERT(h->hops == m.hops);
  RC_ASSERT(h->id == m.id);
  RC_ASSERT(h->correlation == m.correlation);
  RC_ASSERT(h->ttl_ms == m.ttl_ms);
  RC_ASSERT(h->code == m.code);
  RC_ASSERT(address_equal::same(h->from, m.from.view()));
  RC_ASSERT(address_equal::same(h->to, m.to.view()));
  RC_ASSERT(h->type == m.type);
  RC_ASSERT(h->text == m.text);
  RC_ASSERT(h->body == m.body);
}

RC_GTEST_PROP(MessageProps, SetHopsChangesOnlyTheHopCount, ()) {
  message m = *gen_message();
  auto hops = *rc::gen::arbitrary<std::uint8_t>();
  std::string f = encode(m).value();
  set_hops(f, hops);
  auto d = decode(f);
  RC_ASSERT(d.has_value());
  RC_ASSERT(d->hops == hops);
  m.hops = hops;
  RC_ASSERT(*d == m);
}

// A sender's header of the frame it just encoded is read_header's, views into the frame.
RC_GTEST_PROP(MessageProps, HeaderOfEncodedEqualsReadHeader, ()) {
  message m = *gen_message();
  std::string f = encode(m).value();
  auto h = read_header(f);
  RC_ASSERT(h.has_value());
  const frame_header e = header_of_encoded(m, f);
  RC_ASSERT(e.kind == h->kind);
  RC_ASSERT(e.hops == h->hops);
  RC_ASSERT(e.id == h->id);
  RC_ASSERT(e.correlation == h->correlation);
  RC_ASSERT(e.ttl_ms == h->ttl_ms);
  RC_ASSERT(e.code == h->code);
  auto same_view = [](std::string_view a, std::string_view b) {
    return a.data() == b.data() && a.size() == b.size();
  };
  for (auto [x, y] : {std::pair{e.from, h->from}, std::pair{e.to, h->to}}) {
    RC_ASSERT(x.type == y.type);
    RC_ASSERT(x.form == y.form);
    RC_ASSERT(same_view(x.host, y.host) || (x.host.empty() && y.host.empty()));
    RC_ASSERT(same_view(x.id, y.id) || (x.id.empty() && y.id.empty()));
  }
  RC_ASSERT(same_view(e.type, h->type));
  RC_ASSERT(same_view(e.text, h->text));
  RC_ASSERT(same_view(e.body, h->body));
}

// decode(frame, header) builds what decode(frame) does from a header read earlier, with
// the hop count the frame has now (a router sets it after reading the header).
RC_GTEST_PROP(MessageProps, DecodeFromAHeaderEqualsDecode, ()) {
  message m = *gen_message();
  std::string f = encode(m).value();
  auto h = read_header(f);
  RC_ASSERT(h.has_value());
  RC_ASSERT(decode(f, *h) == m);
  auto hops = *rc::gen::arbitrary<std::uint8_t>();
  set_hops(f, hops);
  m.hops = hops;
  RC_ASSERT(decode(f, *h) == m);
  RC_ASSERT(decode(f).value() == m);
}

RC_GTEST_PROP(MessageProps, ArbitraryBytesGiveAHeaderOrAnErrorInside, ()) {
  // Most random strings stop at the magic byte: also start some with a plausible header.
  auto header_then = [](std::string head) {
    return rc::gen::map(gen_bytes(), [head](const std::string& s) { return head + s; });
  };
  std::string frame = *rc::gen::oneOf(
      gen_bytes(), header_then("\xCC\x01"), rc::gen::exec([] {
        std::string h = "\xCC\x01";
        h += static_cast<char>(*rc::gen::inRange(0, 6));
        for (std::size_t i = 3; i < wire::header; ++i)
          h += static_cast<char>(*rc::gen::weightedElement<int>({{3, 0}, {1, 1}, {1, 0xff}}));
        return h + *gen_bytes();
      }));
  check_frame_total(frame);
}

RC_GTEST_PROP(MessageProps, MutatedFramesGiveAHeaderOrAnErrorInside, ()) {
  message m = *gen_message();
  std::string f = encode(m).value();
  check_frame_total(*gen_mutated(f));
}

RC_GTEST_PROP(MessageProps, FramesWithMutatedFixedHeadersGiveAHeaderOrAnErrorInside, ()) {
  // Bytes of the fixed header set to the values its checks turn on (0, the kinds, all
  // ones, a bit flipped): reaches each check, where random bytes mostly stop at the magic.
  message m = *gen_message();
  std::string f = encode(m).value();
  const int edits = *rc::gen::inRange(1, 4);
  for (int e = 0; e < edits; ++e) {
    const auto i = *rc::gen::inRange<std::size_t>(0, wire::header);
    f[i] = static_cast<char>(*rc::gen::weightedOneOf<int>(
        {{3, rc::gen::just(0)},
         {2, rc::gen::inRange(1, 6)},
         {1, rc::gen::just(0xff)},
         {2, rc::gen::just(static_cast<unsigned char>(f[i]) ^ (1 << *rc::gen::inRange(0, 8)))},
         {1, rc::gen::inRange(0, 256)}}));
  }
  check_frame_total(f);
}

RC_GTEST_PROP(MessageProps, FramesWithMutatedAddressesGiveAHeaderOrAnErrorInside, ()) {
  // Edits inside the address bytes with the lengths kept consistent: reaches the address
  // checks of read_header rather than the length checks.
  message m = *gen_message();
  std::string f = encode(m).value();
  std::size_t from_len = test::get_le(f, wire::from_len, 2);
  std::size_t to_len = test::get_le(f, wire::to_len, 2);
  std::size_t i = *rc::gen::inRange<std::size_t>(wire::header, wire::header + from_len + to_len);
  f[i] = *rc::gen::oneOf(rc::gen::elementOf(std::string_view("/:.[]-_aAfFzZ09 ?")),
                         rc::gen::cast<char>(rc::gen::inRange<int>(-128, 128)));
  check_frame_total(f);
}

}  // namespace
}  // namespace ccp::core
