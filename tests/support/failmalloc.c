// tests/support/failmalloc.c — an LD_PRELOAD shim that makes large allocations fail, so the
// tests can run the real server out of memory on purpose (tests/interop/test_limits.py).
//
//   WSEDGE_FAILMALLOC_ABOVE=N   every malloc, calloc, realloc, aligned allocation and
//                               anonymous mmap of N bytes or more fails with ENOMEM
//
// Unset (or 0), nothing fails and the shim only forwards to glibc. Smaller requests always
// succeed, which is what a process near its memory limit sees: the large buffer of one
// connection cannot be had, the small bookkeeping of the others still can. Built by
// `make test-bins` into $(BUILD)/libfailmalloc.so; glibc only (it forwards to __libc_*),
// and not usable under AddressSanitizer, which must be the first library loaded.
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>

extern void* __libc_malloc(size_t n);
extern void* __libc_calloc(size_t n, size_t m);
extern void* __libc_realloc(void* p, size_t n);
extern void* __libc_memalign(size_t align, size_t n);

// 0 until the constructor has read the environment: the loader's own early allocations
// never fail.
static size_t fail_above;

__attribute__((constructor)) static void failmalloc_init(void) {
  const char* v = getenv("WSEDGE_FAILMALLOC_ABOVE");
  if (v == NULL) return;
  char* end = NULL;
  unsigned long long n = strtoull(v, &end, 10);
  if (end != v) fail_above = (size_t)n;
}

static int refused(size_t n) {
  if (fail_above == 0 || n < fail_above) return 0;
  errno = ENOMEM;
  return 1;
}

void* malloc(size_t n) {
  return refused(n) ? NULL : __libc_malloc(n);
}

void* calloc(size_t n, size_t m) {
  size_t total;
  if (__builtin_mul_overflow(n, m, &total)) total = SIZE_MAX;
  return refused(total) ? NULL : __libc_calloc(n, m);
}

void* realloc(void* p, size_t n) {
  return refused(n) ? NULL : __libc_realloc(p, n);
}

void* aligned_alloc(size_t align, size_t n) {
  return refused(n) ? NULL : __libc_memalign(align, n);
}

void* memalign(size_t align, size_t n) {
  return refused(n) ? NULL : __libc_memalign(align, n);
}

int posix_memalign(void** out, size_t align, size_t n) {
  if (refused(n)) return ENOMEM;
  void* p = __libc_memalign(align, n);
  if (p == NULL) return ENOMEM;
  *out = p;
  return 0;
}

// Code that maps large buffers itself (rather than through malloc) fails the same way.
// glibc's malloc maps through its internal entry point, never through this one.
void* mmap(void* addr, size_t len, int prot, int flags, int fd, off_t off) {
  static void* (*real)(void*, size_t, int, int, int, off_t);
  if ((flags & MAP_ANONYMOUS) && refused(len)) return MAP_FAILED;
  if (real == NULL) real = (void* (*)(void*, size_t, int, int, int, off_t))dlsym(RTLD_NEXT, "mmap");
  return real(addr, len, prot, flags, fd, off);
}
