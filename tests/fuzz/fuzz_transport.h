// tests/fuzz/fuzz_transport.h — the in-memory Transport of the session fuzz target.
//
// It behaves as tests/unit/fake_transport.h does (and as net::Connection feeds input):
// bytes a protocol does not consume are handed back first, in front of the next read; a
// protocol switch passes the rest to the new protocol at once; sends after close() or
// abort() are dropped, and so is input that arrives after them. It differs in cost only.
// The fake transport appends every read to a vector and erases the consumed prefix; here
// one buffer, sized for the whole stream before the first read, receives each read behind
// what is still unconsumed, and consuming moves a start offset. Nothing is moved or
// reallocated, whatever the chunking. The feeding code is left out of the coverage
// instrumentation (no_sanitize("coverage"), AddressSanitizer still applies): its branches
// say nothing about the server, and their comparison hooks cost about a fifth of a run.
#pragma once

#include <cstdint>
#include <cstring>
#include <memory>
#include <span>
#include <string_view>
#include <vector>

#include "core/transport.h"

namespace wsedge::fuzz {

#define FUZZ_NO_COVERAGE __attribute__((no_sanitize("coverage")))

class FuzzTransport final : public Transport {
 public:
  std::vector<uint8_t> sent;
  bool closed = false;         // close() or close_peer_finished() was called
  bool peer_finished = false;  // close_peer_finished() was called
  bool aborted = false;        // abort() was called
  int64_t timer_ms = -1;       // armed delay, -1 when disarmed
  int64_t now = 1000;
  std::unique_ptr<Protocol> protocol;

  // The buffer holds up to `total` bytes: every read fed before the next reserve().
  FUZZ_NO_COVERAGE void reserve(size_t total) {
    input_ = std::make_unique<uint8_t[]>(total == 0 ? 1 : total);
    capacity_ = total;
    begin_ = end_ = 0;
  }

  // One read of `bytes` (at most what reserve() left room for).
  FUZZ_NO_COVERAGE void feed(std::span<const uint8_t> bytes) {
    if (bytes.size() > capacity_ - end_) __builtin_trap();  // reserve() was too small
    if (closed || aborted) {  // a closing connection discards what arrives
      begin_ = end_;
      return;
    }
    std::memcpy(input_.get() + end_, bytes.data(), bytes.size());
    end_ += bytes.size();
    Protocol* p = protocol.get();
    begin_ += p->on_data(*this, {input_.get() + begin_, end_ - begin_});
    while (protocol.get() != p && begin_ < end_ && !closed && !aborted) {
      p = protocol.get();
      begin_ += p->on_data(*this, {input_.get() + begin_, end_ - begin_});
    }
    retired_.reset();
    if (closed || aborted) begin_ = end_;  // what was not consumed is discarded
  }

  FUZZ_NO_COVERAGE void fire_timer() {
    timer_ms = -1;
    protocol->on_timer(*this);
  }

  FUZZ_NO_COVERAGE void send(std::span<const uint8_t> a, std::span<const uint8_t> b = {}) override {
    if (closed || aborted) return;
    const size_t at = sent.size();
    sent.resize(at + a.size() + b.size());
    if (!a.empty()) std::memcpy(sent.data() + at, a.data(), a.size());
    if (!b.empty()) std::memcpy(sent.data() + at + a.size(), b.data(), b.size());
  }
  size_t buffered_amount() const override { return 0; }
  size_t high_water_mark() const override { return 1 << 20; }
  void expect(size_t /*bytes*/) override {}
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
  void switch_protocol(std::unique_ptr<Protocol> next) override {
    retired_ = std::move(protocol);
    protocol = std::move(next);
    timer_ms = -1;  // as net::Connection (and FakeTransport): the old deadline is void
    protocol->on_start(*this);
  }
  std::string_view peer_address() const override { return "fuzz:0"; }

 private:
  std::unique_ptr<uint8_t[]> input_;
  size_t capacity_ = 0, begin_ = 0, end_ = 0;
  std::unique_ptr<Protocol> retired_;
};

}  // namespace wsedge::fuzz
