#pragma once
// The subject a publish action carries.

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <iosfwd>
#include <string>
#include <string_view>

namespace ccp::core {

// A bus subject held inline up to inline_bytes, on the heap beyond: building, copying and
// dropping the publish action of a forwarded frame allocates nothing for the subjects of
// IPv4 and short DNS hosts and ids. A std::string did for every subject over 15 bytes
// (ccp.mgmt.10_0_0_1.m1, the subject of every reply to a management node, is 20).
// Always NUL-terminated (c_str) for the NATS client.
class subject_text {
 public:
  static constexpr std::size_t inline_bytes = 63;

  subject_text() noexcept { inline_[0] = '\0'; }
  // Implicit: call sites pass literals, std::string and views where a subject is wanted.
  subject_text(std::string_view s) { append(s); }  // NOLINT(google-explicit-constructor)
  subject_text(const std::string& s) : subject_text(std::string_view(s)) {}  // NOLINT
  subject_text(const char* s) : subject_text(std::string_view(s)) {}         // NOLINT
  subject_text(const subject_text& o) { copy_from(o); }
  subject_text(subject_text&& o) noexcept { move_from(o); }
  subject_text& operator=(const subject_text& o) {
    if (this != &o) {
      release();
      copy_from(o);
    }
    return *this;
  }
  subject_text& operator=(subject_text&& o) noexcept {
    if (this != &o) {
      release();
      move_from(o);
    }
    return *this;
  }
  ~subject_text() { release(); }

  subject_text& operator+=(char c) {
    if (heap_ == nullptr && size_ < inline_bytes) {
      inline_[size_++] = c;
      inline_[size_] = '\0';
    } else {
      append_slow(std::string_view(&c, 1));
    }
    return *this;
  }
  subject_text& operator+=(std::string_view s) {
    append(s);
    return *this;
  }
  void append(std::string_view s) {
    if (heap_ == nullptr && size_ + s.size() <= inline_bytes) {
      std::memcpy(inline_ + size_, s.data(), s.size());
      size_ += static_cast<std::uint32_t>(s.size());
      inline_[size_] = '\0';
    } else {
      append_slow(s);
    }
  }

  [[nodiscard]] std::string_view view() const noexcept { return {data(), size_}; }
  operator std::string_view() const noexcept { return view(); }  // NOLINT
  [[nodiscard]] const char* c_str() const noexcept { return data(); }
  [[nodiscard]] std::size_t size() const noexcept { return size_; }
  [[nodiscard]] bool on_heap() const noexcept { return heap_ != nullptr; }
  [[nodiscard]] std::string str() const { return std::string(view()); }

  friend bool operator==(const subject_text& a, const subject_text& b) noexcept {
    return a.view() == b.view();
  }
  friend bool operator==(const subject_text& a, std::string_view b) noexcept {
    return a.view() == b;
  }
  friend bool operator==(const subject_text& a, const std::string& b) noexcept {
    return a.view() == std::string_view(b);
  }
  friend bool operator==(const subject_text& a, const char* b) noexcept {
    return a.view() == std::string_view(b);
  }

 private:
  [[nodiscard]] const char* data() const noexcept { return heap_ != nullptr ? heap_ : inline_; }
  void append_slow(std::string_view s);
  void copy_from(const subject_text& o) {
    size_ = o.size_;
    if (o.heap_ == nullptr) [[likely]] {
      copy_inline(o);
    } else {
      heap_ = new char[o.size_ + 1];
      capacity_ = o.size_;
      std::memcpy(heap_, o.heap_, o.size_ + 1);
      inline_[0] = '\0';
    }
  }
  void move_from(subject_text& o) noexcept {
    size_ = o.size_;
    heap_ = o.heap_;
    capacity_ = o.capacity_;
    if (heap_ == nullptr) copy_inline(o);
    o.heap_ = nullptr;
    o.capacity_ = 0;
    o.size_ = 0;
    o.inline_[0] = '\0';
  }
  // The inline text with its NUL, 16 bytes a step: one vector move for most subjects. What
  // follows the NUL in the last step is copied as it is and never read.
  void copy_inline(const subject_text& o) noexcept {
    static_assert(sizeof inline_ % 16 == 0);
    for (std::size_t i = 0; i <= o.size_; i += 16)
      std::memcpy(inline_ + i, o.inline_ + i, 16);
  }
  void release() noexcept {
    delete[] heap_;
    heap_ = nullptr;
    capacity_ = 0;
  }

  char* heap_ = nullptr;        // the text when longer than inline_bytes
  std::uint32_t capacity_ = 0;  // of heap_, without its NUL
  std::uint32_t size_ = 0;
  // Not zeroed: only the text and its NUL are ever written, copied or read (a copy zeroed
  // all 64 bytes first, then copied them, on every forwarded frame's publish action).
  char inline_[inline_bytes + 1];  // NOLINT(cppcoreguidelines-pro-type-member-init)
};

std::ostream& operator<<(std::ostream& os, const subject_text& s);

}  // namespace ccp::core
