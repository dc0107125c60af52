#include "core/buffer.h"

#include <sys/mman.h>

#include <cstdlib>
#include <cstring>
#include <new>
#include <utility>

namespace wsedge {
namespace {

// A capacity this big or bigger is an anonymous mapping of its own rather than heap memory:
// munmap gives it back to the system the moment the buffer is released (glibc would keep it
// once one large free has raised its mmap threshold), and growth is mremap, which moves page
// tables instead of copying the bytes. Capacities are 256 * 2^k, so every mapped one is a
// whole number of pages. Measured in bench/micro_memory (docs/deflate.md §7).
constexpr size_t kMapBytes = size_t{1} << 20;

bool is_mapped(size_t capacity) {
  return capacity >= kMapBytes;
}

void free_block(uint8_t* mem, size_t capacity) {
  if (mem == nullptr) return;
  if (is_mapped(capacity)) {
    munmap(mem, capacity);
  } else {
    std::free(mem);
  }
}

uint8_t* map_block(size_t capacity) {
  void* p = mmap(nullptr, capacity, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) throw std::bad_alloc();
  return static_cast<uint8_t*>(p);
}

}  // namespace

Buffer::~Buffer() {
  free_block(mem_, cap_);
}

Buffer::Buffer(Buffer&& other) noexcept
    : mem_(std::exchange(other.mem_, nullptr)),
      cap_(std::exchange(other.cap_, 0)),
      read_(std::exchange(other.read_, 0)),
      write_(std::exchange(other.write_, 0)) {}

Buffer& Buffer::operator=(Buffer&& other) noexcept {
  if (this != &other) {
    free_block(mem_, cap_);
    mem_ = std::exchange(other.mem_, nullptr);
    cap_ = std::exchange(other.cap_, 0);
    read_ = std::exchange(other.read_, 0);
    write_ = std::exchange(other.write_, 0);
  }
  return *this;
}

uint8_t* Buffer::make_room(size_t n) {
  size_t live = readable();
  if (read_ > 0 && cap_ - live >= n) {
    // Enough room once the consumed prefix is reclaimed: compact instead of growing.
    std::memmove(mem_, mem_ + read_, live);
    read_ = 0;
    write_ = live;
    return mem_ + write_;
  }
  size_t want = cap_ < 256 ? 256 : cap_ * 2;
  while (want < live + n)
    want *= 2;
  if (is_mapped(cap_)) {
    // Mapped already (so `want` is too): the kernel extends or moves the mapping.
    if (read_ > 0) std::memmove(mem_, mem_ + read_, live);
    void* p = mremap(mem_, cap_, want, MREMAP_MAYMOVE);
    if (p == MAP_FAILED) throw std::bad_alloc();
    mem_ = static_cast<uint8_t*>(p);
  } else {
    uint8_t* fresh;
    if (is_mapped(want)) {
      fresh = map_block(want);
    } else {
      fresh = static_cast<uint8_t*>(std::malloc(want));
      if (fresh == nullptr) throw std::bad_alloc();
    }
    if (live > 0) std::memcpy(fresh, mem_ + read_, live);
    std::free(mem_);
    mem_ = fresh;
  }
  cap_ = want;
  read_ = 0;
  write_ = live;
  return mem_ + write_;
}

void Buffer::consume(size_t n) {
  read_ += n;
  if (read_ >= write_) read_ = write_ = 0;
}

void Buffer::release() {
  free_block(mem_, cap_);
  mem_ = nullptr;
  cap_ = read_ = write_ = 0;
}

}  // namespace wsedge
