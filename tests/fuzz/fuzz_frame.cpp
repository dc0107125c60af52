// Fuzz target: the frame codec (ws/frame.h): decode_header, FrameSequence, close payloads.
//
// Input: byte 0 picks the DecodeRules (server or client side, RSV1 allowed), the rest is a byte
// stream read as frames, one after another. Invariants per frame:
// - decode_header reads only the first 14 bytes: decoding a copy of just those agrees.
// - its verdict is decided by one prefix length d: every shorter prefix is kIncomplete and
//   every longer one gives the same result; error_offset < d; 14 bytes always decide.
// - an accepted header obeys §5.2 (a defined opcode, RSV bits, masking side, minimal length
//   form, top bit clear, control frames short and final) and encode_header
//   writes back exactly its bytes.
// - FrameSequence agrees with a reference of the §5.4 / RFC 7692 §6.1 rules, and a refused
//   frame leaves its state unchanged.
// - a close payload parses as §5.5.1 says and re-encodes to itself; every unmask kernel
//   agrees with the byte-at-a-time reference, at any phase.
// - ws::Reader (frames kept whole) and ws::StreamReader (streaming mode, reads cut where
//   the input's last byte says) give the same events for the stream: status, error and its
//   offset in the stream, each data frame's payload, close code and reason; the streaming
//   one consumes what each data event hands out and leaves fewer than kMaxUnconsumed bytes.
#include <algorithm>
#include <cstring>
#include <string>
#include <vector>

#include "tests/fuzz/fuzz_check.h"
#include "ws/close_code.h"
#include "ws/frame.h"
#include "ws/mask.h"
#include "ws/reader.h"
#include "ws/reader_impl.h"

using namespace wsedge::ws;
using wsedge::fuzz::Copy;
using wsedge::fuzz::Window;

namespace {

DecodeRules pick_rules(uint8_t b) {
  DecodeRules r;
  r.expect_masked = (b & 1) == 0;
  r.allow_rsv1 = (b & 2) != 0;
  return r;
}

bool same(const DecodeResult& a, const DecodeResult& b) {
  if (a.status != b.status) return false;
  if (a.status == DecodeStatus::kError)
    return a.error == b.error && a.error_offset == b.error_offset;
  if (a.status == DecodeStatus::kIncomplete) return true;
  const FrameHeader &x = a.header, &y = b.header;
  return x.fin == y.fin && x.rsv1 == y.rsv1 && x.opcode == y.opcode && x.masked == y.masked &&
         x.mask_key == y.mask_key && x.payload_length == y.payload_length &&
         x.header_length == y.header_length;
}

// Returns the decoded header of the frame at the front of `in`, checking the decision point.
DecodeResult decode_checked(std::span<const uint8_t> in, const DecodeRules& rules) {
  static Window guard(kMaxHeaderSize);
  const DecodeResult whole = decode_header(in, rules);
  const size_t w = std::min(in.size(), kMaxHeaderSize);
  FUZZ_CHECK(same(decode_header(guard.place(in.first(w)), rules), whole));
  if (whole.status == DecodeStatus::kIncomplete) FUZZ_CHECK(in.size() < kMaxHeaderSize);
  bool decided = false;
  for (size_t k = 0; k <= w; ++k) {
    const DecodeResult r = decode_header(guard.place(in.first(k)), rules);
    if (!decided && r.status != DecodeStatus::kIncomplete) {
      decided = true;
      if (r.status == DecodeStatus::kError) FUZZ_CHECK(r.error_offset < k);
      if (r.status == DecodeStatus::kDone) FUZZ_CHECK(r.header.header_length == k);
    }
    FUZZ_CHECK(decided ? same(r, whole) : r.status == DecodeStatus::kIncomplete);
  }
  return whole;
}

void check_header(std::span<const uint8_t> in, const FrameHeader& h, const DecodeRules& rules) {
  const auto op = static_cast<uint8_t>(h.opcode);
  FUZZ_CHECK(op <= 2 || (op >= 8 && op <= 10));
  FUZZ_CHECK((in[0] & 0x30) == 0 && (!h.rsv1 || rules.allow_rsv1));
  FUZZ_CHECK(h.masked == rules.expect_masked);  // §5.1
  FUZZ_CHECK(h.payload_length < (1ull << 63));
  if (is_control(h.opcode)) FUZZ_CHECK(h.fin && h.payload_length <= kMaxControlPayload);
  const size_t length_bytes = h.payload_length < 126 ? 0 : h.payload_length <= 0xFFFF ? 2 : 8;
  FUZZ_CHECK(h.header_length == 2 + length_bytes + (h.masked ? 4 : 0));  // minimal form
  uint8_t out[kMaxHeaderSize];
  const size_t n = encode_header(out, h.opcode, h.payload_length, h.fin, h.rsv1,
                                 h.masked ? &h.mask_key : nullptr);
  FUZZ_CHECK(n == h.header_length && std::memcmp(out, in.data(), n) == 0);
}

// RFC 6455 §5.4 and RFC 7692 §6.1, restated: the message state the sequence must keep.
struct ReferenceSequence {
  bool open = false;
  WsError on_frame(const FrameHeader& h) {
    if (is_control(h.opcode)) return h.rsv1 ? WsError::kCompressedControl : WsError::kNone;
    if (h.opcode == Opcode::kContinuation) {
      if (!open) return WsError::kUnexpectedContinuation;
      if (h.rsv1) return WsError::kCompressedContinuation;
    } else if (open) {
      return WsError::kExpectedContinuation;
    }
    open = !h.fin;
    return WsError::kNone;
  }
};

void check_close_payload(std::span<const uint8_t> payload) {
  const ClosePayloadResult c = parse_close_payload(payload);
  if (payload.empty()) {
    FUZZ_CHECK(c.error == WsError::kNone && c.code == close_code::kNoStatus);
    return;
  }
  if (payload.size() == 1) {
    FUZZ_CHECK(c.error == WsError::kBadClosePayload);
    return;
  }
  const auto code = static_cast<uint16_t>(payload[0] << 8 | payload[1]);
  const bool valid = (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) ||
                     (code >= 3000 && code <= 4999);  // §7.4.1, §7.4.2, IANA
  FUZZ_CHECK(valid == (c.error == WsError::kNone));
  if (!valid) return;
  FUZZ_CHECK(c.code == code && c.reason.data() == payload.data() + 2);
  FUZZ_CHECK(c.reason.size() == payload.size() - 2);
  uint8_t out[kMaxControlPayload];
  const std::string_view reason = wsedge::fuzz::as_text(c.reason);
  const size_t n = encode_close_payload(out, code, reason);
  FUZZ_CHECK(n == payload.size() && std::memcmp(out, payload.data(), n) == 0);
}

void check_unmask(std::span<const uint8_t> payload, const MaskKey& key, size_t phase) {
  std::vector<uint8_t> want(payload.begin(), payload.end());
  mask_kernel(MaskKernel::kByte)(want.data(), want.size(), key, phase);
  for (int k = 1; k < kMaskKernelCount; ++k) {
    const auto kernel = static_cast<MaskKernel>(k);
    if (!mask_kernel_supported(kernel)) continue;
    static Window guard;
    const std::span<uint8_t> got = guard.place(payload);
    mask_kernel(kernel)(got.data(), got.size(), key, phase);
    FUZZ_CHECK(std::equal(want.begin(), want.end(), got.begin()));
  }
}

// One event as both modes must report it; a data frame's payload joined over its chunks.
struct Seen {
  ReadStatus status;
  WsError error;
  size_t error_at;  // in the stream
  uint16_t close_code;
  std::string payload;
  bool operator==(const Seen&) const = default;
};

bool is_data_event(ReadStatus s) {
  return s == ReadStatus::kIncomplete || s == ReadStatus::kFragment || s == ReadStatus::kMessage;
}

// Feeds `stream` in reads of `chunk` bytes, keeping what was not consumed in front of the
// next read, as a transport does; stops at the first error. Reader and StreamReader share
// the event shape, so one loop drives either.
template <class R>
std::vector<Seen> read_stream(std::span<const uint8_t> stream, const ReadRules& rules, size_t chunk,
                              bool streaming) {
  R reader;
  std::vector<uint8_t> held;
  size_t base = 0;  // stream offset of held[0]
  std::string frame;
  std::vector<Seen> seen;
  for (size_t off = 0; off < stream.size(); off += chunk) {
    const size_t end = std::min(stream.size(), off + chunk);
    held.insert(held.end(), stream.begin() + static_cast<long>(off),
                stream.begin() + static_cast<long>(end));
    size_t at = 0;
    for (;;) {
      const ReadEvent e = reader.next(std::span<uint8_t>(held).subspan(at), rules);
      if (streaming && is_data_event(e.status))
        frame.append(reinterpret_cast<const char*>(e.fresh.data()), e.fresh.size());
      if (e.status == ReadStatus::kIncomplete) {
        FUZZ_CHECK(streaming || e.consumed == 0);
        if (e.consumed == 0) break;
        FUZZ_CHECK(e.consumed >= e.fresh.size() && e.need > 0);
        at += e.consumed;
        if (at == held.size()) break;
        continue;
      }
      Seen s{e.status, e.error, 0, 0, {}};
      if (e.status == ReadStatus::kError) {
        s.error_at = base + at + e.error_offset;
        seen.push_back(s);
        return seen;
      }
      if (e.status == ReadStatus::kClose) s.close_code = e.close_code;
      if (streaming && is_data_event(e.status)) {
        s.payload = frame;
      } else {
        s.payload.assign(reinterpret_cast<const char*>(e.payload.data()), e.payload.size());
      }
      frame.clear();
      seen.push_back(s);
      at += e.consumed;
      if (at == held.size()) break;
    }
    held.erase(held.begin(), held.begin() + static_cast<long>(at));
    base += at;
    if (streaming) FUZZ_CHECK(held.size() < kMaxUnconsumed);
  }
  return seen;
}

// The two modes agree (the rules byte also picks a message limit, so kMessageTooBig is hit).
void check_modes(std::span<const uint8_t> stream, uint8_t rule_byte, uint8_t cut_byte) {
  ReadRules rules;
  rules.expect_masked = (rule_byte & 1) == 0;
  rules.allow_rsv1 = (rule_byte & 2) != 0;
  if (rule_byte & 4) rules.max_message_size = rule_byte;
  const size_t whole_chunk = cut_byte & 0x80 ? stream.size() : 1 + (cut_byte & 7);
  const size_t stream_chunk = 1 + (cut_byte & 0x7F);
  const std::vector<Seen> whole = read_stream<Reader>(stream, rules, whole_chunk, false);
  const std::vector<Seen> streamed = read_stream<StreamReader>(stream, rules, stream_chunk, true);
  FUZZ_CHECK(whole == streamed);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const DecodeRules rules = pick_rules(data[0]);
  const std::span<const uint8_t> stream(data + 1, size - 1);
  if (!stream.empty()) check_modes(stream, data[0], data[size - 1]);
  FrameSequence seq;
  ReferenceSequence ref;
  size_t pos = 0;
  for (int frames = 0; pos < stream.size() && frames < 64; ++frames) {
    const std::span<const uint8_t> in = stream.subspan(pos);
    // The prefix and kernel checks cost ~20 decodes a frame: the first frames get them, the
    // rest (the sequence rules' business) only the header checks.
    const bool deep = frames < 4;
    const DecodeResult r = deep ? decode_checked(in, rules) : decode_header(in, rules);
    if (r.status != DecodeStatus::kDone) break;  // the connection fails, or waits for bytes
    const FrameHeader& h = r.header;
    check_header(in, h, rules);
    const FrameSequence before = seq;
    const WsError e = seq.on_frame(h);
    FUZZ_CHECK(e == ref.on_frame(h));
    if (e != WsError::kNone) {
      FUZZ_CHECK(seq.in_message() == before.in_message());
      FUZZ_CHECK(seq.message_opcode() == before.message_opcode());
      break;
    }
    FUZZ_CHECK(seq.in_message() == ref.open);
    if (is_data(h.opcode) && h.opcode != Opcode::kContinuation) {
      FUZZ_CHECK(seq.message_opcode() == h.opcode && seq.message_compressed() == h.rsv1);
    }
    const size_t have = in.size() - h.header_length;
    if (h.payload_length > have) break;
    Copy payload(in.subspan(h.header_length, h.payload_length));
    if (deep) check_unmask(payload.view(), h.mask_key, pos);
    if (h.masked) unmask(payload.span().data(), payload.span().size(), h.mask_key);
    if (h.opcode == Opcode::kClose) check_close_payload(payload.view());
    pos += h.header_length + h.payload_length;
  }
  return 0;
}
