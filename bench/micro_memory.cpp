// bench/micro_memory.cpp — what giving memory back costs, and what the budget costs.
//
// The question behind core/buffer's mapping and core/memory_return (docs/deflate.md §7): after
// a large message, should its buffers come from and go back to the system each time, or from
// glibc's heap, which keeps freed memory for the next large message (with one malloc_trim(0)
// once large messages stop)? Each benchmark grows a buffer to N bytes the way a fragmented or
// an inflated message grows (64 KiB appends) and frees it:
//   BM_MessageHeap     malloc + copy on each doubling + free: Buffer before it mapped large
//                      capacities (glibc mmaps some of them itself, by its own thresholds);
//   BM_MessageBuffer   core Buffer: mmap from 1 MiB, mremap to grow (no copy), munmap;
//   BM_MallocTrim      one malloc_trim(0) after a 16 MiB message was freed to the heap.
// bytes/s are message bytes. BM_Budget* are the accounting a session does per read of a
// message in progress (set) and when over budget (largest, over N active holders).
#include <benchmark/benchmark.h>
#include <malloc.h>

#include <cstdlib>
#include <cstring>
#include <memory>
#include <vector>

#include "core/buffer.h"
#include "core/memory_budget.h"

namespace {

constexpr size_t kPiece = 64 * 1024;

void BM_MessageHeap(benchmark::State& state) {
  const size_t n = static_cast<size_t>(state.range(0));
  std::vector<uint8_t> piece(kPiece, 0x5a);
  for (auto _ : state) {
    uint8_t* mem = nullptr;
    size_t cap = 0, used = 0;
    for (; used < n; used += kPiece) {
      if (used + kPiece > cap) {
        size_t want = cap < 256 ? 256 : cap * 2;
        while (want < used + kPiece)
          want *= 2;
        auto* fresh = static_cast<uint8_t*>(std::malloc(want));
        if (fresh == nullptr) {
          state.SkipWithError("malloc");
          return;
        }
        if (used > 0) std::memcpy(fresh, mem, used);
        std::free(mem);
        mem = fresh;
        cap = want;
      }
      std::memcpy(mem + used, piece.data(), kPiece);
    }
    benchmark::DoNotOptimize(mem);
    std::free(mem);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * n));
}
BENCHMARK(BM_MessageHeap)->Arg(1 << 20)->Arg(16 << 20);

void BM_MessageBuffer(benchmark::State& state) {
  const size_t n = static_cast<size_t>(state.range(0));
  std::vector<uint8_t> piece(kPiece, 0x5a);
  for (auto _ : state) {
    wsedge::Buffer b;
    for (size_t done = 0; done < n; done += kPiece)
      b.append(piece.data(), piece.size());
    benchmark::DoNotOptimize(b.data());
    if (b.readable() != n) state.SkipWithError("wrong size");
    b.release();
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * n));
}
BENCHMARK(BM_MessageBuffer)->Arg(1 << 20)->Arg(16 << 20);

void BM_MallocTrim(benchmark::State& state) {
  std::free(std::malloc(32u << 20));  // a freed mmapped block raises glibc's mmap threshold
  for (auto _ : state) {
    state.PauseTiming();
    // Heap memory: glibc's mmap threshold has adapted to 32 MiB after the first round.
    void* p = std::malloc(16u << 20);
    std::memset(p, 0x5a, 16u << 20);
    benchmark::DoNotOptimize(p);
    std::free(p);
    state.ResumeTiming();
    malloc_trim(0);
  }
}
// Untimed set-up dominates each round, so the count is fixed instead of found by timing.
BENCHMARK(BM_MallocTrim)->Iterations(200);

void BM_BudgetSet(benchmark::State& state) {
  const size_t others = static_cast<size_t>(state.range(0));
  wsedge::MemoryBudget budget(size_t{1} << 40);
  std::vector<std::unique_ptr<wsedge::MemoryHolder>> holders;
  for (size_t i = 0; i < others; ++i) {
    holders.push_back(std::make_unique<wsedge::MemoryHolder>());
    budget.set(*holders.back(), holders.back().get(), 1000 + i);
  }
  wsedge::MemoryHolder mine;
  size_t bytes = 1;
  for (auto _ : state) {
    budget.set(mine, &mine, bytes);  // a read of a message in progress
    bytes = bytes * 3 % 1000003;
    benchmark::DoNotOptimize(budget.over());
  }
  budget.release_all(mine);
  for (auto& h : holders)
    budget.release_all(*h);
}
BENCHMARK(BM_BudgetSet)->Arg(0)->Arg(10000);

void BM_BudgetLargest(benchmark::State& state) {
  const size_t n = static_cast<size_t>(state.range(0));
  wsedge::MemoryBudget budget(1);
  std::vector<std::unique_ptr<wsedge::MemoryHolder>> holders;
  for (size_t i = 0; i < n; ++i) {
    holders.push_back(std::make_unique<wsedge::MemoryHolder>());
    budget.set(*holders.back(), holders.back().get(), (i * 7919) % 100003 + 1);
  }
  for (auto _ : state) {
    wsedge::MemoryBudget::Holding h = budget.largest();
    benchmark::DoNotOptimize(h);
  }
  for (auto& h : holders)
    budget.release_all(*h);
}
BENCHMARK(BM_BudgetLargest)->Arg(100)->Arg(10000);

}  // namespace
