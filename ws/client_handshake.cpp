#include "ws/client_handshake.h"

#include <openssl/evp.h>

#include <algorithm>

#include "http/grammar.h"
#include "ws/extensions.h"
#include "ws/handshake.h"

namespace wsedge::ws {
namespace {

using E = ClientHandshakeError;

// RFC 7692 §7.1.2.1/§7.1.2.2: 1*DIGIT, no leading zero, 8..15. 0 when not.
int window_bits(const ExtensionParam& p) {
  if (!p.has_value) return 0;
  char v[3];
  const size_t n = unescape_value(p, v);
  if (n == 1 && (v[0] == '8' || v[0] == '9')) return v[0] - '0';
  if (n == 2 && v[0] == '1' && v[1] >= '0' && v[1] <= '5') return 10 + (v[1] - '0');
  return 0;
}

// RFC 7692 §7: the client MUST fail the connection when the response holds a parameter not
// defined for a response, a parameter with an invalid value, or the same parameter twice.
// Returns the rule broken, or nullptr.
const char* read_deflate_answer(const ExtensionOffer& e, ClientDeflate* d) {
  unsigned seen = 0;
  for (size_t k = 0; k < e.param_count; ++k) {
    const ExtensionParam& p = e.params[k];
    unsigned bit;
    if (p.name == "server_no_context_takeover") {
      bit = 1;  // §7.1.1.1: valueless; the server may add it unasked
      if (p.has_value) return "server_no_context_takeover has a value";
      d->server_no_context_takeover = true;
    } else if (p.name == "client_no_context_takeover") {
      bit = 2;  // §7.1.1.2: valueless; the server may ask it of any client
      if (p.has_value) return "client_no_context_takeover has a value";
      d->client_no_context_takeover = true;
    } else if (p.name == "server_max_window_bits") {
      bit = 4;  // §7.1.2.1: the server may announce its window unasked; a value is required
      d->server_max_window_bits = window_bits(p);
      if (d->server_max_window_bits == 0) return "server_max_window_bits is not 8..15";
    } else if (p.name == "client_max_window_bits") {
      // §7.1.2.2: allowed because our offer carried it; the answer must give the window.
      bit = 8;
      d->client_max_window_bits = window_bits(p);
      if (d->client_max_window_bits == 0) return "client_max_window_bits is not 8..15";
    } else {
      return "a parameter that is not defined for a response";
    }
    if (seen & bit) return "the same parameter twice";
    seen |= bit;
  }
  return nullptr;
}

// RFC 6455 §4.1 item 5: every extension in the answer must be one the client offered; we
// offer only permessage-deflate, once (RFC 7692 §5: a second one would claim RSV1 again).
ClientHandshakeError read_extensions(std::string_view value, const ClientOffer& offer,
                                     ServerResponse* r) {
  ExtensionList list(value);
  ExtensionOffer e;
  while (list.next(&e)) {
    if (!e.valid) {
      r->detail = "malformed Sec-WebSocket-Extensions";
      return E::kBadDeflateResponse;
    }
    if (!offer.deflate || e.name != "permessage-deflate" || r->deflate.enabled)
      return E::kExtensionNotOffered;
    r->deflate.enabled = true;
    if (const char* why = read_deflate_answer(e, &r->deflate)) {
      r->detail = why;
      return E::kBadDeflateResponse;
    }
  }
  return E::kNone;
}

// RFC 9112 §4: status-line = HTTP-version SP status-code SP [ reason-phrase ].
bool read_status_line(std::string_view line, ServerResponse* r) {
  if (line.size() < 12 || !line.starts_with("HTTP/1.") || line[8] != ' ') return false;
  int status = 0;
  for (size_t i = 9; i < 12; ++i) {
    if (line[i] < '0' || line[i] > '9') return false;
    status = status * 10 + (line[i] - '0');
  }
  if (line.size() > 12 && line[12] != ' ') return false;
  r->status = status;
  r->reason = line.size() > 13 ? line.substr(13) : std::string_view{};
  return true;
}

bool protocol_offered(const ClientOffer& offer, std::string_view p) {
  return std::any_of(offer.subprotocols.begin(), offer.subprotocols.end(),
                     [p](const std::string& s) { return s == p; });
}

struct Seen {
  bool upgrade = false, connection = false;
  size_t protocols = 0, accepts = 0, extensions = 0;
};

// One header field of the response; an error when it alone breaks a rule.
ClientHandshakeError read_field(std::string_view name, std::string_view value,
                                const ClientOffer& offer, ServerResponse* r, Seen* s) {
  if (http::iequals(name, "upgrade")) {
    s->upgrade = s->upgrade || http::iequals(value, "websocket");
  } else if (http::iequals(name, "connection")) {
    std::string_view list = value, token;
    while (http::next_list_element(&list, &token))
      s->connection = s->connection || http::iequals(token, "upgrade");
  } else if (http::iequals(name, "sec-websocket-accept")) {
    // RFC 6455 §11.3.3: Sec-WebSocket-Accept MUST NOT appear more than once in a response;
    // two lines are not a match (§4.1 item 4), whichever one is right.
    if (++s->accepts > 1) {
      r->detail = "Sec-WebSocket-Accept more than once";
      return E::kBadAccept;
    }
    r->accept = value;
  } else if (http::iequals(name, "sec-websocket-extensions")) {
    // RFC 6455 §11.3.2: at most once in a response.
    if (++s->extensions > 1) {
      r->detail = "Sec-WebSocket-Extensions more than once";
      return E::kMalformed;
    }
    r->extensions = value;
    return read_extensions(value, offer, r);
  } else if (http::iequals(name, "sec-websocket-protocol")) {
    r->subprotocol = value;
    ++s->protocols;
  }
  return E::kNone;
}

}  // namespace

std::string client_key(std::span<const uint8_t, kClientNonceLength> nonce) {
  unsigned char b64[kClientKeyLength + 1];  // EVP_EncodeBlock adds a NUL
  EVP_EncodeBlock(b64, nonce.data(), static_cast<int>(nonce.size()));
  return std::string(reinterpret_cast<const char*>(b64), kClientKeyLength);
}

void write_client_request(std::string& out, const ClientOffer& offer) {
  // RFC 6455 §4.1: "The method of the request MUST be GET, and the HTTP version MUST be at
  // least 1.1", and the Request-URI is the resource name (path and query).
  out.append("GET ").append(offer.target).append(" HTTP/1.1\r\n");
  // RFC 6455 §4.1: the request MUST contain a Host header field with the host (and the port
  // when it is not the default).
  out.append("Host: ").append(offer.host).append("\r\n");
  // RFC 6455 §4.1: MUST contain Upgrade with "websocket" and Connection with "Upgrade".
  out.append("Upgrade: websocket\r\nConnection: Upgrade\r\n");
  // RFC 6455 §4.1: MUST contain Sec-WebSocket-Key, a randomly selected 16-byte nonce in base64,
  // chosen afresh for each connection (the caller's RAND_bytes).
  out.append("Sec-WebSocket-Key: ").append(offer.key).append("\r\n");
  // RFC 6455 §4.1: MUST contain Sec-WebSocket-Version 13.
  out.append("Sec-WebSocket-Version: 13\r\n");
  if (!offer.origin.empty()) out.append("Origin: ").append(offer.origin).append("\r\n");
  if (!offer.subprotocols.empty()) {
    // RFC 6455 §4.1 item 10: one or more subprotocols, in order of preference.
    out.append("Sec-WebSocket-Protocol: ");
    for (size_t i = 0; i < offer.subprotocols.size(); ++i) {
      if (i) out.append(", ");
      out.append(offer.subprotocols[i]);
    }
    out.append("\r\n");
  }
  if (offer.deflate) {
    // RFC 7692 §7.1.2.2: client_max_window_bits without a value says "any window you like,
    // name it"; server_max_window_bits is not asked, so the server keeps its own.
    out.append("Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n");
  }
  for (const std::string& h : offer.headers)
    out.append(h).append("\r\n");
  out.append("\r\n");
}

const char* describe(ClientHandshakeError e) {
  switch (e) {
    case E::kNone:
      return "no error";
    case E::kMalformed:
      return "the response is not an HTTP/1.1 head";
    case E::kNotSwitching:
      return "the status is not 101 Switching Protocols (RFC 6455 §4.1)";
    case E::kNoUpgradeWebsocket:
      return "Upgrade is missing or not \"websocket\" (RFC 6455 §4.1)";
    case E::kNoConnectionUpgrade:
      return "Connection lacks the \"Upgrade\" token (RFC 6455 §4.1)";
    case E::kBadAccept:
      return "Sec-WebSocket-Accept is missing or wrong (RFC 6455 §4.1)";
    case E::kExtensionNotOffered:
      return "the server chose an extension that was not offered (RFC 6455 §4.1)";
    case E::kBadDeflateResponse:
      return "permessage-deflate answer breaks RFC 7692 §7";
    case E::kProtocolNotOffered:
      return "the server chose a subprotocol that was not offered (RFC 6455 §4.1)";
  }
  return "unknown error";
}

size_t response_head_length(std::string_view received) {
  const size_t end = received.find("\r\n\r\n");
  return end == std::string_view::npos ? 0 : end + 4;
}

ServerResponse check_server_response(std::string_view head, const ClientOffer& offer) {
  ServerResponse r;
  auto fail = [&r](ClientHandshakeError e, const char* detail = "") {
    r.error = e;
    r.detail = detail;
    return r;
  };
  size_t eol = head.find("\r\n");
  if (eol == std::string_view::npos || !read_status_line(head.substr(0, eol), &r))
    return fail(E::kMalformed, "status line");
  // RFC 6455 §4.1 item 1: a status other than 101 means the handshake did not complete; the
  // client handles it as HTTP (we report it) and MUST NOT send frames.
  if (r.status != 101) return fail(E::kNotSwitching);
  Seen seen;
  for (size_t pos = eol + 2; pos < head.size(); pos = eol + 2) {
    eol = head.find("\r\n", pos);
    if (eol == std::string_view::npos || eol == pos) break;  // the blank line
    const std::string_view line = head.substr(pos, eol - pos);
    const size_t colon = line.find(':');
    // RFC 9112 §5.1: field-name is a token, with no whitespace before the colon; §5.2: a
    // line starting with whitespace (obs-fold) is refused too (not a token).
    if (colon == std::string_view::npos || !http::is_token(line.substr(0, colon)))
      return fail(E::kMalformed, "header field line");
    const ClientHandshakeError e =
        read_field(line.substr(0, colon), http::trim_ows(line.substr(colon + 1)), offer, &r, &seen);
    if (e != E::kNone) return fail(e, r.detail);
  }
  // RFC 6455 §4.1 item 2: the client MUST fail without "Upgrade: websocket".
  if (!seen.upgrade) return fail(E::kNoUpgradeWebsocket);
  // RFC 6455 §4.1 item 3: the client MUST fail without a Connection "Upgrade" token.
  if (!seen.connection) return fail(E::kNoConnectionUpgrade);
  // RFC 6455 §4.1 item 4: the client MUST fail unless Sec-WebSocket-Accept is base64(SHA-1(key
  // + GUID)), leading and trailing whitespace ignored (trim_ows did that).
  char expected[kAcceptKeyLength];
  compute_accept_key(offer.key, expected);
  if (r.accept != std::string_view(expected, kAcceptKeyLength)) return fail(E::kBadAccept);
  // RFC 6455 §4.1 item 6: a subprotocol the client did not offer MUST fail the connection; the
  // server selects one (§4.2.2), so two header lines are a failure as well.
  if (seen.protocols > 1 || (seen.protocols == 1 && !protocol_offered(offer, r.subprotocol)))
    return fail(E::kProtocolNotOffered);
  return r;
}

}  // namespace wsedge::ws
