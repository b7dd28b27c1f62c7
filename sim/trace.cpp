#include "sim/trace.hpp"

namespace ccp::sim {

void trace_sink::line(std::string_view s) {
  // Eight bytes per multiply (FNV-1a takes one): little-endian words, the tail zero-padded,
  // then the line's length, so that lines cannot run into each other. Fixed arithmetic on
  // bytes: the same on every platform.
  auto word = [](const char* p, std::size_t n) {
    std::uint64_t w = 0;
    for (std::size_t k = 0; k < n; ++k)
      w |= std::uint64_t{static_cast<unsigned char>(p[k])} << (8 * k);
    return w;
  };
  auto mix = [this](std::uint64_t w) {
    hash_ = (hash_ ^ w) * 0x9e3779b97f4a7c15ull;
    hash_ ^= hash_ >> 29;
  };
  std::size_t i = 0;
  for (; i + 8 <= s.size(); i += 8)
    mix(word(s.data() + i, 8));
  if (i < s.size()) mix(word(s.data() + i, s.size() - i));
  mix(s.size());
  if (out_) {
    std::fwrite(s.data(), 1, s.size(), out_);
    std::fputc('\n', out_);
  }
}

}  // namespace ccp::sim
