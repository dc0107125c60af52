// Micro benchmarks of ws/utf8 per kernel: ASCII, mixed-script text, and mixed text whose
// last byte is invalid (so the whole input is read before the verdict), 1 KiB and 64 KiB.
// Args: {SimdLevel, bytes}. Run pinned: taskset -c 1 build/micro_utf8
#include <benchmark/benchmark.h>

#include <cstdint>
#include <string>
#include <vector>

#include "core/cpu.h"
#include "ws/utf8.h"

namespace {

using wsedge::SimdLevel;

// A chat-like mix: English, French, German, Greek, Russian, Chinese, Japanese and emoji,
// about 40% ASCII bytes, the rest 2-, 3- and 4-byte sequences.
const char kMixed[] =
    "Hello, world! Ça va? Déjà vu, naïve café. Größe und Übermaß. "
    "Καλημέρα κόσμε, τι κάνεις; Привет, как дела? "
    "你好，世界。今天天气很好。こんにちは、世界！元気ですか？ "
    "😀🎉🚀 ok 👍🏽 ❤️ thanks! ";

std::vector<uint8_t> make_input(const std::string& unit, size_t size) {
  std::vector<uint8_t> out;
  while (out.size() + unit.size() <= size)
    out.insert(out.end(), unit.begin(), unit.end());
  while (out.size() < size)
    out.push_back('.');  // ASCII padding keeps it valid
  return out;
}

void run(benchmark::State& state, const std::vector<uint8_t>& input, bool expect) {
  const auto level = static_cast<SimdLevel>(state.range(0));
  if (level > wsedge::cpu_simd_support()) {
    state.SkipWithError("kernel not supported by this CPU");
    return;
  }
  state.SetLabel(wsedge::simd_level_name(level));
  for (auto _ : state) {
    wsedge::ws::Utf8Validator v(level);
    bool ok = v.feed(input) && v.finish();
    benchmark::DoNotOptimize(ok);
    if (ok != expect) {
      state.SkipWithError("wrong verdict");
      break;
    }
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) *
                          static_cast<int64_t>(input.size()));
}

void BM_Utf8Ascii(benchmark::State& state) {
  const auto input = make_input("The quick brown fox jumps over the lazy dog. 0123456789\n",
                                static_cast<size_t>(state.range(1)));
  run(state, input, true);
}

void BM_Utf8Mixed(benchmark::State& state) {
  const auto input = make_input(kMixed, static_cast<size_t>(state.range(1)));
  run(state, input, true);
}

void BM_Utf8InvalidAtEnd(benchmark::State& state) {
  auto input = make_input(kMixed, static_cast<size_t>(state.range(1)));
  input.back() = 0xFF;  // never valid in UTF-8 (RFC 3629 §1)
  run(state, input, false);
}

}  // namespace

BENCHMARK(BM_Utf8Ascii)->ArgsProduct({{0, 1, 2, 3}, {1024, 65536}});
BENCHMARK(BM_Utf8Mixed)->ArgsProduct({{0, 1, 2, 3}, {1024, 65536}});
BENCHMARK(BM_Utf8InvalidAtEnd)->ArgsProduct({{0, 1, 2, 3}, {1024, 65536}});
