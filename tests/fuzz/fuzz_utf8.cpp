// Fuzz target: the UTF-8 validator (ws/utf8.h) at every SIMD level this CPU has.
//
// Input: bytes 0-3 are two cut points, the rest is a text payload. The verdict of every
// kernel, fed the payload whole, in three pieces cut where the fuzzer says, and a byte at a
// time, must equal that of a reference decoder written here from RFC 3629's definition (code
// points by their bit patterns, then the ranges §3 forbids), not from its byte table:
// the same first offending byte (RFC 6455 §8.1 fails fast, so "where" matters, not only
// "whether"), the same "complete" at the end, and is_valid_utf8 in agreement.
#include "core/cpu.h"
#include "tests/fuzz/fuzz_check.h"
#include "ws/utf8.h"

using wsedge::SimdLevel;
using wsedge::fuzz::Copy;
using wsedge::ws::Utf8Validator;

namespace {

// RFC 3629 §3: the sequence length a lead byte announces, 0 if it is no lead byte.
int sequence_length(uint8_t b) {
  if (b < 0x80) return 1;
  if ((b & 0xE0) == 0xC0) return 2;
  if ((b & 0xF0) == 0xE0) return 3;
  if ((b & 0xF8) == 0xF0) return 4;
  return 0;
}

// Can the first m bytes of a len-byte sequence still become a scalar value that is not
// overlong, not a surrogate and not above U+10FFFF? The code points they allow form the
// interval [lo, hi] (missing tails all 0 bits, or all 1 bits).
bool completable(const uint8_t* s, int m, int len) {
  static constexpr uint8_t kLeadBits[5] = {0, 0x7F, 0x1F, 0x0F, 0x07};
  static constexpr uint32_t kMin[5] = {0, 0, 0x80, 0x800, 0x10000};
  uint32_t v = s[0] & kLeadBits[len];
  for (int k = 1; k < m; ++k)
    v = (v << 6) | (s[k] & 0x3F);
  const int missing = 6 * (len - m);
  const uint32_t lo = v << missing, hi = lo | ((1u << missing) - 1);
  if (hi < kMin[len] || lo > 0x10FFFF) return false;
  return !(lo >= 0xD800 && hi <= 0xDFFF);  // only surrogates left
}

// Index of the first byte after which no continuation can make the text valid, or n;
// *complete: the text ends between code points.
size_t reference_prefix(const uint8_t* p, size_t n, bool* complete) {
  size_t i = 0;
  while (i < n) {
    const int len = sequence_length(p[i]);
    if (len == 0) return *complete = false, i;
    for (int m = 1; m <= len; ++m) {
      if (i + m > n) return *complete = false, n;  // cut by the end: still a valid prefix
      if (m > 1 && (p[i + m - 1] & 0xC0) != 0x80) return *complete = false, i + m - 1;
      if (!completable(p + i, m, len)) return *complete = false, i + m - 1;
    }
    i += len;
  }
  *complete = true;
  return n;
}

// Feeds `pieces` in order; returns the global index of the first offending byte, or n.
size_t feed_pieces(Utf8Validator& v, std::span<const uint8_t> all, std::span<const size_t> cuts) {
  size_t from = 0;
  for (size_t k = 0; k <= cuts.size(); ++k) {
    const size_t to = k < cuts.size() ? cuts[k] : all.size();
    Copy piece(all.subspan(from, to - from));  // its own block: an over-read is caught
    const size_t ok = v.feed_prefix(piece.view());
    FUZZ_CHECK(ok <= piece.view().size());
    if (v.failed()) return from + ok;
    FUZZ_CHECK(ok == piece.view().size());
    from = to;
  }
  return all.size();
}

void check_level(SimdLevel level, std::span<const uint8_t> text, std::span<const size_t> cuts,
                 size_t want, bool complete) {
  const bool valid = want == text.size() && complete;
  FUZZ_CHECK(wsedge::ws::is_valid_utf8(text, level) == valid);

  const size_t whole[] = {0};
  std::span<const size_t> none(whole, 0);
  for (std::span<const size_t> c : {none, cuts}) {
    Utf8Validator v(level);
    FUZZ_CHECK(feed_pieces(v, text, c) == want);
    FUZZ_CHECK(v.failed() == (want < text.size()));
    FUZZ_CHECK(v.finish() == valid);
    if (v.failed()) FUZZ_CHECK(v.feed_prefix(text) == 0 && !v.feed(text));  // sticky
    v.reset();
    FUZZ_CHECK(!v.failed() && v.finish());
  }
  if (text.size() <= 96) {  // a byte per call: every cut point at once
    Utf8Validator v(level);
    size_t i = 0;
    while (i < text.size() && v.feed(text.subspan(i, 1)))
      ++i;
    FUZZ_CHECK(i == want);
    FUZZ_CHECK(v.finish() == valid);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 4) return 0;
  Copy copy({data + 4, size - 4});
  const std::span<const uint8_t> text = copy.view();
  const size_t n = text.size();
  size_t cuts[2] = {(data[0] | data[1] << 8) % (n + 1), (data[2] | data[3] << 8) % (n + 1)};
  if (cuts[0] > cuts[1]) std::swap(cuts[0], cuts[1]);

  bool complete = false;
  const size_t want = reference_prefix(text.data(), n, &complete);
  // The library's own scalar reference, its DFA, must agree with this one too.
  uint8_t s = Utf8Validator::kAccept;
  size_t dfa = n;
  for (size_t i = 0; i < n && dfa == n; ++i) {
    s = wsedge::ws::utf8_dfa_step(s, text[i]);
    if (s == Utf8Validator::kReject) dfa = i;
  }
  FUZZ_CHECK(dfa == want);
  FUZZ_CHECK((s == Utf8Validator::kAccept) == (want == n && complete));

  for (int l = 0; l <= static_cast<int>(wsedge::cpu_simd_support()); ++l)
    check_level(static_cast<SimdLevel>(l), text, cuts, want, complete);
  return 0;
}
