// Fuzz target: ws::Session (ws/session.h) fed arbitrary client byte streams over an
// in-memory transport (tests/support/fake_transport.h, sized for the whole stream so no read
// moves the input), with and without permessage-deflate agreed.
//
// Input (libFuzzer's FuzzedDataProvider): the last bytes pick the session (deflate and its
// parameters, the message limit, whether the application closes first) and up to eight chunk
// sizes; the front is the byte stream. An echo handler sends every message back.
// The stream is fed twice: all at once, and cut into the chosen chunk sizes (cycled).
// Invariants:
// - both feedings write the same bytes and report the same messages and close: chunking
//   never changes the outcome.
// - what the server writes is a well-formed server frame sequence (RFC 6455 §5.1: unmasked;
//   §5.2: minimal lengths, no RSV bits but RSV1 on compressed data; §5.5: control frames
//   final and short); one data frame per message, carrying it (inflated when RSV1, with the
//   client's view of the agreed window); at most one close frame, the last frame, with a
//   code valid on the wire and a UTF-8 reason, equal to the code the handler was told
//   (unless the application closed first).
// - delivered messages are within the limit, text messages are valid UTF-8; on_close runs
//   exactly once, and no message arrives after it.
#include <fuzzer/FuzzedDataProvider.h>

#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "core/buffer.h"
#include "http/parser.h"
#include "tests/fuzz/fuzz_check.h"
#include "tests/support/fake_transport.h"
#include "ws/close_code.h"
#include "ws/frame.h"
#include "ws/session.h"
#include "ws/utf8.h"

using namespace wsedge;
using namespace wsedge::ws;

namespace {

struct Setup {
  bool deflate = false;
  DeflateConfig config;
  DeflateServerPolicy policy;
  SessionOptions options;
  bool app_closes = false;  // the handler starts the close handshake after the first message
};

struct Event {
  MessageType type;
  std::vector<uint8_t> payload;
  bool operator==(const Event&) const = default;
};

struct Echo final : Handler {
  bool app_closes = false;
  std::vector<Event> messages;
  int closes = 0;
  uint16_t close_code = 0;

  void on_message(Session& s, std::span<const uint8_t> p, MessageType type) override {
    FUZZ_CHECK(closes == 0);  // nothing after on_close
    messages.push_back({type, {p.begin(), p.end()}});
    FUZZ_CHECK(s.send(p, type));  // delivered only while open, so the echo is accepted
    if (app_closes) s.close(close_code::kNormal, "bye");
  }
  void on_close(Session& /*s*/, uint16_t code, std::string_view /*reason*/) override {
    ++closes;
    close_code = code;
  }
};

struct Run {
  std::vector<uint8_t> sent;
  std::vector<Event> messages;
  uint16_t close_code = 0;
};

// The feeding loop is not instrumented for coverage (see fake_transport.h); the Session is.
FAKE_TRANSPORT_NO_COVERAGE Run run(const Setup& setup, std::span<const uint8_t> wire,
                                   std::span<const size_t> chunks) {
  Echo app;
  app.app_closes = setup.app_closes;
  test::FakeTransport t;
  t.reserve(wire.size());
  const http::Request request{};
  t.protocol = std::make_unique<Session>(t, app, setup.options,
                                         Opening{.request = request,
                                                 .deflate = setup.deflate ? &setup.config : nullptr,
                                                 .deflate_policy = &setup.policy});
  size_t pos = 0;
  for (size_t k = 0; pos < wire.size(); ++k) {
    const size_t n =
        chunks.empty() ? wire.size() : std::min(chunks[k % chunks.size()], wire.size() - pos);
    t.feed(wire.subspan(pos, n));
    pos += n;
  }
  if (t.timer_ms >= 0 && !t.closed && !t.aborted) t.fire_timer();  // e.g. the close grace ends
  t.protocol->on_disconnect(t);                                    // the connection goes away
  FUZZ_CHECK(app.closes == 1);
  return {std::move(t.sent), std::move(app.messages), app.close_code};
}

// The server's frames, checked one by one; returns the close code sent (0: none).
uint16_t check_output(const Setup& setup, const Run& r) {
  DecodeRules rules;
  rules.expect_masked = false;  // RFC 6455 §5.1: a server never masks
  rules.allow_rsv1 = setup.deflate;
  MessageInflater client(InflaterOptions{setup.config.server_max_window_bits,
                                         setup.config.server_no_context_takeover});
  const std::span<const uint8_t> sent(r.sent);
  size_t pos = 0, data_frames = 0;
  uint16_t close_sent = 0;
  while (pos < sent.size()) {
    const DecodeResult d = decode_header(sent.subspan(pos), rules);
    FUZZ_CHECK(d.status == DecodeStatus::kDone);
    const FrameHeader& h = d.header;
    // After our close frame no data and no second close (RFC 6455 §5.5.1); only the pongs
    // that answer pings while the peer's close is awaited (§5.5.2).
    FUZZ_CHECK(close_sent == 0 || h.opcode == Opcode::kPong);
    FUZZ_CHECK(h.fin && pos + h.header_length + h.payload_length <= sent.size());
    const auto payload = sent.subspan(pos + h.header_length, h.payload_length);
    pos += h.header_length + h.payload_length;
    if (is_control(h.opcode)) {
      FUZZ_CHECK(!h.rsv1 && h.opcode != Opcode::kPing);  // the server sends no pings here
      if (h.opcode != Opcode::kClose) continue;
      const ClosePayloadResult c = parse_close_payload(payload);
      FUZZ_CHECK(c.error == WsError::kNone && is_valid_utf8(c.reason));
      close_sent = c.code;
      continue;
    }
    FUZZ_CHECK(data_frames < r.messages.size());
    const Event& m = r.messages[data_frames++];
    FUZZ_CHECK(h.opcode == (m.type == MessageType::kText ? Opcode::kText : Opcode::kBinary));
    if (!h.rsv1) {
      FUZZ_CHECK(std::vector<uint8_t>(payload.begin(), payload.end()) == m.payload);
      continue;
    }
    Buffer out;
    FUZZ_CHECK(client.feed(payload, out, m.payload.size()) == InflateStatus::kOk);
    FUZZ_CHECK(client.finish(out, m.payload.size()) == InflateStatus::kOk);
    FUZZ_CHECK(std::vector<uint8_t>(out.view().begin(), out.view().end()) == m.payload);
  }
  FUZZ_CHECK(data_frames == r.messages.size());
  return close_sent;
}

void dump(const char* what, const Run& r) {
  std::fprintf(stderr, "%s (%zu bytes, %zu messages, close %u):", what, r.sent.size(),
               r.messages.size(), r.close_code);
  for (size_t i = 0; i < r.sent.size() && i < 256; ++i)
    std::fprintf(stderr, "%s%02x", i % 32 == 0 ? "\n  " : " ", r.sent[i]);
  std::fprintf(stderr, "\n");
}

Setup pick_setup(FuzzedDataProvider& in) {
  Setup s;
  const auto flags = in.ConsumeIntegral<uint16_t>();
  s.deflate = (flags & 1) != 0;
  s.config.enabled = true;
  s.config.server_no_context_takeover = (flags & 2) != 0;
  s.config.client_no_context_takeover = (flags & 4) != 0;
  s.config.server_max_window_bits = 8 + ((flags >> 3) & 7);
  s.config.client_max_window_bits = 8 + ((flags >> 6) & 7);
  s.policy.min_size = (flags & 0x200) != 0 ? 64 : 0;
  // memLevel 1 unless asked: the default's 262 KiB deflater, allocated and cleared twice per
  // input, would cost most of each run; bit 13 keeps that path covered too.
  s.policy.mem_level = (flags & 0x2000) != 0 ? 8 : 1;
  s.app_closes = (flags & 0x400) != 0;
  static constexpr uint64_t kLimits[] = {125, 4096, 65536, 1 << 20};
  s.options.max_message_size = kLimits[(flags >> 11) & 3];
  s.options.close_grace_ms = 100;
  return s;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  FuzzedDataProvider in(data, size);
  const Setup setup = pick_setup(in);
  std::vector<size_t> chunks(in.ConsumeIntegralInRange<size_t>(1, 8));
  for (size_t& c : chunks)
    c = in.ConsumeIntegralInRange<size_t>(1, 300);
  const std::vector<uint8_t> wire = in.ConsumeRemainingBytes<uint8_t>();

  const Run whole = run(setup, wire, {});
  const Run chunked = run(setup, wire, chunks);
  if (whole.sent != chunked.sent) {  // say how they differ before the check aborts
    dump("sent, input whole", whole);
    dump("sent, input in chunks", chunked);
  }
  FUZZ_CHECK(whole.sent == chunked.sent);
  FUZZ_CHECK(whole.messages == chunked.messages);
  FUZZ_CHECK(whole.close_code == chunked.close_code);

  for (const Event& m : chunked.messages) {
    FUZZ_CHECK(m.payload.size() <= setup.options.max_message_size);
    if (m.type == MessageType::kText) FUZZ_CHECK(is_valid_utf8(m.payload));
  }
  const uint16_t close_sent = check_output(setup, chunked);
  if (close_sent != 0 && !setup.app_closes) FUZZ_CHECK(close_sent == chunked.close_code);
  return 0;
}
