// Frame header codec cost: decode_header for the three length forms, encode_header.
// Fixed realistic inputs (masked client frames); the result is checked inside the loop.
#include <benchmark/benchmark.h>

#include <cstdint>

#include "ws/frame.h"

namespace {

using namespace wsedge::ws;  // NOLINT(google-build-using-namespace): benchmark file

constexpr MaskKey kKey = {0x37, 0xfa, 0x21, 0x3d};

void BM_DecodeHeader(benchmark::State& state, uint64_t length) {
  uint8_t in[kMaxHeaderSize];
  const size_t n = encode_header(in, Opcode::kBinary, length, true, false, &kKey);
  const DecodeRules rules;  // server side
  for (auto _ : state) {
    benchmark::DoNotOptimize(in);
    DecodeResult r = decode_header({in, n}, rules);
    if (r.status != DecodeStatus::kDone || r.header.payload_length != length) {
      state.SkipWithError("decode failed");
      break;
    }
    benchmark::DoNotOptimize(r);
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * n));
}

void BM_EncodeHeader(benchmark::State& state, uint64_t length, bool masked) {
  uint8_t out[kMaxHeaderSize];
  uint64_t len = length;
  for (auto _ : state) {
    benchmark::DoNotOptimize(len);
    const size_t n =
        encode_header(out, Opcode::kBinary, len, true, false, masked ? &kKey : nullptr);
    if (n < 2) {
      state.SkipWithError("encode failed");
      break;
    }
    benchmark::DoNotOptimize(out);
  }
  state.SetItemsProcessed(state.iterations());
}

}  // namespace

BENCHMARK_CAPTURE(BM_DecodeHeader, len7_100, uint64_t{100});
BENCHMARK_CAPTURE(BM_DecodeHeader, len16_1000, uint64_t{1000});
BENCHMARK_CAPTURE(BM_DecodeHeader, len64_1M, uint64_t{1} << 20);
BENCHMARK_CAPTURE(BM_EncodeHeader, len7_server, uint64_t{100}, false);
BENCHMARK_CAPTURE(BM_EncodeHeader, len16_server, uint64_t{1000}, false);
BENCHMARK_CAPTURE(BM_EncodeHeader, len64_server, uint64_t{1} << 20, false);
BENCHMARK_CAPTURE(BM_EncodeHeader, len7_client_masked, uint64_t{100}, true);
