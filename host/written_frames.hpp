#pragma once
// How a world reports the frames a link wrote: in::link_flushed at least every
// written_report_frames frames (core/limits.hpp), never per write. One per side of a
// link, kept where the writes complete (a websocket's strand, the simulator's link).

#include <cstddef>
#include <utility>

#include "core/limits.hpp"

namespace ccp::host {

class written_frames {
 public:
  // `frames` more were written. Returns how many to report to the role now (0: not yet).
  [[nodiscard]] std::size_t add(std::size_t frames) noexcept {
    unreported_ += frames;
    if (unreported_ < core::written_report_frames) return 0;
    return std::exchange(unreported_, 0);
  }

 private:
  std::size_t unreported_ = 0;
};

}  // namespace ccp::host
