// ws/session.h — one WebSocket connection after the handshake (RFC 6455 §5–§7).
//
// A Session is the Protocol that runs on a Transport once the HTTP upgrade succeeded. It
// decodes frames in place, unmasks and UTF-8-validates payload as it arrives (so an
// invalid byte fails the connection at once, even mid-frame), answers pings, assembles
// fragmented messages, enforces the message-size limit before buffering, runs the close
// handshake, and optionally keeps the connection alive with pings.
//
// Zero-copy: a whole, unfragmented message already in the receive buffer is handed to
// Handler::on_message as a span into that buffer, valid only during the call. Fragmented
// messages are assembled in a per-session buffer that is freed when the message ends.
// Loop thread only. The Handler is shared by every session of its route and outlives them.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "core/buffer.h"
#include "core/memory_budget.h"
#include "core/memory_return.h"
#include "core/transport.h"
#include "ws/deflate.h"
#include "ws/errors.h"
#include "ws/extensions.h"
#include "ws/frame.h"
#include "ws/reader.h"

namespace wsedge::http {
struct Request;
}

namespace wsedge::ws {

class Tracer;
struct TracedConnection;

enum class MessageType : uint8_t { kText, kBinary };

// Close frames by code (RFC 6455 §7.4): the codes a close frame can carry, 1000-1015 and
// 3000-4999, one slot each (1005: a close frame without a code); a fixed table, so
// counting one never allocates.
struct CloseCodeCounts {
  static constexpr size_t kSlots = 16 + 2000;
  uint64_t by_slot[kSlots] = {};
  static size_t slot(uint16_t code) {
    if (code >= 1000 && code <= 1015) return code - 1000;
    if (code >= 3000 && code <= 4999) return 16 + (code - 3000);
    return kSlots;  // not a code a frame carries: not counted
  }
  static uint16_t code(size_t slot) {
    return static_cast<uint16_t>(slot < 16 ? 1000 + slot : 3000 + (slot - 16));
  }
  void add(uint16_t c) {
    if (size_t i = slot(c); i < kSlots) ++by_slot[i];
  }
};

// Traffic totals, shared by the sessions of one server (one loop thread: plain counters,
// read at scrape time by the metrics page, docs/metrics.md).
struct MessageCounters {
  uint64_t websockets_open = 0;  // sessions alive: their 101 sent, not yet destroyed
  uint64_t messages_in = 0;
  uint64_t messages_out = 0;
  uint64_t bytes_in = 0;            // message payload bytes, not frame overhead
  uint64_t bytes_out = 0;           // payload bytes (whole frames for send_encoded)
  uint64_t closed_over_budget = 0;  // sessions closed 1013 to bring the memory budget back
  // permessage-deflate (RFC 7692): payload bytes before and after compressing the
  // messages we sent compressed, and compressed bytes received and what they inflated to.
  uint64_t deflate_in = 0, deflate_out = 0;
  uint64_t inflate_in = 0, inflate_out = 0;
  uint64_t protocol_errors[kWsErrorCount] = {};  // by WsError: the peer broke a rule
  CloseCodeCounts close_sent, close_received;
};

struct SessionOptions {
  uint64_t max_message_size = 64ull << 20;  // a message (all fragments) above it: close 1009
  // One frame above it: close 1009, refused from its header before any payload is kept.
  // UINT64_MAX: only max_message_size limits a frame. Never above kMaxFrameSize, whatever
  // is set (ws/reader.h). Handed to the Reader as it is, once per read.
  uint64_t max_frame_size = UINT64_MAX;
  // A compressed message (RFC 7692) that inflates past this: close 1009. Conservative by
  // default because a few KiB on the wire can inflate to it (a decompression bomb);
  // max_message_size still bounds the compressed bytes. The smaller of the two applies.
  uint64_t max_inflated_size = 16ull << 20;
  int64_t ping_interval_ms = 0;  // 0: the server sends no pings
  // Close a connection that sent nothing (no data, no pong) for this long. 0: never, unless
  // pings are on, when it defaults to twice the ping interval.
  int64_t idle_timeout_ms = 0;
  // A frame or fragmented message started must be complete within this, or close 1008: an
  // unfinished message must not pin memory forever, and a trickle of bytes (which keeps
  // the idle timer quiet) does not move it. 0: no limit.
  int64_t message_timeout_ms = 60'000;
  int64_t close_grace_ms = 2000;        // after our close frame, how long to wait for the peer's
  MessageCounters* counters = nullptr;  // where sessions add their traffic (may be null)
  // Server-wide bound on bytes held in unfinished messages (fragments, inflated output,
  // the unread part of a partial frame), shared by the sessions of one loop. Past it the
  // largest holders, whichever session they are, are closed with 1013 until it holds
  // again. Null: no bound beyond the per-message limits.
  MemoryBudget* memory_budget = nullptr;
  // Told when a session frees a large message buffer or builds a large compressed message,
  // so the server gives the memory back to the system once large messages stop. May be null.
  MemoryReturn* memory_return = nullptr;
  // A client that offers none of the route's subprotocols gets the 101 and then close 1008
  // (no on_open), instead of a WebSocket without a subprotocol.
  bool require_subprotocol = false;
  // --trace (ws/trace.h): the server's tracer, which sessions opened with an
  // Opening::trace report to. Null: no tracing.
  Tracer* tracer = nullptr;
};

// How one WebSocket opened: what the client asked and what the handshake agreed
// (RFC 6455 §4.2.2, RFC 7692 §7). Read by the Session's constructor only, except where
// a field says it must outlive the session.
struct Opening {
  const http::Request& request;            // for Handler::on_open
  std::span<const uint8_t> response = {};  // the 101, sent first (empty: none, as in tests)
  // One of the route's subprotocols: a view of a NUL-terminated string (the route's
  // std::string) that outlives the session. Empty: none agreed.
  std::string_view subprotocol = {};
  // permessage-deflate, when agreed: its parameters (read by the constructor) and the
  // route's policy (must outlive the session). Null: not agreed.
  const DeflateConfig* deflate = nullptr;
  const DeflateServerPolicy* deflate_policy = nullptr;
  // --trace: this connection is traced; SessionOptions::tracer holds its bookkeeping from
  // now on. Null: not traced (the session then pays one test per frame for it).
  TracedConnection* trace = nullptr;
};

class Session;

// What an application implements. Callbacks run on the loop thread; a Session& is valid
// only until on_close returns.
class Handler {
 public:
  virtual ~Handler() = default;
  // The handshake completed; `request` (path, query, headers) is valid during the call.
  virtual void on_open(Session& /*s*/, const http::Request& /*request*/) {}
  // A complete message. `payload` is valid during the call only (copy what you keep).
  virtual void on_message(Session& s, std::span<const uint8_t> payload, MessageType type) = 0;
  // The connection ended: the peer's close code (1005 if it sent none) after a close
  // handshake, the code we sent when we failed it, or 1006 when TCP went away without one.
  virtual void on_close(Session& /*s*/, uint16_t /*code*/, std::string_view /*reason*/) {}
  // The send queue fell below half the high-water mark after having passed it.
  virtual void on_drain(Session& /*s*/) {}
};

class Session final : public Protocol {
 public:
  // Opens the WebSocket, whole: sends opening.response (the 101), starts the keep-alive
  // clock and calls handler.on_open — or, when options.require_subprotocol and none was
  // agreed, closes with 1008 instead. Everything the session needs is allocated before the
  // 101 goes out (running out of memory then leaves an HTTP 503 to answer with); after it,
  // an on_open that runs out of memory closes the WebSocket with 1011. `handler`,
  // `options` and what `opening` says must outlive it do.
  Session(Transport& transport, Handler& handler, const SessionOptions& options,
          const Opening& opening);
  ~Session() override;  // gives back what it still has charged to the memory budget

  bool deflate_enabled() const { return compression_ != nullptr; }
  // Bytes zlib holds for this session right now (0 until the first compressed message).
  size_t compression_memory() const;
  // Without context takeover (RFC 7692 §7.1.1.1) the compressor is reset between messages
  // (re-creating it per message costs 3x to 50x more, docs/deflate.md) and freed once no
  // compressed message has gone out for this long, so an idle connection holds no stream.
  static constexpr int64_t kDeflateIdleMs = 1000;
  // Bytes this session holds for the message in progress: the fragments, the inflated
  // output and the inflater's window. 0 between messages (small buffers kept for reuse
  // aside) and from the moment the session fails or closes.
  size_t message_memory() const;
  // The loop thread's buffer that compressed messages are built in, kept between sends:
  // the server watches it (core/memory_return.h) so one large message does not pin it.
  static Buffer& compression_scratch();

  // --- application API ------------------------------------------------------------
  // One unfragmented message. Dropped (returns false) once the close handshake started.
  bool send(std::span<const uint8_t> payload, MessageType type);
  bool send_text(std::string_view text);
  // Bytes that already form complete frames (a fan-out encodes once, sends to many).
  bool send_encoded(std::span<const uint8_t> frames);
  bool ping(std::span<const uint8_t> payload = {});
  // Starts the close handshake (RFC 6455 §7.1.2). `code` must be valid on the wire.
  void close(uint16_t code = 1000, std::string_view reason = {});
  // Drops the connection at once, without a close handshake (a peer that stopped reading
  // would never receive a close frame anyway). on_close then reports 1006.
  void abort();
  size_t buffered_amount() const { return transport_.buffered_amount(); }
  size_t high_water_mark() const { return transport_.high_water_mark(); }
  bool is_open() const { return state_ == State::kOpen; }
  std::string_view subprotocol() const { return subprotocol_; }
  // The options it was opened with: the route's (wsedge::Server tells routes apart by it).
  const SessionOptions& options() const { return options_; }
  std::string_view peer_address() const { return transport_.peer_address(); }
  // For the application's per-connection state; never touched by wsedge.
  void* user_data = nullptr;

  // --- Protocol -----------------------------------------------------------------------
  Consumed on_data(Transport& t, std::span<uint8_t> data) override;
  void on_drain(Transport& t) override;
  void on_timer(Transport& t) override;
  void on_disconnect(Transport& t) override;
  void on_out_of_memory(Transport& t) override;  // close 1011 (RFC 6455 §7.4.1)
  void on_shutdown(Transport& t) override;       // close 1001 (RFC 6455 §7.4.1)

 private:
  enum class State : uint8_t { kOpen, kClosing, kClosed };
  // Only sessions that negotiated permessage-deflate pay for it (zlib streams are created
  // lazily on top of that, on the first compressed message each way).
  struct Compression {
    MessageDeflater deflater;
    MessageInflater inflater;
    Buffer message;  // the inflated message in progress
    size_t min_size;
    int64_t deflated_ms = 0;  // when the last compressed message went out
  };
  int64_t deflate_release_deadline() const;  // INT64_MAX: nothing to free

  // What the session does about one event of the reader: false when reading stops there
  // (the frame has not all arrived, or the connection failed).
  // Inlined into on_data: the common event (a whole one-frame message) then costs a test.
  [[gnu::always_inline]] inline bool on_event(const ReadEvent& e);
  [[gnu::always_inline]] inline bool end_message(std::span<const uint8_t> last_frame);
  bool end_compressed_message(std::span<const uint8_t> fresh);
  bool inflate(std::span<const uint8_t> compressed, bool fin);
  // In line: every message goes through it, and every frame sent through the two below.
  [[gnu::always_inline]] inline void deliver_message(std::span<const uint8_t> payload);
  void handle_close(uint16_t code, std::span<const uint8_t> reason);
  // `at`: the byte that broke the rule, when the reader found it (for --trace).
  void fail(WsError error, const uint8_t* at = nullptr);
  void fail_with(uint16_t code, const char* reason);
  // on_data ended with a frame or message unfinished (or no longer so): starts (or stops)
  // the message clock.
  void track_unfinished(bool unfinished);
  void send_close(uint16_t code, std::string_view reason);
  [[gnu::always_inline]] inline bool send_frame(Opcode op, std::span<const uint8_t> payload);
  // Control frames (pong, ping, close): send_frame, or with --trace its traced twin.
  [[gnu::always_inline]] inline bool send_control(Opcode op, std::span<const uint8_t> payload);
  [[gnu::cold, gnu::noinline]] bool send_frame_traced(Opcode op, std::span<const uint8_t> payload);
  [[gnu::cold, gnu::noinline]] void send_data_traced(Opcode op, std::span<const uint8_t> payload);
  [[gnu::always_inline]] inline void send_data(Opcode op, std::span<const uint8_t> payload);
  [[gnu::noinline]] bool send_compressed(Opcode op, std::span<const uint8_t> payload);
  void notify_close(uint16_t code, std::string_view reason);
  // --trace (ws/trace.h). Called only when traced_, so out of line and cold: a session
  // that is not traced pays the test of traced_ once per frame read or sent, nothing else.
  [[gnu::cold, gnu::noinline]] TracedConnection* traced();
  // The bytes of one on_data, before the reader unmasks them: every whole frame in them.
  // Called once per read at on_data's entry, not from its loop: even a cold call in the
  // loop changes its register allocation (+26 instructions per echoed message, measured).
  [[gnu::cold, gnu::noinline]] void trace_received(std::span<const uint8_t> data);
  [[gnu::cold, gnu::noinline]] void trace_sent(std::span<const uint8_t> header,
                                               std::span<const uint8_t> payload,
                                               uint64_t inflated_size = 0);
  [[gnu::cold, gnu::noinline]] void trace_note(std::string_view text);
  // The steps of the close (and a compressed message's inflated size): each site passes
  // plain values, and the text is built out of line, so no function on the path of every
  // message grows for it (inlined string building there cost instructions per message).
  enum class TraceStep : uint8_t {
    kInflated,        // value: the inflated size
    kClientCloses,    // value: the client's code; it starts the close handshake
    kClientAnswers,   // value: the client's code, answering ours
    kServerCloses,    // value: our code; we start it
    kCloseSent,       // value: the code of the close frame we send
    kError,           // value: the WsError; ptr: the byte (or null)
    kFailing,         // value: the code; ptr: the reason (const char*); a close goes out
    kFailingClosing,  // the same, our close was sent already
    kGone,            // on_disconnect after the session closed
    kDropped,         // on_disconnect while open or closing: TCP went first
  };
  [[gnu::cold, gnu::noinline]] void trace_step(TraceStep step, uint64_t value,
                                               const void* ptr = nullptr);
  // The connection will read no more messages: frees the fragments, the inflated message
  // and the inflater's window at once, not when the close grace or the linger ends.
  void release_message();
  // Charges the budget with what this session holds now (`unread`: input bytes of a
  // partial frame the transport keeps for us), then closes the largest holders while the
  // budget is over its limit (this session among them, possibly).
  void charge_budget(size_t unread);
  void count_out(size_t bytes);
  // `bytes` were freed, or built in a buffer kept for reuse: a large figure is told to
  // options_.memory_return.
  void note_memory(size_t bytes);
  // Frees a message buffer that grew past what is worth keeping for the next message.
  void shrink(Buffer& b);
  Buffer& fragments();
  void schedule_keepalive();
  int64_t idle_limit_ms() const;

  Transport& transport_;
  Handler& handler_;
  const SessionOptions& options_;
  // The agreed subprotocol's bytes, NUL-terminated (Opening::subprotocol): a pointer, not
  // a string_view, so a session stays 104 bytes; "" when none.
  const char* subprotocol_;
  std::unique_ptr<Compression> compression_;  // null unless permessage-deflate was agreed
  std::unique_ptr<Buffer> fragments_;         // the fragmented message in progress, if any
  int64_t last_rx_ms_ = 0;
  static constexpr int64_t kNoMessage = INT64_MIN;
  int64_t message_started_ms_ = kNoMessage;  // when the unfinished frame or message began
  // Everything RFC 6455 §5 says about what the peer sends. no_unique_address lets the
  // small fields below live in the Reader's tail padding (17 bytes used of 24): a session
  // stays 104 bytes, a malloc chunk of 112 (bench/idle_memory.sh).
  [[no_unique_address]] Reader reader_;
  State state_ = State::kOpen;
  bool keepalive_ping_sent_ = false;  // pinged during the current silence; cleared by any read
  // Written once per connection, so packed.
  bool close_notified_ : 1 = false;
  bool peer_closed_ : 1 = false;  // the peer's close frame arrived: it sends nothing more
  // --trace: this session reports to options_.tracer. A bit beside the two above (the
  // Reader's tail padding has no byte left for it): testing it once per frame read or sent
  // is a load and a bit test, and the session stays 104 bytes.
  bool traced_ : 1 = false;
  MemoryHolder budget_hold_;  // our place in options_.memory_budget
};

}  // namespace wsedge::ws
