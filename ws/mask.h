// ws/mask.h — in-place XOR masking of WebSocket payloads (RFC 6455 §5.3).
//
// unmask() XORs [data, data+len) with the 4-byte key, starting `phase` bytes into the
// payload, so a payload that arrives in pieces is unmasked piece by piece. Touches only
// [data, data+len); any length, any alignment. Masking is its own inverse: the same call
// masks a client frame. Kernels are stateless; the dispatch choice is made once, thread-safely.
#pragma once

#include <array>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>

namespace wsedge::ws {

// The masking key in wire order: key[0] is the frame's first mask byte and applies to
// payload bytes 0, 4, 8, ... (RFC 6455 §5.3: j = i MOD 4).
using MaskKey = std::array<uint8_t, 4>;

namespace mask_detail {
// The key word after `n` more payload bytes: rotating carries the phase, so no kernel
// ever needs a byte loop to re-synchronise (the trick Beast calls rol()).
inline uint32_t advance(uint32_t w, size_t n) {
  const int bits = static_cast<int>(8 * (n & 3));
  if constexpr (std::endian::native == std::endian::little) {
    return std::rotr(w, bits);
  } else {
    return std::rotl(w, bits);
  }
}

// The key as a 32-bit word whose bytes, in memory order, are the key rotated so that the
// first one applies to the next payload byte. Broadcast into a vector, every 4-byte lane
// then lines up with the payload, because a 16/32/64-byte step is a multiple of 4.
inline uint32_t key_word(MaskKey key, size_t phase) {
  uint32_t w;
  std::memcpy(&w, key.data(), 4);
  return advance(w, phase);
}

// XORs `W` bytes at p with the key word kw repeated (W = 4 or 8).
template <typename Word>
inline void xor_word(uint8_t* p, uint32_t kw) {
  Word v;
  std::memcpy(&v, p, sizeof v);
  if constexpr (sizeof(Word) == 8) {
    v ^= (static_cast<uint64_t>(kw) << 32) | kw;
  } else {
    v ^= kw;
  }
  std::memcpy(p, &v, sizeof v);
}
}  // namespace mask_detail

// Payloads up to this long are XORed in line (most chat and benchmark messages): below it
// the kernel's call and dispatch cost more than the work itself.
inline constexpr size_t kInlineUnmaskMax = 16;

// The dispatched kernel: what unmask() calls above kInlineUnmaskMax.
void unmask_dispatched(uint8_t* data, size_t len, MaskKey key, size_t phase);

// `phase`: bytes of this payload already unmasked; only phase % 4 matters.
inline void unmask(uint8_t* data, size_t len, MaskKey key, size_t phase = 0) {
  if (len > kInlineUnmaskMax) return unmask_dispatched(data, len, key, phase);
  using namespace mask_detail;
  const uint32_t kw = key_word(key, phase);
  // The SIMD kernels' shape at word size: both edges are read before either is written,
  // so the bytes where they overlap are computed twice from the same input, not XORed twice.
  if (len >= 8) {
    uint8_t last[8];
    std::memcpy(last, data + len - 8, 8);
    xor_word<uint64_t>(data, kw);
    xor_word<uint64_t>(last, advance(kw, len - 8));
    std::memcpy(data + len - 8, last, 8);
  } else if (len >= 4) {
    uint8_t last[4];
    std::memcpy(last, data + len - 4, 4);
    xor_word<uint32_t>(data, kw);
    xor_word<uint32_t>(last, advance(kw, len - 4));
    std::memcpy(data + len - 4, last, 4);
  } else {
    uint8_t kb[4];
    std::memcpy(kb, &kw, 4);
    for (size_t i = 0; i < len; ++i)
      data[i] ^= kb[i];
  }
}

// The kernels, widest last. kByte is the obviously-correct reference and is never
// dispatched to; kWord (64-bit words) is what the scalar SIMD level runs.
enum class MaskKernel : uint8_t { kByte, kWord, kSse2, kAvx2, kAvx512 };
inline constexpr int kMaskKernelCount = 5;

using UnmaskFn = void (*)(uint8_t* data, size_t len, MaskKey key, size_t phase);

// The kernel itself, for tests and benchmarks. Calling a kernel the CPU lacks is
// undefined (SIGILL): check mask_kernel_supported() first.
UnmaskFn mask_kernel(MaskKernel k);
bool mask_kernel_supported(MaskKernel k);
const char* mask_kernel_name(MaskKernel k);
// The kernel unmask() uses: the widest allowed by core/cpu.h simd_level().
MaskKernel unmask_kernel();
const char* unmask_variant();

}  // namespace wsedge::ws
