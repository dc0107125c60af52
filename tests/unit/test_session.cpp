// ws::Session over an in-memory transport: RFC 6455 §5–§7 behaviour, byte for byte.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "http/parser.h"
#include "tests/support/fake_transport.h"
#include "ws/frame.h"
#include "ws/session.h"

using namespace wsedge;
using namespace wsedge::ws;

namespace {

const MaskKey kKey{0x37, 0xfa, 0x21, 0x3d};

std::span<const uint8_t> as_bytes(const std::string& s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

std::string frame(Opcode op, const std::string& payload, bool fin = true, bool rsv1 = false) {
  Buffer b;
  encode_frame(b, op, as_bytes(payload), fin, rsv1, &kKey);
  return {reinterpret_cast<const char*>(b.data()), b.readable()};
}

std::string close_frame(uint16_t code, const std::string& reason = "") {
  std::string body;
  body.push_back(static_cast<char>(code >> 8));
  body.push_back(static_cast<char>(code & 0xff));
  return frame(Opcode::kClose, body + reason);
}

struct Out {
  Opcode op;
  bool fin;
  std::string payload;
};

// Decodes what the server sent; every server frame must be unmasked (RFC 6455 §5.1).
std::vector<Out> server_frames(const std::vector<uint8_t>& sent) {
  std::vector<Out> frames;
  DecodeRules rules;
  rules.expect_masked = false;
  size_t pos = 0;
  while (pos < sent.size()) {
    DecodeResult r = decode_header(std::span<const uint8_t>(sent).subspan(pos), rules);
    REQUIRE(r.status == DecodeStatus::kDone);
    size_t start = pos + r.header.header_length;
    REQUIRE(start + r.header.payload_length <= sent.size());
    frames.push_back(
        {r.header.opcode, r.header.fin,
         std::string(sent.begin() + static_cast<long>(start),
                     sent.begin() + static_cast<long>(start + r.header.payload_length))});
    pos = start + r.header.payload_length;
  }
  return frames;
}

uint16_t close_code_of(const Out& f) {
  REQUIRE(f.op == Opcode::kClose);
  REQUIRE(f.payload.size() >= 2);
  return static_cast<uint16_t>((static_cast<uint8_t>(f.payload[0]) << 8) |
                               static_cast<uint8_t>(f.payload[1]));
}

struct Recorder final : Handler {
  bool echo = true;
  std::vector<std::string> messages;
  std::vector<MessageType> types;
  std::vector<const uint8_t*> payload_addresses;
  int closes = 0;
  uint16_t close_code = 0;
  std::string close_reason;

  void on_message(Session& s, std::span<const uint8_t> p, MessageType type) override {
    messages.emplace_back(p.begin(), p.end());
    types.push_back(type);
    payload_addresses.push_back(p.data());
    if (echo) s.send(p, type);
  }
  void on_close(Session&, uint16_t code, std::string_view reason) override {
    ++closes;
    close_code = code;
    close_reason = reason;
  }
};

// A session opened on a fake transport; with `deflate`, permessage-deflate was agreed with
// the default parameters and a policy that compresses every message (min_size 0).
struct Fixture {
  Recorder app;
  SessionOptions options;
  DeflateServerPolicy policy{.min_size = 0};
  DeflateConfig config{.enabled = true};
  test::FakeTransport t;
  Session* session = nullptr;

  explicit Fixture(SessionOptions o = {}, bool deflate = false) : options(o) {
    const http::Request request{};
    auto s = std::make_unique<Session>(
        t, app, options,
        Opening{
            .request = request, .deflate = deflate ? &config : nullptr, .deflate_policy = &policy});
    session = s.get();
    t.protocol = std::move(s);
  }
  std::vector<Out> out() const { return server_frames(t.sent); }
};

}  // namespace

TEST_CASE("echo of text and binary frames of boundary lengths, whole and byte by byte") {
  for (size_t len : {0, 1, 125, 126, 127, 65535, 65536, 70000}) {
    for (size_t chunk : {0, 1, 7, 4096}) {
      if (chunk == 1 && len > 4096) continue;  // byte-by-byte on big frames: slow, no new path
      for (Opcode op : {Opcode::kText, Opcode::kBinary}) {
        CAPTURE(len);
        CAPTURE(chunk);
        Fixture f;
        std::string payload(len, 'a');
        for (size_t i = 0; i < len; ++i)
          payload[i] = static_cast<char>('a' + i % 26);
        f.t.feed(frame(op, payload), chunk);
        auto out = f.out();
        REQUIRE(out.size() == 1);
        CHECK(out[0].op == op);
        CHECK(out[0].fin);
        CHECK(out[0].payload == payload);
        CHECK_FALSE(f.t.closed);
      }
    }
  }
}

TEST_CASE("a whole frame in the buffer reaches the application without a copy") {
  Fixture f;
  std::string wire = frame(Opcode::kBinary, "zero-copy");
  f.t.feed(wire);
  REQUIRE(f.app.payload_addresses.size() == 1);
  // The payload span points into the transport's input buffer, right after the header.
  CHECK(f.t.in_input(f.app.payload_addresses[0]));
  CHECK(f.app.messages[0] == "zero-copy");
}

TEST_CASE("RFC 6455 §5.5.2: ping is answered with a pong carrying the same payload") {
  for (std::string payload : {std::string(), std::string("hello"), std::string(125, 'p')}) {
    Fixture f;
    f.t.feed(frame(Opcode::kPing, payload));
    auto out = f.out();
    REQUIRE(out.size() == 1);
    CHECK(out[0].op == Opcode::kPong);
    CHECK(out[0].payload == payload);
  }
}

TEST_CASE("RFC 6455 §5.5.3: an unsolicited pong is ignored") {
  Fixture f;
  f.t.feed(frame(Opcode::kPong, "unasked") + frame(Opcode::kText, "still open"));
  auto out = f.out();
  REQUIRE(out.size() == 1);
  CHECK(out[0].payload == "still open");
}

TEST_CASE("RFC 6455 §5.4: fragments are assembled; control frames may sit between them") {
  for (size_t chunk : {0, 1, 3}) {
    CAPTURE(chunk);
    Fixture f;
    std::string wire = frame(Opcode::kText, "frag", false) + frame(Opcode::kPing, "p") +
                       frame(Opcode::kContinuation, "men", false) +
                       frame(Opcode::kContinuation, "", false) +
                       frame(Opcode::kContinuation, "ted", true);
    f.t.feed(wire, chunk);
    auto out = f.out();
    REQUIRE(out.size() == 2);
    CHECK(out[0].op == Opcode::kPong);  // the pong goes out before the echo
    CHECK(out[1].op == Opcode::kText);
    CHECK(out[1].payload == "fragmented");
    REQUIRE(f.app.types.size() == 1);
    CHECK(f.app.types[0] == MessageType::kText);
  }
}

struct Violation {
  const char* name;
  std::string wire;
  uint16_t code;
};

TEST_CASE("protocol violations fail the connection with the right close code") {
  std::string unmasked = "\x81\x02hi";
  std::vector<Violation> cases = {
      {"RFC 6455 §5.1: unmasked client frame", unmasked, 1002},
      {"RFC 6455 §5.2: RSV2 without extension", "\xa1\x80" + std::string(4, '\0'), 1002},
      {"RFC 6455 §5.2: RSV1 without extension", frame(Opcode::kText, "x", true, true), 1002},
      {"RFC 6455 §5.2: reserved opcode 3", "\x83\x80" + std::string(4, '\0'), 1002},
      {"RFC 6455 §5.2: reserved opcode 0xB", "\x8b\x80" + std::string(4, '\0'), 1002},
      {"RFC 6455 §5.5: control frame over 125 bytes", frame(Opcode::kPing, std::string(126, 'x')),
       1002},
      {"RFC 6455 §5.5: fragmented ping", frame(Opcode::kPing, "x", false), 1002},
      {"RFC 6455 §5.4: continuation without a message", frame(Opcode::kContinuation, "x"), 1002},
      {"RFC 6455 §5.4: new message inside a fragmented one",
       frame(Opcode::kText, "a", false) + frame(Opcode::kText, "b"), 1002},
      {"RFC 6455 §8.1: invalid UTF-8 text", frame(Opcode::kText, "\xc0\xaf"), 1007},
      {"RFC 6455 §8.1: text ends inside a sequence", frame(Opcode::kText, "ok\xe2\x82"), 1007},
      {"RFC 6455 §5.5.1: close payload of one byte", frame(Opcode::kClose, "x"), 1002},
      {"RFC 6455 §7.4: close code 1005 on the wire", close_frame(1005), 1002},
      {"RFC 6455 §7.4: close code 999", close_frame(999), 1002},
      {"RFC 6455 §7.4: close code 5000", close_frame(5000), 1002},
      {"RFC 6455 §5.5.1: close reason not UTF-8", close_frame(1000, "\xff"), 1007},
  };
  for (const Violation& v : cases) {
    for (size_t chunk : {0, 1}) {
      CAPTURE(v.name);
      CAPTURE(chunk);
      Fixture f;
      f.t.feed(v.wire + frame(Opcode::kText, "after"), chunk);
      auto out = f.out();
      REQUIRE(out.size() >= 1);
      CHECK(close_code_of(out.back()) == v.code);
      CHECK(f.t.closed);
      CHECK_FALSE(f.t.peer_finished);  // failing: the peer may still be sending
      CHECK(f.app.messages.empty());   // nothing after the violation is delivered
      CHECK(f.app.closes == 1);
      CHECK(f.app.close_code == v.code);
    }
  }
}

TEST_CASE("RFC 6455 §8.1: invalid UTF-8 fails fast, before the frame is complete") {
  Fixture f;
  std::string wire =
      frame(Opcode::kText, "valid start \xed\xa0\x80 then more" + std::string(1000, 'x'));
  f.t.feed(wire.substr(0, 30));  // header + the surrogate, not the rest
  auto out = f.out();
  REQUIRE(out.size() == 1);
  CHECK(close_code_of(out[0]) == 1007);
  CHECK(f.t.closed);
}

TEST_CASE("invalid UTF-8 split across fragments fails in the fragment that completes it") {
  Fixture f;
  f.t.feed(frame(Opcode::kText, "ab\xf0\x90", false));
  CHECK(f.t.sent.empty());                                // a valid prefix so far
  f.t.feed(frame(Opcode::kContinuation, "\x28", false));  // 0x28 is no continuation byte
  auto out = f.out();
  REQUIRE(out.size() == 1);
  CHECK(close_code_of(out[0]) == 1007);
}

TEST_CASE("a message over max_message_size closes with 1009 before it is buffered") {
  SessionOptions o;
  o.max_message_size = 1000;
  SUBCASE("one frame: refused from its header alone") {
    Fixture f(o);
    std::string wire = frame(Opcode::kBinary, std::string(1001, 'x'));
    f.t.feed(wire.substr(0, 8));  // header only
    auto out = f.out();
    REQUIRE(out.size() == 1);
    CHECK(close_code_of(out[0]) == 1009);
  }
  SUBCASE("fragments whose sum exceeds the limit") {
    Fixture f(o);
    f.t.feed(frame(Opcode::kBinary, std::string(600, 'x'), false));
    CHECK(f.t.sent.empty());
    f.t.feed(frame(Opcode::kContinuation, std::string(401, 'x'), true));
    auto out = f.out();
    REQUIRE(out.size() == 1);
    CHECK(close_code_of(out[0]) == 1009);
  }
  SUBCASE("exactly the limit is fine") {
    Fixture f(o);
    f.t.feed(frame(Opcode::kBinary, std::string(600, 'x'), false) +
             frame(Opcode::kContinuation, std::string(400, 'x'), true));
    auto out = f.out();
    REQUIRE(out.size() == 1);
    CHECK(out[0].payload.size() == 1000);
  }
}

TEST_CASE("RFC 6455 §5.5.1: a close is answered with the same code, then TCP is closed") {
  for (uint16_t code : {1000, 1001, 1003, 1007, 1014, 3000, 4999}) {
    for (size_t chunk : {0, 1}) {
      CAPTURE(code);
      CAPTURE(chunk);
      Fixture f;
      f.t.feed(close_frame(code, "bye"), chunk);
      auto out = f.out();
      REQUIRE(out.size() == 1);
      CHECK(close_code_of(out[0]) == code);
      // §7.1.1: nothing followed the peer's close, so TCP closes without lingering.
      CHECK(f.t.peer_finished);
      CHECK(f.app.close_code == code);
      CHECK(f.app.close_reason == "bye");
    }
  }
}

TEST_CASE("an empty close is answered with an empty close (1005 is never sent)") {
  Fixture f;
  f.t.feed(frame(Opcode::kClose, ""));
  auto out = f.out();
  REQUIRE(out.size() == 1);
  CHECK(out[0].op == Opcode::kClose);
  CHECK(out[0].payload.empty());
  CHECK(f.app.close_code == 1005);
}

TEST_CASE("data after the peer's close is discarded") {
  Fixture f;
  f.t.feed(close_frame(1000) + frame(Opcode::kText, "late"));
  CHECK(f.app.messages.empty());
  CHECK(f.out().size() == 1);
  // A peer that goes on sending after its close gets the lingering close, so what it
  // still sends cannot turn our close into a reset.
  CHECK(f.t.closed);
  CHECK_FALSE(f.t.peer_finished);
}

TEST_CASE("server-initiated close waits for the peer's close, then closes TCP") {
  Fixture f;
  f.session->close(4000, "done");
  auto out = f.out();
  REQUIRE(out.size() == 1);
  CHECK(close_code_of(out[0]) == 4000);
  CHECK(out[0].payload.substr(2) == "done");
  CHECK(f.t.timer_ms == f.options.close_grace_ms);
  CHECK_FALSE(f.t.closed);
  // RFC 6455 §5.5.1: no data after our close frame, and incoming data is ignored.
  CHECK_FALSE(f.session->send_text("nope"));
  f.t.feed(frame(Opcode::kText, "ignored"));
  CHECK(f.app.messages.empty());
  f.t.feed(close_frame(4000));
  CHECK(f.t.peer_finished);
  CHECK(f.out().size() == 1);  // the reply is not answered again
  CHECK(f.app.close_code == 4000);
  CHECK(f.app.closes == 1);
}

TEST_CASE("close grace: a peer that never answers our close is aborted") {
  Fixture f;
  f.session->close();
  f.t.fire_timer();
  CHECK(f.t.aborted);
  CHECK(f.app.close_code == 1006);
}

TEST_CASE("TCP gone without a close frame reports 1006 once") {
  Fixture f;
  f.session->on_disconnect(f.t);
  f.session->on_disconnect(f.t);
  CHECK(f.app.closes == 1);
  CHECK(f.app.close_code == 1006);
}

TEST_CASE("keepalive: pings every interval; silence past the timeout closes") {
  SessionOptions o;
  o.ping_interval_ms = 1000;
  Fixture f(o);
  CHECK(f.t.timer_ms == 1000);
  f.t.now += 1000;
  f.t.fire_timer();
  auto out = f.out();
  REQUIRE(out.size() == 1);
  CHECK(out[0].op == Opcode::kPing);
  CHECK(f.t.timer_ms == 1000);
  // A pong counts as life.
  f.t.feed(frame(Opcode::kPong, ""));
  f.t.now += 1500;
  f.t.fire_timer();
  CHECK_FALSE(f.t.closed);
  // Then 2 intervals of silence (the default idle timeout): closed with 1001.
  f.t.now += 2000;
  f.t.fire_timer();
  CHECK(f.t.closed);
  CHECK(close_code_of(f.out().back()) == 1001);
}

TEST_CASE("keepalive: an idle timeout shorter than the ping interval is not late") {
  // The default ping interval is 30 s; --idle-timeout 1 must still cut at 1 s.
  SessionOptions o;
  o.ping_interval_ms = 30'000;
  o.idle_timeout_ms = 1000;
  Fixture f(o);
  CHECK(f.t.timer_ms == 1000);  // the idle deadline comes first
  f.t.now += 400;
  f.t.feed(frame(Opcode::kText, "alive"));
  f.t.now += 600;  // 1 s after open, 0.6 s after the last message: not idle
  f.t.fire_timer();
  CHECK_FALSE(f.t.closed);
  CHECK(f.t.timer_ms == 400);  // re-armed for 1 s after the last message
  for (const auto& fr : f.out())
    CHECK(fr.op != Opcode::kPing);  // no ping before its interval
  f.t.now += 400;
  f.t.fire_timer();
  CHECK(f.t.closed);
  CHECK(close_code_of(f.out().back()) == 1001);
}

TEST_CASE("keepalive: only a silent peer is pinged, once per silence") {
  SessionOptions o;
  o.ping_interval_ms = 1000;
  o.idle_timeout_ms = 1500;
  Fixture f(o);
  auto pings = [&] {
    int n = 0;
    for (const auto& fr : f.out())
      n += fr.op == Opcode::kPing;
    return n;
  };
  CHECK(f.t.timer_ms == 1000);
  f.t.now += 1000;
  f.t.fire_timer();  // silent for the interval: ping #1
  CHECK(pings() == 1);
  CHECK(f.t.timer_ms == 500);  // then only the idle deadline (1.5 s) is pending
  f.t.now += 200;
  f.t.feed(frame(Opcode::kPong, ""));  // t = 1.2 s: alive
  f.t.now += 300;                      // t = 1.5 s: the old deadline, now stale
  f.t.fire_timer();
  CHECK_FALSE(f.t.closed);
  CHECK(pings() == 1);         // 0.3 s of silence is not an interval
  CHECK(f.t.timer_ms == 700);  // ping #2 is due one interval after the pong: 2.2 s
  // Traffic before then moves the ping on: an active peer is never pinged.
  for (int i = 0; i < 5; ++i) {
    f.t.now += 600;
    f.t.feed(frame(Opcode::kText, "busy"));
    if (f.t.now - 1200 >= 700) f.t.fire_timer();
  }
  CHECK(pings() == 1);
  CHECK_FALSE(f.t.closed);
  // Silence again: one ping after an interval, the close after the idle timeout.
  f.t.now += 1000;
  f.t.fire_timer();
  CHECK(pings() == 2);
  f.t.now += 500;
  f.t.fire_timer();
  CHECK(f.t.closed);
  CHECK(close_code_of(f.out().back()) == 1001);
}

TEST_CASE("message counters add up traffic in both directions") {
  Recorder app;
  SessionOptions options;
  test::FakeTransport t;
  MessageCounters counters;
  options.counters = &counters;
  const http::Request request{};
  t.protocol = std::make_unique<Session>(t, app, options, Opening{.request = request});
  t.feed(frame(Opcode::kText, "abc") + frame(Opcode::kBinary, "de", false) +
         frame(Opcode::kContinuation, "f"));
  CHECK(counters.messages_in == 2);
  CHECK(counters.bytes_in == 6);
  CHECK(counters.messages_out == 2);  // the echoes
  CHECK(counters.bytes_out == 6);
}

TEST_CASE("abort drops the connection without a close frame and reports 1006") {
  Fixture f;
  f.session->abort();
  CHECK(f.t.aborted);
  CHECK(f.t.sent.empty());
  CHECK(f.app.close_code == 1006);
  CHECK_FALSE(f.session->send_text("late"));
}

// ---- permessage-deflate (RFC 7692) ------------------------------------------------------

namespace {

struct DeflateFixture : Fixture {
  MessageDeflater client{DeflaterOptions{}};  // the peer's compressor
  explicit DeflateFixture(SessionOptions o = {}) : Fixture(o, true) {}
  std::string compress(const std::string& text) {
    Buffer b;
    REQUIRE(client.compress(as_bytes(text), b).ok());
    return {reinterpret_cast<const char*>(b.data()), b.readable()};
  }
};

std::string inflate_all(const std::string& compressed) {
  MessageInflater inflater;
  Buffer out;
  auto bytes_in = std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(compressed.data()),
                                           compressed.size());
  REQUIRE(inflater.feed(bytes_in, out, 1 << 30) == InflateStatus::kOk);
  REQUIRE(inflater.finish(out, 1 << 30) == InflateStatus::kOk);
  return {reinterpret_cast<const char*>(out.data()), out.readable()};
}

}  // namespace

TEST_CASE("RFC 7692: a compressed message is inflated, and the echo is compressed (RSV1)") {
  for (size_t chunk : {0, 1, 5}) {
    CAPTURE(chunk);
    DeflateFixture f;
    std::string text(3000, 'w');
    f.t.feed(frame(Opcode::kText, f.compress(text), true, true), chunk);
    REQUIRE(f.app.messages.size() == 1);
    CHECK(f.app.messages[0] == text);
    // The echo: one frame with RSV1 whose payload inflates back to the text.
    DecodeRules rules;
    rules.expect_masked = false;
    rules.allow_rsv1 = true;
    DecodeResult r = decode_header(f.t.sent, rules);
    REQUIRE(r.status == DecodeStatus::kDone);
    CHECK(r.header.rsv1);
    std::string payload(f.t.sent.begin() + r.header.header_length, f.t.sent.end());
    CHECK(payload.size() < text.size());
    CHECK(inflate_all(payload) == text);
  }
}

TEST_CASE(
    "RFC 7692 §7.1.1.1: without context takeover our compressor is reset per message "
    "and freed once quiet") {
  for (bool takeover : {true, false}) {
    CAPTURE(takeover);
    Recorder app;
    SessionOptions options;
    test::FakeTransport t;
    DeflateServerPolicy policy;
    policy.min_size = 0;
    DeflateConfig config;
    config.enabled = true;
    config.server_no_context_takeover = !takeover;
    config.client_no_context_takeover = !takeover;
    const http::Request request{};
    auto s = std::make_unique<Session>(
        t, app, options,
        Opening{.request = request, .deflate = &config, .deflate_policy = &policy});
    Session* session = s.get();
    t.protocol = std::move(s);
    CHECK(session->compression_memory() == 0);             // nothing until the first message
    t.feed(frame(Opcode::kText, std::string(2000, 'z')));  // an uncompressed message in
    REQUIRE(app.messages.size() == 1);                     // and a compressed echo out
    CHECK(session->compression_memory() > 100'000);        // kept (reset, not freed) for the next
    if (takeover) {
      CHECK(t.timer_ms == -1);  // the window is the peer's history: never freed
      continue;
    }
    CHECK(t.timer_ms == Session::kDeflateIdleMs);  // armed once, for the quiet period
    t.now += 600;
    t.timer_ms = -1;
    t.feed(frame(Opcode::kText, std::string(2000, 'y')));  // another message meanwhile
    REQUIRE(app.messages.size() == 2);
    CHECK(t.timer_ms == -1);  // not re-armed per message
    CHECK(session->compression_memory() > 100'000);
    t.now += 600;
    t.fire_timer();  // 1200 ms after the first, 600 after the last: not yet
    CHECK(session->compression_memory() > 100'000);
    CHECK(t.timer_ms == 400);  // re-armed for 1000 ms after the last
    t.now += 400;
    t.fire_timer();
    CHECK(session->compression_memory() == 0);  // freed: the idle connection holds no stream
    CHECK(t.timer_ms == -1);
    t.feed(frame(Opcode::kText, std::string(2000, 'x')));  // and it comes back on demand
    REQUIRE(app.messages.size() == 3);
    CHECK(session->compression_memory() > 100'000);
    CHECK(t.timer_ms == Session::kDeflateIdleMs);
  }
}

TEST_CASE("RFC 7692 §6.1: a compressed message may be fragmented; RSV1 only on the first") {
  DeflateFixture f;
  std::string text = "fragmented and compressed, twice over: fragmented and compressed";
  std::string z = f.compress(text);
  std::string wire = frame(Opcode::kText, z.substr(0, 5), false, true) +
                     frame(Opcode::kPing, "mid") +
                     frame(Opcode::kContinuation, z.substr(5, 3), false) +
                     frame(Opcode::kContinuation, z.substr(8), true);
  f.t.feed(wire, 2);
  REQUIRE(f.app.messages.size() == 1);
  CHECK(f.app.messages[0] == text);
}

TEST_CASE("RFC 7692: uncompressed messages still work once deflate is agreed") {
  DeflateFixture f;
  f.t.feed(frame(Opcode::kBinary, "plain"));
  REQUIRE(f.app.messages.size() == 1);
  CHECK(f.app.messages[0] == "plain");
}

TEST_CASE("RFC 7692 violations and bad compressed data close with the right code") {
  SUBCASE("RSV1 on a continuation frame: 1002") {
    DeflateFixture f;
    f.t.feed(frame(Opcode::kText, "a", false) + frame(Opcode::kContinuation, "b", true, true));
    CHECK(close_code_of(f.out().back()) == 1002);
  }
  SUBCASE("RSV1 on a control frame: 1002") {
    DeflateFixture f;
    f.t.feed(frame(Opcode::kPing, "x", true, true));
    CHECK(close_code_of(f.out().back()) == 1002);
  }
  SUBCASE("data that does not inflate: 1007") {
    DeflateFixture f;
    f.t.feed(frame(Opcode::kBinary, "\xff\xff\xff\xff garbage", true, true));
    CHECK(close_code_of(f.out().back()) == 1007);
  }
  SUBCASE("inflated text that is not UTF-8: 1007") {
    DeflateFixture f;
    f.t.feed(frame(Opcode::kText, f.compress("bad \xc0\xaf here"), true, true));
    CHECK(close_code_of(f.out().back()) == 1007);
  }
  SUBCASE("a zip bomb over max_message_size: 1009, without inflating it all") {
    SessionOptions o;
    o.max_message_size = 64 * 1024;
    DeflateFixture f(o);
    std::string bomb = f.compress(std::string(8 << 20, '\0'));
    CHECK(bomb.size() < 64 * 1024);  // small on the wire, huge inflated
    f.t.feed(frame(Opcode::kBinary, bomb, true, true));
    CHECK(close_code_of(f.out().back()) == 1009);
  }
}

TEST_CASE("max_frame_size refuses one frame from its header, whatever the message limit") {
  SessionOptions o;
  o.max_message_size = 1 << 20;
  o.max_frame_size = 1000;
  SUBCASE("a header announcing 1001 bytes: 1009 before any payload") {
    Fixture f(o);
    f.t.feed(frame(Opcode::kBinary, std::string(1001, 'x')).substr(0, 8));
    auto out = f.out();
    REQUIRE(out.size() == 1);
    CHECK(close_code_of(out[0]) == 1009);
  }
  SUBCASE("a continuation frame over it, inside a message: 1009") {
    Fixture f(o);
    f.t.feed(frame(Opcode::kBinary, std::string(1000, 'x'), false));
    f.t.feed(frame(Opcode::kContinuation, std::string(1001, 'x')).substr(0, 8));
    auto out = f.out();
    REQUIRE(out.size() == 1);
    CHECK(close_code_of(out[0]) == 1009);
  }
  SUBCASE("kMaxFrameSize bounds a frame even when no limit is set that low") {
    SessionOptions big;
    big.max_message_size = 16ull << 30;
    auto header = [](uint64_t length) {  // binary, FIN, masked, 64-bit length, key 0
      std::string h = {'\x82', '\xff'};
      for (int shift = 56; shift >= 0; shift -= 8)
        h.push_back(static_cast<char>((length >> shift) & 0xff));
      return h + std::string(4, '\0');
    };
    Fixture over(big);
    over.t.feed(header(kMaxFrameSize + 1));
    REQUIRE(over.out().size() == 1);
    CHECK(close_code_of(over.out()[0]) == 1009);
    Fixture at(big);
    at.t.feed(header(kMaxFrameSize) + "some of it");
    CHECK(at.out().empty());  // accepted: waiting for the rest
    CHECK_FALSE(at.t.closed);
  }
  SUBCASE("a 3000-byte message in frames of exactly the limit is fine") {
    Fixture f(o);
    f.t.feed(frame(Opcode::kBinary, std::string(1000, 'x'), false) +
             frame(Opcode::kContinuation, std::string(1000, 'y'), false) +
             frame(Opcode::kContinuation, std::string(1000, 'z')));
    auto out = f.out();
    REQUIRE(out.size() == 1);
    CHECK(out[0].payload.size() == 3000);
  }
}

TEST_CASE("max_inflated_size bounds compressed messages only; the smaller limit applies") {
  SessionOptions o;
  o.max_message_size = 4 << 20;
  o.max_inflated_size = 64 * 1024;
  SUBCASE("a compressed message inflating past it: 1009") {
    DeflateFixture f(o);
    f.t.feed(frame(Opcode::kBinary, f.compress(std::string(64 * 1024 + 1, 'a')), true, true));
    CHECK(close_code_of(f.out().back()) == 1009);
    CHECK(f.app.messages.empty());
  }
  SUBCASE("a compressed message of exactly the limit is delivered") {
    DeflateFixture f(o);
    f.t.feed(frame(Opcode::kBinary, f.compress(std::string(64 * 1024, 'a')), true, true));
    REQUIRE(f.app.messages.size() == 1);
    CHECK(f.app.messages[0].size() == 64 * 1024);
  }
  SUBCASE("an uncompressed message of 1 MiB passes: the inflated limit is not its limit") {
    DeflateFixture f(o);
    f.t.feed(frame(Opcode::kBinary, std::string(1 << 20, 'u')));
    REQUIRE(f.app.messages.size() == 1);
    CHECK(f.app.messages[0].size() == (1u << 20));
  }
  SUBCASE("max_message_size below it wins") {
    SessionOptions small = o;
    small.max_message_size = 1000;
    DeflateFixture f(small);
    f.t.feed(frame(Opcode::kBinary, f.compress(std::string(1001, 'a')), true, true));
    CHECK(close_code_of(f.out().back()) == 1009);
  }
}

TEST_CASE("a session frees its message memory the moment it fails, not when TCP closes") {
  SUBCASE("fragments of an uncompressed message, then a protocol error") {
    Fixture f;
    f.t.feed(frame(Opcode::kBinary, std::string(256 * 1024, 'x'), false));
    CHECK(f.session->message_memory() >= 256 * 1024);
    f.t.feed(frame(Opcode::kText, "not a continuation"));  // RFC 6455 §5.4: 1002
    CHECK(close_code_of(f.out().back()) == 1002);
    CHECK(f.session->message_memory() == 0);
  }
  SUBCASE("a compressed fragment inflated to 1 MiB, then a bomb past the limit") {
    SessionOptions o;
    o.max_inflated_size = 2 << 20;
    DeflateFixture f(o);
    std::string all = f.compress(std::string(8 << 20, '\0'));
    f.t.feed(frame(Opcode::kBinary, all.substr(0, all.size() / 8), false, true));
    CHECK(f.session->message_memory() >= 512 * 1024);
    f.t.feed(frame(Opcode::kContinuation, all.substr(all.size() / 8)));
    CHECK(close_code_of(f.out().back()) == 1009);
    CHECK(f.session->message_memory() == 0);
  }
  SUBCASE("the peer's close frame mid-message") {
    Fixture f;
    f.t.feed(frame(Opcode::kBinary, std::string(64 * 1024, 'x'), false));
    CHECK(f.session->message_memory() >= 64 * 1024);
    f.t.feed(close_frame(1000));
    CHECK(f.session->message_memory() == 0);
  }
}

TEST_CASE("message_timeout: a started frame or message must end in time, or close 1008") {
  SessionOptions o;
  o.message_timeout_ms = 1000;
  SUBCASE("a fragment never continued") {
    Fixture f(o);
    f.t.feed(frame(Opcode::kText, "started", false));
    CHECK(f.t.timer_ms == 1000);
    f.t.now += 1000;
    f.t.fire_timer();
    auto out = f.out();
    REQUIRE(out.size() == 1);
    CHECK(close_code_of(out[0]) == 1008);
    CHECK(f.t.closed);
    CHECK(f.session->message_memory() == 0);
  }
  SUBCASE("a frame trickled in: bytes arriving do not move the deadline") {
    o.idle_timeout_ms = 5000;
    Fixture f(o);
    std::string wire = frame(Opcode::kBinary, std::string(100, 'b'));
    for (int i = 0; i < 10; ++i) {
      f.t.feed(wire.substr(static_cast<size_t>(i), 1));
      f.t.now += 100;
    }
    f.t.fire_timer();  // at 1000 ms after the first byte, long before the idle deadline
    auto out = f.out();
    REQUIRE(out.size() == 1);
    CHECK(close_code_of(out[0]) == 1008);
  }
  SUBCASE("a message finished in time: the early timer finds nothing due and keeps it open") {
    Fixture f(o);
    f.t.feed(frame(Opcode::kText, "part-", false));
    f.t.now += 900;
    f.t.feed(frame(Opcode::kPing, "between"));  // control frames inside do not finish it
    f.t.feed(frame(Opcode::kContinuation, "end"));
    REQUIRE(f.app.messages.size() == 1);
    CHECK(f.app.messages[0] == "part-end");
    f.t.now += 200;
    f.t.fire_timer();
    CHECK_FALSE(f.t.closed);
    f.t.feed(frame(Opcode::kText, "next", false));  // a new message gets a new clock
    CHECK(f.t.timer_ms == 1000);
  }
  SUBCASE("0 turns it off") {
    o.message_timeout_ms = 0;
    Fixture f(o);
    f.t.feed(frame(Opcode::kText, "started", false));
    CHECK(f.t.timer_ms == -1);
  }
}

TEST_CASE("memory_budget: what unfinished messages hold is charged, and released when they end") {
  MemoryBudget budget(64 << 20);
  SessionOptions o;
  o.memory_budget = &budget;
  SUBCASE("the fragments of a message") {
    Fixture f(o);
    f.t.feed(frame(Opcode::kBinary, std::string(100'000, 'x'), false));
    CHECK(budget.total() >= 100'000);
    CHECK(budget.total() == f.session->message_memory());
    f.t.feed(frame(Opcode::kContinuation, "end"));
    REQUIRE(f.app.messages.size() == 1);
    CHECK(budget.total() == 0);
    CHECK(budget.holders() == 0);
    CHECK(budget.peak() >= 100'000);
  }
  SUBCASE("the unread part of a partial frame, kept by the transport") {
    Fixture f(o);
    std::string wire = frame(Opcode::kBinary, std::string(200'000, 'y'));
    f.t.feed(wire.substr(0, 150'000));
    CHECK(budget.total() == 150'000);
    f.t.feed(wire.substr(150'000));
    REQUIRE(f.app.messages.size() == 1);
    CHECK(budget.total() == 0);
  }
  SUBCASE("the inflated output of a compressed fragment") {
    DeflateFixture f(o);
    std::string all = f.compress(std::string(4 << 20, '\0'));
    f.t.feed(frame(Opcode::kBinary, all.substr(0, all.size() / 2), false, true));
    CHECK(budget.total() >= 1 << 20);
    CHECK(budget.total() == f.session->message_memory());
    f.t.feed(frame(Opcode::kContinuation, all.substr(all.size() / 2)));
    REQUIRE(f.app.messages.size() == 1);
    CHECK(f.app.messages[0].size() == 4u << 20);
    CHECK(budget.total() == 0);
  }
  SUBCASE("a session that ends mid-message gives its charge back") {
    {
      Fixture f(o);
      f.t.feed(frame(Opcode::kBinary, std::string(50'000, 'x'), false));
      CHECK(budget.total() > 0);
      f.session->on_disconnect(f.t);
      CHECK(budget.total() == 0);
      f.t.feed(frame(Opcode::kBinary, std::string(50'000, 'x'), false));
    }
    {
      Fixture f(o);  // destroyed while holding
      f.t.feed(frame(Opcode::kBinary, std::string(50'000, 'x'), false));
      CHECK(budget.total() > 0);
    }
    CHECK(budget.total() == 0);
    CHECK(budget.holders() == 0);
  }
  SUBCASE("whole messages, the common case, never touch it") {
    Fixture f(o);
    for (int i = 0; i < 10; ++i)
      f.t.feed(frame(Opcode::kText, std::string(1000, 'm')));
    CHECK(f.app.messages.size() == 10);
    CHECK(budget.peak() == 0);
  }
}

TEST_CASE("memory_budget: past its limit the largest holders are closed 1013, whoever sent last") {
  MemoryBudget budget(800 * 1024);
  MessageCounters counters;
  SessionOptions o;
  o.memory_budget = &budget;
  o.counters = &counters;
  Fixture small(o), big(o), third(o);
  small.t.feed(frame(Opcode::kBinary, std::string(40'000, 's'), false));
  big.t.feed(frame(Opcode::kBinary, std::string(300'000, 'b'), false));
  REQUIRE_FALSE(budget.over());
  REQUIRE(big.session->message_memory() > small.session->message_memory());

  SUBCASE("another session is the largest: it is closed, the sender goes on") {
    third.t.feed(frame(Opcode::kBinary, std::string(200'000, 't'), false));
    REQUIRE(third.session->message_memory() < big.session->message_memory() + 300'000);
    auto out = big.out();
    REQUIRE(out.size() == 1);
    CHECK(close_code_of(out[0]) == 1013);  // RFC 6455 §11.7: Try Again Later
    CHECK(big.t.closed);
    CHECK(big.app.close_code == 1013);
    CHECK(big.session->message_memory() == 0);
    CHECK_FALSE(small.t.closed);
    CHECK_FALSE(third.t.closed);
    CHECK(budget.total() == small.session->message_memory() + third.session->message_memory());
    CHECK_FALSE(budget.over());
    CHECK(counters.closed_over_budget == 1);
    // The survivors' messages still complete.
    third.t.feed(frame(Opcode::kContinuation, "!"));
    REQUIRE(third.app.messages.size() == 1);
    CHECK(third.app.messages[0] == std::string(200'000, 't') + "!");
  }
  SUBCASE("the sender itself is the largest: it is the one closed") {
    third.t.feed(frame(Opcode::kBinary, std::string(100'000, 't'), false));
    REQUIRE_FALSE(budget.over());
    third.t.feed(frame(Opcode::kContinuation, std::string(600'000, 't'), false));
    auto out = third.out();
    REQUIRE(out.size() == 1);
    CHECK(close_code_of(out[0]) == 1013);
    CHECK(third.t.closed);
    CHECK_FALSE(big.t.closed);
    CHECK_FALSE(small.t.closed);
    CHECK(counters.closed_over_budget == 1);
    CHECK(budget.total() == small.session->message_memory() + big.session->message_memory());
  }
  SUBCASE("only as many as it takes: one frame larger than the whole budget closes its sender") {
    std::string wire = frame(Opcode::kBinary, std::string(900'000, 'h'));
    third.t.feed(wire.substr(0, 850'000));  // the unread part alone is over the limit
    CHECK(third.t.closed);
    CHECK(close_code_of(third.out().back()) == 1013);
    CHECK_FALSE(big.t.closed);
    CHECK_FALSE(small.t.closed);
    CHECK(counters.closed_over_budget == 1);
  }
}

TEST_CASE("memory_return: a large message buffer freed is told; small messages never are") {
  int arms = 0;
  MemoryReturn::Options ro;
  ro.trim_heap = false;
  MemoryReturn giver([](void* ctx, int64_t) { ++*static_cast<int*>(ctx); }, &arms, ro);
  SessionOptions o;
  o.memory_return = &giver;
  SUBCASE("small whole and fragmented messages") {
    Fixture f(o);
    for (int i = 0; i < 100; ++i) {
      f.t.feed(frame(Opcode::kText, "a small message"));
      f.t.feed(frame(Opcode::kText, "frag-", false) + frame(Opcode::kContinuation, "mented"));
    }
    CHECK(f.app.messages.size() == 200);
    CHECK_FALSE(giver.armed());
    CHECK(arms == 0);
  }
  SUBCASE("a 300 KB fragmented message: its buffer is freed when it ends, and told") {
    Fixture f(o);
    f.t.feed(frame(Opcode::kBinary, std::string(300'000, 'x'), false));
    CHECK_FALSE(giver.armed());  // still in use
    f.t.feed(frame(Opcode::kContinuation, "!"));
    REQUIRE(f.app.messages.size() == 1);
    CHECK(f.session->message_memory() == 0);
    CHECK(giver.armed());
    CHECK(arms == 1);
  }
  SUBCASE("a large message cut off by a failure") {
    Fixture f(o);
    f.t.feed(frame(Opcode::kBinary, std::string(300'000, 'x'), false));
    f.t.feed(frame(Opcode::kText, "not a continuation"));
    CHECK(f.t.closed);
    CHECK(giver.armed());
  }
  SUBCASE("a large compressed echo leaves the scratch empty for memory_return to release") {
    DeflateFixture f(o);
    std::string noise(200'000, '\0');
    uint32_t x = 1;
    for (char& c : noise) {
      x = x * 1103515245u + 12345u;
      c = static_cast<char>(x >> 24);
    }
    f.t.feed(frame(Opcode::kBinary, noise));
    REQUIRE(f.app.messages.size() == 1);
    CHECK(giver.armed());
    Buffer& scratch = Session::compression_scratch();
    CHECK(scratch.empty());
    CHECK(scratch.capacity() >= 200'000);
    giver.watch(scratch);
    CHECK(giver.run(f.t.now + 10'000) >= 200'000);
    CHECK(scratch.capacity() == 0);
  }
}
