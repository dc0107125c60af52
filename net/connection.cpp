#include "net/connection.h"

#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <new>

#include "core/log.h"
#include "net/socket.h"

namespace wsedge::net {
namespace {
// Reads into a protocol's own tail are at least this big, so a stream of small frames
// that keeps leaving a partial one behind does not degrade into tiny reads.
constexpr size_t kMinTailRead = 16 * 1024;
}  // namespace

std::unique_ptr<Connection> make_connection(ConnectionContext& context, int fd) {
  auto* fresh = new (std::nothrow) Connection(context, fd);
  if (fresh == nullptr) {
    ::close(fd);
    throw std::bad_alloc();
  }
  return std::unique_ptr<Connection>(fresh);
}

void link_connection(Connection*& head, Connection* c) {
  c->next = head;
  if (head != nullptr) head->prev = c;
  head = c;
}

void unlink_connection(Connection*& head, Connection* c) {
  if (c->prev != nullptr) c->prev->next = c->next;
  if (c->next != nullptr) c->next->prev = c->prev;
  if (head == c) head = c->next;
}

Connection::Connection(ConnectionContext& context, int fd)
    : ctx_(context), timer_(&Connection::on_timer_fired, this), fd_(fd) {}

Connection::~Connection() {
  if (pending_) note_memory(pending_->tail.capacity() + pending_->out.capacity());
  // OpenSSL frees a connection's handshake and record buffers (tens of KiB, in many blocks)
  // into the heap: a flood of handshakes leaves it fragmented until it is trimmed.
  if (tls_ && ctx_.memory_return != nullptr) ctx_.memory_return->note_large(ctx_.loop.now_ms());
  ctx_.loop.disarm(timer_);
  if (fd_ >= 0) ctx_.loop.remove_and_close(fd_, this);
}

Result<void> Connection::start(std::unique_ptr<Protocol> protocol) {
  protocol_ = std::move(protocol);
  Result<void> added = ctx_.loop.add(fd_, this);
  if (!added) return added;
  try {
    if (tls_) {
      // The ClientHello has not arrived yet: the first event drives the handshake.
      ctx_.loop.arm_after(timer_, ctx_.options.tls_handshake_ms);
    } else {
      protocol_->on_start(*this);
    }
  } catch (const std::bad_alloc&) {
    // Not started: the caller deletes the connection, which closes the fd.
    note_out_of_memory();
    return Error{"starting a connection", ENOMEM};
  }
  return added;
}

// For log lines only, so it is looked up when asked instead of stored per connection.
std::string_view Connection::peer_address() const {
  thread_local char text[64];
  sockaddr_storage peer{};
  socklen_t len = sizeof peer;
  if (fd_ < 0 || ::getpeername(fd_, reinterpret_cast<sockaddr*>(&peer), &len) != 0) {
    return "(closed)";
  }
  return {text, format_address(reinterpret_cast<const sockaddr*>(&peer), text, sizeof text)};
}

Connection::Pending& Connection::pending() {
  if (!pending_) pending_ = std::make_unique<Pending>();
  return *pending_;
}

void Connection::trim_pending() {
  if (pending_->tail.empty() && pending_->out.empty()) {
    note_memory(pending_->tail.capacity() + pending_->out.capacity());
    pending_.reset();
  }
}

void Connection::on_io(uint32_t events) {
  try {
    if (tls_) [[unlikely]] {
      if (!tls_->established()) {
        continue_handshake(events);
        return;
      }
      events = tls_->map_events(events);  // SSL may need the other direction to progress
    }
    // Edge-triggered: most events carry kWritable, but only a queue gives it work.
    if ((events & kWritable) && queued() != 0) {
      handle_writable();
      // Re-check after the write side ran: a fatal write error finishes the connection.
      if (state_ == State::kDone) return;
    }
    if (events & kReadable) read_ready(events);
  } catch (const std::bad_alloc&) {
    // The connection's own buffers (a tail for a large frame or head), on_drain, or the
    // TLS handshake's protocol start. dispatch() handles on_data itself; whatever is left
    // of a cork here was never flushed and belongs to this connection alone.
    if (ctx_.corked == this) ctx_.corked = nullptr;
    uncork();
    ctx_.cork.clear();
    out_of_memory();
  }
}

// Any event may advance the handshake (it reads and writes). Once it is done, the protocol
// starts, and what the client sent right behind its Finished (a TLS 1.3 client's request
// can share the segment) is read now: no new edge would announce it.
void Connection::continue_handshake(uint32_t events) {
  if (state_ != State::kOpen) {
    if (state_ == State::kLingering) discard_input();
    return;
  }
  switch (tls_->handshake()) {
    case TlsStream::Handshake::kAgain:
      return;
    case TlsStream::Handshake::kFailed:
      WSEDGE_LOG(kDebug, "%.*s: TLS handshake failed: %s", static_cast<int>(peer_address().size()),
                 peer_address().data(), tls_->last_error());
      if (tls_->answered_plain_http()) {
        shut_write();  // linger so the clear-text 400 is read, not reset by unread input
      } else {
        finish(TcpEnd::kTlsFailed);
      }
      return;
    case TlsStream::Handshake::kDone:
      break;
  }
  ctx_.loop.disarm(timer_);
  protocol_->on_start(*this);
  if (state_ == State::kOpen) handle_readable(events | kReadable);
}

// In line in handle_readable(), its one caller: every read goes through both.
[[gnu::always_inline]] inline void Connection::dispatch(std::span<uint8_t> data, bool from_tail) {
  ctx_.corked = this;
  // Sends append to the cork in line (Transport::send) unless output is queued already:
  // then they queue behind it, in order.
  if (queued() == 0) thread_cork = {this, &ctx_.cork};
  size_t consumed = 0;
  try {
    Consumed r = protocol_->on_data(*this, data);
    consumed = r.bytes;
    // The hijack: the old protocol's callback has returned, so it goes now, and the bytes
    // behind the request head belong to the new one.
    while (r.next != nullptr) {
      protocol_ = std::move(r.next);
      protocol_->on_start(*this);
      if (consumed == data.size() || state_ != State::kOpen) break;
      r = protocol_->on_data(*this, data.subspan(consumed));
      consumed += r.bytes;
    }
  } catch (const std::bad_alloc&) {
    // Still corked: the last words leave after the answers the protocol gave before it
    // failed, and the rest of the input is never parsed.
    consumed = data.size();
    out_of_memory();
  }
  ctx_.corked = nullptr;
  uncork();
  flush_cork();
  if (state_ != State::kOpen) {
    // Closing: no more input is parsed, so a partial frame or head kept for later (up to
    // a whole frame's worth) is freed now, not when the linger ends.
    release_input();
  } else if (from_tail) {
    pending_->tail.consume(consumed);
  } else if (consumed < data.size()) {
    pending().tail.append(data.subspan(consumed));
  }
  trim();
}

void Connection::handle_readable(uint32_t events) {
  read_ready(events);
}

inline void Connection::read_ready(uint32_t events) {
  if (state_ == State::kLingering) {
    discard_input();
    return;
  }
  if (state_ != State::kOpen) return;  // flushing: input is no longer wanted, nor read
  for (;;) {
    if (queued() > ctx_.options.high_water) {
      // Backpressure: the peer is not reading what we send. Leave its input in the kernel
      // (the TCP window then stalls it) until handle_writable drains the queue.
      read_paused_ = true;
      return;
    }
    bool into_tail = pending_ && (!pending_->tail.empty() || pending_->expect > ctx_.recv_size);
    uint8_t* dst;
    size_t cap;
    if (into_tail) {
      Buffer& tail = pending_->tail;
      dst = tail.prepare(std::max(pending_->expect, kMinTailRead));
      cap = tail.writable();
    } else {
      dst = ctx_.recv.get();
      cap = ctx_.recv_size;
    }
    IoResult r = read_in(dst, cap);
    if (r.status == IoStatus::kAgain) return;
    if (r.status != IoStatus::kOk) {
      if (r.status == IoStatus::kError) {
        WSEDGE_LOG(kDebug, "%.*s: read: %s", static_cast<int>(peer_address().size()),
                   peer_address().data(), std::strerror(r.err));
      }
      finish(ended_by(r));  // EOF or reset: the peer is gone
      return;
    }
    std::span<uint8_t> data{dst, r.bytes};
    if (pending_) {
      pending_->expect = 0;
      if (into_tail) {
        pending_->tail.commit(r.bytes);
        data = pending_->tail.mutable_view();
      }
    }
    dispatch(data, into_tail);
    if (state_ != State::kOpen) return;  // the protocol closed the connection
    if (r.bytes == cap) continue;
    // A short read means the socket is drained (edge-triggered: no syscall just to see
    // EAGAIN) — unless the peer also hung up, whose EOF no new edge will announce. A
    // plain FIN (kPeerFin) is that EOF already; anything else, read to learn what it is.
    // Over TLS a short read also means drained (TlsStream::read stops only at WANT_READ),
    // except when a close_notify or an error sat right behind the bytes: read it now.
    if (tls_ && tls_->more_to_read()) continue;
    if (events & kPeerFin) {
      finish(ended_by(IoResult::closed()));
      return;
    }
    if (!(events & kHangup)) return;
  }
}

// The cork could not grow: what it holds of this connection's answers goes nowhere, and
// the connection fails alone (Transport::send never throws at its caller).
void Connection::cork_failed() {
  ctx_.cork.clear();
  drop_out_of_memory();
}

// Transport::send while not corked in line: outside on_data, behind a queue, closing, or
// an answer too large to copy into the cork.
void Connection::send_now(std::span<const uint8_t> a, std::span<const uint8_t> b) {
  if (state_ != State::kOpen) return;  // after close(), nothing new goes out
  if (ctx_.corked == this && queued() == 0) {
    if (tls_) [[unlikely]] {
      // TLS joins a send into one record anyway: cork it, as every other answer.
      try {
        ctx_.cork.append(a, b);
      } catch (const std::bad_alloc&) {
        cork_failed();
      }
      return;
    }
    // What the cork holds of this on_data goes first; then this answer, uncopied.
    if (!ctx_.cork.empty() && !write_cork()) return;
  }
  if (queued() > 0) {
    queue(a, b, 0);
    return;
  }
  if (tls_) [[unlikely]] {
    send_tls(a, b);
    return;
  }
  iovec iov[2] = {{const_cast<uint8_t*>(a.data()), a.size()},
                  {const_cast<uint8_t*>(b.data()), b.size()}};
  IoResult r = writev_some(fd_, iov, b.empty() ? 1 : 2);
  if (r.status == IoStatus::kError || r.status == IoStatus::kClosed) {
    finish(TcpEnd::kPeerReset);
    return;
  }
  size_t written = r.status == IoStatus::kOk ? r.bytes : 0;
  if (written < a.size() + b.size()) queue(a, b, written);
}

// One SSL_write of a+b joined, so a frame header and its payload become one TLS record
// (two SSL_writes would be two records: 22 more bytes and a second MAC on the wire).
void Connection::send_tls(std::span<const uint8_t> a, std::span<const uint8_t> b) {
  std::span<const uint8_t> bytes = a;
  Buffer& join = ctx_.tls_join;
  if (!b.empty()) {
    try {
      join.append(a);
      join.append(b);
    } catch (const std::bad_alloc&) {
      join.clear();
      drop_out_of_memory();
      return;
    }
    bytes = join.view();
  }
  IoResult r = tls_->write(bytes.data(), bytes.size());
  note_memory(join.readable());  // as the cork: large only after a large send
  join.clear();
  if (r.status == IoStatus::kError || r.status == IoStatus::kClosed) {
    finish(TcpEnd::kPeerReset);
    return;
  }
  size_t written = r.status == IoStatus::kOk ? r.bytes : 0;
  if (written < a.size() + b.size()) queue(a, b, written);
}

// Appends what is left of a+b after `skip` bytes to the output queue.
void Connection::queue(std::span<const uint8_t> a, std::span<const uint8_t> b, size_t skip) {
  // From now on sends queue behind these bytes, in order: none may skip ahead in the cork.
  uncork();
  size_t wanted = queued() + a.size() + b.size() - skip;
  if (wanted > ctx_.options.max_send_queue) {
    overflow(wanted);
    return;
  }
  try {
    Buffer& out = pending().out;
    // Room for the whole remainder first, so a failure leaves none of it half-queued.
    out.prepare(wanted - queued());
    if (skip < a.size()) {
      out.append(a.subspan(skip));
      out.append(b);
    } else {
      out.append(b.subspan(skip - a.size()));
    }
  } catch (const std::bad_alloc&) {
    drop_out_of_memory();  // part of this send may be on the wire already: mid-frame
    return;
  }
  if (pending_->out.readable() > ctx_.options.high_water) above_high_ = true;
}

// Backpressure (the high-water mark) stops our reading, so only a producer that ignores it
// gets here: a broadcast to a member that reads nothing, a timer that sends regardless.
// Dropped, not closed with a code: a close frame would queue behind bytes the peer is not
// reading, and waiting for it would hold the whole queue for the close grace. The peer's
// protocol hears on_disconnect (a WebSocket reports 1006), and the queue is freed now.
void Connection::overflow(size_t wanted) {
  WSEDGE_LOG(kWarn, "%.*s: send queue would reach %zu bytes (limit %zu): dropping the connection",
             static_cast<int>(peer_address().size()), peer_address().data(), wanted,
             ctx_.options.max_send_queue);
  ++ctx_.send_queue_overflows;
  finish(TcpEnd::kQueueOverflow);
  if (pending_) {
    note_memory(pending_->out.capacity());
    pending_->out.release();
  }
}

void Connection::out_of_memory() {
  note_out_of_memory();
  // Closing already, or mid-TLS-handshake (no protocol has spoken yet): nothing to say.
  if (state_ != State::kOpen || (tls_ && !tls_->established())) {
    finish(TcpEnd::kOutOfMemory);
    return;
  }
  try {
    protocol_->on_out_of_memory(*this);
    close();  // the last words go out, then the half-close; input is no longer parsed
  } catch (const std::bad_alloc&) {
    finish(TcpEnd::kOutOfMemory);  // not even that fits (the words, the linger timer): drop
  }
}

void Connection::drop_out_of_memory() {
  note_out_of_memory();
  finish(TcpEnd::kOutOfMemory);
  if (pending_) {
    note_memory(pending_->out.capacity());
    pending_->out.release();
  }
}

void Connection::note_out_of_memory() {
  // Memory runs out for many connections at once: one line a second, with the count.
  ++ctx_.out_of_memory;
  int64_t now = ctx_.loop.now_ms();
  if (now - ctx_.out_of_memory_log_ms < 1000) return;
  WSEDGE_LOG(kWarn, "%.*s: out of memory: closing the connection (%llu such since the last line)",
             static_cast<int>(peer_address().size()), peer_address().data(),
             static_cast<unsigned long long>(ctx_.out_of_memory - ctx_.out_of_memory_logged));
  ctx_.out_of_memory_logged = ctx_.out_of_memory;
  ctx_.out_of_memory_log_ms = now;
}

inline bool Connection::write_cork() {
  Buffer& cork = ctx_.cork;
  if (state_ == State::kDone) {
    cork.clear();
    return false;
  }
  IoResult r = write_bytes(cork.data(), cork.readable());
  if (r.status == IoStatus::kError || r.status == IoStatus::kClosed) {
    cork.clear();
    finish(TcpEnd::kPeerReset);
    return false;
  }
  size_t written = r.status == IoStatus::kOk ? r.bytes : 0;
  if (written < cork.readable()) queue(cork.view().subspan(written), {}, 0);
  // A large send leaves the cork large for the next callbacks: given back once large
  // sends stop (small ones after it must not keep it warm, so the capacity is not asked).
  note_memory(cork.readable());
  cork.clear();
  return state_ != State::kDone;  // queue() may have dropped the connection
}

void Connection::flush_cork() {
  if (!ctx_.cork.empty()) write_cork();
  // close() inside the callback left the rest to us, whether or not it sent anything.
  if (flushing()) continue_close();
}

size_t Connection::buffered_amount() const {
  return queued();
}

bool Connection::write_out() {
  Buffer& out = pending_->out;
  while (!out.empty()) {
    IoResult r = write_bytes(out.data(), out.readable());
    if (r.status == IoStatus::kAgain) return true;
    if (r.status != IoStatus::kOk) {
      finish(TcpEnd::kPeerReset);
      return false;
    }
    out.consume(r.bytes);
  }
  note_memory(out.capacity());
  out.release();  // an idle connection keeps no output buffer
  return true;
}

void Connection::handle_writable() {
  if (state_ == State::kDone || state_ == State::kLingering || queued() == 0) return;
  if (!write_out()) return;
  if (flushing()) {
    if (queued() == 0) flushed();
    return;
  }
  if (above_high_ && queued() <= ctx_.options.high_water / 2) {
    above_high_ = false;
    protocol_->on_drain(*this);
    if (state_ != State::kOpen) return;
  }
  if (read_paused_ && queued() <= ctx_.options.high_water / 2) {
    // Edge-triggered: the input that waited in the kernel will announce nothing new.
    read_paused_ = false;
    handle_readable(0);
    return;  // handle_readable ran a dispatch, which trims
  }
  trim();
}

void Connection::close() {
  begin_close(State::kFlushing);
}

void Connection::close_peer_finished() {
  begin_close(State::kFlushingFinal);
}

void Connection::begin_close(State flushing) {
  if (state_ != State::kOpen) return;
  state_ = flushing;
  uncork();  // sends after close() are dropped (send_now)
  // Inside this connection's callback, flush_cork() goes on once the sends are out (and
  // dispatch() frees the input the callback may still be reading).
  if (ctx_.corked != this) {
    release_input();
    continue_close();
  }
}

void Connection::release_input() {
  if (!pending_) return;
  note_memory(pending_->tail.capacity());
  pending_->tail.release();
  pending_->expect = 0;
  trim();
}

void Connection::continue_close() {
  if (queued() == 0) {
    flushed();
    return;
  }
  // handle_writable() calls flushed() once the queue is out; a peer that stops reading
  // is cut off when the timer fires.
  ctx_.loop.arm_after(timer_, ctx_.options.linger_ms);
}

void Connection::flushed() {
  if (state_ == State::kFlushingFinal) {
    finish(TcpEnd::kClosedAtOnce);  // the peer sends nothing more: a plain close is clean
  } else {
    shut_write();
  }
}

void Connection::shut_write() {
  // Half-close, then read until the peer's EOF: closing with unread input would send a
  // RST, which can destroy our last bytes (a WebSocket close frame) before the peer reads
  // them (RFC 6455 §7.1.1 asks the server to close TCP first, and to do it cleanly).
  state_ = State::kLingering;
  uncork();
  ctx_.loop.arm_after(timer_, ctx_.options.linger_ms);  // a peer that never sends its EOF
  if (tls_) tls_->send_close_notify();  // TLS's own end of stream goes before the FIN
  if (::shutdown(fd_, SHUT_WR) != 0) {
    finish(TcpEnd::kPeerReset);
    return;
  }
  discard_input();
}

void Connection::discard_input() {
  uint8_t* scratch = ctx_.recv.get();
  for (;;) {
    IoResult r = read_some(fd_, scratch, ctx_.recv_size);
    if (r.status == IoStatus::kAgain) return;
    if (r.status != IoStatus::kOk) {
      finish(ended_by(r));
      return;
    }
  }
}

void Connection::abort() {
  finish(TcpEnd::kAborted);
}

TcpEnd Connection::ended_by(const IoResult& r) const {
  // read_some reports ECONNRESET as Closed with its errno: a reset all the same.
  if (r.status != IoStatus::kClosed || r.err != 0) return TcpEnd::kPeerReset;
  return state_ == State::kLingering ? TcpEnd::kHalfClosed : TcpEnd::kPeerEof;
}

void Connection::finish(TcpEnd how) {
  if (state_ == State::kDone) return;
  state_ = State::kDone;
  end_ = how;
  uncork();
  ctx_.loop.disarm(timer_);
  // RFC 8446 §6.1 / RFC 5246 §7.2.1: close_notify before the TCP close (sent once; not
  // after a failure, nor before the handshake finished).
  if (tls_) tls_->send_close_notify();
  ctx_.loop.remove_and_close(fd_, this);
  fd_ = -1;
  // The buffers stay until the destructor: the protocol may be iterating over the tail.
  // Told at the end of the iteration, never from inside one of the protocol's own
  // callbacks or while another connection's callback iterates a list this one is in.
  auto tell = [this] {
    try {
      protocol_->on_disconnect(*this);
    } catch (const std::bad_alloc&) {
      note_out_of_memory();  // the application's farewell failed; the connection goes anyway
    }
    ctx_.owner.on_connection_closed(this);
  };
  try {
    ctx_.loop.defer(tell);
  } catch (const std::bad_alloc&) {
    // The loop's own list could not grow. Never thrown from here (finish runs inside
    // catch blocks); the connection is closed but stays with its owner until shutdown.
    WSEDGE_LOG(kError, "out of memory: a closed connection could not be released");
  }
}

void Connection::arm_timer(int64_t delay_ms) {
  if (state_ == State::kOpen) ctx_.loop.arm_after(timer_, delay_ms);
}

void Connection::disarm_timer() {
  if (state_ == State::kOpen) ctx_.loop.disarm(timer_);
}

void Connection::on_timer_fired(Timer* t) {
  auto* self = static_cast<Connection*>(t->arg());
  if (self->tls_ && !self->tls_->established() && self->state_ == State::kOpen) {
    WSEDGE_LOG(kDebug, "%.*s: TLS handshake timed out",
               static_cast<int>(self->peer_address().size()), self->peer_address().data());
    self->finish(TcpEnd::kTlsFailed);
    return;
  }
  if (self->state_ != State::kOpen) {
    // Close grace over: the peer never sent its EOF, or never took our last bytes.
    self->finish(self->state_ == State::kLingering ? TcpEnd::kLingerExpired
                                                   : TcpEnd::kFlushExpired);
    return;
  }
  try {
    self->protocol_->on_timer(*self);
  } catch (const std::bad_alloc&) {
    self->out_of_memory();
  }
}

}  // namespace wsedge::net
