// ws/mask.h — in-place XOR masking of WebSocket payloads (RFC 6455 §5.3).
//
// unmask() XORs [data, data+len) with the 4-byte key, starting `phase` bytes into the
// payload, so a payload that arrives in pieces is unmasked piece by piece. Touches only
// [data, data+len); any length, any alignment. Masking is its own inverse: the same call
// masks a client frame. Kernels are stateless; the dispatch choice is made once, thread-safely.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

namespace wsedge::ws {

// The masking key in wire order: key[0] is the frame's first mask byte and applies to
// payload bytes 0, 4, 8, ... (RFC 6455 §5.3: j = i MOD 4).
using MaskKey = std::array<uint8_t, 4>;

// `phase`: bytes of this payload already unmasked; only phase % 4 matters.
void unmask(uint8_t* data, size_t len, MaskKey key, size_t phase = 0);

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
