#include "ws/close_code.h"

namespace wsedge::ws {

bool is_valid_wire_close_code(uint16_t code) {
  // RFC 6455 §7.4.2: 0-999 are not used.
  if (code < close_code::kNormal) return false;
  // RFC 6455 §7.4.1: 1000-1003 defined for use on the wire.
  if (code <= close_code::kUnsupportedData) return true;
  // RFC 6455 §7.4.1: 1004 reserved; 1005 and 1006 MUST NOT be set in a close frame.
  if (code <= close_code::kAbnormal) return false;
  // RFC 6455 §7.4.1 (1007-1011) and the IANA registry (1012-1014).
  if (code <= close_code::kBadGateway) return true;
  // 1015 MUST NOT be sent (§7.4.1); 1016-2999 are reserved for future RFCs (§7.4.2).
  if (code < close_code::kFirstRegistered) return false;
  // RFC 6455 §7.4.2: 3000-4999 belong to libraries and applications.
  return code <= close_code::kLastPrivate;
}

}  // namespace wsedge::ws
