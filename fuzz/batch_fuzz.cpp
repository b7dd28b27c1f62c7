// NATS batches (net/frame_batch.hpp): any payload splits into frames or is refused; a
// batch that splits encodes back to exactly its bytes; and each frame of a batch is read
// as a frame (read_header), as the NATS bus hands them to a role.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/message.hpp"
#include "fuzz/check.hpp"
#include "net/frame_batch.hpp"

using namespace ccp;
using ccp::fuzz::check;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string payload(reinterpret_cast<const char*>(data), size);

  std::vector<std::string_view> frames;
  frames.push_back("left over");  // split_batch must replace what `out` held
  const bool ok = net::split_batch(payload, frames);
  if (!ok) {
    check(frames.empty(), "a refused batch left frames behind");
    return 0;
  }
  check(net::needs_batch(payload), "a batch that does not start with the batch magic");
  check(!frames.empty() && frames.size() <= net::max_batch_frames, "frame count out of range");
  std::vector<core::frame_ptr> owned;
  std::size_t bytes = 0;
  for (std::string_view f : frames) {
    check(f.data() >= payload.data() && f.data() + f.size() <= payload.data() + payload.size(),
          "a frame view points outside the payload");
    bytes += f.size();
    owned.push_back(std::make_shared<const std::string>(f));
    // What the bus does with each frame next: the role reads it. It must not crash.
    if (auto h = core::read_header(f, core::defer::forwarding); !h)
      check(h.error().offset <= f.size(), "error offset past the end of a batched frame");
  }
  check(net::batch_size(frames.size(), bytes) == size, "batch_size differs from the payload");
  std::string again = "stale";
  net::encode_batch(owned, again);
  check(again == payload, "encode_batch(split_batch(payload)) differs from payload");
  return 0;
}
