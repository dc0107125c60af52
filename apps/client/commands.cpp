#include "apps/client/commands.h"

#include <algorithm>

#include "http/grammar.h"
#include "ws/close_code.h"
#include "ws/frame.h"
#include "ws/utf8.h"

namespace wsedge::client {
namespace {

bool parse_uint(std::string_view s, uint64_t max, uint64_t* out) {
  if (s.empty() || s.size() > 20) return false;
  uint64_t v = 0;
  if (s.size() > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
    for (char c : s.substr(2)) {
      const int d = http::hex_value(c);
      if (d < 0 || v > (UINT64_MAX >> 4)) return false;
      v = (v << 4) | static_cast<uint64_t>(d);
    }
  } else {
    for (char c : s) {
      if (c < '0' || c > '9') return false;
      const auto d = static_cast<uint64_t>(c - '0');
      if (v > (UINT64_MAX - d) / 10) return false;
      v = v * 10 + d;
    }
  }
  if (v > max) return false;
  *out = v;
  return true;
}

bool is_utf8(std::string_view s) {
  return ws::is_valid_utf8({reinterpret_cast<const uint8_t*>(s.data()), s.size()});
}

Command error(std::string why) {
  Command c;
  c.kind = CommandKind::kError;
  c.error = std::move(why);
  return c;
}

// Splits "word rest" at the first space.
std::string_view first_word(std::string_view* s) {
  const size_t sp = s->find(' ');
  std::string_view w = s->substr(0, sp);
  *s = sp == std::string_view::npos ? std::string_view{} : s->substr(sp + 1);
  return w;
}

bool parse_bit(std::string_view v, bool* out) {
  if (v != "0" && v != "1") return false;
  *out = v == "1";
  return true;
}

// One NAME=VALUE of /raw; an error text, or empty.
std::string raw_field(std::string_view name, std::string_view v, RawFrame* r) {
  uint64_t n = 0;
  if (name == "FIN") return parse_bit(v, &r->fin) ? "" : "FIN is 0 or 1";
  if (name == "RSV1") return parse_bit(v, &r->rsv1) ? "" : "RSV1 is 0 or 1";
  if (name == "RSV2") return parse_bit(v, &r->rsv2) ? "" : "RSV2 is 0 or 1";
  if (name == "RSV3") return parse_bit(v, &r->rsv3) ? "" : "RSV3 is 0 or 1";
  if (name == "MASK") return parse_bit(v, &r->masked) ? "" : "MASK is 0 or 1";
  if (name == "OP") {
    if (!parse_uint(v, 15, &n)) return "OP is 0..15 (0x0..0xf)";
    r->opcode = static_cast<uint8_t>(n);
    return "";
  }
  if (name == "LEN") {
    if (!parse_uint(v, UINT64_MAX, &n)) return "LEN is a number";
    r->has_length = true;
    r->length = n;
    return "";
  }
  if (name == "FORM") {
    if (v != "7" && v != "16" && v != "64") return "FORM is 7, 16 or 64";
    r->form = v == "7" ? 7 : v == "16" ? 16 : 64;
    return "";
  }
  if (name == "KEY") {
    std::vector<uint8_t> key;
    if (!parse_hex(v, &key) || key.size() != 4) return "KEY is 4 bytes of hex, e.g. KEY=37fa213d";
    r->has_key = true;
    std::copy(key.begin(), key.end(), r->key.begin());
    return "";
  }
  if (name == "PAYLOAD") return parse_hex(v, &r->payload) ? "" : "PAYLOAD is hex bytes";
  return "unknown /raw field " + std::string(name);
}

Command parse_raw(std::string_view args) {
  Command c;
  c.kind = CommandKind::kRaw;
  while (!args.empty()) {
    const std::string_view field = first_word(&args);
    if (field.empty()) continue;
    const size_t eq = field.find('=');
    if (eq == std::string_view::npos)
      return error("/raw fields are NAME=VALUE: " + std::string(field));
    if (std::string why = raw_field(field.substr(0, eq), field.substr(eq + 1), &c.raw);
        !why.empty())
      return error("/raw: " + why);
  }
  RawFrame& r = c.raw;
  if (!r.has_length) r.length = r.payload.size();
  if (r.form == 7 && r.length > 125) return error("/raw: FORM=7 holds at most 125");
  if (r.form == 16 && r.length > 0xFFFF) return error("/raw: FORM=16 holds at most 65535");
  return c;
}

Command parse_close(std::string_view args) {
  Command c;
  c.kind = CommandKind::kClose;
  c.code = 1000;
  const std::string_view code = first_word(&args);
  uint64_t n = 0;
  if (!code.empty()) {
    if (!parse_uint(code, 65535, &n))
      return error("/close: the code is a number, e.g. /close 1000 bye");
    c.code = static_cast<uint16_t>(n);
    // RFC 6455 §7.4.1: 1005, 1006 and 1015 are never put in a Close frame, and §7.4.2 leaves
    // 0-999 unused; only a code valid on the wire goes out (/raw OP=8 sends anything).
    if (!ws::is_valid_wire_close_code(c.code))
      return error("/close: " + std::string(code) +
                   " may not be sent in a Close frame (RFC 6455 §7.4); /raw OP=8 sends anything");
  }
  // RFC 6455 §5.5: a close payload is at most 125 bytes, 2 of them the code.
  if (args.size() > ws::kMaxCloseReason) return error("/close: the reason is at most 123 bytes");
  // RFC 6455 §5.5.1: the reason is UTF-8.
  if (!is_utf8(args)) return error("/close: the reason is not UTF-8");
  c.text = std::string(args);
  return c;
}

Command parse_fragment(std::string_view args) {
  Command c;
  c.kind = CommandKind::kFragment;
  const std::string_view count = first_word(&args);
  uint64_t n = 0;
  if (!parse_uint(count, kMaxFragments, &n) || n == 0)
    return error("/fragment N text: N is 1..1024");
  c.fragments = static_cast<unsigned>(n);
  // RFC 6455 §5.6: a text message is UTF-8 as a whole (a fragment may end mid-character).
  if (!is_utf8(args)) return error("/fragment: the text is not UTF-8");
  c.text = std::string(args);
  return c;
}

}  // namespace

bool parse_hex(std::string_view hex, std::vector<uint8_t>* out) {
  std::vector<uint8_t> bytes;
  int high = -1;
  for (char ch : hex) {
    if (ch == ' ' || ch == ':') continue;
    const int d = http::hex_value(ch);
    if (d < 0) return false;
    if (high < 0) {
      high = d;
    } else {
      bytes.push_back(static_cast<uint8_t>((high << 4) | d));
      high = -1;
    }
  }
  if (high >= 0) return false;
  *out = std::move(bytes);
  return true;
}

Command parse_command(std::string_view line) {
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);  // a CRLF terminal
  Command c;
  if (line.starts_with("//") || !line.starts_with("/")) {
    c.text = std::string(line.starts_with("//") ? line.substr(1) : line);
    // RFC 6455 §5.6: a text message's payload is UTF-8; other bytes go as /binary (or /raw,
    // whose purpose is breaking rules).
    if (!is_utf8(c.text)) return error("not sent: the line is not UTF-8 (use /binary HEX)");
    return c;
  }
  std::string_view args = line;
  const std::string_view name = first_word(&args);
  if (name == "/help") {
    c.kind = CommandKind::kHelp;
  } else if (name == "/binary") {
    c.kind = CommandKind::kBinary;
    if (!parse_hex(args, &c.bytes))
      return error("/binary HEX: not hex bytes: " + std::string(args));
  } else if (name == "/ping") {
    c.kind = CommandKind::kPing;
    // RFC 6455 §5.5: a control frame's payload is at most 125 bytes.
    if (args.size() > ws::kMaxControlPayload) return error("/ping: at most 125 bytes of data");
    c.text = std::string(args);
  } else if (name == "/close") {
    return parse_close(args);
  } else if (name == "/fragment") {
    return parse_fragment(args);
  } else if (name == "/raw") {
    return parse_raw(args);
  } else {
    return error("unknown command " + std::string(name) + " (/help lists them)");
  }
  return c;
}

std::vector<uint8_t> encode_raw(const RawFrame& r, ws::MaskKey fresh_key) {
  std::vector<uint8_t> f;
  f.push_back(static_cast<uint8_t>((r.fin ? 0x80 : 0) | (r.rsv1 ? 0x40 : 0) | (r.rsv2 ? 0x20 : 0) |
                                   (r.rsv3 ? 0x10 : 0) | r.opcode));
  const uint8_t mask_bit = r.masked ? 0x80 : 0;
  // RFC 6455 §5.2: 0..125 in the 7-bit field, 126 + 16 bits, 127 + 64 bits. The minimal form
  // unless FORM= forces a longer one (which a receiver MUST refuse: that is the point).
  const int form = r.form != 0 ? r.form : r.length <= 125 ? 7 : r.length <= 0xFFFF ? 16 : 64;
  if (form == 7) {
    f.push_back(static_cast<uint8_t>(mask_bit | r.length));
  } else {
    const int bytes = form == 16 ? 2 : 8;
    f.push_back(static_cast<uint8_t>(mask_bit | (form == 16 ? 126 : 127)));
    for (int i = bytes - 1; i >= 0; --i)
      f.push_back(static_cast<uint8_t>(r.length >> (8 * i)));
  }
  const ws::MaskKey key = r.has_key ? r.key : fresh_key;
  if (r.masked) f.insert(f.end(), key.begin(), key.end());
  const size_t at = f.size();
  f.insert(f.end(), r.payload.begin(), r.payload.end());
  if (r.masked) ws::unmask(f.data() + at, r.payload.size(), key);
  return f;
}

const char* command_help() {
  return "  text                  send a text message (an empty line sends an empty one)\n"
         "  //text                send \"/text\"\n"
         "  /binary HEX           send a binary message, e.g. /binary 00 ff 10\n"
         "  /ping [text]          send a ping (the pong is printed)\n"
         "  /close [code [reason]] start the close handshake (default 1000)\n"
         "  /fragment N text      send text as N fragments (RFC 6455 §5.4)\n"
         "  /raw FIELD=VALUE...   send one frame with any header bits: FIN RSV1 RSV2 RSV3 MASK\n"
         "                        (0/1), OP (0..15), KEY (8 hex digits), LEN (announced\n"
         "                        length), FORM (7/16/64), PAYLOAD (hex); defaults FIN=1 OP=1\n"
         "                        MASK=1, a fresh key, LEN = the payload's size\n"
         "  /help                 this list\n";
}

}  // namespace wsedge::client
