// bench/load/client_handshake.h — the client side of the opening handshake (RFC 6455 §4.1).
//
// Pure: build_request() writes the upgrade request for a 16-byte nonce; check_response()
// judges a complete response head (through the blank line) against the expected
// Sec-WebSocket-Accept. No I/O, no heap beyond the caller's std::string. Any thread.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

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

// RFC 6455 §4.1: the key is a randomly selected 16-byte nonce, base64-encoded.
inline std::string build_request(std::string_view path, std::string_view host, std::string_view key,
                                 bool offer_deflate) {
  std::string r;
  r.reserve(256);
  r.append("GET ").append(path).append(" HTTP/1.1\r\nHost: ").append(host);
  r.append("\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ");
  r.append(key).append("\r\nSec-WebSocket-Version: 13\r\n");
  if (offer_deflate)  // RFC 7692 §5.1: no parameters, the server picks its window
    r.append("Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n");
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

}  // namespace detail

struct ResponseCheck {
  const char* error = nullptr;  // nullptr: the upgrade succeeded
  bool deflate = false;         // the server accepted permessage-deflate
};

// `head` is the response through its blank line. RFC 6455 §4.1 lists what a client MUST
// check before it may send frames; each check below names its item.
inline ResponseCheck check_response(std::string_view head, std::string_view expected_accept,
                                    bool offered_deflate) {
  ResponseCheck r;
  // §4.1 item 1: any status other than 101 means the handshake did not complete.
  if (head.rfind("HTTP/1.1 101", 0) != 0) return {"status is not 101", false};
  bool upgrade = false, connection = false, accept = false;
  size_t pos = head.find("\r\n") + 2;
  while (pos < head.size()) {
    size_t eol = head.find("\r\n", pos);
    if (eol == std::string_view::npos || eol == pos) break;
    std::string_view line = head.substr(pos, eol - pos);
    pos = eol + 2;
    size_t colon = line.find(':');
    if (colon == std::string_view::npos) return {"malformed header line", false};
    std::string_view name = line.substr(0, colon);
    std::string_view value = detail::trim(line.substr(colon + 1));
    if (detail::iequals(name, "upgrade"))
      upgrade = detail::iequals(value, "websocket");
    else if (detail::iequals(name, "connection"))
      connection = detail::has_token(value, "upgrade");
    else if (detail::iequals(name, "sec-websocket-accept"))
      accept = value == expected_accept;
    else if (detail::iequals(name, "sec-websocket-extensions")) {
      // §4.1 item 5: an extension the client did not offer fails the connection.
      if (!offered_deflate || value.rfind("permessage-deflate", 0) != 0)
        return {"extension not offered", false};
      r.deflate = true;
    }
  }
  if (!upgrade) return {"Upgrade is not websocket", false};      // §4.1 item 2
  if (!connection) return {"Connection lacks upgrade", false};   // §4.1 item 3
  if (!accept) return {"Sec-WebSocket-Accept mismatch", false};  // §4.1 item 4
  return r;
}

}  // namespace wsedge::load
