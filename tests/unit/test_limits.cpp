// Limits and timeouts (issue 11 §3) at unit level: the request-head limits and the slowloris
// deadline of HttpSession over the fake transport.
#include <doctest/doctest.h>

#include <time.h>

#include <string>

#include "fake_transport.h"
#include "http/http_session.h"
#include "http/parser.h"

using namespace wsedge;
using wsedge::test::FakeTransport;

namespace {

// No files, no upgrades: every complete GET is a 404, which is all these tests need.
struct NoUpgrades final : http::UpgradeHandler {
  int upgrades = 0;
  void on_upgrade(Transport& t, const http::Request&) override {
    ++upgrades;
    t.close();
  }
};

struct HttpFixture {
  http::HttpOptions options;
  NoUpgrades upgrades;
  FakeTransport t;
  explicit HttpFixture(size_t max_head = 8192) {
    options.limits.max_head_bytes = max_head;
    options.head_timeout_ms = 10'000;
    options.keepalive_timeout_ms = 30'000;
    t.protocol = std::make_unique<http::HttpSession>(options, nullptr, upgrades);
    t.protocol->on_start(t);
  }
  int status() const {
    std::string s = t.sent_text();
    if (s.rfind("HTTP/1.1 ", 0) != 0) return 0;
    return std::stoi(s.substr(9, 3));
  }
};

std::string head_of(size_t total) {
  std::string start = "GET / HTTP/1.1\r\nHost: localhost\r\nX-Big: ";
  std::string head = start + std::string(total - start.size() - 4, 'a') + "\r\n\r\n";
  return head;
}

double thread_cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

}  // namespace

TEST_CASE("HttpSession: a 1 MiB head in 16-byte reads is parsed in linear time") {
  // 65,536 reads. Parsing the whole head again on each read scans ~32 GiB (seconds of
  // CPU); parsing only when a line ends scans it a few times (milliseconds).
  HttpFixture f(2u << 20);
  std::string head = head_of(1u << 20);
  double t0 = thread_cpu_seconds();
  f.t.feed(head, 16);
  double cpu = thread_cpu_seconds() - t0;
  MESSAGE("1 MiB head in 16-byte reads: " << cpu << " s CPU");
  CHECK(f.status() == 404);
  CHECK(cpu < 0.5);
}

TEST_CASE("HttpSession: the same head in many lines, byte by byte, still linear") {
  HttpFixture f(1u << 20);
  std::string head = "GET / HTTP/1.1\r\nHost: localhost\r\n";
  for (int i = 0; i < 98; ++i)
    head += "X-" + std::to_string(i) + ": " + std::string(2000, 'v') + "\r\n";
  head += "\r\n";
  double t0 = thread_cpu_seconds();
  f.t.feed(head, 1);
  double cpu = thread_cpu_seconds() - t0;
  MESSAGE(head.size() << "-byte head of 100 fields, byte by byte: " << cpu << " s CPU");
  CHECK(f.status() == 404);
  CHECK(cpu < 0.5);
}

TEST_CASE("HttpSession: a bad control byte is refused at once, mid-line") {
  HttpFixture f;
  f.t.feed(std::string("GET / HTTP/1.1\r\nHost: localhost\r\nX-A: abc"), 1);
  CHECK(f.status() == 0);  // incomplete, nothing wrong yet
  f.t.feed(std::string("d\x01") + "efg", 1);
  CHECK(f.status() == 400);
  CHECK(f.t.closed);
}

TEST_CASE("HttpSession: a bad name byte is judged when its line ends") {
  HttpFixture f;
  f.t.feed(std::string("GET / HTTP/1.1\r\nHost: localhost\r\nX(A: 1"), 1);
  CHECK(f.status() == 0);  // no line end yet: not parsed again
  f.t.feed(std::string("\r\n"), 1);
  CHECK(f.status() == 400);
}

TEST_CASE("HttpSession: a head reaching the size limit gets 431 without a line end") {
  HttpFixture f(4096);
  std::string start = "GET / HTTP/1.1\r\nHost: localhost\r\nX-Big: ";
  f.t.feed(start + std::string(4096, 'a'), 7);
  CHECK(f.status() == 431);
  CHECK(f.t.closed);
}

TEST_CASE("HttpSession: every chunking of a valid head gets the same answer") {
  std::string head = "GET /x HTTP/1.1\r\nHost: localhost\r\nA:\t1\t\r\nB: 2\r\n\r\n";
  for (size_t chunk = 1; chunk <= head.size(); ++chunk) {
    HttpFixture f;
    f.t.feed(head, chunk);
    CAPTURE(chunk);
    CHECK(f.status() == 404);
  }
}

TEST_CASE("HttpSession: pipelined heads split anywhere are all answered") {
  std::string one = "GET /a HTTP/1.1\r\nHost: localhost\r\n\r\n";
  std::string two = one + one + "GET /b HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n";
  for (size_t chunk = 1; chunk <= two.size(); chunk += 3) {
    HttpFixture f;
    f.t.feed(two, chunk);
    std::string sent = f.t.sent_text();
    size_t n = 0;
    for (size_t at = sent.find("HTTP/1.1 404"); at != std::string::npos;
         at = sent.find("HTTP/1.1 404", at + 1))
      ++n;
    CAPTURE(chunk);
    CHECK(n == 3);
    CHECK(f.t.closed);
  }
}

TEST_CASE(
    "HttpSession slowloris: the first head's deadline runs from the start, not its first byte") {
  HttpFixture f;
  CHECK(f.t.timer_ms == 10'000);  // armed by on_start
  f.t.timer_ms = -2;              // mark: any re-arm would overwrite it
  f.t.feed(std::string("GET / HTTP/1.1\r\nHo"), 1);
  CHECK(f.t.timer_ms == -2);  // a trickle never moves the deadline
  f.t.fire_timer();
  CHECK(f.status() == 408);
  CHECK(f.t.closed);
}

TEST_CASE("HttpSession: a connection that sent nothing is closed silently at the deadline") {
  HttpFixture f;
  f.t.fire_timer();
  CHECK(f.t.sent.empty());
  CHECK(f.t.closed);
}

TEST_CASE("HttpSession: after a response, the keep-alive wait, then a fresh head deadline") {
  HttpFixture f;
  f.t.feed(std::string("GET / HTTP/1.1\r\nHost: localhost\r\n\r\n"));
  CHECK(f.status() == 404);
  CHECK(f.t.timer_ms == 30'000);  // keep-alive wait
  f.t.feed(std::string("G"));
  CHECK(f.t.timer_ms == 10'000);  // the next head's deadline, from its first byte
  f.t.timer_ms = -2;
  f.t.feed(std::string("ET / HT"), 1);
  CHECK(f.t.timer_ms == -2);
  f.t.fire_timer();
  CHECK(f.t.sent_text().find("HTTP/1.1 408") != std::string::npos);
}
