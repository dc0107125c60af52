#include <doctest/doctest.h>
#include <zlib.h>

#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "ws/deflate.h"

using wsedge::Buffer;
using wsedge::ws::DeflaterOptions;
using wsedge::ws::InflaterOptions;
using wsedge::ws::InflateStatus;
using wsedge::ws::MessageDeflater;
using wsedge::ws::MessageInflater;
using Bytes = std::vector<uint8_t>;

namespace {

constexpr size_t kNoLimit = size_t{1} << 40;

Bytes bytes(std::string_view s) {
  return Bytes(s.begin(), s.end());
}
Bytes view_of(const Buffer& b) {
  return Bytes(b.view().begin(), b.view().end());
}

Bytes random_bytes(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  Bytes v(n);
  for (auto& c : v)
    c = static_cast<uint8_t>(rng());
  return v;
}

// JSON-like, compressible text.
Bytes text(size_t n, uint32_t seed = 1) {
  static const char* words[] = {
      "\"price\":", "101.25,", "{\"type\":\"tick\",", "\"symbol\":", "\"WSE\",",
      "\"seq\":",   "42},",    "\"side\":\"buy\","};
  std::mt19937 rng(seed);
  std::string s;
  while (s.size() < n)
    s += words[rng() % 8];
  s.resize(n);
  return bytes(s);
}

Bytes compress(MessageDeflater& d, const Bytes& msg) {
  Buffer out;
  auto r = d.compress(msg, out);
  REQUIRE(r.ok());
  CHECK(*r == out.readable());
  return view_of(out);
}

// Inflates one message fed in pieces of `step` bytes (0: whole).
InflateStatus inflate(MessageInflater& in, const Bytes& payload, Bytes* msg, size_t step = 0,
                      size_t limit = kNoLimit) {
  Buffer out;
  size_t off = 0;
  do {
    size_t n = step == 0 ? payload.size() - off : std::min(step, payload.size() - off);
    InflateStatus st = in.feed({payload.data() + off, n}, out, limit);
    if (st != InflateStatus::kOk) return st;
    off += n;
  } while (off < payload.size());
  InflateStatus st = in.finish(out, limit);
  *msg = view_of(out);
  return st;
}

// An independent peer: plain zlib, one stream for a sequence of messages, RFC 7692 §7.2.1.
struct ZlibCompressor {
  z_stream z{};
  bool reset_each_message = false;
  explicit ZlibCompressor(int bits, bool reset = false) : reset_each_message(reset) {
    REQUIRE(deflateInit2(&z, 6, Z_DEFLATED, -bits, 8, Z_DEFAULT_STRATEGY) == Z_OK);
  }
  ~ZlibCompressor() { deflateEnd(&z); }
  Bytes message(const Bytes& m) {
    Bytes out(m.size() + m.size() / 2 + 64);
    z.next_in = const_cast<uint8_t*>(m.data());
    z.avail_in = static_cast<uInt>(m.size());
    z.next_out = out.data();
    z.avail_out = static_cast<uInt>(out.size());
    REQUIRE(deflate(&z, Z_SYNC_FLUSH) == Z_OK);
    REQUIRE(z.avail_out > 0);
    out.resize(out.size() - z.avail_out);
    REQUIRE(out.size() >= 4);
    out.resize(out.size() - 4);  // the 00 00 ff ff tail
    if (reset_each_message) deflateReset(&z);
    return out;
  }
};

// The other independent peer: zlib inflate, one stream for a sequence of messages. With
// strict, output space is one byte per call, which makes zlib check every distance against
// the bytes its window really holds (its fast path does not).
struct ZlibInflater {
  z_stream z{};
  explicit ZlibInflater(int bits) { REQUIRE(inflateInit2(&z, -bits) == Z_OK); }
  ~ZlibInflater() { inflateEnd(&z); }
  bool message(const Bytes& payload, Bytes* msg, bool strict = false) {
    Bytes in = payload;
    in.insert(in.end(), {0x00, 0x00, 0xff, 0xff});
    z.next_in = in.data();
    z.avail_in = static_cast<uInt>(in.size());
    msg->clear();
    uint8_t buf[4096];
    for (;;) {
      z.next_out = buf;
      z.avail_out = strict ? 1 : sizeof buf;
      int rc = inflate(&z, Z_SYNC_FLUSH);
      size_t got = (strict ? 1 : sizeof buf) - z.avail_out;
      msg->insert(msg->end(), buf, buf + got);
      if (rc != Z_OK && rc != Z_BUF_ERROR) return false;
      if (z.avail_in == 0 && z.avail_out != 0) return true;
    }
  }
};

}  // namespace

TEST_CASE("RFC 7692 §7.2.3 examples decode") {
  struct Row {
    std::string name;
    Bytes payload;
  };
  const Row rows[] = {
      {"7.2.3.1 one compressed block", {0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00}},
      {"7.2.3.3 a stored block", {0x00, 0x05, 0x00, 0xfa, 0xff, 'H', 'e', 'l', 'l', 'o', 0x00}},
      {"7.2.3.4 BFINAL set", {0xf3, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00, 0x00}},
      {"7.2.3.5 two blocks",
       {0xf2, 0x48, 0x05, 0x00, 0x00, 0x00, 0xff, 0xff, 0xca, 0xc9, 0xc9, 0x07, 0x00}},
  };
  for (const Row& row : rows) {
    CAPTURE(row.name);
    for (size_t step : {size_t{0}, size_t{1}}) {
      MessageInflater in;
      Bytes msg;
      CHECK(inflate(in, row.payload, &msg, step) == InflateStatus::kOk);
      CHECK(msg == bytes("Hello"));
      // The same inflater takes the next message (the stream was left in a clean state).
      CHECK(inflate(in, {0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00}, &msg) == InflateStatus::kOk);
      CHECK(msg == bytes("Hello"));
    }
  }
}

TEST_CASE("RFC 7692 §7.2.3.1/§7.2.3.2: Hello, then Hello sharing the window") {
  MessageDeflater d;
  CHECK(compress(d, bytes("Hello")) == Bytes{0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00});
  CHECK(compress(d, bytes("Hello")) == Bytes{0xf2, 0x00, 0x11, 0x00, 0x00});
  MessageInflater in;
  Bytes msg;
  REQUIRE(inflate(in, {0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00}, &msg) == InflateStatus::kOk);
  REQUIRE(inflate(in, {0xf2, 0x00, 0x11, 0x00, 0x00}, &msg) == InflateStatus::kOk);
  CHECK(msg == bytes("Hello"));
  // Without the first message the back-reference points before the window: corrupt.
  MessageInflater fresh;
  CHECK(inflate(fresh, {0xf2, 0x00, 0x11, 0x00, 0x00}, &msg) == InflateStatus::kCorrupt);
}

TEST_CASE("a BFINAL message keeps the window for the next one when context is taken over") {
  MessageInflater in;
  Bytes msg;
  REQUIRE(inflate(in, {0xf3, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00, 0x00}, &msg) ==
          InflateStatus::kOk);
  CHECK(inflate(in, {0xf2, 0x00, 0x11, 0x00, 0x00}, &msg) == InflateStatus::kOk);
  CHECK(msg == bytes("Hello"));
}

TEST_CASE("empty messages (RFC 7692 §7.2.3.6)") {
  MessageDeflater d;
  CHECK(compress(d, {}) == Bytes{0x00});
  CHECK(compress(d, bytes("abc")).size() > 1);
  CHECK(compress(d, {}) == Bytes{0x00});  // also right after a sync flush
  MessageInflater in;
  Bytes msg = bytes("x");
  CHECK(inflate(in, {0x00}, &msg) == InflateStatus::kOk);
  CHECK(msg.empty());
  // A zero-length compressed payload is accepted as the empty message too.
  Buffer out;
  CHECK(in.finish(out, kNoLimit) == InflateStatus::kOk);
  CHECK(out.empty());
  CHECK(inflate(in, {0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00}, &msg) == InflateStatus::kOk);
  CHECK(msg == bytes("Hello"));
}

TEST_CASE("Python zlib fixture: two JSON ticks sharing the window") {
  auto hex = [](const char* h) {
    Bytes v;
    for (; h[0] && h[1]; h += 2)
      v.push_back(static_cast<uint8_t>(std::stoi(std::string(h, 2), nullptr, 16)));
    return v;
  };
  // zlib.compressobj(6, DEFLATED, -15); compress(m) + flush(Z_SYNC_FLUSH), tail removed.
  const Bytes p1 =
      hex("aa562aa92c4855b2522ac94cce56d2512aaecc4dcacf01f2c3835d81dc82a2cc64a0aca181a19e91295036b5"
          "10c8a90500");
  const Bytes p2 = hex("aa265a93a9015493512d00");
  MessageInflater in;
  Bytes msg;
  REQUIRE(inflate(in, p1, &msg) == InflateStatus::kOk);
  CHECK(msg == bytes(R"({"type":"tick","symbol":"WSE","price":101.25,"seq":1})"));
  REQUIRE(inflate(in, p2, &msg, 1) == InflateStatus::kOk);
  CHECK(msg == bytes(R"({"type":"tick","symbol":"WSE","price":101.50,"seq":2})"));
}

TEST_CASE("round trips: sizes x data x context takeover, against zlib as well") {
  const size_t sizes[] = {0, 1, 100, 1024, 65536, 1 << 20};
  for (bool nct : {false, true}) {
    for (bool random : {false, true}) {
      MessageDeflater d({15, 8, 6, nct});
      MessageInflater in({15, nct});
      ZlibInflater peer_in(15);
      ZlibCompressor peer_out(15, nct);
      MessageInflater in_from_peer({15, nct});
      for (size_t n : sizes) {
        CAPTURE(n);
        CAPTURE(nct);
        CAPTURE(random);
        const Bytes m = random ? random_bytes(n, static_cast<uint32_t>(n)) : text(n);
        const Bytes payload = compress(d, m);
        Bytes got;
        REQUIRE(inflate(in, payload, &got) == InflateStatus::kOk);
        CHECK(got == m);
        REQUIRE(peer_in.message(payload, &got));
        CHECK(got == m);
        REQUIRE(inflate(in_from_peer, peer_out.message(m), &got) == InflateStatus::kOk);
        CHECK(got == m);
      }
    }
  }
}

TEST_CASE("context takeover shrinks a repeated message; no takeover keeps it independent") {
  const Bytes m = text(2000, 7);
  MessageDeflater keep;
  const Bytes k1 = compress(keep, m);
  const Bytes k2 = compress(keep, m);
  CHECK(k2.size() * 10 < k1.size());

  MessageDeflater reset({15, 8, 6, true});
  const Bytes r1 = compress(reset, m);
  const Bytes r2 = compress(reset, m);
  CHECK(r1 == r2);
  CHECK(r1 == k1);
  MessageInflater fresh({15, true});
  Bytes got;
  REQUIRE(inflate(fresh, r2, &got) == InflateStatus::kOk);  // message 2 alone
  CHECK(got == m);
  MessageInflater fresh_keep;
  CHECK(inflate(fresh_keep, k2, &got) == InflateStatus::kCorrupt);  // needs message 1
}

TEST_CASE("every window size, both sides, checked by a strict 2^bits-byte window") {
  for (int bits = 8; bits <= 15; ++bits) {
    CAPTURE(bits);
    MessageDeflater d({bits, 8, 6, false});
    MessageInflater in({bits, false});
    ZlibInflater strict(bits);
    // Repeats at every distance from 1 to twice the window, across message boundaries.
    const Bytes r = random_bytes(size_t{3} << bits, static_cast<uint32_t>(bits));
    for (size_t msg_no = 0; msg_no < 4; ++msg_no) {
      Bytes m(r.begin() + static_cast<long>((msg_no % 2) * r.size() / 3), r.end());
      m.insert(m.end(), r.begin(), r.begin() + 300);
      const Bytes payload = compress(d, m);
      Bytes got;
      REQUIRE(inflate(in, payload, &got) == InflateStatus::kOk);
      CHECK(got == m);
      REQUIRE(strict.message(payload, &got, true));
      CHECK(got == m);
    }
  }
}

TEST_CASE("window 8 is compressed with zlib's 9, whose distances fit 256 bytes") {
  // Negative control first: a 15-bit stream really does fail the strict 8-bit check.
  const Bytes r = random_bytes(1000, 99);
  MessageDeflater wide({15, 8, 6, false});
  ZlibInflater strict_a(8);
  Bytes got;
  REQUIRE(strict_a.message(compress(wide, r), &got, true));
  CHECK_FALSE(strict_a.message(compress(wide, r), &got, true));  // distance 1000 > 256
  // Window 8: text with repeats at distances 1..600, in many messages.
  MessageDeflater narrow({8, 8, 9, false});
  ZlibInflater strict_b(8);
  for (uint32_t seed = 0; seed < 20; ++seed) {
    Bytes m = random_bytes(600, seed);
    const Bytes again(m.begin(), m.end());
    m.insert(m.end(), again.begin(), again.end());
    REQUIRE(strict_b.message(compress(narrow, m), &got, true));
    CHECK(got == m);
  }
}

TEST_CASE("fragments fed one byte at a time") {
  MessageDeflater d;
  MessageInflater in;
  for (size_t n : {size_t{1}, size_t{777}, size_t{40000}}) {
    const Bytes m = text(n, static_cast<uint32_t>(n));
    Bytes got;
    REQUIRE(inflate(in, compress(d, m), &got, 1) == InflateStatus::kOk);
    CHECK(got == m);
  }
}

TEST_CASE("the limit is on the inflated size, exact at the boundary") {
  const Bytes m = text(100000, 3);
  MessageDeflater d({15, 8, 6, true});
  const Bytes payload = compress(d, m);
  for (size_t step : {size_t{0}, size_t{1}, size_t{1000}}) {
    CAPTURE(step);
    MessageInflater a({15, true});
    Bytes got;
    CHECK(inflate(a, payload, &got, step, m.size()) == InflateStatus::kOk);
    CHECK(got == m);
    MessageInflater b({15, true});
    CHECK(inflate(b, payload, &got, step, m.size() - 1) == InflateStatus::kTooBig);
    // The status is sticky: the object is spent.
    Buffer out;
    CHECK(b.feed(payload, out, kNoLimit) == InflateStatus::kTooBig);
    CHECK(b.finish(out, kNoLimit) == InflateStatus::kTooBig);
  }
}

TEST_CASE("zip bomb: 100 MiB of zeros refused under a 1 MiB limit with bounded memory") {
  ZlibCompressor z(15);
  Bytes zeros(1 << 20, 0);
  z.z.next_in = zeros.data();
  Bytes bomb(1 << 20);
  z.z.next_out = bomb.data();
  z.z.avail_out = static_cast<uInt>(bomb.size());
  for (int i = 0; i < 100; ++i) {
    z.z.next_in = zeros.data();
    z.z.avail_in = static_cast<uInt>(zeros.size());
    REQUIRE(deflate(&z.z, i == 99 ? Z_SYNC_FLUSH : Z_NO_FLUSH) == Z_OK);
  }
  bomb.resize(bomb.size() - z.z.avail_out - 4);
  CHECK(bomb.size() < 200 * 1024);
  const size_t limit = 1 << 20;
  for (size_t step : {size_t{0}, size_t{4096}}) {
    MessageInflater in;
    Buffer out;
    InflateStatus st = InflateStatus::kOk;
    for (size_t off = 0; off < bomb.size() && st == InflateStatus::kOk; off += step) {
      const size_t n = step == 0 ? bomb.size() : std::min(step, bomb.size() - off);
      st = in.feed({bomb.data() + off, n}, out, limit);
      if (step == 0) break;
    }
    CHECK(st == InflateStatus::kTooBig);
    CHECK(out.readable() <= limit);
    CHECK(out.capacity() <= limit + MessageInflater::kChunk);
  }
}

TEST_CASE("corrupt input: reserved block type, truncation, garbage, bit flips; never a crash") {
  Bytes got;
  {
    MessageInflater in;  // BTYPE 11 is reserved (RFC 1951 §3.2.3)
    CHECK(inflate(in, {0x06, 0x00}, &got) == InflateStatus::kCorrupt);
  }
  {
    MessageInflater in;  // a stored block whose NLEN is not ~LEN
    CHECK(inflate(in, {0x00, 0x05, 0x00, 0x00, 0x00, 'H'}, &got) == InflateStatus::kCorrupt);
  }
  {
    MessageInflater in;  // an unstripped tail: the appended one is then half a block
    CHECK(inflate(in, {0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00, 0x00, 0x00, 0xff, 0xff}, &got) ==
          InflateStatus::kCorrupt);
  }
  const Bytes m = text(20000, 5);
  MessageDeflater d;
  const Bytes payload = compress(d, m);
  size_t corrupt = 0;
  for (size_t cut = 1; cut < payload.size(); ++cut) {  // every truncated prefix
    MessageInflater in;
    InflateStatus st =
        inflate(in, Bytes(payload.begin(), payload.begin() + static_cast<long>(cut)), &got);
    CHECK((st == InflateStatus::kCorrupt || got != m));
    corrupt += st == InflateStatus::kCorrupt;
  }
  CHECK(corrupt * 10 >= (payload.size() - 1) * 9);
  size_t flips_failed = 0;
  for (size_t bit = 0; bit < payload.size() * 8; bit += 3) {  // bit flips
    Bytes bad = payload;
    bad[bit / 8] ^= static_cast<uint8_t>(1u << (bit % 8));
    MessageInflater in;
    InflateStatus st = inflate(in, bad, &got, 0, 4 * m.size());
    flips_failed += st != InflateStatus::kOk || got != m;
  }
  CHECK(flips_failed > payload.size() * 8 / 3 / 2);
  size_t garbage_corrupt = 0;
  for (uint32_t seed = 0; seed < 200; ++seed) {  // random garbage
    MessageInflater in;
    InflateStatus st = inflate(in, random_bytes(1 + seed * 7, seed), &got, 0, 1 << 20);
    garbage_corrupt += st == InflateStatus::kCorrupt;
  }
  CHECK(garbage_corrupt >= 190);
}

TEST_CASE("memory: lazily created, measured, released without context takeover") {
  const size_t before = wsedge::ws::zlib_memory_in_use();
  MessageDeflater keep;
  MessageInflater keep_in;
  CHECK(keep.memory() == 0);
  CHECK(keep_in.memory() == 0);
  Bytes got;
  REQUIRE(inflate(keep_in, compress(keep, text(5000)), &got) == InflateStatus::kOk);
  CHECK(keep.memory() > 200 * 1024);    // window 15, memLevel 8: ~256 KiB plus state
  CHECK(keep_in.memory() > 32 * 1024);  // the 32 KiB window plus state
  CHECK(wsedge::ws::zlib_memory_in_use() >= before + keep.memory() + keep_in.memory() - 256);
  keep.release();  // a no-op: the peer relies on the window
  keep_in.release();
  CHECK(keep.memory() > 0);
  CHECK(keep_in.memory() > 0);

  MessageDeflater drop({15, 8, 6, true});
  MessageInflater drop_in({15, true});
  REQUIRE(inflate(drop_in, compress(drop, text(5000)), &got) == InflateStatus::kOk);
  CHECK(drop.memory() > 0);      // reset and kept: freeing it per message can be 50x slower
  CHECK(drop_in.memory() == 0);  // inflater: freed after each message
  drop.release();
  CHECK(drop.memory() == 0);
  const Bytes m = text(3000);
  const Bytes after_release = compress(drop, m);  // a fresh stream: same bytes as ever
  CHECK(after_release == compress(drop, m));

  MessageDeflater small({9, 1, 6, false});
  compress(small, text(5000));
  CHECK(small.memory() < keep.memory() / 8);
}
