// core/memory_return.h — gives freed memory back to the system shortly after large messages.
//
// glibc keeps what a program frees for its next allocations, and one large message moves
// its thresholds up for good: freeing a 16 MiB block raises the mmap threshold to 16 MiB and
// the trim threshold to 32 MiB, so the buffers of later large messages come from the heap
// and stay there after they are freed. Per-loop buffers that are emptied but kept for reuse
// (the cork, the compression scratch) keep whatever one large message made them. So after
// an autobahn run a server with no connection held 40 MiB against 7 MiB at start.
//
// The owner calls note_large() when it frees a large buffer or makes a watched buffer grow
// (both rare: never for small messages), and run() when the timer it armed through ArmFn
// fires. run() waits until note_large() has been quiet for quiet_ms (a stream of large
// messages keeps its memory warm), then releases the watched buffers that are empty and
// bigger than keep_bytes and calls malloc_trim(0), which returns every free page of every
// arena. Loop thread only (the watched buffers belong to the loop).
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "core/buffer.h"

namespace wsedge {

class MemoryReturn {
 public:
  struct Options {
    int64_t quiet_ms = 1000;        // run() acts this long after the last note_large()
    size_t keep_bytes = 64 * 1024;  // watched buffers up to this capacity are kept
    bool trim_heap = true;          // malloc_trim(0) in run(); off in unit tests
  };
  struct Stats {
    uint64_t runs = 0;            // times run() released and trimmed
    uint64_t released_bytes = 0;  // capacity of watched buffers released
  };
  // Asks the owner to call run() in delay_ms (arming a timer that calls back once).
  using ArmFn = void (*)(void* ctx, int64_t delay_ms);

  MemoryReturn(ArmFn arm, void* ctx) : MemoryReturn(arm, ctx, Options{}) {}
  MemoryReturn(ArmFn arm, void* ctx, Options options) : arm_(arm), ctx_(ctx), opts_(options) {}

  // A buffer that is emptied after each use but kept for the next; it must outlive this.
  void watch(Buffer& buffer) { watched_.push_back(&buffer); }
  // Large memory was just freed, or a watched buffer may have grown large: arms the timer
  // unless it is armed already. O(1), no allocation.
  void note_large(int64_t now_ms);
  // The timer fired: re-arms for the rest of the quiet period if note_large() came since,
  // else releases and trims. Returns the capacity released from watched buffers.
  size_t run(int64_t now_ms);
  bool armed() const { return armed_; }
  const Stats& stats() const { return stats_; }

 private:
  ArmFn arm_;
  void* ctx_;
  Options opts_;
  std::vector<Buffer*> watched_;
  int64_t last_large_ms_ = 0;
  bool armed_ = false;
  Stats stats_;
};

}  // namespace wsedge
