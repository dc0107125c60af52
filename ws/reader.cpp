#include "ws/reader.h"

#include <algorithm>
#include <cstring>

#include "ws/mask.h"

namespace wsedge::ws {

// --- decode_header and FrameSequence (declared in ws/frame.h) ---------------------------
// Defined here with the reader, the receive side's one home: the per-frame checks then
// inline the sequence rules (bench/instructions.sh: 20 instructions an echo fewer).

namespace {

// RFC 6455 §5.2: 0x3-0x7 are reserved for further non-control frames, 0xB-0xF for
// further control frames; only the six below are defined.
constexpr bool is_defined_opcode(uint8_t op) {
  return op <= 0x2 || (op >= 0x8 && op <= 0xA);
}

// Byte 0: FIN, RSV1-3, opcode. Everything here is decidable from this byte alone.
constexpr WsError check_first_byte(uint8_t b0, bool allow_rsv1) {
  const bool fin = (b0 & 0x80) != 0, rsv1 = (b0 & 0x40) != 0;
  const uint8_t op = b0 & 0x0F;
  // RFC 6455 §5.2: RSV1-3 MUST be 0 unless an extension defining them was negotiated;
  // RFC 7692 §6 defines RSV1 only, and only once permessage-deflate is agreed.
  if ((b0 & 0x30) != 0 || (rsv1 && !allow_rsv1)) return WsError::kReservedBits;
  // RFC 6455 §5.2: on a reserved opcode the recipient MUST fail the connection.
  if (!is_defined_opcode(op)) return WsError::kReservedOpcode;
  // RFC 6455 §5.5: control frames MUST NOT be fragmented.
  if (is_control(static_cast<Opcode>(op)) && !fin) return WsError::kControlFragmented;
  return WsError::kNone;
}

// check_first_byte's verdict on every byte, with and without RSV1, computed at compile
// time: per frame the first byte's rules are one load.
struct FirstByteRules {
  WsError verdict[2][256];
};
constexpr FirstByteRules make_first_byte_rules() {
  FirstByteRules t{};
  for (int allow = 0; allow < 2; ++allow) {
    for (int b = 0; b < 256; ++b)
      t.verdict[allow][b] = check_first_byte(static_cast<uint8_t>(b), allow != 0);
  }
  return t;
}
constexpr FirstByteRules kFirstByteRules = make_first_byte_rules();

// Byte 1: MASK and the 7-bit length.
WsError check_second_byte(const FrameHeader& h, uint8_t len7, const DecodeRules& rules) {
  // RFC 6455 §5.1: a server MUST close on an unmasked frame, a client on a masked one.
  if (h.masked != rules.expect_masked) [[unlikely]]
    return rules.expect_masked ? WsError::kUnmaskedFrame : WsError::kMaskedFrame;
  // RFC 6455 §5.5: control payloads MUST be <= 125 bytes, so they only ever use the
  // 7-bit form; 126/127 here is an over-long (or non-minimal) control frame.
  if (is_control(h.opcode) && len7 > kMaxControlPayload) return WsError::kControlTooLong;
  return WsError::kNone;
}

enum class Step : uint8_t { kDone, kIncomplete, kError };

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
  return Step::kDone;
}

// Reads the payload length (7, 16 or 64 bits) into h; *pos becomes the offset after it.
Step read_length(std::span<const uint8_t> in, uint8_t len7, FrameHeader& h, size_t* pos,
                 WsError* err) {
  if (len7 < 126) [[likely]] {
    h.payload_length = len7;
    *pos = 2;
    return Step::kDone;
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
    return Step::kDone;
  }
  *pos = 10;
  return read_length64(in, &h.payload_length, err);
}

// The header at the front of `in`, into h; on kError, *err and *at say which rule broke
// on which byte. The one header decoder: decode_header() wraps it, Reader::next() has it
// in line (a whole frame then decodes in one straight pass).
[[gnu::always_inline]] inline Step scan_header(std::span<const uint8_t> in,
                                               const DecodeRules& rules, FrameHeader& h,
                                               WsError* err, size_t* at) {
  if (in.empty()) return Step::kIncomplete;
  const uint8_t b0 = in[0];
  h.fin = (b0 & 0x80) != 0;
  h.rsv1 = (b0 & 0x40) != 0;
  h.rsv2 = (b0 & 0x20) != 0;
  h.rsv3 = (b0 & 0x10) != 0;
  h.opcode = static_cast<Opcode>(b0 & 0x0F);
  if (WsError e = kFirstByteRules.verdict[rules.allow_rsv1][b0]; e != WsError::kNone) {
    *err = e;
    *at = 0;
    return Step::kError;
  }
  if (in.size() < 2) return Step::kIncomplete;
  const uint8_t len7 = in[1] & 0x7F;
  h.masked = (in[1] & 0x80) != 0;
  if (WsError e = check_second_byte(h, len7, rules); e != WsError::kNone) {
    *err = e;
    *at = 1;
    return Step::kError;
  }
  size_t pos = 0;
  if (Step s = read_length(in, len7, h, &pos, err); s != Step::kDone) [[unlikely]] {
    *at = 2;
    return s;
  }
  if (h.masked) {
    if (in.size() < pos + 4) return Step::kIncomplete;
    std::memcpy(h.mask_key.data(), in.data() + pos, 4);
    pos += 4;
  }
  h.header_length = static_cast<uint8_t>(pos);
  return Step::kDone;
}

}  // namespace

DecodeResult decode_header(std::span<const uint8_t> in, const DecodeRules& rules) {
  DecodeResult r;
  size_t at = 0;
  switch (scan_header(in, rules, r.header, &r.error, &at)) {
    case Step::kDone:
      r.status = DecodeStatus::kDone;
      break;
    case Step::kError:
      r.status = DecodeStatus::kError;
      r.error_offset = static_cast<uint8_t>(at);
      break;
    case Step::kIncomplete:
      break;
  }
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

// --- the reader -------------------------------------------------------------------------

namespace {

// Every error is made here, and next() then returns its one event `e`, so the event is
// built in the caller's memory (NRVO; returning a reference to it would copy 64 bytes).
// Nothing of the frame is handed out with an error: only which rule broke, and where (its
// index in `in`, and an empty payload span at that byte, for a caller that needs its
// address: the server's --trace turns it into an offset in the stream).
void fail(ReadEvent& e, WsError error, size_t offset, std::span<uint8_t> in) {
  e = ReadEvent{};
  e.status = ReadStatus::kError;
  e.error = error;
  e.error_offset = offset;
  e.payload = in.subspan(offset, 0);
}

}  // namespace

// In line in next(), its one caller: once per frame, on the path every frame takes.
[[gnu::always_inline]] inline WsError Reader::begin_frame(const FrameHeader& h,
                                                          const ReadRules& rules) {
  if (WsError e = sequence_.on_frame(h); e != WsError::kNone) return e;
  if (is_data(h.opcode)) {
    // RFC 6455 §10.4 / §7.4.1: an oversized frame or message is refused from its header
    // alone (1009), before any of it is kept. kMaxFrameSize bounds every frame, whatever
    // the rules say: a frame is kept whole until its last byte, and frame_done_ counts it.
    if (h.payload_length > kMaxFrameSize || h.payload_length > rules.max_frame_size ||
        h.payload_length > rules.max_message_size - message_size_)
      return WsError::kMessageTooBig;
    message_size_ += h.payload_length;
    if (h.opcode != Opcode::kContinuation) utf8_.reset();
  }
  frame_done_ = 0;
  return WsError::kNone;
}

// Flattened: the header scan, the sequence rules and the length forms are all in line, so
// a whole frame is one straight pass with no call but the payload kernels.
[[gnu::flatten]] ReadEvent Reader::next(std::span<uint8_t> in, const ReadRules& rules) {
  ReadEvent e;
  FrameHeader h;
  {
    WsError error = WsError::kNone;
    size_t at = 0;
    const Step step = scan_header(
        in, DecodeRules{.expect_masked = rules.expect_masked, .allow_rsv1 = rules.allow_rsv1}, h,
        &error, &at);
    if (step != Step::kDone) [[unlikely]] {
      if (step == Step::kError) fail(e, error, at, in);
      return e;
    }
  }
  if (frame_done_ == kNoFrame) {
    if (WsError err = begin_frame(h, rules); err != WsError::kNone) [[unlikely]] {
      fail(e, err, h.header_length - 1, in);
      return e;
    }
  }

  const bool data = is_data(h.opcode);
  if (data) {
    e.text = message_text();
    e.compressed = sequence_.message_compressed();
  }
  const size_t header = h.header_length;
  const size_t available = std::min<uint64_t>(in.size() - header, h.payload_length);
  std::span<uint8_t> payload = in.subspan(header, available);
  if (available > frame_done_) {
    e.fresh = payload.subspan(frame_done_);
    // RFC 6455 §5.3: the key's phase carries over from the bytes unmasked before.
    unmask(e.fresh.data(), e.fresh.size(), h.mask_key, frame_done_);
    // RFC 6455 §8.1: invalid UTF-8 in a text message fails the connection, checked as the
    // bytes arrive, so the close goes out before the rest of the message does. Compressed
    // text is checked once inflated (feed_text()).
    if (e.text && !e.compressed) {
      if (size_t ok = utf8_.feed_prefix(e.fresh); ok != e.fresh.size()) [[unlikely]] {
        fail(e, WsError::kInvalidUtf8, header + frame_done_ + ok, in);
        return e;
      }
    }
    frame_done_ = static_cast<uint32_t>(available);  // <= payload_length <= kMaxFrameSize
  }
  if (!data) e.fresh = {};
  if (available < h.payload_length) {
    e.need = h.payload_length - available;
    return e;
  }
  frame_done_ = kNoFrame;
  e.consumed = header + h.payload_length;
  e.payload = payload;
  switch (h.opcode) {
    case Opcode::kPing:
      e.status = ReadStatus::kPing;
      return e;
    case Opcode::kPong:
      e.status = ReadStatus::kPong;
      return e;
    case Opcode::kClose: {
      // RFC 6455 §5.5.1: a 1-byte body, or a code that must not be on the wire, is an error.
      const ClosePayloadResult c = parse_close_payload(payload);
      if (c.error != WsError::kNone) {
        fail(e, c.error, header, in);
        return e;
      }
      // RFC 6455 §5.5.1: the reason is UTF-8; invalid data is a 1007 failure (§8.1).
      if (!is_valid_utf8(c.reason)) {
        fail(e, WsError::kInvalidUtf8, header + 2, in);
        return e;
      }
      e.status = ReadStatus::kClose;
      e.close_code = c.code;
      e.payload = payload.subspan(payload.size() - c.reason.size());
      return e;
    }
    default:
      break;
  }
  if (!h.fin) {
    e.status = ReadStatus::kFragment;
    return e;
  }
  // RFC 6455 §8.1: the whole text message must be valid UTF-8, no code point cut at the end.
  if (e.text && !e.compressed && !utf8_.finish()) [[unlikely]] {
    fail(e, WsError::kInvalidUtf8, e.consumed, in);
    return e;
  }
  message_size_ = 0;
  e.status = ReadStatus::kMessage;
  return e;
}

}  // namespace wsedge::ws
