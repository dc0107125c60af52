#include "core/cpu.h"

#include <cstdlib>

#include "core/log.h"

namespace wsedge {
namespace {
constexpr const char* kNames[] = {"scalar", "sse2", "avx2", "avx512"};

SimdLevel detect() {
#if defined(__x86_64__)
  __builtin_cpu_init();
  // AVX-512 kernels use byte-granular masks and ops, so they need BW on top of F.
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw")) {
    return SimdLevel::kAvx512;
  }
  if (__builtin_cpu_supports("avx2")) return SimdLevel::kAvx2;
  return SimdLevel::kSse2;  // part of the x86-64 baseline
#else
  return SimdLevel::kScalar;
#endif
}

SimdLevel choose() {
  SimdLevel level = cpu_simd_support();
  if (const char* env = std::getenv("WSEDGE_SIMD")) {
    SimdLevel wanted;
    if (!parse_simd_level(env, &wanted)) {
      WSEDGE_LOG(kWarn, "WSEDGE_SIMD=%s not understood (scalar|sse2|avx2|avx512); using %s", env,
                 simd_level_name(level));
    } else if (wanted > level) {
      WSEDGE_LOG(kWarn, "WSEDGE_SIMD=%s not supported by this CPU; using %s", env,
                 simd_level_name(level));
    } else {
      level = wanted;
    }
  }
  return level;
}
}  // namespace

SimdLevel cpu_simd_support() {
  static const SimdLevel level = detect();
  return level;
}

SimdLevel simd_level() {
  static const SimdLevel level = choose();
  return level;
}

const char* simd_level_name(SimdLevel level) {
  return kNames[static_cast<int>(level)];
}

bool parse_simd_level(std::string_view name, SimdLevel* out) {
  for (int i = 0; i < 4; ++i) {
    if (name == kNames[i]) {
      *out = static_cast<SimdLevel>(i);
      return true;
    }
  }
  return false;
}

}  // namespace wsedge
