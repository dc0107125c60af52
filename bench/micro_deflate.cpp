// bench/micro_deflate.cpp — permessage-deflate throughput and per-stream memory.
//
// Messages: a ~1 KiB JSON-like text and a 64 KiB text, each a sequence of 64 distinct
// messages (so context takeover sees realistic history, not one message repeated).
// Bytes processed are uncompressed message bytes, for compress and inflate alike.
// BM_CompressNoTakeoverRelease frees the stream after each message instead of resetting it:
// the rejected design, kept to show why (docs/deflate.md).
// BM_ZlibEcho is zlib's own work on one compressed echo, with zlib called directly (none of
// ws/deflate): the floor bench/deflate_instructions.sh holds the server's compressed echo
// against (issue 12: within 1.15x).
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include <zlib.h>

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

// --- zlib's own work on an echo ------------------------------------------------------------
// What a server must do, at the least, for one compressed echo of wsload's messages (random
// printable ASCII, bench/load/frame_pool.h, 64 KiB of distinct text cycled): inflate the
// client's message and deflate the answer, both streams keeping their context (RFC 7692
// §7.1.1: the default), zlib level 6, window 15, memLevel 8, each message ended with a sync
// flush whose 00 00 FF FF tail is dropped and re-appended (§7.2.1, §7.2.2). The client's
// compressor runs outside the measured function.

struct RawStreams {
  z_stream client{}, server_in{}, server_out{};
  RawStreams() {
    deflateInit2(&client, 6, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY);
    inflateInit2(&server_in, -15);
    deflateInit2(&server_out, 6, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY);
  }
  ~RawStreams() {
    deflateEnd(&client);
    inflateEnd(&server_in);
    deflateEnd(&server_out);
  }
  RawStreams(const RawStreams&) = delete;
  RawStreams& operator=(const RawStreams&) = delete;
};

// Deflates `in` into out[0..) with a sync flush; returns the size without the 4-byte tail.
size_t raw_deflate(z_stream& z, const uint8_t* in, size_t n, uint8_t* out, size_t cap) {
  z.next_in = const_cast<uint8_t*>(in);
  z.avail_in = static_cast<uInt>(n);
  z.next_out = out;
  z.avail_out = static_cast<uInt>(cap);
  deflate(&z, Z_SYNC_FLUSH);
  return cap - z.avail_out - 4;
}

// The measured unit: the server's side of one echo. Out of line, so callgrind can count it
// alone (--toggle-collect=*zlib_echo*).
// Returns the answer's compressed size; *inflated: the message's size as inflated.
[[gnu::noinline]] size_t zlib_echo(RawStreams& s, std::vector<uint8_t>& compressed,
                                   std::vector<uint8_t>& message, std::vector<uint8_t>& answer,
                                   size_t* inflated) {
  static const uint8_t kTail[4] = {0x00, 0x00, 0xFF, 0xFF};
  compressed.insert(compressed.end(), kTail, kTail + 4);
  z_stream& in = s.server_in;
  in.next_in = compressed.data();
  in.avail_in = static_cast<uInt>(compressed.size());
  in.next_out = message.data();
  in.avail_out = static_cast<uInt>(message.size());
  inflate(&in, Z_SYNC_FLUSH);
  const size_t got = message.size() - in.avail_out;
  *inflated = got;
  return raw_deflate(s.server_out, message.data(), got, answer.data(), answer.size());
}

void BM_ZlibEcho(benchmark::State& state) {
  const size_t size = static_cast<size_t>(state.range(0));
  std::mt19937_64 rng(7);
  const size_t variants = std::max<size_t>(64, (64u << 10) / size);
  std::vector<uint8_t> text(variants * size);
  std::generate(text.begin(), text.end(),
                [&rng] { return static_cast<uint8_t>('!' + rng() % 94); });
  RawStreams s;
  std::vector<uint8_t> compressed(size + 64), message(size + 64), answer(size + 64);
  size_t i = 0, out_bytes = 0;
  for (auto _ : state) {
    const uint8_t* m = text.data() + (i++ % variants) * size;
    compressed.resize(size + 64);
    compressed.resize(raw_deflate(s.client, m, size, compressed.data(), compressed.size()));
    size_t got = 0;
    out_bytes += zlib_echo(s, compressed, message, answer, &got);
    if (got != size || std::memcmp(message.data(), m, size) != 0) {
      state.SkipWithError("the echo did not inflate back to the message");
      break;
    }
    benchmark::DoNotOptimize(answer.data());
  }
  state.SetBytesProcessed(static_cast<int64_t>(i * size));
  state.counters["ratio"] = static_cast<double>(out_bytes) / static_cast<double>(i * size);
}
}  // namespace

// Args: message size, no_context_takeover.
BENCHMARK(BM_Compress)->ArgNames({"size", "nct"})->ArgsProduct({{1024, 65536}, {0, 1}});
BENCHMARK(BM_CompressNoTakeoverRelease)->ArgName("size")->Arg(1024)->Arg(65536);
BENCHMARK(BM_Inflate)->ArgNames({"size", "nct"})->ArgsProduct({{1024, 65536}, {0, 1}});
// Args: message size. 256 B is issue 12's case; 4 KiB for scale.
BENCHMARK(BM_ZlibEcho)->ArgName("size")->Arg(256)->Arg(4096);
// Args: window bits, memLevel.
BENCHMARK(BM_Memory)
    ->ArgNames({"bits", "mem"})
    ->Args({15, 8})
    ->Args({15, 9})
    ->Args({12, 8})
    ->Args({9, 8})
    ->Args({9, 1})
    ->Args({8, 1});
