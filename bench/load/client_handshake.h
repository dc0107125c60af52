// bench/load/client_handshake.h — the client side of the opening handshake (RFC 6455 §4.1).
//
// Pure: build_request() writes the upgrade request for a 16-byte nonce; check_response()
// judges a complete response head (through the blank line) against the expected
// Sec-WebSocket-Accept and reads the permessage-deflate answer (RFC 7692 §5, §7.1) into a
// DeflateAgreement. No I/O, no heap beyond the caller's std::string. Any thread.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "ws/extensions.h"
#include "ws/handshake.h"

namespace wsedge::load {

inline constexpr size_t kNonceLength = 16;
inline constexpr size_t kKeyLength = 24;  // base64 of the 16-byte nonce
inline constexpr size_t kMaxResponseHead = 8192;

// base64 (RFC 4648 §4, with padding) of in[0..n) into out; returns the length written.
inline size_t base64_encode(const uint8_t* in, size_t n, char* out) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  size_t o = 0;
  for (size_t i = 0; i < n; i += 3) {
    uint32_t v = uint32_t{in[i]} << 16;
    if (i + 1 < n) v |= uint32_t{in[i + 1]} << 8;
    if (i + 2 < n) v |= in[i + 2];
    out[o++] = kAlphabet[(v >> 18) & 63];
    out[o++] = kAlphabet[(v >> 12) & 63];
    out[o++] = i + 1 < n ? kAlphabet[(v >> 6) & 63] : '=';
    out[o++] = i + 2 < n ? kAlphabet[v & 63] : '=';
  }
  return o;
}

// What wsload offers of permessage-deflate (--deflate, --deflate-no-context-takeover).
struct DeflateOffer {
  bool enabled = false;
  bool client_no_context_takeover = false;
};

// What the server's answer agreed to (RFC 7692 §7.1): the client compresses with the client_*
// values and inflates with the server_* ones. enabled == false: plain messages only.
struct DeflateAgreement {
  bool enabled = false;
  bool server_no_context_takeover = false;
  bool client_no_context_takeover = false;
  int server_max_window_bits = 15;  // §7.1.2.1: absent means the full 32 KiB window
  int client_max_window_bits = 15;  // §7.1.2.2: likewise
};

// RFC 6455 §4.1: the key is a randomly selected 16-byte nonce, base64-encoded.
inline std::string build_request(std::string_view path, std::string_view host, std::string_view key,
                                 const DeflateOffer& deflate) {
  std::string r;
  r.reserve(256);
  r.append("GET ").append(path).append(" HTTP/1.1\r\nHost: ").append(host);
  r.append("\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ");
  r.append(key).append("\r\nSec-WebSocket-Version: 13\r\n");
  if (deflate.enabled) {
    // RFC 7692 §7.1.2.2: client_max_window_bits without a value says "any window is fine,
    // tell me yours"; server_max_window_bits is not asked, so the server keeps its own.
    r.append("Sec-WebSocket-Extensions: permessage-deflate");
    // §7.1.1.2: a hint that this client will not take over context, agreed or not.
    if (deflate.client_no_context_takeover) r.append("; client_no_context_takeover");
    r.append("; client_max_window_bits\r\n");
  }
  r.append("\r\n");
  return r;
}

namespace detail {

inline bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    char x = a[i] >= 'A' && a[i] <= 'Z' ? static_cast<char>(a[i] + 32) : a[i];
    char y = b[i] >= 'A' && b[i] <= 'Z' ? static_cast<char>(b[i] + 32) : b[i];
    if (x != y) return false;
  }
  return true;
}

inline std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t'))
    s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t'))
    s.remove_suffix(1);
  return s;
}

// Does a comma-separated header value hold `token` (case-insensitive)?
inline bool has_token(std::string_view value, std::string_view token) {
  while (!value.empty()) {
    size_t comma = value.find(',');
    if (iequals(trim(value.substr(0, comma)), token)) return true;
    if (comma == std::string_view::npos) break;
    value.remove_prefix(comma + 1);
  }
  return false;
}

// Is `token` one of the elements of the comma-separated `list`, compared exactly (RFC 6455
// §4.2.2: the server echoes one of the client's values)?
inline bool has_exact_token(std::string_view list, std::string_view token) {
  while (!list.empty()) {
    size_t comma = list.find(',');
    if (!token.empty() && trim(list.substr(0, comma)) == token) return true;
    if (comma == std::string_view::npos) break;
    list.remove_prefix(comma + 1);
  }
  return false;
}

// RFC 7692 §7.1.2.1/§7.1.2.2 ABNF: 1*DIGIT without a leading zero, 8..15; 0 when not.
inline int window_bits_value(const ws::ExtensionParam& p) {
  char v[3];
  const size_t n = ws::unescape_value(p, v);
  if (n == 1 && (v[0] == '8' || v[0] == '9')) return v[0] - '0';
  if (n == 2 && v[0] == '1' && v[1] >= '0' && v[1] <= '5') return 10 + (v[1] - '0');
  return 0;
}

// One permessage-deflate element of the response. RFC 7692 §7: the client MUST fail the
// connection when the response holds a parameter not defined for a response, a parameter
// with an invalid value, or the same parameter twice. Returns the reason, or nullptr.
inline const char* read_deflate_params(const ws::ExtensionOffer& e, const DeflateOffer& offer,
                                       DeflateAgreement* a) {
  unsigned seen = 0;
  for (size_t k = 0; k < e.param_count; ++k) {
    const ws::ExtensionParam& p = e.params[k];
    unsigned bit;
    if (p.name == "server_no_context_takeover") {
      // §7.1.1.1: valueless; the server may add it unasked.
      bit = 1;
      if (p.has_value) return "permessage-deflate: server_no_context_takeover with a value";
      a->server_no_context_takeover = true;
    } else if (p.name == "client_no_context_takeover") {
      // §7.1.1.2: valueless; the server may ask it of any client.
      bit = 2;
      if (p.has_value) return "permessage-deflate: client_no_context_takeover with a value";
      a->client_no_context_takeover = true;
    } else if (p.name == "server_max_window_bits") {
      // §7.1.2.1: the server may announce its window unasked; the value is required.
      bit = 4;
      a->server_max_window_bits = p.has_value ? window_bits_value(p) : 0;
      if (a->server_max_window_bits == 0)
        return "permessage-deflate: server_max_window_bits is not 8..15";
    } else if (p.name == "client_max_window_bits") {
      // §7.1.2.2: allowed only because the offer carried it (always, see build_request);
      // in a response it names the window we must use, so it needs a value.
      bit = 8;
      a->client_max_window_bits = p.has_value ? window_bits_value(p) : 0;
      if (a->client_max_window_bits == 0)
        return "permessage-deflate: client_max_window_bits is not 8..15";
    } else {
      return "permessage-deflate: a parameter that is not defined for a response";
    }
    if (seen & bit) return "permessage-deflate: the same parameter twice";
    seen |= bit;
  }
  // §7.1.1.2: having offered client_no_context_takeover, we keep to it even if not echoed.
  if (offer.client_no_context_takeover) a->client_no_context_takeover = true;
  return nullptr;
}

// A Sec-WebSocket-Extensions response value (one of possibly several headers, which RFC 6455
// §9.1 joins into one list). Returns the reason to fail, or nullptr.
inline const char* read_extensions(std::string_view value, const DeflateOffer& offer,
                                   DeflateAgreement* a) {
  ws::ExtensionList list(value);
  ws::ExtensionOffer e;
  while (list.next(&e)) {
    if (!e.valid) return "malformed Sec-WebSocket-Extensions";
    // RFC 6455 §4.1 item 5: an extension the client did not offer fails the connection.
    if (!offer.enabled || e.name != "permessage-deflate") return "extension not offered";
    // RFC 7692 §5: the server accepts one offer; a second element would be a second
    // extension claiming RSV1 (and an offer we made only once).
    if (a->enabled) return "permessage-deflate accepted twice";
    a->enabled = true;
    if (const char* err = read_deflate_params(e, offer, a)) return err;
  }
  return nullptr;
}

}  // namespace detail

struct ResponseCheck {
  const char* error = nullptr;  // nullptr: the upgrade succeeded
  DeflateAgreement deflate;     // deflate.enabled: the server accepted permessage-deflate
};

// `head` is the response through its blank line. RFC 6455 §4.1 lists what a client MUST
// check before it may send frames; each check below names its item. `offered_subprotocols`
// is the Sec-WebSocket-Protocol list the request carried ("" when none, as for wsload).
inline ResponseCheck check_response(std::string_view head, std::string_view expected_accept,
                                    const DeflateOffer& offered,
                                    std::string_view offered_subprotocols = {}) {
  ResponseCheck r;
  size_t protocols = 0;
  // §4.1 item 1: any status other than 101 means the handshake did not complete.
  if (head.rfind("HTTP/1.1 101", 0) != 0) return {"status is not 101", {}};
  bool upgrade = false, connection = false, accept = false;
  size_t pos = head.find("\r\n") + 2;
  while (pos < head.size()) {
    size_t eol = head.find("\r\n", pos);
    if (eol == std::string_view::npos || eol == pos) break;
    std::string_view line = head.substr(pos, eol - pos);
    pos = eol + 2;
    size_t colon = line.find(':');
    if (colon == std::string_view::npos) return {"malformed header line", {}};
    std::string_view name = line.substr(0, colon);
    std::string_view value = detail::trim(line.substr(colon + 1));
    if (detail::iequals(name, "upgrade"))
      upgrade = detail::iequals(value, "websocket");
    else if (detail::iequals(name, "connection"))
      connection = detail::has_token(value, "upgrade");
    else if (detail::iequals(name, "sec-websocket-accept"))
      accept = value == expected_accept;
    else if (detail::iequals(name, "sec-websocket-extensions")) {
      // §4.1 item 5 and RFC 7692 §5 and §7: what the server may answer, and how.
      if (const char* err = detail::read_extensions(value, offered, &r.deflate)) return {err, {}};
    } else if (detail::iequals(name, "sec-websocket-protocol")) {
      // RFC 6455 §4.1 item 6: a subprotocol the client did not offer fails the connection;
      // §11.3.4: the header appears at most once in a response.
      if (++protocols > 1) return {"Sec-WebSocket-Protocol more than once", {}};
      if (!detail::has_exact_token(offered_subprotocols, value))
        return {"subprotocol not offered", {}};
    }
  }
  if (!upgrade) return {"Upgrade is not websocket", {}};      // §4.1 item 2
  if (!connection) return {"Connection lacks upgrade", {}};   // §4.1 item 3
  if (!accept) return {"Sec-WebSocket-Accept mismatch", {}};  // §4.1 item 4
  return r;
}

}  // namespace wsedge::load
