// core/cpu.h — which SIMD instruction sets the SIMD kernels may use.
//
// Decided once per process, on first call: the widest level the CPU supports (CPUID via
// the compiler's __builtin_cpu_supports), lowered by the environment variable
// WSEDGE_SIMD=scalar|sse2|avx2|avx512 so tests and benchmarks can force a kernel.
// On non-x86 builds the answer is always kScalar. Thread-safe (a function-local static).
#pragma once

#include <string_view>

namespace wsedge {

// Ordered: a higher level implies every lower one is available.
enum class SimdLevel { kScalar = 0, kSse2 = 1, kAvx2 = 2, kAvx512 = 3 };

// What this CPU supports, ignoring WSEDGE_SIMD.
SimdLevel cpu_simd_support();
// What kernels should use: cpu_simd_support() capped by WSEDGE_SIMD.
SimdLevel simd_level();
const char* simd_level_name(SimdLevel level);
// Parses "scalar|sse2|avx2|avx512"; false for anything else.
bool parse_simd_level(std::string_view name, SimdLevel* out);

}  // namespace wsedge
