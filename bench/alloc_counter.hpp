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

#include <benchmark/benchmark.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <new>

namespace ccp::bench {
namespace {

thread_local std::uint64_t g_allocs = 0;

void* counted_alloc(std::size_t n) {
  ++g_allocs;
  if (void* p = std::malloc(n == 0 ? 1 : n)) return p;
  throw std::bad_alloc();
}
void* counted_alloc(std::size_t n, std::align_val_t al) {
  ++g_allocs;
  auto a = static_cast<std::size_t>(al);
  std::size_t size = (n + a - 1) / a * a;  // aligned_alloc wants a multiple of the alignment
  if (void* p = std::aligned_alloc(a, size == 0 ? a : size)) return p;
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
  std::free(p);
}
void operator delete[](void* p) noexcept {
  std::free(p);
}
void operator delete(void* p, std::size_t) noexcept {
  std::free(p);
}
void operator delete[](void* p, std::size_t) noexcept {
  std::free(p);
}
void operator delete(void* p, std::align_val_t) noexcept {
  std::free(p);
}
void operator delete[](void* p, std::align_val_t) noexcept {
  std::free(p);
}
void operator delete(void* p, std::size_t, std::align_val_t) noexcept {
  std::free(p);
}
void operator delete[](void* p, std::size_t, std::align_val_t) noexcept {
  std::free(p);
}
void operator delete(void* p, const std::nothrow_t&) noexcept {
  std::free(p);
}
void operator delete[](void* p, const std::nothrow_t&) noexcept {
  std::free(p);
}
void operator delete(void* p, std::align_val_t, const std::nothrow_t&) noexcept {
  std::free(p);
}
void operator delete[](void* p, std::align_val_t, const std::nothrow_t&) noexcept {
  std::free(p);
}
