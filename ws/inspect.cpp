#include "ws/inspect.h"

#include <openssl/evp.h>
#include <openssl/sha.h>

#include <algorithm>
#include <cstdio>
#include <string>

#include "ws/handshake.h"
#include "ws/utf8.h"

namespace wsedge::ws::inspect {
namespace {

constexpr char kHexDigits[] = "0123456789abcdef";
// RFC 6455 §5.5: a control payload is at most 125 bytes; a /raw frame may claim more, and
// its reason is shown only that far.
constexpr size_t kMaxControlPayloadShown = 125;

void start_line(std::string& out, const Prefix& p) {
  out.append(p.conn);
  out.append(p.flow == Flow::kClientToServer   ? " > "
             : p.flow == Flow::kServerToClient ? " < "
                                               : " * ");
}

void append_uint(std::string& out, uint64_t v) {
  char buf[24];
  int n = std::snprintf(buf, sizeof buf, "%llu", static_cast<unsigned long long>(v));
  out.append(buf, static_cast<size_t>(n));
}

void append_hex_byte(std::string& out, uint8_t b) {
  out.push_back(kHexDigits[b >> 4]);
  out.push_back(kHexDigits[b & 0xF]);
}

void append_bit(std::string& out, const char* name, bool v) {
  out.append(name);
  out.push_back('=');
  out.push_back(v ? '1' : '0');
}

// RFC 6455 §5.2: "the minimal number of bytes MUST be used"; say so when it was not, so a
// learner sees why a server refuses the frame.
void append_length_form(std::string& out, const WireHeader& h) {
  if (h.length7 <= 125) {
    out.append(" (7-bit field)");
  } else if (h.length7 == 126) {
    out.append(" (7+16 bits: 126, then 2 bytes)");
    if (h.length < 126) out.append(" not minimal");
  } else {
    out.append(" (7+64 bits: 127, then 8 bytes)");
    if (h.length < 65536) out.append(" not minimal");
    if (h.length >> 63) out.append(" top bit set");
  }
}

// A data frame's payload reads as text when its message is text; a control payload (ping
// data, which RFC 6455 §5.5.2 leaves to the application) reads as text when it is UTF-8.
bool shows_as_text(const WireHeader& h, const FrameNotes& notes, std::span<const uint8_t> pl) {
  if (notes.compressed && h.opcode <= 0x2) return false;  // DEFLATE bytes, not the text
  if (h.opcode == 0x1) return true;
  if (h.opcode == 0x0) return notes.text;
  if (h.opcode == 0x9 || h.opcode == 0xA) return is_valid_utf8(pl);
  return false;
}

void append_preview(std::string& out, std::span<const uint8_t> bytes, bool text, uint64_t total) {
  if (text) {
    out.push_back('"');
    append_escaped(out, bytes);
    out.push_back('"');
  } else {
    append_hex(out, bytes);
  }
  if (bytes.size() < total) {
    out.append(" ... (first ");
    append_uint(out, bytes.size());
    out.append(" of ");
    append_uint(out, total);
    out.append(" bytes)");
  }
}

void format_payload(std::string& out, const Prefix& p, const WireHeader& h,
                    std::span<const uint8_t> payload, const FrameNotes& notes) {
  const size_t shown = std::min(payload.size(), kPreviewBytes);
  if (shown == 0) return;  // an empty payload, or none of it given
  uint8_t plain[kPreviewBytes];
  std::copy_n(payload.begin(), shown, plain);
  std::span<const uint8_t> clear(plain, shown);
  if (h.masked) {
    unmask(plain, shown, h.mask_key);
    start_line(out, p);
    out.append("  payload masked:   ");
    append_hex(out, payload.first(shown));
    out.push_back('\n');
  }
  // A ping's data is judged on the bytes shown: a cut character makes it hex.
  const bool text = shows_as_text(h, notes, clear);
  start_line(out, p);
  out.append(h.masked ? "  payload unmasked: " : "  payload: ");
  append_preview(out, clear, text, h.length);
  out.push_back('\n');
}

void format_position(std::string& out, const Prefix& p, const FrameNotes& n) {
  start_line(out, p);
  switch (n.position) {
    case Position::kWhole:
      out.append("  message ");
      append_uint(out, n.message);
      out.append(": whole (one frame)");
      break;
    case Position::kFirst:
    case Position::kMiddle:
    case Position::kLast: {
      static constexpr const char* kWhich[] = {"first", "middle", "last"};
      out.append("  message ");
      append_uint(out, n.message);
      out.append(": ");
      out.append(kWhich[static_cast<int>(n.position) - 1]);
      out.append(" fragment");
      break;
    }
    case Position::kUntracked:
      out.append("  position in its message not tracked");
      break;
    case Position::kControl:
      out.append("  control frame");
      if (n.message != 0) {
        out.append(", between fragments of message ");
        append_uint(out, n.message);
      }
      break;
  }
  out.push_back('\n');
}

void format_compression(std::string& out, const Prefix& p, const FrameNotes& n) {
  start_line(out, p);
  out.append("  permessage-deflate: ");
  append_uint(out, n.compressed_size);
  out.append(" bytes compressed, ");
  append_uint(out, n.inflated_size);
  out.append(" inflated\n");
}

// RFC 6455 §5.5.1: empty, or a 2-byte code then a UTF-8 reason.
void format_close(std::string& out, const Prefix& p, const WireHeader& h,
                  std::span<const uint8_t> payload) {
  start_line(out, p);
  if (h.length == 0) {
    out.append("  close: no code (receiver reports 1005, no status received)\n");
    return;
  }
  if (payload.size() < 2) {
    out.append(h.length == 1 ? "  close: 1-byte payload (a code needs 2)\n"
                             : "  close: code not shown (payload cut)\n");
    return;
  }
  uint8_t two[2] = {payload[0], payload[1]};
  if (h.masked) unmask(two, 2, h.mask_key);
  const auto code = static_cast<uint16_t>((two[0] << 8) | two[1]);
  out.append("  close code ");
  append_uint(out, code);
  out.append(" (");
  out.append(close_code_name(code));
  out.append(")");
  const size_t reason_len = std::min(payload.size(), kMaxControlPayloadShown) - 2;
  if (h.length > 2) {
    uint8_t reason[kMaxControlPayloadShown];
    std::copy_n(payload.begin() + 2, reason_len, reason);
    if (h.masked) unmask(reason, reason_len, h.mask_key, 2);
    out.append(", reason \"");
    append_escaped(out, {reason, reason_len});
    out.push_back('"');
  } else {
    out.append(", no reason");
  }
  out.push_back('\n');
}

void format_dump(std::string& out, const Prefix& p, std::span<const uint8_t> frame) {
  const size_t n = std::min(frame.size(), kMaxDumpBytes);
  for (size_t row = 0; row < n; row += 16) {
    start_line(out, p);
    out.append("  ");
    for (int shift = 12; shift >= 0; shift -= 4)
      out.push_back(kHexDigits[(row >> shift) & 0xF]);
    out.append(" ");
    for (size_t i = row; i < row + 16; ++i) {
      if (i % 8 == 0) out.push_back(' ');
      if (i < n) {
        append_hex_byte(out, frame[i]);
        out.push_back(' ');
      } else {
        out.append("   ");
      }
    }
    out.push_back(' ');
    for (size_t i = row; i < std::min(row + 16, n); ++i)
      out.push_back(frame[i] >= 0x20 && frame[i] < 0x7F ? static_cast<char>(frame[i]) : '.');
    // Trailing spaces would make exact-string tests fragile; rows end at their last byte.
    while (out.back() == ' ')
      out.pop_back();
    out.push_back('\n');
  }
  if (frame.size() > n) {
    start_line(out, p);
    out.append("  ... ");
    append_uint(out, frame.size() - n);
    out.append(" more bytes\n");
  }
}

}  // namespace

bool read_wire_header(std::span<const uint8_t> frame, WireHeader* out) {
  if (frame.size() < 2) return false;
  WireHeader h;
  h.fin = frame[0] & 0x80;
  h.rsv1 = frame[0] & 0x40;
  h.rsv2 = frame[0] & 0x20;
  h.rsv3 = frame[0] & 0x10;
  h.opcode = frame[0] & 0x0F;
  h.masked = frame[1] & 0x80;
  h.length7 = frame[1] & 0x7F;
  // RFC 6455 §5.2: 126 and 127 say the length follows in 2 or 8 bytes, network byte order.
  const size_t extra = h.length7 == 126 ? 2 : h.length7 == 127 ? 8 : 0;
  h.header_size = 2 + extra + (h.masked ? 4 : 0);
  if (frame.size() < h.header_size) return false;
  h.length = extra == 0 ? h.length7 : 0;
  for (size_t i = 0; i < extra; ++i)
    h.length = (h.length << 8) | frame[2 + i];
  if (h.masked) std::copy_n(frame.begin() + 2 + extra, 4, h.mask_key.begin());
  *out = h;
  return true;
}

void format_frame(std::string& out, const Prefix& p, std::span<const uint8_t> frame,
                  const FrameNotes& notes, Detail detail) {
  WireHeader h;
  if (!read_wire_header(frame, &h)) {
    start_line(out, p);
    out.append("frame header cut short: ");
    append_hex(out, frame);
    out.push_back('\n');
    return;
  }
  start_line(out, p);
  out.append("frame ");
  append_bit(out, "FIN", h.fin);
  out.push_back(' ');
  append_bit(out, "RSV1", h.rsv1);
  out.push_back(' ');
  append_bit(out, "RSV2", h.rsv2);
  out.push_back(' ');
  append_bit(out, "RSV3", h.rsv3);
  out.append(" opcode=0x");
  out.push_back(kHexDigits[h.opcode]);
  out.append(" (");
  out.append(opcode_name(h.opcode));
  out.append(") ");
  append_bit(out, "MASK", h.masked);
  out.append(" length=");
  append_uint(out, h.length);
  append_length_form(out, h);
  out.push_back('\n');
  if (h.masked) {
    start_line(out, p);
    out.append("  masking key: ");
    append_hex(out, h.mask_key);
    out.push_back('\n');
  }
  std::span<const uint8_t> payload = frame.subspan(h.header_size);
  if (payload.size() > h.length) payload = payload.first(static_cast<size_t>(h.length));
  if (h.opcode == 0x8) {
    format_close(out, p, h, payload);
  } else {
    format_payload(out, p, h, payload, notes);
  }
  format_position(out, p, notes);
  if (notes.compressed && notes.inflated_size != 0) format_compression(out, p, notes);
  if (detail == Detail::kHex) format_dump(out, p, frame);
}

void format_head(std::string& out, const Prefix& p, std::string_view head) {
  while (!head.empty()) {
    const size_t eol = head.find("\r\n");
    const std::string_view line = head.substr(0, eol);
    if (line.empty()) break;  // the blank line ends the head
    start_line(out, p);
    append_escaped(out, {reinterpret_cast<const uint8_t*>(line.data()), line.size()});
    out.push_back('\n');
    if (eol == std::string_view::npos) break;
    head.remove_prefix(eol + 2);
  }
}

void format_accept_key(std::string& out, const Prefix& p, std::string_view key) {
  // RFC 6455 §4.2.2 item 5 (fourth bullet): the key as sent, with the GUID of §1.3 appended.
  std::string joined(key);
  joined.append(kHandshakeGuid);
  unsigned char digest[SHA_DIGEST_LENGTH];
  SHA1(reinterpret_cast<const unsigned char*>(joined.data()), joined.size(), digest);
  unsigned char b64[kAcceptKeyLength + 1];  // EVP_EncodeBlock adds a NUL
  EVP_EncodeBlock(b64, digest, SHA_DIGEST_LENGTH);
  start_line(out, p);
  out.append("accept key: Sec-WebSocket-Key \"");
  out.append(key);
  out.append("\"\n");
  start_line(out, p);
  out.append("  + GUID \"");
  out.append(kHandshakeGuid);
  out.append("\" (RFC 6455 §1.3)\n");
  start_line(out, p);
  out.append("  SHA-1 = ");
  for (unsigned char b : digest)
    append_hex_byte(out, b);
  out.push_back('\n');
  start_line(out, p);
  out.append("  base64 = \"");
  out.append(reinterpret_cast<const char*>(b64), kAcceptKeyLength);
  out.append("\" (Sec-WebSocket-Accept)\n");
}

void format_handshake_checks(std::string& out, const Prefix& p, const http::Request& request,
                             const UpgradeFields& f, HandshakeError failed) {
  struct Check {
    HandshakeError fails_with;  // the verdict when this check fails
    const char* rule;
  };
  // check_handshake's order; kKeyCount and kBadKey are one item (§4.2.1 item 5), two lines.
  static constexpr Check kChecks[] = {
      {HandshakeError::kNotGet, "RFC 6455 §4.2.1 item 1: method GET"},
      {HandshakeError::kNotHttp11, "RFC 6455 §4.2.1 item 1: HTTP/1.1 or higher"},
      {HandshakeError::kHasBody, "RFC 6455 §4.1 item 2: no body (frames start after the head)"},
      {HandshakeError::kNoHost, "RFC 6455 §4.2.1 item 2: one Host"},
      {HandshakeError::kNoUpgradeWebsocket, "RFC 6455 §4.2.1 item 3: Upgrade holds \"websocket\""},
      {HandshakeError::kNoConnectionUpgrade,
       "RFC 6455 §4.2.1 item 4: Connection holds \"Upgrade\""},
      {HandshakeError::kKeyCount, "RFC 6455 §4.2.1 item 5: one Sec-WebSocket-Key"},
      {HandshakeError::kBadKey, "RFC 6455 §4.2.1 item 5: the key is 16 bytes in base64"},
      {HandshakeError::kBadVersion, "RFC 6455 §4.2.1 item 6: Sec-WebSocket-Version 13"},
      {HandshakeError::kOriginNotAllowed, "RFC 6455 §4.2.2 item 4: Origin accepted"},
  };
  auto held = [&](HandshakeError which) -> std::string {
    switch (which) {
      case HandshakeError::kNotGet:
        return std::string(request.method);
      case HandshakeError::kNotHttp11:
        return request.version_minor >= 1 ? "HTTP/1.1" : "HTTP/1.0";
      case HandshakeError::kHasBody:
        return request.has_body() ? "a body announced" : "none announced";
      case HandshakeError::kNoHost:
        return std::to_string(f.hosts) + " Host line(s)";
      case HandshakeError::kNoUpgradeWebsocket:
        return f.upgrade_websocket ? "yes" : "no";
      case HandshakeError::kNoConnectionUpgrade:
        return f.connection_upgrade ? "yes" : "no";
      case HandshakeError::kKeyCount:
        return std::to_string(f.keys) + " key line(s)";
      case HandshakeError::kBadKey:
        return "key " + std::string(f.key);
      case HandshakeError::kBadVersion:
        return f.versions == 0 ? std::string("none") : "version " + std::string(f.version);
      case HandshakeError::kOriginNotAllowed:
        return f.origins == 0 ? std::string("no Origin") : "Origin " + std::string(f.origin);
      case HandshakeError::kNone:
        break;
    }
    return {};
  };
  for (const Check& c : kChecks) {
    start_line(out, p);
    out.append("check ");
    out.append(c.rule);
    out.append(": ");
    const std::string what = held(c.fails_with);
    append_escaped(out, {reinterpret_cast<const uint8_t*>(what.data()), what.size()});
    if (c.fails_with != failed) {
      out.append(" - ok\n");
      continue;
    }
    out.append(" - FAILED: ");
    append_uint(out, static_cast<uint64_t>(status_for(failed)));
    out.push_back(' ');
    out.append(describe(failed));
    out.push_back('\n');
    return;
  }
}

void format_negotiation(std::string& out, const Prefix& p, const Negotiation& n) {
  auto line = [&](const char* what, std::string_view offered, std::string_view chosen,
                  const char* verb) {
    start_line(out, p);
    out.append(what);
    if (offered.empty()) {
      out.append(": none offered");
    } else {
      out.append(": offered \"");
      out.append(offered);
      out.append("\"; ");
      out.append(verb);
      if (chosen.empty()) {
        out.append(" none");
      } else {
        out.append(" \"");
        out.append(chosen);
        out.push_back('"');
      }
    }
    out.push_back('\n');
  };
  line("subprotocol", n.subprotocols_offered, n.subprotocol_chosen, "chosen");
  line("extensions", n.extensions_offered, n.extensions_agreed, "agreed");
}

void format_protocol_error(std::string& out, const Prefix& p, WsError error, uint64_t offset,
                           uint16_t close_code_sent) {
  start_line(out, p);
  out.append("protocol error: ");
  out.append(error_name(error));
  out.append(" (");
  out.append(error_section(error));
  out.append("): ");
  out.append(describe(error));
  out.append(", at byte ");
  append_uint(out, offset);
  if (close_code_sent == 0) {
    out.append("; no close sent (one was already)\n");
    return;
  }
  out.append("; close ");
  append_uint(out, close_code_sent);
  out.append(" (");
  out.append(close_code_name(close_code_sent));
  out.append(") sent\n");
}

void format_note(std::string& out, const Prefix& p, std::string_view text) {
  start_line(out, p);
  out.append(text);
  out.push_back('\n');
}

void append_escaped(std::string& out, std::span<const uint8_t> bytes) {
  size_t i = 0;
  while (i < bytes.size()) {
    const uint8_t b = bytes[i];
    if (b >= 0x80) {
      // A character is copied only when it is whole and valid (RFC 3629): run the DFA
      // over at most 4 bytes and see whether it comes back to "between characters".
      uint8_t state = Utf8Validator::kAccept;
      size_t n = 0;
      while (i + n < bytes.size() && n < 4) {
        state = utf8_dfa_step(state, bytes[i + n]);
        ++n;
        if (state == Utf8Validator::kAccept || state == Utf8Validator::kReject) break;
      }
      if (state == Utf8Validator::kAccept) {
        out.append(reinterpret_cast<const char*>(bytes.data() + i), n);
        i += n;
      } else {
        out.append("\\x");
        append_hex_byte(out, b);
        ++i;
      }
      continue;
    }
    switch (b) {
      case '"':
        out.append("\\\"");
        break;
      case '\\':
        out.append("\\\\");
        break;
      case '\n':
        out.append("\\n");
        break;
      case '\r':
        out.append("\\r");
        break;
      case '\t':
        out.append("\\t");
        break;
      default:
        if (b < 0x20 || b == 0x7F) {
          out.append("\\x");
          append_hex_byte(out, b);
        } else {
          out.push_back(static_cast<char>(b));
        }
    }
    ++i;
  }
}

void append_hex(std::string& out, std::span<const uint8_t> bytes) {
  for (size_t i = 0; i < bytes.size(); ++i) {
    if (i) out.push_back(' ');
    append_hex_byte(out, bytes[i]);
  }
}

}  // namespace wsedge::ws::inspect
