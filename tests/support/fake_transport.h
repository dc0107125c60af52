// tests/support/fake_transport.h — an in-memory Transport for protocol tests and fuzzing.
//
// Records what the protocol sends and how it closes, and feeds input the way
// net::Connection does: bytes a protocol does not consume are handed back first, in front
// of the next read; a protocol that hands over (Consumed::next) is replaced once its
// callback returned, started, and given the rest at once; sends after close() or abort()
// are dropped, and so is input that arrives after them.
//
// Input lives in one buffer: each read is appended behind what is still unconsumed, and
// consuming moves a start offset, so a frame fed byte by byte is not moved on every read.
// reserve() sizes it for a whole stream up front (the fuzz targets do: nothing is then
// moved or reallocated, whatever the chunking). Under clang the feeding code is left out
// of the coverage instrumentation (AddressSanitizer still applies): its branches say
// nothing about the server, and their comparison hooks cost a fuzz run about a fifth.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/transport.h"

#if defined(__clang__)
#define FAKE_TRANSPORT_NO_COVERAGE __attribute__((no_sanitize("coverage")))
#else
#define FAKE_TRANSPORT_NO_COVERAGE
#endif

namespace wsedge::test {

class FakeTransport final : public Transport {
 public:
  std::vector<uint8_t> sent;
  bool closed = false;         // close() or close_peer_finished() was called
  bool peer_finished = false;  // close_peer_finished() was called
  bool aborted = false;        // abort() was called
  int64_t timer_ms = -1;       // armed delay, -1 when disarmed
  int64_t now = 1000;
  size_t expected = 0;  // the last expect() hint
  size_t buffered = 0;  // what buffered_amount() reports
  std::unique_ptr<Protocol> protocol;

  explicit FakeTransport(std::unique_ptr<Protocol> p = nullptr) : protocol(std::move(p)) {}

  // Room for `total` bytes of input without moving any: for a stream whose size is known.
  FAKE_TRANSPORT_NO_COVERAGE void reserve(size_t total) { make_room(total); }

  // Delivers `bytes` in reads of `chunk` bytes (0: one read).
  FAKE_TRANSPORT_NO_COVERAGE void feed(std::span<const uint8_t> bytes, size_t chunk = 0) {
    if (chunk == 0) chunk = std::max<size_t>(bytes.size(), 1);
    for (size_t off = 0; off < bytes.size(); off += chunk)
      read(bytes.subspan(off, std::min(chunk, bytes.size() - off)));
  }
  void feed(std::string_view s, size_t chunk = 0) {
    feed({reinterpret_cast<const uint8_t*>(s.data()), s.size()}, chunk);
  }

  FAKE_TRANSPORT_NO_COVERAGE void fire_timer() {
    timer_ms = -1;
    protocol->on_timer(*this);
  }
  std::string sent_text() const { return {sent.begin(), sent.end()}; }
  // Input the protocol has not consumed yet.
  std::span<const uint8_t> unconsumed() const { return {input_.get() + begin_, end_ - begin_}; }
  // Whether `p` points into the input buffer (a zero-copy delivery does).
  bool in_input(const uint8_t* p) const {
    return input_ != nullptr && p >= input_.get() && p < input_.get() + end_;
  }

  FAKE_TRANSPORT_NO_COVERAGE void send_now(std::span<const uint8_t> a,
                                           std::span<const uint8_t> b) override {
    if (closed || aborted) return;
    const size_t at = sent.size();
    sent.resize(at + a.size() + b.size());
    if (!a.empty()) std::memcpy(sent.data() + at, a.data(), a.size());
    if (!b.empty()) std::memcpy(sent.data() + at + a.size(), b.data(), b.size());
  }
  size_t buffered_amount() const override { return buffered; }
  size_t high_water_mark() const override { return 1 << 20; }
  void expect(size_t bytes) override { expected = bytes; }
  void arm_timer(int64_t delay_ms) override { timer_ms = delay_ms; }
  void disarm_timer() override { timer_ms = -1; }
  int64_t now_ms() const override { return now; }
  void close() override { closed = true; }
  void close_peer_finished() override {
    closed = true;
    peer_finished = true;
  }
  void abort() override { aborted = true; }
  bool closing() const override { return closed || aborted; }
  std::string_view peer_address() const override { return "test:0"; }

 private:
  // One read: appended behind the unconsumed input, then offered to the protocol.
  FAKE_TRANSPORT_NO_COVERAGE void read(std::span<const uint8_t> bytes) {
    if (closed || aborted) {  // a closing connection discards what arrives
      begin_ = end_;
      return;
    }
    make_room(bytes.size());
    if (!bytes.empty()) std::memcpy(input_.get() + end_, bytes.data(), bytes.size());
    end_ += bytes.size();
    Consumed r = protocol->on_data(*this, {input_.get() + begin_, end_ - begin_});
    begin_ += r.bytes;
    while (r.next) {  // the hijack: the old protocol's callback has returned
      protocol = std::move(r.next);
      protocol->on_start(*this);
      if (begin_ == end_ || closed || aborted) break;
      r = protocol->on_data(*this, {input_.get() + begin_, end_ - begin_});
      begin_ += r.bytes;
    }
    if (closed || aborted) begin_ = end_;  // what was not consumed is discarded
  }

  // Makes room for `more` bytes behind end_: moves the unconsumed input to the front, or
  // grows the buffer, only when they would not fit.
  FAKE_TRANSPORT_NO_COVERAGE void make_room(size_t more) {
    if (capacity_ - end_ >= more) return;
    const size_t kept = end_ - begin_;
    if (capacity_ - kept >= more) {
      std::memmove(input_.get(), input_.get() + begin_, kept);
    } else {
      const size_t grown = std::max(kept + more, 2 * capacity_);
      auto bigger = std::make_unique<uint8_t[]>(grown);
      if (kept > 0) std::memcpy(bigger.get(), input_.get() + begin_, kept);
      input_ = std::move(bigger);
      capacity_ = grown;
    }
    begin_ = 0;
    end_ = kept;
  }

  std::unique_ptr<uint8_t[]> input_;
  size_t capacity_ = 0, begin_ = 0, end_ = 0;
};

}  // namespace wsedge::test
