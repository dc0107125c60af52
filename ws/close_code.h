// ws/close_code.h — WebSocket close status codes (RFC 6455 §7.4, IANA registry).
//
// Named constants for the registered codes and the one question a receiver asks: may
// this code appear in a close frame on the wire? Pure functions of a uint16_t; any thread.
#pragma once

#include <cstdint>

namespace wsedge::ws {

namespace close_code {
// RFC 6455 §7.4.1, plus 1012-1014 from the IANA "WebSocket Close Code Number" registry.
inline constexpr uint16_t kNormal = 1000;
inline constexpr uint16_t kGoingAway = 1001;
inline constexpr uint16_t kProtocolError = 1002;
inline constexpr uint16_t kUnsupportedData = 1003;
inline constexpr uint16_t kReserved = 1004;  // reserved; must not be sent
inline constexpr uint16_t kNoStatus = 1005;  // "no code present"; must not be sent
inline constexpr uint16_t kAbnormal = 1006;  // "closed without a close frame"; must not be sent
inline constexpr uint16_t kInvalidPayload = 1007;
inline constexpr uint16_t kPolicyViolation = 1008;
inline constexpr uint16_t kMessageTooBig = 1009;
inline constexpr uint16_t kMandatoryExtension = 1010;
inline constexpr uint16_t kInternalError = 1011;
inline constexpr uint16_t kServiceRestart = 1012;
inline constexpr uint16_t kTryAgainLater = 1013;
inline constexpr uint16_t kBadGateway = 1014;
inline constexpr uint16_t kTlsHandshake = 1015;  // TLS failure report; must not be sent
// RFC 6455 §7.4.2: 3000-3999 registered with IANA by libraries and frameworks,
// 4000-4999 private use by applications.
inline constexpr uint16_t kFirstRegistered = 3000;
inline constexpr uint16_t kLastPrivate = 4999;
}  // namespace close_code

// True if a close frame may carry `code` (RFC 6455 §7.4.1/§7.4.2): 1000-1003, 1007-1014,
// 3000-4999. Everything else is a protocol error when received.
bool is_valid_wire_close_code(uint16_t code);

}  // namespace wsedge::ws
