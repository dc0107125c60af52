// Fuzz target: permessage-deflate's MessageInflater and MessageDeflater (ws/deflate.h).
//
// Input: byte 0 picks the window (8..15), context takeover and the mode; bytes 1-2 the size
// limit (up to 256 KiB) and a cut point; the rest is data. Two modes:
// - inflate: the data is a compressed message from a hostile peer, fed whole and in two
//   pieces. Never more output than the limit; both feedings give the same status and, when
//   kOk, the same bytes; a failed inflater stays failed; message_size() counts the output.
// - round trip: the data, cut into up to four messages, is compressed by a MessageDeflater and
//   inflated by a MessageInflater with the same options (window 8 included: the deflater
//   compresses it with 9, whose output must fit a 256-byte window) and must come back.
// LeakSanitizer checks that every zlib stream is freed.
#include <cstring>
#include <vector>

#include "core/buffer.h"
#include "tests/fuzz/fuzz_check.h"
#include "ws/deflate.h"

using namespace wsedge;
using namespace wsedge::ws;
using wsedge::fuzz::Copy;

namespace {

struct Outcome {
  InflateStatus status = InflateStatus::kOk;
  std::vector<uint8_t> out;
};

// One message through a fresh inflater, in pieces cut at `cut` (0: whole).
Outcome inflate_message(const InflaterOptions& opts, std::span<const uint8_t> msg, size_t cut,
                        size_t limit) {
  MessageInflater inflater(opts);
  Buffer out;
  Outcome o;
  const std::span<const uint8_t> pieces[2] = {msg.first(cut), msg.subspan(cut)};
  for (std::span<const uint8_t> piece : pieces) {
    Copy copy(piece);
    o.status = inflater.feed(copy.view(), out, limit);
    FUZZ_CHECK(out.readable() <= limit);
    FUZZ_CHECK(o.status != InflateStatus::kOk || inflater.message_size() == out.readable());
    if (o.status != InflateStatus::kOk) break;
  }
  if (o.status == InflateStatus::kOk) {
    o.status = inflater.finish(out, limit);
    FUZZ_CHECK(out.readable() <= limit);
  }
  if (o.status != InflateStatus::kOk) {
    // Spent: every later call repeats the status and adds nothing.
    const size_t had = out.readable();
    FUZZ_CHECK(inflater.feed(msg, out, limit) == o.status);
    FUZZ_CHECK(inflater.finish(out, limit) == o.status);
    FUZZ_CHECK(out.readable() == had);
  }
  o.out.assign(out.view().begin(), out.view().end());
  return o;
}

void hostile_input(const InflaterOptions& opts, std::span<const uint8_t> msg, size_t cut,
                   size_t limit) {
  const Outcome whole = inflate_message(opts, msg, 0, limit);
  const Outcome split = inflate_message(opts, msg, cut, limit);
  FUZZ_CHECK(whole.status == split.status);
  if (whole.status == InflateStatus::kOk) FUZZ_CHECK(whole.out == split.out);
  if (whole.status == InflateStatus::kTooBig) FUZZ_CHECK(whole.out.size() <= limit);
}

void round_trip(const DeflaterOptions& d, const InflaterOptions& i, std::span<const uint8_t> data,
                size_t cut) {
  MessageDeflater deflater(d);
  MessageInflater inflater(i);
  // Up to four messages: [0, cut/2), [cut/2, cut), [cut, (cut+n)/2), the rest.
  const size_t n = data.size();
  const size_t bounds[5] = {0, cut / 2, cut, (cut + n) / 2, n};
  for (int m = 0; m < 4; ++m) {
    const std::span<const uint8_t> message = data.subspan(bounds[m], bounds[m + 1] - bounds[m]);
    Buffer z;
    const Result<size_t> r = deflater.compress(message, z);
    FUZZ_CHECK(r.ok() && r.value() == z.readable());
    Copy wire(z.view());
    Buffer out;
    FUZZ_CHECK(inflater.feed(wire.view(), out, message.size()) == InflateStatus::kOk);
    FUZZ_CHECK(inflater.finish(out, message.size()) == InflateStatus::kOk);
    FUZZ_CHECK(out.readable() == message.size());
    FUZZ_CHECK(message.empty() || std::memcmp(out.data(), message.data(), message.size()) == 0);
    deflater.release();
    inflater.release();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 3) return 0;
  const int bits = 8 + (data[0] & 7);
  const bool no_takeover = (data[0] & 8) != 0;
  const std::span<const uint8_t> payload(data + 3, size - 3);
  const size_t limit = (size_t{data[1]} << 10) | (data[1] & 3);  // 0 .. 255 KiB + 3
  const size_t cut = payload.empty() ? 0 : data[2] * payload.size() / 255;
  if (data[0] & 0x10) {
    DeflaterOptions d{bits, 1 + (data[0] >> 5), (data[1] % 10), no_takeover};
    round_trip(d, InflaterOptions{bits, no_takeover}, payload, cut);
  } else {
    hostile_input(InflaterOptions{bits, no_takeover}, payload, cut, limit);
  }
  return 0;
}
