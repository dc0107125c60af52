// ws/reader_impl.h — the body of ws::Reader (ws/reader.h), in a header so that a caller
// can have the decoder in line: reader.cpp compiles Reader::next from it (the server's, one
// flattened call per frame), and a StreamReader user (the load generator) gets
// StreamReader::next in line, the event's fields then living in registers instead of a
// 64-byte struct returned through memory. Include it only where StreamReader::next is called
// or the Reader is defined; everyone else includes ws/reader.h.
#pragma once

#include <algorithm>
#include <cstring>

#include "ws/mask.h"
#include "ws/reader.h"

namespace wsedge::ws {

// The header scanner, shared with decode_header (reader.cpp).
namespace reader_detail {

// Byte 0: FIN, RSV1-3, opcode. Everything here is decidable from this byte alone.
inline constexpr WsError check_first_byte(uint8_t b0, bool allow_rsv1) {
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
inline constexpr FirstByteRules make_first_byte_rules() {
  FirstByteRules t{};
  for (int allow = 0; allow < 2; ++allow) {
    for (int b = 0; b < 256; ++b)
      t.verdict[allow][b] = check_first_byte(static_cast<uint8_t>(b), allow != 0);
  }
  return t;
}
inline constexpr FirstByteRules kFirstByteRules = make_first_byte_rules();

// Byte 1: MASK and the 7-bit length.
inline WsError check_second_byte(const FrameHeader& h, uint8_t len7, const DecodeRules& rules) {
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
inline Step read_length64(std::span<const uint8_t> in, uint64_t* out, WsError* err) {
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
inline Step read_length(std::span<const uint8_t> in, uint8_t len7, FrameHeader& h, size_t* pos,
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
  // h.rsv2 and h.rsv3 stay false: a byte with either set fails the table below (§5.2).
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

// Every error is made here, and next() then returns its one event `e`, so the event is
// built in the caller's memory (NRVO; returning a reference to it would copy 64 bytes).
// Nothing of the frame is handed out with an error: only which rule broke, and where (its
// index in `in`, and an empty payload span at that byte, for a caller that needs its
// address: the server's --trace turns it into an offset in the stream).
inline void fail(ReadEvent& e, WsError error, size_t offset, std::span<uint8_t> in) {
  e = ReadEvent{};
  e.status = ReadStatus::kError;
  e.error = error;
  e.error_offset = offset;
  e.payload = in.subspan(offset, 0);
}

}  // namespace reader_detail

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

// The one decoder. Whole frames (kStreaming false): the frame stays at the front of `in`
// until its last byte has arrived, its header scanned again on every call. Streaming: a data
// frame's header is consumed with its first bytes and kept in *streamed, and later calls
// start inside its payload; `gone` counts the payload bytes already consumed. Everything
// else (the rules, the limits, unmasking, UTF-8, the close payload) is the same code; with
// kStreaming false `gone` is 0 and the streaming branches fold away.
template <bool kStreaming>
[[gnu::always_inline]] inline ReadEvent Reader::read(std::span<uint8_t> in, const ReadRules& rules,
                                                     StreamedFrame* streamed) {
  using reader_detail::fail;
  using reader_detail::Step;
  ReadEvent e;
  FrameHeader h;
  size_t gone = 0;  // payload bytes of this frame consumed by earlier calls (streaming)
  if (kStreaming && streamed->in_payload) {
    h = streamed->header;
    h.header_length = 0;  // consumed with the frame's first bytes
    gone = frame_done_;
  } else {
    WsError error = WsError::kNone;
    size_t at = 0;
    const Step step = reader_detail::scan_header(
        in, DecodeRules{.expect_masked = rules.expect_masked, .allow_rsv1 = rules.allow_rsv1}, h,
        &error, &at);
    if (step != Step::kDone) [[unlikely]] {
      if (step == Step::kError) fail(e, error, at, in);
      return e;
    }
    if (frame_done_ == kNoFrame) {
      if (WsError err = begin_frame(h, rules); err != WsError::kNone) [[unlikely]] {
        fail(e, err, h.header_length - 1, in);
        return e;
      }
    }
  }

  const bool data = is_data(h.opcode);
  if (data) {
    e.text = message_text();
    e.compressed = sequence_.message_compressed();
  }
  const size_t header = h.header_length;
  // The frame's payload bytes in `in`, and how many of the frame that makes so far.
  const size_t available = std::min<uint64_t>(in.size() - header, h.payload_length - gone);
  const size_t arrived = gone + available;
  std::span<uint8_t> payload = in.subspan(header, available);
  if (arrived > frame_done_) {
    e.fresh = payload.subspan(frame_done_ - gone);
    // RFC 6455 §5.3: the key's phase carries over from the bytes unmasked before. A stream
    // of unmasked frames (a client's, §5.1) is left as it is: XOR with no key is no work.
    if (!kStreaming || h.masked) unmask(e.fresh.data(), e.fresh.size(), h.mask_key, frame_done_);
    // RFC 6455 §8.1: invalid UTF-8 in a text message fails the connection, checked as the
    // bytes arrive, so the close goes out before the rest of the message does. Compressed
    // text is checked once inflated (feed_text()).
    if (e.text && !e.compressed && rules.validate_text) {
      if (size_t ok = utf8_.feed_prefix(e.fresh); ok != e.fresh.size()) [[unlikely]] {
        fail(e, WsError::kInvalidUtf8, header + (frame_done_ - gone) + ok, in);
        return e;
      }
    }
    frame_done_ = static_cast<uint32_t>(arrived);  // <= payload_length <= kMaxFrameSize
  }
  if (!data) e.fresh = {};
  if (arrived < h.payload_length) {
    e.need = h.payload_length - arrived;
    if (kStreaming && data) {
      // Streaming: what arrived is handed out and consumed; the header is remembered for
      // the payload still to come. A control frame (<= 125 bytes) is still kept whole.
      if (!streamed->in_payload) {
        streamed->header = h;
        streamed->in_payload = true;
      }
      e.consumed = header + available;
      e.payload = payload;
    }
    return e;
  }
  frame_done_ = kNoFrame;
  if constexpr (kStreaming) streamed->in_payload = false;
  e.consumed = header + available;
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
  if (e.text && !e.compressed && rules.validate_text && !utf8_.finish()) [[unlikely]] {
    fail(e, WsError::kInvalidUtf8, e.consumed, in);
    return e;
  }
  message_size_ = 0;
  e.status = ReadStatus::kMessage;
  return e;
}

// In line where it is called (wsload's EchoReader): see the top of this file.
[[gnu::always_inline]] inline ReadEvent StreamReader::next(std::span<uint8_t> in,
                                                           const ReadRules& rules) {
  return read<true>(in, rules, &streamed_);
}

}  // namespace wsedge::ws
