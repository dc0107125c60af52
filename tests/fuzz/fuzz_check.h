// tests/fuzz/fuzz_check.h — what every libFuzzer target in tests/fuzz/ shares.
//
// FUZZ_CHECK states an invariant: when it does not hold, the target prints which one and
// aborts, and libFuzzer saves the input as a crash (docs/fuzzing.md says how to replay it).
// Copy gives a span its own exactly-sized heap block, so ASan catches a read one byte past
// a prefix (the fuzzer's input itself is such a block); Window does the same for the many
// prefixes of a loop without a malloc each, by poisoning what follows. Header-only; one thread.
#pragma once

#include <sanitizer/asan_interface.h>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <span>
#include <string_view>

namespace wsedge::fuzz {

[[noreturn]] inline void check_failed(const char* what, const char* file, int line) {
  std::fprintf(stderr, "%s:%d: invariant broken: %s\n", file, line, what);
  std::abort();
}

// An exactly-sized heap copy of `bytes`: an over-read by even one byte is an ASan report.
class Copy {
 public:
  explicit Copy(std::span<const uint8_t> bytes)
      : size_(bytes.size()), mem_(new uint8_t[bytes.size() == 0 ? 1 : bytes.size()]) {
    for (size_t i = 0; i < size_; ++i)
      mem_[i] = bytes[i];
  }
  std::span<uint8_t> span() { return {mem_.get(), size_}; }
  std::span<const uint8_t> view() const { return {mem_.get(), size_}; }

 private:
  size_t size_;
  std::unique_ptr<uint8_t[]> mem_;
};

// One heap block, re-filled for each prefix: place() copies bytes to its start and poisons
// the rest (ASan tracks addressability per byte up to the block's end), so a read past the
// placed bytes is reported as if they were a block of their own. One placement alive at a time.
class Window {
 public:
  explicit Window(size_t capacity = 64) : cap_(capacity), mem_(new uint8_t[capacity]) {}
  ~Window() { ASAN_UNPOISON_MEMORY_REGION(mem_.get(), cap_); }
  Window(const Window&) = delete;
  Window& operator=(const Window&) = delete;
  std::span<uint8_t> place(std::span<const uint8_t> bytes) {
    ASAN_UNPOISON_MEMORY_REGION(mem_.get(), cap_);
    if (bytes.size() > cap_) {  // grow: the old block is freed unpoisoned
      cap_ = bytes.size();
      mem_.reset(new uint8_t[cap_]);
    }
    for (size_t i = 0; i < bytes.size(); ++i)
      mem_[i] = bytes[i];
    ASAN_POISON_MEMORY_REGION(mem_.get() + bytes.size(), cap_ - bytes.size());
    return {mem_.get(), bytes.size()};
  }

 private:
  size_t cap_;
  std::unique_ptr<uint8_t[]> mem_;
};

inline std::string_view as_text(std::span<const uint8_t> b) {
  return {reinterpret_cast<const char*>(b.data()), b.size()};
}
inline std::span<const uint8_t> as_bytes(std::string_view s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

// True when `inner` lies inside [outer.data(), outer.data() + outer.size()).
inline bool points_into(std::string_view inner, std::span<const uint8_t> outer) {
  if (inner.empty()) return true;
  const auto* p = reinterpret_cast<const uint8_t*>(inner.data());
  return p >= outer.data() && p + inner.size() <= outer.data() + outer.size();
}

}  // namespace wsedge::fuzz

#define FUZZ_CHECK(cond) \
  ((cond) ? (void)0 : ::wsedge::fuzz::check_failed(#cond, __FILE__, __LINE__))
