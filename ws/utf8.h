// ws/utf8.h — incremental UTF-8 validator for WebSocket text messages (RFC 3629 §4).
//
// Owns nothing: a Utf8Validator is 2 bytes of state, one per connection, fed the payload
// pieces of one text message in order. Not thread-safe (one loop owns it); no heap, no I/O.
// Input: any span, of any length, split anywhere (even inside a code point).
// Speed: SIMD kernels (SSE2 ASCII skip, AVX2 and AVX-512 lookup validators) chosen by
// SimdLevel; the scalar DFA is the reference they must all agree with (see docs/utf8.md).
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>

#include "core/cpu.h"

namespace wsedge::ws {

class Utf8Validator {
 public:
  // Uses simd_level(): the widest kernel the CPU has, capped by WSEDGE_SIMD.
  Utf8Validator();
  // Forces a kernel (tests, benchmarks); a level above cpu_simd_support() is lowered to it.
  explicit Utf8Validator(SimdLevel level);

  // Validates the next piece of the message. Returns false as soon as the bytes seen so
  // far cannot be the prefix of valid UTF-8 — RFC 6455 §8.1: the caller then fails the
  // connection with 1007 at once, mid-fragment. Failure is sticky until reset().
  bool feed(std::span<const uint8_t> bytes) {
    feed_prefix(bytes);
    return !failed();
  }
  // feed(), and where: returns how many leading bytes of `bytes` keep the message a valid
  // prefix — bytes.size() on success, else the index of the first offending byte (0 when
  // the validator had already failed).
  size_t feed_prefix(std::span<const uint8_t> bytes) {
    // Short ASCII between code points (most chat and benchmark messages), in line: two
    // word tests cost less than the call and a vector kernel's set-up for one partial block.
    if (state_ == kAccept && bytes.size() <= 16 && short_ascii(bytes.data(), bytes.size()))
      return bytes.size();
    return feed_prefix_general(bytes);
  }

  // True if everything fed so far is complete valid UTF-8 (no code point cut at the end).
  // Call once, at the end of the message (FIN).
  bool finish() const { return state_ == kAccept; }
  // Ready for the next message (keeps the kernel choice).
  void reset() { state_ = kAccept; }
  bool failed() const { return state_ == kReject; }

  // Internal DFA states, public for the reference step below; see docs/utf8.md.
  static constexpr uint8_t kAccept = 0;  // between code points
  static constexpr uint8_t kReject = 8;  // no continuation can make the input valid

  // n <= 16 bytes, all below 0x80? Two overlapping loads cover them (8-byte loads for 8..16
  // bytes, 4-byte ones for 4..7), no byte loop and no call.
  static bool short_ascii(const uint8_t* p, size_t n) {
    uint64_t lo = 0, hi = 0;
    if (n >= 8) {
      std::memcpy(&lo, p, 8);
      std::memcpy(&hi, p + n - 8, 8);
    } else if (n >= 4) {
      uint32_t a, b;
      std::memcpy(&a, p, 4);
      std::memcpy(&b, p + n - 4, 4);
      lo = a | b;
    } else {
      for (size_t i = 0; i < n; ++i)  // n == 0: p may be null, and is not read
        lo |= p[i];
    }
    return ((lo | hi) & 0x8080808080808080ull) == 0;
  }

 private:
  size_t feed_prefix_general(std::span<const uint8_t> bytes);

  uint8_t state_ = kAccept;
  uint8_t level_;  // a SimdLevel
};

// Whole-buffer check (close reasons, RFC 6455 §5.5.1, and tests): valid and complete.
bool is_valid_utf8(std::span<const uint8_t> bytes);
bool is_valid_utf8(std::span<const uint8_t> bytes, SimdLevel level);

// The scalar reference: one step of the RFC 3629 DFA. Exposed so tests can compute, byte
// by byte, where a prefix stops being valid. kReject is absorbing.
uint8_t utf8_dfa_step(uint8_t state, uint8_t byte);

}  // namespace wsedge::ws
