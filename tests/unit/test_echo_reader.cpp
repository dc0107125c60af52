// bench/load/echo_reader.h: wsload's verification of the server's byte stream. Every row is a
// stream of server frames and the reports it must give (echoes, pings, closes, the first
// failure and its words), read whole, split in two at every offset, and byte by byte: the
// reports must not depend on how the reads cut the stream.
#include <doctest/doctest.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include "bench/load/echo_reader.h"
#include "bench/load/frame_pool.h"
#include "core/buffer.h"
#include "ws/deflate.h"
#include "ws/frame.h"

using namespace wsedge;        // NOLINT(google-build-using-namespace): test file
using namespace wsedge::load;  // NOLINT(google-build-using-namespace): test file

namespace {

// Records what the reader reports, one line each.
struct Sink {
  std::vector<std::string> log;
  bool alive = true;
  bool on_echo() {
    log.emplace_back("echo");
    return true;
  }
  void on_deflate_echo(bool compressed, uint64_t wire) {
    log.push_back("deflate " + std::to_string(compressed) + " " + std::to_string(wire));
  }
  bool on_ping(const uint8_t* data, size_t n) {
    log.push_back("ping " + std::string(reinterpret_cast<const char*>(data), n));
    return true;
  }
  bool on_close(uint16_t code) {
    log.push_back("close " + std::to_string(code));
    return true;
  }
  void fail(ErrorKind kind, const char* fmt, long long a = 0, long long b = 0) {
    char line[256];
    std::snprintf(line, sizeof line, fmt, a, b);  // NOLINT: the reader's own formats
    log.push_back(std::string("fail ") + error_kind_name(kind) + ": " + line);
  }
};

std::string frame(ws::Opcode op, std::span<const uint8_t> payload, bool fin = true,
                  bool rsv1 = false, const ws::MaskKey* key = nullptr) {
  Buffer b;
  ws::encode_frame(b, op, payload, fin, rsv1, key);
  return {reinterpret_cast<const char*>(b.data()), b.readable()};
}
std::string frame(ws::Opcode op, const std::string& payload, bool fin = true) {
  return frame(op, {reinterpret_cast<const uint8_t*>(payload.data()), payload.size()}, fin);
}

struct Setup {
  bool binary = false;
  bool raw = false;
  bool deflate = false;
};

// Feeds `wire` in the given cuts (offsets where a read ends) to a fresh reader.
std::vector<std::string> run(const FramePool& pool, const Setup& s, const std::string& wire,
                             const std::vector<size_t>& cuts) {
  ws::MessageInflater inflater;
  Buffer scratch;
  EchoReader reader;
  reader.reset(&pool, 0, s.raw, s.binary, s.deflate ? &inflater : nullptr,
               s.deflate ? &scratch : nullptr);
  Sink sink;
  std::vector<uint8_t> bytes(wire.begin(), wire.end());
  size_t from = 0;
  std::vector<size_t> ends = cuts;
  ends.push_back(bytes.size());
  for (size_t end : ends) {
    end = std::min(end, bytes.size());
    if (end < from) continue;
    if (!reader.feed(bytes.data() + from, end - from, sink)) break;
    from = end;
  }
  return sink.log;
}

std::string lines(const std::vector<std::string>& log) {
  std::string s;
  for (const std::string& l : log)
    s += l + "\n";
  return s;
}

void check_every_cut(const FramePool& pool, const Setup& s, const std::string& wire,
                     const std::vector<std::string>& want) {
  CHECK(lines(run(pool, s, wire, {})) == lines(want));
  for (size_t cut = 1; cut < wire.size(); ++cut) {
    CAPTURE(cut);
    REQUIRE(lines(run(pool, s, wire, {cut})) == lines(want));
  }
  std::vector<size_t> bytewise;
  for (size_t i = 1; i < wire.size(); ++i)
    bytewise.push_back(i);
  CHECK(lines(run(pool, s, wire, bytewise)) == lines(want));
}

std::span<const uint8_t> payload(const FramePool& pool, size_t v) {
  return {pool.payload(v), pool.size()};
}

std::string text(const FramePool& pool, size_t v) {
  return {reinterpret_cast<const char*>(pool.payload(v)), pool.size()};
}

}  // namespace

TEST_CASE("EchoReader: echoes, fragments, pings and closes, cut anywhere") {
  Rng rng(7);
  const FramePool pool(20, false, rng);
  const std::string a = text(pool, 0), b = text(pool, 1), c = text(pool, 2);
  struct Row {
    const char* name;
    std::string wire;
    std::vector<std::string> want;
  };
  const std::vector<Row> rows = {
      {"three echoes in a row",
       frame(ws::Opcode::kText, a) + frame(ws::Opcode::kText, b) + frame(ws::Opcode::kText, c),
       {"echo", "echo", "echo"}},
      {"RFC 6455 §5.4: a fragmented echo with a ping between its fragments",
       frame(ws::Opcode::kText, a.substr(0, 7), false) + frame(ws::Opcode::kPing, "hi") +
           frame(ws::Opcode::kContinuation, std::string(), false) +
           frame(ws::Opcode::kContinuation, a.substr(7)) + frame(ws::Opcode::kText, b),
       {"ping hi", "echo", "echo"}},
      {"a pong is ignored, a close reports its code",
       frame(ws::Opcode::kText, a) + frame(ws::Opcode::kPong, "x") +
           frame(ws::Opcode::kClose, std::string("\x03\xe8"
                                                 "bye",
                                                 5)),
       {"echo", "close 1000"}},
      {"RFC 6455 §5.5.1: an empty close is 1005", frame(ws::Opcode::kClose, ""), {"close 1005"}},
      {"one flipped byte",
       frame(ws::Opcode::kText, a) + frame(ws::Opcode::kText, "!" + b.substr(1)),
       {"echo", "fail mismatch: echo differs at byte 0 of message (got 0x21)"}},
      {"an echo of the wrong variant",
       frame(ws::Opcode::kText, b),
       {"fail mismatch: echo differs at byte 0 of message (got 0x" +
        [&] {
          char h[8];
          std::snprintf(h, sizeof h, "%02x", static_cast<unsigned>(static_cast<uint8_t>(b[0])));
          return std::string(h);
        }() +
        ")"}},
      {"an echo longer than sent fails from its header",
       frame(ws::Opcode::kText, a.substr(0, 10), false) +
           frame(ws::Opcode::kContinuation, a.substr(10) + "xy"),
       {"fail mismatch: echo longer than sent (22 > 20 bytes)"}},
      {"an echo shorter than sent",
       frame(ws::Opcode::kText, a.substr(0, 19)),
       {"fail mismatch: echo shorter than sent (19 < 20 bytes)"}},
      {"the wrong opcode",
       frame(ws::Opcode::kBinary, a),
       {"fail mismatch: echo has opcode 2, sent 1"}},
  };
  for (const Row& row : rows) {
    const std::string name = row.name;
    CAPTURE(name);
    check_every_cut(pool, {}, row.wire, row.want);
  }
}

TEST_CASE("EchoReader: protocol errors by server frames, each with the rule's words") {
  Rng rng(8);
  const FramePool pool(4, false, rng);
  const std::string a = text(pool, 0);
  const ws::MaskKey key{1, 2, 3, 4};
  const auto bytes = [](const std::string& s) {
    return std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(s.data()), s.size());
  };
  struct Row {
    const char* name;
    std::string wire;
    std::string want;  // the failure line
  };
  const std::vector<Row> rows = {
      {"RFC 6455 §5.1: a masked server frame",
       frame(ws::Opcode::kText, bytes(a), true, false, &key),
       std::string("fail protocol: ") + ws::describe(ws::WsError::kMaskedFrame)},
      {"RFC 6455 §5.2: a reserved opcode", std::string("\x83\x00", 2),
       std::string("fail protocol: ") + ws::describe(ws::WsError::kReservedOpcode)},
      {"RFC 6455 §5.2: RSV1 with no extension agreed",
       frame(ws::Opcode::kText, bytes(a), true, true),
       std::string("fail protocol: ") + ws::describe(ws::WsError::kReservedBits)},
      {"RFC 6455 §5.4: a continuation with no message open", frame(ws::Opcode::kContinuation, a),
       std::string("fail protocol: ") + ws::describe(ws::WsError::kUnexpectedContinuation)},
      {"RFC 6455 §5.4: a new message inside a fragmented one",
       frame(ws::Opcode::kText, a.substr(0, 2), false) + frame(ws::Opcode::kText, a),
       std::string("fail protocol: ") + ws::describe(ws::WsError::kExpectedContinuation)},
      {"RFC 6455 §5.5: a fragmented ping", std::string("\x09\x00", 2),
       std::string("fail protocol: ") + ws::describe(ws::WsError::kControlFragmented)},
      {"RFC 6455 §5.5.1: a close payload of one byte", frame(ws::Opcode::kClose, "\x03"),
       std::string("fail protocol: ") + ws::describe(ws::WsError::kBadClosePayload)},
      {"RFC 6455 §7.4.1: a close code that is not for the wire",
       frame(ws::Opcode::kClose, std::string("\x03\xed", 2)),
       std::string("fail protocol: ") + ws::describe(ws::WsError::kBadCloseCode)},
      {"RFC 6455 §8.1: text that is not UTF-8 is not what was sent, and says where",
       frame(ws::Opcode::kText, a.substr(0, 2) + std::string("\xff\xfe", 2)),
       "fail mismatch: echo differs at byte 2 of message (got 0xff)"},
  };
  for (const Row& row : rows) {
    const std::string name = row.name;
    CAPTURE(name);
    check_every_cut(pool, {}, row.wire, {row.want});
  }
}

TEST_CASE("EchoReader: a large binary echo is verified in pieces, with no buffer") {
  Rng rng(9);
  const FramePool pool(200'000, true, rng);
  const std::string wire = frame(ws::Opcode::kBinary, payload(pool, 0)) +
                           frame(ws::Opcode::kBinary, payload(pool, 1), false) +
                           frame(ws::Opcode::kPing, "p") +
                           frame(ws::Opcode::kContinuation, std::span<const uint8_t>{});
  // The second message's last frame is empty, so the message ends one frame late: still
  // whole. (Cut at a few thousand places: every offset of 400 KB would be slow.)
  const std::vector<std::string> want = {"echo", "ping p", "echo"};
  CHECK(run(pool, {.binary = true}, wire, {}) == want);
  for (size_t cut = 1; cut < wire.size(); cut += 997) {
    CAPTURE(cut);
    REQUIRE(run(pool, {.binary = true}, wire, {cut, cut + 5, cut + 64 * 1024}) == want);
  }
  std::string flipped = wire;
  flipped[10 + 150'000] ^= 0x40;  // 10 header bytes, then message 0's byte 150000
  char line[128];
  std::snprintf(line, sizeof line,
                "fail mismatch: echo differs at byte 150000 of message (got 0x%02x)",
                static_cast<unsigned>(static_cast<uint8_t>(flipped[10 + 150'000])));
  CHECK(run(pool, {.binary = true}, flipped, {4096, 150'005}) == std::vector<std::string>{line});
}

TEST_CASE("EchoReader: raw mode wants the sent frame bytes back verbatim") {
  Rng rng(10);
  const FramePool pool(16, false, rng);
  const std::string wire(reinterpret_cast<const char*>(pool.frame(0)), 2 * pool.frame_len());
  check_every_cut(pool, {.raw = true}, wire, {"echo", "echo"});
  std::string bad = wire;
  bad[3] ^= 1;
  CHECK(run(pool, {.raw = true}, bad, {})[0].rfind("fail mismatch: echo differs at byte 3", 0) ==
        0);
}

TEST_CASE("EchoReader: RFC 7692 compressed echoes are inflated and compared as they arrive") {
  Rng rng(11);
  const FramePool pool(300, false, rng);
  ws::MessageDeflater deflater;
  Buffer z0, z1;
  REQUIRE(deflater.compress(payload(pool, 0), z0).ok());
  REQUIRE(deflater.compress(payload(pool, 1), z1).ok());
  const std::string w0 = frame(ws::Opcode::kText, z0.view(), true, true);
  // RFC 7692 §6.1: RSV1 on the first frame of a fragmented message only.
  const size_t half = z1.readable() / 2;
  const std::string w1 = frame(ws::Opcode::kText, z1.view().first(half), false, true) +
                         frame(ws::Opcode::kPing, "") +
                         frame(ws::Opcode::kContinuation, z1.view().subspan(half));
  // An uncompressed echo (a server under its min size) is verified as a plain one.
  const std::string w2 = frame(ws::Opcode::kText, text(pool, 2));
  const std::string wire = w0 + w1 + w2;
  check_every_cut(pool, {.deflate = true}, wire,
                  {"deflate 1 " + std::to_string(z0.readable()), "echo", "ping ",
                   "deflate 1 " + std::to_string(z1.readable()), "echo", "deflate 0 300", "echo"});
  SUBCASE("RSV1 on a continuation") {
    const std::string bad = frame(ws::Opcode::kText, z0.view().first(3), false, true) +
                            frame(ws::Opcode::kContinuation, z0.view().subspan(3), true, true);
    CHECK(run(pool, {.deflate = true}, bad, {}) ==
          std::vector<std::string>{std::string("fail protocol: ") +
                                   ws::describe(ws::WsError::kCompressedContinuation)});
  }
  SUBCASE("corrupt compressed data") {
    const uint8_t junk[] = {0xff, 0xff, 0xff, 0xff};
    CHECK(run(pool, {.deflate = true}, frame(ws::Opcode::kText, junk, true, true), {}) ==
          std::vector<std::string>{
              "fail protocol: compressed echo does not inflate (RFC 7692 §7.2.2)"});
  }
}
