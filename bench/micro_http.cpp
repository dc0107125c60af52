// Micro benchmarks for http/parser and ws/handshake on fixed, realistic requests.
// Each iteration checks its result, so a parser that stopped working cannot look fast.
#include <benchmark/benchmark.h>

#include <string>
#include <string_view>

#include "http/parser.h"
#include "tests/unit/http_fixtures.h"
#include "ws/handshake.h"

namespace {

using wsedge::http::ParseStatus;
using wsedge::http::Request;

const std::string kUpgrade = wsedge::test::kChromeUpgrade;

const std::string kMinimal = "GET / HTTP/1.1\r\nHost: a\r\n\r\n";

std::span<const uint8_t> bytes_of(const std::string& s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

void parse_loop(benchmark::State& state, const std::string& input) {
  Request req;
  for (auto _ : state) {
    auto r = wsedge::http::parse_request(bytes_of(input), &req);
    if (r.status != ParseStatus::kDone || r.consumed != input.size()) {
      state.SkipWithError("parse failed");
      break;
    }
    benchmark::DoNotOptimize(req);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * input.size()));
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
}

void BM_ParseBrowserUpgrade(benchmark::State& state) {
  parse_loop(state, kUpgrade);
}
BENCHMARK(BM_ParseBrowserUpgrade);

void BM_ParseMinimalGet(benchmark::State& state) {
  parse_loop(state, kMinimal);
}
BENCHMARK(BM_ParseMinimalGet);

void BM_ComputeAcceptKey(benchmark::State& state) {
  char out[wsedge::ws::kAcceptKeyLength];
  for (auto _ : state) {
    wsedge::ws::compute_accept_key("dGhlIHNhbXBsZSBub25jZQ==", out);
    benchmark::DoNotOptimize(out);
    if (out[0] != 's') {
      state.SkipWithError("wrong accept key");
      break;
    }
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
}
BENCHMARK(BM_ComputeAcceptKey);

// Parse + check_handshake (which hashes the key): the CPU cost of accepting one client.
void BM_ParseAndCheckHandshake(benchmark::State& state) {
  Request req;
  for (auto _ : state) {
    auto r = wsedge::http::parse_request(bytes_of(kUpgrade), &req);
    auto h = wsedge::ws::check_handshake(req, {});
    if (r.status != ParseStatus::kDone || !h.ok()) {
      state.SkipWithError("handshake failed");
      break;
    }
    benchmark::DoNotOptimize(h);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * kUpgrade.size()));
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
}
BENCHMARK(BM_ParseAndCheckHandshake);

// check_handshake alone on a parsed request: the header checks plus the SHA-1.
void BM_CheckHandshake(benchmark::State& state) {
  Request req;
  if (wsedge::http::parse_request(bytes_of(kUpgrade), &req).status != ParseStatus::kDone) {
    state.SkipWithError("parse failed");
    return;
  }
  for (auto _ : state) {
    auto h = wsedge::ws::check_handshake(req, {});
    if (!h.ok()) {
      state.SkipWithError("handshake failed");
      break;
    }
    benchmark::DoNotOptimize(h);
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
}
BENCHMARK(BM_CheckHandshake);

}  // namespace
