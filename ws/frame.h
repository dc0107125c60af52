// ws/frame.h — the WebSocket frame codec (RFC 6455 §5.2), pure.
//
// decode_header() reads one frame header from the front of a byte span, never more than
// kMaxHeaderSize bytes and never past the span; FrameSequence checks the order of frames
// (§5.4). Both are the receive side's: decode_header is defined in ws/reader.cpp with the
// Reader (ws/reader.h) that runs them for a connection, FrameSequence::on_frame here, in
// line, so that each Reader (the server's and wsload's streaming one) has it in line. Encoders
// write into caller memory. No I/O, no heap (except encode_frame, which appends to a Buffer), no
// state beyond a FrameSequence the caller owns; one thread per object.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <string_view>

#include "core/buffer.h"
#include "ws/close_code.h"
#include "ws/errors.h"
#include "ws/mask.h"

namespace wsedge::ws {

// 2 fixed bytes + 8 bytes of 64-bit length + 4 bytes of masking key (§5.2).
inline constexpr size_t kMaxHeaderSize = 14;
// RFC 6455 §5.5: all control frames MUST have a payload length of 125 bytes or less.
inline constexpr uint64_t kMaxControlPayload = 125;
// RFC 6455 §5.5.1: a close payload is a 2-byte code followed by the reason.
inline constexpr size_t kMaxCloseReason = kMaxControlPayload - 2;

enum class Opcode : uint8_t {
  kContinuation = 0x0,
  kText = 0x1,
  kBinary = 0x2,
  kClose = 0x8,
  kPing = 0x9,
  kPong = 0xA,
};
// RFC 6455 §5.5: control opcodes have the most significant bit of the nibble set.
constexpr bool is_control(Opcode op) {
  return (static_cast<uint8_t>(op) & 0x8) != 0;
}
constexpr bool is_data(Opcode op) {
  return static_cast<uint8_t>(op) <= 0x2;
}

// RFC 6455 §5.2: 0x3-0x7 are reserved for further non-control frames, 0xB-0xF for
// further control frames; only the six below are defined.
constexpr bool is_defined_opcode(uint8_t op) {
  return op <= 0x2 || (op >= 0x8 && op <= 0xA);
}

struct FrameHeader {
  bool fin = false;
  bool rsv1 = false, rsv2 = false, rsv3 = false;
  Opcode opcode = Opcode::kContinuation;
  bool masked = false;
  MaskKey mask_key{};           // wire order, ready for unmask(); zeros when !masked
  uint64_t payload_length = 0;  // < 2^63
  uint8_t header_length = 0;    // 2..14; the payload starts at in[header_length]
};

struct DecodeRules {
  // RFC 6455 §5.1: a server MUST fail on an unmasked client frame (true, server side);
  // a client MUST fail on a masked server frame (false, client side).
  bool expect_masked = true;
  // RFC 7692 §6: RSV1 marks a compressed message, legal only once permessage-deflate
  // has been negotiated.
  bool allow_rsv1 = false;
  // (Size limits are the Reader's, ws/reader.h: they depend on the message so far.)
};

// The same three names as http::ParseStatus: every pure parser in wsedge answers with them.
enum class DecodeStatus : uint8_t { kIncomplete, kDone, kError };

struct DecodeResult {
  DecodeStatus status = DecodeStatus::kIncomplete;
  FrameHeader header;  // complete when kDone; the fields read so far otherwise
  WsError error = WsError::kNone;
  uint8_t error_offset = 0;  // kError: index of the header byte that broke the rule
};

// Decodes the header at the front of `in`. kIncomplete for every strict prefix of a valid
// header (more bytes needed; nothing is consumed), kError as soon as the bytes present
// break a rule. Reads only in[0 .. min(in.size(), 14)).
DecodeResult decode_header(std::span<const uint8_t> in, const DecodeRules& rules);

// The order of frames on one connection (RFC 6455 §5.4, RFC 7692 §6.1). Feed every decoded
// header in arrival order; an error means the connection must fail (state is then unchanged).
class FrameSequence {
 public:
  WsError on_frame(const FrameHeader& h);
  // True between the first frame of a fragmented message and its final continuation.
  bool in_message() const { return open_; }
  // kText or kBinary: the message the last data frame belonged to (kContinuation if none yet).
  Opcode message_opcode() const { return opcode_; }
  // RSV1 was set on that message's first frame.
  bool message_compressed() const { return compressed_; }
  void reset() { *this = FrameSequence{}; }

 private:
  bool open_ = false;
  bool compressed_ = false;
  Opcode opcode_ = Opcode::kContinuation;
};

inline WsError FrameSequence::on_frame(const FrameHeader& h) {
  if (!is_defined_opcode(static_cast<uint8_t>(h.opcode))) return WsError::kReservedOpcode;
  if (is_control(h.opcode)) {
    // RFC 7692 §6.1: permessage-deflate applies to data messages only; an endpoint
    // MUST NOT set RSV1 on a control frame.
    if (h.rsv1) return WsError::kCompressedControl;
    // RFC 6455 §5.4: control frames MAY be injected in the middle of a fragmented message.
    return WsError::kNone;
  }
  if (h.opcode == Opcode::kContinuation) {
    // RFC 6455 §5.4: a continuation frame continues a message that was started.
    if (!open_) return WsError::kUnexpectedContinuation;
    // RFC 7692 §6.1: RSV1 is set on the first frame of a message only.
    if (h.rsv1) return WsError::kCompressedContinuation;
    open_ = !h.fin;
    return WsError::kNone;
  }
  // RFC 6455 §5.4: fragments of different messages MUST NOT be interleaved.
  if (open_) return WsError::kExpectedContinuation;
  opcode_ = h.opcode;
  compressed_ = h.rsv1;
  open_ = !h.fin;
  return WsError::kNone;
}

// Writes a header with the minimal length encoding; returns its size (2..14).
// REQUIRES: out has kMaxHeaderSize bytes; payload_length < 2^63; a control opcode only
// with fin and payload_length <= 125 (the encoder writes what it is told).
// mask_key == nullptr: unmasked (server frames); otherwise the key follows the length.
// Inline: every frame sent goes through it, and with the defaults (a server's unfragmented,
// uncompressed data frame) most of it folds away at the call.
inline size_t encode_header(uint8_t* out, Opcode op, uint64_t payload_length, bool fin = true,
                            bool rsv1 = false, const MaskKey* mask_key = nullptr) {
  out[0] = static_cast<uint8_t>((fin ? 0x80 : 0) | (rsv1 ? 0x40 : 0) | static_cast<uint8_t>(op));
  const uint8_t mask_bit = mask_key != nullptr ? 0x80 : 0;
  size_t pos;
  // RFC 6455 §5.2: the minimal number of bytes MUST be used to encode the length.
  if (payload_length < 126) {
    out[1] = static_cast<uint8_t>(mask_bit | payload_length);
    pos = 2;
  } else if (payload_length <= 0xFFFF) {
    out[1] = mask_bit | 126;
    out[2] = static_cast<uint8_t>(payload_length >> 8);
    out[3] = static_cast<uint8_t>(payload_length);
    pos = 4;
  } else {
    out[1] = mask_bit | 127;
    for (int i = 0; i < 8; ++i)
      out[2 + i] = static_cast<uint8_t>(payload_length >> (56 - 8 * i));
    pos = 10;
  }
  if (mask_key != nullptr) {
    std::memcpy(out + pos, mask_key->data(), 4);
    pos += 4;
  }
  return pos;
}

// Appends header + payload (masked with *mask_key when given) to `out`; returns the bytes
// appended. Allocates through Buffer: for clients, tests and the load generator.
size_t encode_frame(Buffer& out, Opcode op, std::span<const uint8_t> payload, bool fin = true,
                    bool rsv1 = false, const MaskKey* mask_key = nullptr);

struct ClosePayloadResult {
  WsError error = WsError::kNone;         // kBadClosePayload or kBadCloseCode
  uint16_t code = close_code::kNoStatus;  // 1005 when the payload is empty (§7.1.5)
  std::span<const uint8_t> reason;        // into the payload; the caller checks UTF-8 (§5.5.1)
};
ClosePayloadResult parse_close_payload(std::span<const uint8_t> payload);

// Writes code + reason; returns the payload size (0..125). The reason is cut to 123 bytes
// at a UTF-8 character boundary. code == kNoStatus writes nothing (an empty close payload
// is how "no status" is sent; §7.4.1 forbids 1005 on the wire).
// REQUIRES: out has kMaxControlPayload bytes.
size_t encode_close_payload(uint8_t* out, uint16_t code, std::string_view reason);

}  // namespace wsedge::ws
