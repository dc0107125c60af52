// Fuzz target: the opening-handshake validator (ws/handshake.h) over a parsed request.
//
// Input: byte 0 picks the route's options (subprotocols, an Origin allow-list, whether
// Origin is required), the rest is a request head; heads the parser refuses are dropped.
// Invariants: check_handshake agrees with a reference written straight from the list in
// RFC 6455 §4.2.1, plus the no-body rule against request smuggling; an accepted handshake's
// accept key is base64(SHA-1(key + GUID)) computed here independently, its subprotocol is the
// route's first the client offered, and the 101 it writes is well formed; a refusal names a
// rule, has a status of the contract and a well-formed reply.
#include <openssl/evp.h>
#include <openssl/sha.h>

#include <cctype>
#include <cstring>
#include <string>
#include <vector>

#include "core/buffer.h"
#include "http/parser.h"
#include "tests/fuzz/fuzz_check.h"
#include "ws/handshake.h"

using namespace wsedge;
using wsedge::fuzz::as_text;
using wsedge::fuzz::points_into;

namespace {

const std::vector<std::string> kProtocols = {"chat", "superchat", "v2.json.example"};
const std::vector<std::string> kOrigins = {"http://example.com", "https://Example.org:8443"};

ws::HandshakeOptions pick_options(uint8_t b) {
  ws::HandshakeOptions o;
  o.subprotocols = std::span<const std::string>(kProtocols).first(b & 3);  // 0..3 of them
  if (b & 4) o.allowed_origins = kOrigins;
  o.require_origin = (b & 8) != 0;
  return o;
}

size_t count(const http::Request& req, std::string_view name) {
  return req.header_count(name);
}

bool key_ok(std::string_view k) {
  if (k.size() != 24 || !k.ends_with("==")) return false;
  for (char c : k.substr(0, 22)) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '+' && c != '/') return false;
  }
  return true;
}

// RFC 6455 §4.2.1 items 1-6 and §4.2.2 item 4 (origin), one line each.
bool reference_accepts(const http::Request& req, const ws::HandshakeOptions& o) {
  if (req.method != "GET" || req.version_minor != 1) return false;
  if (req.has_body()) return false;  // §4.1 item 2: a request head, frames right after it
  if (count(req, "host") != 1) return false;
  if (!req.header_has_token("upgrade", "websocket")) return false;
  if (!req.header_has_token("connection", "upgrade")) return false;
  if (count(req, "sec-websocket-key") != 1 || !key_ok(req.header("sec-websocket-key")))
    return false;
  if (count(req, "sec-websocket-version") != 1 || req.header("sec-websocket-version") != "13")
    return false;
  if (o.allowed_origins.empty()) return true;
  if (count(req, "origin") == 0) return !o.require_origin;
  if (count(req, "origin") != 1) return false;
  for (const std::string& allowed : o.allowed_origins) {
    if (http::iequals(req.header("origin"), allowed)) return true;
  }
  return false;
}

std::string expected_accept(std::string_view key) {
  std::string joined(key);
  joined += ws::kHandshakeGuid;
  unsigned char digest[SHA_DIGEST_LENGTH];
  SHA1(reinterpret_cast<const unsigned char*>(joined.data()), joined.size(), digest);
  unsigned char b64[ws::kAcceptKeyLength + 1];
  EVP_EncodeBlock(b64, digest, SHA_DIGEST_LENGTH);
  return {reinterpret_cast<const char*>(b64), ws::kAcceptKeyLength};
}

bool offered(const http::Request& req, std::string_view protocol) {
  for (const http::Header& h : req.header_list()) {
    if (!http::iequals(h.name, "sec-websocket-protocol")) continue;
    std::string_view list = h.value, e;
    while (http::next_list_element(&list, &e)) {
      if (e == protocol) return true;
    }
  }
  return false;
}

void check_accepted(const http::Request& req, const ws::HandshakeOptions& o,
                    const ws::UpgradeFields& f, const ws::HandshakeResult& r,
                    std::span<const uint8_t> in) {
  FUZZ_CHECK(r.error == ws::HandshakeError::kNone && ws::status_for(r.error) == 101);
  FUZZ_CHECK(r.accept_key() == expected_accept(req.header("sec-websocket-key")));
  std::string_view want;
  for (const std::string& p : o.subprotocols) {
    if (offered(req, p)) {
      want = p;
      break;
    }
  }
  FUZZ_CHECK(r.subprotocol == want);
  // Every extension line, in order (RFC 6455 §9.1), each a view of the input.
  FUZZ_CHECK(f.extensions().size() == count(req, "sec-websocket-extensions"));
  FUZZ_CHECK(f.extensions().empty() || f.extensions()[0] == req.header("sec-websocket-extensions"));
  for (std::string_view line : f.extensions())
    FUZZ_CHECK(points_into(line, in));
  Buffer out;
  ws::write_handshake_response(out, r, "permessage-deflate");
  const std::string_view text = as_text(out.view());
  FUZZ_CHECK(text.starts_with("HTTP/1.1 101 Switching Protocols\r\n"));
  FUZZ_CHECK(text.ends_with("\r\n\r\n") && text.find("\r\n\r\n") == text.size() - 4);
  FUZZ_CHECK(text.find("\r\nSec-WebSocket-Accept: " + std::string(r.accept_key()) + "\r\n") !=
             std::string_view::npos);
  FUZZ_CHECK(want.empty() == (text.find("Sec-WebSocket-Protocol:") == std::string_view::npos));
}

void check_refused(const ws::HandshakeResult& r) {
  FUZZ_CHECK(r.error != ws::HandshakeError::kNone);
  const int s = ws::status_for(r.error);
  FUZZ_CHECK(s == 400 || s == 403 || s == 405 || s == 426);
  const char* reason = ws::describe(r.error);
  FUZZ_CHECK(reason[0] != '\0' && std::strchr(reason, '\n') == nullptr);
  Buffer out;
  ws::write_handshake_error(out, r);
  const std::string_view text = as_text(out.view());
  FUZZ_CHECK(text.starts_with("HTTP/1.1 " + std::to_string(s) + " "));
  const size_t end = text.find("\r\n\r\n");
  FUZZ_CHECK(end != std::string_view::npos);
  const std::string_view body = text.substr(end + 4);
  FUZZ_CHECK(body == std::string(reason) + "\n");
  FUZZ_CHECK(text.find("\r\nContent-Length: " + std::to_string(body.size()) + "\r\n") < end);
  // RFC 6455 §4.4: a version refusal names the version the server speaks.
  if (s == 426) FUZZ_CHECK(text.find("\r\nSec-WebSocket-Version: 13\r\n") < end);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const ws::HandshakeOptions options = pick_options(data[0]);
  const std::span<const uint8_t> in(data + 1, size - 1);
  http::Request req;
  if (http::parse_request(in, &req).status != http::ParseStatus::kDone) return 0;
  const ws::UpgradeFields fields = ws::gather_upgrade_fields(req);
  const ws::HandshakeResult r = ws::check_handshake(req, fields, options);
  FUZZ_CHECK(r.ok() == reference_accepts(req, options));
  FUZZ_CHECK(!r.ok() || ws::is_websocket_upgrade(req));
  if (r.ok()) {
    check_accepted(req, options, fields, r, in);
  } else {
    check_refused(r);
  }
  // Pure: the same request gives the same verdict.
  const ws::HandshakeResult again = ws::check_handshake(req, options);
  FUZZ_CHECK(again.ok() == r.ok() && again.error == r.error);
  FUZZ_CHECK(std::memcmp(again.accept, r.accept, ws::kAcceptKeyLength) == 0);
  return 0;
}
