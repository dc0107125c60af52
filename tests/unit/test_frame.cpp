// ws/frame: header decoding (RFC 6455 §5.2) whole, at every prefix, and at a PROT_NONE
// page edge; every rejection with its error, offset and close code; encoder round trips;
// frame order (§5.4, RFC 7692 §6.1); error names. Close payloads: test_close_code.cpp.
#include <doctest/doctest.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <cstring>
#include <iterator>
#include <random>
#include <string>
#include <vector>

#include "ws/frame.h"

using namespace wsedge::ws;  // NOLINT(google-build-using-namespace): test file
using Bytes = std::vector<uint8_t>;

namespace {

constexpr DecodeRules kServer{};  // client frames: masked, no extension
constexpr DecodeRules kClient{.expect_masked = false};
constexpr DecodeRules kServerDeflate{.expect_masked = true, .allow_rsv1 = true};

// Masked-frame headers below all end with this key.
#define KEY 0x11, 0x22, 0x33, 0x44

// Two pages, the second PROT_NONE: input copied flush against it faults on any over-read.
class GuardPage {
 public:
  GuardPage() {
    page_ = static_cast<size_t>(sysconf(_SC_PAGESIZE));
    void* m = mmap(nullptr, 2 * page_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    REQUIRE(m != MAP_FAILED);
    mem_ = static_cast<uint8_t*>(m);
    REQUIRE(mprotect(mem_ + page_, page_, PROT_NONE) == 0);
  }
  ~GuardPage() { munmap(mem_, 2 * page_); }
  GuardPage(const GuardPage&) = delete;
  GuardPage& operator=(const GuardPage&) = delete;
  std::span<const uint8_t> place(const uint8_t* p, size_t n) {
    uint8_t* dst = mem_ + page_ - n;
    if (n != 0) std::memcpy(dst, p, n);
    return {dst, n};
  }

 private:
  uint8_t* mem_ = nullptr;
  size_t page_ = 0;
};

struct ValidRow {
  const char* name;
  Bytes bytes;
  DecodeRules rules;
  bool fin, rsv1;
  Opcode opcode;
  bool masked;
  uint64_t length;
};

const ValidRow kValid[] = {
    {"7-bit 0, masked text", {0x81, 0x80, KEY}, kServer, true, false, Opcode::kText, true, 0},
    {"7-bit 125", {0x82, 0xFD, KEY}, kServer, true, false, Opcode::kBinary, true, 125},
    {"16-bit 126", {0x82, 0xFE, 0x00, 0x7E, KEY}, kServer, true, false, Opcode::kBinary, true, 126},
    {"16-bit 127", {0x82, 0xFE, 0x00, 0x7F, KEY}, kServer, true, false, Opcode::kBinary, true, 127},
    {"16-bit 65535",
     {0x82, 0xFE, 0xFF, 0xFF, KEY},
     kServer,
     true,
     false,
     Opcode::kBinary,
     true,
     65535},
    {"64-bit 65536",
     {0x82, 0xFF, 0, 0, 0, 0, 0, 1, 0, 0, KEY},
     kServer,
     true,
     false,
     Opcode::kBinary,
     true,
     65536},
    {"64-bit 2^63-1",
     {0x82, 0xFF, 0x7F, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, KEY},
     kServer,
     true,
     false,
     Opcode::kBinary,
     true,
     0x7FFFFFFFFFFFFFFFull},
    {"unmasked server frame, client side",
     {0x81, 0x05},
     kClient,
     true,
     false,
     Opcode::kText,
     false,
     5},
    {"unmasked 64-bit, client side",
     {0x82, 0x7F, 0, 0, 0, 1, 0, 0, 0, 0},
     kClient,
     true,
     false,
     Opcode::kBinary,
     false,
     1ull << 32},
    {"text fin=0", {0x01, 0x83, KEY}, kServer, false, false, Opcode::kText, true, 3},
    {"continuation fin=1", {0x80, 0x83, KEY}, kServer, true, false, Opcode::kContinuation, true, 3},
    {"ping 125", {0x89, 0xFD, KEY}, kServer, true, false, Opcode::kPing, true, 125},
    {"pong 0", {0x8A, 0x80, KEY}, kServer, true, false, Opcode::kPong, true, 0},
    {"close 2", {0x88, 0x82, KEY}, kServer, true, false, Opcode::kClose, true, 2},
    {"RSV1 with permessage-deflate",
     {0xC1, 0x85, KEY},
     kServerDeflate,
     true,
     true,
     Opcode::kText,
     true,
     5},
};

TEST_CASE("decode_header: every header form, whole, with payload after it, at a page edge") {
  GuardPage guard;
  for (const ValidRow& row : kValid) {
    CAPTURE(row.name);
    for (bool with_payload : {false, true}) {
      Bytes in = row.bytes;
      if (with_payload) in.insert(in.end(), {0xEE, 0xEE, 0xEE});
      DecodeResult r = decode_header(guard.place(in.data(), in.size()), row.rules);
      REQUIRE(r.status == DecodeStatus::kDone);
      CHECK(r.error == WsError::kNone);
      CHECK(r.header.fin == row.fin);
      CHECK(r.header.rsv1 == row.rsv1);
      CHECK(r.header.opcode == row.opcode);
      CHECK(r.header.masked == row.masked);
      CHECK(r.header.payload_length == row.length);
      CHECK(r.header.header_length == row.bytes.size());
      const MaskKey want = row.masked ? MaskKey{KEY} : MaskKey{};
      CHECK(r.header.mask_key == want);
    }
  }
}

TEST_CASE("decode_header: every strict prefix of a valid header is kIncomplete") {
  GuardPage guard;
  for (const ValidRow& row : kValid) {
    CAPTURE(row.name);
    for (size_t n = 0; n < row.bytes.size(); ++n) {
      CAPTURE(n);
      CHECK(decode_header(guard.place(row.bytes.data(), n), row.rules).status ==
            DecodeStatus::kIncomplete);
    }
  }
}

struct RejectRow {
  const char* name;
  Bytes bytes;
  DecodeRules rules;
  WsError error;
  size_t decided_at;  // bytes needed to know: fewer is kIncomplete, this many is kError
  uint16_t close;
};

const RejectRow kRejects[] = {
    {"RSV2 (§5.2)", {0xA1, 0x80, KEY}, kServer, WsError::kReservedBits, 1, 1002},
    {"RSV3 (§5.2)", {0x91, 0x80, KEY}, kServer, WsError::kReservedBits, 1, 1002},
    {"RSV1 without deflate (§5.2)", {0xC1, 0x80, KEY}, kServer, WsError::kReservedBits, 1, 1002},
    {"RSV2 even with deflate", {0xA1, 0x80, KEY}, kServerDeflate, WsError::kReservedBits, 1, 1002},
    {"opcode 0x3 (§5.2)", {0x83, 0x80, KEY}, kServer, WsError::kReservedOpcode, 1, 1002},
    {"opcode 0x7", {0x87, 0x80, KEY}, kServer, WsError::kReservedOpcode, 1, 1002},
    {"opcode 0xB", {0x8B, 0x80, KEY}, kServer, WsError::kReservedOpcode, 1, 1002},
    {"opcode 0xF", {0x8F, 0x80, KEY}, kServer, WsError::kReservedOpcode, 1, 1002},
    {"ping fin=0 (§5.5)", {0x09, 0x80, KEY}, kServer, WsError::kControlFragmented, 1, 1002},
    {"close fin=0 (§5.5)", {0x08, 0x80, KEY}, kServer, WsError::kControlFragmented, 1, 1002},
    {"unmasked client frame (§5.1)", {0x81, 0x05}, kServer, WsError::kUnmaskedFrame, 2, 1002},
    {"masked server frame (§5.1)", {0x81, 0x85, KEY}, kClient, WsError::kMaskedFrame, 2, 1002},
    {"close with 16-bit length (§5.5)",
     {0x88, 0xFE, 0x00, 0x7E, KEY},
     kServer,
     WsError::kControlTooLong,
     2,
     1002},
    {"ping with 64-bit length (§5.5)",
     {0x89, 0xFF, 0, 0, 0, 0, 0, 1, 0, 0, KEY},
     kServer,
     WsError::kControlTooLong,
     2,
     1002},
    {"16-bit length 125 (§5.2)",
     {0x82, 0xFE, 0x00, 0x7D, KEY},
     kServer,
     WsError::kNonMinimalLength,
     4,
     1002},
    {"16-bit length 0",
     {0x82, 0xFE, 0x00, 0x00, KEY},
     kServer,
     WsError::kNonMinimalLength,
     4,
     1002},
    {"64-bit length 65535 (§5.2)",
     {0x82, 0xFF, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF, KEY},
     kServer,
     WsError::kNonMinimalLength,
     8,
     1002},
    {"64-bit length 0",
     {0x82, 0xFF, 0, 0, 0, 0, 0, 0, 0, 0, KEY},
     kServer,
     WsError::kNonMinimalLength,
     8,
     1002},
    {"64-bit top bit (§5.2)",
     {0x82, 0xFF, 0x80, 0, 0, 0, 0, 0, 0, 0, KEY},
     kServer,
     WsError::kLengthTopBit,
     3,
     1002},
};

TEST_CASE("decode_header: every rejection, as early as possible, with its close code") {
  GuardPage guard;
  for (const RejectRow& row : kRejects) {
    CAPTURE(row.name);
    DecodeResult whole = decode_header(guard.place(row.bytes.data(), row.bytes.size()), row.rules);
    REQUIRE(whole.status == DecodeStatus::kError);
    CHECK(whole.error == row.error);
    CHECK(whole.error_offset < row.decided_at);
    CHECK(close_code_for(whole.error) == row.close);
    for (size_t n = 0; n < row.decided_at; ++n) {
      CAPTURE(n);
      CHECK(decode_header(guard.place(row.bytes.data(), n), row.rules).status ==
            DecodeStatus::kIncomplete);
    }
    DecodeResult early = decode_header(guard.place(row.bytes.data(), row.decided_at), row.rules);
    CHECK(early.status == DecodeStatus::kError);
    CHECK(early.error == row.error);
  }
}

TEST_CASE("encode_header/decode_header round trip: lengths x opcodes x masking x bits") {
  const uint64_t lengths[] = {0,     1,     125,   126,        127,        1000,
                              65534, 65535, 65536, 1ull << 32, 1ull << 62, (1ull << 63) - 1};
  const MaskKey key = {0xA1, 0xB2, 0xC3, 0xD4};
  for (uint64_t len : lengths) {
    for (Opcode op : {Opcode::kText, Opcode::kBinary, Opcode::kContinuation}) {
      for (int bits = 0; bits < 8; ++bits) {
        const bool fin = bits & 1, rsv1 = bits & 2, masked = bits & 4;
        CAPTURE(len);
        CAPTURE(bits);
        uint8_t out[kMaxHeaderSize];
        const size_t n = encode_header(out, op, len, fin, rsv1, masked ? &key : nullptr);
        const size_t want_n = (len < 126 ? 2 : len < 65536 ? 4 : 10) + (masked ? 4 : 0);
        CHECK(n == want_n);
        DecodeRules rules{.expect_masked = masked, .allow_rsv1 = true};
        DecodeResult r = decode_header({out, n}, rules);
        REQUIRE(r.status == DecodeStatus::kDone);
        CHECK(r.header.header_length == n);
        CHECK(r.header.payload_length == len);
        CHECK(r.header.opcode == op);
        CHECK(r.header.fin == fin);
        CHECK(r.header.rsv1 == rsv1);
        CHECK(r.header.masked == masked);
        if (masked) CHECK(r.header.mask_key == key);
      }
    }
  }
}

TEST_CASE("encode_frame: masked frames decode and unmask back; frames pipeline") {
  std::mt19937 rng(7692);
  for (size_t len : {size_t{0}, size_t{5}, size_t{125}, size_t{126}, size_t{70000}}) {
    CAPTURE(len);
    Bytes payload(len);
    for (auto& b : payload)
      b = static_cast<uint8_t>(rng());
    const MaskKey key = {1, 2, 3, 4};
    wsedge::Buffer out;
    const size_t a = encode_frame(out, Opcode::kBinary, payload, true, false, &key);
    const size_t b =
        encode_frame(out, Opcode::kPing, std::span<const uint8_t>(), true, false, &key);
    REQUIRE(out.readable() == a + b);
    auto bytes = out.mutable_view();
    DecodeResult first = decode_header(bytes, kServer);
    REQUIRE(first.status == DecodeStatus::kDone);
    REQUIRE(first.header.payload_length == len);
    uint8_t* body = bytes.data() + first.header.header_length;
    if (len >= 4) CHECK(std::memcmp(body, payload.data(), len) != 0);  // really masked
    unmask(body, len, first.header.mask_key, 0);
    CHECK(Bytes(body, body + len) == payload);
    DecodeResult second = decode_header(bytes.subspan(a), kServer);
    REQUIRE(second.status == DecodeStatus::kDone);
    CHECK(second.header.opcode == Opcode::kPing);
    CHECK(second.header.header_length == b);
  }
}

struct SeqStep {
  Opcode op;
  bool fin, rsv1;
  WsError want;
};
struct SeqRow {
  const char* name;
  std::vector<SeqStep> steps;
  bool open_after;
  Opcode opcode_after;
  bool compressed_after;
};

constexpr auto T = Opcode::kText, B = Opcode::kBinary, C = Opcode::kContinuation, P = Opcode::kPing,
               X = Opcode::kClose;
constexpr auto kOk = WsError::kNone;

const SeqRow kSequences[] = {
    {"single text", {{T, true, false, kOk}}, false, T, false},
    {"text, cont, cont-fin",
     {{T, false, false, kOk}, {C, false, false, kOk}, {C, true, false, kOk}},
     false,
     T,
     false},
    {"text open after first fragment", {{B, false, false, kOk}}, true, B, false},
    {"ping between fragments (§5.4)",
     {{T, false, false, kOk}, {P, true, false, kOk}, {C, true, false, kOk}},
     false,
     T,
     false},
    {"close between fragments", {{B, false, false, kOk}, {X, true, false, kOk}}, true, B, false},
    {"continuation without start (§5.4)",
     {{C, true, false, WsError::kUnexpectedContinuation}},
     false,
     C,
     false},
    {"continuation after a finished message",
     {{T, true, false, kOk}, {C, true, false, WsError::kUnexpectedContinuation}},
     false,
     T,
     false},
    {"text inside text (§5.4)",
     {{T, false, false, kOk}, {T, true, false, WsError::kExpectedContinuation}},
     true,
     T,
     false},
    {"binary inside text",
     {{T, false, false, kOk}, {B, false, false, WsError::kExpectedContinuation}},
     true,
     T,
     false},
    {"compressed first frame (RFC 7692 §6.1)",
     {{T, false, true, kOk}, {C, true, false, kOk}},
     false,
     T,
     true},
    {"RSV1 on continuation (RFC 7692 §6.1)",
     {{T, false, true, kOk}, {C, true, true, WsError::kCompressedContinuation}},
     true,
     T,
     true},
    {"RSV1 on ping (RFC 7692 §6.1)",
     {{P, true, true, WsError::kCompressedControl}},
     false,
     C,
     false},
    {"next message resets compression",
     {{T, true, true, kOk}, {B, true, false, kOk}},
     false,
     B,
     false},
};

TEST_CASE("FrameSequence: message order and RSV1 placement") {
  for (const SeqRow& row : kSequences) {
    CAPTURE(row.name);
    FrameSequence seq;
    for (size_t i = 0; i < row.steps.size(); ++i) {
      CAPTURE(i);
      FrameHeader h;
      h.opcode = row.steps[i].op;
      h.fin = row.steps[i].fin;
      h.rsv1 = row.steps[i].rsv1;
      CHECK(seq.on_frame(h) == row.steps[i].want);
    }
    CHECK(seq.in_message() == row.open_after);
    CHECK(seq.message_opcode() == row.opcode_after);
    CHECK(seq.message_compressed() == row.compressed_after);
  }
}

TEST_CASE("errors: every WsError has a distinct one-line description that fits a close frame") {
  std::vector<std::string> seen;
  for (int i = 0; i <= static_cast<int>(WsError::kBadCompressedData); ++i) {
    const auto e = static_cast<WsError>(i);
    const std::string d = describe(e);
    CAPTURE(d);
    CHECK(!d.empty());
    CHECK(d.size() <= kMaxCloseReason);
    CHECK(d.find('\n') == std::string::npos);
    for (const auto& s : seen)
      CHECK(s != d);
    seen.push_back(d);
  }
  CHECK(close_code_for(WsError::kNone) == 1000);
  CHECK(close_code_for(WsError::kInvalidUtf8) == 1007);
  CHECK(close_code_for(WsError::kMessageTooBig) == 1009);
  CHECK(close_code_for(WsError::kReservedOpcode) == 1002);
}

TEST_CASE("decode_header fuzz: no over-read at a PROT_NONE page, and kDone re-encodes exactly") {
  GuardPage guard;
  std::mt19937 rng(20111211);  // RFC 6455's publication date
  const DecodeRules rule_set[] = {kServer, kClient, kServerDeflate};
  size_t ok = 0, mismatched = 0, oversize_incomplete = 0;
  for (int iter = 0; iter < 300000; ++iter) {
    uint8_t in[kMaxHeaderSize + 2];
    const size_t n = rng() % sizeof in;
    for (size_t i = 0; i < n; ++i)
      in[i] = static_cast<uint8_t>(rng());
    // Bias towards plausible headers so deep paths are reached, not just byte 0 errors.
    if (n > 0 && rng() % 2) in[0] = static_cast<uint8_t>((in[0] & 0x8F) | 0x80);
    if (n > 2 && rng() % 2) in[2] &= 0x7F;
    const DecodeRules& rules = rule_set[rng() % std::size(rule_set)];
    DecodeResult r = decode_header(guard.place(in, n), rules);
    if (r.status == DecodeStatus::kIncomplete && n >= kMaxHeaderSize) ++oversize_incomplete;
    if (r.status != DecodeStatus::kDone) continue;
    ++ok;
    uint8_t again[kMaxHeaderSize];
    const FrameHeader& h = r.header;
    const size_t m = encode_header(again, h.opcode, h.payload_length, h.fin, h.rsv1,
                                   h.masked ? &h.mask_key : nullptr);
    if (m != h.header_length || std::memcmp(again, in, m) != 0) ++mismatched;
  }
  CHECK(ok > 1000);  // the fuzz reached the success path
  CHECK(mismatched == 0);
  CHECK(oversize_incomplete == 0);  // 14 bytes always decide
}

TEST_CASE("decode_header: every first byte, with and without RSV1 allowed, gets its verdict") {
  // The first byte's rules are a table computed at compile time; this reads them again,
  // independently, for all 256 values (RFC 6455 §5.2, §5.5; RFC 7692 §6).
  for (const DecodeRules& rules : {kServer, kServerDeflate}) {
    for (int b0 = 0; b0 < 256; ++b0) {
      CAPTURE(b0);
      CAPTURE(rules.allow_rsv1);
      const bool fin = b0 & 0x80, rsv1 = b0 & 0x40, rsv23 = b0 & 0x30;
      const int op = b0 & 0x0F;
      WsError want = WsError::kNone;
      if (rsv23 || (rsv1 && !rules.allow_rsv1)) {
        want = WsError::kReservedBits;
      } else if (!(op == 0 || op == 1 || op == 2 || op == 8 || op == 9 || op == 10)) {
        want = WsError::kReservedOpcode;
      } else if (op >= 8 && !fin) {
        want = WsError::kControlFragmented;
      }
      const uint8_t in[6] = {static_cast<uint8_t>(b0), 0x80, 1, 2, 3, 4};  // masked, empty
      DecodeResult alone = decode_header({in, 1}, rules);
      DecodeResult whole = decode_header({in, sizeof in}, rules);
      if (want == WsError::kNone) {
        CHECK(alone.status == DecodeStatus::kIncomplete);
        CHECK(whole.status == DecodeStatus::kDone);
        CHECK(whole.header.fin == fin);
        CHECK(whole.header.rsv1 == rsv1);
        CHECK(static_cast<int>(whole.header.opcode) == op);
      } else {
        CHECK(alone.status == DecodeStatus::kError);
        CHECK(alone.error == want);
        CHECK(alone.error_offset == 0);
        CHECK(whole.error == want);
      }
    }
  }
}

#undef KEY

}  // namespace
