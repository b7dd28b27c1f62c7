#pragma once
// flat_map: the hash map of the forwarding paths' lookups (a proxy's link and route
// tables, an agent's endpoints).
//
// std::unordered_map reduces a hash to a bucket by dividing by a prime (a `div`, the
// slowest integer instruction) and then follows the bucket's pointer to the node before
// the one it wants: about 15% of a proxy's forwarding time (perf, bench/routing_bench.cpp).
// Here the table's size is a power of two and a hash is reduced by one multiplication
// (Fibonacci hashing: the top bits of hash x 2^64/phi, which also spreads std::hash's
// identity hash of integers); a key's slot holds the key and its value, found by linear
// probing. Erasing shifts the entries after it back into place (no tombstones), so a probe
// is never longer than the table's load makes it. The load stays at most 1/2.
//
// Values move when the table grows or an entry is erased: keep an object whose address is
// shared (a proxy's link state) behind a std::unique_ptr. The iteration order depends on
// the hashes and on the history of the table: a loop whose order reaches an action or a
// trace sorts first (proxy::links_in_order).

#include <bit>
#include <cstddef>
#include <cstdint>
#include <utility>
#include <vector>

namespace ccp::core {

// Hash and Eq may be transparent (is_transparent), as bytes_hash and bytes_equal are: a
// map keyed by std::string is then searched with a std::string_view.
template <class Key, class T, class Hash, class Eq>
class flat_map {
 public:
  flat_map() { slots_.resize(min_slots); }

  [[nodiscard]] std::size_t size() const noexcept { return size_; }
  [[nodiscard]] bool empty() const noexcept { return size_ == 0; }

  // The value of `key`; nullptr when there is none. Valid until the map changes.
  template <class K>
  [[nodiscard, gnu::always_inline]] T* find(const K& key) noexcept {
    for (std::size_t i = home(Hash{}(key));; i = next(i)) {
      slot& s = slots_[i];
      if (!s.used) return nullptr;
      if (Eq{}(s.key, key)) return &s.value;
    }
  }
  template <class K>
  [[nodiscard, gnu::always_inline]] const T* find(const K& key) const noexcept {
    return const_cast<flat_map*>(this)->find(key);
  }
  template <class K>
  [[nodiscard]] bool contains(const K& key) const noexcept {
    return find(key) != nullptr;
  }

  // Sets the value of `key`, adding the key when it is new. Returns the stored value.
  T& assign(Key key, T value) {
    if (T* v = find(key)) {
      *v = std::move(value);
      return *v;
    }
    if (2 * (size_ + 1) > slots_.size()) grow();
    slot& s = slots_[free_slot(Hash{}(key))];
    s.used = true;
    s.key = std::move(key);
    s.value = std::move(value);
    ++size_;
    return s.value;
  }

  // Removes `key`. Returns whether it was there.
  template <class K>
  bool erase(const K& key) {
    std::size_t i = home(Hash{}(key));
    for (;; i = next(i)) {
      if (!slots_[i].used) return false;
      if (Eq{}(slots_[i].key, key)) break;
    }
    // Backward shift: every entry after the hole up to the next empty slot that may live
    // in the hole (its home is not cyclically within (hole, its slot]) moves into it.
    std::size_t hole = i;
    for (std::size_t j = next(hole); slots_[j].used; j = next(j)) {
      const std::size_t h = home(Hash{}(slots_[j].key));
      const bool stays = hole < j ? (hole < h && h <= j) : (hole < h || h <= j);
      if (stays) continue;
      slots_[hole].key = std::move(slots_[j].key);
      slots_[hole].value = std::move(slots_[j].value);
      hole = j;
    }
    slots_[hole] = slot{};  // releases what the key and value held
    --size_;
    return true;
  }

  void clear() {
    slots_.assign(min_slots, slot{});
    mask_ = min_slots - 1;
    shift_ = 64 - std::countr_zero(min_slots);
    size_ = 0;
  }

  // Calls f(key, value) for every entry, in no particular order. f must not change the map.
  template <class F>
  void for_each(F&& f) {
    for (slot& s : slots_)
      if (s.used) f(std::as_const(s.key), s.value);
  }
  template <class F>
  void for_each(F&& f) const {
    for (const slot& s : slots_)
      if (s.used) f(s.key, s.value);
  }

 private:
  struct slot {
    bool used = false;
    Key key{};
    T value{};
  };
  // Small, and a power of two: every size is. Two: many tables of a fleet stay empty or
  // nearly (an endpoint's, a mgmt node's link table), and a table with slots needs no
  // "is there a table" branch in find (one cost the proxy's fan-out 20%).
  static constexpr std::size_t min_slots = 2;

  [[nodiscard, gnu::always_inline]] std::size_t home(std::size_t hash) const noexcept {
    return static_cast<std::size_t>((std::uint64_t{hash} * 0x9e37'79b9'7f4a'7c15ULL) >> shift_);
  }
  [[nodiscard]] std::size_t next(std::size_t i) const noexcept { return (i + 1) & mask_; }
  // The first empty slot of the probe sequence of `hash`.
  [[nodiscard]] std::size_t free_slot(std::size_t hash) const noexcept {
    std::size_t i = home(hash);
    while (slots_[i].used)
      i = next(i);
    return i;
  }
  void grow() {
    std::vector<slot> old(slots_.size() * 2);
    old.swap(slots_);
    mask_ = slots_.size() - 1;
    --shift_;
    for (slot& s : old)
      if (s.used) slots_[free_slot(Hash{}(s.key))] = std::move(s);
  }

  std::vector<slot> slots_;
  std::size_t mask_ = min_slots - 1;  // slots_.size() - 1, which a division would compute
  int shift_ = 64 - std::countr_zero(min_slots);  // home() keeps log2(slots) bits
  std::size_t size_ = 0;
};

}  // namespace ccp::core
