#pragma once
// stable_vector: a vector whose elements never move. Elements live in fixed chunks of
// 2^ChunkBits, allocated as the vector grows, so an element that others point to (a
// simulated process is its kernel's world_port) can sit in place next to its neighbours:
// no allocation of its own, no pointer to follow from the index to the element.
// Append-only: the simulator never removes a process, it marks it dead.

#include <cstddef>
#include <memory>
#include <new>
#include <utility>
#include <vector>

namespace ccp::sim {

template <class T, unsigned ChunkBits = 8>
class stable_vector {
 public:
  stable_vector() = default;
  stable_vector(const stable_vector&) = delete;
  stable_vector& operator=(const stable_vector&) = delete;
  ~stable_vector() {
    for (std::size_t i = size_; i > 0; --i)
      (*this)[i - 1].~T();
  }

  [[nodiscard]] std::size_t size() const noexcept { return size_; }
  [[nodiscard]] T& operator[](std::size_t i) noexcept {
    return *std::launder(reinterpret_cast<T*>(&chunks_[i >> ChunkBits][i & mask]));
  }
  [[nodiscard]] const T& operator[](std::size_t i) const noexcept {
    return *std::launder(reinterpret_cast<const T*>(&chunks_[i >> ChunkBits][i & mask]));
  }

  template <class... Args>
  T& emplace_back(Args&&... args) {
    if ((size_ & mask) == 0 && (size_ >> ChunkBits) == chunks_.size())
      chunks_.push_back(std::make_unique<cell[]>(std::size_t{1} << ChunkBits));
    T* p = ::new (&chunks_[size_ >> ChunkBits][size_ & mask]) T(std::forward<Args>(args)...);
    ++size_;
    return *p;
  }

  template <class F>
  void for_each(F&& f) {
    for (std::size_t i = 0; i < size_; ++i)
      f((*this)[i]);
  }

 private:
  static constexpr std::size_t mask = (std::size_t{1} << ChunkBits) - 1;
  struct cell {
    alignas(T) unsigned char bytes[sizeof(T)];
  };
  std::vector<std::unique_ptr<cell[]>> chunks_;
  std::size_t size_ = 0;
};

}  // namespace ccp::sim
