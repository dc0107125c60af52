#include <doctest/doctest.h>

#include <cstring>
#include <string>
#include <vector>

#include "core/buffer.h"

using wsedge::Buffer;

namespace {
std::string str(const Buffer& b) {
  return {reinterpret_cast<const char*>(b.data()), b.readable()};
}
}  // namespace

TEST_CASE("Buffer owns nothing until the first write") {
  Buffer b;
  CHECK(b.capacity() == 0);
  CHECK(b.empty());
  b.append("abc", 3);
  CHECK(b.capacity() >= 3);
  CHECK(str(b) == "abc");
}

TEST_CASE("Buffer consume advances the read cursor and resets when empty") {
  Buffer b;
  b.append("hello world", 11);
  b.consume(6);
  CHECK(str(b) == "world");
  CHECK(b.readable() == 5);
  b.consume(5);
  CHECK(b.empty());
  // Cursors back at 0: the whole capacity is writable again.
  CHECK(b.writable() == b.capacity());
}

TEST_CASE("Buffer prepare compacts before it grows") {
  Buffer b;
  b.append(std::string(200, 'x').data(), 200);
  size_t cap = b.capacity();
  b.consume(150);
  // 50 live bytes; asking for cap-50 fits only after moving them to the front.
  uint8_t* w = b.prepare(cap - 50);
  CHECK(b.capacity() == cap);
  CHECK(w == b.data() + 50);
  CHECK(str(b) == std::string(50, 'x'));
}

TEST_CASE("Buffer grows keeping the readable bytes") {
  Buffer b;
  b.append("0123456789", 10);
  b.consume(3);
  std::string big(10000, 'z');
  b.append(big.data(), big.size());
  CHECK(b.readable() == 7 + big.size());
  CHECK(str(b).substr(0, 7) == "3456789");
  CHECK(str(b).substr(7) == big);
}

TEST_CASE("Buffer prepare/commit writes in place") {
  Buffer b;
  uint8_t* w = b.prepare(4);
  std::memcpy(w, "wxyz", 4);
  b.commit(2);
  CHECK(str(b) == "wx");
}

TEST_CASE("Buffer move transfers ownership and release frees") {
  Buffer a;
  a.append("abc", 3);
  Buffer b(std::move(a));
  CHECK(a.capacity() == 0);  // NOLINT(bugprone-use-after-move): moved-from is empty by contract
  CHECK(str(b) == "abc");
  Buffer c;
  c = std::move(b);
  CHECK(str(c) == "abc");
  c.release();
  CHECK(c.capacity() == 0);
  CHECK(c.empty());
}

TEST_CASE("Buffer append(a, b): every pair of lengths 0-40 lands intact behind what was there") {
  // Up to 16 bytes are copied in line by overlapping loads: each size class (0, 1, 2-3,
  // 4-7, 8-16, > 16) on both sides, after a prefix that leaves the write cursor unaligned.
  std::vector<uint8_t> a(40), b(40);
  for (size_t i = 0; i < 40; ++i) {
    a[i] = static_cast<uint8_t>(i + 1);
    b[i] = static_cast<uint8_t>(0x80 + i);
  }
  size_t failures = 0;
  for (size_t na = 0; na <= 40; ++na) {
    for (size_t nb = 0; nb <= 40; ++nb) {
      Buffer buf;
      buf.append("xyz", 3);
      buf.append(std::span<const uint8_t>(a.data(), na), std::span<const uint8_t>(b.data(), nb));
      std::vector<uint8_t> want = {'x', 'y', 'z'};
      want.insert(want.end(), a.begin(), a.begin() + static_cast<std::ptrdiff_t>(na));
      want.insert(want.end(), b.begin(), b.begin() + static_cast<std::ptrdiff_t>(nb));
      auto got = buf.view();
      if (std::vector<uint8_t>(got.begin(), got.end()) != want) ++failures;
    }
  }
  CHECK(failures == 0);
}
