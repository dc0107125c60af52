#include "ws/session.h"

#include <algorithm>
#include <new>

#include "core/log.h"
#include "ws/close_code.h"
#include "ws/mask.h"
#include "ws/trace.h"

namespace wsedge::ws {
namespace {
// A finished fragmented message gives its buffer back unless it is small enough that the
// next one will likely reuse it: keeps idle sessions small without malloc per message.
constexpr size_t kKeepMessageCapacity = 16 * 1024;

std::span<const uint8_t> bytes(std::string_view s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}
}  // namespace

Session::Session(Transport& transport, Handler& handler, const SessionOptions& options,
                 const Opening& opening)
    : transport_(transport),
      handler_(handler),
      options_(options),
      subprotocol_(opening.subprotocol.empty() ? "" : opening.subprotocol.data()) {
  if (opening.trace != nullptr && options_.tracer != nullptr) [[unlikely]] {
    options_.tracer->bind(this, opening.trace);
    traced_ = true;
  }
  if (opening.deflate != nullptr) {
    const DeflateConfig& config = *opening.deflate;
    const DeflateServerPolicy& policy = *opening.deflate_policy;
    compression_.reset(new Compression{MessageDeflater(deflater_options(config, policy)),
                                       MessageInflater(inflater_options(config)), Buffer(),
                                       policy.min_size});
  }
  transport_.send(opening.response);
  if (options_.counters != nullptr) ++options_.counters->websockets_open;
  last_rx_ms_ = transport_.now_ms();
  if (options_.require_subprotocol && opening.subprotocol.empty()) {
    close(close_code::kPolicyViolation, "no supported subprotocol offered");
    return;
  }
  schedule_keepalive();
  try {
    handler_.on_open(*this, opening.request);
  } catch (const std::bad_alloc&) {
    // After the 101 an HTTP 503 would be garbage on the wire: the WebSocket's last words.
    close(close_code::kInternalError, "out of memory");
  }
}

Session::~Session() {
  if (traced_) [[unlikely]]
    options_.tracer->end(this);
  if (options_.counters != nullptr) --options_.counters->websockets_open;
  if (options_.memory_budget != nullptr) options_.memory_budget->release_all(budget_hold_);
}

void Session::on_out_of_memory(Transport& /*t*/) {
  close(close_code::kInternalError, "out of memory");
}

void Session::on_shutdown(Transport& /*t*/) {
  close(close_code::kGoingAway, "server shutting down");
}

bool Session::on_event(const ReadEvent& e) {
  switch (e.status) {
    case ReadStatus::kIncomplete:
      // Compressed payload is inflated as it arrives, so a bomb is stopped at the limit.
      if (e.compressed && !e.fresh.empty() && !inflate(e.fresh, false)) return false;
      if (e.need != 0) transport_.expect(e.need);
      return false;
    case ReadStatus::kFragment:
      if (e.compressed) return e.fresh.empty() || inflate(e.fresh, false);
      fragments().append(e.payload);
      return true;
    case ReadStatus::kMessage:
      return e.compressed ? end_compressed_message(e.fresh) : end_message(e.payload);
    case ReadStatus::kPing:
      // RFC 6455 §5.5.2: answer with a pong carrying the same application data, before any
      // later data (sends are corked in order, so it precedes the echoes that follow).
      // RFC 6455 §5.5.2: only the peer's close ends that duty; ours, still unanswered
      // (kClosing), does not: a pong is a control frame, not data after our close.
      if (state_ != State::kClosed) send_control(Opcode::kPong, e.payload);
      return true;
    case ReadStatus::kPong:
      return true;  // RFC 6455 §5.5.3: an unsolicited pong needs no answer; last_rx_ms_ moved
    case ReadStatus::kClose:
      handle_close(e.close_code, e.payload);
      return true;
    case ReadStatus::kError:
      fail(e.error, e.payload.data());
      return false;
  }
  return false;
}

// The last frame of an uncompressed message (the reader checked its text, RFC 6455 §8.1).
bool Session::end_message(std::span<const uint8_t> last_frame) {
  if (!fragments_ || fragments_->empty()) {
    deliver_message(last_frame);  // one frame, in the receive buffer: no copy
    return true;
  }
  fragments_->append(last_frame);
  deliver_message(fragments_->view());
  fragments_->clear();
  shrink(*fragments_);
  return true;
}

Consumed Session::on_data(Transport& t, std::span<uint8_t> data) {
  // --trace: the one test a read costs when tracing is off (at most one per frame).
  if (traced_) [[unlikely]]
    trace_received(data);
  last_rx_ms_ = t.now_ms();
  keepalive_ping_sent_ = false;  // the peer spoke: the next silence earns a new ping
  const ReadRules rules{
      .expect_masked = true,  // RFC 6455 §5.1: a server fails on an unmasked client frame
      .allow_rsv1 = compression_ != nullptr,  // RFC 7692 §6: only once deflate is agreed
      .max_frame_size = options_.max_frame_size,
      .max_message_size = options_.max_message_size};
  size_t pos = 0;
  while (pos < data.size() && state_ != State::kClosed) {
    const ReadEvent e = reader_.next(data.subspan(pos), rules);
    if (!on_event(e)) break;
    pos += e.consumed;
  }
  if (state_ == State::kOpen) [[likely]] {
    // One test in the common case: every frame whole, no message open now nor before.
    bool unfinished = pos != data.size() || reader_.in_message();
    bool was_unfinished = message_started_ms_ != kNoMessage;
    if (unfinished || was_unfinished) [[unlikely]] {
      if (unfinished != was_unfinished) track_unfinished(unfinished);
      charge_budget(data.size() - pos);  // or release: a message just ended
    }
  } else if (state_ == State::kClosing) {
    charge_budget(data.size() - pos);  // a message may still be arriving before its close
  }
  if (state_ != State::kClosed) return pos;
  if (peer_closed_ && pos == data.size()) {
    // RFC 6455 §7.1.1: the server closes the TCP connection first. The peer's close frame
    // was the last thing it sent, so no unread input can turn our close into a RST and the
    // lingering half-close has nothing to wait for.
    if (traced_) [[unlikely]]
      trace_note(
          "TCP: the server closes first (RFC 6455 §7.1.1): the client's close frame was its "
          "last byte, so a FIN at once, no half-close, no linger");
    t.close_peer_finished();
  } else {
    // Failed, or the peer went on sending after its close frame (§5.5.1 forbids that):
    // whatever else it sent is discarded, and the close lingers until its EOF.
    if (traced_) [[unlikely]]
      trace_note(
          "TCP: the server half-closes (shutdown SHUT_WR: a FIN) and discards input until "
          "the client's EOF, at most --close-grace (RFC 6455 §7.1.1: no RST over the close)");
    t.close();
  }
  return data.size();
}

bool Session::end_compressed_message(std::span<const uint8_t> fresh) {
  if (!fresh.empty() && !inflate(fresh, false)) return false;
  if (!inflate({}, true)) return false;
  // RFC 6455 §8.1: the whole text message must be valid UTF-8.
  if (reader_.message_text() && !reader_.finish_text()) {
    fail(WsError::kInvalidUtf8);
    return false;
  }
  Buffer& out = compression_->message;
  if (traced_) [[unlikely]]
    trace_step(TraceStep::kInflated, out.readable());
  deliver_message(out.view());
  out.clear();
  shrink(out);
  return true;
}

// Inflates compressed payload into compression_->message, validating text as it appears.
// The limit applies to the inflated size, so a few KiB that inflate to GiBs (a
// decompression bomb) are refused after at most the limit, never allocated in full.
bool Session::inflate(std::span<const uint8_t> compressed, bool fin) {
  Buffer& out = compression_->message;
  size_t before = out.readable();
  const size_t limit = std::min(options_.max_message_size, options_.max_inflated_size);
  InflateStatus st = fin ? compression_->inflater.finish(out, limit)
                         : compression_->inflater.feed(compressed, out, limit);
  if (MessageCounters* c = options_.counters) {
    c->inflate_in += compressed.size();
    c->inflate_out += out.readable() - before;
  }
  // What inflated before a failure is validated first: an invalid byte there comes earlier in
  // the message than the corrupt data or the limit, and checking it whatever the status keeps
  // the verdict (1007 or 1009) independent of how the payload was cut into reads.
  if (reader_.message_text() && !reader_.feed_text(out.view().subspan(before))) {
    fail(WsError::kInvalidUtf8);
    return false;
  }
  if (st != InflateStatus::kOk) {
    fail(st == InflateStatus::kTooBig ? WsError::kMessageTooBig : WsError::kBadCompressedData);
    return false;
  }
  return true;
}

void Session::shrink(Buffer& b) {
  if (b.capacity() <= kKeepMessageCapacity) return;
  note_memory(b.capacity());
  b.release();
}

void Session::note_memory(size_t bytes) {
  // Below this the allocator's own reuse is enough; above it a freed block can raise
  // glibc's thresholds for good (core/memory_return.h).
  constexpr size_t kLarge = 64 * 1024;
  if (bytes > kLarge && options_.memory_return != nullptr) [[unlikely]]
    options_.memory_return->note_large(transport_.now_ms());
}

Buffer& Session::compression_scratch() {
  thread_local Buffer compressed;
  return compressed;
}

inline void Session::deliver_message(std::span<const uint8_t> payload) {
  // RFC 6455 §5.5.1: after sending a close frame, data from the peer is discarded.
  if (state_ != State::kOpen) return;
  if (MessageCounters* c = options_.counters) {
    ++c->messages_in;
    c->bytes_in += payload.size();
  }
  handler_.on_message(*this, payload,
                      reader_.message_text() ? MessageType::kText : MessageType::kBinary);
}

// The peer's close frame, its code and UTF-8 reason checked by the reader (RFC 6455 §5.5.1).
void Session::handle_close(uint16_t code, std::span<const uint8_t> reason) {
  if (traced_) [[unlikely]]
    trace_step(state_ == State::kOpen ? TraceStep::kClientCloses : TraceStep::kClientAnswers, code);
  if (options_.counters != nullptr) options_.counters->close_received.add(code);
  if (state_ == State::kOpen) {
    // RFC 6455 §5.5.1: answer a close with a close, echoing the status code it carried.
    // A close without a code is answered without one (1005 is never sent, §7.4.1).
    send_close(code, {});
  }
  state_ = State::kClosed;
  peer_closed_ = true;  // on_data closes TCP once it knows whether anything followed
  release_message();
  notify_close(code, {reinterpret_cast<const char*>(reason.data()), reason.size()});
}

// RFC 6455 §7.1.7: _Fail the WebSocket Connection_ — send a close frame with the code
// that names the violation (if we have not sent one yet), then close TCP; stop reading.
void Session::fail(WsError error, const uint8_t* at) {
  if (traced_) [[unlikely]]
    trace_step(TraceStep::kError, static_cast<uint64_t>(error), at);
  if (options_.counters != nullptr && static_cast<size_t>(error) < kWsErrorCount)
    ++options_.counters->protocol_errors[static_cast<size_t>(error)];
  fail_with(close_code_for(error), describe(error));
}

void Session::fail_with(uint16_t code, const char* reason) {
  WSEDGE_LOG(kDebug, "ws %.*s: failing with %u: %s",
             static_cast<int>(transport_.peer_address().size()), transport_.peer_address().data(),
             static_cast<unsigned>(code), reason);
  if (traced_) [[unlikely]]
    trace_step(state_ == State::kOpen ? TraceStep::kFailing : TraceStep::kFailingClosing, code,
               reason);
  if (state_ == State::kOpen) send_close(code, reason);
  state_ = State::kClosed;
  release_message();
  notify_close(code, reason);
  transport_.close();
}

void Session::release_message() {
  note_memory((fragments_ ? fragments_->capacity() : 0) +
              (compression_ ? compression_->message.capacity() : 0));
  fragments_.reset();
  if (compression_) {
    compression_->message.release();
    compression_->inflater.discard();
  }
  if (options_.memory_budget != nullptr) options_.memory_budget->release_all(budget_hold_);
}

void Session::charge_budget(size_t unread) {
  if (options_.memory_budget == nullptr) return;
  MemoryBudget& budget = *options_.memory_budget;
  // Between messages a session keeps small buffers for reuse (and, with context takeover,
  // the inflater's window): per-connection memory, bounded per connection, not the
  // attacker-sized kind this budget is for.
  bool unfinished = unread != 0 || reader_.in_message();
  budget.set(budget_hold_, this, unfinished ? message_memory() + unread : 0);
  while (budget.over()) {
    MemoryBudget::Holding largest = budget.largest();
    auto* victim = static_cast<Session*>(largest.owner);
    WSEDGE_LOG(kInfo,
               "ws %.*s: closing 1013, it holds %zu B of unfinished messages (server: %zu B, "
               "budget %zu B)",
               static_cast<int>(victim->peer_address().size()), victim->peer_address().data(),
               largest.held, budget.total(), budget.limit());
    if (MessageCounters* c = victim->options_.counters) ++c->closed_over_budget;
    // 1013 Try Again Later (the IANA registry of RFC 6455 §11.7): a temporary condition of
    // the server, not the peer's fault (each message is within the limits).
    victim->fail_with(close_code::kTryAgainLater, "server message memory budget exceeded");
    budget.release_all(*largest.holder);  // fail_with released it already; never loop forever
  }
}

void Session::close(uint16_t code, std::string_view reason) {
  if (state_ != State::kOpen) return;
  if (traced_) [[unlikely]]
    trace_step(TraceStep::kServerCloses, code);
  send_close(code, reason);
  state_ = State::kClosing;
  // RFC 6455 §7.1.1/§7.1.3: wait for the peer's close, but not forever.
  transport_.arm_timer(options_.close_grace_ms);
}

// close_code::kNoStatus sends a close frame with an empty body.
void Session::send_close(uint16_t code, std::string_view reason) {
  uint8_t body[kMaxControlPayload];
  size_t n = encode_close_payload(body, code, reason);
  if (options_.counters != nullptr) options_.counters->close_sent.add(code);
  if (traced_) [[unlikely]]
    trace_step(TraceStep::kCloseSent, code);
  send_control(Opcode::kClose, {body, n});
}

inline bool Session::send_frame(Opcode op, std::span<const uint8_t> payload) {
  uint8_t header[kMaxHeaderSize];
  size_t n = encode_header(header, op, payload.size());
  transport_.send({header, n}, payload);
  return true;
}

inline bool Session::send_control(Opcode op, std::span<const uint8_t> payload) {
  if (traced_) [[unlikely]]
    return send_frame_traced(op, payload);
  return send_frame(op, payload);
}

bool Session::send_frame_traced(Opcode op, std::span<const uint8_t> payload) {
  uint8_t header[kMaxHeaderSize];
  size_t n = encode_header(header, op, payload.size());
  trace_sent({header, n}, payload);
  transport_.send({header, n}, payload);
  return true;
}

void Session::send_data_traced(Opcode op, std::span<const uint8_t> payload) {
  if (compression_ && payload.size() >= compression_->min_size && send_compressed(op, payload))
    return;
  send_frame_traced(op, payload);
}

bool Session::send(std::span<const uint8_t> payload, MessageType type) {
  // RFC 6455 §5.5.1: after sending a close frame, an endpoint sends no more data.
  if (state_ != State::kOpen) return false;
  count_out(payload.size());
  const Opcode op = type == MessageType::kText ? Opcode::kText : Opcode::kBinary;
  // --trace: the one test a frame sent costs when tracing is off. Here, not in the
  // send_frame every send inlines: a hook there outgrew send()'s inlining budget (a
  // Buffer copy left it, +20 instructions per echoed message, measured).
  if (traced_) [[unlikely]] {
    send_data_traced(op, payload);
    return true;
  }
  send_data(op, payload);
  return true;
}

inline void Session::send_data(Opcode op, std::span<const uint8_t> payload) {
  if (compression_ && payload.size() >= compression_->min_size && send_compressed(op, payload))
    return;
  send_frame(op, payload);
}

// Out of line, so the uncompressed path above stays a few instructions long.
bool Session::send_compressed(Opcode op, std::span<const uint8_t> payload) {
  // Compressed into a per-thread scratch buffer: send() copies what the kernel does not
  // take at once, so the buffer is free again when it returns.
  Buffer& compressed = compression_scratch();
  const bool stream_was_freed = compression_->deflater.memory() == 0;
  Result<size_t> done = compression_->deflater.compress(payload, compressed);
  note_memory(compressed.readable());  // the scratch stays this large until returned
  // RFC 7692 §7.1.1.1: without context takeover nothing carries to the next message. The
  // deflater resets its stream (~262 KiB at the defaults) per message; on_timer frees it
  // once we have been quiet for kDeflateIdleMs. Armed once per quiet period, not per send.
  compression_->deflated_ms = transport_.now_ms();
  if (stream_was_freed && compression_->deflater.options().no_context_takeover)
    schedule_keepalive();
  if (done.ok()) {
    if (MessageCounters* c = options_.counters) {
      c->deflate_in += payload.size();
      c->deflate_out += compressed.readable();
    }
    uint8_t header[kMaxHeaderSize];
    // RFC 7692 §6: RSV1 on the first (here: only) frame marks the message compressed.
    size_t n = encode_header(header, op, compressed.readable(), true, true);
    if (traced_) [[unlikely]]
      trace_sent({header, n}, compressed.view(), payload.size());
    transport_.send({header, n}, compressed.view());
  }
  // Empty between sends (a failed compress may have left output in it): memory_return
  // releases only an empty buffer.
  compressed.clear();
  return done.ok();  // a zlib failure is not the peer's fault: it goes out uncompressed
}

void Session::count_out(size_t bytes) {
  if (MessageCounters* c = options_.counters) {
    ++c->messages_out;
    c->bytes_out += bytes;
  }
}

size_t Session::compression_memory() const {
  return compression_ ? compression_->deflater.memory() + compression_->inflater.memory() : 0;
}

size_t Session::message_memory() const {
  size_t held = fragments_ ? fragments_->capacity() : 0;
  if (compression_) held += compression_->message.capacity() + compression_->inflater.memory();
  return held;
}

Buffer& Session::fragments() {
  if (!fragments_) fragments_ = std::make_unique<Buffer>();
  return *fragments_;
}

bool Session::send_text(std::string_view text) {
  return send(bytes(text), MessageType::kText);
}

bool Session::send_encoded(std::span<const uint8_t> frames) {
  if (state_ != State::kOpen) return false;
  count_out(frames.size());
  if (traced_) [[unlikely]]
    trace_sent(frames, {}, UINT64_MAX);  // whole frames already
  transport_.send(frames);
  return true;
}

void Session::abort() {
  if (state_ == State::kClosed) return;
  state_ = State::kClosed;
  if (traced_) [[unlikely]]
    trace_note(
        "TCP: the application aborts: the socket is closed at once, queued output "
        "dropped, no close handshake (the client sees 1006)");
  // The message buffers go in on_disconnect, right after: abort() may come from inside
  // on_message, whose payload may live in them.
  notify_close(close_code::kAbnormal, "aborted");
  transport_.abort();
}

bool Session::ping(std::span<const uint8_t> payload) {
  if (state_ != State::kOpen || payload.size() > 125) return false;
  return send_control(Opcode::kPing, payload);
}

void Session::notify_close(uint16_t code, std::string_view reason) {
  if (close_notified_) return;
  close_notified_ = true;
  handler_.on_close(*this, code, reason);
}

void Session::on_drain(Transport& /*t*/) {
  handler_.on_drain(*this);
}

// The idle limit: --idle-timeout, or twice the ping interval when none is given.
int64_t Session::idle_limit_ms() const {
  int64_t idle = options_.idle_timeout_ms;
  if (idle == 0 && options_.ping_interval_ms > 0) idle = 2 * options_.ping_interval_ms;
  return idle;
}

void Session::track_unfinished(bool unfinished) {
  if (!unfinished) {
    message_started_ms_ = kNoMessage;  // the timer, if it fires early, just re-arms
    return;
  }
  message_started_ms_ = transport_.now_ms();
  schedule_keepalive();
}

// One timer serves all four: it fires at the next ping, the idle deadline, the message
// deadline or the moment an idle compressor is freed, whichever is first (an
// --idle-timeout shorter than the ping interval must not wait for the ping).
// Only a silent peer is pinged: traffic already proves the connection alive, and one ping
// per silence is enough (its pong, or anything else, ends the silence).
int64_t Session::deflate_release_deadline() const {
  if (!compression_ || !compression_->deflater.options().no_context_takeover ||
      compression_->deflater.memory() == 0) {
    return INT64_MAX;
  }
  return compression_->deflated_ms + kDeflateIdleMs;
}

void Session::schedule_keepalive() {
  int64_t deadline = deflate_release_deadline();
  if (options_.ping_interval_ms > 0 && !keepalive_ping_sent_) {
    deadline = last_rx_ms_ + options_.ping_interval_ms;
  }
  if (int64_t idle = idle_limit_ms(); idle > 0) deadline = std::min(deadline, last_rx_ms_ + idle);
  if (options_.message_timeout_ms > 0 && message_started_ms_ != kNoMessage) {
    deadline = std::min(deadline, message_started_ms_ + options_.message_timeout_ms);
  }
  if (deadline != INT64_MAX) {
    transport_.arm_timer(std::max<int64_t>(1, deadline - transport_.now_ms()));
  }
}

void Session::on_timer(Transport& t) {
  if (state_ == State::kClosing) {
    // The peer never answered our close frame within the grace period.
    if (traced_) [[unlikely]]
      trace_note(
          "close handshake: no close from the client within --close-grace: TCP "
          "aborted (RFC 6455 §7.1.1 lets the server close at will); reported 1006");
    state_ = State::kClosed;
    release_message();
    notify_close(close_code::kAbnormal, "close handshake timed out");
    t.abort();
    return;
  }
  if (state_ != State::kOpen) return;
  int64_t idle = idle_limit_ms();
  if (idle > 0 && t.now_ms() - last_rx_ms_ >= idle) {
    // Nothing — not even a pong — for the whole timeout: the peer or the path is dead.
    // We still say why (1001), but do not wait for an answer that is not coming.
    if (traced_) [[unlikely]]
      trace_note(
          "idle timeout: nothing from the client for --idle-timeout: close 1001 sent, "
          "then TCP half-closed without waiting for an answer");
    send_close(close_code::kGoingAway, "idle timeout");
    state_ = State::kClosed;
    release_message();
    notify_close(close_code::kAbnormal, "idle timeout");
    t.close();
    return;
  }
  if (options_.message_timeout_ms > 0 && message_started_ms_ != kNoMessage &&
      t.now_ms() - message_started_ms_ >= options_.message_timeout_ms) {
    // RFC 6455 §7.4.1: 1008, the generic code for a peer that broke the server's policy.
    fail_with(close_code::kPolicyViolation, "message not completed within the message timeout");
    return;
  }
  if (t.now_ms() >= deflate_release_deadline()) compression_->deflater.release();
  if (options_.ping_interval_ms > 0 && !keepalive_ping_sent_ &&
      t.now_ms() - last_rx_ms_ >= options_.ping_interval_ms) {
    ping();
    keepalive_ping_sent_ = true;
  }
  schedule_keepalive();
}

void Session::on_disconnect(Transport& t) {
  if (traced_) [[unlikely]] {
    trace_step(state_ == State::kClosed ? TraceStep::kGone : TraceStep::kDropped,
               static_cast<uint64_t>(t.how_ended()));
    traced_ = false;
  }
  state_ = State::kClosed;
  release_message();
  notify_close(close_code::kAbnormal, {});  // RFC 6455 §7.1.5: no close frame seen: 1006
}

}  // namespace wsedge::ws

namespace wsedge::ws {

TracedConnection* Session::traced() {
  return options_.tracer->find(this);
}

void Session::trace_received(std::span<const uint8_t> data) {
  if (TracedConnection* c = traced()) options_.tracer->received(*c, data);
}

void Session::trace_sent(std::span<const uint8_t> header, std::span<const uint8_t> payload,
                         uint64_t inflated_size) {
  TracedConnection* c = traced();
  if (c == nullptr) return;
  if (inflated_size == UINT64_MAX) {
    options_.tracer->sent_frames(*c, header);
  } else {
    options_.tracer->sent(*c, header, payload, inflated_size);
  }
}

void Session::trace_note(std::string_view text) {
  if (TracedConnection* c = traced()) options_.tracer->note(*c, text);
}

void Session::trace_step(TraceStep step, uint64_t value, const void* ptr) {
  TracedConnection* c = traced();
  if (c == nullptr) return;
  Tracer& tr = *options_.tracer;
  const auto code = static_cast<uint16_t>(value);
  switch (step) {
    case TraceStep::kInflated:
      tr.inflated(*c, value);
      return;
    case TraceStep::kClientCloses:
    case TraceStep::kClientAnswers:
      tr.close_received(*c, code, step == TraceStep::kClientCloses);
      return;
    case TraceStep::kServerCloses:
      tr.close_started(*c, code);
      return;
    case TraceStep::kCloseSent:
      c->server_code = code;
      return;
    case TraceStep::kError: {
      const auto error = static_cast<WsError>(value);
      tr.protocol_error(*c, error, state_ == State::kOpen ? close_code_for(error) : 0,
                        static_cast<const uint8_t*>(ptr));
      return;
    }
    case TraceStep::kFailing:
    case TraceStep::kFailingClosing:
      tr.failing(*c, code, static_cast<const char*>(ptr), step == TraceStep::kFailing);
      return;
    case TraceStep::kGone:
    case TraceStep::kDropped:
      tr.disconnected(*c, static_cast<TcpEnd>(value));
      tr.end(this);
      return;
  }
}

}  // namespace wsedge::ws
