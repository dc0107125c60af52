#include "ws/frame.h"

#include <cstring>

namespace wsedge::ws {
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
