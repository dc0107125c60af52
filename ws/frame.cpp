#include "ws/frame.h"

#include <cstring>

namespace wsedge::ws {
namespace {

// RFC 6455 §5.2: 0x3-0x7 are reserved for further non-control frames, 0xB-0xF for
// further control frames; only the six below are defined.
bool is_defined_opcode(uint8_t op) {
  return op <= 0x2 || (op >= 0x8 && op <= 0xA);
}

// Marks r failed. decode_header returns its one local `r` on every path, so the result is
// built in the caller's memory (NRVO): copying it piecewise costs store-forwarding stalls.
void fail(DecodeResult& r, WsError e, size_t at) {
  r.status = DecodeStatus::kError;
  r.error = e;
  r.error_offset = static_cast<uint8_t>(at);
}

// Byte 0: FIN, RSV1-3, opcode. Everything here is decidable from this byte alone.
WsError check_first_byte(const FrameHeader& h, const DecodeRules& rules) {
  // RFC 6455 §5.2: RSV1-3 MUST be 0 unless an extension defining them was negotiated;
  // RFC 7692 §6 defines RSV1 only, and only once permessage-deflate is agreed.
  if (h.rsv2 || h.rsv3 || (h.rsv1 && !rules.allow_rsv1)) return WsError::kReservedBits;
  // RFC 6455 §5.2: on a reserved opcode the recipient MUST fail the connection.
  if (!is_defined_opcode(static_cast<uint8_t>(h.opcode))) return WsError::kReservedOpcode;
  // RFC 6455 §5.5: control frames MUST NOT be fragmented.
  if (is_control(h.opcode) && !h.fin) return WsError::kControlFragmented;
  return WsError::kNone;
}

// Byte 1: MASK and the 7-bit length.
WsError check_second_byte(const FrameHeader& h, uint8_t len7, const DecodeRules& rules) {
  // RFC 6455 §5.1: a server MUST close on an unmasked frame, a client on a masked one.
  if (rules.expect_masked && !h.masked) return WsError::kUnmaskedFrame;
  if (!rules.expect_masked && h.masked) return WsError::kMaskedFrame;
  // RFC 6455 §5.5: control payloads MUST be <= 125 bytes, so they only ever use the
  // 7-bit form; 126/127 here is an over-long (or non-minimal) control frame.
  if (is_control(h.opcode) && len7 > kMaxControlPayload) return WsError::kControlTooLong;
  return WsError::kNone;
}

enum class Step : uint8_t { kOk, kIncomplete, kError };

// The 64-bit extended length at in[2..10). Each rule fails on the first byte that
// decides it: the top bit on in[2], minimality once in[2..8) are known.
Step read_length64(std::span<const uint8_t> in, uint64_t* out, WsError* err) {
  if (in.size() < 3) return Step::kIncomplete;
  // RFC 6455 §5.2: "the most significant bit MUST be 0".
  if (in[2] & 0x80) {
    *err = WsError::kLengthTopBit;
    return Step::kError;
  }
  if (in.size() < 8) return Step::kIncomplete;
  uint64_t high = 0;
  for (size_t i = 2; i < 8; ++i)
    high = (high << 8) | in[i];
  // RFC 6455 §5.2: "the minimal number of bytes MUST be used"; a value < 65536 fits
  // the 16-bit form, and that is known once the upper six bytes read zero.
  if (high == 0) {
    *err = WsError::kNonMinimalLength;
    return Step::kError;
  }
  if (in.size() < 10) return Step::kIncomplete;
  *out = (high << 16) | (static_cast<uint64_t>(in[8]) << 8) | in[9];
  return Step::kOk;
}

// Reads the payload length (7, 16 or 64 bits) into h; *pos becomes the offset after it.
Step read_length(std::span<const uint8_t> in, uint8_t len7, FrameHeader& h, size_t* pos,
                 WsError* err) {
  if (len7 < 126) {
    h.payload_length = len7;
    *pos = 2;
    return Step::kOk;
  }
  if (len7 == 126) {
    if (in.size() < 4) return Step::kIncomplete;
    h.payload_length = (static_cast<uint64_t>(in[2]) << 8) | in[3];
    // RFC 6455 §5.2: minimal encoding; 0-125 belong in the 7-bit form.
    if (h.payload_length < 126) {
      *err = WsError::kNonMinimalLength;
      return Step::kError;
    }
    *pos = 4;
    return Step::kOk;
  }
  *pos = 10;
  return read_length64(in, &h.payload_length, err);
}

}  // namespace

DecodeResult decode_header(std::span<const uint8_t> in, const DecodeRules& rules) {
  DecodeResult r;
  FrameHeader& h = r.header;
  if (in.empty()) return r;
  const uint8_t b0 = in[0];
  h.fin = (b0 & 0x80) != 0;
  h.rsv1 = (b0 & 0x40) != 0;
  h.rsv2 = (b0 & 0x20) != 0;
  h.rsv3 = (b0 & 0x10) != 0;
  h.opcode = static_cast<Opcode>(b0 & 0x0F);
  if (WsError e = check_first_byte(h, rules); e != WsError::kNone) {
    fail(r, e, 0);
    return r;
  }

  if (in.size() < 2) return r;
  const uint8_t len7 = in[1] & 0x7F;
  h.masked = (in[1] & 0x80) != 0;
  if (WsError e = check_second_byte(h, len7, rules); e != WsError::kNone) {
    fail(r, e, 1);
    return r;
  }

  size_t pos = 0;
  WsError err = WsError::kNone;
  switch (read_length(in, len7, h, &pos, &err)) {
    case Step::kIncomplete:
      return r;
    case Step::kError:
      fail(r, err, 2);
      return r;
    case Step::kOk:
      break;
  }
  // The configured limit (RFC 6455 §10.4: implementations SHOULD impose one), checked
  // before a single payload byte is buffered. The offending byte is the length's last.
  if (h.payload_length > rules.max_payload_length) {
    fail(r, WsError::kMessageTooBig, pos - 1);
    return r;
  }
  if (h.masked) {
    if (in.size() < pos + 4) return r;
    std::memcpy(h.mask_key.data(), in.data() + pos, 4);
    pos += 4;
  }
  h.header_length = static_cast<uint8_t>(pos);
  r.status = DecodeStatus::kDone;
  return r;
}

WsError FrameSequence::on_frame(const FrameHeader& h) {
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

size_t encode_header(uint8_t* out, Opcode op, uint64_t payload_length, bool fin, bool rsv1,
                     const MaskKey* mask_key) {
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

size_t encode_frame(Buffer& out, Opcode op, std::span<const uint8_t> payload, bool fin, bool rsv1,
                    const MaskKey* mask_key) {
  uint8_t* w = out.prepare(kMaxHeaderSize + payload.size());
  const size_t header = encode_header(w, op, payload.size(), fin, rsv1, mask_key);
  if (!payload.empty()) {
    std::memcpy(w + header, payload.data(), payload.size());
    // RFC 6455 §5.3: a client masks every payload byte with the frame's key.
    if (mask_key != nullptr) unmask(w + header, payload.size(), *mask_key, 0);
  }
  out.commit(header + payload.size());
  return header + payload.size();
}

ClosePayloadResult parse_close_payload(std::span<const uint8_t> payload) {
  ClosePayloadResult r;
  // RFC 6455 §7.1.5: no payload means no status code was received (1005).
  if (payload.empty()) return r;
  // RFC 6455 §5.5.1: a body, if any, MUST begin with a 2-byte code; one byte cannot.
  if (payload.size() == 1) {
    r.error = WsError::kBadClosePayload;
    return r;
  }
  r.code = static_cast<uint16_t>((payload[0] << 8) | payload[1]);
  // RFC 6455 §7.4: codes that must not be sent are a protocol error when received.
  if (!is_valid_wire_close_code(r.code)) {
    r.error = WsError::kBadCloseCode;
    return r;
  }
  r.reason = payload.subspan(2);
  return r;
}

size_t encode_close_payload(uint8_t* out, uint16_t code, std::string_view reason) {
  // RFC 6455 §7.4.1: 1005 MUST NOT be set as a status code; an empty body says it.
  if (code == close_code::kNoStatus) return 0;
  out[0] = static_cast<uint8_t>(code >> 8);
  out[1] = static_cast<uint8_t>(code);
  size_t n = reason.size();
  if (n > kMaxCloseReason) {
    // RFC 6455 §5.5: 125 bytes in all. Cut before the character straddling byte 123:
    // back up over UTF-8 continuation bytes (10xxxxxx) to the start of that character.
    n = kMaxCloseReason;
    while (n > 0 && (static_cast<uint8_t>(reason[n]) & 0xC0) == 0x80)
      --n;
  }
  if (n != 0) std::memcpy(out + 2, reason.data(), n);
  return 2 + n;
}

}  // namespace wsedge::ws
