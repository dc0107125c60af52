// net/connection.h — one accepted TCP connection: the Transport that protocols run on.
//
// Owned by a ConnectionOwner (the server), used on its loop thread only. Reads land in
// the loop's shared receive buffer; only bytes the protocol did not consume (half a frame,
// half a request head) are kept, in a per-connection tail allocated on demand and freed
// when empty — an idle connection owns no buffer at all, and its struct stays small (the
// ConnectionContext carries everything its siblings share). Writes go straight to the
// kernel; sends made inside one on_data are corked into one syscall; only what the kernel
// refuses is queued, and while the queue is above the high-water mark the connection
// stops reading (backpressure) instead of growing without bound. The queue has a hard cap
// too (max_send_queue), for a producer that ignores backpressure: a send that would pass
// it drops the connection at once and frees the queue.
// Out of memory: std::bad_alloc thrown by the protocol's callbacks or the connection's own
// buffers never leaves the connection — the protocol is asked for last words
// (Protocol::on_out_of_memory; if that throws too, the connection is dropped) and the
// connection closes (or, if output could not be queued, is dropped); the loop goes on.
// Over TLS (use_tls) the same paths run through a TlsStream: the handshake completes before
// the protocol starts, and every read and write goes through SSL instead of the syscall —
// a plain connection pays one predictable branch per I/O call for it (docs/tls.md).
#pragma once

#include <cstdint>
#include <memory>
#include <span>

#include "core/buffer.h"
#include "core/memory_return.h"
#include "core/transport.h"
#include "net/reactor.h"
#include "net/socket.h"
#include "net/tls.h"

namespace wsedge::net {

class Connection;

class ConnectionOwner {
 public:
  // The connection is finished (fd closed, protocol told). Called at the end of the loop
  // iteration, so the owner may delete it right here.
  virtual void on_connection_closed(Connection* c) = 0;

 protected:
  ~ConnectionOwner() = default;
};

struct ConnectionOptions {
  size_t high_water = 4u << 20;  // stop reading / tell the protocol past this many queued bytes
  // Hard cap on queued bytes: a send that would pass it drops the connection (no close
  // frame: a peer that reads nothing would never see one) and frees the queue.
  size_t max_send_queue = 64u << 20;
  int64_t linger_ms = 2000;           // closing: longest wait for the queue to drain, then for EOF
  int64_t tls_handshake_ms = 10'000;  // TLS: the handshake must complete within this
  // The owner's limit on connections open at once (wsedge::Server's listeners shed past it);
  // Connection itself does not read it.
  size_t max_connections = SIZE_MAX;
};

// What every connection of one owner on one loop shares (one loop = one thread): the
// loop, the owner, the options, the receive buffer and the cork buffer.
struct ConnectionContext {
  static constexpr size_t kRecvSize = 256 * 1024;

  ConnectionContext(Reactor& reactor, ConnectionOwner& connection_owner,
                    const ConnectionOptions& connection_options = {}, size_t recv_bytes = kRecvSize)
      : loop(reactor),
        owner(connection_owner),
        options(connection_options),
        recv(new uint8_t[recv_bytes]),
        recv_size(recv_bytes) {}

  Reactor& loop;
  ConnectionOwner& owner;
  ConnectionOptions options;
  std::unique_ptr<uint8_t[]> recv;
  size_t recv_size;
  Buffer cork;                   // sends of the connection inside on_data
  Buffer tls_join;               // TLS: an uncorked send's two spans, made one record
  Connection* corked = nullptr;  // whose sends `cork` is collecting
  // Told when a connection frees a large buffer or the cork kept a large capacity, so the
  // owner can give the memory back to the system once large messages stop. May be null.
  MemoryReturn* memory_return = nullptr;
  // Connections dropped because a send would pass max_send_queue (overflow()).
  uint64_t send_queue_overflows = 0;
  // Out-of-memory failures, and the log's rate limit (one line a second at most).
  uint64_t out_of_memory = 0;
  uint64_t out_of_memory_logged = 0;
  int64_t out_of_memory_log_ms = INT64_MIN / 2;
};

class Connection final : public IoHandler, public Transport {
 public:
  // Takes ownership of fd (non-blocking). Call start() to register it with the loop.
  Connection(ConnectionContext& context, int fd);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Makes this a TLS connection (call before start()): the protocol starts once the
  // handshake is done, within ConnectionOptions::tls_handshake_ms or the connection closes.
  void use_tls(std::unique_ptr<TlsStream> tls) { tls_ = std::move(tls); }
  Result<void> start(std::unique_ptr<Protocol> protocol);
  int fd() const { return fd_; }
  Protocol* protocol() const { return protocol_.get(); }

  // Intrusive list links for the owner's registry (graceful shutdown walks it).
  Connection* prev = nullptr;
  Connection* next = nullptr;

  // Transport
  size_t buffered_amount() const override;
  size_t high_water_mark() const override { return ctx_.options.high_water; }
  // The hint lives with the tail it is about (a protocol that expects more leaves bytes
  // unconsumed), which keeps the connection itself at 120 bytes with the TLS pointer.
  void expect(size_t bytes) override { pending().expect = bytes; }
  void arm_timer(int64_t delay_ms) override;
  void disarm_timer() override;
  int64_t now_ms() const override { return ctx_.loop.now_ms(); }
  void close() override;
  void close_peer_finished() override;
  void abort() override;
  bool closing() const override { return state_ != State::kOpen; }
  std::string_view peer_address() const override;
  TcpEnd how_ended() const override { return end_; }

 private:
  void send_now(std::span<const uint8_t> a, std::span<const uint8_t> b) override;
  void cork_failed() override;
  void uncork() {
    if (thread_cork.owner == this) thread_cork.owner = nullptr;
  }
  // kFlushing: close() waits for the queue to empty, then half-closes and lingers.
  // kFlushingFinal: close_peer_finished() waits for the queue to empty, then closes.
  enum class State : uint8_t { kOpen, kFlushing, kFlushingFinal, kLingering, kDone };
  // Only a connection with a partial message in or refused bytes out has these.
  struct Pending {
    Buffer tail;        // unconsumed input
    Buffer out;         // output the kernel refused
    size_t expect = 0;  // the protocol's read-size hint for the next read
  };

  void on_io(uint32_t events) override;
  void continue_handshake(uint32_t events);
  // The I/O seam: the socket for a plain connection, SSL for a TLS one.
  IoResult read_in(uint8_t* dst, size_t cap) {
    if (tls_) [[unlikely]]
      return tls_->read(dst, cap);
    return read_some(fd_, dst, cap);
  }
  IoResult write_bytes(const uint8_t* data, size_t len) {
    if (tls_) [[unlikely]]
      return tls_->write(data, len);
    return write_some(fd_, data, len);
  }
  void send_tls(std::span<const uint8_t> a, std::span<const uint8_t> b);
  static void on_timer_fired(Timer* t);
  // The loop's bits; 0 when resuming after backpressure. The work is read_ready(), in line
  // in on_io (one call frame, its register saves and restores, fewer per read);
  // handle_readable() is the same for the rarer callers (a TLS handshake just done, the
  // queue drained after backpressure).
  void handle_readable(uint32_t events);
  [[gnu::always_inline]] inline void read_ready(uint32_t events);
  void handle_writable();
  void dispatch(std::span<uint8_t> data, bool from_tail);
  void flush_cork();
  // Writes the cork now (it holds only this connection's answers); queues what the kernel
  // refuses. False if the connection finished meanwhile. In line: flush_cork() runs it
  // after every on_data that answered.
  [[gnu::always_inline]] inline bool write_cork();
  bool write_out();  // false on a fatal write error (connection finished)
  void queue(std::span<const uint8_t> a, std::span<const uint8_t> b, size_t skip);
  void overflow(size_t wanted);  // the queue would pass max_send_queue: drop the connection
  // std::bad_alloc caught around this connection's work: last words through the owner,
  // then close; dropped if even they do not fit, or if the connection was closing anyway.
  void out_of_memory();
  // std::bad_alloc caught while keeping output (the cork, the queue): what went out may
  // end mid-frame, so nothing more can be said. Drop, and free the queue.
  void drop_out_of_memory();
  void note_out_of_memory();  // count and (rate-limited) log
  void begin_close(State flushing);
  void continue_close();  // closing, sends written: wait for the queue or go on
  void flushed();         // the queue emptied while closing: half-close or close
  void shut_write();
  void discard_input();
  void release_input();  // closing: the unconsumed input tail is freed (not while in use)
  // The connection is done: closed, the protocol told (deferred). `how` is kept for
  // how_ended(); only the first call counts.
  void finish(TcpEnd how);
  TcpEnd ended_by(const IoResult& r) const;  // a read's EOF or error, in this state
  Pending& pending();
  size_t queued() const { return pending_ ? pending_->out.readable() : 0; }
  bool flushing() const { return state_ == State::kFlushing || state_ == State::kFlushingFinal; }
  // Frees pending_ once both buffers are empty. Inline: called after every dispatch, and
  // an idle or keeping-up connection has no pending_ at all.
  void trim() {
    if (pending_ != nullptr) [[unlikely]]
      trim_pending();
  }
  void trim_pending();
  // `capacity` bytes were just freed, or stay reserved in a shared buffer (the cork): a
  // large figure tells ctx_.memory_return.
  void note_memory(size_t capacity) {
    if (capacity > kLargeBuffer && ctx_.memory_return != nullptr) [[unlikely]]
      ctx_.memory_return->note_large(ctx_.loop.now_ms());
  }
  static constexpr size_t kLargeBuffer = 64 * 1024;

  ConnectionContext& ctx_;
  std::unique_ptr<Protocol> protocol_;
  std::unique_ptr<Pending> pending_;
  std::unique_ptr<TlsStream> tls_;  // null: a plain TCP connection
  Timer timer_;
  int fd_;
  State state_ = State::kOpen;
  bool read_paused_ = false;  // backpressure: input left unread while out is over high water
  bool above_high_ = false;   // on_drain owed once out falls below half the mark
  TcpEnd end_ = TcpEnd::kOpen;
};

// The accept path every owner shares. A Connection on `fd`, which it owns from here on; out
// of memory, fd is closed and std::bad_alloc thrown (the listener logs it and goes on).
std::unique_ptr<Connection> make_connection(ConnectionContext& context, int fd);
// An owner's registry of live connections is an intrusive list through prev/next, `head`
// its first element: link puts a started connection at the head, unlink takes one out.
void link_connection(Connection*& head, Connection* c);
void unlink_connection(Connection*& head, Connection* c);

}  // namespace wsedge::net
