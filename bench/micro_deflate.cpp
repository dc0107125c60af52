// bench/micro_deflate.cpp — permessage-deflate throughput and per-stream memory.
//
// Messages: a ~1 KiB JSON-like text and a 64 KiB text, each a sequence of 64 distinct
// messages (so context takeover sees realistic history, not one message repeated).
// Bytes processed are uncompressed message bytes, for compress and inflate alike.
// BM_CompressNoTakeoverRelease frees the stream after each message instead of resetting it:
// the rejected design, kept to show why (docs/deflate.md).
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include "core/buffer.h"
#include "ws/deflate.h"

using wsedge::Buffer;
using wsedge::ws::DeflaterOptions;
using wsedge::ws::InflaterOptions;
using wsedge::ws::InflateStatus;
using wsedge::ws::MessageDeflater;
using wsedge::ws::MessageInflater;
using Bytes = std::vector<uint8_t>;

namespace {

constexpr size_t kMessages = 64;

Bytes json_text(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::string s;
  while (s.size() < n) {
    s += "{\"type\":\"tick\",\"symbol\":\"" + std::string(1, static_cast<char>('A' + rng() % 26)) +
         "WSE\",\"price\":" + std::to_string(100 + rng() % 900) + "." +
         std::to_string(rng() % 100) + ",\"qty\":" + std::to_string(rng() % 10000) +
         ",\"seq\":" + std::to_string(rng()) + ",\"side\":\"" + (rng() % 2 ? "buy" : "sell") +
         "\"},";
  }
  s.resize(n);
  return Bytes(s.begin(), s.end());
}

const std::vector<Bytes>& messages(size_t size) {
  static std::vector<Bytes> small, large;
  std::vector<Bytes>& v = size <= 1024 ? small : large;
  if (v.empty()) {
    for (size_t i = 0; i < kMessages; ++i)
      v.push_back(json_text(size, static_cast<uint32_t>(i)));
  }
  return v;
}

void BM_Compress(benchmark::State& state) {
  const auto& msgs = messages(static_cast<size_t>(state.range(0)));
  const bool nct = state.range(1) != 0;
  MessageDeflater d({15, 8, 6, nct});
  Buffer out;
  size_t i = 0, in_bytes = 0, out_bytes = 0;
  for (auto _ : state) {
    out.clear();
    const Bytes& m = msgs[i++ % kMessages];
    auto r = d.compress(m, out);
    if (!r.ok() || *r == 0) state.SkipWithError("compress failed");
    benchmark::DoNotOptimize(out.data());
    in_bytes += m.size();
    out_bytes += out.readable();
  }
  state.SetBytesProcessed(static_cast<int64_t>(in_bytes));
  state.counters["ratio"] = static_cast<double>(out_bytes) / static_cast<double>(in_bytes);
}

// The rejected alternative for no context takeover: free the stream after every message
// (release()) instead of deflateReset, so an idle connection would hold nothing.
void BM_CompressNoTakeoverRelease(benchmark::State& state) {
  const auto& msgs = messages(static_cast<size_t>(state.range(0)));
  MessageDeflater d({15, 8, 6, true});
  Buffer out;
  size_t i = 0, in_bytes = 0;
  for (auto _ : state) {
    out.clear();
    const Bytes& m = msgs[i++ % kMessages];
    auto r = d.compress(m, out);
    if (!r.ok() || *r == 0) state.SkipWithError("compress failed");
    benchmark::DoNotOptimize(out.data());
    d.release();
    in_bytes += m.size();
  }
  state.SetBytesProcessed(static_cast<int64_t>(in_bytes));
}

void BM_Inflate(benchmark::State& state) {
  const auto& msgs = messages(static_cast<size_t>(state.range(0)));
  const bool nct = state.range(1) != 0;
  MessageDeflater d({15, 8, 6, nct});
  std::vector<Bytes> payloads;
  for (const Bytes& m : msgs) {
    Buffer out;
    if (!d.compress(m, out).ok()) state.SkipWithError("compress failed");
    payloads.emplace_back(out.view().begin(), out.view().end());
  }
  MessageInflater in({15, nct});
  Buffer out;
  size_t i = 0, bytes = 0;
  for (auto _ : state) {
    out.clear();
    const size_t k = i++ % kMessages;
    if (in.feed(payloads[k], out, 1 << 20) != InflateStatus::kOk ||
        in.finish(out, 1 << 20) != InflateStatus::kOk || out.readable() != msgs[k].size()) {
      state.SkipWithError("inflate failed");
      break;
    }
    benchmark::DoNotOptimize(out.data());
    bytes += out.readable();
  }
  state.SetBytesProcessed(static_cast<int64_t>(bytes));
}

// Memory held by one stream after a message, as zlib allocated it (counting zalloc/zfree).
void BM_Memory(benchmark::State& state) {
  const int bits = static_cast<int>(state.range(0));
  const int mem_level = static_cast<int>(state.range(1));
  const Bytes& m = messages(65536)[0];
  size_t deflater = 0, inflater = 0;
  for (auto _ : state) {
    MessageDeflater d({bits, mem_level, 6, false});
    MessageInflater in({bits, false});
    Buffer out, msg;
    if (!d.compress(m, out).ok() || in.feed(out.view(), msg, 1 << 20) != InflateStatus::kOk ||
        in.finish(msg, 1 << 20) != InflateStatus::kOk) {
      state.SkipWithError("round trip failed");
      break;
    }
    deflater = d.memory();
    inflater = in.memory();
    benchmark::DoNotOptimize(msg.data());
  }
  state.counters["deflater_bytes"] = static_cast<double>(deflater);
  state.counters["inflater_bytes"] = static_cast<double>(inflater);
}

}  // namespace

// Args: message size, no_context_takeover.
BENCHMARK(BM_Compress)->ArgNames({"size", "nct"})->ArgsProduct({{1024, 65536}, {0, 1}});
BENCHMARK(BM_CompressNoTakeoverRelease)->ArgName("size")->Arg(1024)->Arg(65536);
BENCHMARK(BM_Inflate)->ArgNames({"size", "nct"})->ArgsProduct({{1024, 65536}, {0, 1}});
// Args: window bits, memLevel.
BENCHMARK(BM_Memory)
    ->ArgNames({"bits", "mem"})
    ->Args({15, 8})
    ->Args({15, 9})
    ->Args({12, 8})
    ->Args({9, 8})
    ->Args({9, 1})
    ->Args({8, 1});
