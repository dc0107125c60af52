#include "ws/utf8.h"

#include <algorithm>
#include <array>
#include <cstring>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace wsedge::ws {
namespace {

// ---- Scalar reference: a DFA written from RFC 3629 §4's table ---------------------------
//
//   UTF8-1 = %x00-7F
//   UTF8-2 = %xC2-DF UTF8-tail
//   UTF8-3 = %xE0 %xA0-BF UTF8-tail / %xE1-EC 2( UTF8-tail ) /
//            %xED %x80-9F UTF8-tail / %xEE-EF 2( UTF8-tail )
//   UTF8-4 = %xF0 %x90-BF 2( UTF8-tail ) / %xF1-F3 3( UTF8-tail ) /
//            %xF4 %x80-8F 2( UTF8-tail )
//   UTF8-tail = %x80-BF
//
// Every byte range the table distinguishes becomes one byte class; the states say what
// the next byte must be. RFC 3629 §4: no overlong forms, no surrogates (U+D800-DFFF),
// nothing above U+10FFFF; the restricted second bytes after E0/ED/F0/F4 and the bad
// bytes C0, C1, F5-FF are exactly what enforces that.
enum Class : uint8_t {
  kAscii,   // 00-7F
  kTail8,   // 80-8F
  kTail9,   // 90-9F
  kTailAB,  // A0-BF
  kBad,     // C0-C1 (only overlong 2-byte forms), F5-FF (above U+10FFFF or 5/6-byte forms)
  kLead2,   // C2-DF
  kE0,      // E0: second byte A0-BF, else overlong
  kLead3,   // E1-EC, EE-EF
  kED,      // ED: second byte 80-9F, else a surrogate
  kF0,      // F0: second byte 90-BF, else overlong
  kLead4,   // F1-F3
  kF4,      // F4: second byte 80-8F, else above U+10FFFF
  kClasses
};

// The byte ranges of the table above, in order, each with its class.
struct Range {
  uint8_t last;  // inclusive; each range starts where the previous one ended
  Class cls;
};
constexpr Range kRanges[] = {{0x7F, kAscii}, {0x8F, kTail8}, {0x9F, kTail9}, {0xBF, kTailAB},
                             {0xC1, kBad},   {0xDF, kLead2}, {0xE0, kE0},    {0xEC, kLead3},
                             {0xED, kED},    {0xEF, kLead3}, {0xF0, kF0},    {0xF3, kLead4},
                             {0xF4, kF4},    {0xFF, kBad}};

constexpr std::array<uint8_t, 256> make_classes() {
  std::array<uint8_t, 256> c{};
  int b = 0;
  for (const Range& r : kRanges) {
    for (; b <= r.last; ++b)
      c[b] = r.cls;
  }
  return c;
}
constexpr std::array<uint8_t, 256> kClassOf = make_classes();

// States (Utf8Validator::kAccept = 0 and kReject = 8 are the public ones).
enum State : uint8_t { A, T1, T2, T3, SE0, SED, SF0, SF4, R };
static_assert(A == Utf8Validator::kAccept && R == Utf8Validator::kReject);

// kNext[state][class]. T1/T2/T3: 1/2/3 tails still needed. SE0, SED, SF0, SF4: the lead
// was E0/ED/F0/F4, whose second byte has a narrower range than a plain tail.
// clang-format off
constexpr uint8_t kNext[9][kClasses] = {
    //        00-7F 80-8F 90-9F A0-BF bad  C2-DF E0   E1-EF ED   F0   F1-F3 F4
    /* A   */ {A,   R,    R,    R,    R,   T1,   SE0, T2,   SED, SF0, T3,   SF4},
    /* T1  */ {R,   A,    A,    A,    R,   R,    R,   R,    R,   R,   R,    R},
    /* T2  */ {R,   T1,   T1,   T1,   R,   R,    R,   R,    R,   R,   R,    R},
    /* T3  */ {R,   T2,   T2,   T2,   R,   R,    R,   R,    R,   R,   R,    R},
    /* SE0 */ {R,   R,    R,    T1,   R,   R,    R,   R,    R,   R,   R,    R},
    /* SED */ {R,   T1,   T1,   R,    R,   R,    R,   R,    R,   R,   R,    R},
    /* SF0 */ {R,   R,    T2,   T2,   R,   R,    R,   R,    R,   R,   R,    R},
    /* SF4 */ {R,   T2,   R,    R,    R,   R,    R,   R,    R,   R,   R,    R},
    /* R   */ {R,   R,    R,    R,    R,   R,    R,   R,    R,   R,   R,    R},
};
// clang-format on

bool is_ascii8(const uint8_t* p) {
  uint64_t w;
  std::memcpy(&w, p, 8);
  return (w & 0x8080808080808080ull) == 0;
}

// Runs the DFA over p[from, stop) and then on until it is between code points (or the
// input ends). Returns where it stopped: on reject, the offending byte's index.
size_t scalar_run(uint8_t* state, const uint8_t* p, size_t from, size_t stop, size_t n) {
  uint8_t s = *state;
  size_t i = from;
  while (i < n && (i < stop || s != A)) {
    if (s == A && i + 8 <= stop && is_ascii8(p + i)) {
      i += 8;  // ASCII between code points leaves the state at A
      continue;
    }
    s = kNext[s][kClassOf[p[i]]];
    if (s == R) break;
    ++i;
  }
  *state = s;
  return i;
}

// Where the last code point of a kernel-vouched prefix p[lo, k) starts, if it may be cut
// or its lead not yet checked (kernels check a lead only against the byte after it):
// the last lead byte among the final three, else k. lo is a code point boundary.
size_t back_to_boundary(const uint8_t* p, size_t lo, size_t k) {
  for (size_t j = k; j > lo && j + 3 > k; --j) {
    uint8_t b = p[j - 1];
    if (b >= 0xC0) return j - 1;
    if (b < 0x80) return j;
  }
  return k;
}

// ---- SIMD kernels ------------------------------------------------------------------------
//
// A kernel(p, n) returns k <= n such that p[0, k) has no error, possibly ending inside a
// code point (whose lead may itself be bad: C0, F5...); k == n only if p[0, n) is valid
// and complete. p[0] must start a code point. The driver hands the rest to the scalar DFA.
using Kernel = size_t (*)(const uint8_t* p, size_t n);

#if defined(__x86_64__)

__attribute__((target("sse2"))) size_t ascii_sse2(const uint8_t* p, size_t n) {
  size_t i = 0;
  for (; i + 64 <= n; i += 64) {
    __m128i a = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + i));
    __m128i b = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + i + 16));
    __m128i c = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + i + 32));
    __m128i d = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + i + 48));
    if (_mm_movemask_epi8(_mm_or_si128(_mm_or_si128(a, b), _mm_or_si128(c, d))) != 0) break;
  }
  for (; i + 16 <= n; i += 16) {
    __m128i a = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + i));
    if (_mm_movemask_epi8(a) != 0) break;
  }
  return i;
}

// The lookup algorithm (after Keiser & Lemire 2021). Each error is a set of (previous
// byte, current byte) pairs that is a product "prev high nibble x prev low nibble x current
// high nibble", so three 16-entry shuffles ANDed together flag it. One bit per error:
constexpr uint8_t kTooShort = 1 << 0;   // 11______ then 0_______ or 11______: missing tail
constexpr uint8_t kTooLong = 1 << 1;    // 0_______ 10______: tail without a lead
constexpr uint8_t kOverlong3 = 1 << 2;  // 11100000 100_____: E0 80-9F
constexpr uint8_t kSurrogate = 1 << 3;  // 11101101 101_____: ED A0-BF, U+D800-DFFF
constexpr uint8_t kOverlong2 = 1 << 4;  // 1100000_ 10______: C0/C1 then a tail
constexpr uint8_t kOver4Big = 1 << 5;   // 11110000 1000____ (F0 80-8F, overlong) and
                                        // F5-FF 1000____ (above U+10FFFF): one product
constexpr uint8_t kTooLarge = 1 << 6;   // F4-FF 1001____ / 101_____: above U+10FFFF
constexpr uint8_t kTwoTails = 1 << 7;   // 10______ 10______: fine only as 3rd/4th byte

constexpr uint8_t kAny = kTooShort | kTooLong | kTwoTails;    // no low-nibble condition
constexpr uint8_t kTail = kTooLong | kTwoTails | kOverlong2;  // any 10______ byte
constexpr uint8_t kBig = kTooLarge | kOver4Big;               // x5-xF after an F lead
// clang-format off
constexpr uint8_t kPrevHigh[16] = {  // indexed by the previous byte's high nibble
    kTooLong, kTooLong, kTooLong, kTooLong, kTooLong, kTooLong, kTooLong, kTooLong,  // 0-7
    kTwoTails, kTwoTails, kTwoTails, kTwoTails,                                      // 8-B
    kTooShort | kOverlong2,                                                          // C
    kTooShort,                                                                       // D
    kTooShort | kOverlong3 | kSurrogate,                                             // E
    kTooShort | kOver4Big | kTooLarge};                                              // F
constexpr uint8_t kPrevLow[16] = {  // indexed by the previous byte's low nibble
    kAny | kOverlong3 | kOverlong2 | kOver4Big,  // 0: C0, E0, F0
    kAny | kOverlong2,                           // 1: C1
    kAny, kAny,                                  // 2-3
    kAny | kTooLarge,                            // 4: F4
    kAny | kBig, kAny | kBig, kAny | kBig, kAny | kBig, kAny | kBig, kAny | kBig,
    kAny | kBig, kAny | kBig,                    // 5-C: F5-FC
    kAny | kBig | kSurrogate,                    // D: ED, FD
    kAny | kBig, kAny | kBig};                   // E-F: FE, FF
constexpr uint8_t kCurHigh[16] = {  // indexed by the current byte's high nibble
    kTooShort, kTooShort, kTooShort, kTooShort, kTooShort, kTooShort, kTooShort, kTooShort,
    kTail | kOverlong3 | kOver4Big,   // 8
    kTail | kOverlong3 | kTooLarge,   // 9
    kTail | kSurrogate | kTooLarge,   // A
    kTail | kSurrogate | kTooLarge,   // B
    kTooShort, kTooShort, kTooShort, kTooShort};
// clang-format on

// ---- AVX2: 32-byte blocks -----------------------------------------------------------------

struct Avx2Tables {
  __m256i prev_high, prev_low, cur_high;
};

__attribute__((target("avx2"))) inline __m256i broadcast_avx2(const uint8_t (&t)[16]) {
  return _mm256_broadcastsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(t)));
}

// The block shifted right by N bytes, the previous block's last N bytes shifted in.
template <int N>
__attribute__((target("avx2"))) inline __m256i prev_avx2(__m256i cur, __m256i prev) {
  // alignr works inside 128-bit lanes, so first build [prev.high | cur.low].
  __m256i mid = _mm256_permute2x128_si256(prev, cur, 0x21);
  return _mm256_alignr_epi8(cur, mid, 16 - N);
}

__attribute__((target("avx2"))) inline __m256i high_nibble_avx2(__m256i v) {
  return _mm256_and_si256(_mm256_srli_epi16(v, 4), _mm256_set1_epi8(0x0F));
}

__attribute__((target("avx2"))) inline __m256i errors_avx2(const Avx2Tables& t, __m256i cur,
                                                           __m256i prev) {
  __m256i p1 = prev_avx2<1>(cur, prev);
  __m256i a = _mm256_shuffle_epi8(t.prev_high, high_nibble_avx2(p1));
  __m256i b = _mm256_shuffle_epi8(t.prev_low, _mm256_and_si256(p1, _mm256_set1_epi8(0x0F)));
  __m256i c = _mm256_shuffle_epi8(t.cur_high, high_nibble_avx2(cur));
  __m256i special = _mm256_and_si256(_mm256_and_si256(a, b), c);
  // A tail after a tail is right exactly where the byte two back is a 3/4-byte lead (E0+)
  // or the byte three back a 4-byte lead (F0+): the saturating subtractions leave bit 7
  // set exactly there, and the XOR turns kTwoTails into "expected" and its absence into
  // "missing tail".
  __m256i third = _mm256_subs_epu8(prev_avx2<2>(cur, prev), _mm256_set1_epi8(0xE0 - 0x80));
  __m256i fourth = _mm256_subs_epu8(prev_avx2<3>(cur, prev), _mm256_set1_epi8(0xF0 - 0x80));
  __m256i must = _mm256_and_si256(_mm256_or_si256(third, fourth), _mm256_set1_epi8(-128));
  return _mm256_xor_si256(special, must);
}

// True if the block ends inside a code point: a lead (C0+, E0+, F0+) in the last 1/2/3
// bytes that needs more bytes than are left.
__attribute__((target("avx2"))) inline bool cut_avx2(__m256i in) {
  const __m256i max =
      _mm256_setr_epi8(-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
                       -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, static_cast<char>(0xEF),
                       static_cast<char>(0xDF), static_cast<char>(0xBF));
  __m256i over = _mm256_subs_epu8(in, max);
  return !_mm256_testz_si256(over, over);
}

__attribute__((target("avx2"))) bool ascii_avx2(const uint8_t* p) {
  const __m256i* q = reinterpret_cast<const __m256i*>(p);
  __m256i x = _mm256_or_si256(_mm256_loadu_si256(q), _mm256_loadu_si256(q + 1));
  __m256i y = _mm256_or_si256(_mm256_loadu_si256(q + 2), _mm256_loadu_si256(q + 3));
  return _mm256_movemask_epi8(_mm256_or_si256(x, y)) == 0;
}

__attribute__((target("avx2"))) size_t lookup_avx2(const uint8_t* p, size_t n) {
  const Avx2Tables t = {broadcast_avx2(kPrevHigh), broadcast_avx2(kPrevLow),
                        broadcast_avx2(kCurHigh)};
  __m256i prev = _mm256_setzero_si256();
  bool cut = false;  // prev ends inside a code point
  size_t i = 0;
  while (i + 32 <= n) {
    __m256i in = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + i));
    if (_mm256_movemask_epi8(in) == 0) {
      if (cut) return i;  // an ASCII byte where a tail was due
      // ASCII carries nothing into the next block: skip 128 bytes per test.
      for (i += 32; i + 128 <= n && ascii_avx2(p + i); i += 128) {
      }
      prev = _mm256_setzero_si256();
      cut = false;
      continue;
    }
    __m256i err = errors_avx2(t, in, prev);
    if (!_mm256_testz_si256(err, err)) return i;
    cut = cut_avx2(in);
    prev = in;
    i += 32;
  }
  if (i == n) return cut ? n - 1 : n;  // n - 1: a shorter prefix is vouched for too
  // The tail, zero padded: the zeros act as ASCII, so a code point cut by the end of the
  // input reads as an error, and the driver's scalar pass tells the two apart.
  alignas(32) uint8_t last[32] = {};
  std::memcpy(last, p + i, n - i);
  __m256i err = errors_avx2(t, _mm256_load_si256(reinterpret_cast<const __m256i*>(last)), prev);
  return _mm256_testz_si256(err, err) ? n : i;
}

// ---- AVX-512 (F+BW): 64-byte blocks -------------------------------------------------------

#define WSEDGE_AVX512 __attribute__((target("avx512f,avx512bw")))

struct Avx512Tables {
  __m512i prev_high, prev_low, cur_high;
};

WSEDGE_AVX512 inline __m512i broadcast_avx512(const uint8_t (&t)[16]) {
  // The maskz_ forms, here and below, because GCC 12 warns on the plain ones' undefined
  // pass-through operand (-Wmaybe-uninitialized); with a full mask they are the same op.
  return _mm512_maskz_broadcast_i32x4(~__mmask16{0},
                                      _mm_loadu_si128(reinterpret_cast<const __m128i*>(t)));
}

template <int N>
WSEDGE_AVX512 inline __m512i prev_avx512(__m512i cur, __m512i prev) {
  // Lane i of mid is lane i-1 of cur (lane -1: prev's last); alignr then works per lane.
  __m512i mid = _mm512_maskz_alignr_epi32(~__mmask16{0}, cur, prev, 12);
  return _mm512_alignr_epi8(cur, mid, 16 - N);
}

WSEDGE_AVX512 inline __m512i high_nibble_avx512(__m512i v) {
  return _mm512_and_si512(_mm512_srli_epi16(v, 4), _mm512_set1_epi8(0x0F));
}

WSEDGE_AVX512 inline __m512i errors_avx512(const Avx512Tables& t, __m512i cur, __m512i prev) {
  __m512i p1 = prev_avx512<1>(cur, prev);
  __m512i a = _mm512_shuffle_epi8(t.prev_high, high_nibble_avx512(p1));
  __m512i b = _mm512_shuffle_epi8(t.prev_low, _mm512_and_si512(p1, _mm512_set1_epi8(0x0F)));
  __m512i c = _mm512_shuffle_epi8(t.cur_high, high_nibble_avx512(cur));
  __m512i special = _mm512_ternarylogic_epi32(a, b, c, 0x80);  // a & b & c
  // The expected-tail rule of errors_avx2.
  __m512i third = _mm512_subs_epu8(prev_avx512<2>(cur, prev), _mm512_set1_epi8(0xE0 - 0x80));
  __m512i fourth = _mm512_subs_epu8(prev_avx512<3>(cur, prev), _mm512_set1_epi8(0xF0 - 0x80));
  __m512i must = _mm512_and_si512(_mm512_or_si512(third, fourth), _mm512_set1_epi8(-128));
  return _mm512_xor_si512(special, must);
}

// As cut_avx2: byte 61 > EF, byte 62 > DF or byte 63 > BF (unsigned) ends inside a code point.
WSEDGE_AVX512 inline bool cut_avx512(__m512i in) {
  const __m512i max = _mm512_set_epi32(static_cast<int>(0xBFDFEFFFu), -1, -1, -1, -1, -1, -1, -1,
                                       -1, -1, -1, -1, -1, -1, -1, -1);
  return _mm512_cmpgt_epu8_mask(in, max) != 0;
}

WSEDGE_AVX512 inline bool ascii_avx512(const uint8_t* p) {
  __m512i x = _mm512_ternarylogic_epi32(_mm512_loadu_si512(p), _mm512_loadu_si512(p + 64),
                                        _mm512_loadu_si512(p + 128), 0xFE);  // a | b | c
  x = _mm512_or_si512(x, _mm512_loadu_si512(p + 192));
  return _mm512_movepi8_mask(x) == 0;
}

WSEDGE_AVX512 size_t lookup_avx512(const uint8_t* p, size_t n) {
  const Avx512Tables t = {broadcast_avx512(kPrevHigh), broadcast_avx512(kPrevLow),
                          broadcast_avx512(kCurHigh)};
  __m512i prev = _mm512_setzero_si512();
  bool cut = false;  // prev ends inside a code point
  size_t i = 0;
  while (i + 64 <= n) {
    __m512i in = _mm512_loadu_si512(p + i);
    if (_mm512_movepi8_mask(in) == 0) {
      if (cut) return i;  // an ASCII byte where a tail was due
      // ASCII carries nothing into the next block: skip 256 bytes per test.
      for (i += 64; i + 256 <= n && ascii_avx512(p + i); i += 256) {
      }
      prev = _mm512_setzero_si512();
      cut = false;
      continue;
    }
    __m512i err = errors_avx512(t, in, prev);
    if (_mm512_test_epi8_mask(err, err) != 0) return i;
    cut = cut_avx512(in);
    prev = in;
    i += 64;
  }
  if (i == n) return cut ? n - 1 : n;  // n - 1: a shorter prefix is vouched for too
  // The tail, zero padded by a masked load (see lookup_avx2).
  __m512i in = _mm512_maskz_loadu_epi8(_cvtu64_mask64(~0ull >> (64 - (n - i))), p + i);
  __m512i err = errors_avx512(t, in, prev);
  return _mm512_test_epi8_mask(err, err) == 0 ? n : i;
}

#undef WSEDGE_AVX512

#endif  // __x86_64__

struct KernelChoice {
  Kernel kernel;  // nullptr: scalar only
  size_t chunk;   // bytes the scalar DFA takes when the kernel stops before the end
};

KernelChoice kernel_for(uint8_t level) {
#if defined(__x86_64__)
  switch (static_cast<SimdLevel>(level)) {
    case SimdLevel::kAvx512:
      return {lookup_avx512, 64};
    case SimdLevel::kAvx2:
      return {lookup_avx2, 32};
    case SimdLevel::kSse2:
      return {ascii_sse2, 16};
    case SimdLevel::kScalar:
      break;
  }
#else
  (void)level;
#endif
  return {nullptr, 0};
}

}  // namespace

uint8_t utf8_dfa_step(uint8_t state, uint8_t byte) {
  return kNext[state][kClassOf[byte]];
}

Utf8Validator::Utf8Validator() : level_(static_cast<uint8_t>(simd_level())) {}

Utf8Validator::Utf8Validator(SimdLevel level)
    : level_(static_cast<uint8_t>(std::min(level, cpu_simd_support()))) {}

size_t Utf8Validator::feed_prefix_general(std::span<const uint8_t> bytes) {
  if (failed()) return 0;
  const uint8_t* p = bytes.data();
  const size_t n = bytes.size();
  uint8_t s = state_;
  // First finish the code point the previous piece cut, if any: kernels start on a boundary.
  size_t pos = scalar_run(&s, p, 0, 0, n);
  const KernelChoice k = kernel_for(level_);
  while (s == A && pos < n) {
    if (k.kernel == nullptr) {
      pos = scalar_run(&s, p, pos, n, n);
      break;
    }
    size_t end = pos + k.kernel(p + pos, n - pos);
    if (end == n) {
      pos = n;
      break;
    }
    // RFC 6455 §8.1 fail fast: the kernel stopped on an error, a non-ASCII block (SSE2) or a code
    // point cut by the end: the DFA re-reads from the last boundary, finds the exact offending byte
    // if any, and hands back to the kernel on the next boundary.
    size_t from = back_to_boundary(p, pos, end);
    pos = scalar_run(&s, p, from, std::min(n, end + k.chunk), n);
  }
  state_ = s;
  return s == R ? pos : n;
}

bool is_valid_utf8(std::span<const uint8_t> bytes, SimdLevel level) {
  Utf8Validator v(level);
  return v.feed(bytes) && v.finish();
}

bool is_valid_utf8(std::span<const uint8_t> bytes) {
  Utf8Validator v;
  return v.feed(bytes) && v.finish();
}

}  // namespace wsedge::ws
