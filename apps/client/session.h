// apps/client/session.h — the client side of RFC 6455 §5–§7 after the handshake: masks and
// encodes what the user sends, decodes and checks what the server sends, answers pings,
// runs the close handshake, and describes every frame through ws/inspect when tracing.
//
// Pure: bytes in (receive), bytes out (output(), for the caller to write), trace lines out
// (trace(), for the caller to print), events out; no I/O and no clock. Masking keys come from
// the caller's KeySource (RAND_bytes in the tool, a fixed sequence in tests). One thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "apps/client/commands.h"
#include "apps/client/options.h"
#include "core/buffer.h"
#include "ws/client_handshake.h"
#include "ws/deflate.h"
#include "ws/errors.h"
#include "ws/frame.h"
#include "ws/inspect.h"
#include "ws/mask.h"
#include "ws/utf8.h"

namespace wsedge::client {

// RFC 6455 §10.4: a receiver limits what it accepts. 64 MiB, the server's default.
inline constexpr uint64_t kMaxMessage = 64ull << 20;

using KeySource = ws::MaskKey (*)();

enum class EventKind : uint8_t { kText, kBinary, kPing, kPong, kClose, kFailed };

struct Event {
  EventKind kind = EventKind::kText;
  std::string data;                        // the message, ping/pong data, or the close reason
  uint16_t code = 0;                       // kClose: the server's code (1005: none)
  ws::WsError error = ws::WsError::kNone;  // kFailed: the rule the server broke
  uint64_t offset = 0;                     // kFailed: byte of the stream where it was found
};

struct SessionConfig {
  ws::ClientDeflate deflate;  // as the handshake agreed
  TraceLevel trace = TraceLevel::kOff;
  std::string_view conn_id = "c1";
  KeySource keys = nullptr;
  uint64_t max_message = kMaxMessage;
};

class ClientSession {
 public:
  explicit ClientSession(const SessionConfig& c);

  // Each send appends one message's frames to output(). After send_close() (or a failure)
  // data and pings are refused (RFC 6455 §5.5.1): they return false and send nothing.
  bool send_text(std::string_view text);
  bool send_binary(std::span<const uint8_t> bytes);
  bool send_ping(std::string_view data);
  bool send_fragments(std::string_view text, unsigned count);
  bool send_close(uint16_t code, std::string_view reason);
  // Whatever the user asked for, in any state: breaking the rules is /raw's purpose.
  void send_raw(const RawFrame& raw);

  // The server's bytes, in order; complete frames become events.
  void receive(std::span<const uint8_t> bytes, std::vector<Event>* events);

  Buffer& output() { return out_; }
  std::string& trace() { return trace_; }
  bool close_sent() const { return close_sent_; }
  bool close_received() const { return close_received_; }
  bool failed() const { return failed_; }
  uint16_t sent_close_code() const { return sent_code_; }

 private:
  bool frame_in(std::span<const uint8_t> frame, const ws::FrameHeader& h,
                std::vector<Event>* events);
  ws::WsError data_in(const ws::FrameHeader& h, std::span<const uint8_t> payload,
                      std::vector<Event>* events, ws::inspect::FrameNotes* n);
  ws::WsError close_in(std::span<const uint8_t> payload, std::vector<Event>* events);
  void fail(ws::WsError e, uint64_t offset, std::vector<Event>* events);
  void send_frame(ws::Opcode op, std::span<const uint8_t> payload, bool fin, bool rsv1,
                  uint64_t message, ws::inspect::Position pos, uint64_t inflated_size);
  bool send_message(ws::Opcode op, std::span<const uint8_t> bytes, unsigned count);
  void trace_frame(bool sent, std::span<const uint8_t> frame, const ws::inspect::FrameNotes& n);

  SessionConfig cfg_;
  Buffer out_, in_, message_, inflated_;
  std::string trace_;
  ws::FrameSequence sequence_;
  ws::Utf8Validator utf8_;
  ws::MessageDeflater deflater_;
  ws::MessageInflater inflater_;
  uint64_t offset_ = 0;  // stream bytes consumed before in_'s front
  uint64_t messages_in_ = 0, messages_out_ = 0;
  uint16_t sent_code_ = 0;
  // The message being sent: its type and compressed size, for the trace of its frames.
  uint64_t compressed_total_ = 0;
  bool sending_text_ = false;
  bool close_sent_ = false, close_received_ = false, failed_ = false;
};

}  // namespace wsedge::client
