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
#include "net/connection.h"
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

// A protocol that only records what happens to it; the test sends as an application
// that ignores backpressure would.
struct Silent final : Protocol {
  bool disconnected = false;
  size_t on_data(Transport&, std::span<uint8_t> data) override { return data.size(); }
  void on_disconnect(Transport&) override { disconnected = true; }
};

struct Owner final : net::ConnectionOwner {
  int closed = 0;
  void on_connection_closed(net::Connection* c) override {
    ++closed;
    delete c;
  }
};

// A connection whose peer (`peer`) never reads, with small kernel buffers.
struct NonReader {
  std::unique_ptr<net::Reactor> loop = make_loop();
  Owner owner;
  std::unique_ptr<net::ConnectionContext> context;
  net::Connection* conn = nullptr;
  Silent* proto = nullptr;
  int peer = -1;
  explicit NonReader(net::ConnectionOptions o) {
    int sv[2];
    REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) == 0);
    int small = 16 * 1024;
    ::setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &small, sizeof small);
    ::setsockopt(sv[1], SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
    peer = sv[1];
    context = std::make_unique<net::ConnectionContext>(*loop, owner, o);
    conn = new net::Connection(*context, sv[0]);
    auto p = std::make_unique<Silent>();
    proto = p.get();
    REQUIRE(conn->start(std::move(p)).ok());
  }
  ~NonReader() {
    if (owner.closed == 0) delete conn;
    ::close(peer);
  }
};

}  // namespace

TEST_CASE("Connection: a send that would pass max_send_queue drops the connection") {
  net::ConnectionOptions o;
  o.high_water = 64 * 1024;
  o.max_send_queue = 1u << 20;
  NonReader n(o);
  std::vector<uint8_t> chunk(64 * 1024, 'x');
  // Up to the cap the bytes queue (past the high-water mark: backpressure is advice).
  size_t sent = 0;
  while (n.conn->buffered_amount() + chunk.size() <= o.max_send_queue) {
    n.conn->send(chunk);
    sent += chunk.size();
    REQUIRE(sent < (8u << 20));  // the kernel cannot be taking it all
  }
  CHECK(!n.conn->closing());
  CHECK(n.conn->buffered_amount() > o.high_water);
  CHECK(n.conn->buffered_amount() <= o.max_send_queue);
  // The next one would pass it: the connection is dropped, its queue freed at once.
  n.conn->send(chunk);
  CHECK(n.conn->closing());
  CHECK(n.conn->buffered_amount() == 0);
  n.loop->run_once(10);
  CHECK(n.proto->disconnected);
  CHECK(n.owner.closed == 1);
  // The peer sees the end of the stream after what was written before the drop.
  ssize_t got = 0, r;
  char buf[65536];
  while ((r = ::read(n.peer, buf, sizeof buf)) > 0)
    got += r;
  CHECK(got > 0);
  CHECK(r == 0);
}

TEST_CASE("Connection: without a cap in the way, a slow reader's queue is kept whole") {
  net::ConnectionOptions o;
  o.high_water = 64 * 1024;
  o.max_send_queue = 4u << 20;
  NonReader n(o);
  std::vector<uint8_t> chunk(64 * 1024, 'y');
  for (int i = 0; i < 32; ++i)  // 2 MiB: under the cap
    n.conn->send(chunk);
  n.loop->run_once(10);
  CHECK(!n.conn->closing());
  CHECK(n.owner.closed == 0);
  CHECK(n.conn->buffered_amount() > (1u << 20));
  // The peer reads it all, byte for byte.
  size_t got = 0;
  char buf[65536];
  for (int i = 0; i < 2000 && got < 32 * chunk.size(); ++i) {
    ssize_t r = ::read(n.peer, buf, sizeof buf);
    if (r > 0) got += static_cast<size_t>(r);
    n.loop->run_once(1);
  }
  CHECK(got == 32 * chunk.size());
  CHECK(n.conn->buffered_amount() == 0);
}

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
