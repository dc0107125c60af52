// ws/inspect.h — the protocol inspector: frames, handshakes and protocol errors as text for a
// learner (the client's --trace, and the server's once it has one).
//
// Pure formatting: byte spans and values in, lines appended to a caller's std::string; no
// I/O, no clock, no globals. Every line starts with a prefix naming the connection and the
// direction of the bytes it describes ("c1 > " client to server, "c1 < " server to client),
// so both sides print the same thing for the same frame. The formatter never judges a
// frame: it shows the bits as they are on the wire, legal or not, so a frame a learner
// broke on purpose (/raw) is shown as faithfully as a good one. Any thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "ws/errors.h"
#include "ws/handshake.h"
#include "ws/mask.h"
#include "ws/protocol_names.h"

namespace wsedge::ws::inspect {

// Which way the bytes go: the same character on both sides of a connection. kNote: no bytes,
// a line about the connection itself (its peer, the close handshake, how TCP ended): " * ".
enum class Flow : uint8_t { kClientToServer, kServerToClient, kNote };

struct Prefix {
  std::string_view conn;  // a short connection id, e.g. "c1"
  Flow flow = Flow::kClientToServer;
};

// How much a frame shows: the fields (--trace), or the fields and a hex dump (--trace=hex).
enum class Detail : uint8_t { kSummary, kHex };

// A frame's payload preview stops after this many bytes; the hex dump after kMaxDumpBytes.
inline constexpr size_t kPreviewBytes = 32;
inline constexpr size_t kMaxDumpBytes = 256;

// The header as the bytes say it, with no rule applied (RFC 6455 §5.2).
struct WireHeader {
  bool fin = false, rsv1 = false, rsv2 = false, rsv3 = false, masked = false;
  uint8_t opcode = 0;      // the 4-bit field, reserved values included
  uint8_t length7 = 0;     // the 7-bit field: the length, or 126 / 127 for the longer forms
  uint64_t length = 0;     // the payload length, from whichever form carried it
  MaskKey mask_key{};      // zeros when !masked
  size_t header_size = 0;  // 2..14
};

// Reads the header at the front of `frame`; false when fewer bytes than it needs are given.
bool read_wire_header(std::span<const uint8_t> frame, WireHeader* out);

// Where a frame stands in its message (RFC 6455 §5.4). The caller tracks the messages.
// kUntracked: the caller does not know (a frame sent as raw bytes, outside any bookkeeping).
enum class Position : uint8_t { kWhole, kFirst, kMiddle, kLast, kControl, kUntracked };

// What the caller knows about a frame that its bytes alone do not say.
struct FrameNotes {
  Position position = Position::kWhole;
  uint64_t message = 0;  // message number N (1-based); with kControl: the message it sits
                         // inside (0: between messages)
  bool text = false;     // the message is text (continuations do not say so themselves)
  // RFC 7692: the message is compressed, so its payload is DEFLATE data (shown as hex).
  bool compressed = false;
  // Its sizes compressed and inflated, shown when inflated_size != 0 (on its last frame).
  uint64_t compressed_size = 0, inflated_size = 0;
};

// One frame, field by field, then its payload (masked and unmasked), its place in the
// message, compression sizes, a close frame's code and reason; with kHex a dump of the
// frame's bytes. `frame` is the frame as on the wire from its first header byte; it may stop
// before the payload ends (only what is given is shown).
void format_frame(std::string& out, const Prefix& p, std::span<const uint8_t> frame,
                  const FrameNotes& notes, Detail detail);

// An HTTP head (request or response) line by line, up to its blank line, bytes escaped.
void format_head(std::string& out, const Prefix& p, std::string_view head);

// RFC 6455 §4.2.2 step by step: key + GUID, its SHA-1 in hex, the base64 of that.
void format_accept_key(std::string& out, const Prefix& p, std::string_view key);

// The server's checks of an opening handshake (RFC 6455 §4.2.1 items 1-6, the no-body rule
// of §4.1 item 2, the origin of §4.2.2 item 4), in the order ws::check_handshake makes them,
// one line each with what the request held: "ok" up to the first that failed (`failed`,
// kNone when all passed), which is shown with its status, and nothing after it.
void format_handshake_checks(std::string& out, const Prefix& p, const http::Request& request,
                             const UpgradeFields& fields, HandshakeError failed);

// What the opening handshake agreed: the offers (header values, empty when absent) and what
// the server chose (empty: nothing).
struct Negotiation {
  std::string_view subprotocols_offered, subprotocol_chosen;
  std::string_view extensions_offered, extensions_agreed;
};
void format_negotiation(std::string& out, const Prefix& p, const Negotiation& n);

// A broken rule: the WsError, its RFC section and describe() text, the byte offset in the
// stream it was found at, and the close code sent for it (0: none, a Close was already sent).
void format_protocol_error(std::string& out, const Prefix& p, WsError error, uint64_t offset,
                           uint16_t close_code_sent);

// One free line of commentary ("close handshake complete", "TCP closed by the server").
void format_note(std::string& out, const Prefix& p, std::string_view text);

// `bytes` as a learner should read them: printable ASCII and valid UTF-8 characters as they
// are; quote, backslash and control bytes as \" \\ \n \r \t \xHH; invalid UTF-8 as \xHH.
void append_escaped(std::string& out, std::span<const uint8_t> bytes);
// "81 05 48" (lower-case pairs separated by spaces).
void append_hex(std::string& out, std::span<const uint8_t> bytes);

}  // namespace wsedge::ws::inspect
