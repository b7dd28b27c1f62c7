#include "net/frame_batch.hpp"

#include <cassert>

namespace ccp::net {
namespace {

void put_le(std::string& out, std::uint64_t v, std::size_t bytes) {
  for (std::size_t i = 0; i < bytes; ++i)
    out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

std::uint32_t get_le(const char* p, std::size_t bytes) {
  std::uint32_t v = 0;
  for (std::size_t i = 0; i < bytes; ++i)
    v |= static_cast<std::uint32_t>(static_cast<unsigned char>(p[i])) << (8 * i);
  return v;
}

}  // namespace

void encode_batch(std::span<const core::frame_ptr> frames, std::string& out) {
  assert(!frames.empty() && frames.size() <= max_batch_frames);
  std::size_t bytes = 0;
  for (const auto& f : frames)
    bytes += f ? f->size() : 0;
  out.clear();
  out.reserve(batch_size(frames.size(), bytes));
  out.push_back(static_cast<char>(batch_magic));
  out.push_back(static_cast<char>(batch_version));
  put_le(out, frames.size(), 2);
  for (const auto& f : frames) {
    const std::size_t n = f ? f->size() : 0;
    put_le(out, n, batch_length_bytes);
    if (n > 0) out.append(*f);
  }
}

bool split_batch(std::string_view payload, std::vector<std::string_view>& out) {
  out.clear();
  if (payload.size() < batch_header_bytes || !needs_batch(payload) ||
      static_cast<std::uint8_t>(payload[1]) != batch_version) {
    return false;
  }
  const std::uint32_t count = get_le(payload.data() + 2, 2);
  if (count == 0) return false;
  std::string_view rest = payload.substr(batch_header_bytes);
  for (std::uint32_t i = 0; i < count; ++i) {
    if (rest.size() < batch_length_bytes) break;
    const std::uint32_t n = get_le(rest.data(), batch_length_bytes);
    rest.remove_prefix(batch_length_bytes);
    if (n > rest.size()) break;
    out.push_back(rest.substr(0, n));
    rest.remove_prefix(n);
  }
  if (out.size() != count || !rest.empty()) {
    out.clear();
    return false;
  }
  return true;
}

}  // namespace ccp::net
