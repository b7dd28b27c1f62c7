#pragma once
// Heap allocation counter for the benchmark programs: every replaceable allocation
// function of the program counts into a per-thread counter (thread_local: no data race
// with the library's threads, no atomic on the hot path). Deallocation is not counted: we
// report allocations. alloc_meter turns the count of a timed loop into the counter
// `allocs_per_iter`.
//
// The replacement functions are ordinary (non-inline) definitions, as the standard
// requires, so include this header in exactly one translation unit of a program: a second
// inclusion fails to link (multiple definition of operator new), never silently.
//
// A program that defines CCP_BENCH_LIVE_BYTES before including this header also gets
// live_bytes_meter: heap bytes in use, counted while a meter exists. Without the macro the
// preprocessor leaves the replacement functions as they were, so other programs' figures
// do not move.

#include <benchmark/benchmark.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <new>

#ifdef CCP_BENCH_LIVE_BYTES
#include <malloc.h>  // malloc_usable_size (glibc)
#endif

namespace ccp::bench {
namespace {

thread_local std::uint64_t g_allocs = 0;

#ifdef CCP_BENCH_LIVE_BYTES
// Bytes the allocator holds for blocks allocated and not yet freed while g_track_live is
// set (malloc_usable_size: the block as the allocator sized it, a little above the
// request; its own 8-byte chunk header is not counted).
thread_local bool g_track_live = false;
thread_local std::int64_t g_live_bytes = 0;

inline void* track_alloc(void* p) {
  if (g_track_live) g_live_bytes += static_cast<std::int64_t>(malloc_usable_size(p));
  return p;
}
inline void counted_free(void* p) noexcept {
  if (g_track_live && p) g_live_bytes -= static_cast<std::int64_t>(malloc_usable_size(p));
  std::free(p);
}
#else
inline void* track_alloc(void* p) {
  return p;
}
inline void counted_free(void* p) noexcept {
  std::free(p);
}
#endif

void* counted_alloc(std::size_t n) {
  ++g_allocs;
  if (void* p = std::malloc(n == 0 ? 1 : n)) return track_alloc(p);
  throw std::bad_alloc();
}
void* counted_alloc(std::size_t n, std::align_val_t al) {
  ++g_allocs;
  auto a = static_cast<std::size_t>(al);
  std::size_t size = (n + a - 1) / a * a;  // aligned_alloc wants a multiple of the alignment
  if (void* p = std::aligned_alloc(a, size == 0 ? a : size)) return track_alloc(p);
  throw std::bad_alloc();
}

// Counts the allocations made between its construction and report(): construct it right
// before the timed loop, after the setup.
class alloc_meter {
 public:
  alloc_meter() : start_(g_allocs) {}
  // Sets allocs_per_iter (per iteration of `state`) and returns the allocation count.
  std::uint64_t report(benchmark::State& state) const {
    std::uint64_t n = g_allocs - start_;
    auto iters = static_cast<double>(state.iterations());
    state.counters["allocs_per_iter"] = iters > 0 ? static_cast<double>(n) / iters : 0.0;
    return n;
  }

 private:
  std::uint64_t start_;
};

#ifdef CCP_BENCH_LIVE_BYTES
// Heap bytes in use that were allocated since its construction: construct it before the
// structure to measure, read bytes() once it is built. Blocks allocated before the meter
// and freed while it runs count negatively, so build what you measure inside its
// lifetime. One meter at a time per thread; the destructor stops the counting.
class live_bytes_meter {
 public:
  live_bytes_meter() : start_(g_live_bytes) { g_track_live = true; }
  ~live_bytes_meter() { g_track_live = false; }
  live_bytes_meter(const live_bytes_meter&) = delete;
  live_bytes_meter& operator=(const live_bytes_meter&) = delete;
  [[nodiscard]] std::int64_t bytes() const { return g_live_bytes - start_; }

 private:
  std::int64_t start_;
};
#endif

}  // namespace
}  // namespace ccp::bench

void* operator new(std::size_t n) {
  return ccp::bench::counted_alloc(n);
}
void* operator new[](std::size_t n) {
  return ccp::bench::counted_alloc(n);
}
void* operator new(std::size_t n, std::align_val_t al) {
  return ccp::bench::counted_alloc(n, al);
}
void* operator new[](std::size_t n, std::align_val_t al) {
  return ccp::bench::counted_alloc(n, al);
}
void* operator new(std::size_t n, const std::nothrow_t&) noexcept {
  try {
    return ccp::bench::counted_alloc(n);
  } catch (...) {
    return nullptr;
  }
}
void* operator new[](std::size_t n, const std::nothrow_t&) noexcept {
  try {
    return ccp::bench::counted_alloc(n);
  } catch (...) {
    return nullptr;
  }
}
void* operator new(std::size_t n, std::align_val_t al, const std::nothrow_t&) noexcept {
  try {
    return ccp::bench::counted_alloc(n, al);
  } catch (...) {
    return nullptr;
  }
}
void* operator new[](std::size_t n, std::align_val_t al, const std::nothrow_t&) noexcept {
  try {
    return ccp::bench::counted_alloc(n, al);
  } catch (...) {
    return nullptr;
  }
}
void operator delete(void* p) noexcept {
  ccp::bench::counted_free(p);
}
void operator delete[](void* p) noexcept {
  ccp::bench::counted_free(p);
}
void operator delete(void* p, std::size_t) noexcept {
  ccp::bench::counted_free(p);
}
void operator delete[](void* p, std::size_t) noexcept {
  ccp::bench::counted_free(p);
}
void operator delete(void* p, std::align_val_t) noexcept {
  ccp::bench::counted_free(p);
}
void operator delete[](void* p, std::align_val_t) noexcept {
  ccp::bench::counted_free(p);
}
void operator delete(void* p, std::size_t, std::align_val_t) noexcept {
  ccp::bench::counted_free(p);
}
void operator delete[](void* p, std::size_t, std::align_val_t) noexcept {
  ccp::bench::counted_free(p);
}
void operator delete(void* p, const std::nothrow_t&) noexcept {
  ccp::bench::counted_free(p);
}
void operator delete[](void* p, const std::nothrow_t&) noexcept {
  ccp::bench::counted_free(p);
}
void operator delete(void* p, std::align_val_t, const std::nothrow_t&) noexcept {
  ccp::bench::counted_free(p);
}
void operator delete[](void* p, std::align_val_t, const std::nothrow_t&) noexcept {
  ccp::bench::counted_free(p);
}
