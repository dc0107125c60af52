// bench/load/loop_context.h — what every connection of one worker thread shares.
//
// A worker owns one LoopContext and hands a pointer to each of its connections: the
// reactor, the options, the frame pool (shared read-only by all threads), the worker's
// Stats, the receive buffer (--read-size, 256 KiB by default), the PRNG and the measured window (written by the main
// thread, read here); with --deflate also the compressed frame pools and the scratch buffers
// that compression and inflation reuse. Loop thread only, except Window, which is atomics.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>

#include "bench/load/deflate_pool.h"
#include "bench/load/frame_pool.h"
#include "bench/load/options.h"
#include "bench/load/stats.h"
#include "bench/load/tls_client.h"
#include "core/buffer.h"
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
  LoopContext(const Options& o, const FramePool* p, const Window& w, uint64_t seed)
      : opt(o),
        pool(p),
        window(w),
        rng(seed),
        rx(new uint8_t[o.read_size]),
        rx_size(static_cast<size_t>(o.read_size)) {}

  net::Reactor* reactor = nullptr;
  const Options& opt;
  const FramePool* pool;  // every mode has one: unexpected data is verified against it
  const Window& window;
  Stats stats;
  Rng rng;
  std::unique_ptr<uint8_t[]> rx;  // --read-size bytes (256 KiB by default)
  size_t rx_size;
  ConnOwner* owner = nullptr;
  bool finishing = false;  // the run is over: no new messages, no new connect cycles

  // --deflate. Scratch buffers are shared by this thread's connections: each use finishes
  // (written out or verified) before another connection runs, and keeps its capacity.
  Buffer deflate_out;  // compressed payload of one message (context takeover)
  Buffer tx;           // masked compressed frames on their way to one writev
  Buffer inflated;     // an echo's inflated bytes, verified, then dropped

  // wss://: this thread's TLS context (null for ws://) and the buffer a multi-frame send
  // is gathered into for one SSL_write (TLS has no writev).
  std::unique_ptr<TlsClientContext> tls;
  Buffer tls_gather;

  // The compressed pool for a client window (8..15), built on first use; nullptr if zlib
  // failed.
  const CompressedPool* compressed_pool(int window_bits) {
    auto& slot = compressed_[window_bits - 8];
    if (!slot) slot = std::make_unique<CompressedPool>(*pool, opt.binary, window_bits, rng);
    return slot->ok() ? slot.get() : nullptr;
  }

 private:
  std::unique_ptr<CompressedPool> compressed_[8];
};

}  // namespace wsedge::load
