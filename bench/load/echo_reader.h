// bench/load/echo_reader.h — reads the server's byte stream and verifies every echo.
//
// Pure and streaming: feed() takes whatever a read returned, decodes server frames in
// place (only a split header, at most 14 bytes, is spilled) and compares each payload
// chunk with memcmp against the pool variant that was sent, so a 64 MiB echo needs no
// buffer. In raw mode the stream must equal the sent frame bytes. Echoes come back in
// send order (one TCP stream), so the expected variant is just a cursor. Results go to a
// Sink (template): on_echo(), on_ping(data, n), on_close(code) return false when the
// connection is gone (feed then stops); fail(kind, fmt, a, b) reports a broken stream.
// With permessage-deflate agreed (an inflater given to reset()), a message whose first frame
// has RSV1 is inflated chunk by chunk into a scratch buffer and each chunk's output is
// compared like plain payload; every echo then also reaches on_deflate_echo(compressed,
// wire_bytes). Plain connections pay a few always-false flag tests per frame for this.
// One connection, one thread.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <span>

#include "bench/load/frame_pool.h"
#include "bench/load/stats.h"
#include "core/buffer.h"
#include "ws/deflate.h"
#include "ws/frame.h"

namespace wsedge::load {

class EchoReader {
 public:
  // inflater: the connection's, when permessage-deflate was agreed (else nullptr, and RSV1
  // is a protocol error); inflated: scratch for its output, cleared before each use.
  void reset(const FramePool* pool, size_t first_variant, bool raw, bool binary,
             ws::MessageInflater* inflater = nullptr, Buffer* inflated = nullptr) {
    *this = EchoReader{};
    pool_ = pool;
    variant_ = first_variant;
    raw_ = raw;
    expected_op_ = binary ? ws::Opcode::kBinary : ws::Opcode::kText;
    inflater_ = inflater;
    inflated_ = inflated;
  }

  // Returns false once the Sink has been told of a failure; the stream is then dead.
  // Always inlined into its one caller (Conn::consume in on_readable): GCC's size
  // heuristics otherwise flip with unrelated code in Conn (the TLS path did), costing the
  // plain path ~10% more instructions per echo (callgrind, docs/wsload.md).
  template <class Sink>
  [[gnu::always_inline]] bool feed(const uint8_t* p, size_t n, Sink& sink) {
    if (raw_) return feed_raw(p, n, sink);
    while (n > 0) {
      size_t used = 0;
      if (!in_frame_) {
        used = read_header(p, n, sink);
        if (used == kFailed) return false;
      } else {
        used = std::min<uint64_t>(n, remaining_);
        if (!payload_chunk(p, used, sink)) return false;
      }
      p += used;
      n -= used;
    }
    return true;
  }

 private:
  static constexpr size_t kFailed = SIZE_MAX;

  template <class Sink>
  bool feed_raw(const uint8_t* p, size_t n, Sink& sink) {
    const size_t len = pool_->frame_len();
    while (n > 0) {
      size_t take = std::min(n, len - offset_);
      const uint8_t* want = pool_->frame(variant_) + offset_;
      if (std::memcmp(p, want, take) != 0) return mismatch(p, want, take, sink);
      offset_ += take;
      p += take;
      n -= take;
      if (offset_ == len && !complete(sink)) return false;
    }
    return true;
  }

  // Decodes a header from spill + p; returns the bytes of p it used (all of p when the
  // header is still incomplete), or kFailed.
  template <class Sink>
  [[gnu::always_inline]] size_t read_header(const uint8_t* p, size_t n, Sink& sink) {
    ws::DecodeRules rules;
    rules.expect_masked = false;  // RFC 6455 §5.1: a client MUST fail on a masked frame
    // RFC 7692 §6: RSV1 marks a compressed message, legal only once the extension is agreed.
    rules.allow_rsv1 = inflater_ != nullptr;
    const size_t had = spill_n_;
    size_t take = std::min(n, ws::kMaxHeaderSize - had);
    std::span<const uint8_t> in(p, n);
    if (had > 0) {
      std::memcpy(spill_ + had, p, take);
      in = std::span<const uint8_t>(spill_, had + take);
    }
    ws::DecodeResult r = ws::decode_header(in, rules);
    if (r.status == ws::DecodeStatus::kError) {
      sink.fail(ErrorKind::kProtocol, ws::describe(r.error));
      return kFailed;
    }
    if (r.status == ws::DecodeStatus::kIncomplete) {
      if (had == 0) std::memcpy(spill_, p, n);  // n < 14 here
      spill_n_ = had + (had ? take : n);
      return had ? take : n;
    }
    spill_n_ = 0;
    if (!start_frame(r.header, sink)) return kFailed;
    return r.header.header_length - had;
  }

  template <class Sink>
  bool start_frame(const ws::FrameHeader& h, Sink& sink) {
    frame_ = h;
    remaining_ = h.payload_length;
    in_frame_ = true;
    ctrl_n_ = 0;
    if (h.rsv1 && !rsv1_allowed(h, sink)) return false;  // only when deflate was agreed
    if (!ws::is_control(h.opcode)) {
      // RFC 6455 §5.4: a continuation only inside a message, a new message only outside.
      if ((h.opcode == ws::Opcode::kContinuation) != message_open_) {
        sink.fail(ErrorKind::kProtocol, "frame out of sequence (opcode %lld)",
                  static_cast<long long>(h.opcode));
        return false;
      }
      if (h.opcode != ws::Opcode::kContinuation) {
        if (h.opcode != expected_op_) {
          sink.fail(ErrorKind::kMismatch, "echo has opcode %lld, sent %lld",
                    static_cast<long long>(h.opcode), static_cast<long long>(expected_op_));
          return false;
        }
        compressed_ = h.rsv1;  // RFC 7692 §6: the first frame says it for the whole message
      }
      message_open_ = true;
      wire_ += h.payload_length;
      // A compressed frame may be longer than the message (random bytes do not shrink); the
      // inflater bounds the inflated size instead.
      if (!compressed_ && offset_ + h.payload_length > pool_->size()) {
        sink.fail(ErrorKind::kMismatch, "echo longer than sent (%lld > %lld bytes)",
                  static_cast<long long>(offset_ + h.payload_length),
                  static_cast<long long>(pool_->size()));
        return false;
      }
    }
    return remaining_ > 0 || end_frame(sink);
  }

  template <class Sink>
  bool payload_chunk(const uint8_t* p, size_t n, Sink& sink) {
    if (ws::is_control(frame_.opcode)) {  // <= 125 bytes (RFC 6455 §5.5), checked by decode
      std::memcpy(ctrl_ + ctrl_n_, p, n);
      ctrl_n_ += n;
    } else if (compressed_) [[unlikely]] {
      if (!inflate(p, n, sink)) return false;
    } else {
      const uint8_t* want = pool_->payload(variant_) + offset_;
      if (std::memcmp(p, want, n) != 0) return mismatch(p, want, n, sink);
      offset_ += n;
    }
    remaining_ -= n;
    return remaining_ > 0 || end_frame(sink);
  }

  // RFC 7692 §6.1: RSV1 belongs on the first frame of a data message, and only there.
  // (decode_header has refused RSV1 already unless the extension was agreed.)
  template <class Sink>
  bool rsv1_allowed(const ws::FrameHeader& h, Sink& sink) {
    ws::WsError e = ws::WsError::kNone;
    if (ws::is_control(h.opcode))
      e = ws::WsError::kCompressedControl;
    else if (h.opcode == ws::Opcode::kContinuation)
      e = ws::WsError::kCompressedContinuation;
    if (e == ws::WsError::kNone) return true;
    sink.fail(ErrorKind::kProtocol, ws::describe(e));
    return false;
  }

  // Compressed payload bytes of the current message: inflate them (RFC 7692 §7.2.2) and
  // compare what comes out. fin: the message ended here, so the inflater finishes it.
  template <class Sink>
  bool inflate(const uint8_t* p, size_t n, Sink& sink, bool fin = false) {
    inflated_->clear();
    const ws::InflateStatus st = fin ? inflater_->finish(*inflated_, pool_->size())
                                     : inflater_->feed({p, n}, *inflated_, pool_->size());
    if (st == ws::InflateStatus::kCorrupt) {
      sink.fail(ErrorKind::kProtocol, "compressed echo does not inflate (RFC 7692 §7.2.2)");
      return false;
    }
    // Compare before judging kTooBig: a wrong byte is the more useful report.
    const size_t got = inflated_->readable();
    const uint8_t* want = pool_->payload(variant_) + offset_;
    if (got > 0 && std::memcmp(inflated_->data(), want, got) != 0)
      return mismatch(inflated_->data(), want, got, sink);
    offset_ += got;
    if (st == ws::InflateStatus::kTooBig) {
      sink.fail(ErrorKind::kMismatch, "compressed echo inflates to more than the %lld bytes sent",
                static_cast<long long>(pool_->size()));
      return false;
    }
    return true;
  }

  template <class Sink>
  bool end_frame(Sink& sink) {
    in_frame_ = false;
    switch (frame_.opcode) {
      case ws::Opcode::kPing:
        return sink.on_ping(ctrl_, ctrl_n_);
      case ws::Opcode::kPong:
        return true;
      case ws::Opcode::kClose:
        return sink.on_close(ws::parse_close_payload({ctrl_, ctrl_n_}).code);
      default:
        break;
    }
    if (!frame_.fin) return true;
    message_open_ = false;
    if (compressed_ && !inflate(nullptr, 0, sink, true)) return false;
    if (offset_ != pool_->size()) {
      sink.fail(ErrorKind::kMismatch, "echo shorter than sent (%lld < %lld bytes)",
                static_cast<long long>(offset_), static_cast<long long>(pool_->size()));
      return false;
    }
    return complete(sink);
  }

  template <class Sink>
  bool complete(Sink& sink) {
    offset_ = 0;
    if (++variant_ == pool_->variants()) variant_ = 0;
    if (inflater_) [[unlikely]] {
      sink.on_deflate_echo(compressed_, wire_);
      compressed_ = false;
      wire_ = 0;
    }
    return sink.on_echo();
  }

  template <class Sink>
  bool mismatch(const uint8_t* got, const uint8_t* want, size_t n, Sink& sink) {
    size_t i = 0;
    while (i < n && got[i] == want[i])
      ++i;
    sink.fail(ErrorKind::kMismatch, "echo differs at byte %lld of message (got 0x%02llx)",
              static_cast<long long>(offset_ + i), static_cast<long long>(got[i]));
    return false;
  }

  const FramePool* pool_ = nullptr;
  size_t variant_ = 0;
  uint64_t offset_ = 0;  // bytes of the current message (raw: frame) verified so far
  bool raw_ = false;
  ws::Opcode expected_op_ = ws::Opcode::kText;
  bool in_frame_ = false;
  bool message_open_ = false;
  ws::FrameHeader frame_{};
  uint64_t remaining_ = 0;  // payload bytes of the current frame still to come
  uint8_t spill_[ws::kMaxHeaderSize] = {};
  size_t spill_n_ = 0;
  uint8_t ctrl_[ws::kMaxControlPayload] = {};
  size_t ctrl_n_ = 0;
  // permessage-deflate; inflater_ == nullptr when it was not agreed.
  ws::MessageInflater* inflater_ = nullptr;
  Buffer* inflated_ = nullptr;
  bool compressed_ = false;  // the current message's first frame had RSV1
  uint64_t wire_ = 0;        // frame payload bytes of the current message as received
};

}  // namespace wsedge::load
