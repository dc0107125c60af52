// Memory a peer can make the server hold: the budget's accounting (core/memory_budget), the
// return of freed memory (core/memory_return, core/buffer's mappings), and the session's
// limits (ws/session, ws/message_memory): freed at failure, bounded per message, per frame,
// in time and for the whole server.
#include <doctest/doctest.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "core/buffer.h"
#include "core/memory_budget.h"
#include "core/memory_return.h"
#include "ws/deflate.h"

using namespace wsedge;

// ---- core/memory_budget ---------------------------------------------------------------------

TEST_CASE("MemoryBudget sums what its holders hold now, and names the largest") {
  MemoryBudget budget(1000);
  int a_owner = 0, b_owner = 0, c_owner = 0;
  MemoryHolder a, b, c;
  CHECK(budget.largest().holder == nullptr);
  CHECK(budget.largest().owner == nullptr);
  budget.set(a, &a_owner, 300);
  budget.set(b, &b_owner, 500);
  budget.set(b, &b_owner, 600);
  CHECK(budget.total() == 900);
  CHECK(budget.holders() == 2);
  CHECK(budget.held(b) == 600);
  CHECK_FALSE(budget.over());
  CHECK(budget.largest().holder == &b);
  CHECK(budget.largest().owner == &b_owner);
  CHECK(budget.largest().held == 600);
  budget.set(c, &c_owner, 101);
  CHECK(budget.over());  // 1001 > 1000
  CHECK(budget.peak() == 1001);
  budget.set(b, &b_owner, 50);
  CHECK(budget.held(b) == 50);
  CHECK(budget.largest().holder == &a);
  budget.release_all(b);
  CHECK(budget.held(b) == 0);
  CHECK_FALSE(b.holds());
  CHECK(budget.holders() == 2);
  budget.release_all(a);
  budget.release_all(a);  // idempotent
  CHECK(budget.total() == 101);
  CHECK(budget.largest().holder == &c);
  CHECK(budget.largest().owner == &c_owner);
  CHECK(budget.peak() == 1001);  // the peak stays
  budget.release_all(c);
  CHECK(budget.holders() == 0);
}

TEST_CASE("MemoryBudget: swap-removal from the middle keeps every holder's entry its own") {
  MemoryBudget budget(100);
  std::vector<MemoryHolder> holders(5);
  for (size_t i = 0; i < holders.size(); ++i)
    budget.set(holders[i], &holders[i], 10 * (i + 1));
  CHECK(budget.total() == 150);
  budget.release_all(holders[1]);  // 20, from the middle
  budget.release_all(holders[0]);  // 10
  CHECK(budget.total() == 120);
  CHECK(budget.holders() == 3);
  for (size_t i = 2; i < holders.size(); ++i)
    CHECK(budget.held(holders[i]) == 10 * (i + 1));
  CHECK(budget.largest().owner == &holders[4]);
  budget.set(holders[2], &holders[2], 0);
  CHECK(budget.total() == 90);
  CHECK(budget.largest().holder == &holders[4]);
  budget.set(holders[4], &holders[4], 1);
  CHECK(budget.largest().holder == &holders[3]);
  budget.set(holders[1], &holders[1], 7);  // back again, at the end
  CHECK(budget.held(holders[1]) == 7);
  CHECK(budget.held(holders[3]) == 40);
  CHECK(budget.held(holders[4]) == 1);
  for (MemoryHolder& h : holders)
    budget.release_all(h);
  CHECK(budget.total() == 0);
  CHECK(budget.holders() == 0);
}

TEST_CASE("MemoryBudget: a dying budget forgets its holders; a holder is 4 bytes") {
  static_assert(sizeof(MemoryHolder) == 4, "fits in a session's padding");
  MemoryHolder h;
  {
    MemoryBudget b(10);
    b.set(h, &h, 5);
    CHECK(h.holds());
  }
  CHECK_FALSE(h.holds());  // nothing left pointing at it, nothing to release
  MemoryBudget next(10);
  next.set(h, &h, 3);
  CHECK(next.total() == 3);
  next.release_all(h);
}

// ---- core/memory_return ---------------------------------------------------------------------

namespace {
struct ArmLog {
  std::vector<int64_t> delays;
  static void arm(void* self, int64_t delay_ms) {
    static_cast<ArmLog*>(self)->delays.push_back(delay_ms);
  }
};
}  // namespace

TEST_CASE("MemoryReturn arms once, waits for quiet, then releases big empty watched buffers") {
  ArmLog log;
  MemoryReturn::Options o;
  o.quiet_ms = 1000;
  o.keep_bytes = 4096;
  o.trim_heap = false;
  MemoryReturn r(&ArmLog::arm, &log, o);
  Buffer big, small, busy;
  big.append(std::string(100'000, 'b').data(), 100'000);
  big.clear();  // emptied, capacity kept: what a cork looks like between sends
  small.append("s", 1);
  small.clear();
  busy.append(std::string(50'000, 'x').data(), 50'000);  // still holds bytes
  r.watch(big);
  r.watch(small);
  r.watch(busy);

  r.note_large(10'000);
  r.note_large(10'400);  // already armed: no second timer
  REQUIRE(log.delays == std::vector<int64_t>{1000});
  CHECK(r.armed());
  // Fires at 11'000, but the last large message was at 10'400: wait out the rest.
  CHECK(r.run(11'000) == 0);
  REQUIRE(log.delays == std::vector<int64_t>{1000, 400});
  CHECK(big.capacity() >= 100'000);
  const size_t big_capacity = big.capacity();
  CHECK(r.run(11'400) == big_capacity);
  CHECK_FALSE(r.armed());
  CHECK(big.capacity() == 0);
  CHECK(small.capacity() > 0);       // under keep_bytes: kept for the next small use
  CHECK(busy.readable() == 50'000);  // in use: never touched
  CHECK(r.stats().runs == 1);
  CHECK(r.stats().released_bytes == big_capacity);
  r.note_large(20'000);  // a later burst arms again
  CHECK(log.delays.size() == 3);
}

namespace {
// This process's resident memory, from the kernel's own count.
size_t rss_bytes() {
  FILE* f = std::fopen("/proc/self/status", "r");
  REQUIRE(f != nullptr);
  char line[256];
  size_t kib = 0;
  while (std::fgets(line, sizeof line, f) != nullptr) {
    if (std::sscanf(line, "VmRSS: %zu kB", &kib) == 1) break;
  }
  std::fclose(f);
  return kib * 1024;
}

// glibc raises its mmap threshold to the size of a freed mmapped block (if that is at most
// 32 MiB) and its trim threshold to twice that: after this, a 16 MiB allocation is heap memory
// that free() keeps — the state a server is in after its first large message.
void raise_glibc_thresholds() {
  void* p = std::malloc(24u << 20);
  REQUIRE(p != nullptr);
  std::free(p);
}

constexpr size_t kMiB = 1 << 20;
}  // namespace

#if !defined(__SANITIZE_ADDRESS__)  // ASan's allocator is not glibc's: nothing to trim there
TEST_CASE("MemoryReturn::run gives freed heap memory back to the system (malloc_trim)") {
  ArmLog log;
  MemoryReturn r(&ArmLog::arm, &log);
  raise_glibc_thresholds();
  auto* p = static_cast<char*>(std::malloc(16 * kMiB));
  REQUIRE(p != nullptr);
  std::memset(p, 1, 16 * kMiB);
  const size_t touched = rss_bytes();
  std::free(p);
  CHECK(rss_bytes() + 4 * kMiB > touched);  // free() kept it
  r.note_large(0);
  r.run(5000);
  CHECK(rss_bytes() + 12 * kMiB < touched);  // the trim returned it
  CHECK(r.stats().runs == 1);
}
#endif

// ---- core/buffer: large capacities are mappings of their own ----------------------------------

TEST_CASE("Buffer: a large buffer goes back to the system the moment it is released") {
  raise_glibc_thresholds();
  const size_t before = rss_bytes();
  Buffer b;
  std::string piece(64 * 1024, 'm');
  for (size_t i = 0; i < 256; ++i)
    b.append(piece.data(), piece.size());  // 16 MiB, grown the way a message grows
  REQUIRE(b.readable() == 16 * kMiB);
  CHECK(rss_bytes() > before + 15 * kMiB);
  b.release();
  CHECK(rss_bytes() < before + 2 * kMiB);  // not kept by the allocator: no trim needed
}

TEST_CASE("Buffer: growth across the mapping threshold and within mappings keeps every byte") {
  Buffer b;
  std::string expect;
  uint32_t x = 12345;
  size_t consumed = 0;
  for (int round = 0; round < 40; ++round) {
    std::string chunk(static_cast<size_t>(100'000 + round * 7919), '\0');
    for (char& c : chunk) {
      x = x * 1103515245 + 12345;
      c = static_cast<char>(x >> 24);
    }
    b.append(chunk.data(), chunk.size());
    expect += chunk;
    if (round % 3 == 0) {  // a consumed prefix: growth must move only the live bytes
      b.consume(50'000);
      consumed += 50'000;
    }
    REQUIRE(b.readable() == expect.size() - consumed);
    REQUIRE(std::memcmp(b.data(), expect.data() + consumed, b.readable()) == 0);
  }
  CHECK(b.capacity() >= 4 * kMiB);
  Buffer moved(std::move(b));
  CHECK(b.capacity() == 0);
  CHECK(std::memcmp(moved.data(), expect.data() + consumed, moved.readable()) == 0);
  Buffer assigned;
  assigned.append("small", 5);
  assigned = std::move(moved);  // frees the small block, takes the mapping
  CHECK(assigned.readable() == expect.size() - consumed);
  assigned.clear();
  CHECK(assigned.prepare(10) == assigned.data());
}

// ---- ws/deflate: inflating in steps ------------------------------------------------------------

namespace {
std::vector<uint8_t> deflate_bytes(const std::vector<uint8_t>& plain) {
  ws::MessageDeflater d;
  Buffer out;
  REQUIRE(d.compress(plain, out).ok());
  return {out.data(), out.data() + out.readable()};
}
}  // namespace

TEST_CASE("MessageInflater::feed_some stops after each step of output, and adds up to feed()") {
  std::vector<uint8_t> plain(8 * kMiB);
  for (size_t i = 0; i < plain.size(); ++i)
    plain[i] = static_cast<uint8_t>((i * 31) >> 9);
  const std::vector<uint8_t> z = deflate_bytes(plain);
  REQUIRE(z.size() < plain.size() / 8);

  ws::MessageInflater stepped;
  Buffer out;
  std::span<const uint8_t> in(z);
  size_t calls = 0;
  while (!in.empty()) {
    const size_t before = out.readable();
    ws::InflateProgress p = stepped.feed_some(in, out, 64 * kMiB, 256 * 1024);
    REQUIRE(p.status == ws::InflateStatus::kOk);
    REQUIRE(p.consumed <= in.size());
    in = in.subspan(p.consumed);
    const size_t grew = out.readable() - before;
    // At most one zlib call (16 KiB) past the step, plus what the last input still owed.
    CHECK(grew <= 256 * 1024 + ws::MessageInflater::kChunk + 4096);
    if (!in.empty()) CHECK(grew >= 256 * 1024);
    ++calls;
  }
  CHECK(calls >= 8 * kMiB / (256 * 1024 + ws::MessageInflater::kChunk + 4096));
  REQUIRE(stepped.finish(out, 64 * kMiB) == ws::InflateStatus::kOk);
  REQUIRE(out.readable() == plain.size());
  CHECK(std::memcmp(out.data(), plain.data(), plain.size()) == 0);
}

TEST_CASE(
    "MessageInflater::feed_some keeps the limit and stays spent; discard() frees and resets") {
  const std::vector<uint8_t> bomb = deflate_bytes(std::vector<uint8_t>(32 * kMiB, 0));
  ws::MessageInflater inf;
  Buffer out;
  std::span<const uint8_t> in(bomb);
  ws::InflateProgress p;
  while (!in.empty()) {
    p = inf.feed_some(in, out, 4 * kMiB, 256 * 1024);
    if (p.status != ws::InflateStatus::kOk) break;
    in = in.subspan(p.consumed);
  }
  CHECK(p.status == ws::InflateStatus::kTooBig);
  CHECK(out.readable() <= 4 * kMiB);
  CHECK(inf.feed_some(in, out, 4 * kMiB, 1).status == ws::InflateStatus::kTooBig);  // sticky
  CHECK(inf.memory() > 0);
  inf.discard();
  CHECK(inf.memory() == 0);
  // As new: the next message inflates from a fresh stream.
  Buffer again;
  const std::vector<uint8_t> hello = deflate_bytes({'h', 'i'});
  CHECK(inf.feed(hello, again, 100) == ws::InflateStatus::kOk);
  CHECK(inf.finish(again, 100) == ws::InflateStatus::kOk);
  CHECK(std::string(reinterpret_cast<const char*>(again.data()), again.readable()) == "hi");
}
