// ws/close_code: every 16-bit code against the RFC 6455 §7.4 / IANA table of ranges.
#include <doctest/doctest.h>

#include <cstdint>

#include "ws/close_code.h"

using wsedge::ws::is_valid_wire_close_code;
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
