// bench/load/loop_context.h — what every connection of one worker thread shares.
//
// A worker owns one LoopContext and hands a pointer to each of its connections: the
// reactor, the options, the frame pool (shared read-only by all threads), the worker's
// Stats, the 256 KiB receive buffer, the PRNG and the measured window (written by the main
// thread, read here). Loop thread only, except Window, which is atomics.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>

#include "bench/load/frame_pool.h"
#include "bench/load/options.h"
#include "bench/load/stats.h"
#include "net/reactor.h"

namespace wsedge::load {

class Conn;

// The measured window, set by the main thread once every connection has settled.
struct Window {
  std::atomic<int64_t> start_ns{INT64_MAX};
  std::atomic<int64_t> end_ns{INT64_MAX};
  bool contains(int64_t t) const {
    return t >= start_ns.load(std::memory_order_acquire) &&
           t < end_ns.load(std::memory_order_relaxed);
  }
};

// The worker's side of a connection's life.
class ConnOwner {
 public:
  virtual void on_settled(Conn& c, bool opened) = 0;  // opening handshake done or failed
  virtual void on_cycle_done(Conn& c) = 0;            // connect mode: one loop completed
  virtual void on_closed(Conn& c) = 0;                // the fd is closed (any reason)

 protected:
  ~ConnOwner() = default;
};

struct LoopContext {
  static constexpr size_t kReadBufferSize = 256 * 1024;

  LoopContext(const Options& o, const FramePool* p, const Window& w, uint64_t seed)
      : opt(o), pool(p), window(w), rng(seed), rx(new uint8_t[kReadBufferSize]) {}

  net::Reactor* reactor = nullptr;
  const Options& opt;
  const FramePool* pool;  // every mode has one: unexpected data is verified against it
  const Window& window;
  Stats stats;
  Rng rng;
  std::unique_ptr<uint8_t[]> rx;
  ConnOwner* owner = nullptr;
  bool finishing = false;  // the run is over: no new messages, no new connect cycles
};

}  // namespace wsedge::load
