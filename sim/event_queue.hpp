#pragma once
// The simulator's event queue (sim/world.hpp runs it).

#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <vector>

#include "core/limits.hpp"

namespace ccp::sim {

using core::micros;

// The simulator's event queue: items in (time, push order) order, so events at the same
// virtual time run first in, first out. A 4-ary min-heap of 16-byte keys (time, and the
// push sequence number above the item's slot number), laid out so that the four children
// of a node fill one 64-byte cache line; the items stay in a slab of slots, so a sift
// moves 16-byte keys, never an event with its shared_ptr. Deterministic: the order
// depends on times and push order only, and free slots are reused last in, first out.
// Limits: 2^40 pushes and 2^24 items pending at once; beyond either, push throws
// std::length_error rather than reorder events.
template <class T>
class event_queue {
 public:
  [[nodiscard]] bool empty() const noexcept { return size_ == 0; }
  [[nodiscard]] std::size_t size() const noexcept { return size_; }
  // The earliest item and its time; the queue must not be empty.
  [[nodiscard]] micros top_time() const noexcept { return at(0).t; }
  [[nodiscard]] const T& top() const noexcept { return items_[at(0).order & slot_mask]; }

  void push(micros t, T item) {
    std::uint64_t slot = items_.size();
    if (free_.empty()) {
      if (slot > slot_mask) throw std::length_error("event_queue: too many pending events");
      items_.push_back(std::move(item));
    } else {
      slot = free_.back();
      free_.pop_back();
      items_[slot] = std::move(item);
    }
    if (seq_ >= max_pushes) throw std::length_error("event_queue: sequence numbers exhausted");
    if (group_of(size_) >= groups_.size()) groups_.emplace_back();
    sift_up(size_++, key{t, seq_++ << slot_bits | slot});
  }

  // Removes the earliest item and returns it; the queue must not be empty.
  T pop() {
    const std::uint64_t slot = at(0).order & slot_mask;
    const key last = at(--size_);
    if (size_ > 0) {
      sift_down(last);
      __builtin_prefetch(&items_[at(0).order & slot_mask]);  // the next pop's item
    }
    free_.push_back(static_cast<std::uint32_t>(slot));
    return std::move(items_[slot]);
  }

 private:
  static constexpr unsigned slot_bits = 24;
  static constexpr std::uint64_t slot_mask = (std::uint64_t{1} << slot_bits) - 1;
  static constexpr std::uint64_t max_pushes = std::uint64_t{1} << (64 - slot_bits);
  static constexpr std::size_t arity = 4;  // sift_down's tournament assumes four

  struct key {
    micros t;
    std::uint64_t order;  // push sequence << slot_bits | slot: unique, grows with pushes
  };
  // Node i sits at position i + arity - 1 of an array of aligned 64-byte groups: the root
  // alone in group 0, the children arity*i+1 .. arity*i+arity of node i together in group
  // i + 1, one cache line.
  struct alignas(arity * sizeof(key)) group {
    key k[arity];
  };
  static std::size_t group_of(std::size_t i) noexcept { return (i + arity - 1) / arity; }
  key& at(std::size_t i) noexcept { return groups_[group_of(i)].k[(i + arity - 1) % arity]; }
  const key& at(std::size_t i) const noexcept {
    return groups_[group_of(i)].k[(i + arity - 1) % arity];
  }

  // Without branches: which child of a node is earliest is a coin toss for the predictor.
  static bool before(const key& a, const key& b) noexcept {
    return (a.t < b.t) | ((a.t == b.t) & (a.order < b.order));
  }
  // Places `k` at node i or above.
  void sift_up(std::size_t i, const key k) noexcept {
    while (i > 0) {
      std::size_t parent = (i - 1) / arity;
      if (!before(k, at(parent))) break;
      at(i) = at(parent);
      i = parent;
    }
    at(i) = k;
  }
  // Places `k`, the former last key, after the root was taken: the hole at the root moves
  // down along the earliest children to a leaf, then `k` moves up from there (Floyd). One
  // comparison per level fewer than a plain sift-down, and `k`, a late key, seldom rises.
  void sift_down(const key k) noexcept {
    std::size_t i = 0;
    while (true) {
      const std::size_t first = arity * i + 1;
      if (first >= size_) break;
      const key* c = groups_[i + 1].k;  // the children of i, first .. first + arity - 1
      std::size_t best = 0;
      if (first + arity <= size_) {
        // All four children: a tournament, two comparisons deep instead of three in a row
        // (keys are unique, so it picks the same child).
        const std::size_t a = before(c[1], c[0]) ? 1 : 0;
        const std::size_t b = before(c[3], c[2]) ? 3 : 2;
        best = before(c[b], c[a]) ? b : a;
      } else {
        for (std::size_t j = 1; j < size_ - first; ++j)
          best = before(c[j], c[best]) ? j : best;
      }
      at(i) = c[best];
      i = first + best;
    }
    sift_up(i, k);
  }

  std::vector<group> groups_;
  std::size_t size_ = 0;
  std::vector<T> items_;
  std::vector<std::uint32_t> free_;
  std::uint64_t seq_ = 0;
};

}  // namespace ccp::sim
