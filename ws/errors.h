// ws/errors.h — every way a WebSocket peer can break the protocol, by name.
//
// One WsError per rule, so a rejection says which RFC sentence the peer broke. Each maps
// to the close code the endpoint must fail the connection with (RFC 6455 §7.4.1) and to a
// one-line reason short enough for a close frame (<= 123 bytes, RFC 6455 §5.5).
// Plain values and string literals: no state, no allocation, callable from any thread.
#pragma once

#include <cstddef>
#include <cstdint>

namespace wsedge::ws {

enum class WsError : uint8_t {
  kNone = 0,
  // Frame header (ws/frame decode_header), RFC 6455 §5.2.
  kReservedBits,       // RSV2/RSV3, or RSV1 without permessage-deflate
  kReservedOpcode,     // opcodes 0x3-0x7 and 0xB-0xF
  kUnmaskedFrame,      // server received an unmasked client frame (§5.1)
  kMaskedFrame,        // client received a masked server frame (§5.1)
  kControlTooLong,     // control frame payload > 125 bytes (§5.5)
  kControlFragmented,  // control frame with FIN = 0 (§5.5)
  kNonMinimalLength,   // 16/64-bit length where a shorter form fits (§5.2)
  kLengthTopBit,       // 64-bit length with the most significant bit set (§5.2)
  // Frame sequence (ws/frame FrameSequence), RFC 6455 §5.4 and RFC 7692 §6.1.
  kUnexpectedContinuation,  // continuation frame with no message open
  kExpectedContinuation,    // new data frame while a fragmented message is open
  kCompressedContinuation,  // RSV1 on a continuation frame
  kCompressedControl,       // RSV1 on a control frame
  // Message level (ws/session), RFC 6455 §7.4.1, §8.1, §5.5.1.
  kMessageTooBig,     // frame or message beyond the configured limit
  kInvalidUtf8,       // text message or close reason that is not UTF-8
  kBadClosePayload,   // close payload of exactly one byte
  kBadCloseCode,      // close code that must not appear on the wire
  kBadCompressedData  // permessage-deflate payload that does not inflate
};
inline constexpr size_t kWsErrorCount = static_cast<size_t>(WsError::kBadCompressedData) + 1;

// The close code to fail the connection with: 1007 for invalid UTF-8 (and undecodable
// compressed data, which is invalid payload data), 1009 for too big, 1002 otherwise.
// kNone gives 1000.
uint16_t close_code_for(WsError e);

// One line naming the broken rule; a string literal of at most 123 bytes (static_assert'ed).
const char* describe(WsError e);

}  // namespace wsedge::ws
