// ws/reader: the receive side of RFC 6455 §5 as events. Every row is a byte stream read
// whole, byte by byte and in 3-byte reads, the way a transport hands bytes over (what was
// not consumed comes back first): the events must not depend on how the stream was cut,
// and errors must be reported with the offending byte's offset as soon as it arrives. The
// same rows run through the streaming mode (StreamReader), split at every offset too.
#include <doctest/doctest.h>

#include <cstdint>
#include <string>
#include <vector>

#include "core/buffer.h"
#include "ws/frame.h"
#include "ws/reader.h"
#include "ws/reader_impl.h"

using namespace wsedge;      // NOLINT(google-build-using-namespace): test file
using namespace wsedge::ws;  // NOLINT(google-build-using-namespace): test file

namespace {

const MaskKey kKey{0x37, 0xfa, 0x21, 0x3d};

std::string frame(Opcode op, const std::string& payload, bool fin = true, bool rsv1 = false,
                  bool masked = true) {
  Buffer b;
  encode_frame(b, op, {reinterpret_cast<const uint8_t*>(payload.data()), payload.size()}, fin, rsv1,
               masked ? &kKey : nullptr);
  return {reinterpret_cast<const char*>(b.data()), b.readable()};
}

std::string close_frame(uint16_t code, const std::string& reason) {
  std::string p;
  p += static_cast<char>(code >> 8);
  p += static_cast<char>(code & 0xFF);
  return frame(Opcode::kClose, p + reason);
}

struct Event {
  ReadStatus status;
  std::string payload;  // the whole frame's (kClose: the reason)
  bool text = false;
  bool compressed = false;
  WsError error = WsError::kNone;
  size_t error_at = 0;  // kError: offset in the whole stream
  uint16_t close_code = 0;
  bool operator==(const Event&) const = default;
};

std::string describe_event(const Event& e) {
  return std::to_string(static_cast<int>(e.status)) + " '" + e.payload +
         "' text=" + std::to_string(e.text) + " compressed=" + std::to_string(e.compressed) + " " +
         describe(e.error) + " @" + std::to_string(e.error_at) + " code " +
         std::to_string(e.close_code);
}

// Reads `wire` in reads of `chunk` bytes (0: one read), as a transport would: unconsumed
// bytes are kept in front of the next read. Stops at the first error.
std::vector<Event> read_all(const std::string& wire, const ReadRules& rules, size_t chunk) {
  Reader reader;
  std::vector<uint8_t> held;  // unconsumed input, at stream offset `base`
  size_t base = 0;
  std::vector<Event> events;
  if (chunk == 0) chunk = wire.size();
  for (size_t off = 0; off < wire.size(); off += chunk) {
    held.insert(held.end(), wire.begin() + static_cast<long>(off),
                wire.begin() + static_cast<long>(std::min(wire.size(), off + chunk)));
    for (;;) {
      const ReadEvent e = reader.next(held, rules);
      if (e.status == ReadStatus::kIncomplete) break;
      Event got{e.status,
                {reinterpret_cast<const char*>(e.payload.data()), e.payload.size()},
                e.text,
                e.compressed,
                e.error,
                e.status == ReadStatus::kError ? base + e.error_offset : 0,
                e.status == ReadStatus::kClose ? e.close_code : uint16_t{0}};
      events.push_back(got);
      if (e.status == ReadStatus::kError) return events;
      held.erase(held.begin(), held.begin() + static_cast<long>(e.consumed));
      base += e.consumed;
    }
  }
  return events;
}

// The same stream through a StreamReader (streaming mode), read in pieces ending at `cuts`
// (offsets into `wire`): what it does not consume is kept and put in front of the next
// piece, as wsload does. A data frame's chunks are joined, so that each frame gives the event
// it gives whole. Checked on the way: a chunk is consumed with its header, the bytes left
// unconsumed are fewer than kMaxUnconsumed, and in the end nothing is left over.
std::vector<Event> stream_all(const std::string& wire, const ReadRules& rules,
                              const std::vector<size_t>& cuts) {
  StreamReader reader;
  std::vector<uint8_t> held;
  size_t base = 0;  // stream offset of held[0]
  std::string frame_payload;
  std::vector<Event> events;
  std::vector<size_t> ends = cuts;
  ends.push_back(wire.size());
  size_t from = 0;
  for (size_t end : ends) {
    held.insert(held.end(), wire.begin() + static_cast<long>(from),
                wire.begin() + static_cast<long>(end));
    from = end;
    size_t at = 0;  // consumed of held
    for (;;) {
      const ReadEvent e = reader.next(std::span<uint8_t>(held).subspan(at), rules);
      const bool data = e.status == ReadStatus::kIncomplete || e.status == ReadStatus::kFragment ||
                        e.status == ReadStatus::kMessage;
      if (data) {
        // Streaming data events hand out what they consume: payload and fresh are one span.
        CHECK(e.payload.size() == e.fresh.size());
        if (!e.fresh.empty()) CHECK(e.payload.data() == e.fresh.data());
        frame_payload.append(reinterpret_cast<const char*>(e.fresh.data()), e.fresh.size());
      }
      if (e.status == ReadStatus::kIncomplete && e.consumed == 0) {
        CHECK(e.fresh.empty());
        break;
      }
      if (e.status == ReadStatus::kIncomplete) {
        CHECK(reader.in_frame());
        CHECK(e.need > 0);
        at += e.consumed;
        if (at == held.size()) break;
        continue;
      }
      std::string payload(e.payload.begin(), e.payload.end());
      if (e.status == ReadStatus::kFragment || e.status == ReadStatus::kMessage) {
        payload = frame_payload;
        CHECK(e.need == 0);
      }
      frame_payload.clear();
      events.push_back({e.status, payload, e.text, e.compressed, e.error,
                        e.status == ReadStatus::kError ? base + at + e.error_offset : 0,
                        e.status == ReadStatus::kClose ? e.close_code : uint16_t{0}});
      if (e.status == ReadStatus::kError) return events;
      CHECK_FALSE(reader.in_frame());
      at += e.consumed;
      if (at == held.size()) break;
    }
    held.erase(held.begin(), held.begin() + static_cast<long>(at));
    base += at;
    CHECK(held.size() < kMaxUnconsumed);
  }
  CHECK(held.empty());
  return events;
}

struct Row {
  const char* name;
  std::string wire;
  std::vector<Event> events;
  ReadRules rules = {};
};

Event error_at(WsError e, size_t at) {
  return {ReadStatus::kError, "", false, false, e, at};
}

std::vector<Row> rows() {
  const std::string hello = frame(Opcode::kText, "Hello");
  const std::string two = frame(Opcode::kText, "Hel", false) + frame(Opcode::kPing, "p") +
                          frame(Opcode::kContinuation, "lo");
  const std::string bad_utf8 = frame(Opcode::kText, std::string("ab\xC3\x28zz"));
  const std::string cut_utf8 = frame(Opcode::kText, std::string("ab\xE2\x82"));
  const std::string over = frame(Opcode::kBinary, std::string(11, 'x'));
  const std::string two_over = frame(Opcode::kBinary, std::string(6, 'x'), false) +
                               frame(Opcode::kContinuation, std::string(6, 'y'));
  std::string huge = {'\x82', '\xFF', 0, 0, 0, 1, 0, 0, 0, 0};  // 2^32: > kMaxFrameSize
  huge += std::string(reinterpret_cast<const char*>(kKey.data()), 4);
  const std::string compressed = frame(Opcode::kText, std::string("\xFF\xFE"), true, true);
  // A server's frames, unmasked (§5.1), read with a client's rules: a long text message in
  // three fragments with a ping and a pong between them, a close split wherever the reads
  // cut it.
  const ReadRules client{.expect_masked = false};
  std::string long_text(300, 'a');
  for (size_t i = 0; i < long_text.size(); ++i)
    long_text[i] = static_cast<char>('a' + i % 26);
  long_text.replace(100, 2, "\xC3\xA9");  // a code point cut by the fragments' edge below
  const std::string served =
      frame(Opcode::kText, long_text.substr(0, 101), false, false, false) +
      frame(Opcode::kPing, "are you there", true, false, false) +
      frame(Opcode::kContinuation, long_text.substr(101, 150), false, false, false) +
      frame(Opcode::kPong, "", true, false, false) +
      frame(Opcode::kContinuation, long_text.substr(251), true, false, false) +
      frame(Opcode::kClose, std::string("\x03\xe8") + "done", true, false, false);
  return {
      {"§5.2: a whole masked text frame is one message event",
       hello,
       {{ReadStatus::kMessage, "Hello", true}}},
      {"§5.4: fragments with a ping between them",
       two,
       {{ReadStatus::kFragment, "Hel", true},
        {ReadStatus::kPing, "p"},
        {ReadStatus::kMessage, "lo", true}}},
      {"§5.5.3: a pong", frame(Opcode::kPong, "x"), {{ReadStatus::kPong, "x"}}},
      {"§5.2: a binary message is not text",
       frame(Opcode::kBinary, "\xFF"),
       {{ReadStatus::kMessage, "\xFF", false}}},
      {"§5.1: an unmasked client frame fails at its MASK bit",
       frame(Opcode::kText, "x", true, false, false),
       {error_at(WsError::kUnmaskedFrame, 1)}},
      {"§8.1: invalid UTF-8 fails at the offending byte, mid-frame",
       bad_utf8,
       {error_at(WsError::kInvalidUtf8, 6 + 3)}},
      {"§8.1: text cut inside a code point fails at the message's end",
       cut_utf8,
       {error_at(WsError::kInvalidUtf8, cut_utf8.size())}},
      {"§5.4: a continuation with no message open",
       frame(Opcode::kContinuation, "x"),
       {error_at(WsError::kUnexpectedContinuation, 5)}},
      {"§5.4: a new message inside a fragmented one",
       frame(Opcode::kText, "a", false) + frame(Opcode::kText, "b"),
       {{ReadStatus::kFragment, "a", true}, error_at(WsError::kExpectedContinuation, 7 + 5)}},
      {"§10.4: a frame over the frame limit fails from its header",
       over,
       {error_at(WsError::kMessageTooBig, 5)},
       {.max_frame_size = 10}},
      {"§10.4: fragments over the message limit fail at the frame that passes it",
       two_over,
       {{ReadStatus::kFragment, std::string(6, 'x')}, error_at(WsError::kMessageTooBig, 12 + 5)},
       {.max_message_size = 11}},
      {"a frame over 4 GiB - 2 fails whatever the rules",
       huge,
       {error_at(WsError::kMessageTooBig, 13)}},
      {"§5.5.1: a close frame with a code and a reason",
       close_frame(1000, "bye"),
       {{ReadStatus::kClose, "bye", false, false, WsError::kNone, 0, 1000}}},
      {"§5.5.1: a close payload of one byte",
       frame(Opcode::kClose, "\x03"),
       {error_at(WsError::kBadClosePayload, 6)}},
      {"§7.4.1: a close code that must not be on the wire",
       close_frame(1005, ""),
       {error_at(WsError::kBadCloseCode, 6)}},
      {"§5.5.1: a close reason that is not UTF-8",
       close_frame(1000, "\xFF"),
       {error_at(WsError::kInvalidUtf8, 8)}},
      {"RFC 7692 §6: RSV1 without permessage-deflate",
       compressed,
       {error_at(WsError::kReservedBits, 0)}},
      {"RFC 7692: a compressed message's bytes are the caller's to inflate and check",
       compressed,
       {{ReadStatus::kMessage, "\xFF\xFE", true, true}},
       {.allow_rsv1 = true}},
      {"§5.4, §5.5: a server's fragmented text with control frames between, then its close",
       served,
       {{ReadStatus::kFragment, long_text.substr(0, 101), true},
        {ReadStatus::kPing, "are you there"},
        {ReadStatus::kFragment, long_text.substr(101, 150), true},
        {ReadStatus::kPong, ""},
        {ReadStatus::kMessage, long_text.substr(251), true},
        {ReadStatus::kClose, "done", false, false, WsError::kNone, 0, 1000}},
       client},
      {"§5.1: a client fails on a masked frame",
       frame(Opcode::kBinary, "x"),
       {error_at(WsError::kMaskedFrame, 1)},
       client},
      {"§8.1: invalid UTF-8 in a server's second fragment fails at its byte",
       frame(Opcode::kText, "ok", false, false, false) +
           frame(Opcode::kContinuation, std::string("fine\xFF"), true, false, false),
       {{ReadStatus::kFragment, "ok", true}, error_at(WsError::kInvalidUtf8, 4 + 2 + 4)},
       client},
  };
}

void check_events(const std::vector<Event>& got, const std::vector<Event>& want) {
  REQUIRE(got.size() == want.size());
  for (size_t i = 0; i < got.size(); ++i) {
    CAPTURE(describe_event(got[i]));
    CAPTURE(describe_event(want[i]));
    CHECK(got[i] == want[i]);
  }
}

}  // namespace

TEST_CASE("Reader: every row gives the same events whole, byte by byte and in 3-byte reads") {
  for (const Row& row : rows()) {
    const std::string name = row.name;
    CAPTURE(name);
    for (size_t chunk : {size_t{0}, size_t{1}, size_t{3}}) {
      CAPTURE(chunk);
      check_events(read_all(row.wire, row.rules, chunk), row.events);
    }
  }
}

TEST_CASE("StreamReader: every row gives the same events split at every offset, bytewise, by 3") {
  for (const Row& row : rows()) {
    const std::string name = row.name;
    CAPTURE(name);
    std::vector<std::vector<size_t>> splits = {{}};
    for (size_t cut = 1; cut < row.wire.size(); ++cut)
      splits.push_back({cut});
    for (size_t step : {size_t{1}, size_t{3}}) {
      std::vector<size_t> cuts;
      for (size_t cut = step; cut < row.wire.size(); cut += step)
        cuts.push_back(cut);
      splits.push_back(cuts);
    }
    for (const std::vector<size_t>& cuts : splits) {
      CAPTURE(cuts.size());
      CAPTURE(cuts.empty() ? 0 : cuts[0]);
      check_events(stream_all(row.wire, row.rules, cuts), row.events);
    }
  }
}

TEST_CASE("StreamReader: a data frame's header is consumed once, then each chunk as it comes") {
  std::string payload(200, '\0');
  for (size_t i = 0; i < payload.size(); ++i)
    payload[i] = static_cast<char>(i);
  const std::string wire = frame(Opcode::kBinary, payload);  // 2 + 2 + 4 header bytes
  std::vector<uint8_t> buf(wire.begin(), wire.end());
  const std::span<uint8_t> all(buf);
  StreamReader reader;
  ReadEvent e = reader.next(all.first(3), {});  // not a whole header: nothing consumed
  CHECK(e.status == ReadStatus::kIncomplete);
  CHECK(e.consumed == 0);
  e = reader.next(all.first(8), {});  // the header alone: consumed, and the frame's size known
  CHECK(e.status == ReadStatus::kIncomplete);
  CHECK(e.consumed == 8);
  CHECK(e.fresh.empty());
  CHECK(e.need == 200);
  CHECK(reader.in_frame());
  e = reader.next(all.subspan(8, 50), {});  // the key's phase carries over the chunks
  CHECK(e.status == ReadStatus::kIncomplete);
  CHECK(e.consumed == 50);
  CHECK(e.need == 150);
  CHECK(std::string(e.fresh.begin(), e.fresh.end()) == payload.substr(0, 50));
  e = reader.next(all.subspan(58, 51), {});
  CHECK(e.consumed == 51);
  CHECK(std::string(e.fresh.begin(), e.fresh.end()) == payload.substr(50, 51));
  e = reader.next(all.subspan(109), {});
  REQUIRE(e.status == ReadStatus::kMessage);
  CHECK(e.consumed == 99);
  CHECK(e.need == 0);
  CHECK(std::string(e.payload.begin(), e.payload.end()) == payload.substr(101));
  CHECK_FALSE(reader.in_frame());
}

TEST_CASE("StreamReader: only a partial header or control frame is left, under kMaxUnconsumed") {
  // The longest control frame a peer can send: masked, 125 bytes (RFC 6455 §5.5).
  const std::string ping = frame(Opcode::kPing, std::string(kMaxControlPayload, 'p'));
  std::vector<uint8_t> buf(ping.begin(), ping.end());
  for (size_t n = 0; n < buf.size(); ++n) {
    CAPTURE(n);
    StreamReader reader;
    const ReadEvent e = reader.next(std::span<uint8_t>(buf).first(n), {});
    CHECK(e.status == ReadStatus::kIncomplete);
    CHECK(e.consumed == 0);
    CHECK(n < kMaxUnconsumed);
  }
  StreamReader reader;
  CHECK(reader.next(buf, {}).status == ReadStatus::kPing);
  // A data frame's header is consumed as soon as it is whole, whatever its length.
  const std::string big = frame(Opcode::kBinary, std::string(70'000, 'b'));
  std::vector<uint8_t> head(big.begin(), big.begin() + kMaxHeaderSize);
  StreamReader r2;
  const ReadEvent e = r2.next(head, {});
  CHECK(e.consumed == kMaxHeaderSize);
  CHECK(e.need == 70'000);
}

TEST_CASE("StreamReader: a server's unmasked payload is handed out untouched") {
  const std::string wire = frame(Opcode::kBinary, "abcdef", true, false, false);
  std::vector<uint8_t> buf(wire.begin(), wire.end());
  StreamReader reader;
  const ReadEvent e = reader.next(buf, {.expect_masked = false});
  REQUIRE(e.status == ReadStatus::kMessage);
  CHECK(e.payload.data() == buf.data() + 2);
  CHECK(std::string(buf.begin() + 2, buf.end()) == "abcdef");
}

TEST_CASE("Reader: a partial frame is unmasked as it arrives and says how much is missing") {
  std::string payload(200, '\0');
  for (size_t i = 0; i < payload.size(); ++i)
    payload[i] = static_cast<char>(i);
  const std::string wire = frame(Opcode::kBinary, payload);  // 2 + 2 + 4 header bytes
  std::vector<uint8_t> buf(wire.begin(), wire.begin() + 8 + 50);
  Reader reader;
  ReadEvent e = reader.next(buf, {});
  CHECK(e.status == ReadStatus::kIncomplete);
  CHECK(e.consumed == 0);
  CHECK(e.need == 150);
  REQUIRE(e.fresh.size() == 50);
  CHECK(std::string(buf.begin() + 8, buf.end()) == payload.substr(0, 50));  // in place
  CHECK(reader.in_frame());
  // The rest arrives behind the part already unmasked; the key's phase carries over.
  buf.insert(buf.end(), wire.begin() + 8 + 50, wire.end());
  e = reader.next(buf, {});
  REQUIRE(e.status == ReadStatus::kMessage);
  CHECK(e.consumed == wire.size());
  CHECK(e.fresh.size() == 150);
  CHECK(std::string(e.payload.begin(), e.payload.end()) == payload);
  CHECK_FALSE(reader.in_frame());
}

TEST_CASE("Reader: an incomplete header consumes nothing and asks for nothing in particular") {
  const std::string wire = frame(Opcode::kText, "hi");
  for (size_t n = 0; n < 6; ++n) {
    CAPTURE(n);
    std::vector<uint8_t> buf(wire.begin(), wire.begin() + static_cast<long>(n));
    Reader reader;
    const ReadEvent e = reader.next(buf, {});
    CHECK(e.status == ReadStatus::kIncomplete);
    CHECK(e.need == 0);
    CHECK(e.fresh.empty());
  }
}

TEST_CASE("Reader: a compressed text message is checked through feed_text and finish_text") {
  const ReadRules deflate{.allow_rsv1 = true};
  Reader reader;
  std::string wire = frame(Opcode::kText, "xx", false, true);
  std::vector<uint8_t> buf(wire.begin(), wire.end());
  const ReadEvent e = reader.next(buf, deflate);
  REQUIRE(e.status == ReadStatus::kFragment);
  CHECK(e.compressed);
  CHECK(reader.message_text());
  const std::string inflated = "caf\xC3";  // a code point cut by the inflater's output
  CHECK(reader.feed_text({reinterpret_cast<const uint8_t*>(inflated.data()), inflated.size()}));
  CHECK_FALSE(reader.finish_text());  // not yet whole
  const uint8_t rest[] = {0xA9};
  CHECK(reader.feed_text(rest));
  CHECK(reader.finish_text());
  const uint8_t bad[] = {0xFF};
  CHECK_FALSE(reader.feed_text(bad));  // RFC 6455 §8.1: 0xFF is never UTF-8
}

TEST_CASE("Reader: control frames carry no fresh payload and keep the message open") {
  const std::string wire = frame(Opcode::kBinary, "a", false) + frame(Opcode::kPing, "zz");
  std::vector<uint8_t> buf(wire.begin(), wire.end());
  Reader reader;
  ReadEvent e = reader.next(buf, {});
  REQUIRE(e.status == ReadStatus::kFragment);
  CHECK(reader.in_message());
  e = reader.next(std::span<uint8_t>(buf).subspan(e.consumed), {});
  REQUIRE(e.status == ReadStatus::kPing);
  CHECK(e.fresh.empty());
  CHECK(std::string(e.payload.begin(), e.payload.end()) == "zz");
  CHECK(reader.in_message());
}
