#pragma once
// Several frames in one NATS message: how the NATS bus coalesces a run of publications to
// one subject (net/nats_bus.hpp).
//
// A NATS payload is either one frame, as the core encodes it (first byte 0xCC, the wire
// magic of core/message.hpp), or a batch:
//
//   offset size field
//   0      1    batch magic 0xCB
//   1      1    batch version (1)
//   2      2    count of frames, little-endian, at least 1
//   4      ...  count times: the frame's length (4 bytes, little-endian), then its bytes
//
// with nothing after the last frame. A sender batches only consecutive publications to the
// same subject, so every subscriber sees the order of publication, and a queue group's
// member takes the whole batch, each frame going to exactly one member as before. A single
// payload that happens to start with 0xCB (never a core frame) is sent as a batch of one,
// so a receiver never mistakes it for a batch. A receiver that finds a payload starting
// with 0xCB that is not a well-formed batch (a foreign publisher) hands it on unchanged, as
// one frame: the core then rejects it as it rejects any malformed frame, and counts it.
//
// Pure functions: no allocation beyond the caller's buffers, no exceptions from peer input.

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/action.hpp"

namespace ccp::net {

inline constexpr std::uint8_t batch_magic = 0xCB;
inline constexpr std::uint8_t batch_version = 1;
inline constexpr std::size_t batch_header_bytes = 4;
inline constexpr std::size_t batch_length_bytes = 4;  // before each frame
// At most this many frames in one batch: the count field's range.
inline constexpr std::size_t max_batch_frames = 0xffff;

// Whether `payload` must travel as a batch even alone (it starts with the batch magic).
[[nodiscard]] inline bool needs_batch(std::string_view payload) noexcept {
  return !payload.empty() && static_cast<std::uint8_t>(payload.front()) == batch_magic;
}

// The size of the batch holding frames of these total bytes.
[[nodiscard]] inline std::size_t batch_size(std::size_t frames, std::size_t frame_bytes) noexcept {
  return batch_header_bytes + frames * batch_length_bytes + frame_bytes;
}

// Replaces `out` with the batch of `frames` (1 to max_batch_frames, each under 4 GiB; a
// null pointer stands for an empty frame). Keeps `out`'s capacity.
void encode_batch(std::span<const core::frame_ptr> frames, std::string& out);

// Splits a payload that starts with the batch magic into views of its frames (pointing into
// `payload`), replacing `out`. False, with `out` empty, when it is not a well-formed batch:
// a wrong version, a count of 0, a length past the end, or bytes after the last frame.
[[nodiscard]] bool split_batch(std::string_view payload, std::vector<std::string_view>& out);

}  // namespace ccp::net
