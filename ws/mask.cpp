#include "ws/mask.h"

#include <bit>
#include <cstring>

#include "core/cpu.h"

#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace wsedge::ws {
namespace {

using mask_detail::advance;
using mask_detail::key_word;

// Hides `v` from the optimizer so a loop stays the loop we wrote: without it gcc and
// clang turn the byte reference into SIMD code and its benchmark would measure that.
inline void opaque(size_t& v) {
#if defined(__GNUC__)
  asm volatile("" : "+r"(v));
#else
  (void)v;
#endif
}

// XOR with a phase-0 key word, 8 bytes at a time, then bytes: the word kernel, and what
// the SSE2 kernel hands payloads shorter than one vector to.
void xor_words(uint8_t* p, size_t len, uint32_t kw) {
  const uint64_t k64 = (static_cast<uint64_t>(kw) << 32) | kw;
  size_t i = 0;
  for (; i + 8 <= len; i += 8) {
    uint64_t v;
    std::memcpy(&v, p + i, 8);  // unaligned-safe load; compiles to one mov
    v ^= k64;
    std::memcpy(p + i, &v, 8);
    opaque(i);
  }
  uint8_t kb[4];
  std::memcpy(kb, &kw, 4);
  // i is a multiple of 8 here, so the key is still at phase 0.
  for (; i < len; ++i) {
    p[i] ^= kb[i & 3];
  }
}

// The reference: RFC 6455 §5.3 written out, octet i XOR key[(i + phase) MOD 4].
void unmask_byte(uint8_t* data, size_t len, MaskKey key, size_t phase) {
  for (size_t i = 0; i < len; ++i) {
    data[i] ^= key[(phase + i) & 3];
    opaque(i);
  }
}

void unmask_word(uint8_t* data, size_t len, MaskKey key, size_t phase) {
  xor_words(data, len, key_word(key, phase));
}

#if defined(__x86_64__)
// Every SIMD kernel has the same shape, for len >= one vector W:
//
//   [first W bytes, unaligned][ aligned middle: whole W-byte lines ... ][last W, unaligned]
//
// The two edge vectors are loaded before anything is written and stored after the
// middle. Where they overlap the middle, both compute the same bytes from the same
// original input, so the overlap is harmless: no byte loop for heads and tails, no
// masked (slow on some cores) or split-line accesses in the loop. The middle starts
// `head` bytes in, so its key is advanced by `head`; the last edge's by len - W.
// Shorter payloads go to the next narrower kernel.

__attribute__((target("sse2"))) void unmask_sse2(uint8_t* p, size_t len, MaskKey key,
                                                 size_t phase) {
  const uint32_t kw = key_word(key, phase);
  if (len < 16) return xor_words(p, len, kw);
  const __m128i first = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
  const __m128i last = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + len - 16));
  const size_t head = (0 - reinterpret_cast<uintptr_t>(p)) & 15;
  const size_t lines = (len - head) / 16;
  const __m128i k = _mm_set1_epi32(static_cast<int>(advance(kw, head)));
  auto* q = reinterpret_cast<__m128i*>(p + head);
  size_t i = 0;
  for (; i + 4 <= lines; i += 4) {  // four independent lines per step hide the latency
    __m128i a = _mm_load_si128(q + i), b = _mm_load_si128(q + i + 1);
    __m128i c = _mm_load_si128(q + i + 2), d = _mm_load_si128(q + i + 3);
    _mm_store_si128(q + i, _mm_xor_si128(a, k));
    _mm_store_si128(q + i + 1, _mm_xor_si128(b, k));
    _mm_store_si128(q + i + 2, _mm_xor_si128(c, k));
    _mm_store_si128(q + i + 3, _mm_xor_si128(d, k));
  }
  for (; i < lines; ++i)
    _mm_store_si128(q + i, _mm_xor_si128(_mm_load_si128(q + i), k));
  const __m128i k_first = _mm_set1_epi32(static_cast<int>(kw));
  const __m128i k_last = _mm_set1_epi32(static_cast<int>(advance(kw, len - 16)));
  _mm_storeu_si128(reinterpret_cast<__m128i*>(p), _mm_xor_si128(first, k_first));
  _mm_storeu_si128(reinterpret_cast<__m128i*>(p + len - 16), _mm_xor_si128(last, k_last));
}

__attribute__((target("avx2"))) void unmask_avx2(uint8_t* p, size_t len, MaskKey key,
                                                 size_t phase) {
  if (len < 32) return unmask_sse2(p, len, key, phase);
  const uint32_t kw = key_word(key, phase);
  const __m256i first = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
  const __m256i last = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + len - 32));
  const size_t head = (0 - reinterpret_cast<uintptr_t>(p)) & 31;
  const size_t lines = (len - head) / 32;
  const __m256i k = _mm256_set1_epi32(static_cast<int>(advance(kw, head)));
  auto* q = reinterpret_cast<__m256i*>(p + head);
  size_t i = 0;
  for (; i + 4 <= lines; i += 4) {
    __m256i a = _mm256_load_si256(q + i), b = _mm256_load_si256(q + i + 1);
    __m256i c = _mm256_load_si256(q + i + 2), d = _mm256_load_si256(q + i + 3);
    _mm256_store_si256(q + i, _mm256_xor_si256(a, k));
    _mm256_store_si256(q + i + 1, _mm256_xor_si256(b, k));
    _mm256_store_si256(q + i + 2, _mm256_xor_si256(c, k));
    _mm256_store_si256(q + i + 3, _mm256_xor_si256(d, k));
  }
  for (; i < lines; ++i)
    _mm256_store_si256(q + i, _mm256_xor_si256(_mm256_load_si256(q + i), k));
  const __m256i k_first = _mm256_set1_epi32(static_cast<int>(kw));
  const __m256i k_last = _mm256_set1_epi32(static_cast<int>(advance(kw, len - 32)));
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(p), _mm256_xor_si256(first, k_first));
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(p + len - 32), _mm256_xor_si256(last, k_last));
}

__attribute__((target("avx512f,avx512bw"))) void unmask_avx512(uint8_t* p, size_t len, MaskKey key,
                                                               size_t phase) {
  if (len < 64) return unmask_avx2(p, len, key, phase);
  const uint32_t kw = key_word(key, phase);
  const __m512i first = _mm512_loadu_si512(p);
  const __m512i last = _mm512_loadu_si512(p + len - 64);
  const size_t head = (0 - reinterpret_cast<uintptr_t>(p)) & 63;
  const size_t lines = (len - head) / 64;
  const __m512i k = _mm512_set1_epi32(static_cast<int>(advance(kw, head)));
  auto* q = reinterpret_cast<__m512i*>(p + head);
  size_t i = 0;
  for (; i + 4 <= lines; i += 4) {
    __m512i a = _mm512_load_si512(q + i), b = _mm512_load_si512(q + i + 1);
    __m512i c = _mm512_load_si512(q + i + 2), d = _mm512_load_si512(q + i + 3);
    _mm512_store_si512(q + i, _mm512_xor_si512(a, k));
    _mm512_store_si512(q + i + 1, _mm512_xor_si512(b, k));
    _mm512_store_si512(q + i + 2, _mm512_xor_si512(c, k));
    _mm512_store_si512(q + i + 3, _mm512_xor_si512(d, k));
  }
  for (; i < lines; ++i)
    _mm512_store_si512(q + i, _mm512_xor_si512(_mm512_load_si512(q + i), k));
  const __m512i k_first = _mm512_set1_epi32(static_cast<int>(kw));
  const __m512i k_last = _mm512_set1_epi32(static_cast<int>(advance(kw, len - 64)));
  _mm512_storeu_si512(p, _mm512_xor_si512(first, k_first));
  _mm512_storeu_si512(p + len - 64, _mm512_xor_si512(last, k_last));
}

constexpr UnmaskFn kKernels[kMaskKernelCount] = {unmask_byte, unmask_word, unmask_sse2, unmask_avx2,
                                                 unmask_avx512};
#else
// Without x86 the SIMD entries are never supported; they alias the word kernel so the
// table stays total.
constexpr UnmaskFn kKernels[kMaskKernelCount] = {unmask_byte, unmask_word, unmask_word, unmask_word,
                                                 unmask_word};
#endif

constexpr const char* kNames[kMaskKernelCount] = {"byte", "word", "sse2", "avx2", "avx512"};

MaskKernel kernel_for(SimdLevel level) {
  switch (level) {
    case SimdLevel::kAvx512:
      return MaskKernel::kAvx512;
    case SimdLevel::kAvx2:
      return MaskKernel::kAvx2;
    case SimdLevel::kSse2:
      return MaskKernel::kSse2;
    default:
      return MaskKernel::kWord;
  }
}

}  // namespace

UnmaskFn mask_kernel(MaskKernel k) {
  return kKernels[static_cast<int>(k)];
}

bool mask_kernel_supported(MaskKernel k) {
  switch (k) {
    case MaskKernel::kByte:
    case MaskKernel::kWord:
      return true;
    default:
      return kernel_for(cpu_simd_support()) >= k;
  }
}

const char* mask_kernel_name(MaskKernel k) {
  return kNames[static_cast<int>(k)];
}

MaskKernel unmask_kernel() {
  static const MaskKernel kernel = kernel_for(simd_level());
  return kernel;
}

const char* unmask_variant() {
  return mask_kernel_name(unmask_kernel());
}

void unmask_dispatched(uint8_t* data, size_t len, MaskKey key, size_t phase) {
  // Chosen once (thread-safe static); after that a call is one load and an indirect call.
  static const UnmaskFn fn = mask_kernel(unmask_kernel());
  fn(data, len, key, phase);
}

}  // namespace wsedge::ws
