// wsedge-client's pure parts: the client handshake (ws/client_handshake: request, every §4.1
// response check, RFC 7692 §7 answers), the URL and command line (apps/client/options), the
// stdin commands and /raw's bytes (apps/client/commands), the session (apps/client/session)
// fed server bytes: echoes, pings, close, and each rule a server can break, the exit status
// table (apps/client/verdict) and Ctrl-C as an fd (apps/client/interrupt).
#include <doctest/doctest.h>
#include <signal.h>

#include <algorithm>
#include <string>
#include <vector>

#include "apps/client/commands.h"
#include "apps/client/interrupt.h"
#include "apps/client/options.h"
#include "apps/client/session.h"
#include "apps/client/verdict.h"
#include "ws/client_handshake.h"
#include "ws/handshake.h"

using namespace wsedge;          // NOLINT(google-build-using-namespace): test file
using namespace wsedge::client;  // NOLINT(google-build-using-namespace): test file
using Bytes = std::vector<uint8_t>;

namespace {

// RFC 6455 §1.3's example key, and the accept it must produce.
constexpr std::string_view kKey = "dGhlIHNhbXBsZSBub25jZQ==";
constexpr std::string_view kAccept = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";

std::string response(std::string_view extra = {}, std::string_view accept = kAccept) {
  return "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
         "Sec-WebSocket-Accept: " +
         std::string(accept) + "\r\n" + std::string(extra) + "\r\n";
}

ws::MaskKey counting_key() {
  static uint8_t n = 0;
  n = static_cast<uint8_t>(n + 4);
  return {n, static_cast<uint8_t>(n + 1), static_cast<uint8_t>(n + 2), static_cast<uint8_t>(n + 3)};
}

// Unmasks the frames a session wrote: (opcode, fin, payload) per frame.
struct Sent {
  uint8_t opcode;
  bool fin, rsv1;
  std::string payload;
};
std::vector<Sent> sent_frames(Buffer& out) {
  std::vector<Sent> frames;
  std::span<const uint8_t> v = out.view();
  while (!v.empty()) {
    const ws::DecodeResult r = ws::decode_header(v, {.expect_masked = true, .allow_rsv1 = true});
    REQUIRE(r.status == ws::DecodeStatus::kDone);
    Bytes p(v.begin() + r.header.header_length,
            v.begin() + r.header.header_length + static_cast<long>(r.header.payload_length));
    ws::unmask(p.data(), p.size(), r.header.mask_key);
    frames.push_back({static_cast<uint8_t>(r.header.opcode), r.header.fin, r.header.rsv1,
                      std::string(p.begin(), p.end())});
    v = v.subspan(r.header.header_length + p.size());
  }
  out.clear();
  return frames;
}

std::vector<Event> feed(ClientSession& s, const Bytes& b) {
  std::vector<Event> ev;
  s.receive(b, &ev);
  return ev;
}

}  // namespace

TEST_CASE("client handshake: the request carries every header RFC 6455 §4.1 requires") {
  const std::vector<std::string> protocols = {"chat", "superchat"};
  const std::vector<std::string> headers = {"X-A: 1"};
  std::string req;
  ws::write_client_request(
      req, {"example.com:9001", "/chat?x=1", kKey, protocols, true, "http://example.com", headers});
  CHECK(req ==
        "GET /chat?x=1 HTTP/1.1\r\nHost: example.com:9001\r\nUpgrade: websocket\r\n"
        "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
        "Sec-WebSocket-Version: 13\r\nOrigin: http://example.com\r\n"
        "Sec-WebSocket-Protocol: chat, superchat\r\n"
        "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\nX-A: 1\r\n\r\n");
  const uint8_t nonce[16] = {'t', 'h', 'e', ' ', 's', 'a', 'm', 'p',
                             'l', 'e', ' ', 'n', 'o', 'n', 'c', 'e'};
  CHECK(ws::client_key(nonce) == kKey);
}

TEST_CASE("client handshake: each response rule, by name") {
  using E = ws::ClientHandshakeError;
  const std::vector<std::string> protocols = {"chat"};
  const ws::ClientOffer offer{"h", "/", kKey, protocols, true, {}, {}};
  struct {
    const char* name;
    std::string head;
    E error;
  } const rows[] = {
      {"a good answer", response(), E::kNone},
      {"accept with surrounding spaces",
       "HTTP/1.1 101 OK\r\nUpgrade: WebSocket\r\nConnection: keep-alive, upgrade\r\n"
       "Sec-WebSocket-Accept:   s3pPLMBiTxaQ9kYGzzhZRbK+xOo=  \r\n\r\n",
       E::kNone},
      {"not HTTP", "SSH-2.0-OpenSSH\r\n\r\n", E::kMalformed},
      {"header line without colon", "HTTP/1.1 101 x\r\nbroken\r\n\r\n", E::kMalformed},
      {"obs-fold", "HTTP/1.1 101 x\r\n folded: y\r\n\r\n", E::kMalformed},
      {"200", "HTTP/1.1 200 OK\r\n\r\n", E::kNotSwitching},
      {"no Upgrade", "HTTP/1.1 101 x\r\nConnection: Upgrade\r\n\r\n", E::kNoUpgradeWebsocket},
      {"no Connection",
       "HTTP/1.1 101 x\r\nUpgrade: websocket\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+"
       "xOo=\r\n\r\n",
       E::kNoConnectionUpgrade},
      {"wrong accept", response({}, "AAAAAAAAAAAAAAAAAAAAAAAAAAA="), E::kBadAccept},
      {"no accept", "HTTP/1.1 101 x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n",
       E::kBadAccept},
      {"unknown extension", response("Sec-WebSocket-Extensions: x-foo\r\n"),
       E::kExtensionNotOffered},
      {"deflate twice",
       response("Sec-WebSocket-Extensions: permessage-deflate, permessage-deflate\r\n"),
       E::kExtensionNotOffered},
      {"deflate with an offer-only parameter",
       response("Sec-WebSocket-Extensions: permessage-deflate; bogus\r\n"), E::kBadDeflateResponse},
      {"deflate window out of range",
       response("Sec-WebSocket-Extensions: permessage-deflate; server_max_window_bits=16\r\n"),
       E::kBadDeflateResponse},
      {"deflate parameter twice",
       response("Sec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover; "
                "server_no_context_takeover\r\n"),
       E::kBadDeflateResponse},
      {"subprotocol not offered", response("Sec-WebSocket-Protocol: other\r\n"),
       E::kProtocolNotOffered},
      {"two subprotocol lines",
       response("Sec-WebSocket-Protocol: chat\r\nSec-WebSocket-Protocol: chat\r\n"),
       E::kProtocolNotOffered},
      // RFC 6455 §11.3.3: one Sec-WebSocket-Accept, even when both lines are right.
      {"two accept lines", response("Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"),
       E::kBadAccept},
      // RFC 6455 §11.3.2: one Sec-WebSocket-Extensions in a response.
      {"two extension lines",
       response("Sec-WebSocket-Extensions: permessage-deflate\r\nSec-WebSocket-Extensions: \r\n"),
       E::kMalformed},
      // RFC 6455 §9.1: an answer that breaks the extension grammar.
      {"extensions not in the grammar",
       response("Sec-WebSocket-Extensions: permessage-deflate; =15\r\n"), E::kBadDeflateResponse},
  };
  for (const auto& r : rows) {
    CAPTURE(r.name);
    CHECK(ws::check_server_response(r.head, offer).error == r.error);
  }
  const std::string agreed = response(
      "Sec-WebSocket-Protocol: chat\r\nSec-WebSocket-Extensions: permessage-deflate; "
      "server_no_context_takeover; client_max_window_bits=10; client_no_context_takeover; "
      "server_max_window_bits=12\r\n");
  const ws::ServerResponse r = ws::check_server_response(agreed, offer);
  CHECK(r.error == E::kNone);
  CHECK(r.subprotocol == "chat");
  CHECK(r.deflate.enabled);
  CHECK(r.deflate.server_no_context_takeover);
  CHECK(r.deflate.client_max_window_bits == 10);
  CHECK(r.deflate.client_no_context_takeover);
  CHECK(r.deflate.server_max_window_bits == 12);
  const ws::ClientOffer plain{"h", "/", kKey, {}, false, {}, {}};
  CHECK(
      ws::check_server_response(response("Sec-WebSocket-Extensions: permessage-deflate\r\n"), plain)
          .error == E::kExtensionNotOffered);
  CHECK(ws::response_head_length("HTTP/1.1 101 x\r\n\r\nframes") == 18);
  CHECK(ws::response_head_length("HTTP/1.1 101 x\r\n\r") == 0);
}

TEST_CASE("client URL: RFC 6455 §3") {
  struct {
    const char* in;
    bool secure;
    const char* host;
    uint16_t port;
    const char* target;
    const char* host_header;
  } const good[] = {
      {"ws://example.com", false, "example.com", 80, "/", "example.com"},
      {"WS://example.com:9001/chat?room=a", false, "example.com", 9001, "/chat?room=a",
       "example.com:9001"},
      {"wss://example.com/", true, "example.com", 443, "/", "example.com"},
      {"wss://example.com:80/", true, "example.com", 80, "/", "example.com:80"},
      {"ws://[::1]:9001/x", false, "::1", 9001, "/x", "[::1]:9001"},
      {"ws://h?q", false, "h", 80, "/?q", "h"},
  };
  for (const auto& g : good) {
    CAPTURE(g.in);
    WsUrl u;
    REQUIRE(parse_ws_url(g.in, &u).empty());
    CHECK(u.secure == g.secure);
    CHECK(u.host == g.host);
    CHECK(u.port == g.port);
    CHECK(u.target == g.target);
    CHECK(u.host_header == g.host_header);
  }
  for (const char* bad : {"http://h/", "ws://", "ws://:80/", "ws://h:0/", "ws://h:65536/",
                          "ws://h/#f", "ws://[::1/", "ws://u@h/", "ws://h:x/"}) {
    CAPTURE(bad);
    WsUrl u;
    CHECK_FALSE(parse_ws_url(bad, &u).empty());
  }
}

TEST_CASE("client options") {
  ClientOptions o;
  const char* argv[] = {"wsedge-client", "--subprotocol", "a", "--subprotocol", "b", "--deflate",
                        "--trace=hex",   "--send",        "x", "--expect",      "x", "--timeout",
                        "1.5",           "ws://h/"};
  REQUIRE(parse_client_options(14, argv, &o).empty());
  CHECK(o.subprotocols == std::vector<std::string>{"a", "b"});
  CHECK(o.deflate);
  CHECK(o.trace == TraceLevel::kHex);
  CHECK(o.scripted());
  CHECK(o.timeout_s == 1.5);
  const char* bad[] = {"wsedge-client", "--timeout", "0", "ws://h/"};
  CHECK(parse_client_options(4, bad, &o).find("--timeout") != std::string::npos);
  const char* header[] = {"wsedge-client", "--header", "X: a\r\nY: b", "ws://h/"};
  CHECK(parse_client_options(4, header, &o).find("--header") != std::string::npos);
  // RFC 6455 §4.1 item 10: each subprotocol offered once.
  const char* twice[] = {"wsedge-client", "--subprotocol", "a", "--subprotocol", "a", "ws://h/"};
  CHECK(parse_client_options(6, twice, &o).find("offered twice") != std::string::npos);
  // RFC 6455 §5.6: --send is a text message, so UTF-8.
  const char* latin1[] = {"wsedge-client", "--send", "caf\xe9", "ws://h/"};
  CHECK(parse_client_options(4, latin1, &o).find("not UTF-8") != std::string::npos);
}

TEST_CASE("client commands") {
  Command c = parse_command("hello");
  CHECK(c.kind == CommandKind::kText);
  CHECK(c.text == "hello");
  CHECK(parse_command("//x").text == "/x");
  CHECK(parse_command("a\r").text == "a");
  c = parse_command("/binary 00 ff:10");
  CHECK(c.kind == CommandKind::kBinary);
  CHECK(c.bytes == Bytes{0x00, 0xff, 0x10});
  CHECK(parse_command("/binary 0").kind == CommandKind::kError);
  c = parse_command("/close 4001 see you");
  CHECK(c.kind == CommandKind::kClose);
  CHECK(c.code == 4001);
  CHECK(c.text == "see you");
  CHECK(parse_command("/close").code == 1000);
  CHECK(parse_command("/close 70000").kind == CommandKind::kError);
  // RFC 6455 §7.4: codes that never go in a Close frame; a reason that is not UTF-8.
  for (const char* bad : {"/close 1005", "/close 1006", "/close 1015", "/close 999",
                          "/close 1000 caf\xe9", "caf\xe9", "/fragment 2 \xff"}) {
    CAPTURE(bad);
    CHECK(parse_command(bad).kind == CommandKind::kError);
  }
  CHECK(parse_command("/close 4999 ok").kind == CommandKind::kClose);
  CHECK(parse_command("caf\xc3\xa9").text == "caf\xc3\xa9");
  CHECK(parse_command("/ping " + std::string(126, 'p')).kind == CommandKind::kError);
  c = parse_command("/fragment 3 abc def");
  CHECK(c.kind == CommandKind::kFragment);
  CHECK(c.fragments == 3);
  CHECK(c.text == "abc def");
  CHECK(parse_command("/fragment 0 x").kind == CommandKind::kError);
  CHECK(parse_command("/fragment 1025 x").kind == CommandKind::kError);
  CHECK(parse_command("/what").kind == CommandKind::kError);
  CHECK(parse_command("/help").kind == CommandKind::kHelp);
}

TEST_CASE("client /raw: exactly the bits asked for") {
  struct {
    const char* line;
    Bytes frame;
  } const rows[] = {
      {"/raw KEY=00000000 PAYLOAD=4142", {0x81, 0x82, 0, 0, 0, 0, 0x41, 0x42}},
      {"/raw FIN=0 RSV1=1 RSV2=1 RSV3=1 OP=0x3 MASK=0 PAYLOAD=41", {0x73, 0x01, 0x41}},
      {"/raw MASK=0 FORM=16 PAYLOAD=41", {0x81, 0x7E, 0x00, 0x01, 0x41}},
      {"/raw MASK=0 FORM=64 LEN=0x8000000000000000", {0x81, 0x7F, 0x80, 0, 0, 0, 0, 0, 0, 0}},
      {"/raw MASK=0 LEN=300 PAYLOAD=41", {0x81, 0x7E, 0x01, 0x2C, 0x41}},
      {"/raw OP=9 KEY=01020304 PAYLOAD=6869", {0x89, 0x82, 1, 2, 3, 4, 0x69, 0x6b}},
  };
  for (const auto& r : rows) {
    CAPTURE(r.line);
    const Command c = parse_command(r.line);
    REQUIRE(c.kind == CommandKind::kRaw);
    CHECK(encode_raw(c.raw, {9, 9, 9, 9}) == r.frame);
  }
  CHECK(encode_raw(parse_command("/raw PAYLOAD=00").raw, {1, 2, 3, 4}) ==
        Bytes{0x81, 0x81, 1, 2, 3, 4, 0x01});
  for (const char* bad : {"/raw FIN=2", "/raw OP=16", "/raw KEY=0102", "/raw LEN=x", "/raw FORM=8",
                          "/raw FORM=7 LEN=126", "/raw FORM=16 LEN=65536", "/raw PAYLOAD=4",
                          "/raw WHAT=1", "/raw FIN"}) {
    CAPTURE(bad);
    CHECK(parse_command(bad).kind == CommandKind::kError);
  }
}

TEST_CASE("client session: sends masked frames, each with a fresh key") {
  ClientSession s({{}, TraceLevel::kOff, "c1", &counting_key});
  CHECK(s.send_text("hi"));
  CHECK(s.send_fragments("abcdef", 3));
  CHECK(s.send_ping("p"));
  const std::vector<Sent> f = sent_frames(s.output());
  REQUIRE(f.size() == 5);
  for (const Sent& x : f)
    CHECK_FALSE(x.rsv1);  // RFC 7692 §5 / RFC 6455 §9.1: no deflate agreed, no RSV1
  CHECK(f[4].fin);        // RFC 6455 §5.5: a control frame is never fragmented
  CHECK((f[0].opcode == 1 && f[0].fin && f[0].payload == "hi"));
  CHECK((f[1].opcode == 1 && !f[1].fin && f[1].payload == "ab"));
  CHECK((f[2].opcode == 0 && !f[2].fin && f[2].payload == "cd"));
  CHECK((f[3].opcode == 0 && f[3].fin && f[3].payload == "ef"));
  CHECK((f[4].opcode == 9 && f[4].payload == "p"));
  CHECK(s.send_close(1000, "bye"));
  CHECK_FALSE(s.send_text("after close"));  // RFC 6455 §5.5.1
  CHECK_FALSE(s.send_close(1000, ""));
  const std::vector<Sent> c = sent_frames(s.output());
  REQUIRE(c.size() == 1);
  CHECK(c[0].payload == std::string("\x03\xe8"
                                    "bye"));
}

TEST_CASE("client session: receives messages, answers pings, echoes the close") {
  ClientSession s({{}, TraceLevel::kSummary, "c1", &counting_key});
  // A fragmented text message with a ping between its fragments, then a binary and a close.
  const Bytes in = {0x01, 0x02, 'h',  'e',  0x89, 0x01, 'x',  0x80, 0x01,
                    'y',  0x82, 0x01, 0x07, 0x88, 0x02, 0x03, 0xe9};
  std::vector<Event> ev;
  for (uint8_t b : in)
    s.receive({&b, 1}, &ev);  // one byte at a time
  REQUIRE(ev.size() == 4);
  CHECK((ev[0].kind == EventKind::kPing && ev[0].data == "x"));
  CHECK((ev[1].kind == EventKind::kText && ev[1].data == "hey"));
  CHECK((ev[2].kind == EventKind::kBinary && ev[2].data == "\x07"));
  CHECK((ev[3].kind == EventKind::kClose && ev[3].code == 1001));
  const std::vector<Sent> out = sent_frames(s.output());
  REQUIRE(out.size() == 2);
  CHECK((out[0].opcode == 0xA && out[0].payload == "x"));  // RFC 6455 §5.5.3
  CHECK((out[1].opcode == 8 && out[1].payload == "\x03\xe9"));
  CHECK(s.close_received());
  CHECK(s.trace().find("c1 <   control frame, between fragments of message 1\n") !=
        std::string::npos);
  CHECK(s.trace().find("c1 <   message 1: last fragment\n") != std::string::npos);
}

TEST_CASE("client session: each rule a server can break fails with its close code") {
  struct {
    const char* name;
    Bytes in;
    ws::WsError error;
    uint16_t code;
  } const rows[] = {
      {"masked frame (§5.1)", {0x81, 0x81, 1, 2, 3, 4, 'a'}, ws::WsError::kMaskedFrame, 1002},
      {"RSV1 without deflate", {0xC1, 0x00}, ws::WsError::kReservedBits, 1002},
      {"reserved opcode", {0x83, 0x00}, ws::WsError::kReservedOpcode, 1002},
      {"continuation first", {0x80, 0x00}, ws::WsError::kUnexpectedContinuation, 1002},
      {"text inside a message", {0x01, 0x00, 0x81, 0x00}, ws::WsError::kExpectedContinuation, 1002},
      {"invalid UTF-8", {0x81, 0x01, 0xff}, ws::WsError::kInvalidUtf8, 1007},
      {"text ends inside a character", {0x81, 0x01, 0xc3}, ws::WsError::kInvalidUtf8, 1007},
      {"bad close code", {0x88, 0x02, 0x03, 0xed}, ws::WsError::kBadCloseCode, 1002},
      {"close of one byte", {0x88, 0x01, 0x03}, ws::WsError::kBadClosePayload, 1002},
      {"close reason not UTF-8", {0x88, 0x03, 0x03, 0xe8, 0xff}, ws::WsError::kInvalidUtf8, 1007},
      {"fragmented ping (§5.5)", {0x09, 0x00}, ws::WsError::kControlFragmented, 1002},
      {"ping over 125 bytes (§5.5)", {0x89, 0x7E, 0x00, 0x7E}, ws::WsError::kControlTooLong, 1002},
      {"64-bit length with its top bit set (§5.2)",
       {0x82, 0x7F, 0x80, 0, 0, 0, 0, 0, 0, 0},
       ws::WsError::kLengthTopBit,
       1002},
      {"frame over the limit",
       {0x82, 0x7F, 0, 0, 0, 1, 0, 0, 0, 0},
       ws::WsError::kMessageTooBig,
       1009},
  };
  for (const auto& r : rows) {
    CAPTURE(r.name);
    SessionConfig cfg{{}, TraceLevel::kSummary, "c1", &counting_key};
    cfg.max_message = 1 << 20;
    ClientSession s(cfg);
    const std::vector<Event> ev = feed(s, r.in);
    REQUIRE(!ev.empty());
    CHECK(ev.back().kind == EventKind::kFailed);
    CHECK(ev.back().error == r.error);
    CHECK(s.failed());
    const std::vector<Sent> out = sent_frames(s.output());
    REQUIRE(out.size() == 1);
    CHECK(out[0].opcode == 8);
    CHECK(static_cast<uint8_t>(out[0].payload[0]) == r.code >> 8);
    CHECK(static_cast<uint8_t>(out[0].payload[1]) == (r.code & 0xFF));
    CHECK(s.trace().find("protocol error: ") != std::string::npos);
  }
}

TEST_CASE("client session: permessage-deflate both ways") {
  ws::ClientDeflate d;
  d.enabled = true;
  ClientSession s({d, TraceLevel::kSummary, "c1", &counting_key});
  const std::string text(200, 'z');
  REQUIRE(s.send_text(text));
  std::vector<Sent> out = sent_frames(s.output());
  REQUIRE(out.size() == 1);
  CHECK(out[0].rsv1);
  CHECK(out[0].payload.size() < text.size());
  // The server's answer is the same compressed bytes (no context taken over yet either way).
  Bytes frame(2 + out[0].payload.size());
  frame[0] = 0xC1;
  frame[1] = static_cast<uint8_t>(out[0].payload.size());
  std::copy(out[0].payload.begin(), out[0].payload.end(), frame.begin() + 2);
  const std::vector<Event> ev = feed(s, frame);
  REQUIRE(ev.size() == 1);
  CHECK(ev[0].data == text);
  CHECK(s.trace().find("c1 <   permessage-deflate: " + std::to_string(out[0].payload.size()) +
                       " bytes compressed, 200 inflated\n") != std::string::npos);
  const std::vector<Event> bad = feed(s, {0xC1, 0x02, 0xff, 0xff});
  REQUIRE(!bad.empty());
  CHECK(bad.back().error == ws::WsError::kBadCompressedData);
}

TEST_CASE(
    "client session: a ping during our unanswered close is still answered (RFC 6455 §5.5.2)") {
  ClientSession s({{}, TraceLevel::kOff, "c1", &counting_key});
  REQUIRE(s.send_close(1000, ""));
  sent_frames(s.output());
  // The server has not answered our Close yet: its ping still gets a pong (a control frame,
  // not data, so §5.5.1 does not forbid it), and an unsolicited pong gets nothing.
  std::vector<Event> ev = feed(s, {0x89, 0x02, 'p', '1', 0x8A, 0x01, 'u'});
  REQUIRE(ev.size() == 2);
  CHECK((ev[0].kind == EventKind::kPing && ev[1].kind == EventKind::kPong));
  std::vector<Sent> out = sent_frames(s.output());
  REQUIRE(out.size() == 1);
  CHECK((out[0].opcode == 0xA && out[0].payload == "p1"));
  // Its Close ends the duty: nothing after it is read, nothing answered.
  ev = feed(s, {0x88, 0x02, 0x03, 0xe8, 0x89, 0x00});
  REQUIRE(ev.size() == 1);
  CHECK(ev[0].kind == EventKind::kClose);
  CHECK(s.output().empty());
}

TEST_CASE("client session: after failing, nothing more from the server is processed") {
  // RFC 6455 §7.1.7: once the connection is failed, not even the peer's answering Close is read.
  ClientSession s({{}, TraceLevel::kOff, "c1", &counting_key});
  REQUIRE(feed(s, {0x83, 0x00}).back().kind == EventKind::kFailed);
  sent_frames(s.output());
  CHECK(feed(s, {0x81, 0x01, 'a', 0x89, 0x00, 0x88, 0x02, 0x03, 0xea}).empty());
  CHECK(s.output().empty());
}

TEST_CASE("client session: RFC 7692 §6: RSV1 on a control frame or a continuation fails") {
  ws::ClientDeflate d;
  d.enabled = true;
  for (const Bytes& in : {Bytes{0xC9, 0x00}, Bytes{0x01, 0x00, 0xC0, 0x00}}) {
    ClientSession s({d, TraceLevel::kOff, "c1", &counting_key});
    const std::vector<Event> ev = feed(s, in);
    REQUIRE(!ev.empty());
    CHECK(ev.back().kind == EventKind::kFailed);
    const std::vector<Sent> out = sent_frames(s.output());
    REQUIRE(out.size() == 1);
    CHECK((out[0].opcode == 8 && out[0].payload.substr(0, 2) == "\x03\xea"));
  }
}

namespace {

// A run whose close handshake completed: both Close frames, the server's code `peer`.
Outcome closed_with(uint16_t peer) {
  Outcome o;
  o.close_sent = o.close_received = true;
  o.we_started_close = true;
  o.sent_code = 1000;
  o.peer_code = peer;
  return o;
}

}  // namespace

TEST_CASE("client verdict: each way a run ends, its exit status and what is said") {
  struct Row {
    const char* name;
    Outcome o;
    int status;
    std::vector<std::string> lines;
  };
  Outcome echoed = closed_with(4000);
  echoed.sent_code = 4000;
  Outcome theirs = closed_with(4000);
  theirs.we_started_close = false;  // the server started it with 4000: not an echo of ours
  theirs.sent_code = 4000;
  Outcome no_close;
  no_close.close_sent = true;
  Outcome proto = closed_with(1002);
  proto.protocol_failed = true;
  Outcome missing = closed_with(1000);
  missing.expect_missing = true;
  missing.next_expect = "x";
  Outcome timed_out = closed_with(1001);
  timed_out.failures = {"--expect: no message \"x\" within 1 s"};
  timed_out.expect_missing = true;
  Outcome timed_out_silent = no_close;
  timed_out_silent.failures = {"--expect: no message \"x\" within 1 s",
                               "no Close frame from the server within the timeout"};
  Outcome cut_after = closed_with(1000);
  cut_after.tls_truncated = true;
  Outcome cut_after_bad = closed_with(1011);
  cut_after_bad.tls_truncated = true;
  Outcome cut_before = no_close;
  cut_before.tls_truncated = true;
  Outcome ctrl_c = closed_with(1001);
  ctrl_c.interrupts = 1;
  Outcome ctrl_c_silent = no_close;
  ctrl_c_silent.interrupts = 1;
  ctrl_c_silent.failures = {"no Close frame from the server within the timeout"};
  Outcome ctrl_c_twice = no_close;
  ctrl_c_twice.interrupts = 2;
  const std::string trunc_warning =
      "warning: TLS stream ended without close_notify (truncation, RFC 8446 §6.1) after the "
      "close handshake";
  const std::vector<Row> rows = {
      {"1000", closed_with(1000), 0, {}},
      {"1001", closed_with(1001), 0, {}},
      {"no code (1005)", closed_with(1005), 0, {}},
      {"the echo of our 4000", echoed, 0, {}},
      {"the server's own 4000", theirs, 1, {"the server closed with 4000 (private use)"}},
      {"TCP gone, no Close",
       no_close,
       1,
       {"the connection closed without a Close frame (1006, abnormal closure)"}},
      {"a protocol error: the event said it", proto, 1, {}},
      {"closed before an --expect", missing, 1, {"--expect: the connection closed before \"x\""}},
      {"--expect timed out, the server answered", timed_out, 1, timed_out.failures},
      {"--expect timed out, no answer", timed_out_silent, 1, timed_out_silent.failures},
      {"TLS cut after the close handshake", cut_after, 0, {trunc_warning}},
      {"TLS cut after a bad close",
       cut_after_bad,
       1,
       {trunc_warning, "the server closed with 1011 (internal error)"}},
      {"TLS cut before the close handshake",
       cut_before,
       1,
       {"TLS stream ended without close_notify (truncation) before the close handshake "
        "completed (RFC 8446 §6.1)"}},
      {"Ctrl-C, answered", ctrl_c, 130, {"interrupted: the close handshake completed"}},
      {"Ctrl-C, unanswered", ctrl_c_silent, 130, ctrl_c_silent.failures},
      {"Ctrl-C twice",
       ctrl_c_twice,
       130,
       {"interrupted again: quitting without waiting for the server"}},
  };
  for (const Row& r : rows) {
    CAPTURE(r.name);
    const Verdict v = judge(r.o);
    CHECK(v.status == r.status);
    CHECK(v.lines == r.lines);
  }
}

TEST_CASE("client interrupt: SIGINT becomes a readable fd; an ignored SIGINT stays ignored") {
  sigset_t intr;
  sigemptyset(&intr);
  sigaddset(&intr, SIGINT);
  {
    Interrupt i;
    REQUIRE(i.fd() >= 0);
    CHECK(i.take() == 0);
    REQUIRE(::raise(SIGINT) == 0);  // blocked: pending, not the default action
    CHECK(i.take() == 1);
    CHECK(i.take() == 0);
  }
  REQUIRE(::sigprocmask(SIG_UNBLOCK, &intr, nullptr) == 0);  // nothing pending: safe
  struct sigaction ignore {
  }, old{};
  ignore.sa_handler = SIG_IGN;
  REQUIRE(::sigaction(SIGINT, &ignore, &old) == 0);
  {
    Interrupt i;
    CHECK(i.fd() == -1);
    CHECK(i.take() == 0);
    sigset_t now;
    REQUIRE(::sigprocmask(SIG_BLOCK, nullptr, &now) == 0);
    CHECK_FALSE(sigismember(&now, SIGINT));  // not blocked: "ignore" keeps acting
  }
  REQUIRE(::sigaction(SIGINT, &old, nullptr) == 0);
}
