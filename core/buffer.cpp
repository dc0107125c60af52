#include "core/buffer.h"

#include <cstdlib>
#include <cstring>
#include <new>
#include <utility>

namespace wsedge {

Buffer::~Buffer() {
  std::free(mem_);
}

Buffer::Buffer(Buffer&& other) noexcept
    : mem_(std::exchange(other.mem_, nullptr)),
      cap_(std::exchange(other.cap_, 0)),
      read_(std::exchange(other.read_, 0)),
      write_(std::exchange(other.write_, 0)) {}

Buffer& Buffer::operator=(Buffer&& other) noexcept {
  if (this != &other) {
    std::free(mem_);
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
  auto* fresh = static_cast<uint8_t*>(std::malloc(want));
  if (fresh == nullptr) throw std::bad_alloc();
  if (live > 0) std::memcpy(fresh, mem_ + read_, live);
  std::free(mem_);
  mem_ = fresh;
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
  std::free(mem_);
  mem_ = nullptr;
  cap_ = read_ = write_ = 0;
}

}  // namespace wsedge
