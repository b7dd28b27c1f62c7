#include "core/subject_text.hpp"

#include <algorithm>
#include <ostream>

namespace ccp::core {

void subject_text::append_slow(std::string_view s) {
  const std::size_t n = size_ + s.size();
  if (heap_ == nullptr || n > capacity_) {
    const std::size_t cap = std::max<std::size_t>(n, 2 * std::size_t{capacity_});
    char* p = new char[cap + 1];
    std::memcpy(p, data(), size_);
    delete[] heap_;
    heap_ = p;
    capacity_ = static_cast<std::uint32_t>(cap);
  }
  std::memcpy(heap_ + size_, s.data(), s.size());
  size_ = static_cast<std::uint32_t>(n);
  heap_[size_] = '\0';
}

std::ostream& operator<<(std::ostream& os, const subject_text& s) {
  return os << s.view();
}

}  // namespace ccp::core
