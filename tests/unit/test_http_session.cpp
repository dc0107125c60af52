// http::HttpSession over the in-memory transport: the hand-over to the next protocol. The
// head limits, timers and pipelining are in test_limits.cpp.
#include <doctest/doctest.h>

#include <memory>
#include <string>
#include <vector>

#include "http/http_session.h"
#include "tests/support/fake_transport.h"

using namespace wsedge;

namespace {

// What the connection runs after the upgrade: it keeps every byte it is handed.
struct Recorder final : Protocol {
  std::string* got;
  int* starts;
  Recorder(std::string* bytes, int* started) : got(bytes), starts(started) {}
  void on_start(Transport&) override { ++*starts; }
  Consumed on_data(Transport&, std::span<uint8_t> data) override {
    got->append(data.begin(), data.end());
    return data.size();
  }
  void on_disconnect(Transport&) override {}
};

// Hands over to a Recorder on every upgrade, as Server hands over to a Session.
struct Switcher final : http::UpgradeHandler {
  std::string after;  // what the next protocol received
  int starts = 0;
  int upgrades = 0;
  std::string path;
  std::vector<uint32_t> head_reads;  // Request::head_reads of the last upgrade
  std::unique_ptr<Protocol> on_upgrade(Transport& t, const http::Request& request) override {
    ++upgrades;
    path = std::string(request.path);
    head_reads.assign(request.head_reads.begin(), request.head_reads.end());
    const std::string_view k101 = "HTTP/1.1 101 Switching Protocols\r\n\r\n";
    t.send({reinterpret_cast<const uint8_t*>(k101.data()), k101.size()});
    return std::make_unique<Recorder>(&after, &starts);
  }
};

const std::string kUpgrade =
    "GET /echo HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";

}  // namespace

TEST_CASE(
    "HttpSession: the bytes behind an upgrade head go to the next protocol, in order, "
    "at every split of the stream") {
  // A frame, then what looks like another request: after the 101 none of it is HTTP.
  const std::string behind = std::string("\x81\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58", 11) +
                             "GET /other HTTP/1.1\r\nHost: localhost\r\n\r\n";
  const std::string stream = kUpgrade + behind;
  for (size_t chunk : {size_t{0}, size_t{1}, size_t{7}, kUpgrade.size(), kUpgrade.size() + 3}) {
    CAPTURE(chunk);
    http::HttpOptions options;
    Switcher upgrades;
    test::FakeTransport t;
    t.protocol = std::make_unique<http::HttpSession>(options, nullptr, upgrades);
    t.protocol->on_start(t);
    t.feed(stream, chunk);
    CHECK(upgrades.upgrades == 1);
    CHECK(upgrades.path == "/echo");
    CHECK(upgrades.starts == 1);
    CHECK(upgrades.after == behind);  // every byte, once, none parsed as a second request
    CHECK(t.sent_text() == "HTTP/1.1 101 Switching Protocols\r\n\r\n");
    CHECK_FALSE(t.closed);
    CHECK(t.timer_ms == -1);  // the head deadline did not outlive HTTP
  }
}

TEST_CASE(
    "HttpSession: a request before the upgrade on the same connection is answered "
    "first, then the upgrade takes over") {
  http::HttpOptions options;
  Switcher upgrades;
  test::FakeTransport t;
  t.protocol = std::make_unique<http::HttpSession>(options, nullptr, upgrades);
  t.protocol->on_start(t);
  t.feed("GET /page HTTP/1.1\r\nHost: localhost\r\n\r\n" + kUpgrade + "tail");
  std::string sent = t.sent_text();
  CHECK(sent.find("HTTP/1.1 404") == 0);
  CHECK(sent.find("HTTP/1.1 101") != std::string::npos);
  CHECK(upgrades.upgrades == 1);
  CHECK(upgrades.after == "tail");
}

TEST_CASE("HttpSession: with note_head_reads, an upgrade names where each read of its head ended") {
  struct Case {
    std::vector<size_t> cuts;  // the stream is handed over in pieces ending here
    bool note;
    std::vector<uint32_t> want;
  };
  // A request before the upgrade in the first read: offsets count from the upgrade's head.
  const std::string before = "GET /page HTTP/1.1\r\nHost: localhost\r\n\r\n";
  const Case cases[] = {
      {{}, true, {}},              // one read: nothing to say
      {{10}, true, {10}},          // two reads
      {{10, 40}, true, {10, 40}},  // three
      {{10, 40}, false, {}},       // off: nothing kept
      {{2,  4,  6,  8,  10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30, 32, 34, 36,
        38, 40, 42, 44, 46, 48, 50, 52, 54, 56, 58, 60, 62, 64, 66, 68, 70},
       true,
       {}},  // more than 32 reads: the last kept piece grows (checked below)
  };
  for (const Case& c : cases) {
    for (bool pipelined : {false, true}) {
      CAPTURE(c.cuts.size());
      CAPTURE(pipelined);
      http::HttpOptions options;
      options.note_head_reads = c.note;
      Switcher upgrades;
      test::FakeTransport t;
      t.protocol = std::make_unique<http::HttpSession>(options, nullptr, upgrades);
      t.protocol->on_start(t);
      const std::string prefix = pipelined ? before : "";
      const std::string stream = prefix + kUpgrade;
      size_t at = 0;
      for (size_t cut : c.cuts) {
        t.feed(std::string_view(stream).substr(at, prefix.size() + cut - at));
        at = prefix.size() + cut;
      }
      t.feed(std::string_view(stream).substr(at));
      REQUIRE(upgrades.upgrades == 1);
      if (c.cuts.size() > 32) {
        REQUIRE(upgrades.head_reads.size() == 32);
        CHECK(upgrades.head_reads[30] == 62);
        CHECK(upgrades.head_reads[31] == 70);  // reads 32..35 in one piece
      } else {
        CHECK(upgrades.head_reads == c.want);
      }
    }
  }
}
