// Tests for ws/handshake: RFC 6455 §4.2.1 checks one rule per row, the §4.2.2 answer
// byte for byte, and real browser requests.
#include <doctest/doctest.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "http/parser.h"
#include "ws/handshake.h"

using namespace wsedge::ws;
using wsedge::Buffer;
using wsedge::http::ParseStatus;
using wsedge::http::Request;

namespace {

std::string str(const Buffer& b) {
  return {reinterpret_cast<const char*>(b.data()), b.readable()};
}

// Keeps the request bytes alive as long as the Request that views them.
struct Parsed {
  std::string bytes;
  Request req;
  explicit Parsed(std::string head) : bytes(std::move(head)) {
    auto r = wsedge::http::parse_request(
        {reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()}, &req);
    REQUIRE(r.status == ParseStatus::kDone);
  }
};

const char* const kBaseHeaders[] = {
    "Host: server.example.com",  "Upgrade: websocket",
    "Connection: Upgrade",       "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
    "Sec-WebSocket-Version: 13", "Origin: http://example.com"};

// The RFC 6455 §1.2 example request with header `drop` removed and `add` lines appended.
std::string request(std::string_view drop = "", std::vector<std::string> add = {},
                    std::string_view request_line = "GET /chat HTTP/1.1") {
  std::string s(request_line);
  s += "\r\n";
  for (const char* h : kBaseHeaders) {
    if (!drop.empty() && std::string_view(h).substr(0, drop.size()) == drop) continue;
    s += h;
    s += "\r\n";
  }
  for (const std::string& h : add)
    s += h + "\r\n";
  return s + "\r\n";
}

}  // namespace

TEST_CASE("compute_accept_key: RFC 6455 §1.3 example and others") {
  char out[kAcceptKeyLength];
  compute_accept_key("dGhlIHNhbXBsZSBub25jZQ==", out);
  CHECK(std::string_view(out, 28) == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
  compute_accept_key("x3JJHMbDL1EzLkh9GBhXDw==", out);
  CHECK(std::string_view(out, 28) == "HSmrc0sMlYUkAGmm5OPpG2HaGWk=");
  compute_accept_key(std::string(100, 'k'), out);  // any length goes
  CHECK(std::string_view(out, 28) == "rWzVOVhJgr+k5nChyKqRW0+OIwk=");
}

TEST_CASE("compute_accept_key: the per-thread SHA-1 context gives the same answer everywhere") {
  // Each thread reuses its own context: interleaved keys and threads must not leak state.
  std::atomic<int> wrong{0};
  auto work = [&wrong] {
    char out[kAcceptKeyLength];
    for (int i = 0; i < 2000; ++i) {
      bool rfc = i % 2 == 0;
      compute_accept_key(rfc ? "dGhlIHNhbXBsZSBub25jZQ==" : "x3JJHMbDL1EzLkh9GBhXDw==", out);
      if (std::string_view(out, 28) !=
          (rfc ? "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=" : "HSmrc0sMlYUkAGmm5OPpG2HaGWk="))
        ++wrong;
    }
  };
  std::thread a(work), b(work);
  work();
  a.join();
  b.join();
  CHECK(wrong == 0);
}

TEST_CASE("is_websocket_upgrade looks for the websocket token") {
  CHECK(is_websocket_upgrade(Parsed(request()).req));
  CHECK(is_websocket_upgrade(Parsed(request("Upgrade", {"Upgrade: foo, WebSocket"})).req));
  CHECK(!is_websocket_upgrade(Parsed(request("Upgrade")).req));
  CHECK(!is_websocket_upgrade(Parsed(request("Upgrade", {"Upgrade: h2c"})).req));
}

TEST_CASE("check_handshake: each RFC 6455 §4.2.1 requirement refused on its own") {
  using E = HandshakeError;
  struct Row {
    const char* name;
    std::string head;
    HandshakeError error;  // kNone: accepted
  };
  const Row rows[] = {
      {"valid", request(), E::kNone},
      {"Connection list with upgrade", request("Connection", {"Connection: keep-alive, Upgrade"}),
       E::kNone},
      {"token case", request("Upgrade", {"Upgrade: WEBSOCKET"}), E::kNone},
      {"§4.2.1(1) POST", request("", {}, "POST /chat HTTP/1.1"), E::kNotGet},
      {"§4.2.1(1) HTTP/1.0", request("", {}, "GET /chat HTTP/1.0"), E::kNotHttp11},
      {"§4.2.1(2) HTTP/1.0 without Host", request("Host", {}, "GET /chat HTTP/1.0"), E::kNotHttp11},
      {"§4.2.1(3) no Upgrade", request("Upgrade"), E::kNoUpgradeWebsocket},
      {"§4.2.1(3) Upgrade without websocket", request("Upgrade", {"Upgrade: h2c"}),
       E::kNoUpgradeWebsocket},
      {"§4.2.1(4) no Connection", request("Connection"), E::kNoConnectionUpgrade},
      {"§4.2.1(4) Connection without upgrade", request("Connection", {"Connection: keep-alive"}),
       E::kNoConnectionUpgrade},
      {"§4.2.1(5) no key", request("Sec-WebSocket-Key"), E::kKeyCount},
      {"§4.2.1(5) two keys", request("", {"Sec-WebSocket-Key: AAAAAAAAAAAAAAAAAAAAAA=="}),
       E::kKeyCount},
      {"§4.2.1(5) key of 15 bytes",
       request("Sec-WebSocket-Key", {"Sec-WebSocket-Key: AAAAAAAAAAAAAAAAAAAA"}), E::kBadKey},
      {"§4.2.1(5) key of 17 bytes",
       request("Sec-WebSocket-Key", {"Sec-WebSocket-Key: AAAAAAAAAAAAAAAAAAAAAAA="}), E::kBadKey},
      {"§4.2.1(5) key not base64",
       request("Sec-WebSocket-Key", {"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZ!=="}), E::kBadKey},
      {"§4.2.1(6) version 8", request("Sec-WebSocket-Version", {"Sec-WebSocket-Version: 8"}),
       E::kBadVersion},
      {"§4.2.1(6) no version", request("Sec-WebSocket-Version"), E::kBadVersion},
      {"§4.2.1(6) two versions", request("", {"Sec-WebSocket-Version: 8"}), E::kBadVersion},
      // Request smuggling: the stream must start right after the head (RFC 9112 §6.3).
      {"body: Content-Length 6", request("", {"Content-Length: 6"}), E::kHasBody},
      {"body: Content-Length 1", request("", {"Content-Length: 1"}), E::kHasBody},
      {"body: Transfer-Encoding chunked", request("", {"Transfer-Encoding: chunked"}), E::kHasBody},
      {"body: Transfer-Encoding gzip, chunked", request("", {"Transfer-Encoding: gzip, chunked"}),
       E::kHasBody},
      {"Content-Length 0 is no body", request("", {"Content-Length: 0"}), E::kNone},
  };
  for (const Row& row : rows) {
    std::string name = row.name;
    CAPTURE(name);
    Parsed p(row.head);
    HandshakeResult r = check_handshake(p.req, {});
    CHECK(r.ok() == (row.error == E::kNone));
    CHECK(r.error == row.error);
  }
}

TEST_CASE("check_handshake: Host is required even on a hand-built request") {
  Request req;
  req.method = "GET";
  req.version_minor = 1;
  req.headers[0] = {"Upgrade", "websocket"};
  req.headers[1] = {"Connection", "Upgrade"};
  req.headers[2] = {"Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="};
  req.headers[3] = {"Sec-WebSocket-Version", "13"};
  req.num_headers = 4;
  CHECK(check_handshake(req, {}).error == HandshakeError::kNoHost);
  req.headers[4] = {"host", "x"};
  req.num_headers = 5;
  HandshakeResult r = check_handshake(req, {});
  CHECK(r.ok());
  CHECK(r.error == HandshakeError::kNone);
}

TEST_CASE("check_handshake: browsers' real requests are accepted") {
  Parsed chrome(
      "GET /chat HTTP/1.1\r\nHost: localhost:9001\r\nConnection: Upgrade\r\n"
      "Pragma: no-cache\r\nUpgrade: websocket\r\nOrigin: http://localhost:9001\r\n"
      "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
      "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n\r\n");
  const UpgradeFields fields = gather_upgrade_fields(chrome.req);
  HandshakeResult r = check_handshake(chrome.req, fields, {});
  REQUIRE(r.ok());
  CHECK(r.accept_key() == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
  REQUIRE(fields.extensions().size() == 1);
  CHECK(fields.extensions()[0] == "permessage-deflate; client_max_window_bits");
  CHECK(r.subprotocol.empty());

  Parsed firefox(
      "GET /echo HTTP/1.1\r\nHost: 127.0.0.1:9001\r\nSec-WebSocket-Version: 13\r\n"
      "Origin: http://127.0.0.1:9001\r\nSec-WebSocket-Extensions: permessage-deflate\r\n"
      "Sec-WebSocket-Key: x3JJHMbDL1EzLkh9GBhXDw==\r\nConnection: keep-alive, Upgrade\r\n"
      "Sec-Fetch-Mode: websocket\r\nUpgrade: websocket\r\n\r\n");
  r = check_handshake(firefox.req, {});
  REQUIRE(r.ok());
  CHECK(r.accept_key() == "HSmrc0sMlYUkAGmm5OPpG2HaGWk=");
}

TEST_CASE("subprotocol: the route's first preference that the client offered") {
  const std::vector<std::string> route = {"chat.v2", "chat"};
  HandshakeOptions opt;
  opt.subprotocols = route;
  struct Row {
    const char* name;
    std::vector<std::string> offer;
    const char* chosen;
  };
  const Row rows[] = {
      {"route order wins", {"Sec-WebSocket-Protocol: chat, chat.v2"}, "chat.v2"},
      {"only the second", {"Sec-WebSocket-Protocol: x, chat"}, "chat"},
      {"split over two headers",
       {"Sec-WebSocket-Protocol: x", "Sec-WebSocket-Protocol: chat"},
       "chat"},
      {"case-sensitive", {"Sec-WebSocket-Protocol: CHAT"}, ""},
      {"not offered", {}, ""},
      {"no overlap", {"Sec-WebSocket-Protocol: mqtt"}, ""},
  };
  for (const Row& row : rows) {
    std::string name = row.name;
    CAPTURE(name);
    Parsed p(request("", row.offer));
    HandshakeResult r = check_handshake(p.req, opt);
    REQUIRE(r.ok());
    CHECK(r.subprotocol == row.chosen);
    Buffer out;
    write_handshake_response(out, r);
    // RFC 6455 §4.2.2: no Sec-WebSocket-Protocol header unless one was chosen.
    CHECK((str(out).find("Sec-WebSocket-Protocol") != std::string::npos) ==
          (std::string_view(row.chosen) != ""));
  }
}

TEST_CASE("origin allow-list: §4.2.2 403 for an origin not accepted") {
  const std::vector<std::string> allowed = {"https://good.example", "http://example.com"};
  HandshakeOptions opt;
  opt.allowed_origins = allowed;
  CHECK(check_handshake(Parsed(request()).req, opt).ok());
  Parsed bad(request("Origin", {"Origin: https://evil.example"}));
  HandshakeResult r = check_handshake(bad.req, opt);
  CHECK(!r.ok());
  CHECK(r.error == HandshakeError::kOriginNotAllowed);
  Parsed upper(request("Origin", {"Origin: HTTPS://GOOD.EXAMPLE"}));
  CHECK(check_handshake(upper.req, opt).ok());
  Parsed none(request("Origin"));
  CHECK(check_handshake(none.req, opt).ok());
  opt.require_origin = true;
  CHECK(check_handshake(none.req, opt).error == HandshakeError::kOriginNotAllowed);
  CHECK(check_handshake(bad.req, HandshakeOptions{}).ok());  // empty list: any origin
}

TEST_CASE("write_handshake_response: the §4.2.2 101, byte for byte") {
  const std::vector<std::string> route = {"chat"};
  HandshakeOptions opt;
  opt.subprotocols = route;
  Parsed p(request("", {"Sec-WebSocket-Protocol: chat"}));
  HandshakeResult r = check_handshake(p.req, opt);
  REQUIRE(r.ok());
  Buffer out;
  write_handshake_response(out, r, "permessage-deflate");
  CHECK(str(out) ==
        "HTTP/1.1 101 Switching Protocols\r\nServer: wsedge\r\nUpgrade: websocket\r\n"
        "Connection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"
        "Sec-WebSocket-Protocol: chat\r\nSec-WebSocket-Extensions: permessage-deflate\r\n\r\n");
  out.clear();
  write_handshake_response(out, r);
  CHECK(str(out).find("Sec-WebSocket-Extensions") == std::string::npos);
  CHECK(str(out).find("Content-Length") == std::string::npos);  // RFC 9110 §8.6: not in 1xx
}

TEST_CASE("write_handshake_error: §4.4 426 names version 13; others close") {
  Parsed v8(request("Sec-WebSocket-Version", {"Sec-WebSocket-Version: 8"}));
  Buffer out;
  write_handshake_error(out, check_handshake(v8.req, {}));
  std::string s = str(out);
  CHECK(s.find("HTTP/1.1 426 Upgrade Required\r\n") == 0);
  CHECK(s.find("\r\nSec-WebSocket-Version: 13\r\n") != std::string::npos);
  CHECK(s.find("\r\nUpgrade: websocket\r\n") != std::string::npos);
  CHECK(s.find("\r\nConnection: Upgrade, close\r\n") != std::string::npos);

  out.clear();
  write_handshake_error(out, check_handshake(Parsed(request("Sec-WebSocket-Key")).req, {}));
  s = str(out);
  CHECK(s.find("HTTP/1.1 400 Bad Request\r\n") == 0);
  CHECK(s.find("\r\nConnection: close\r\n") != std::string::npos);
  CHECK(s.substr(s.size() - 35) == "need exactly one Sec-WebSocket-Key\n");

  out.clear();
  write_handshake_error(out, check_handshake(Parsed(request("", {}, "PUT / HTTP/1.1")).req, {}));
  CHECK(str(out).find("\r\nAllow: GET\r\n") != std::string::npos);
}

TEST_CASE("gather_upgrade_fields: one pass keeps every protocol and extension line, in order") {
  // RFC 6455 §9.1 / §11.3.4: several lines are one comma-separated list, in order.
  std::string head =
      "GET / HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
      "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n";
  for (int i = 0; i < 40; ++i)
    head += "Sec-WebSocket-Extensions: x-" + std::to_string(i) + "\r\n";
  head += "Sec-WebSocket-Protocol: a, b\r\nSec-WebSocket-Protocol: chat\r\n\r\n";
  Parsed p(head);  // its constructor REQUIREs a complete head
  const UpgradeFields f = gather_upgrade_fields(p.req);
  CHECK(f.hosts == 1);
  CHECK(f.keys == 1);
  CHECK(f.upgrade_websocket);
  CHECK(f.connection_upgrade);
  REQUIRE(f.extensions().size() == 40);
  CHECK(f.extensions()[0] == "x-0");
  CHECK(f.extensions()[39] == "x-39");
  REQUIRE(f.protocols().size() == 2);
  CHECK(f.protocols()[1] == "chat");
  // The subprotocol on the second line is found: the lines are one list.
  const std::string route[] = {"chat"};
  HandshakeOptions options;
  options.subprotocols = route;
  HandshakeResult r = check_handshake(p.req, f, options);
  REQUIRE(r.ok());
  CHECK(r.subprotocol == "chat");
}
