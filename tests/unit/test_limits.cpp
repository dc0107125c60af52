// Limits and timeouts (issue 11 §3) at unit level: the request-head limits and the slowloris
// deadline of HttpSession over the fake transport.
#include <doctest/doctest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "fake_transport.h"
#include "http/http_session.h"
#include "http/parser.h"
#include "net/listener.h"
#include "net/reactor.h"

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

int connect_loopback(uint16_t port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  REQUIRE(fd >= 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
  return fd;
}

// read(2) after waiting up to timeout_ms: bytes, 0 for EOF, -1 for an error or no answer.
ssize_t read_within(int fd, int timeout_ms) {
  pollfd p{fd, POLLIN, 0};
  if (::poll(&p, 1, timeout_ms) != 1) return -1;
  char buf[16];
  return ::read(fd, buf, sizeof buf);
}

std::unique_ptr<net::Reactor> make_loop() {
  auto r = net::Reactor::create();
  REQUIRE(r.ok());
  return std::move(r.value());
}

}  // namespace

TEST_CASE("Listener: past the admit limit, clients are accepted and closed at once") {
  auto loop = make_loop();
  std::vector<int> accepted;
  bool room = true;
  net::Listener listener(
      *loop, [&](int fd, const sockaddr_storage&) { accepted.push_back(fd); },
      [&] { return room && accepted.size() < 2; });
  REQUIRE(listener.listen({}).ok());
  std::vector<int> clients;
  for (int i = 0; i < 5; ++i)
    clients.push_back(connect_loopback(listener.port()));
  ::usleep(20'000);
  loop->run_once(1000);
  CHECK(accepted.size() == 2);
  CHECK(listener.dropped(net::Listener::Shed::kAtLimit) == 3);
  CHECK(listener.dropped(net::Listener::Shed::kOutOfFds) == 0);
  int eofs = 0, waiting = 0;
  for (int fd : clients) {
    ssize_t n = read_within(fd, 50);
    eofs += n == 0 ? 1 : 0;      // shed: EOF at once
    waiting += n == -1 ? 1 : 0;  // admitted: the server said nothing yet
  }
  CHECK(eofs == 3);
  CHECK(waiting == 2);
  // Room again (one admitted connection went away): the next client is admitted.
  ::close(accepted.back());
  accepted.pop_back();
  int late = connect_loopback(listener.port());
  ::usleep(20'000);
  loop->run_once(1000);
  CHECK(accepted.size() == 2);
  CHECK(listener.dropped() == 3);
  CHECK(read_within(late, 50) == -1);
  ::close(late);
  for (int fd : clients)
    ::close(fd);
  for (int fd : accepted)
    ::close(fd);
}

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
