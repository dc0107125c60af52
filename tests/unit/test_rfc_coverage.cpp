// Requirements of RFC 6455 that docs/RFC-COVERAGE.md found enforced but not yet proven by a
// test, each named after its row there: the client side of the opening handshake
// (bench/load/client_handshake.h, the one wsload runs), a ping during our unanswered close,
// the close codes wsedge itself sends, and the 404 for a resource no route serves.
#include <doctest/doctest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "bench/load/client_handshake.h"
#include "bench/load/options.h"
#include "http/parser.h"
#include "net/reactor.h"
#include "server/server.h"
#include "tests/support/fake_transport.h"
#include "ws/close_code.h"
#include "ws/errors.h"
#include "ws/frame.h"
#include "ws/handshake.h"
#include "ws/session.h"

using namespace wsedge;
using namespace wsedge::ws;

namespace {

// --- the client's opening handshake (RFC 6455 §4.1, RFC 7692 §5) -----------------------

constexpr std::string_view kKey = "dGhlIHNhbXBsZSBub25jZQ==";  // the RFC's own example
constexpr std::string_view kAccept = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";

std::string response(std::string_view extra = {}) {
  std::string r =
      "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
      "Sec-WebSocket-Accept: ";
  r.append(kAccept).append("\r\n").append(extra).append("\r\n");
  return r;
}

// Replaces the header line starting with `name:` by `line` ("" drops it).
std::string with_line(std::string head, std::string_view name, std::string_view line) {
  const size_t at = head.find(std::string(name) + ":");
  REQUIRE(at != std::string::npos);
  const size_t eol = head.find("\r\n", at);
  head.replace(at, eol + 2 - at, line.empty() ? std::string() : std::string(line) + "\r\n");
  return head;
}

const char* verdict(const std::string& head, bool deflate = false,
                    std::string_view subprotocols = {}) {
  load::DeflateOffer offer{.enabled = deflate};
  return load::check_response(head, kAccept, offer, subprotocols).error;
}

// --- a Session over the fake transport ---------------------------------------------------

const MaskKey kMask{0x37, 0xfa, 0x21, 0x3d};

std::string client_frame(Opcode op, std::string_view payload) {
  Buffer b;
  encode_frame(b, op, {reinterpret_cast<const uint8_t*>(payload.data()), payload.size()}, true,
               false, &kMask);
  return {reinterpret_cast<const char*>(b.data()), b.readable()};
}

struct ServerFrame {
  Opcode op;
  std::string payload;
};

// What the server sent, decoded as a client must (unmasked frames only, RFC 6455 §5.1).
std::vector<ServerFrame> server_frames(const std::vector<uint8_t>& sent) {
  std::vector<ServerFrame> frames;
  const DecodeRules rules{.expect_masked = false};
  size_t pos = 0;
  while (pos < sent.size()) {
    DecodeResult r = decode_header(std::span<const uint8_t>(sent).subspan(pos), rules);
    REQUIRE(r.status == DecodeStatus::kDone);
    const size_t start = pos + r.header.header_length;
    REQUIRE(start + r.header.payload_length <= sent.size());
    frames.push_back(
        {r.header.opcode,
         std::string(sent.begin() + static_cast<long>(start),
                     sent.begin() + static_cast<long>(start + r.header.payload_length))});
    pos = start + r.header.payload_length;
  }
  return frames;
}

struct Quiet final : Handler {
  int messages = 0;
  void on_message(Session&, std::span<const uint8_t>, MessageType) override { ++messages; }
};

struct SessionFixture {
  Quiet app;
  SessionOptions options;
  test::FakeTransport t;
  Session* session = nullptr;
  SessionFixture() {
    const http::Request request{};
    auto s = std::make_unique<Session>(t, app, options, Opening{.request = request});
    session = s.get();
    t.protocol = std::move(s);
  }
};

// --- a live server on a free port ---------------------------------------------------------

struct Echo final : Handler {
  void on_message(Session& s, std::span<const uint8_t> payload, MessageType type) override {
    s.send(payload, type);
  }
};

int connect_loopback(uint16_t port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  REQUIRE(fd >= 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
  return fd;
}

// Runs the loop until the server closed `fd` (EOF) or 400 iterations passed; what arrived,
// with "<EOF>" appended when the server closed.
std::string read_until_eof(int fd, net::Reactor& loop) {
  std::string got;
  for (int i = 0; i < 400; ++i) {
    loop.run_once(5);
    char buf[4096];
    const ssize_t r = ::recv(fd, buf, sizeof buf, MSG_DONTWAIT);
    if (r > 0) got.append(buf, static_cast<size_t>(r));
    if (r == 0) return got + "<EOF>";
  }
  return got;
}

}  // namespace

TEST_CASE("client handshake: parse_url takes only valid ws:// and wss:// URIs (RFC 6455 §3)") {
  load::Options o;
  REQUIRE(load::detail::parse_url("ws://127.0.0.1:9001/chat?room=a", &o) == nullptr);
  CHECK(o.path == "/chat?room=a");  // the resource name: path and query
  CHECK(o.host_header == "127.0.0.1:9001");
  CHECK_FALSE(o.tls.enabled);
  REQUIRE(load::detail::parse_url("ws://127.0.0.1", &o) == nullptr);
  CHECK(o.path == "/");                 // an empty path is "/"
  CHECK(o.host_header == "127.0.0.1");  // the default port (80) is not written
  REQUIRE(load::detail::parse_url("wss://[::1]:9443/", &o) == nullptr);
  CHECK(o.tls.enabled);  // the secure flag: TLS before the handshake (§4.1 item 5)
  for (const char* bad : {"http://127.0.0.1:1/", "ws://127.0.0.1:1/p#frag", "ws://127.0.0.1:0/",
                          "ws://127.0.0.1:65536/", "ws://[::1/", "ws:///path"}) {
    CAPTURE(bad);
    CHECK(load::detail::parse_url(bad, &o) != nullptr);
  }
}

TEST_CASE("client handshake: build_request asks for exactly what RFC 6455 §4.1 lists") {
  const std::string r =
      load::build_request("/chat?room=a", "127.0.0.1:9001", kKey, load::DeflateOffer{});
  // Item 2: GET and HTTP/1.1; item 3: the resource name; item 4: Host with the port.
  CHECK(r.starts_with("GET /chat?room=a HTTP/1.1\r\n"));
  CHECK(r.find("\r\nHost: 127.0.0.1:9001\r\n") != std::string::npos);
  // Items 5, 6, 7 and 9.
  CHECK(r.find("\r\nUpgrade: websocket\r\n") != std::string::npos);
  CHECK(r.find("\r\nConnection: Upgrade\r\n") != std::string::npos);
  CHECK(r.find(std::string("\r\nSec-WebSocket-Key: ") + std::string(kKey) + "\r\n") !=
        std::string::npos);
  CHECK(r.find("\r\nSec-WebSocket-Version: 13\r\n") != std::string::npos);
  // A valid HTTP request head (item 1), ended by the blank line, that wsedge itself accepts.
  CHECK(r.ends_with("\r\n\r\n"));
  http::Request req;
  const http::ParseResult p = http::parse_request(
      {reinterpret_cast<const uint8_t*>(r.data()), r.size()}, &req, http::ParseLimits{});
  REQUIRE(p.status == http::ParseStatus::kDone);
  CHECK(check_handshake(req, HandshakeOptions{}).ok());
  // No extension offered unless asked (RFC 7692 §5: the offer names the extension).
  CHECK(r.find("Sec-WebSocket-Extensions") == std::string::npos);
  const std::string d = load::build_request("/", "h", kKey, load::DeflateOffer{.enabled = true});
  CHECK(d.find("\r\nSec-WebSocket-Extensions: permessage-deflate") != std::string::npos);
}

TEST_CASE("client handshake: check_response fails every response RFC 6455 §4.1 refuses") {
  CHECK(verdict(response()) == nullptr);  // the control: a valid 101
  // Case-insensitive names and values are fine (§4.1: "ASCII case-insensitive").
  CHECK(verdict(with_line(response(), "Upgrade", "upgrade: WebSocket")) == nullptr);
  CHECK(verdict(with_line(response(), "Connection", "CONNECTION: keep-alive, upgrade")) == nullptr);
  struct Row {
    const char* name;
    std::string head;
  };
  const Row rows[] = {
      {"item 1: a status other than 101", "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"},
      {"item 2: no Upgrade", with_line(response(), "Upgrade", "")},
      {"item 2: Upgrade is not websocket", with_line(response(), "Upgrade", "Upgrade: h2c")},
      {"item 3: no Connection", with_line(response(), "Connection", "")},
      {"item 3: Connection without upgrade",
       with_line(response(), "Connection", "Connection: keep-alive")},
      {"item 4: no Sec-WebSocket-Accept", with_line(response(), "Sec-WebSocket-Accept", "")},
      {"item 4: a wrong Sec-WebSocket-Accept",
       with_line(response(), "Sec-WebSocket-Accept",
                 "Sec-WebSocket-Accept: AAAAAAAAAAAAAAAAAAAAAAAAAAA=")},
      {"item 5: an extension that was not offered",
       response("Sec-WebSocket-Extensions: permessage-deflate\r\n")},
      {"item 6: a subprotocol that was not offered", response("Sec-WebSocket-Protocol: chat\r\n")},
  };
  for (const Row& row : rows) {
    CAPTURE(row.name);
    CHECK(verdict(row.head) != nullptr);
  }
}

TEST_CASE("client handshake: the subprotocol answered must be one the client offered") {
  const std::string chat = response("Sec-WebSocket-Protocol: chat\r\n");
  CHECK(verdict(chat, false, "superchat, chat") == nullptr);
  CHECK(verdict(chat, false, "superchat") != nullptr);
  CHECK(verdict(chat, false, "Chat") != nullptr);  // compared exactly, as browsers do
  // RFC 6455 §11.3.4: at most one Sec-WebSocket-Protocol in a response.
  CHECK(verdict(response("Sec-WebSocket-Protocol: chat\r\nSec-WebSocket-Protocol: chat\r\n"), false,
                "chat") != nullptr);
}

TEST_CASE("client handshake: a permessage-deflate answer RFC 7692 forbids fails") {
  auto ext = [](std::string_view v) {
    return response(std::string("Sec-WebSocket-Extensions: ") + std::string(v) + "\r\n");
  };
  CHECK(verdict(ext("permessage-deflate"), true) == nullptr);
  CHECK(verdict(ext("permessage-deflate; server_max_window_bits=10; client_max_window_bits=9"),
                true) == nullptr);
  struct Row {
    const char* name;
    const char* value;
  };
  const Row rows[] = {
      // RFC 7692 §5: the server accepts one PMCE and nothing else claiming RSV1.
      {"accepted twice", "permessage-deflate, permessage-deflate"},
      {"with another extension", "permessage-deflate, x-webkit-deflate-frame"},
      // RFC 7692 §7: a parameter not defined for a response, a bad value, a repeat.
      {"unknown parameter", "permessage-deflate; x=1"},
      {"window bits out of range", "permessage-deflate; server_max_window_bits=16"},
      {"window bits with a leading zero", "permessage-deflate; server_max_window_bits=09"},
      {"the same parameter twice",
       "permessage-deflate; server_no_context_takeover; server_no_context_takeover"},
      {"a value on a flag", "permessage-deflate; client_no_context_takeover=1"},
      // RFC 6455 §9.1: a value that breaks the header's grammar.
      {"malformed", "permessage-deflate; ="},
  };
  for (const Row& row : rows) {
    CAPTURE(row.name);
    CHECK(verdict(ext(row.value), true) != nullptr);
  }
}

TEST_CASE("RFC 6455 §5.5.2: a ping during our unanswered close is still answered") {
  SessionFixture f;
  f.session->close(1000, "bye");
  f.t.feed(client_frame(Opcode::kPing, "still there?"));
  auto out = server_frames(f.t.sent);
  REQUIRE(out.size() == 2);
  CHECK(out[0].op == Opcode::kClose);
  CHECK(out[1].op == Opcode::kPong);
  CHECK(out[1].payload == "still there?");
  // Once the peer's close has arrived, a ping after it gets nothing (it is not read).
  f.t.feed(client_frame(Opcode::kClose, "") + client_frame(Opcode::kPing, "late"));
  CHECK(server_frames(f.t.sent).size() == 2);
  CHECK(f.t.closed);
}

TEST_CASE("RFC 6455 §7.4.1: every close code wsedge sends of its own is valid on the wire") {
  // The codes a failure is closed with (one per WsError, ws/errors.cpp).
  for (int e = 0; e <= static_cast<int>(WsError::kBadCompressedData); ++e) {
    CAPTURE(e);
    const uint16_t code = close_code_for(static_cast<WsError>(e));
    CHECK(is_valid_wire_close_code(code));
    CHECK(code != close_code::kNoStatus);
    CHECK(code != close_code::kAbnormal);
    CHECK(code != close_code::kTlsHandshake);
  }
  // A shutdown (1001) and running out of memory (1011) send valid codes too; 1006 is only
  // ever reported to the application, never written in a frame.
  for (int which = 0; which < 2; ++which) {
    SessionFixture f;
    if (which == 0)
      f.session->on_shutdown(f.t);
    else
      f.session->on_out_of_memory(f.t);
    auto out = server_frames(f.t.sent);
    REQUIRE(out.size() == 1);
    REQUIRE(out[0].op == Opcode::kClose);
    REQUIRE(out[0].payload.size() >= 2);
    const uint16_t code = static_cast<uint16_t>((static_cast<uint8_t>(out[0].payload[0]) << 8) |
                                                static_cast<uint8_t>(out[0].payload[1]));
    CHECK(code == (which == 0 ? close_code::kGoingAway : close_code::kInternalError));
  }
  SessionFixture f;
  f.session->close();
  f.t.fire_timer();  // the close grace ends: reported 1006, nothing more on the wire
  CHECK(server_frames(f.t.sent).size() == 1);
  CHECK(f.t.aborted);
}

TEST_CASE("RFC 6455 §4.2.2: an upgrade for a resource no route serves gets 404, then TCP closes") {
  auto created = net::Reactor::create();
  REQUIRE(created.ok());
  std::unique_ptr<net::Reactor> loop = std::move(created.value());
  Echo echo;
  Server server(*loop, ServerOptions{});
  Route only;
  only.path = "/only";
  only.handler = &echo;
  server.add_route(only);
  REQUIRE(server.start().ok());
  auto upgrade = [](std::string_view path) {
    return "GET " + std::string(path) +
           " HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
           "Sec-WebSocket-Key: " +
           std::string(kKey) + "\r\nSec-WebSocket-Version: 13\r\n\r\n";
  };
  const int missing = connect_loopback(server.port());
  const std::string request = upgrade("/elsewhere");
  REQUIRE(::send(missing, request.data(), request.size(), MSG_NOSIGNAL) ==
          static_cast<ssize_t>(request.size()));
  const std::string got = read_until_eof(missing, *loop);
  ::close(missing);
  CHECK(got.starts_with("HTTP/1.1 404"));
  CHECK(got.ends_with("<EOF>"));  // §7.2.2: the handshake is aborted by closing TCP
  // The control: the route's own path upgrades.
  const int served = connect_loopback(server.port());
  const std::string good = upgrade("/only");
  REQUIRE(::send(served, good.data(), good.size(), MSG_NOSIGNAL) ==
          static_cast<ssize_t>(good.size()));
  std::string answer;
  for (int i = 0; i < 200 && answer.find("\r\n\r\n") == std::string::npos; ++i) {
    loop->run_once(5);
    char buf[1024];
    const ssize_t r = ::recv(served, buf, sizeof buf, MSG_DONTWAIT);
    if (r > 0) answer.append(buf, static_cast<size_t>(r));
  }
  ::close(served);
  CHECK(answer.starts_with("HTTP/1.1 101"));
  CHECK(answer.find(std::string("Sec-WebSocket-Accept: ") + std::string(kAccept)) !=
        std::string::npos);
}
