// bench/load/conn.h — one client connection: connect, upgrade, send, verify, close.
//
// A Conn is owned by its worker (which outlives it), registered with the worker's reactor
// while its fd is open, and reused for the next cycle in connect mode. Hot path per round
// trip: one read (into the loop's buffer, verified in place) and one writev of pre-masked
// frames from the pool; no allocation unless the kernel refuses bytes (then they wait in
// out_). Send timestamps sit in a ring: echoes return in send order. With permessage-deflate
// agreed, send_frames() takes the compressed path instead (one flag test): cached frames
// without client context takeover, else this connection's own deflater. With wss:// the
// same steps run over a TlsClient (TLS handshake first, in kTlsHandshaking); every socket
// call that differs tests tls_ once, so the plain path keeps its syscalls. Loop thread only.
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "bench/load/client_handshake.h"
#include "bench/load/echo_reader.h"
#include "bench/load/loop_context.h"
#include "bench/load/tls_client.h"
#include "core/buffer.h"
#include "core/clock.h"
#include "net/socket.h"

namespace wsedge::load {

class Conn final : public net::IoHandler {
 public:
  enum class State : uint8_t {
    kIdle,
    kConnecting,
    kTlsHandshaking,
    kHandshaking,
    kOpen,
    kClosing,
    kAwaitEof
  };
  static constexpr int64_t kOpenTimeoutMs = 10'000;
  static constexpr int64_t kCloseTimeoutMs = 3'000;
  // Loopback has ~28k ephemeral ports per source address; past this many connections each
  // block of them binds its own source address 127.0.0.2, .3, ... (IPv4 loopback only).
  static constexpr int kConnsPerSourceAddress = 20'000;

  void init(LoopContext* ctx, int global_index) {
    ctx_ = ctx;
    index_ = global_index;
  }
  State state() const { return state_; }
  bool open() const { return state_ == State::kOpen; }
  bool live() const { return fd_ >= 0; }
  int64_t started_ns() const { return started_ns_; }

  // Starts a connect; failures are reported through the owner like any other.
  void start();
  // Closes politely: close frame (raw: shut the write side), then wait for the peer.
  void begin_close();
  // The run is over (ctx->finishing, so nothing more is sent): begin_close() now if no
  // echo is owed, else once the last one has arrived (consume()).
  void close_when_drained() {
    if (!open() || ring_count_ == 0) begin_close();
  }
  // Closes the fd now, counting nothing (the run is over).
  void abort_quiet() { shut(); }

  // Queues the send time of one message (rate mode: its intended time) before send_frames.
  void push_time(int64_t t) {
    if (ring_count_ == ring_.size()) grow_ring();
    ring_[(ring_head_ + ring_count_) & (ring_.size() - 1)] = t;
    ++ring_count_;
  }
  // Writes n frames from the pool in one writev (timestamps pushed by the caller).
  bool send_frames(size_t n);

  void on_io(uint32_t events) override;

  // EchoReader sink.
  bool on_echo();
  void on_deflate_echo(bool compressed, uint64_t wire_bytes);
  bool on_ping(const uint8_t* data, size_t n);
  bool on_close(uint16_t code);
  void fail(ErrorKind kind, const char* fmt, long long a = 0, long long b = 0) {
    ctx_->stats.error(kind, fmt, a, b);
    shut();
  }

 private:
  static void on_timer(net::Timer* t) { static_cast<Conn*>(t->arg())->timed_out(); }
  void timed_out() {
    if (state_ == State::kConnecting || state_ == State::kTlsHandshaking ||
        state_ == State::kHandshaking)
      fail(ErrorKind::kTimeout, "opening handshake took over %lld ms", kOpenTimeoutMs);
    else if (server_closed_)
      shut();  // it closed, we answered, its TCP close never came: counted already
    else if (live())
      fail(ErrorKind::kTimeout, "close handshake took over %lld ms", kCloseTimeoutMs);
  }
  bool bind_source(int fd);
  void start_failed(const char* fmt, int err);  // fmt: the errno, then ECONNREFUSED
  int send_request();
  void start_tls();
  void tls_opening(uint32_t events);
  void tls_failed();
  IoResult tls_read(uint8_t* buf);
  void read_failed(int err);
  bool write_tls(const iovec* iov, int cnt, size_t total);
  void half_close();
  void build_upgrade_request();
  void on_readable(uint32_t events);
  bool consume(uint8_t* data, size_t n);
  size_t handshake(const uint8_t* data, size_t n);
  void on_opened();
  bool start_deflate();
  bool send_compressed(size_t n);
  bool send_deflated(size_t n);
  void on_eof(int err);
  bool write_control(ws::Opcode op, const uint8_t* payload, size_t n);
  bool write_iov(const iovec* iov, int cnt, size_t total);
  bool flush();
  void grow_ring();
  void shut();

  LoopContext* ctx_ = nullptr;
  int index_ = 0;
  int fd_ = -1;
  State state_ = State::kIdle;
  bool server_closed_ = false;  // the server sent a Close we did not start; answered
  net::Timer timer_{&Conn::on_timer, this};
  int64_t started_ns_ = 0;  // connect() time: handshake latency, connect-mode cycle time
  int64_t now_ns_ = 0;      // when the bytes being consumed were read
  char accept_[ws::kAcceptKeyLength] = {};
  std::string request_;  // the upgrade request, then the response head while it is partial
  Buffer out_;           // bytes the kernel refused; sent on the next writable edge
  EchoReader reader_;
  size_t tx_variant_ = 0;
  size_t replies_ = 0;  // echo mode: messages to send after this read
  // permessage-deflate, as agreed in the handshake (deflate_.enabled false: plain frames).
  DeflateAgreement deflate_;
  const CompressedPool* compressed_ = nullptr;  // client_no_context_takeover: cached frames
  // Context takeover: each message's output depends on the ones before, so this connection
  // compresses its own (~262 KiB of zlib state at window 15; docs/wsload.md). Allocated
  // when the handshake agrees, freed by shut().
  std::unique_ptr<ws::MessageDeflater> deflater_;
  std::unique_ptr<ws::MessageInflater> inflater_;
  std::unique_ptr<TlsClient> tls_;  // wss://: this cycle's TLS state, freed by shut()
  std::vector<int64_t> ring_;       // power-of-two capacity
  size_t ring_head_ = 0, ring_count_ = 0;
};

// ---------------------------------------------------------------------------------------

inline bool Conn::bind_source(int fd) {
  const Options& o = ctx_->opt;
  const auto* dst = reinterpret_cast<const sockaddr_in*>(&o.addr);
  if (o.connections <= kConnsPerSourceAddress || dst->sin_family != AF_INET ||
      (ntohl(dst->sin_addr.s_addr) >> 24) != 127)
    return true;
  int one = 1;  // pick the port at connect(), per destination, not at bind()
  (void)setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
  sockaddr_in src{};
  src.sin_family = AF_INET;
  src.sin_addr.s_addr = htonl((127u << 24) | (2u + index_ / kConnsPerSourceAddress));
  return bind(fd, reinterpret_cast<const sockaddr*>(&src), sizeof src) == 0;
}

inline void Conn::start() {
  const Options& o = ctx_->opt;
  started_ns_ = mono_ns();
  server_closed_ = false;  // connect mode starts the same Conn again
  fd_ = socket(o.addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd_ < 0) return start_failed("socket: errno %lld", errno);
  // Connect mode writes the request and later the close frame, each after the peer has
  // answered (so ACKed) everything before it: Nagle never holds them, and the syscall
  // would be a sixth of the client's cost per handshake.
  // TLS writes its Finished and then the request back to back: Nagle would hold the
  // second until the first is ACKed.
  if (o.mode != Mode::kConnect || o.tls.enabled) (void)net::set_nodelay(fd_);
  if (!bind_source(fd_)) return start_failed("bind: errno %lld", errno);
  if (connect(fd_, reinterpret_cast<const sockaddr*>(&o.addr), o.addr_len) != 0 &&
      errno != EINPROGRESS)
    return start_failed("connect: errno %lld (%lld = refused)", errno);
  if (!ctx_->reactor->add(fd_, this).ok()) return start_failed("epoll_ctl: errno %lld", errno);
  state_ = State::kConnecting;
  ctx_->reactor->arm_after(timer_, kOpenTimeoutMs);
  if (o.tls.enabled) return start_tls();
  // A loopback connect has usually completed inside connect() (the kernel ran both ends'
  // SYN/SYN-ACK/ACK before returning), so try at once; if it is still under way the write
  // says EAGAIN and the first writable edge tries again.
  if (!o.raw) {
    if (int err = send_request(); err != 0)
      return start_failed("connect: errno %lld (%lld = refused)", err);
  }
}

// start() could not get under way: the connection never went live, so the owner hears
// only that it settled (no on_closed).
inline void Conn::start_failed(const char* fmt, int err) {
  ctx_->stats.error(ErrorKind::kConnect, fmt, err, ECONNREFUSED);
  if (fd_ >= 0) ctx_->reactor->remove_and_close(fd_, this);
  fd_ = -1;
  state_ = State::kIdle;
  ctx_->reactor->disarm(timer_);
  std::string().swap(request_);
  tls_.reset();
  ctx_->owner->on_settled(*this, false);
}

inline void Conn::on_io(uint32_t events) {
  if (tls_) [[unlikely]] {
    if (state_ == State::kTlsHandshaking) return tls_opening(events);
    // OpenSSL may need a write to go on reading (a KeyUpdate answer on a full socket).
    if (events & net::kWritable) events |= net::kReadable;
  }
  if (state_ == State::kConnecting) {
    // Error and hang-up come with every bit set; only then is SO_ERROR worth a syscall.
    int err = (events & net::kHangup) ? net::socket_error(fd_) : 0;
    if (err == 0 && !(events & net::kWritable)) return;
    if (err == 0 && !ctx_->opt.raw) err = send_request();
    if (err != 0) {
      ctx_->stats.error(ErrorKind::kConnect, "connect: errno %lld (%lld = refused)", err,
                        ECONNREFUSED);
      return shut();
    }
    if (ctx_->opt.raw) on_opened();
    if (!live() || state_ == State::kConnecting) return;
  }
  if ((events & net::kWritable) && !out_.empty() && !flush()) return;
  if (events & (net::kReadable | net::kHangup)) on_readable(events);
}

// Returns 0, or the errno that says the connection failed.
inline int Conn::send_request() {
  if (request_.empty()) build_upgrade_request();
  const auto* req = reinterpret_cast<const uint8_t*>(request_.data());
  IoResult r = tls_ ? tls_->write(req, request_.size())
                    : net::write_some(fd_, request_.data(), request_.size());
  if (r.status == IoStatus::kAgain) {
    if (!tls_) return 0;  // still connecting: the writable edge retries
    r = IoResult::ok(0);  // TLS is connected, the socket only full: out_ keeps it all
  }
  if (r.status != IoStatus::kOk) return r.err != 0 ? r.err : ECONNRESET;
  state_ = State::kHandshaking;
  // A fresh socket takes ~200 bytes whole; were it not to, the rest waits in out_.
  if (r.bytes < request_.size()) out_.append(request_.data() + r.bytes, request_.size() - r.bytes);
  request_.clear();  // from here on it collects a response head that arrives in pieces
  return 0;
}

inline void Conn::build_upgrade_request() {
  uint8_t nonce[kNonceLength];
  for (size_t i = 0; i < kNonceLength; i += 8) {
    uint64_t r = ctx_->rng.next();
    std::memcpy(nonce + i, &r, 8);
  }
  char key[kKeyLength];
  base64_encode(nonce, kNonceLength, key);
  ws::compute_accept_key({key, kKeyLength}, accept_);
  request_ = build_request(ctx_->opt.path, ctx_->opt.host_header, {key, kKeyLength},
                           {ctx_->opt.deflate, ctx_->opt.deflate_no_context_takeover});
}

// Out of line, with one call of consume() for both paths: the frame reader is then
// inlined here once (two callers and GCC stops inlining it: +10% instructions per message
// on the plain path, measured with callgrind; docs/wsload.md).
[[gnu::noinline]] inline void Conn::on_readable(uint32_t events) {
  uint8_t* buf = ctx_->rx.get();
  for (;;) {
    IoResult r = tls_ ? tls_read(buf) : net::read_some(fd_, buf, ctx_->rx_size);
    if (r.status == IoStatus::kAgain) return;
    if (r.status == IoStatus::kClosed) return on_eof(r.err);
    if (r.status == IoStatus::kError) return read_failed(r.err);
    now_ns_ = mono_ns();  // one clock read per read: every echo in it arrived together
    if (!consume(buf, r.bytes)) return;
    if (r.bytes == ctx_->rx_size) continue;
    // TLS reads until WANT_READ, so a short read is a drained socket, unless an EOF or
    // error waits behind the bytes it returned.
    if (tls_) [[unlikely]] {
      if (tls_->more_to_read()) continue;
      return;
    }
    // A short read means the socket is drained. A FIN behind the data has had its edge
    // already: take it as read when the loop says nothing else is pending (kPeerFin),
    // else read on to learn whether it is an EOF or a reset.
    if (events & net::kPeerFin) return on_eof(0);
    if (!(events & net::kHangup)) return;
  }
}

// Returns false when the connection is gone.
[[gnu::always_inline]] inline bool Conn::consume(uint8_t* data, size_t n) {
  if (state_ == State::kHandshaking) {
    size_t used = handshake(data, n);
    if (!live() || used == n) return live();
    data += used;
    n -= used;
  }
  // After the server's Close (answered): nothing more is a frame of ours; read on, to
  // see its TCP close (RFC 6455 §5.5.1: no data follows a Close).
  if (server_closed_) [[unlikely]]
    return true;
  replies_ = 0;
  if (!reader_.feed(data, n, *this)) return live();  // failed, or the server closed
  if (replies_ > 0 && open()) {
    for (size_t i = 0; i < replies_; ++i)
      push_time(now_ns_);
    return send_frames(replies_);
  }
  if (ctx_->finishing && ring_count_ == 0 && open()) begin_close();  // drained
  return live();
}

// Collects the response head; returns the bytes of data it used.
inline size_t Conn::handshake(const uint8_t* data, size_t n) {
  const size_t had = request_.size();
  request_.append(reinterpret_cast<const char*>(data), n);
  size_t end = request_.find("\r\n\r\n", had >= 3 ? had - 3 : 0);
  if (end == std::string::npos) {
    if (request_.size() > kMaxResponseHead)
      fail(ErrorKind::kHandshake, "response head over %lld bytes", kMaxResponseHead);
    return n;
  }
  end += 4;
  ResponseCheck c =
      check_response(std::string_view(request_).substr(0, end), {accept_, ws::kAcceptKeyLength},
                     {ctx_->opt.deflate, ctx_->opt.deflate_no_context_takeover});
  if (c.error) {
    fail(ErrorKind::kHandshake, c.error);
    return n;
  }
  deflate_ = c.deflate;
  if (deflate_.enabled && !start_deflate()) return n;
  std::string().swap(request_);  // an idle connection keeps no handshake memory
  on_opened();
  return end - had;
}

inline void Conn::on_opened() {
  const Options& o = ctx_->opt;
  state_ = State::kOpen;
  ctx_->reactor->disarm(timer_);
  ctx_->stats.connected.add(1);
  tx_variant_ = static_cast<size_t>(index_) % ctx_->pool->variants();
  if (deflate_.enabled)
    reader_.reset(ctx_->pool, tx_variant_, o.raw, o.binary, inflater_.get(), &ctx_->inflated);
  else
    reader_.reset(ctx_->pool, tx_variant_, o.raw, o.binary);
  // Idle mode has no messages; its latency is the opening handshake's.
  if (o.mode == Mode::kIdle)
    ctx_->stats.latency.record(static_cast<uint64_t>(mono_ns() - started_ns_));
  ctx_->owner->on_settled(*this, true);
  if (!live()) return;
  if (o.mode == Mode::kConnect) return begin_close();
  if (o.mode == Mode::kEcho) {
    const int64_t now = mono_ns();
    for (int i = 0; i < o.inflight; ++i)
      push_time(now);
    send_frames(static_cast<size_t>(o.inflight));
  }
}

inline bool Conn::on_echo() {
  if (ring_count_ == 0) {
    fail(ErrorKind::kMismatch, "an echo of a message that was never sent");
    return false;
  }
  const int64_t now = now_ns_;
  const int64_t sent = ring_[ring_head_];
  ring_head_ = (ring_head_ + 1) & (ring_.size() - 1);
  --ring_count_;
  if (state_ != State::kOpen) return true;  // in flight when the run ended: not counted
  ctx_->stats.messages_total.add(1);
  if (ctx_->window.contains(now)) {
    ctx_->stats.messages_window.add(1);
    ctx_->stats.latency.record(static_cast<uint64_t>(now > sent ? now - sent : 0));
  }
  if (ctx_->opt.mode == Mode::kEcho && !ctx_->finishing) ++replies_;
  return true;
}

// The handshake agreed permessage-deflate: set up both directions as agreed (RFC 7692 §7.1).
// Runs before on_opened(), so a failure here still settles the connection as failed.
inline bool Conn::start_deflate() {
  if (deflate_.client_no_context_takeover) {
    compressed_ = ctx_->compressed_pool(deflate_.client_max_window_bits);
    if (!compressed_) {
      fail(ErrorKind::kProtocol, "cannot compress the messages (zlib failed)");
      return false;
    }
  } else {
    // §7.1.2.2: compress with at most the window the server agreed to hold.
    deflater_ = std::make_unique<ws::MessageDeflater>(ws::DeflaterOptions{
        deflate_.client_max_window_bits, kDeflateMemLevel, kDeflateLevel, false});
  }
  // §7.1.2.1 / §7.1.1.1: the server's window, and whether its messages stand alone (then
  // an echo referring to an earlier one fails to inflate and is caught).
  inflater_ = std::make_unique<ws::MessageInflater>(
      ws::InflaterOptions{deflate_.server_max_window_bits, deflate_.server_no_context_takeover});
  ctx_->stats.deflate_agreed.add(1);
  return true;
}

inline void Conn::on_deflate_echo(bool compressed, uint64_t wire_bytes) {
  Stats& st = ctx_->stats;
  st.deflate_echoes.add(1);
  if (compressed) st.deflate_echoes_compressed.add(1);
  st.deflate_echo_bytes.add(ctx_->pool->size());
  st.deflate_echo_wire.add(wire_bytes);
}

inline bool Conn::on_ping(const uint8_t* data, size_t n) {
  // RFC 6455 §5.5.2: a Pong with the Ping's application data answers every Ping.
  return write_control(ws::Opcode::kPong, data, n);
}

inline bool Conn::on_close(uint16_t code) {
  if (state_ == State::kClosing) {
    state_ = State::kAwaitEof;  // RFC 6455 §7.1.1: the server closes TCP first
    return true;
  }
  if (state_ != State::kOpen) {
    fail(ErrorKind::kUnexpectedClose, "server sent close %lld", code);
    return false;
  }
  // A server under load should not close mid-run: counted as a failure. It is still
  // answered as the protocol asks. RFC 6455 §5.5.1: a Close we did not start is answered
  // with a Close, here echoing its code (none for 1005, which never goes on the wire).
  ctx_->stats.error(ErrorKind::kUnexpectedClose, "server sent close %lld", code);
  const uint8_t body[2] = {static_cast<uint8_t>(code >> 8), static_cast<uint8_t>(code)};
  (void)write_control(ws::Opcode::kClose, body, code == ws::close_code::kNoStatus ? 0 : 2);
  // RFC 6455 §7.1.1: then the server closes TCP first; we wait for it, at most the close
  // timeout, and send nothing more.
  server_closed_ = true;
  state_ = State::kAwaitEof;
  ctx_->reactor->arm_after(timer_, kCloseTimeoutMs);
  return false;  // nothing after its close is read as an echo
}

inline void Conn::on_eof(int err) {
  if (server_closed_) return shut();  // the failure is counted; its TCP close was awaited
  const bool clean = state_ == State::kAwaitEof || (ctx_->opt.raw && state_ == State::kClosing);
  if (!clean) {
    if (err != 0) return fail(ErrorKind::kReset, "connection reset (errno %lld)", err);
    return fail(ErrorKind::kUnexpectedClose, "EOF without a close handshake");
  }
  // The peer answers our close only after echoing what was sent before it (one ordered
  // stream), so anything still owed at EOF was lost.
  if (ring_count_ > 0)
    return fail(ErrorKind::kUnexpectedClose, "EOF with %lld echoes outstanding",
                static_cast<long long>(ring_count_));
  if (tls_) tls_->finish_quietly();
  if (ctx_->opt.reset_after_close) {
    // Everything is said and heard (our close was answered, the server's EOF read), so a
    // reset loses nothing; it releases the server's closed socket at once instead of
    // leaving it in TIME_WAIT for 60 s, where its expiry would be charged to later runs.
    const linger abortive{1, 0};
    (void)setsockopt(fd_, SOL_SOCKET, SO_LINGER, &abortive, sizeof abortive);
  }
  shut();
  if (ctx_->opt.mode == Mode::kConnect) ctx_->owner->on_cycle_done(*this);
}

inline void Conn::begin_close() {
  if (state_ != State::kOpen) return shut();
  state_ = State::kClosing;
  ctx_->reactor->arm_after(timer_, kCloseTimeoutMs);
  if (ctx_->opt.raw) {
    // Raw echo servers close when they read EOF: half-close, then verify what is in flight.
    if (out_.empty()) half_close();
    return;
  }
  // RFC 6455 §7.1.2: start the closing handshake with a Close frame; 1000 = normal.
  const uint8_t code[2] = {0x03, 0xE8};
  (void)write_control(ws::Opcode::kClose, code, sizeof code);
}

inline bool Conn::write_control(ws::Opcode op, const uint8_t* payload, size_t n) {
  // RFC 6455 §5.5: a control frame carries at most 125 bytes (the callers' are shorter).
  if (n > ws::kMaxControlPayload) return false;
  uint8_t frame[ws::kMaxHeaderSize + ws::kMaxControlPayload];
  uint64_t r = ctx_->rng.next();
  ws::MaskKey key{};
  std::memcpy(key.data(), &r, key.size());
  size_t h = ws::encode_header(frame, op, n, true, false, &key);  // RFC 6455 §5.3: masked
  std::memcpy(frame + h, payload, n);
  ws::unmask(frame + h, n, key);
  iovec iov{frame, h + n};
  return write_iov(&iov, 1, h + n);
}

inline bool Conn::send_frames(size_t n) {
  if (deflate_.enabled) [[unlikely]]
    return send_compressed(n);
  const FramePool& pool = *ctx_->pool;
  if (ctx_->opt.send_mode == SendMode::kSingle) [[unlikely]] {
    // --send-mode single: one send() per frame, however many are due (another client's
    // pattern; the pool's frames are contiguous already, header and payload).
    for (; n > 0; --n) {
      iovec one{const_cast<uint8_t*>(pool.frame(tx_variant_)), pool.frame_len()};
      if (++tx_variant_ == pool.variants()) tx_variant_ = 0;
      if (!write_iov(&one, 1, one.iov_len)) return false;
    }
    return true;
  }
  constexpr int kMaxIov = 64;
  iovec iov[kMaxIov];
  while (n > 0) {
    size_t batch = std::min(n, pool.variants() * (kMaxIov - 1));
    int cnt = pool.gather(tx_variant_, batch, iov, kMaxIov);
    tx_variant_ = (tx_variant_ + batch) % pool.variants();
    if (!write_iov(iov, cnt, batch * pool.frame_len())) return false;
    n -= batch;
  }
  return true;
}

// Without client context takeover: the cached frames, gathered like the plain pool's.
inline bool Conn::send_compressed(size_t n) {
  if (!compressed_) return send_deflated(n);
  constexpr int kMaxIov = 64;
  iovec iov[kMaxIov];
  Stats& st = ctx_->stats;
  while (n > 0) {
    size_t batch = std::min(n, compressed_->variants() * (kMaxIov - 1));
    CompressedPool::Span s = compressed_->gather(tx_variant_, batch, iov, kMaxIov);
    tx_variant_ = (tx_variant_ + batch) % compressed_->variants();
    st.deflate_sent.add(batch);
    st.deflate_sent_bytes.add(batch * ctx_->pool->size());
    st.deflate_sent_wire.add(s.payload_bytes);
    if (!write_iov(iov, s.iov_count, s.bytes)) return false;
    n -= batch;
  }
  return true;
}

// With context takeover: compress each message in order on this connection's stream, frame
// it with RSV1 and a fresh mask, and send them together (flushed every 256 KiB).
inline bool Conn::send_deflated(size_t n) {
  constexpr size_t kFlushAt = 256 * 1024;
  const FramePool& pool = *ctx_->pool;
  const auto op = ctx_->opt.binary ? ws::Opcode::kBinary : ws::Opcode::kText;
  Buffer& z = ctx_->deflate_out;
  Buffer& tx = ctx_->tx;
  Stats& st = ctx_->stats;
  tx.clear();
  for (size_t i = 0; i < n; ++i) {
    z.clear();
    if (!deflater_->compress({pool.payload(tx_variant_), pool.size()}, z).ok()) {
      fail(ErrorKind::kProtocol, "compressing a message failed (zlib)");
      return false;
    }
    if (++tx_variant_ == pool.variants()) tx_variant_ = 0;
    const uint64_t r = ctx_->rng.next();
    ws::MaskKey key{};
    std::memcpy(key.data(), &r, key.size());
    // RFC 7692 §6: RSV1 on the first (here: only) frame; RFC 6455 §5.3: masked.
    const size_t h =
        ws::encode_header(tx.prepare(ws::kMaxHeaderSize), op, z.readable(), true, true, &key);
    tx.commit(h);
    const size_t at = tx.readable();
    tx.append(z.view());
    ws::unmask(tx.data() + at, z.readable(), key);  // masking is the same XOR
    st.deflate_sent_wire.add(z.readable());
    if (tx.readable() >= kFlushAt || i + 1 == n) {
      iovec iov{tx.data(), tx.readable()};
      const bool ok = write_iov(&iov, 1, tx.readable());
      tx.clear();
      if (!ok) return false;
    }
  }
  st.deflate_sent.add(n);
  st.deflate_sent_bytes.add(n * pool.size());
  return true;
}

[[gnu::always_inline]] inline bool Conn::write_iov(const iovec* iov, int cnt, size_t total) {
  if (tls_) [[unlikely]]
    return write_tls(iov, cnt, total);
  size_t done = 0;
  if (out_.empty()) {
    // send() for one run: sendmsg() would also copy the iovec array into the kernel.
    IoResult r = cnt == 1 ? net::write_some(fd_, iov[0].iov_base, iov[0].iov_len)
                          : net::writev_some(fd_, iov, cnt);
    if (r.status == IoStatus::kClosed || r.status == IoStatus::kError) {
      fail(ErrorKind::kReset, "write: errno %lld", r.err);
      return false;
    }
    if (r.status == IoStatus::kOk) done = r.bytes;
    if (done == total) return true;
  }
  // The kernel refused the rest: keep it, in order, for the next writable edge.
  for (int i = 0; i < cnt; ++i) {
    const auto* p = static_cast<const uint8_t*>(iov[i].iov_base);
    size_t len = iov[i].iov_len;
    size_t skip = std::min(done, len);
    done -= skip;
    if (len > skip) out_.append(p + skip, len - skip);
  }
  return true;
}

inline bool Conn::flush() {
  while (!out_.empty()) {
    IoResult r = tls_ ? tls_->write(out_.data(), out_.readable())
                      : net::write_some(fd_, out_.data(), out_.readable());
    if (r.status == IoStatus::kAgain) return true;
    if (r.status != IoStatus::kOk) {
      fail(ErrorKind::kReset, "write: errno %lld", r.err);
      return false;
    }
    out_.consume(r.bytes);
  }
  out_.release();
  if (ctx_->opt.raw && state_ == State::kClosing) half_close();
  return true;
}

inline void Conn::grow_ring() {
  std::vector<int64_t> bigger(ring_.empty() ? 4 : ring_.size() * 2);
  for (size_t i = 0; i < ring_count_; ++i)
    bigger[i] = ring_[(ring_head_ + i) & (ring_.size() - 1)];
  ring_.swap(bigger);
  ring_head_ = 0;
}

inline void Conn::shut() {
  if (fd_ < 0) return;
  const State was = state_;
  ctx_->reactor->remove_and_close(fd_, this);  // never dup'ed: no EPOLL_CTL_DEL needed
  fd_ = -1;
  tls_.reset();  // SSL_free only: the WebSocket close handshake has ended the stream
  state_ = State::kIdle;
  ctx_->reactor->disarm(timer_);
  out_.release();
  std::string().swap(request_);
  ring_head_ = ring_count_ = 0;
  if (deflate_.enabled) {                        // the zlib streams go with the connection
    reader_.reset(ctx_->pool, 0, false, false);  // drops its pointer to inflater_
    deflate_ = {};
    compressed_ = nullptr;
    deflater_.reset();
    inflater_.reset();
  }
  if (was == State::kConnecting || was == State::kTlsHandshaking || was == State::kHandshaking)
    ctx_->owner->on_settled(*this, false);
  ctx_->owner->on_closed(*this);
}

// --- wss:// ---------------------------------------------------------------------------
// Out of line: inlined, they would grow on_readable() and write_iov() past what the
// compiler inlines into them, and the plain path would lose its inlined frame reader
// (callgrind: +9% instructions per message). docs/wsload.md has the figure.

// The TCP connect is under way (or done): the TLS handshake begins on the first writable
// edge (epoll reports a connect that finished inside connect() as soon as the fd is
// added). Not here: a failure inside start() must not reach on_closed(), as the owner
// counts this connection live only once start() has returned.
[[gnu::noinline]] inline void Conn::start_tls() {
  tls_ = TlsClient::over_fd(*ctx_->tls, fd_);
  if (!tls_) return start_failed("TLS: cannot set up a connection (errno %lld)", ENOMEM);
  state_ = State::kTlsHandshaking;
}

[[gnu::noinline]] inline void Conn::tls_opening(uint32_t events) {
  if (events & net::kHangup) {
    if (int err = net::socket_error(fd_); err != 0) {
      ctx_->stats.error(ErrorKind::kConnect, "connect: errno %lld (%lld = refused)", err,
                        ECONNREFUSED);
      return shut();
    }
  }
  switch (tls_->handshake()) {
    case TlsClient::Handshake::kAgain:
      return;
    case TlsClient::Handshake::kFailed:
      return tls_failed();
    case TlsClient::Handshake::kDone:
      break;
  }
  ctx_->stats.tls_done(tls_->resumed(), tls_->version(), tls_->cipher());
  if (ctx_->opt.raw) {
    on_opened();
  } else {
    state_ = State::kHandshaking;
    if (int err = send_request(); err != 0)
      return fail(ErrorKind::kTls, "writing the upgrade request: errno %lld", err);
    if (!out_.empty() && !flush()) return;
  }
  // Read-ahead may hold records already, or the socket more than it took: drain now, as
  // no new edge may come for them.
  if (live() && (events & net::kReadable)) on_readable(net::kReadable);
}

// A refused certificate is a setup error (wrong --ca or --sni), reported once and fatal
// for the run; anything else counts like a failed connect.
[[gnu::noinline]] inline void Conn::tls_failed() {
  if (tls_->verify_failed()) {
    ctx_->stats.setup_failure("TLS: " + tls_->error() +
                              " (check --ca and --sni; --insecure skips the check)");
    ctx_->stats.error_text(ErrorKind::kTls, "", tls_->error());
    return shut();
  }
  if (int err = tls_->sys_errno(); err == ECONNREFUSED || err == ENETUNREACH) {
    ctx_->stats.error(ErrorKind::kConnect, "connect: errno %lld (%lld = refused)", err,
                      ECONNREFUSED);
    return shut();
  }
  ctx_->stats.error_text(ErrorKind::kTls, "TLS handshake: ", tls_->error());
  shut();
}

// TLS read() drains OpenSSL's buffer and the socket until WANT_READ (SSL_pending too).
[[gnu::noinline]] inline IoResult Conn::tls_read(uint8_t* buf) {
  return tls_->read(buf, ctx_->rx_size);
}

[[gnu::noinline]] inline void Conn::read_failed(int err) {
  if (!tls_) return fail(ErrorKind::kReset, "read: errno %lld", err);
  ctx_->stats.error_text(ErrorKind::kTls, "TLS read: ", tls_->error());
  shut();
}

// TLS has no writev: several frames are gathered into one buffer (one SSL_write makes
// records of up to 16 KiB from it). What the socket refuses waits in out_, whose first
// bytes are those of the record OpenSSL must be offered again.
[[gnu::noinline]] inline bool Conn::write_tls(const iovec* iov, int cnt, size_t total) {
  const uint8_t* data = static_cast<const uint8_t*>(iov[0].iov_base);
  Buffer& g = ctx_->tls_gather;
  if (cnt > 1) {
    g.clear();
    for (int i = 0; i < cnt; ++i)
      g.append(static_cast<const uint8_t*>(iov[i].iov_base), iov[i].iov_len);
    data = g.data();
  }
  size_t done = 0;
  if (out_.empty()) {
    IoResult r = tls_->write(data, total);
    if (r.status == IoStatus::kClosed || r.status == IoStatus::kError) {
      ctx_->stats.error_text(ErrorKind::kTls, "TLS write: ", tls_->error());
      shut();
      return false;
    }
    if (r.status == IoStatus::kOk) done = r.bytes;
  }
  if (done < total) out_.append(data + done, total - done);
  return true;
}

// --raw: the end of what we send. Over TLS a close_notify first, as the stream's end.
[[gnu::noinline]] inline void Conn::half_close() {
  if (tls_) tls_->send_close_notify();
  (void)::shutdown(fd_, SHUT_WR);
}

}  // namespace wsedge::load
