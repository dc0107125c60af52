// The replaced global operator new of the unit binary (see fail_alloc.h). Its own file, so
// no caller is compiled in sight of both the replacement and std::free.
#include "fail_alloc.h"

#include <cstdlib>
#include <new>

namespace wsedge::test {

std::atomic<bool> g_fail_armed{false};
std::atomic<long> g_fail_countdown{0};
std::atomic<long> g_failures{0};

}  // namespace wsedge::test

using wsedge::test::g_fail_armed;
using wsedge::test::g_fail_countdown;

void* operator new(std::size_t n) {
  if (g_fail_armed.load(std::memory_order_relaxed) && g_fail_countdown.load() > 0 &&
      g_fail_countdown.fetch_sub(1) == 1) {
    wsedge::test::g_failures.fetch_add(1);
    throw std::bad_alloc();
  }
  void* p = std::malloc(n == 0 ? 1 : n);
  if (p == nullptr) throw std::bad_alloc();
  return p;
}

void* operator new[](std::size_t n) {
  return ::operator new(n);
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

// The nothrow forms too: AddressSanitizer supplies its own unless they are replaced here,
// and its allocations would then be freed by the free() above (an alloc-dealloc mismatch).
void* operator new(std::size_t n, const std::nothrow_t&) noexcept {
  try {
    return ::operator new(n);
  } catch (const std::bad_alloc&) {
    return nullptr;
  }
}

void* operator new[](std::size_t n, const std::nothrow_t&) noexcept {
  try {
    return ::operator new(n);
  } catch (const std::bad_alloc&) {
    return nullptr;
  }
}

void operator delete(void* p, const std::nothrow_t&) noexcept {
  std::free(p);
}

void operator delete[](void* p, const std::nothrow_t&) noexcept {
  std::free(p);
}
