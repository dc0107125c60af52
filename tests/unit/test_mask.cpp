// ws/mask: every kernel against the byte-loop reference (RFC 6455 §5.3), over lengths,
// phases, alignments and keys, with guard bytes around the payload.
#include <doctest/doctest.h>

#include <cstdint>
#include <cstring>
#include <random>
#include <vector>

#include "core/cpu.h"
#include "ws/mask.h"

using wsedge::ws::kInlineUnmaskMax;
using wsedge::ws::kMaskKernelCount;
using wsedge::ws::mask_kernel;
using wsedge::ws::mask_kernel_name;
using wsedge::ws::mask_kernel_supported;
using wsedge::ws::MaskKernel;
using wsedge::ws::MaskKey;
using wsedge::ws::unmask;

namespace {

constexpr uint8_t kGuard = 0xA5;
constexpr size_t kPad = 64;  // guard bytes on each side of the payload

std::vector<MaskKernel> supported_kernels() {
  std::vector<MaskKernel> out;
  for (int i = 0; i < kMaskKernelCount; ++i) {
    auto k = static_cast<MaskKernel>(i);
    if (mask_kernel_supported(k)) out.push_back(k);
  }
  return out;
}

std::vector<MaskKey> seeded_keys() {
  std::vector<MaskKey> keys = {{0, 0, 0, 0}, {0xFF, 0xFF, 0xFF, 0xFF}, {1, 2, 3, 4}};
  std::mt19937 rng(6455);
  for (int i = 0; i < 3; ++i) {
    keys.push_back({static_cast<uint8_t>(rng()), static_cast<uint8_t>(rng()),
                    static_cast<uint8_t>(rng()), static_cast<uint8_t>(rng())});
  }
  return keys;
}

std::vector<uint8_t> random_bytes(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<uint8_t> v(n);
  for (auto& b : v)
    b = static_cast<uint8_t>(rng());
  return v;
}

// The specification itself, independent of ws/mask: octet i ^= key[(i + phase) % 4].
void spec_mask(uint8_t* p, size_t len, MaskKey key, size_t phase) {
  for (size_t i = 0; i < len; ++i)
    p[i] = static_cast<uint8_t>(p[i] ^ key[(i + phase) % 4]);
}

bool guards_intact(const std::vector<uint8_t>& buf, size_t start, size_t len) {
  for (size_t i = 0; i < buf.size(); ++i) {
    if ((i < start || i >= start + len) && buf[i] != kGuard) return false;
  }
  return true;
}

}  // namespace

TEST_CASE("mask kernels: byte and word always exist; names are distinct") {
  CHECK(mask_kernel_supported(MaskKernel::kByte));
  CHECK(mask_kernel_supported(MaskKernel::kWord));
  for (int i = 0; i < kMaskKernelCount; ++i) {
    for (int j = i + 1; j < kMaskKernelCount; ++j) {
      CHECK(std::strcmp(mask_kernel_name(static_cast<MaskKernel>(i)),
                        mask_kernel_name(static_cast<MaskKernel>(j))) != 0);
    }
  }
  CHECK(std::strlen(wsedge::ws::unmask_variant()) > 0);
  CHECK(mask_kernel_supported(wsedge::ws::unmask_kernel()));
  CHECK(wsedge::ws::unmask_kernel() != MaskKernel::kByte);  // the reference is never dispatched
}

TEST_CASE("mask: unmask() dispatches on core/cpu.h simd_level() (WSEDGE_SIMD honoured)") {
  const MaskKernel want[] = {MaskKernel::kWord, MaskKernel::kSse2, MaskKernel::kAvx2,
                             MaskKernel::kAvx512};
  CHECK(wsedge::ws::unmask_kernel() == want[static_cast<int>(wsedge::simd_level())]);
}

TEST_CASE("mask: RFC 6455 §5.3 worked example") {
  // RFC 6455 §5.7: "Hello" masked with 37 fa 21 3d is 7f 9f 4d 51 58.
  const MaskKey key = {0x37, 0xfa, 0x21, 0x3d};
  for (MaskKernel k : supported_kernels()) {
    CAPTURE(mask_kernel_name(k));
    uint8_t data[] = {0x7f, 0x9f, 0x4d, 0x51, 0x58};
    mask_kernel(k)(data, sizeof data, key, 0);
    CHECK(std::memcmp(data, "Hello", 5) == 0);
  }
}

TEST_CASE("mask: every kernel equals the reference (len 0-300 x phase x offset 0-63 x key)") {
  const auto keys = seeded_keys();
  const auto src = random_bytes(300, 1);
  for (MaskKernel k : supported_kernels()) {
    CAPTURE(mask_kernel_name(k));
    size_t mismatches = 0, guard_hits = 0;
    // 64-byte aligned backing store, so `offset` is the real misalignment.
    std::vector<uint8_t> buf(kPad + 64 + 300 + kPad + 64);
    const size_t base = kPad + ((64 - reinterpret_cast<uintptr_t>(buf.data() + kPad) % 64) % 64);
    std::vector<uint8_t> want(300);
    for (const MaskKey& key : keys) {
      for (size_t len = 0; len <= 300; ++len) {
        for (size_t phase = 0; phase < 4; ++phase) {
          std::memcpy(want.data(), src.data(), len);
          spec_mask(want.data(), len, key, phase);
          for (size_t offset = 0; offset < 64; ++offset) {
            std::fill(buf.begin(), buf.end(), kGuard);
            uint8_t* p = buf.data() + base + offset;
            if (len != 0) std::memcpy(p, src.data(), len);
            mask_kernel(k)(p, len, key, phase);
            if (len != 0 && std::memcmp(p, want.data(), len) != 0) ++mismatches;
            if (!guards_intact(buf, base + offset, len)) ++guard_hits;
          }
        }
      }
    }
    CHECK(mismatches == 0);
    CHECK(guard_hits == 0);
  }
}

TEST_CASE("mask: phase only matters mod 4") {
  const MaskKey key = {9, 8, 7, 6};
  const auto src = random_bytes(77, 2);
  for (MaskKernel k : supported_kernels()) {
    CAPTURE(mask_kernel_name(k));
    for (size_t phase = 0; phase < 4; ++phase) {
      auto a = src, b = src;
      mask_kernel(k)(a.data(), a.size(), key, phase);
      mask_kernel(k)(b.data(), b.size(), key, phase + 4 * 1000003);
      CHECK(a == b);
    }
  }
}

TEST_CASE("mask: long payloads (64 KiB + odd, 1 MiB + 3) at odd offsets") {
  const MaskKey key = {0xDE, 0xAD, 0xBE, 0xEF};
  for (size_t len : {size_t{65536 + 7}, size_t{(1u << 20) + 3}}) {
    const auto src = random_bytes(len, static_cast<uint32_t>(len));
    auto want = src;
    spec_mask(want.data(), len, key, 3);
    for (MaskKernel k : supported_kernels()) {
      CAPTURE(mask_kernel_name(k));
      CAPTURE(len);
      std::vector<uint8_t> buf(len + 2 * kPad, kGuard);
      uint8_t* p = buf.data() + kPad + 13;
      std::memcpy(p, src.data(), len);
      mask_kernel(k)(p, len, key, 3);
      CHECK(std::memcmp(p, want.data(), len) == 0);
      CHECK(guards_intact(buf, kPad + 13, len));
    }
  }
}

TEST_CASE("mask: piecewise unmasking with the carried phase equals whole unmasking") {
  // A payload that arrives over several reads: each piece continues at phase = bytes done.
  std::mt19937 rng(42);
  const MaskKey key = {0x12, 0x34, 0x56, 0x78};
  for (MaskKernel k : supported_kernels()) {
    CAPTURE(mask_kernel_name(k));
    size_t failures = 0;
    for (int round = 0; round < 200; ++round) {
      const size_t len = rng() % 5000;
      const auto src = random_bytes(len, static_cast<uint32_t>(round));
      auto whole = src;
      spec_mask(whole.data(), len, key, 0);
      auto pieces = src;
      size_t done = 0;
      while (done < len) {
        const size_t piece = std::min<size_t>(len - done, 1 + rng() % 300);
        mask_kernel(k)(pieces.data() + done, piece, key, done);
        done += piece;
      }
      if (pieces != whole) ++failures;
    }
    CHECK(failures == 0);
  }
}

TEST_CASE("mask: masking is its own inverse through the dispatched unmask()") {
  const MaskKey key = {0xA1, 0xB2, 0xC3, 0xD4};
  const auto src = random_bytes(1000, 3);
  auto v = src;
  unmask(v.data(), v.size(), key, 1);
  CHECK(v != src);
  unmask(v.data(), v.size(), key, 1);
  CHECK(v == src);
}

TEST_CASE("mask: unmask() in line (0-16 bytes) and dispatched equals the reference") {
  // unmask() XORs payloads up to kInlineUnmaskMax itself and hands longer ones to the
  // kernel: every length on both sides of that edge, every phase, odd placements.
  const MaskKey key = {0x3C, 0x5A, 0x96, 0xF1};
  size_t failures = 0;
  for (size_t len = 0; len <= kInlineUnmaskMax + 24; ++len) {
    for (size_t phase = 0; phase < 8; ++phase) {
      for (size_t offset = 0; offset < 8; ++offset) {
        auto buf =
            random_bytes(len + offset + 16, static_cast<uint32_t>(len * 64 + phase * 8 + offset));
        auto want = buf;
        spec_mask(want.data() + offset, len, key, phase);
        unmask(buf.data() + offset, len, key, phase);
        if (buf != want) ++failures;  // the bytes around the payload must be untouched too
      }
    }
  }
  CHECK(failures == 0);
}
