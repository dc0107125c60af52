// bench/load/frame_pool.h — the masked client frames wsload sends, built once.
//
// RFC 6455 §5.3 wants an unpredictable masking key per frame, to stop a hostile script
// from steering bytes through an intermediary's cache. A load generator has no such
// adversary, and masking every send would cost wsload what it is measuring in the server,
// so wsload pre-masks a pool of up to 64 frames, each with its own random key and its own
// random payload, and cycles through them (a documented shortcut, docs/wsload.md). Each
// variant's payload differs, so an echo of the wrong message is caught, not just a flipped
// byte. With --deflate small messages get more variants (see min_distinct below). Built once
// before threads start; read-only and shared by all threads afterwards.
#pragma once

#include <sys/uio.h>

#include <algorithm>
#include <cstdint>
#include <vector>

#include "ws/frame.h"
#include "ws/mask.h"

namespace wsedge::load {

// splitmix64: fast, good enough for mask keys and nonces, seeded per thread.
class Rng {
 public:
  explicit Rng(uint64_t seed) : s_(seed) {}
  uint64_t next() {
    uint64_t z = (s_ += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }

 private:
  uint64_t s_;
};

class FramePool {
 public:
  static constexpr size_t kMaxVariants = 64;
  static constexpr size_t kMaxPoolBytes = 4u << 20;  // big messages get fewer variants
  // Twice the largest DEFLATE window (RFC 7692 §7.1.2: 2^15 bytes). With context takeover a
  // compressor remembers the last 32 KiB sent; if the whole pool fit in that, every message
  // would compress to a back-reference to its previous copy, which no real traffic does.
  static constexpr size_t kDeflateDistinctBytes = 64u << 10;

  // min_distinct: the variants together hold at least this many payload bytes (within
  // kMaxPoolBytes), even if that takes more than kMaxVariants of them.
  FramePool(uint64_t size, bool binary, Rng& rng, size_t min_distinct = 0) : size_(size) {
    uint8_t header[ws::kMaxHeaderSize];
    ws::MaskKey key{};
    const auto op = binary ? ws::Opcode::kBinary : ws::Opcode::kText;
    header_len_ = ws::encode_header(header, op, size, true, false, &key);
    frame_len_ = header_len_ + size;
    const size_t fit = kMaxPoolBytes / std::max<size_t>(frame_len_, 1);
    variants_ = std::clamp<size_t>(fit, 1, kMaxVariants);
    if (size > 0 && variants_ * size < min_distinct)
      variants_ = std::max(variants_, std::min<size_t>((min_distinct + size - 1) / size, fit));
    payloads_.resize(variants_ * size);
    frames_.resize(variants_ * frame_len_);
    for (size_t v = 0; v < variants_; ++v) {
      uint8_t* p = payloads_.data() + v * size;
      // Text must be valid UTF-8 (RFC 6455 §8.1): printable ASCII is.
      for (size_t i = 0; i < size; ++i) {
        auto r = static_cast<uint8_t>(rng.next());
        p[i] = binary ? r : static_cast<uint8_t>('!' + r % 94);
      }
      uint64_t k = rng.next();
      for (int b = 0; b < 4; ++b)
        key[b] = static_cast<uint8_t>(k >> (8 * b));
      uint8_t* f = frames_.data() + v * frame_len_;
      ws::encode_header(f, op, size, true, false, &key);  // RFC 6455 §5.3: clients mask
      std::copy(p, p + size, f + header_len_);
      ws::unmask(f + header_len_, size, key);  // masking is the same XOR
    }
  }

  size_t variants() const { return variants_; }
  size_t frame_len() const { return frame_len_; }
  uint64_t size() const { return size_; }
  const uint8_t* frame(size_t v) const { return frames_.data() + v * frame_len_; }
  const uint8_t* payload(size_t v) const { return payloads_.data() + v * size_; }

  // iovecs for n frames starting at variant v (wrapping); consecutive variants are
  // contiguous, so this is usually one or two entries. Returns the count (<= max_iov).
  int gather(size_t v, size_t n, iovec* iov, int max_iov) const {
    int k = 0;
    while (n > 0 && k < max_iov) {
      size_t run = std::min(n, variants_ - v);
      iov[k].iov_base = const_cast<uint8_t*>(frame(v));
      iov[k].iov_len = run * frame_len_;
      ++k;
      n -= run;
      v = 0;
    }
    return k;
  }

 private:
  uint64_t size_;
  size_t header_len_ = 0;
  size_t frame_len_ = 0;
  size_t variants_ = 1;
  std::vector<uint8_t> payloads_;
  std::vector<uint8_t> frames_;
};

}  // namespace wsedge::load
