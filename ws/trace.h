// ws/trace.h — the server's --trace: what one WebSocket connection says and hears, as the
// inspector's lines (ws/inspect), on stderr.
//
// A Tracer belongs to a wsedge::Server (ServerOptions::trace). At an upgrade the server
// asks it whether the connection is traced (--trace-filter); if so the Tracer gives it a
// short id ("c3") and keeps its bookkeeping in a TracedConnection, prints the handshake
// (the request head, each check, the accept key step by step, the negotiation, the 101),
// and the ws::Session made for it is bound to that bookkeeping: from then on the Session
// calls the Tracer for every frame it reads or sends, every protocol error and every step
// of the close. A Session that is not traced pays one predictable test per frame and no
// more (ws/session.h, docs/trace.md): everything here runs only for traced connections.
// Loop thread only; one Tracer serves every session of its server.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/transport.h"
#include "ws/extensions.h"
#include "ws/handshake.h"
#include "ws/inspect.h"

namespace wsedge::ws {

// One --trace-filter: a connection matches when every term given holds.
struct TraceFilter {
  std::string path;  // the request path, exactly; a trailing '*' makes it a prefix
  std::string peer;  // the peer's IP address (any port), or "ip:port" ("[v6]:port")

  bool matches(std::string_view request_path, std::string_view peer_address) const;
};

// "path=/echo", "peer=127.0.0.1", "path=/chat,peer=::1": false with a one-line `error`
// for an empty term, an unknown key or a missing value.
bool parse_trace_filter(std::string_view text, TraceFilter* out, std::string* error);

struct TraceOptions {
  bool enabled = false;
  inspect::Detail detail = inspect::Detail::kSummary;  // --trace or --trace=hex
  std::vector<TraceFilter> filters;  // empty: every connection; else any one that matches
};

// One traced connection's bookkeeping: its id and peer, where its streams stand, and the
// close handshake so far.
struct TracedConnection {
  // Where one direction's frames stand in their messages (RFC 6455 §5.4).
  struct Stream {
    uint64_t message = 0;  // the number of the last message begun (1-based)
    bool in_message = false, text = false, compressed = false;
    uint64_t compressed_size = 0;  // payload bytes of the compressed message so far
  };
  std::string id;    // "c1"
  std::string peer;  // "127.0.0.1:43210", kept: the socket may be gone later
  // The receive stream after the 101. Each read hands the session the unconsumed start of
  // a frame (rx_carry bytes, seen before, their payload unmasked since) and new bytes.
  uint64_t rx_total = 0;             // stream bytes received so far
  uint64_t rx_base = 0;              // stream offset of the current read's first byte
  const uint8_t* rx_data = nullptr;  // that byte's address, during the read
  size_t rx_carry = 0;
  size_t rx_walked = 0;  // bytes of the current read in whole frames
  Stream rx, tx;
  // Received compressed messages whose frames were shown but which have not inflated yet:
  // their number and compressed size, oldest first.
  std::vector<std::pair<uint64_t, uint64_t>> inflating;
  bool server_started_close = false, client_started_close = false;
  uint16_t server_code = 0, client_code = 0;  // the close codes each side sent (0: none)
};

class Tracer {
 public:
  explicit Tracer(TraceOptions options, int fd = 2);

  // An upgrade request from `peer` for `path`: its bookkeeping when it is to be traced,
  // else null (and nothing is printed for it, ever).
  TracedConnection* begin(std::string_view peer, std::string_view path);

  // The opening handshake (RFC 6455 §4.2), in the order the server runs it.
  // `reads`: the head's size after each read that left it incomplete (Request::head_reads).
  void request(TracedConnection& c, std::string_view head, std::span<const uint32_t> reads);
  void checks(TracedConnection& c, const http::Request& request, const UpgradeFields& fields,
              HandshakeError failed);
  void accepted(TracedConnection& c, const UpgradeFields& fields, const HandshakeResult& result,
                bool deflate_on, const NegotiationResult& deflate,
                std::span<const uint8_t> response);
  // Refused (404, 401/403, a failed check): the answer as sent; the bookkeeping is freed.
  void refused(TracedConnection* c, std::span<const uint8_t> response);

  // The Session made for c takes it over (ws::Opening::trace) and finds it by address.
  void bind(const void* session, TracedConnection* c);
  TracedConnection* find(const void* session);
  void end(const void* session);  // the session is gone; unknown sessions are ignored

  // One read's bytes, before the reader sees them: every whole frame in them, as it came
  // off the wire (the first frame's payload bytes seen by an earlier read are masked again).
  void received(TracedConnection& c, std::span<const uint8_t> data);
  // The oldest compressed message received has inflated to this many bytes (RFC 7692).
  void inflated(TracedConnection& c, uint64_t inflated_size);
  // A frame sent: its header and payload (compressed: the DEFLATE bytes, and the size
  // they inflate to), or bytes that are whole frames already (a fan-out's).
  void sent(TracedConnection& c, std::span<const uint8_t> header, std::span<const uint8_t> payload,
            uint64_t inflated_size = 0);
  void sent_frames(TracedConnection& c, std::span<const uint8_t> frames);
  // A broken rule (RFC 6455 §7.1.7), and the close code sent for it (0: none); `at`: the
  // byte that broke it, in the current read (null: found after the frames, inflating).
  void protocol_error(TracedConnection& c, WsError error, uint16_t close_code_sent,
                      const uint8_t* at);
  // The close handshake: the client's close frame arrived (`first`: it starts the close
  // handshake, else it answers ours); we start it; we fail the connection (`sending`: our
  // close goes out now); TCP is gone, and how (the transport's account, core/transport.h).
  void close_received(TracedConnection& c, uint16_t code, bool first);
  void close_started(TracedConnection& c, uint16_t code);
  void failing(TracedConnection& c, uint16_t code, const char* reason, bool sending);
  void disconnected(TracedConnection& c, TcpEnd how);
  // A line about the connection itself (the close handshake, TCP).
  void note(TracedConnection& c, std::string_view text);

 private:
  inspect::FrameNotes place(TracedConnection::Stream& s, std::span<const uint8_t> frame);
  void emit();  // out_ to the fd, then cleared

  TraceOptions options_;
  int fd_;
  uint64_t next_id_ = 1;
  std::string out_;
  std::vector<uint8_t> scratch_;
  std::unordered_map<const void*, std::unique_ptr<TracedConnection>> bound_;
  std::unique_ptr<TracedConnection> handshaking_;  // between begin() and bind()/refused()
};

}  // namespace wsedge::ws
