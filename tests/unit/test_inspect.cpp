// ws/inspect: frames (each length form, masked and not, control frames, close with and without
// a reason, invalid UTF-8, fragments, compression, /raw-style illegal headers), the handshake
// lines (head, accept key, negotiation) and the protocol-error line, as exact text.
#include <doctest/doctest.h>

#include <cstdint>
#include <string>
#include <vector>

#include "ws/inspect.h"

using namespace wsedge::ws;           // NOLINT(google-build-using-namespace): test file
using namespace wsedge::ws::inspect;  // NOLINT(google-build-using-namespace): test file
using Bytes = std::vector<uint8_t>;

namespace {

constexpr Prefix kIn{"c1", Flow::kClientToServer};
constexpr Prefix kOut{"c1", Flow::kServerToClient};

Bytes bytes_of(std::string_view s) {
  return Bytes(s.begin(), s.end());
}
Bytes cat(Bytes a, const Bytes& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}
Bytes counting(size_t n) {
  Bytes b(n);
  for (size_t i = 0; i < n; ++i)
    b[i] = static_cast<uint8_t>(i);
  return b;
}

struct FrameRow {
  const char* name;
  Prefix prefix;
  Bytes frame;
  FrameNotes notes;
  std::string expected;
};

FrameNotes whole(uint64_t n, bool text = false) {
  FrameNotes f;
  f.message = n;
  f.text = text;
  return f;
}
FrameNotes at(Position pos, uint64_t n, bool text) {
  FrameNotes f;
  f.position = pos;
  f.message = n;
  f.text = text;
  return f;
}
FrameNotes control(uint64_t inside = 0) {
  return at(Position::kControl, inside, false);
}

const std::string kCounting32 =
    "00 01 02 03 04 05 06 07 08 09 0a 0b 0c 0d 0e 0f 10 11 12 13 14 15 16 17 18 19 1a 1b 1c 1d "
    "1e 1f";

std::vector<FrameRow> frame_rows() {
  std::vector<FrameRow> rows;
  rows.push_back({"unmasked text, 7-bit length",
                  kOut,
                  {0x81, 0x05, 'H', 'e', 'l', 'l', 'o'},
                  whole(1),
                  "c1 < frame FIN=1 RSV1=0 RSV2=0 RSV3=0 opcode=0x1 (text) MASK=0 length=5 "
                  "(7-bit field)\n"
                  "c1 <   payload: \"Hello\"\n"
                  "c1 <   message 1: whole (one frame)\n"});
  // RFC 6455 §5.7's own example of a masked "Hello".
  rows.push_back({"masked text (RFC 6455 §5.7)",
                  kIn,
                  {0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58},
                  whole(7),
                  "c1 > frame FIN=1 RSV1=0 RSV2=0 RSV3=0 opcode=0x1 (text) MASK=1 length=5 "
                  "(7-bit field)\n"
                  "c1 >   masking key: 37 fa 21 3d\n"
                  "c1 >   payload masked:   7f 9f 4d 51 58\n"
                  "c1 >   payload unmasked: \"Hello\"\n"
                  "c1 >   message 7: whole (one frame)\n"});
  rows.push_back({"binary, 7+16-bit length, preview cut at 32 bytes", kOut,
                  cat({0x82, 0x7E, 0x01, 0x00}, counting(256)), whole(2),
                  ("c1 < frame FIN=1 RSV1=0 RSV2=0 RSV3=0 opcode=0x2 (binary) MASK=0 length=256 "
                   "(7+16 bits: 126, then 2 bytes)\n"
                   "c1 <   payload: " +
                   kCounting32 +
                   " ... (first 32 of 256 bytes)\n"
                   "c1 <   message 2: whole (one frame)\n")});
  rows.push_back({"binary, 7+64-bit length, only the start of the payload given", kOut,
                  cat({0x82, 0x7F, 0, 0, 0, 0, 0, 1, 0, 0}, counting(40)), whole(3),
                  ("c1 < frame FIN=1 RSV1=0 RSV2=0 RSV3=0 opcode=0x2 (binary) MASK=0 "
                   "length=65536 (7+64 bits: 127, then 8 bytes)\n"
                   "c1 <   payload: " +
                   kCounting32 +
                   " ... (first 32 of 65536 bytes)\n"
                   "c1 <   message 3: whole (one frame)\n")});
  rows.push_back({"non-minimal 16-bit length is named", kIn,
                  cat({0x81, 0xFE, 0x00, 0x02, 0, 0, 0, 0}, bytes_of("ok")), whole(1),
                  "c1 > frame FIN=1 RSV1=0 RSV2=0 RSV3=0 opcode=0x1 (text) MASK=1 length=2 "
                  "(7+16 bits: 126, then 2 bytes) not minimal\n"
                  "c1 >   masking key: 00 00 00 00\n"
                  "c1 >   payload masked:   6f 6b\n"
                  "c1 >   payload unmasked: \"ok\"\n"
                  "c1 >   message 1: whole (one frame)\n"});
  rows.push_back({"64-bit length with the top bit set",
                  kOut,
                  {0x82, 0x7F, 0x80, 0, 0, 0, 0, 0, 0, 0},
                  whole(1),
                  "c1 < frame FIN=1 RSV1=0 RSV2=0 RSV3=0 opcode=0x2 (binary) MASK=0 "
                  "length=9223372036854775808 (7+64 bits: 127, then 8 bytes) top bit set\n"
                  "c1 <   message 1: whole (one frame)\n"});
  rows.push_back({"masked ping with text data",
                  kIn,
                  {0x89, 0x82, 0x01, 0x02, 0x03, 0x04, 0x69, 0x6b},
                  control(),
                  "c1 > frame FIN=1 RSV1=0 RSV2=0 RSV3=0 opcode=0x9 (ping) MASK=1 length=2 "
                  "(7-bit field)\n"
                  "c1 >   masking key: 01 02 03 04\n"
                  "c1 >   payload masked:   69 6b\n"
                  "c1 >   payload unmasked: \"hi\"\n"
                  "c1 >   control frame\n"});
  rows.push_back({"pong with binary data shows hex",
                  kOut,
                  {0x8A, 0x02, 0xff, 0x00},
                  control(),
                  "c1 < frame FIN=1 RSV1=0 RSV2=0 RSV3=0 opcode=0xa (pong) MASK=0 length=2 "
                  "(7-bit field)\n"
                  "c1 <   payload: ff 00\n"
                  "c1 <   control frame\n"});
  rows.push_back({"empty pong",
                  kOut,
                  {0x8A, 0x00},
                  control(),
                  "c1 < frame FIN=1 RSV1=0 RSV2=0 RSV3=0 opcode=0xa (pong) MASK=0 length=0 "
                  "(7-bit field)\n"
                  "c1 <   control frame\n"});
  rows.push_back({"masked close with code and reason",
                  kIn,
                  {0x88, 0x85, 0x01, 0x02, 0x03, 0x04, 0x02, 0xea, 0x61, 0x7d, 0x64},
                  control(),
                  "c1 > frame FIN=1 RSV1=0 RSV2=0 RSV3=0 opcode=0x8 (close) MASK=1 length=5 "
                  "(7-bit field)\n"
                  "c1 >   masking key: 01 02 03 04\n"
                  "c1 >   close code 1000 (normal closure), reason \"bye\"\n"
                  "c1 >   control frame\n"});
  rows.push_back({"close with a code and no reason",
                  kOut,
                  {0x88, 0x02, 0x03, 0xea},
                  control(),
                  "c1 < frame FIN=1 RSV1=0 RSV2=0 RSV3=0 opcode=0x8 (close) MASK=0 length=2 "
                  "(7-bit field)\n"
                  "c1 <   close code 1002 (protocol error), no reason\n"
                  "c1 <   control frame\n"});
  rows.push_back({"empty close",
                  kOut,
                  {0x88, 0x00},
                  control(),
                  "c1 < frame FIN=1 RSV1=0 RSV2=0 RSV3=0 opcode=0x8 (close) MASK=0 length=0 "
                  "(7-bit field)\n"
                  "c1 <   close: no code (receiver reports 1005, no status received)\n"
                  "c1 <   control frame\n"});
  rows.push_back({"close of one byte",
                  kOut,
                  {0x88, 0x01, 0x03},
                  control(),
                  "c1 < frame FIN=1 RSV1=0 RSV2=0 RSV3=0 opcode=0x8 (close) MASK=0 length=1 "
                  "(7-bit field)\n"
                  "c1 <   close: 1-byte payload (a code needs 2)\n"
                  "c1 <   control frame\n"});
  rows.push_back({"close with a private code and a reason with escapes", kOut,
                  cat({0x88, 0x08, 0x0f, 0xa0}, bytes_of("a\"\\\xc3\xa9\n")), control(),
                  "c1 < frame FIN=1 RSV1=0 RSV2=0 RSV3=0 opcode=0x8 (close) MASK=0 length=8 "
                  "(7-bit field)\n"
                  "c1 <   close code 4000 (private use), reason \"a\\\"\\\\\xc3\xa9\\n\"\n"
                  "c1 <   control frame\n"});
  rows.push_back({"invalid UTF-8 in text is escaped, valid characters kept", kOut,
                  cat({0x81, 0x09}, bytes_of("a\xff"
                                             "b\xc3\xa9\xe2\x82\t\x7f")),
                  whole(4),
                  "c1 < frame FIN=1 RSV1=0 RSV2=0 RSV3=0 opcode=0x1 (text) MASK=0 length=9 "
                  "(7-bit field)\n"
                  "c1 <   payload: \"a\\xffb\xc3\xa9\\xe2\\x82\\t\\x7f\"\n"
                  "c1 <   message 4: whole (one frame)\n"});
  rows.push_back({"first fragment",
                  kIn,
                  {0x01, 0x80, 0, 0, 0, 0},
                  at(Position::kFirst, 5, true),
                  "c1 > frame FIN=0 RSV1=0 RSV2=0 RSV3=0 opcode=0x1 (text) MASK=1 length=0 "
                  "(7-bit field)\n"
                  "c1 >   masking key: 00 00 00 00\n"
                  "c1 >   message 5: first fragment\n"});
  rows.push_back({"middle fragment of a text message reads as text",
                  kOut,
                  {0x00, 0x02, 'l', 'l'},
                  at(Position::kMiddle, 5, true),
                  "c1 < frame FIN=0 RSV1=0 RSV2=0 RSV3=0 opcode=0x0 (continuation) MASK=0 "
                  "length=2 (7-bit field)\n"
                  "c1 <   payload: \"ll\"\n"
                  "c1 <   message 5: middle fragment\n"});
  rows.push_back({"ping between fragments",
                  kOut,
                  {0x89, 0x00},
                  control(5),
                  "c1 < frame FIN=1 RSV1=0 RSV2=0 RSV3=0 opcode=0x9 (ping) MASK=0 length=0 "
                  "(7-bit field)\n"
                  "c1 <   control frame, between fragments of message 5\n"});
  rows.push_back({"last fragment of a binary message reads as hex",
                  kOut,
                  {0x80, 0x02, 'l', 'l'},
                  at(Position::kLast, 6, false),
                  "c1 < frame FIN=1 RSV1=0 RSV2=0 RSV3=0 opcode=0x0 (continuation) MASK=0 "
                  "length=2 (7-bit field)\n"
                  "c1 <   payload: 6c 6c\n"
                  "c1 <   message 6: last fragment\n"});
  FrameNotes deflated = whole(8, true);
  deflated.compressed = true;
  deflated.compressed_size = 7;
  deflated.inflated_size = 5;
  rows.push_back({"compressed message shows both sizes",
                  kOut,
                  {0xC1, 0x07, 0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00},
                  deflated,
                  "c1 < frame FIN=1 RSV1=1 RSV2=0 RSV3=0 opcode=0x1 (text) MASK=0 length=7 "
                  "(7-bit field)\n"
                  "c1 <   payload: f2 48 cd c9 c9 07 00\n"
                  "c1 <   message 8: whole (one frame)\n"
                  "c1 <   permessage-deflate: 7 bytes compressed, 5 inflated\n"});
  FrameNotes deflated_first = at(Position::kFirst, 9, true);
  deflated_first.compressed = true;
  rows.push_back({"first fragment of a compressed message: hex, sizes not known yet",
                  kOut,
                  {0x41, 0x03, 0xf2, 0x48, 0xcd},
                  deflated_first,
                  "c1 < frame FIN=0 RSV1=1 RSV2=0 RSV3=0 opcode=0x1 (text) MASK=0 length=3 "
                  "(7-bit field)\n"
                  "c1 <   payload: f2 48 cd\n"
                  "c1 <   message 9: first fragment\n"});
  rows.push_back({"reserved opcode and RSV bits, as /raw sends them",
                  kIn,
                  {0x73, 0x81, 0, 0, 0, 0, 0x41},
                  whole(2),
                  "c1 > frame FIN=0 RSV1=1 RSV2=1 RSV3=1 opcode=0x3 (reserved non-control) MASK=1 "
                  "length=1 (7-bit field)\n"
                  "c1 >   masking key: 00 00 00 00\n"
                  "c1 >   payload masked:   41\n"
                  "c1 >   payload unmasked: 41\n"
                  "c1 >   message 2: whole (one frame)\n"});
  FrameNotes untracked;
  untracked.position = Position::kUntracked;
  rows.push_back({"a frame whose place is not tracked",
                  kIn,
                  {0x82, 0x80, 1, 2, 3, 4},
                  untracked,
                  "c1 > frame FIN=1 RSV1=0 RSV2=0 RSV3=0 opcode=0x2 (binary) MASK=1 length=0 "
                  "(7-bit field)\n"
                  "c1 >   masking key: 01 02 03 04\n"
                  "c1 >   position in its message not tracked\n"});
  rows.push_back({"a header cut short",
                  kOut,
                  {0x81, 0x7E, 0x01},
                  whole(1),
                  "c1 < frame header cut short: 81 7e 01\n"});
  rows.push_back({"bytes past the announced length belong to the next frame",
                  kOut,
                  {0x81, 0x01, 'a', 0x81, 0x01, 'b'},
                  whole(1),
                  "c1 < frame FIN=1 RSV1=0 RSV2=0 RSV3=0 opcode=0x1 (text) MASK=0 length=1 "
                  "(7-bit field)\n"
                  "c1 <   payload: \"a\"\n"
                  "c1 <   message 1: whole (one frame)\n"});
  return rows;
}

}  // namespace

TEST_CASE("inspect: frames field by field") {
  for (const FrameRow& row : frame_rows()) {
    CAPTURE(row.name);
    std::string out;
    format_frame(out, row.prefix, row.frame, row.notes, Detail::kSummary);
    CHECK(out == row.expected);
  }
}

TEST_CASE("inspect: the hex level adds a dump of the frame") {
  const Bytes frame = {0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58};
  std::string out;
  format_frame(out, kIn, frame, whole(1), Detail::kHex);
  CHECK(out ==
        "c1 > frame FIN=1 RSV1=0 RSV2=0 RSV3=0 opcode=0x1 (text) MASK=1 length=5 (7-bit field)\n"
        "c1 >   masking key: 37 fa 21 3d\n"
        "c1 >   payload masked:   7f 9f 4d 51 58\n"
        "c1 >   payload unmasked: \"Hello\"\n"
        "c1 >   message 1: whole (one frame)\n"
        "c1 >   0000  81 85 37 fa 21 3d 7f 9f  4d 51 58                 ..7.!=..MQX\n");
}

TEST_CASE("inspect: a long frame's dump stops at kMaxDumpBytes") {
  const Bytes frame = cat({0x82, 0x7E, 0x01, 0x2C}, counting(300));
  std::string out;
  format_frame(out, kOut, frame, whole(1), Detail::kHex);
  CHECK(out.find("c1 <   0000  82 7e 01 2c 00 01 02 03  04 05 06 07 08 09 0a 0b  .~.,"
                 "............\n") != std::string::npos);
  CHECK(out.find("c1 <   00f0  ec ed ee ef f0 f1 f2 f3  f4 f5 f6 f7 f8 f9 fa fb  "
                 "................\n") != std::string::npos);
  CHECK(out.find("c1 <   0100") == std::string::npos);
  CHECK(out.find("c1 <   ... 48 more bytes\n") != std::string::npos);
}

TEST_CASE("inspect: read_wire_header needs the whole header") {
  const Bytes h = {0x82, 0xFF, 0, 0, 0, 0, 0, 1, 0, 0, 1, 2, 3, 4};
  WireHeader w;
  for (size_t n = 0; n < h.size(); ++n)
    CHECK_FALSE(read_wire_header({h.data(), n}, &w));
  REQUIRE(read_wire_header(h, &w));
  CHECK(w.length == 65536);
  CHECK(w.length7 == 127);
  CHECK(w.masked);
  CHECK(w.mask_key == MaskKey{1, 2, 3, 4});
  CHECK(w.header_size == 14);
}

TEST_CASE("inspect: the request head, line by line") {
  std::string out;
  format_head(out, kIn,
              "GET /chat HTTP/1.1\r\nHost: 127.0.0.1:9001\r\nX-Odd: a\x01z\r\n\r\nframes");
  CHECK(out ==
        "c1 > GET /chat HTTP/1.1\n"
        "c1 > Host: 127.0.0.1:9001\n"
        "c1 > X-Odd: a\\x01z\n");
}

TEST_CASE("inspect: the accept key, step by step (RFC 6455 §1.3's example)") {
  std::string out;
  format_accept_key(out, kOut, "dGhlIHNhbXBsZSBub25jZQ==");
  CHECK(out ==
        "c1 < accept key: Sec-WebSocket-Key \"dGhlIHNhbXBsZSBub25jZQ==\"\n"
        "c1 <   + GUID \"258EAFA5-E914-47DA-95CA-C5AB0DC85B11\" (RFC 6455 §1.3)\n"
        "c1 <   SHA-1 = b37a4f2cc0624f1690f64606cf385945b2bec4ea\n"
        "c1 <   base64 = \"s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\" (Sec-WebSocket-Accept)\n");
}

TEST_CASE("inspect: negotiation outcome") {
  std::string out;
  format_negotiation(out, kOut,
                     {"chat, superchat", "chat", "permessage-deflate; client_max_window_bits",
                      "permessage-deflate"});
  format_negotiation(out, kOut, {"chat", "", "", ""});
  CHECK(out ==
        "c1 < subprotocol: offered \"chat, superchat\"; chosen \"chat\"\n"
        "c1 < extensions: offered \"permessage-deflate; client_max_window_bits\"; agreed "
        "\"permessage-deflate\"\n"
        "c1 < subprotocol: offered \"chat\"; chosen none\n"
        "c1 < extensions: none offered\n");
}

TEST_CASE("inspect: protocol error lines") {
  std::string out;
  format_protocol_error(out, kOut, WsError::kMaskedFrame, 1, 1002);
  format_protocol_error(out, kIn, WsError::kInvalidUtf8, 70, 1007);
  format_protocol_error(out, kIn, WsError::kCompressedControl, 0, 1002);
  format_protocol_error(out, kOut, WsError::kReservedOpcode, 12, 0);
  CHECK(out ==
        "c1 < protocol error: kMaskedFrame (RFC 6455 §5.1): server frame masked, at byte 1; "
        "close 1002 (protocol error) sent\n"
        "c1 > protocol error: kInvalidUtf8 (RFC 6455 §8.1): invalid UTF-8, at byte 70; close "
        "1007 (invalid payload data) sent\n"
        "c1 > protocol error: kCompressedControl (RFC 7692 §6.1): RSV1 set on a control frame, "
        "at byte 0; close 1002 (protocol error) sent\n"
        "c1 < protocol error: kReservedOpcode (RFC 6455 §5.2): reserved opcode, at byte 12; no "
        "close sent (one was already)\n");
}

TEST_CASE("inspect: every WsError has a distinct name and a section") {
  std::vector<std::string_view> seen;
  for (int i = 0; i <= static_cast<int>(WsError::kBadCompressedData); ++i) {
    const auto e = static_cast<WsError>(i);
    CAPTURE(i);
    CHECK(error_name(e).starts_with("k"));
    CHECK(error_section(e) != "unknown");
    for (std::string_view s : seen)
      CHECK(s != error_name(e));
    seen.push_back(error_name(e));
  }
  CHECK(error_name(WsError::kReservedBits) == "kReservedBits");
  CHECK(error_name(WsError::kBadCompressedData) == "kBadCompressedData");
}

TEST_CASE("inspect: close code and opcode names") {
  struct {
    uint16_t code;
    std::string_view name;
  } const codes[] = {
      {1000, "normal closure"},
      {1001, "going away"},
      {1002, "protocol error"},
      {1003, "unsupported data"},
      {1004, "reserved"},
      {1005, "no status received"},
      {1006, "abnormal closure"},
      {1007, "invalid payload data"},
      {1008, "policy violation"},
      {1009, "message too big"},
      {1010, "mandatory extension"},
      {1011, "internal error"},
      {1012, "service restart"},
      {1013, "try again later"},
      {1014, "bad gateway"},
      {1015, "TLS handshake failure"},
      {1016, "reserved for the RFCs"},
      {2999, "reserved for the RFCs"},
      {3000, "registered (libraries, frameworks)"},
      {4999, "private use"},
      {999, "not valid on the wire"},
      {5000, "not valid on the wire"},
  };
  for (const auto& c : codes) {
    CAPTURE(c.code);
    CHECK(close_code_name(c.code) == c.name);
  }
  CHECK(opcode_name(0x0) == "continuation");
  CHECK(opcode_name(0x2) == "binary");
  CHECK(opcode_name(0x7) == "reserved non-control");
  CHECK(opcode_name(0xA) == "pong");
  CHECK(opcode_name(0xB) == "reserved control");
}

TEST_CASE("inspect: escaping keeps whole characters and nothing else") {
  struct {
    const char* name;
    std::string_view in;
    std::string_view out;
  } const rows[] = {
      {"ascii", "plain text", "plain text"},
      {"two-byte character", "\xc3\xa9", "\xc3\xa9"},
      {"four-byte character", "\xf0\x9f\x98\x80", "\xf0\x9f\x98\x80"},
      {"cut character at the end", "\xf0\x9f\x98", "\\xf0\\x9f\\x98"},
      {"overlong encoding", "\xc0\xaf", "\\xc0\\xaf"},
      {"surrogate", "\xed\xa0\x80", "\\xed\\xa0\\x80"},
      {"lone continuation", "\x80x", "\\x80x"},
      {"controls", std::string_view("\0\x1b\r", 3), "\\x00\\x1b\\r"},
  };
  for (const auto& r : rows) {
    CAPTURE(r.name);
    std::string out;
    append_escaped(out, {reinterpret_cast<const uint8_t*>(r.in.data()), r.in.size()});
    CHECK(out == r.out);
  }
}
