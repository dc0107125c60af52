// ws/reader.h — the receive side of RFC 6455 §5 as a pure decoder: bytes in, events out.
//
// A Reader owns everything the protocol says about the frames a peer sends: the header
// rules (ws/frame decode_header), the order of frames (§5.4, FrameSequence), the masking
// key's phase across reads (§5.3), the streaming UTF-8 state of a text message (§8.1), the
// frame and message size limits (§10.4), and the close payload (§5.5.1). What to do about
// an event (answer a ping, deliver a message, fail the connection, inflate) is the caller's
// policy: ws::Session for the server, the load generator for its client side.
//
// next() looks at the frame at the front of `in` and returns one event. A whole frame is
// decoded, unmasked in place and validated in one straight pass; a frame that has only
// partly arrived has what did arrive unmasked and validated now (so invalid text fails
// mid-frame) and is reported kIncomplete: call again with the same bytes in front and
// more behind. That is the only difference between the two cases: the fast one is the
// general code with nothing left to wait for.
//
// StreamReader runs the same code in streaming mode, for a peer whose frames need not be
// kept whole (the load generator verifies a 64 MiB echo chunk by chunk): a data frame's
// header and whatever of its payload has arrived are consumed at once, and the rest of its
// payload comes in later calls, each event consuming what it hands out. Only a header or a
// control frame that has not all arrived is left unconsumed (fewer than kMaxUnconsumed
// bytes), for the caller to present again in front of the next bytes.
//
// Pure: no I/O, no clock, no log, no heap. The spans of an event point into `in`. One
// thread per Reader.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "ws/close_code.h"
#include "ws/errors.h"
#include "ws/frame.h"
#include "ws/utf8.h"

namespace wsedge::ws {

// A frame is kept whole in the receive buffer until its last byte arrives (zero-copy), so
// one frame is bounded even when the message limit is not: 4 GiB - 2. RFC 6455 §5.2 allows
// 2^63 - 1; §10.4 lets a receiver impose implementation-specific limits. Larger messages
// are sent as fragments, which every client library does.
inline constexpr uint64_t kMaxFrameSize = UINT32_MAX - 1;

// Streaming mode leaves unconsumed at most a header that has not all arrived (< 14 bytes) or
// a control frame that has not (< 6 + 125: RFC 6455 §5.5 keeps control payloads short), so
// a caller that keeps this many bytes can always present a whole one again.
inline constexpr size_t kMaxUnconsumed = kMaxHeaderSize + kMaxControlPayload;

struct ReadRules {
  // RFC 6455 §5.1: true on a server (client frames are masked), false on a client.
  bool expect_masked = true;
  // RFC 7692 §6: RSV1 marks a compressed message once permessage-deflate is agreed.
  bool allow_rsv1 = false;
  // RFC 6455 §8.1: text messages are validated as UTF-8 as they arrive. false only for a
  // caller that checks every text byte itself against bytes it knows to be valid: wsload
  // compares each echo with the text it sent, so a second check would be its cost twice.
  bool validate_text = true;
  // RFC 6455 §10.4: a data frame, or a whole message, announcing more than this fails with
  // kMessageTooBig from its header alone, before any of its payload is kept. A frame above
  // kMaxFrameSize always does.
  uint64_t max_frame_size = UINT64_MAX;
  uint64_t max_message_size = UINT64_MAX;
};

enum class ReadStatus : uint8_t {
  // The frame at the front has not all arrived. next(): nothing consumed. StreamReader: a
  // data frame's header (the first time) and the payload that arrived are consumed.
  kIncomplete,
  kFragment,  // a whole data frame with FIN = 0 (streaming: its last bytes have arrived)
  kMessage,   // a whole data frame with FIN = 1: the message ends here
  kPing,
  kPong,
  kClose,
  kError,  // the peer broke a rule: fail the connection (RFC 6455 §7.1.7)
};

struct ReadEvent {
  ReadStatus status = ReadStatus::kIncomplete;
  // Data frames (and kIncomplete inside one): the message's type and RSV1, from its first
  // frame (RFC 6455 §5.4, RFC 7692 §6).
  bool text = false;
  bool compressed = false;
  WsError error = WsError::kNone;               // kError
  uint16_t close_code = close_code::kNoStatus;  // kClose: 1005 when the payload is empty
  // A whole frame: header + payload; else 0. Streaming: every data event consumes the
  // bytes it hands out (and the header, in its frame's first event).
  size_t consumed = 0;
  // Once the header is known and while the frame has not all arrived: payload bytes still to
  // come (a read-size hint). Streaming data events: the frame's bytes after this event's.
  size_t need = 0;
  // kError: index in `in` of the byte that broke the rule. An error event carries only
  // `error`, this and `payload` (empty, at that byte): nothing of the frame.
  size_t error_offset = 0;
  // A whole frame's payload, unmasked in place; for kClose the reason after the code.
  // Streaming data events: the payload bytes this event consumes (== fresh).
  std::span<uint8_t> payload;
  // Data frames: the payload bytes this call unmasked (all of a frame that arrived whole).
  // A compressed message is inflated from these as they arrive; the Reader cannot check
  // its text (that is the caller's, through feed_text()).
  std::span<uint8_t> fresh;
};

// Streaming mode's memory of the data frame whose header it consumed.
struct StreamedFrame {
  FrameHeader header;
  bool in_payload = false;  // header consumed, payload not all arrived: `in` starts inside it
};

class Reader {
 public:
  // The frame at the front of `in`: its event. kIncomplete and kError consume nothing;
  // after kError the Reader must not be used again (the connection has failed).
  ReadEvent next(std::span<uint8_t> in, const ReadRules& rules);

  // Between the first frame of a fragmented message and its last.
  bool in_message() const { return sequence_.in_message(); }
  // A frame's header has been checked but its payload has not all arrived.
  bool in_frame() const { return frame_done_ != kNoFrame; }
  bool message_text() const { return sequence_.message_opcode() == Opcode::kText; }

  // A compressed text message (RFC 7692): its inflated bytes, in order, through the same
  // UTF-8 state (RFC 6455 §8.1). feed_text() returns false on the first invalid byte;
  // finish_text() says whether the whole message was valid (called at its end).
  bool feed_text(std::span<const uint8_t> inflated) { return utf8_.feed(inflated); }
  bool finish_text() const { return utf8_.finish(); }

 protected:
  // The one decoder, both modes (ws/reader_impl.h): next() is read<false>(in, rules,
  // nullptr), StreamReader::next() is read<true> with its frame memory.
  template <bool kStreaming>
  ReadEvent read(std::span<uint8_t> in, const ReadRules& rules, StreamedFrame* streamed);

 private:
  // The checks that run once per frame, when its header is first complete.
  WsError begin_frame(const FrameHeader& h, const ReadRules& rules);

  uint64_t message_size_ = 0;  // payload bytes announced so far for the message
  // Payload bytes of the current frame already unmasked and validated; kNoFrame until its
  // header passed begin_frame(). Fits: a frame a Reader accepts is < 4 GiB (see next()).
  static constexpr uint32_t kNoFrame = UINT32_MAX;
  uint32_t frame_done_ = kNoFrame;
  FrameSequence sequence_;
  Utf8Validator utf8_;
};

// The Reader in streaming mode (see the top of this file). Its own class, so that the
// server's Reader keeps no streaming state (a session stays 104 bytes) and pays no test
// for a mode it never uses: both run Reader::read, compiled once per mode.
class StreamReader : private Reader {
 public:
  // The event at the front of `in`, consuming what it hands out (ReadEvent::consumed):
  // call again with the rest, and with what was not consumed (< kMaxUnconsumed bytes) in
  // front of the next bytes. A data frame's payload is unmasked only if the rules expect
  // masked frames (a client's, unmasked, is left untouched). After kError: do not use again.
  // Defined in ws/reader_impl.h, in line: include that where it is called.
  inline ReadEvent next(std::span<uint8_t> in, const ReadRules& rules);

  using Reader::feed_text;
  using Reader::finish_text;
  using Reader::in_frame;
  using Reader::in_message;
  using Reader::message_text;

 private:
  StreamedFrame streamed_;
};

}  // namespace wsedge::ws
