#include "core/memory_return.h"

#include <malloc.h>

namespace wsedge {

void MemoryReturn::note_large(int64_t now_ms) {
  last_large_ms_ = now_ms;
  if (armed_) return;  // run() looks at last_large_ms_ when it fires
  armed_ = true;
  arm_(ctx_, opts_.quiet_ms);
}

size_t MemoryReturn::run(int64_t now_ms) {
  armed_ = false;
  const int64_t quiet_until = last_large_ms_ + opts_.quiet_ms;
  if (now_ms < quiet_until) {
    // Large messages are still coming: their memory is about to be reused, not returned.
    armed_ = true;
    arm_(ctx_, quiet_until - now_ms);
    return 0;
  }
  size_t released = 0;
  for (Buffer* b : watched_) {
    if (b->empty() && b->capacity() > opts_.keep_bytes) {
      released += b->capacity();
      b->release();
    }
  }
  // Returns the free pages of every arena, not only the heap's top (glibc >= 2.8): the
  // buffers of a large message are often freed below memory that is still in use.
  if (opts_.trim_heap) malloc_trim(0);
  ++stats_.runs;
  stats_.released_bytes += released;
  return released;
}

}  // namespace wsedge
