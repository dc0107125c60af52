// core/transport.h — the seam between a byte stream and the protocol that runs on it.
//
// A Transport is one connection's byte stream (net::Connection over TCP today; TLS or a
// test double tomorrow). A Protocol is what speaks over it: HTTP first, then — after the
// upgrade — a WebSocket session. The protocol never sees a socket, so ws/ and http/ are
// testable with an in-memory Transport. The hijack is a return value: on_data hands back
// the protocol that takes over, and the transport switches once the callback returned.
// Single-threaded: every call happens on the connection's loop thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <new>
#include <span>
#include <string_view>
#include <utility>

#include "core/buffer.h"

namespace wsedge {

class Transport;
class Protocol;

// How a connection's TCP stream ended, as its transport saw it: what a trace or a log line
// says about who closed TCP and how (RFC 6455 §7.1.1 wants the server to close first and
// cleanly; a peer may also just go, or be cut off).
enum class TcpEnd : uint8_t {
  kOpen,           // not ended yet
  kPeerEof,        // the peer's FIN came first, while we were not closing
  kPeerReset,      // a reset (ECONNRESET, EPIPE) or another socket error
  kClosedAtOnce,   // we flushed and closed in one step: the peer had sent its last byte
  kHalfClosed,     // we flushed, half-closed (FIN), the peer's FIN followed, we closed
  kLingerExpired,  // we half-closed; the peer's FIN did not come within the linger
  kFlushExpired,   // closing, the peer did not take our last bytes within the linger
  kAborted,        // the protocol dropped the connection; queued bytes were discarded
  kQueueOverflow,  // the send queue would have passed its limit: dropped
  kOutOfMemory,    // memory ran out for this connection's work: dropped
  kTlsFailed,      // the TLS handshake failed or timed out
};
// One line for traces and logs, e.g. "the peer reset the connection (RST)".
const char* describe(TcpEnd end);

// What Protocol::on_data did with its input: how many bytes it consumed from the front,
// and, when it hands the connection over (the HTTP -> WebSocket hijack), the protocol that
// takes over. The transport then destroys the old protocol (its callback has returned),
// calls next->on_start() and gives it the bytes behind `bytes` at once, so nothing that
// arrived right behind the request head is lost. Converts from a byte count, the common
// answer.
struct Consumed {
  // cppcheck-suppress noExplicitConstructor
  Consumed(size_t n = 0) : bytes(n) {}  // NOLINT(google-explicit-constructor): by design
  Consumed(size_t n, std::unique_ptr<Protocol> next_protocol)
      : bytes(n), next(std::move(next_protocol)) {}

  size_t bytes;
  std::unique_ptr<Protocol> next;  // null: the protocol goes on
};

class Protocol {
 public:
  virtual ~Protocol() = default;

  // The protocol now owns the connection (it was accepted, or switched to). The place to
  // arm a first timer or greet the peer.
  virtual void on_start(Transport& /*t*/) {}
  // Bytes arrived. `data` is the unconsumed rest of the previous call followed by the new
  // bytes: contiguous and writable (the WebSocket layer unmasks in place). Returns how many
  // bytes were consumed from the front; the rest comes back first on the next call, so a
  // protocol that needs more bytes simply consumes less (and may call Transport::expect).
  // A protocol that hands over returns the next one too (Consumed::next).
  virtual Consumed on_data(Transport& t, std::span<uint8_t> data) = 0;
  // The output queue fell back below the low-water mark after having passed the high one.
  virtual void on_drain(Transport& /*t*/) {}
  // The timer armed with Transport::arm_timer fired.
  virtual void on_timer(Transport& /*t*/) {}
  // The connection is gone (peer EOF/reset, abort(), or close() completed). Last call:
  // no sends after it. The protocol is destroyed right after it returns.
  virtual void on_disconnect(Transport& t) = 0;
  // Work for this connection ran out of memory (std::bad_alloc): the last words, if the
  // protocol has any — a WebSocket close 1011, an HTTP 503 — sent from constants, since
  // nothing can be allocated. The state may be half-updated: send, do not parse. The
  // transport closes once they are out, and gives the protocol no more input.
  virtual void on_out_of_memory(Transport& /*t*/) {}
  // The server is stopping: end the conversation politely (a WebSocket starts its close
  // handshake with 1001, RFC 6455 §7.4.1). The default closes the transport.
  virtual void on_shutdown(Transport& t);
};

class Transport {
 public:
  // Past this, copying an answer into the cork costs more than the syscall corking saves
  // (a 64 KiB echo: ~1.8 us of copy per message).
  static constexpr size_t kMaxCorkedCopy = 16 * 1024;

  // Queues a then b for sending. Two spans so a frame header and its payload leave in one
  // writev without being joined first. Inside on_data, sends are corked and flushed with
  // one syscall when the callback returns. The bytes are copied only if the kernel refuses
  // them (or while corked), so the caller's memory is free again when send returns. Never
  // throws: a send that cannot be kept fails the connection alone.
  // In line and without a virtual call while the transport is corked (every answer given
  // inside on_data: an echo, a pong): appended to its cork. Answers above kMaxCorkedCopy
  // go out from the caller's memory instead (send_now), behind what the cork holds.
  [[gnu::always_inline]] void send(std::span<const uint8_t> a, std::span<const uint8_t> b = {}) {
    Cork& cork = thread_cork;
    if (cork.owner == this && a.size() + b.size() <= kMaxCorkedCopy) {
      try {
        cork.buffer->append(a, b);
      } catch (const std::bad_alloc&) {
        cork.owner = nullptr;
        cork_failed();
      }
      return;
    }
    send_now(a, b);
  }
  // Bytes the kernel refused, queued until the socket drains: the measure of a peer that
  // does not keep up. Sends corked inside the current on_data are not counted — they
  // leave together when it returns and say nothing about the peer yet.
  virtual size_t buffered_amount() const = 0;
  // Past this many buffered bytes the sender should stop producing (on_drain fires when
  // the queue falls below half of it).
  virtual size_t high_water_mark() const = 0;
  // Read-size hint: the protocol cannot progress until this many more bytes arrive
  // (e.g. the rest of a large frame), so the next read may go straight into a buffer of
  // that size instead of the shared receive buffer.
  virtual void expect(size_t bytes) = 0;
  // One timer per connection; arming again moves it. The owner decides what it means
  // (handshake timeout, keepalive tick, close grace).
  virtual void arm_timer(int64_t delay_ms) = 0;
  virtual void disarm_timer() = 0;
  // The loop's cached monotonic time in ms (one clock read per loop iteration).
  virtual int64_t now_ms() const = 0;
  // Graceful close: flush what is queued, shut the write side, then discard input until
  // the peer's EOF or the linger timeout, then close. Sends after it are dropped.
  virtual void close() = 0;
  // Close once the peer is known to send nothing more (its WebSocket close frame arrived
  // and nothing followed it): flush what is queued, then close at once. No unread input
  // can turn this close into a RST, so the half-close and the wait for the peer's EOF are
  // skipped (three syscalls and a wakeup per connection). Sends after it are dropped.
  virtual void close_peer_finished() = 0;
  // Immediate close: queued output is dropped.
  virtual void abort() = 0;
  virtual bool closing() const = 0;
  // "ip:port" of the peer, for logs.
  virtual std::string_view peer_address() const = 0;
  // How TCP ended (kOpen until it has): read it in Protocol::on_disconnect.
  virtual TcpEnd how_ended() const { return TcpEnd::kOpen; }

 protected:
  ~Transport() = default;
  // send() when not corked.
  virtual void send_now(std::span<const uint8_t> a, std::span<const uint8_t> b) = 0;
  // The cork could not grow (std::bad_alloc; the transport is uncorked again): what it
  // holds of this connection's answers can no longer all go out, so the connection fails.
  virtual void cork_failed() {}

  // The transport whose sends are appended in line to `buffer`: set by a transport while
  // sends may simply be appended (inside its on_data, while it is open and nothing is
  // queued ahead, so order is kept), cleared the moment it starts closing. One per thread
  // (a loop runs one connection's callback at a time), not one per connection, which
  // keeps every idle connection a pointer smaller.
  struct Cork {
    const Transport* owner;
    Buffer* buffer;
  };
  static inline thread_local Cork thread_cork{nullptr, nullptr};
};

inline void Protocol::on_shutdown(Transport& t) {
  t.close();
}

}  // namespace wsedge
