// bench/load/echo_reader.h — reads the server's byte stream and verifies every echo.
//
// Pure and streaming: feed() takes whatever a read returned and hands it to ws::StreamReader,
// the server's own receive-side decoder in streaming mode, under client rules. The reader
// owns every RFC 6455 rule about the frames (header, order, close payload, UTF-8, limits);
// this class only compares: each payload chunk, as the reader hands it out, with memcmp
// against the pool variant that was sent, so a 64 MiB echo needs no buffer. The reader
// leaves unconsumed only a header or a control frame that has not all arrived; those bytes
// (< ws::kMaxUnconsumed) are kept here and presented again in front of the next read. In
// raw mode the stream must equal the sent frame bytes. Echoes come back in send order (one
// TCP stream), so the expected variant is just a cursor. Results go to a Sink (template):
// on_echo(), on_ping(data, n), on_close(code) return false when the connection is gone
// (feed then stops); fail(kind, fmt, a, b) reports a broken stream. With permessage-deflate
// agreed (an inflater given to reset()), a message whose first frame has RSV1 is inflated
// chunk by chunk into a scratch buffer and each chunk's output is compared like plain
// payload; every echo then also reaches on_deflate_echo(compressed, wire_bytes). Plain
// connections pay a few always-false flag tests per frame for this. One connection, one
// thread.
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
#include "ws/reader.h"
#include "ws/reader_impl.h"  // StreamReader::next, in line

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
    expect_text_ = !binary;
    inflater_ = inflater;
    inflated_ = inflated;
  }

  // Returns false once the Sink has been told of a failure; the stream is then dead. The
  // bytes are the caller's read buffer: the reader may write into them (it unmasks in
  // place, which server frames never need). Always inlined into its one caller
  // (Conn::consume in on_readable): GCC's size heuristics otherwise flip with unrelated code
  // in Conn (the TLS path did), costing the plain path ~10% more instructions per echo
  // (callgrind, docs/wsload.md).
  template <class Sink>
  [[gnu::always_inline]] bool feed(uint8_t* p, size_t n, Sink& sink) {
    if (raw_) return feed_raw(p, n, sink);
    if (held_ > 0 && !feed_held(p, n, sink)) return false;
    while (n > 0) {
      const ws::ReadEvent e = reader_.next({p, n}, rules());
      if (e.consumed == 0) {
        if (e.status == ws::ReadStatus::kError) return protocol_error(e, sink);
        // A header or a control frame not all here: it is all of p, and short (the reader
        // consumes every other frame's bytes as they come).
        std::memcpy(held_bytes_, p, n);
        held_ = n;
        return true;
      }
      if (!on_event(e, sink)) return false;
      p += e.consumed;
      n -= e.consumed;
    }
    return true;
  }

 private:
  // Built at each call, so that with the reader in line its constant parts (no limits, no
  // mask) fold away.
  ws::ReadRules rules() const {
    // RFC 6455 §5.1: a client MUST fail on a masked frame. RFC 7692 §6: RSV1 marks a
    // compressed message, legal only once the extension is agreed. RFC 6455 §8.1: every
    // text byte is compared with the valid UTF-8 that was sent, which is the stronger check
    // (and names the byte that differs), so the reader's own is not run.
    return {.expect_masked = false, .allow_rsv1 = inflater_ != nullptr, .validate_text = false};
  }

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
      if (offset_ == len && !complete(false, sink)) return false;
    }
    return true;
  }

  // The held bytes with the new ones behind them, until the held frame's first event: it
  // consumes past the held bytes (they were less than a header or a control frame), and
  // the rest of p is read in place. p and n move past what was used.
  template <class Sink>
  [[gnu::noinline]] bool feed_held(uint8_t*& p, size_t& n, Sink& sink) {
    static_assert(sizeof held_bytes_ >= ws::kMaxUnconsumed);
    const size_t take = std::min(n, sizeof held_bytes_ - held_);
    std::memcpy(held_bytes_ + held_, p, take);
    const ws::ReadEvent e = reader_.next({held_bytes_, held_ + take}, rules());
    if (e.status == ws::ReadStatus::kError) return protocol_error(e, sink);
    if (e.consumed == 0) {  // still short: take < n cannot be (kMaxUnconsumed)
      held_ += take;
      p += take;
      n -= take;
      return true;
    }
    const size_t used = e.consumed - held_;
    held_ = 0;
    p += used;
    n -= used;
    return on_event(e, sink);
  }

  template <class Sink>
  [[gnu::always_inline]] bool on_event(const ws::ReadEvent& e, Sink& sink) {
    switch (e.status) {
      case ws::ReadStatus::kIncomplete:
      case ws::ReadStatus::kFragment:
      case ws::ReadStatus::kMessage:
        return on_data(e, sink);
      case ws::ReadStatus::kPing:
        return sink.on_ping(e.payload.data(), e.payload.size());
      case ws::ReadStatus::kPong:
        return true;
      case ws::ReadStatus::kClose:
        // RFC 6455 §5.5.1: the code only; a client does not show the reason to its user.
        return sink.on_close(e.close_code);
      case ws::ReadStatus::kError:
        break;
    }
    return protocol_error(e, sink);
  }

  template <class Sink>
  bool protocol_error(const ws::ReadEvent& e, Sink& sink) {
    sink.fail(ErrorKind::kProtocol, ws::describe(e.error));
    return false;
  }

  // Payload bytes of a data frame (e.fresh, possibly none), as they arrive; kMessage: the
  // message ends with them.
  template <class Sink>
  [[gnu::always_inline]] bool on_data(const ws::ReadEvent& e, Sink& sink) {
    if (e.text != expect_text_) [[unlikely]] {
      sink.fail(ErrorKind::kMismatch, "echo has opcode %lld, sent %lld", e.text ? 1 : 2,
                expect_text_ ? 1 : 2);
      return false;
    }
    const size_t n = e.fresh.size();
    if (e.compressed) [[unlikely]] {
      wire_ += n;
      if (!inflate(e.fresh.data(), n, sink)) return false;
    } else {
      // e.need: the frame's bytes still to come, so the first event of a frame judges all
      // of it. A compressed frame may be longer than the message (random bytes do not
      // shrink); the inflater bounds the inflated size instead.
      if (offset_ + n + e.need > pool_->size()) [[unlikely]] {
        sink.fail(ErrorKind::kMismatch, "echo longer than sent (%lld > %lld bytes)",
                  static_cast<long long>(offset_ + n + e.need),
                  static_cast<long long>(pool_->size()));
        return false;
      }
      const uint8_t* want = pool_->payload(variant_) + offset_;
      // n == 0 (a header alone, an empty frame): fresh.data() may be null, memcmp's UB.
      if (n != 0 && std::memcmp(e.fresh.data(), want, n) != 0)
        return mismatch(e.fresh.data(), want, n, sink);
      offset_ += n;
      if (inflater_) [[unlikely]]
        wire_ += n;
    }
    if (e.status != ws::ReadStatus::kMessage) return true;
    if (e.compressed && !inflate(nullptr, 0, sink, true)) return false;
    if (offset_ != pool_->size()) {
      sink.fail(ErrorKind::kMismatch, "echo shorter than sent (%lld < %lld bytes)",
                static_cast<long long>(offset_), static_cast<long long>(pool_->size()));
      return false;
    }
    return complete(e.compressed, sink);
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
  bool complete(bool compressed, Sink& sink) {
    offset_ = 0;
    if (++variant_ == pool_->variants()) variant_ = 0;
    if (inflater_) [[unlikely]] {
      sink.on_deflate_echo(compressed, wire_);
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
  bool expect_text_ = true;
  ws::StreamReader reader_;
  // What the reader left unconsumed: the start of a header or of a control frame.
  uint8_t held_bytes_[ws::kMaxUnconsumed] = {};
  size_t held_ = 0;
  // permessage-deflate; inflater_ == nullptr when it was not agreed.
  ws::MessageInflater* inflater_ = nullptr;
  Buffer* inflated_ = nullptr;
  uint64_t wire_ = 0;  // frame payload bytes of the current message as received
};

}  // namespace wsedge::load
