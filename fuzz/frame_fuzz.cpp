// The frame header reader and the decoder: any bytes give a header or an error inside the
// frame; every way of reading a frame (in full, deferred for a router, the two fixed-header
// checks) agrees; and an accepted frame encodes back to exactly its bytes.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "core/message.hpp"
#include "fuzz/check.hpp"

using namespace ccp::core;
using ccp::fuzz::check;

namespace {

bool same_view(const address_view& a, const address_view& b) {
  return address_equal::same(a, b);
}

// The fields a full read and a completed deferred read must agree on.
bool same_header(const frame_header& a, const frame_header& b) {
  return a.kind == b.kind && a.hops == b.hops && a.id == b.id && a.correlation == b.correlation &&
         a.ttl_ms == b.ttl_ms && a.code == b.code && same_view(a.from, b.from) &&
         same_view(a.to, b.to) && a.type == b.type && a.text == b.text && a.body == b.body;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  // A copy of exactly `size` bytes on the heap: ASan sees any read past the frame.
  const std::string frame(reinterpret_cast<const char*>(data), size);

  const bool plain = message_detail::fixed_header_plain(frame);
  const auto first_error = message_detail::fixed_header_error(frame);
  check(plain == !first_error.has_value(), "fixed_header_plain and fixed_header_error disagree");

  auto full = read_header(frame);
  if (!full) {
    check(full.error().offset <= size, "error offset past the end of the frame");
    check(!decode(frame).has_value(), "decode accepts a frame read_header refuses");
  } else {
    check(plain, "read_header accepts a frame whose fixed header is refused");
    check(fully_checked(*full), "a full read left something unchecked");
    auto m = decode(frame);
    check(m.has_value(), "decode refuses a frame read_header accepts");
    check(decode(frame, *full) == *m, "decode with a header differs from decode");
    // The wire form is canonical: the message encodes back to the very same bytes.
    auto again = encode(*m);
    check(again.has_value(), "an accepted frame's message does not encode");
    check(*again == frame, "encode(decode(frame)) differs from frame");
    check(encoded_size(*m) == size, "encoded_size differs from the frame's size");
    auto built = header_of_encoded(*m, frame);
    check(same_header(built, *full), "header_of_encoded differs from read_header");
  }

  // A router's reads: each deferred read, once completed, is the full read.
  for (defer d : {defer::from, defer::from_and_to, defer::forwarding}) {
    auto h = read_header(frame, d);
    if (!h) {
      check(!full, "a deferred read refuses a frame the full read accepts");
      check(h.error().offset <= size, "deferred error offset past the end of the frame");
      continue;
    }
    check(plain, "a deferred read accepts a frame whose fixed header is refused");
    const bool completes = check_deferred(*h);
    check(completes == full.has_value(), "a completed deferred read disagrees with the full read");
    if (completes) check(same_header(*h, *full), "a completed deferred read differs");
  }
  return 0;
}
