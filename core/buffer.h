// core/buffer.h — a growable byte buffer with read and write cursors.
//
//   +------------------+------------------+------------------+
//   |  consumed (free) |  readable bytes  |  writable space  |
//   0        <=      read_      <=      write_     <=      cap_
//
// A Buffer owns no memory until the first write, so an idle connection's tail/output
// buffers cost only three words. When everything is consumed the cursors return to 0;
// prepare() compacts (moves the readable bytes to the front) before it grows.
// release() gives the memory back: from 1 MiB of capacity up the memory is a mapping of its
// own (mmap, grown with mremap), so releasing a large buffer returns it to the system at once
// instead of to the allocator's heap. Move-only; not thread-safe (one loop owns it).
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>

namespace wsedge {

class Buffer {
 public:
  Buffer() = default;
  ~Buffer();
  Buffer(Buffer&& other) noexcept;
  Buffer& operator=(Buffer&& other) noexcept;
  Buffer(const Buffer&) = delete;
  Buffer& operator=(const Buffer&) = delete;

  size_t readable() const { return write_ - read_; }
  bool empty() const { return write_ == read_; }
  size_t writable() const { return cap_ - write_; }
  size_t capacity() const { return cap_; }

  uint8_t* data() { return mem_ + read_; }
  const uint8_t* data() const { return mem_ + read_; }
  std::span<const uint8_t> view() const { return {mem_ + read_, readable()}; }
  std::span<uint8_t> mutable_view() { return {mem_ + read_, readable()}; }

  // Ensures at least n writable bytes (compacting, then growing) and returns the write
  // position. Pointers from data()/view() are invalidated. Follow with commit(k), k <= n.
  uint8_t* prepare(size_t n) { return writable() >= n ? mem_ + write_ : make_room(n); }
  void commit(size_t n) { write_ += n; }

  // Inline: the cork buffer takes every echoed frame through here.
  void append(const void* p, size_t n) {
    if (n == 0) return;
    std::memcpy(prepare(n), p, n);
    commit(n);
  }
  void append(std::span<const uint8_t> s) { append(s.data(), s.size()); }
  // Both, behind one capacity check: a frame's header and its payload. In line (the cork
  // takes every answer through here): out of line it costs more in saved registers than
  // in copying.
  [[gnu::always_inline]] void append(std::span<const uint8_t> a, std::span<const uint8_t> b) {
    const size_t n = a.size() + b.size();
    if (n == 0) return;
    uint8_t* dst = prepare(n);
    copy(dst, a.data(), a.size());
    copy(dst + a.size(), b.data(), b.size());
    commit(n);
  }

  // Drops n readable bytes from the front (n <= readable()).
  void consume(size_t n);
  void clear() { read_ = write_ = 0; }
  // Frees the memory; the buffer is as if newly constructed.
  void release();

 private:
  uint8_t* make_room(size_t n);  // prepare()'s slow path: compact or grow
  // memcpy for non-overlapping ranges, with up to 16 bytes (a frame header, a short
  // message) copied in line by two overlapping loads instead of a call into libc.
  // always_inline: left to itself, GCC's LTO inliner outlines it once the program has a
  // few more callers of append (the --trace paths did that), and the two calls then cost
  // ~15 instructions per echoed message.
  [[gnu::always_inline]] static void copy(uint8_t* dst, const uint8_t* src, size_t n) {
    if (n > 16) {
      std::memcpy(dst, src, n);
    } else if (n >= 8) {
      uint64_t head, tail;
      std::memcpy(&head, src, 8);
      std::memcpy(&tail, src + n - 8, 8);
      std::memcpy(dst, &head, 8);
      std::memcpy(dst + n - 8, &tail, 8);
    } else if (n >= 4) {
      uint32_t head, tail;
      std::memcpy(&head, src, 4);
      std::memcpy(&tail, src + n - 4, 4);
      std::memcpy(dst, &head, 4);
      std::memcpy(dst + n - 4, &tail, 4);
    } else if (n >= 2) {
      uint16_t head, tail;
      std::memcpy(&head, src, 2);
      std::memcpy(&tail, src + n - 2, 2);
      std::memcpy(dst, &head, 2);
      std::memcpy(dst + n - 2, &tail, 2);
    } else if (n == 1) {
      dst[0] = src[0];
    }
  }

  uint8_t* mem_ = nullptr;
  size_t cap_ = 0;
  size_t read_ = 0;
  size_t write_ = 0;
};

}  // namespace wsedge
