#include "ws/handshake.h"

#include <openssl/evp.h>
#include <openssl/sha.h>

#include <algorithm>
#include <cstring>

#include "http/errors.h"
#include "http/response.h"

namespace wsedge::ws {

namespace {

bool is_base64_char(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' ||
         c == '/';
}

// RFC 6455 §4.2.1 (5): the key, base64-decoded, is 16 bytes: exactly 22 base64 chars and
// "==" (RFC 4648 §4). The two spare bits of the last char are not required to be zero.
bool is_valid_key(std::string_view key) {
  if (key.size() != 24 || key[22] != '=' || key[23] != '=') return false;
  for (size_t i = 0; i < 22; ++i) {
    if (!is_base64_char(key[i])) return false;
  }
  return true;
}

// Subprotocol names are compared exactly: RFC 6455 §4.2.2 says the server selects one of
// the values the client sent, and browsers check the echo byte for byte.
bool client_offers(const UpgradeFields& f, std::string_view protocol) {
  for (std::string_view line : f.protocols()) {
    std::string_view element;
    while (http::next_list_element(&line, &element)) {
      if (element == protocol) return true;
    }
  }
  return false;
}

bool list_has(std::string_view list, std::string_view token) {
  std::string_view element;
  while (http::next_list_element(&list, &element)) {
    if (http::iequals(element, token)) return true;
  }
  return false;
}

bool origin_allowed(const UpgradeFields& f, const HandshakeOptions& options) {
  if (options.allowed_origins.empty()) return true;
  if (f.origins == 0) return !options.require_origin;
  // RFC 6454 §6.2: the serialized origin is ASCII with a lowercase scheme and host, but
  // compare case-insensitively so a configured "https://Example.com" still matches.
  for (const std::string& allowed : options.allowed_origins) {
    if (f.origins == 1 && http::iequals(f.origin, allowed)) return true;
  }
  return false;
}

HandshakeResult refuse(HandshakeError e) {
  HandshakeResult r;
  r.error = e;
  return r;
}

using E = HandshakeError;

// The texts are the refusals' bodies on the wire: change one and a client sees it.
constexpr http::detail::Refusal<HandshakeError> kRefusals[] = {
    {E::kNone, 101, "no error"},
    {E::kNotGet, 405, "WebSocket handshake must use GET"},
    {E::kNotHttp11, 400, "WebSocket handshake requires HTTP/1.1"},
    {E::kHasBody, 400, "a WebSocket upgrade request must not carry a body"},
    {E::kNoHost, 400, "missing Host header"},
    {E::kNoUpgradeWebsocket, 400, "Upgrade header lacks websocket"},
    {E::kNoConnectionUpgrade, 400, "Connection header lacks upgrade"},
    {E::kKeyCount, 400, "need exactly one Sec-WebSocket-Key"},
    {E::kBadKey, 400, "Sec-WebSocket-Key is not 16 bytes in base64"},
    {E::kBadVersion, 426, "unsupported Sec-WebSocket-Version; this server speaks 13"},
    {E::kOriginNotAllowed, 403, "origin not allowed"},
};
// write_handshake_error copies the text into a body of kMaxErrorText bytes and a newline.
static_assert(http::detail::is_refusal_table(kRefusals, E::kOriginNotAllowed, http::kMaxErrorText),
              "one row per HandshakeError in enum order, texts one line that fit the body");

}  // namespace

int status_for(HandshakeError e) {
  return http::detail::refusal_in(kRefusals, e).status;
}

const char* describe(HandshakeError e) {
  return http::detail::refusal_in(kRefusals, e).text;
}

UpgradeFields gather_upgrade_fields(const http::Request& req) {
  UpgradeFields f;
  for (const http::Header& h : req.header_list()) {
    auto is = [&h](std::string_view name) { return http::iequals(h.name, name); };
    if (is("host")) {
      ++f.hosts;
    } else if (is("upgrade")) {
      f.upgrade_websocket = f.upgrade_websocket || list_has(h.value, "websocket");
    } else if (is("connection")) {
      f.connection_upgrade = f.connection_upgrade || list_has(h.value, "upgrade");
    } else if (is("sec-websocket-key")) {
      if (f.keys++ == 0) f.key = h.value;
    } else if (is("sec-websocket-version")) {
      if (f.versions++ == 0) f.version = h.value;
    } else if (is("origin")) {
      if (f.origins++ == 0) f.origin = h.value;
    } else if (is("sec-websocket-protocol")) {
      f.protocol_lines[f.protocol_count++] = h.value;  // <= kMaxHeaders lines in all
    } else if (is("sec-websocket-extensions")) {
      f.extension_lines[f.extension_count++] = h.value;
    }
  }
  return f;
}

bool is_websocket_upgrade(const http::Request& req) {
  return req.header_has_token("upgrade", "websocket");
}

HandshakeResult check_handshake(const http::Request& req, const UpgradeFields& f,
                                const HandshakeOptions& options) {
  // RFC 6455 §4.2.1 (1): the method MUST be GET; RFC 9110 §15.5.6: 405 names what is allowed.
  if (req.method != "GET") return refuse(HandshakeError::kNotGet);
  // RFC 6455 §4.2.1 (1): HTTP/1.1 or higher. 1.0 is a version we speak, so not 505.
  if (req.version_minor < 1) return refuse(HandshakeError::kNotHttp11);
  // RFC 6455 §4.1 (client, item 2) and §4.2.1: the opening handshake is a GET request
  // head, and the WebSocket stream begins right after it. A body (Content-Length > 0, or
  // any Transfer-Encoding, which the parser reports as chunked) would leave the server and
  // any proxy in front disagreeing on where frames begin (RFC 9112 §6.3): bytes a proxy
  // took for the body would run here as uninspected frames. Content-Length: 0 is no body.
  if (req.has_body()) return refuse(HandshakeError::kHasBody);
  // RFC 6455 §4.2.1 (2): a Host header field.
  if (f.hosts != 1) return refuse(HandshakeError::kNoHost);
  // RFC 6455 §4.2.1 (3): Upgrade containing "websocket", case-insensitively.
  if (!f.upgrade_websocket) return refuse(HandshakeError::kNoUpgradeWebsocket);
  // RFC 6455 §4.2.1 (4): Connection containing the token "Upgrade", case-insensitively.
  if (!f.connection_upgrade) return refuse(HandshakeError::kNoConnectionUpgrade);
  // RFC 6455 §4.2.1 (5): one Sec-WebSocket-Key that decodes to 16 bytes.
  if (f.keys != 1) return refuse(HandshakeError::kKeyCount);
  if (!is_valid_key(f.key)) return refuse(HandshakeError::kBadKey);
  // RFC 6455 §4.2.1 (6) and §4.4: version 13, else 426 naming the versions we speak.
  if (f.versions != 1 || f.version != "13") return refuse(HandshakeError::kBadVersion);
  // RFC 6455 §4.2.2 (4) and §10.2: an origin the server does not accept gets 403.
  if (!origin_allowed(f, options)) return refuse(HandshakeError::kOriginNotAllowed);

  HandshakeResult r;  // error kNone: accepted
  // RFC 6455 §4.2.2 (5): the route's first preference that the client also offered; no
  // match means no Sec-WebSocket-Protocol header at all in the 101 (§4.2.2 /subprotocol/).
  for (const std::string& p : options.subprotocols) {
    if (client_offers(f, p)) {
      r.subprotocol = p;
      break;
    }
  }
  compute_accept_key(f.key, r.accept);
  return r;
}

namespace {
// OpenSSL 3's one-shot SHA1() looks the digest up in its provider tables (under a lock)
// on every call, ~60% of the accept key's cost. Fetch it once, and keep one context per
// thread, so a handshake hashes without a lookup or an allocation.
struct Sha1 {
  EVP_MD* md = EVP_MD_fetch(nullptr, "SHA1", nullptr);
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  ~Sha1() {
    EVP_MD_CTX_free(ctx);
    EVP_MD_free(md);
  }
};
}  // namespace

void compute_accept_key(std::string_view key, char out[kAcceptKeyLength]) {
  unsigned char digest[SHA_DIGEST_LENGTH];
  thread_local Sha1 sha1;
  EVP_MD_CTX* ctx = sha1.ctx;
  unsigned int len = 0;
  // RFC 6455 §4.2.2: SHA-1 of the key with the GUID appended, base64-encoded.
  bool hashed = sha1.md != nullptr && ctx != nullptr &&
                EVP_DigestInit_ex2(ctx, sha1.md, nullptr) == 1 &&
                EVP_DigestUpdate(ctx, key.data(), key.size()) == 1 &&
                EVP_DigestUpdate(ctx, kHandshakeGuid.data(), kHandshakeGuid.size()) == 1 &&
                EVP_DigestFinal_ex(ctx, digest, &len) == 1;
  if (!hashed) {  // no reusable context (out of memory): the one-shot path
    std::string joined(key);
    joined += kHandshakeGuid;
    SHA1(reinterpret_cast<const unsigned char*>(joined.data()), joined.size(), digest);
  }
  unsigned char b64[kAcceptKeyLength + 1];  // EVP_EncodeBlock adds a NUL
  EVP_EncodeBlock(b64, digest, SHA_DIGEST_LENGTH);
  std::memcpy(out, b64, kAcceptKeyLength);
}

void write_handshake_response(Buffer& out, const HandshakeResult& result,
                              std::string_view extensions_header_value) {
  // RFC 6455 §4.2.2 (5): 101, Upgrade: websocket, Connection: Upgrade, the accept value.
  // RFC 9110 §8.6: no Content-Length in a 1xx response.
  http::write_status_line(out, 101);
  http::write_header(out, "Upgrade", "websocket");
  http::write_header(out, "Connection", "Upgrade");
  http::write_header(out, "Sec-WebSocket-Accept", result.accept_key());
  if (!result.subprotocol.empty())
    http::write_header(out, "Sec-WebSocket-Protocol", result.subprotocol);
  if (!extensions_header_value.empty())
    http::write_header(out, "Sec-WebSocket-Extensions", extensions_header_value);
  http::end_head(out);
}

void write_handshake_error(Buffer& out, const HandshakeResult& result) {
  const std::string_view reason = describe(result.error);
  const int status = status_for(result.error);
  char body[http::kMaxErrorText + 1];
  size_t n = std::min(reason.size(), http::kMaxErrorText);
  std::memcpy(body, reason.data(), n);
  body[n++] = '\n';
  http::ResponseHead head;
  head.status = status;
  head.content_type = "text/plain; charset=utf-8";
  head.connection = http::ConnectionHeader::kClose;
  // RFC 6455 §4.4: a version refusal MUST name the versions supported; RFC 9110 §15.5.22:
  // a 426 MUST carry Upgrade, and §7.8 wants "upgrade" in Connection beside it.
  static constexpr std::string_view k426[] = {"Upgrade: websocket", "Connection: Upgrade, close",
                                              "Sec-WebSocket-Version: 13"};
  static constexpr std::string_view k405[] = {"Allow: GET"};
  if (status == 426) {
    head.connection = http::ConnectionHeader::kNone;  // k426 carries "Upgrade, close"
    head.extra = k426;
  } else if (status == 405) {
    head.extra = k405;
  }
  http::write_response(out, head, {reinterpret_cast<const uint8_t*>(body), n});
}

}  // namespace wsedge::ws
