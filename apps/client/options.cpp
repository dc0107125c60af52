#include "apps/client/options.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>

#include "http/grammar.h"
#include "ws/utf8.h"

namespace wsedge::client {
namespace {

bool parse_port(std::string_view s, uint16_t* out) {
  if (s.empty() || s.size() > 5) return false;
  unsigned v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + static_cast<unsigned>(c - '0');
  }
  if (v == 0 || v > 65535) return false;
  *out = static_cast<uint16_t>(v);
  return true;
}

bool parse_seconds(const char* s, double* out) {
  char* end = nullptr;
  const double v = std::strtod(s, &end);
  if (end == s || *end != '\0' || !(v > 0) || v > 86400) return false;
  *out = v;
  return true;
}

// "Name: value": a token, a colon, a value without CR or LF (RFC 9112 §5.1); anything else
// would let a typo split the request or smuggle a second header.
bool valid_header_line(std::string_view h) {
  const size_t colon = h.find(':');
  if (colon == std::string_view::npos || !http::is_token(h.substr(0, colon))) return false;
  return h.find_first_of("\r\n") == std::string_view::npos;
}

}  // namespace

std::string parse_ws_url(std::string_view text, WsUrl* out) {
  WsUrl u;
  std::string_view rest;
  // RFC 6455 §3: the scheme is case-insensitive (RFC 3986 §3.1).
  if (text.size() >= 5 && http::iequals(text.substr(0, 5), "ws://")) {
    rest = text.substr(5);
  } else if (text.size() >= 6 && http::iequals(text.substr(0, 6), "wss://")) {
    u.secure = true;
    rest = text.substr(6);
  } else {
    return "the URL must start with ws:// or wss://";
  }
  // RFC 6455 §3: "Fragment identifiers are meaningless in the context of WebSocket URIs and
  // MUST NOT be used on these URIs."
  if (rest.find('#') != std::string_view::npos) return "a WebSocket URL has no #fragment";
  const size_t path_at = rest.find_first_of("/?");
  std::string_view authority = rest.substr(0, path_at);
  std::string_view target = path_at == std::string_view::npos ? "" : rest.substr(path_at);
  if (authority.find('@') != std::string_view::npos) return "user information is not supported";
  std::string_view host = authority, port;
  if (!authority.empty() && authority.front() == '[') {
    const size_t close = authority.find(']');
    if (close == std::string_view::npos) return "an IPv6 address needs its closing ]";
    host = authority.substr(1, close - 1);
    std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return "unexpected text after the IPv6 address";
      port = after.substr(1);
    }
  } else if (const size_t colon = authority.rfind(':'); colon != std::string_view::npos) {
    host = authority.substr(0, colon);
    port = authority.substr(colon + 1);
  }
  if (host.empty()) return "the URL has no host";
  u.port = u.secure ? 443 : 80;
  if (!port.empty() && !parse_port(port, &u.port)) return "the port is not 1..65535";
  u.host = std::string(host);
  // RFC 6455 §3: an empty path is "/"; the query keeps its "?".
  u.target = target.empty()          ? "/"
             : target.front() == '?' ? "/" + std::string(target)
                                     : std::string(target);
  const bool v6 = u.host.find(':') != std::string::npos;
  u.host_header = v6 ? "[" + u.host + "]" : u.host;
  // RFC 6455 §4.1: Host names the port only when it is not the scheme's default.
  if (u.port != (u.secure ? 443 : 80)) u.host_header += ":" + std::to_string(u.port);
  *out = std::move(u);
  return {};
}

std::string parse_client_options(int argc, const char* const* argv, ClientOptions* out) {
  ClientOptions o;
  bool have_url = false;
  for (int i = 1; i < argc; ++i) {
    const std::string_view a = argv[i];
    auto value = [&](const char** v) {
      if (i + 1 >= argc) return false;
      *v = argv[++i];
      return true;
    };
    const char* v = nullptr;
    if (a == "--help" || a == "-h") {
      o.help = true;
    } else if (a == "--trace") {
      o.trace = TraceLevel::kSummary;
    } else if (a == "--trace=hex") {
      o.trace = TraceLevel::kHex;
    } else if (a.starts_with("--trace=")) {
      return "--trace takes no value but =hex";
    } else if (a == "--deflate") {
      o.deflate = true;
    } else if (a == "--insecure") {
      o.insecure = true;
    } else if (a == "--subprotocol" || a == "--header" || a == "--origin" || a == "--send" ||
               a == "--expect" || a == "--timeout" || a == "--ca") {
      if (!value(&v)) return std::string(a) + " needs a value";
      if (a == "--subprotocol") {
        // RFC 6455 §4.1 item 10: each element is a token (RFC 2616 separators excluded).
        if (!http::is_token(v)) return "--subprotocol: not a token: " + std::string(v);
        // RFC 6455 §4.1 item 10: the offered subprotocols are all unique.
        if (std::find(o.subprotocols.begin(), o.subprotocols.end(), v) != o.subprotocols.end())
          return "--subprotocol: offered twice: " + std::string(v);
        o.subprotocols.emplace_back(v);
      } else if (a == "--header") {
        if (!valid_header_line(v)) return "--header wants 'Name: value', got: " + std::string(v);
        o.headers.emplace_back(v);
      } else if (a == "--origin") {
        o.origin = v;
      } else if (a == "--send") {
        // RFC 6455 §5.6: --send sends a text message, whose payload is UTF-8.
        if (!ws::is_valid_utf8({reinterpret_cast<const uint8_t*>(v), std::strlen(v)}))
          return "--send: the text is not UTF-8";
        o.send.emplace_back(v);
      } else if (a == "--expect") {
        o.expect.emplace_back(v);
      } else if (a == "--ca") {
        o.ca_file = v;
      } else if (!parse_seconds(v, &o.timeout_s)) {
        return "--timeout wants seconds above 0, got: " + std::string(v);
      }
    } else if (a.starts_with("-")) {
      return "unknown option " + std::string(a) + " (see --help)";
    } else if (have_url) {
      return "one URL only, got a second: " + std::string(a);
    } else {
      if (std::string why = parse_ws_url(a, &o.url); !why.empty())
        return "bad URL " + std::string(a) + ": " + why;
      have_url = true;
    }
  }
  if (!have_url && !o.help) return "no URL given (usage: wsedge-client ws://host:port/path)";
  if ((o.insecure || !o.ca_file.empty()) && have_url && !o.url.secure)
    return "--insecure and --ca are for wss:// URLs";
  *out = std::move(o);
  return {};
}

const char* client_usage() {
  return "usage: wsedge-client [options] ws://host:port/path   (or wss://)\n"
         "\n"
         "Lines typed on stdin go out as text messages; received messages are printed.\n"
         "Commands: /binary HEX, /ping [text], /close [code [reason]], /fragment N text,\n"
         "  /raw FIN=0 RSV1=1 OP=0x3 MASK=1 KEY=hex LEN=n FORM=7|16|64 PAYLOAD=hex, /help;\n"
         "  a line starting with // sends the text after the first /.\n"
         "End of input closes with 1000; Ctrl-C closes with 1001 (a second Ctrl-C quits).\n"
         "\n"
         "  --subprotocol P   offer subprotocol P (repeatable, most preferred first)\n"
         "  --deflate         offer permessage-deflate (RFC 7692)\n"
         "  --header 'N: v'   add a header to the upgrade request (repeatable)\n"
         "  --origin O        send Origin: O\n"
         "  --trace           print the handshake and every frame, decoded, to stderr\n"
         "  --trace=hex       the same, with a hex dump of each frame\n"
         "  --send TEXT       send TEXT (repeatable, in order), then close 1000; no stdin\n"
         "  --expect TEXT     wait for a message equal to TEXT (repeatable, in order);\n"
         "                    one that does not come in time: close 1001, exit 1\n"
         "  --timeout S       how long --expect and the close handshake wait (default 5)\n"
         "  --insecure        wss: do not verify the server's certificate\n"
         "  --ca FILE         wss: trust the CAs in FILE (PEM) instead of the system store\n"
         "\n"
         "Exit status: 0 after a clean close, 1 on a protocol or connection failure (or an\n"
         "--expect that did not come, or TLS cut without close_notify before the close\n"
         "handshake), 2 on a usage error, 130 after Ctrl-C.\n";
}

}  // namespace wsedge::client
