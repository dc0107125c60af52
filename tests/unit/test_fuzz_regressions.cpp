// Bugs the libFuzzer targets in tests/fuzz/ found, each as the smallest input that showed it.
// The same inputs are in the targets' corpora (tests/fuzz/corpus/), named regress-*.
#include <doctest/doctest.h>

#include <cstdint>
#include <memory>
#include <random>
#include <vector>

#include "core/buffer.h"
#include "http/parser.h"
#include "tests/unit/fake_transport.h"
#include "ws/deflate.h"
#include "ws/frame.h"
#include "ws/session.h"

using namespace wsedge;
using namespace wsedge::ws;

namespace {

using Bytes = std::vector<uint8_t>;

// 600 random bytes twice: the second copy is one back-reference 600 bytes away, more than a
// 512-byte (9-bit) window holds.
Bytes far_reference_message() {
  std::mt19937 rng(11);
  Bytes msg(1200);
  for (size_t i = 0; i < 600; ++i)
    msg[i] = msg[i + 600] = static_cast<uint8_t>(rng());
  return msg;
}

Bytes compress15(const Bytes& msg) {
  MessageDeflater d(DeflaterOptions{15, 8, 6, false});
  Buffer z;
  REQUIRE(d.compress(msg, z).ok());
  return {z.view().begin(), z.view().end()};
}

InflateStatus inflate_in_pieces(const Bytes& z, size_t piece, int window_bits, Bytes* out) {
  MessageInflater inflater(InflaterOptions{window_bits, false});
  Buffer b;
  for (size_t off = 0; off < z.size(); off += piece) {
    const size_t n = std::min(piece, z.size() - off);
    InflateStatus st = inflater.feed({z.data() + off, n}, b, 1 << 20);
    if (st != InflateStatus::kOk) return st;
  }
  InflateStatus st = inflater.finish(b, 1 << 20);
  out->assign(b.view().begin(), b.view().end());
  return st;
}

}  // namespace

// fuzz_session: a client that agreed client_max_window_bits=9 and then compressed with a
// larger window. zlib checks a distance against its window plus what the current inflate()
// call has produced, so a 9-bit inflater accepted the far reference when the payload arrived
// in one read and refused it (1007) when it arrived a byte at a time: the verdict depended on
// TCP segmentation. The inflater now keeps zlib's full 32 KiB window, in which every DEFLATE
// distance is checked the same way however the input is cut.
TEST_CASE("fuzz regression: inflating does not depend on how the compressed bytes are cut") {
  const Bytes msg = far_reference_message();
  const Bytes z = compress15(msg);
  for (int bits : {8, 9, 12, 15}) {
    CAPTURE(bits);
    Bytes whole, bytewise;
    CHECK(inflate_in_pieces(z, z.size(), bits, &whole) == InflateStatus::kOk);
    CHECK(inflate_in_pieces(z, 1, bits, &bytewise) == InflateStatus::kOk);
    CHECK(whole == msg);
    CHECK(bytewise == msg);
  }
}

TEST_CASE("fuzz regression: a Session's verdict on a compressed message ignores read sizes") {
  const Bytes z = compress15(far_reference_message());
  Buffer wire;
  const MaskKey key{1, 2, 3, 4};
  encode_frame(wire, Opcode::kBinary, z, true, true, &key);
  std::vector<Bytes> sent;
  for (size_t chunk : {size_t{0}, size_t{1}}) {
    struct Sink final : Handler {
      size_t messages = 0;
      void on_message(Session&, std::span<const uint8_t>, MessageType) override { ++messages; }
    } app;
    SessionOptions options;
    test::FakeTransport t;
    auto s = std::make_unique<Session>(t, app, options);
    DeflateConfig config;
    config.enabled = true;
    config.client_max_window_bits = 9;
    DeflateServerPolicy policy;
    s->enable_deflate(config, policy);
    s->open(http::Request{});
    t.protocol = std::move(s);
    t.feed(wire.view(), chunk);
    CAPTURE(chunk);
    CHECK(app.messages == 1);
    CHECK_FALSE(t.closed);
    sent.push_back(t.sent);
  }
  CHECK(sent[0] == sent[1]);
}
