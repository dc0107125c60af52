#include "ws/mask.h"

#include <bit>
#include <cstring>

#include "core/cpu.h"

#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace wsedge::ws {
namespace {

// Hides `v` from the optimizer so a loop stays the loop we wrote: without it gcc and
// clang turn the byte reference into SIMD code and its benchmark would measure that.
inline void opaque(size_t& v) {
#if defined(__GNUC__)
  asm volatile("" : "+r"(v));
#else
  (void)v;
#endif
}

// The key as a 32-bit word whose bytes, in memory order, are the key rotated so that the
// first one applies to the next payload byte. Broadcast into a vector, every 4-byte lane
// then lines up with the payload, because a 16/32/64-byte step is a multiple of 4.
uint32_t key_word(MaskKey key, size_t phase) {
  const uint8_t rotated[4] = {key[phase & 3], key[(phase + 1) & 3], key[(phase + 2) & 3],
                              key[(phase + 3) & 3]};
  uint32_t w;
  std::memcpy(&w, rotated, 4);
  return w;
}

// The key word after `n` more payload bytes: rotating carries the phase, so no kernel
// ever needs a byte loop to re-synchronise (the trick Beast calls rol()).
uint32_t advance(uint32_t w, size_t n) {
  const int bits = static_cast<int>(8 * (n & 3));
  if constexpr (std::endian::native == std::endian::little) {
    return std::rotr(w, bits);
  } else {
    return std::rotl(w, bits);
  }
}

// XOR with a phase-0 key word, 8 bytes at a time, then bytes. Shared tail of every kernel.
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
  for (; i < len; ++i)
    p[i] ^= kb[i & 3];  // i is a multiple of 8 here, so phase 0 holds
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
// SSE2 and AVX2 use unaligned loads and stores: on current x86 they cost the same as
// aligned ones except when they split a cache line, and skipping an alignment prologue
// keeps small payloads cheap. Four independent vectors per iteration hide the latency.
__attribute__((target("sse2"))) void unmask_sse2(uint8_t* p, size_t len, MaskKey key,
                                                 size_t phase) {
  const uint32_t kw = key_word(key, phase);
  const __m128i k = _mm_set1_epi32(static_cast<int>(kw));
  size_t i = 0;
  for (; i + 64 <= len; i += 64) {
    auto* q = reinterpret_cast<__m128i*>(p + i);
    __m128i a = _mm_loadu_si128(q), b = _mm_loadu_si128(q + 1);
    __m128i c = _mm_loadu_si128(q + 2), d = _mm_loadu_si128(q + 3);
    _mm_storeu_si128(q, _mm_xor_si128(a, k));
    _mm_storeu_si128(q + 1, _mm_xor_si128(b, k));
    _mm_storeu_si128(q + 2, _mm_xor_si128(c, k));
    _mm_storeu_si128(q + 3, _mm_xor_si128(d, k));
  }
  for (; i + 16 <= len; i += 16) {
    auto* q = reinterpret_cast<__m128i*>(p + i);
    _mm_storeu_si128(q, _mm_xor_si128(_mm_loadu_si128(q), k));
  }
  xor_words(p + i, len - i, kw);  // i is a multiple of 4: the key word is still in phase
}

__attribute__((target("avx2"))) void unmask_avx2(uint8_t* p, size_t len, MaskKey key,
                                                 size_t phase) {
  const uint32_t kw = key_word(key, phase);
  const __m256i k = _mm256_set1_epi32(static_cast<int>(kw));
  size_t i = 0;
  for (; i + 128 <= len; i += 128) {
    auto* q = reinterpret_cast<__m256i*>(p + i);
    __m256i a = _mm256_loadu_si256(q), b = _mm256_loadu_si256(q + 1);
    __m256i c = _mm256_loadu_si256(q + 2), d = _mm256_loadu_si256(q + 3);
    _mm256_storeu_si256(q, _mm256_xor_si256(a, k));
    _mm256_storeu_si256(q + 1, _mm256_xor_si256(b, k));
    _mm256_storeu_si256(q + 2, _mm256_xor_si256(c, k));
    _mm256_storeu_si256(q + 3, _mm256_xor_si256(d, k));
  }
  for (; i + 32 <= len; i += 32) {
    auto* q = reinterpret_cast<__m256i*>(p + i);
    _mm256_storeu_si256(q, _mm256_xor_si256(_mm256_loadu_si256(q), k));
  }
  xor_words(p + i, len - i, kw);
}

// AVX-512BW has byte-masked loads and stores whose masked-off lanes never fault, so the
// head (up to the next 64-byte boundary) and the tail are one instruction each, and the
// main loop runs on aligned lines: a 64-byte access never splits a cache line.
__attribute__((target("avx512f,avx512bw"))) void unmask_avx512(uint8_t* p, size_t len, MaskKey key,
                                                               size_t phase) {
  uint32_t kw = key_word(key, phase);
  __m512i k = _mm512_set1_epi32(static_cast<int>(kw));
  size_t head = (0 - reinterpret_cast<uintptr_t>(p)) & 63;
  if (head > len) head = len;
  if (head != 0) {
    const __mmask64 m = (uint64_t{1} << head) - 1;  // head < 64
    _mm512_mask_storeu_epi8(p, m, _mm512_xor_si512(_mm512_maskz_loadu_epi8(m, p), k));
    p += head;
    len -= head;
    kw = advance(kw, head);  // the aligned part starts `head` bytes later in the key
    k = _mm512_set1_epi32(static_cast<int>(kw));
  }
  size_t i = 0;
  for (; i + 256 <= len; i += 256) {
    auto* q = reinterpret_cast<__m512i*>(p + i);
    __m512i a = _mm512_load_si512(q), b = _mm512_load_si512(q + 1);
    __m512i c = _mm512_load_si512(q + 2), d = _mm512_load_si512(q + 3);
    _mm512_store_si512(q, _mm512_xor_si512(a, k));
    _mm512_store_si512(q + 1, _mm512_xor_si512(b, k));
    _mm512_store_si512(q + 2, _mm512_xor_si512(c, k));
    _mm512_store_si512(q + 3, _mm512_xor_si512(d, k));
  }
  for (; i + 64 <= len; i += 64) {
    auto* q = reinterpret_cast<__m512i*>(p + i);
    _mm512_store_si512(q, _mm512_xor_si512(_mm512_load_si512(q), k));
  }
  if (i < len) {
    const __mmask64 m = (uint64_t{1} << (len - i)) - 1;  // len - i < 64
    _mm512_mask_storeu_epi8(p + i, m, _mm512_xor_si512(_mm512_maskz_loadu_epi8(m, p + i), k));
  }
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

void unmask(uint8_t* data, size_t len, MaskKey key, size_t phase) {
  // Chosen once (thread-safe static); after that a call is one load and an indirect call.
  static const UnmaskFn fn = mask_kernel(unmask_kernel());
  fn(data, len, key, phase);
}

}  // namespace wsedge::ws
