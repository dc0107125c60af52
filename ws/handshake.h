// ws/handshake.h — the server side of the WebSocket opening handshake (RFC 6455 §4.2).
//
// Pure: reads a parsed http::Request, returns a verdict, writes the 101 or the refusal
// into a Buffer; no I/O, no heap. The header fields an upgrade needs are gathered once
// (UpgradeFields) and read by both the checks and the extension negotiation. Views point
// into the Request's input (UpgradeFields) and into HandshakeOptions' strings
// (HandshakeResult::subprotocol): keep both alive until the response is written. Any thread.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "core/buffer.h"
#include "http/parser.h"

namespace wsedge::ws {

// RFC 6455 §1.3: appended to Sec-WebSocket-Key before hashing.
inline constexpr std::string_view kHandshakeGuid = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
inline constexpr size_t kAcceptKeyLength = 28;  // base64 of a 20-byte SHA-1

struct HandshakeOptions {
  std::span<const std::string> subprotocols;     // the route's, in preference order
  std::span<const std::string> allowed_origins;  // empty: any origin
  // With a non-empty allow-list, may a request without Origin pass? Browsers always send
  // Origin (RFC 6455 §4.1, item 8) and other clients can forge it, so the default is yes.
  bool require_origin = false;
};

// Every reason check_handshake refuses an upgrade for: one per rule of RFC 6455 §4.2.1,
// plus the no-body rule (§4.1 item 2, against request smuggling) and the origin check
// (§4.2.2 item 4), so a refusal names the rule and a test compares values. Refusals that
// are not the handshake's (404 for no route, a route's own 401/403) are ws::Server's and
// stay plain statuses.
enum class HandshakeError : uint8_t {
  kNone = 0,
  kNotGet,               // 405: the method MUST be GET (§4.2.1 item 1)
  kNotHttp11,            // 400: HTTP/1.1 or higher (§4.2.1 item 1)
  kHasBody,              // 400: frames start right after the head (§4.1 item 2; RFC 9112 §6.3)
  kNoHost,               // 400: exactly one Host (§4.2.1 item 2)
  kNoUpgradeWebsocket,   // 400: Upgrade holding "websocket" (§4.2.1 item 3)
  kNoConnectionUpgrade,  // 400: Connection holding "Upgrade" (§4.2.1 item 4)
  kKeyCount,             // 400: exactly one Sec-WebSocket-Key (§4.2.1 item 5)
  kBadKey,               // 400: the key is 16 bytes in base64 (§4.2.1 item 5)
  kBadVersion,           // 426: Sec-WebSocket-Version 13, once (§4.2.1 item 6, §4.4)
  kOriginNotAllowed      // 403: an origin the route does not accept (§4.2.2 item 4, §10.2)
};

// The status of the answer: 101 for kNone, else the refusal's (400, 403, 405 or 426).
int status_for(HandshakeError e);

// One line naming the broken rule: a string literal, the refusal's body (its length is
// static_assert'ed against http::kMaxErrorText).
const char* describe(HandshakeError e);

// The header fields of an upgrade request that the handshake reads, gathered in one pass
// over the request's headers. Several Sec-WebSocket-Protocol or Sec-WebSocket-Extensions
// lines are one list, in order (RFC 6455 §9.1, §11.3.4): every value is kept (a head the
// parser accepted has at most http::kMaxHeaders lines).
struct UpgradeFields {
  size_t hosts = 0, keys = 0, versions = 0, origins = 0;
  std::string_view key, version, origin;  // the first of each
  bool upgrade_websocket = false;         // some Upgrade line holds "websocket"
  bool connection_upgrade = false;        // some Connection line holds "upgrade"
  std::array<std::string_view, http::kMaxHeaders> protocol_lines, extension_lines;
  size_t protocol_count = 0, extension_count = 0;

  std::span<const std::string_view> protocols() const {
    return {protocol_lines.data(), protocol_count};
  }
  std::span<const std::string_view> extensions() const {
    return {extension_lines.data(), extension_count};
  }
};

UpgradeFields gather_upgrade_fields(const http::Request& req);

struct HandshakeResult {
  // kNone: accepted (answer 101); else the rule the request broke (answer
  // status_for(error)). One field, so the verdict cannot disagree with itself.
  HandshakeError error = HandshakeError::kNone;
  std::string_view subprotocol;        // chosen, one of HandshakeOptions::subprotocols; empty: none
  char accept[kAcceptKeyLength] = {};  // Sec-WebSocket-Accept, when ok

  bool ok() const { return error == HandshakeError::kNone; }
  std::string_view accept_key() const { return {accept, kAcceptKeyLength}; }
};

// Has an Upgrade header holding the token "websocket" (case-insensitive): the request
// asks for the WebSocket path, even when it fails check_handshake later.
bool is_websocket_upgrade(const http::Request& req);

// RFC 6455 §4.2.1 and §4.2.2 on `req`, whose fields `fields` gathered.
HandshakeResult check_handshake(const http::Request& req, const UpgradeFields& fields,
                                const HandshakeOptions& options);
// The same, gathering the fields itself (for callers that need nothing else of them).
inline HandshakeResult check_handshake(const http::Request& req, const HandshakeOptions& options) {
  return check_handshake(req, gather_upgrade_fields(req), options);
}

// base64(SHA-1(key + kHandshakeGuid)) into out, not NUL-terminated (RFC 6455 §4.2.2).
void compute_accept_key(std::string_view key, char out[kAcceptKeyLength]);

// The 101 Switching Protocols for an ok result; `extensions_header_value`, when not
// empty, becomes the Sec-WebSocket-Extensions header the negotiator agreed to.
void write_handshake_response(Buffer& out, const HandshakeResult& result,
                              std::string_view extensions_header_value = {});
// The refusal for a !ok result: status_for(error), describe(error) as a one-line body,
// Connection: close, and for 426 the Sec-WebSocket-Version: 13 the client needs (§4.4).
void write_handshake_error(Buffer& out, const HandshakeResult& result);

}  // namespace wsedge::ws
