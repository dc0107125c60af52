// ws/close_code: every 16-bit code against the RFC 6455 §7.4 / IANA table of ranges;
// and close frame bodies (ws/frame parse/encode_close_payload, RFC 6455 §5.5.1).
#include <doctest/doctest.h>

#include <cstdint>
#include <string>
#include <vector>

#include "ws/close_code.h"
#include "ws/frame.h"

using wsedge::ws::close_code_for;
using wsedge::ws::ClosePayloadResult;
using wsedge::ws::encode_close_payload;
using wsedge::ws::is_valid_wire_close_code;
using wsedge::ws::kMaxControlPayload;
using wsedge::ws::parse_close_payload;
using wsedge::ws::WsError;
using Bytes = std::vector<uint8_t>;
namespace cc = wsedge::ws::close_code;

namespace {
struct Range {
  const char* name;
  uint32_t first, last;  // inclusive
  bool valid;
};

// Written from the RFC independently of the implementation's branch structure.
constexpr Range kRanges[] = {
    {"0-999 not used (§7.4.2)", 0, 999, false},
    {"1000-1003 defined (§7.4.1)", 1000, 1003, true},
    {"1004 reserved (§7.4.1)", 1004, 1004, false},
    {"1005 no status, never sent (§7.4.1)", 1005, 1005, false},
    {"1006 abnormal, never sent (§7.4.1)", 1006, 1006, false},
    {"1007-1011 defined (§7.4.1)", 1007, 1011, true},
    {"1012-1014 IANA registered", 1012, 1014, true},
    {"1015 TLS failure, never sent (§7.4.1)", 1015, 1015, false},
    {"1016-2999 reserved for RFCs (§7.4.2)", 1016, 2999, false},
    {"3000-3999 IANA registered (§7.4.2)", 3000, 3999, true},
    {"4000-4999 private use (§7.4.2)", 4000, 4999, true},
    {"5000-65535 undefined", 5000, 65535, false},
};
}  // namespace

TEST_CASE("close codes: every code 0..65535 matches the table of ranges") {
  uint32_t covered = 0;
  for (const Range& r : kRanges) {
    CAPTURE(r.name);
    uint32_t wrong = 0;
    for (uint32_t c = r.first; c <= r.last; ++c) {
      if (is_valid_wire_close_code(static_cast<uint16_t>(c)) != r.valid) ++wrong;
    }
    CHECK(wrong == 0);
    covered += r.last - r.first + 1;
  }
  CHECK(covered == 65536);  // the table has no gap and no overlap
}

TEST_CASE("close codes: named constants carry their registered values") {
  CHECK(cc::kNormal == 1000);
  CHECK(cc::kGoingAway == 1001);
  CHECK(cc::kProtocolError == 1002);
  CHECK(cc::kUnsupportedData == 1003);
  CHECK(cc::kNoStatus == 1005);
  CHECK(cc::kAbnormal == 1006);
  CHECK(cc::kInvalidPayload == 1007);
  CHECK(cc::kPolicyViolation == 1008);
  CHECK(cc::kMessageTooBig == 1009);
  CHECK(cc::kMandatoryExtension == 1010);
  CHECK(cc::kInternalError == 1011);
  CHECK(cc::kServiceRestart == 1012);
  CHECK(cc::kTryAgainLater == 1013);
  CHECK(cc::kBadGateway == 1014);
  CHECK(cc::kTlsHandshake == 1015);
}

namespace {
struct CloseRow {
  const char* name;
  Bytes payload;
  WsError error;
  uint16_t code;
  std::string reason;
};

const CloseRow kCloses[] = {
    {"empty: no status (§7.1.5)", {}, WsError::kNone, 1005, ""},
    {"one byte (§5.5.1)", {0x03}, WsError::kBadClosePayload, 1005, ""},
    {"1000, no reason", {0x03, 0xE8}, WsError::kNone, 1000, ""},
    {"1001 with reason", {0x03, 0xE9, 'b', 'y', 'e'}, WsError::kNone, 1001, "bye"},
    {"4999 private", {0x13, 0x87}, WsError::kNone, 4999, ""},
    {"999 invalid", {0x03, 0xE7}, WsError::kBadCloseCode, 999, ""},
    {"1005 must not be sent", {0x03, 0xED}, WsError::kBadCloseCode, 1005, ""},
    {"1006 must not be sent", {0x03, 0xEE}, WsError::kBadCloseCode, 1006, ""},
    {"1015 must not be sent", {0x03, 0xF7}, WsError::kBadCloseCode, 1015, ""},
    {"5000 invalid", {0x13, 0x88}, WsError::kBadCloseCode, 5000, ""},
    {"invalid UTF-8 reason is passed through for the caller",
     {0x03, 0xE8, 0xFF},
     WsError::kNone,
     1000,
     "\xFF"},
};

TEST_CASE("parse_close_payload: codes and reasons") {
  for (const CloseRow& row : kCloses) {
    CAPTURE(row.name);
    ClosePayloadResult r = parse_close_payload(row.payload);
    CHECK(r.error == row.error);
    CHECK(r.code == row.code);
    CHECK(std::string(r.reason.begin(), r.reason.end()) == row.reason);
    if (r.error != WsError::kNone) CHECK(close_code_for(r.error) == 1002);
  }
  Bytes long_reason = {0x03, 0xE8};
  long_reason.insert(long_reason.end(), 123, 'r');
  ClosePayloadResult r = parse_close_payload(long_reason);
  CHECK(r.error == WsError::kNone);
  CHECK(r.reason.size() == 123);
}

TEST_CASE("encode_close_payload: fits 125 bytes, never cuts a UTF-8 character") {
  struct Row {
    const char* name;
    std::string reason;
    size_t want_reason_bytes;
  };
  const std::string a122(122, 'a');
  const Row rows[] = {
      {"short", "bye", 3},
      {"exactly 123", std::string(123, 'x'), 123},
      {"124 ASCII cut to 123", std::string(124, 'x'), 123},
      {"2-byte char straddling byte 123", a122 + "\xC3\xA9", 122},
      {"2-byte char ending at byte 123", std::string(121, 'a') + "\xC3\xA9" + "zz", 123},
      {"4-byte char straddling", std::string(121, 'a') + "\xF0\x9F\x98\x80", 121},
      {"3-byte char straddling", a122 + "\xE2\x82\xAC", 122},
  };
  for (const Row& row : rows) {
    CAPTURE(row.name);
    uint8_t out[kMaxControlPayload];
    const size_t n = encode_close_payload(out, cc::kGoingAway, row.reason);
    CHECK(n == 2 + row.want_reason_bytes);
    ClosePayloadResult r = parse_close_payload({out, n});
    CHECK(r.error == WsError::kNone);
    CHECK(r.code == cc::kGoingAway);
    CHECK(std::string(r.reason.begin(), r.reason.end()) ==
          row.reason.substr(0, row.want_reason_bytes));
  }
  uint8_t out[kMaxControlPayload];
  CHECK(encode_close_payload(out, cc::kNoStatus, "ignored") == 0);
}

}  // namespace
