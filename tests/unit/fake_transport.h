// tests/unit/fake_transport.h — an in-memory Transport for protocol tests.
//
// Records what the protocol sends and how it closes, and feeds input the way
// net::Connection does: bytes a protocol does not consume are handed back first, in
// front of the next chunk, and a protocol switch passes the rest to the new protocol.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "core/transport.h"

namespace wsedge::test {

class FakeTransport final : public Transport {
 public:
  std::vector<uint8_t> sent;
  bool closed = false;         // close() was called
  bool peer_finished = false;  // close_peer_finished() was called (closed is set too)
  bool aborted = false;        // abort() was called
  int64_t timer_ms = -1;       // armed delay, -1 when disarmed
  int64_t now = 1000;
  size_t expected = 0;
  size_t buffered = 0;  // what buffered_amount() reports
  std::unique_ptr<Protocol> protocol;
  std::vector<uint8_t> tail;  // unconsumed input

  explicit FakeTransport(std::unique_ptr<Protocol> p = nullptr) : protocol(std::move(p)) {}

  // Delivers `bytes` in chunks of `chunk` (0: all at once), like successive reads.
  void feed(std::span<const uint8_t> bytes, size_t chunk = 0) {
    if (chunk == 0) chunk = bytes.size() == 0 ? 1 : bytes.size();
    for (size_t off = 0; off < bytes.size(); off += chunk) {
      size_t n = std::min(chunk, bytes.size() - off);
      tail.insert(tail.end(), bytes.begin() + off, bytes.begin() + off + n);
      if (closed || aborted) {
        tail.clear();
        continue;
      }
      Protocol* p = protocol.get();
      size_t used = p->on_data(*this, {tail.data(), tail.size()});
      while (protocol.get() != p && used < tail.size() && !closed && !aborted) {
        p = protocol.get();
        used += p->on_data(*this, std::span<uint8_t>(tail).subspan(used));
      }
      retired.reset();
      tail.erase(tail.begin(), tail.begin() + static_cast<long>(used));
    }
  }
  void feed(const std::string& s, size_t chunk = 0) {
    feed({reinterpret_cast<const uint8_t*>(s.data()), s.size()}, chunk);
  }
  void fire_timer() {
    timer_ms = -1;
    protocol->on_timer(*this);
  }
  std::string sent_text() const { return {sent.begin(), sent.end()}; }

  void send(std::span<const uint8_t> a, std::span<const uint8_t> b = {}) override {
    if (closed || aborted) return;
    sent.insert(sent.end(), a.begin(), a.end());
    sent.insert(sent.end(), b.begin(), b.end());
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
  void switch_protocol(std::unique_ptr<Protocol> next) override {
    retired = std::move(protocol);
    protocol = std::move(next);
    timer_ms = -1;  // as net::Connection: the old protocol's deadline meant something else
    protocol->on_start(*this);
  }
  std::string_view peer_address() const override { return "test:0"; }

 private:
  std::unique_ptr<Protocol> retired;
};

}  // namespace wsedge::test
