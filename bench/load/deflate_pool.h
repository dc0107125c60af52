// bench/load/deflate_pool.h — the FramePool's messages compressed once, for connections that
// agreed client_no_context_takeover.
//
// RFC 7692 §7.1.1.2: without client context takeover every message is compressed from an
// empty window, so the same payload always compresses to the same bytes (the deflater is
// reset, not primed, between messages). Each variant is therefore compressed once per worker
// and client window size, framed with RSV1 and pre-masked like the FramePool (the same
// masking-key shortcut, docs/wsload.md), and sent from here with no per-message zlib work.
// Built lazily on the worker's thread by the first connection that needs it; read-only after.
#pragma once

#include <sys/uio.h>

#include <algorithm>
#include <cstdint>
#include <vector>

#include "bench/load/frame_pool.h"
#include "core/buffer.h"
#include "ws/deflate.h"
#include "ws/frame.h"
#include "ws/mask.h"

namespace wsedge::load {

// zlib settings for wsload's own compressor: zlib's defaults, as browsers use them.
inline constexpr int kDeflateLevel = 6;
inline constexpr int kDeflateMemLevel = 8;

class CompressedPool {
 public:
  // What gather() covers: iovecs, their bytes, and the compressed payload bytes in them.
  struct Span {
    int iov_count = 0;
    size_t bytes = 0;
    uint64_t payload_bytes = 0;
  };

  // ok() is false if zlib failed (never expected); the pool is then empty.
  CompressedPool(const FramePool& pool, bool binary, int window_bits, Rng& rng) {
    ws::MessageDeflater deflater({window_bits, kDeflateMemLevel, kDeflateLevel, true});
    const auto op = binary ? ws::Opcode::kBinary : ws::Opcode::kText;
    const size_t variants = pool.variants();
    offsets_.assign(variants + 1, 0);
    payload_before_.assign(variants + 1, 0);
    Buffer z;
    for (size_t v = 0; v < variants; ++v) {
      z.clear();
      if (!deflater.compress({pool.payload(v), pool.size()}, z).ok()) {
        frames_.clear();
        return;
      }
      ws::MaskKey key{};
      const uint64_t k = rng.next();
      for (int b = 0; b < 4; ++b)
        key[b] = static_cast<uint8_t>(k >> (8 * b));
      uint8_t header[ws::kMaxHeaderSize];
      // RFC 7692 §6: RSV1 on the first (here: only) frame marks the message compressed;
      // RFC 6455 §5.3: client frames are masked.
      const size_t h = ws::encode_header(header, op, z.readable(), true, true, &key);
      const size_t at = frames_.size();
      frames_.insert(frames_.end(), header, header + h);
      frames_.insert(frames_.end(), z.data(), z.data() + z.readable());
      ws::unmask(frames_.data() + at + h, z.readable(), key);  // masking is the same XOR
      offsets_[v + 1] = frames_.size();
      payload_before_[v + 1] = payload_before_[v] + z.readable();
    }
    ok_ = true;
  }

  bool ok() const { return ok_; }
  size_t variants() const { return offsets_.size() - 1; }

  // iovecs for n frames starting at variant v (wrapping), like FramePool::gather; frames of
  // consecutive variants are contiguous. At most max_iov entries: n <= variants * max_iov.
  Span gather(size_t v, size_t n, iovec* iov, int max_iov) const {
    Span s;
    const size_t count = variants();
    while (n > 0 && s.iov_count < max_iov) {
      const size_t run = std::min(n, count - v);
      iov[s.iov_count].iov_base = const_cast<uint8_t*>(frames_.data() + offsets_[v]);
      iov[s.iov_count].iov_len = offsets_[v + run] - offsets_[v];
      s.bytes += iov[s.iov_count].iov_len;
      s.payload_bytes += payload_before_[v + run] - payload_before_[v];
      ++s.iov_count;
      n -= run;
      v = 0;
    }
    return s;
  }

 private:
  bool ok_ = false;
  std::vector<uint8_t> frames_;           // every variant's masked frame, back to back
  std::vector<size_t> offsets_;           // variant v is frames_[offsets_[v], offsets_[v+1])
  std::vector<uint64_t> payload_before_;  // compressed payload bytes of variants [0, v)
};

}  // namespace wsedge::load
