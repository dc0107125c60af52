// ws/client_handshake.h — the client side of the opening handshake (RFC 6455 §4.1), and the
// client's half of permessage-deflate negotiation (RFC 7692 §7, §7.1).
//
// Pure: write_client_request() appends the upgrade request to a caller's std::string;
// check_server_response() judges a complete response head against what was offered and names
// the first rule it breaks. No I/O, no randomness (the caller brings the 16 random bytes of
// the key), no heap beyond the caller's string. Views in the result point into the head and
// into the offer: keep both alive while it is used. Any thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace wsedge::ws {

inline constexpr size_t kClientNonceLength = 16;  // RFC 6455 §4.1: a 16-byte nonce
inline constexpr size_t kClientKeyLength = 24;    // its base64
inline constexpr size_t kMaxResponseHead = 16384;

// Sec-WebSocket-Key: the base64 (RFC 4648 §4) of the caller's 16 random bytes.
std::string client_key(std::span<const uint8_t, kClientNonceLength> nonce);

// What the client asks for.
struct ClientOffer {
  std::string_view host;    // the Host header: host, or host:port when not the default
  std::string_view target;  // path and query, "/" at least
  std::string_view key;     // client_key()
  std::span<const std::string> subprotocols;  // Sec-WebSocket-Protocol, preference order
  bool deflate = false;                       // offer permessage-deflate
  std::string_view origin;                    // Origin, when not empty
  std::span<const std::string> headers;       // extra "Name: value" lines, sent as given
};

void write_client_request(std::string& out, const ClientOffer& offer);

// One value per rule of RFC 6455 §4.1 (and RFC 7692 §7) the response can break.
enum class ClientHandshakeError : uint8_t {
  kNone = 0,
  kMalformed,            // not an HTTP/1.1 status line and header fields (RFC 9112 §4, §5)
  kNotSwitching,         // status other than 101 (§4.1, response item 1)
  kNoUpgradeWebsocket,   // Upgrade missing or not "websocket" (item 2)
  kNoConnectionUpgrade,  // Connection without the "Upgrade" token (item 3)
  kBadAccept,            // Sec-WebSocket-Accept missing or wrong (item 4)
  kExtensionNotOffered,  // an extension the client did not offer (item 5)
  kBadDeflateResponse,   // permessage-deflate parameters RFC 7692 §7 forbids in a response
  kProtocolNotOffered,   // a subprotocol the client did not offer, or several (item 6)
};
const char* describe(ClientHandshakeError e);

// What the server's permessage-deflate answer agreed to (RFC 7692 §7.1): the client
// compresses with the client_* values and inflates with the server_* ones.
struct ClientDeflate {
  bool enabled = false;
  bool server_no_context_takeover = false;
  bool client_no_context_takeover = false;
  int server_max_window_bits = 15;  // absent: the full 32 KiB window
  int client_max_window_bits = 15;
};

struct ServerResponse {
  ClientHandshakeError error = ClientHandshakeError::kNone;
  int status = 0;                // the status code, when the status line could be read
  std::string_view reason;       // its reason phrase
  std::string_view subprotocol;  // the one chosen; empty: none
  std::string_view extensions;   // the last Sec-WebSocket-Extensions value, as sent
  std::string_view accept;       // Sec-WebSocket-Accept, as sent
  ClientDeflate deflate;
  const char* detail = "";  // kBadDeflateResponse / kMalformed: which part
};

// Bytes of the head through its blank line (CRLF CRLF), or 0 when it has not all arrived.
size_t response_head_length(std::string_view received);

// `head` is the response through its blank line. Checks every rule of RFC 6455 §4.1 a client
// MUST check before it sends a frame, in the order the RFC lists them.
ServerResponse check_server_response(std::string_view head, const ClientOffer& offer);

}  // namespace wsedge::ws
