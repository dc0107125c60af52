// In-place unmasking throughput per kernel, beside memcpy of the same size.
// Buffers are 64-byte aligned and stay hot in cache: this measures the kernels, not DRAM.
// Run pinned: taskset -c 1 build/micro_mask --benchmark_repetitions=5
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <cstring>

#include "ws/mask.h"

namespace {

using wsedge::ws::MaskKernel;

constexpr wsedge::ws::MaskKey kKey = {0x37, 0xfa, 0x21, 0x3d};

uint8_t* aligned_buffer(size_t n) {
  auto* p = static_cast<uint8_t*>(std::aligned_alloc(64, (n + 63) / 64 * 64));
  for (size_t i = 0; i < n; ++i)
    p[i] = static_cast<uint8_t>(i * 31);
  return p;
}

void BM_Unmask(benchmark::State& state, MaskKernel kernel) {
  if (!wsedge::ws::mask_kernel_supported(kernel)) {
    state.SkipWithError("kernel not supported by this CPU");
    return;
  }
  const auto n = static_cast<size_t>(state.range(0));
  uint8_t* buf = aligned_buffer(n);
  const uint8_t first = buf[0];
  const auto fn = wsedge::ws::mask_kernel(kernel);
  for (auto _ : state) {
    fn(buf, n, kKey, 0);
    benchmark::DoNotOptimize(buf);
    benchmark::ClobberMemory();
  }
  // An even number of passes restores the data; an odd one leaves it masked.
  const uint8_t expect = state.iterations() % 2 == 0 ? first : first ^ kKey[0];
  if (buf[0] != expect) state.SkipWithError("unmask produced a wrong byte");
  std::free(buf);
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * state.range(0));
}

void BM_Memcpy(benchmark::State& state) {
  const auto n = static_cast<size_t>(state.range(0));
  uint8_t* src = aligned_buffer(n);
  uint8_t* dst = aligned_buffer(n);
  for (auto _ : state) {
    std::memcpy(dst, src, n);
    benchmark::DoNotOptimize(dst);
    benchmark::ClobberMemory();
  }
  if (std::memcmp(dst, src, n) != 0) state.SkipWithError("memcpy mismatch");
  std::free(src);
  std::free(dst);
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * state.range(0));
}

void sizes(benchmark::internal::Benchmark* b) {
  for (int64_t n : {16, 128, 1024, 64 * 1024, 1024 * 1024})
    b->Arg(n);
}

}  // namespace

BENCHMARK_CAPTURE(BM_Unmask, byte, MaskKernel::kByte)->Apply(sizes);
BENCHMARK_CAPTURE(BM_Unmask, word, MaskKernel::kWord)->Apply(sizes);
BENCHMARK_CAPTURE(BM_Unmask, sse2, MaskKernel::kSse2)->Apply(sizes);
BENCHMARK_CAPTURE(BM_Unmask, avx2, MaskKernel::kAvx2)->Apply(sizes);
BENCHMARK_CAPTURE(BM_Unmask, avx512, MaskKernel::kAvx512)->Apply(sizes);
BENCHMARK(BM_Memcpy)->Apply(sizes);
