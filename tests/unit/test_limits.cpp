// Limits and timeouts (issue 11 §3) at unit level: the request-head limits and the slowloris
// deadline of HttpSession over the fake transport, the connection limit of the Listener,
// the send-queue cap of Connection, and out-of-memory handling — a protocol that throws
// std::bad_alloc, and a sweep that fails each operator new of a whole connection's life in
// turn (fail_alloc.cpp replaces the global operator new for the unit binary; it fails
// nothing unless a test arms it).
#include <doctest/doctest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <map>
#include <new>
#include <string>
#include <vector>

#include "apps/options.h"
#include "fail_alloc.h"
#include "http/http_session.h"
#include "http/parser.h"
#include "net/connection.h"
#include "net/listener.h"
#include "net/reactor.h"
#include "server/server.h"
#include "tests/support/fake_transport.h"
#include "ws/close_code.h"
#include "ws/frame.h"

using namespace wsedge;
using wsedge::test::FakeTransport;

namespace {

// No files, no upgrades: every complete GET is a 404, which is all these tests need.
struct NoUpgrades final : http::UpgradeHandler {
  int upgrades = 0;
  std::unique_ptr<Protocol> on_upgrade(Transport& t, const http::Request&) override {
    ++upgrades;
    t.close();
    return nullptr;
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
  return std::move(r.value());  // cppcheck-suppress returnStdMoveLocal ; value() is a reference
}

// A protocol that only records what happens to it; the test sends as an application
// that ignores backpressure would.
// `disconnected` lives outside: the protocol dies with its connection.
struct Silent final : Protocol {
  bool* disconnected;
  TcpEnd* ended = nullptr;  // Transport::how_ended() at on_disconnect, when asked
  explicit Silent(bool* flag, TcpEnd* end = nullptr) : disconnected(flag), ended(end) {}
  Consumed on_data(Transport&, std::span<uint8_t> data) override { return data.size(); }
  void on_disconnect(Transport& t) override {
    *disconnected = true;
    if (ended != nullptr) *ended = t.how_ended();
  }
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
  bool disconnected = false;
  TcpEnd ended = TcpEnd::kOpen;
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
    REQUIRE(conn->start(std::make_unique<Silent>(&disconnected, &ended)).ok());
  }
  ~NonReader() {
    if (owner.closed == 0) delete conn;
    ::close(peer);
  }
  NonReader(const NonReader&) = delete;
  NonReader& operator=(const NonReader&) = delete;
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
  CHECK(n.disconnected);
  CHECK(n.ended == TcpEnd::kQueueOverflow);
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

// --- out of memory ---------------------------------------------------------------------

namespace {

// Sends "before\n", then throws std::bad_alloc, as a protocol whose allocation failed; its
// last words are "oom\n".
struct Throwing final : Protocol {
  bool* disconnected;
  int out_of_memory = 0;
  explicit Throwing(bool* flag) : disconnected(flag) {}
  Consumed on_data(Transport& t, std::span<uint8_t> data) override {
    static const uint8_t kBefore[] = {'b', 'e', 'f', 'o', 'r', 'e', '\n'};
    t.send(kBefore);
    if (data.size() > 0) throw std::bad_alloc();
    return data.size();
  }
  void on_disconnect(Transport&) override { *disconnected = true; }
  void on_out_of_memory(Transport& t) override {
    ++out_of_memory;
    static const uint8_t kWords[] = {'o', 'o', 'm', '\n'};
    t.send(kWords);
  }
};

std::string read_to_eof(int fd, net::Reactor& loop) {
  std::string got;
  char buf[4096];
  for (int i = 0; i < 400; ++i) {
    loop.run_once(5);
    ssize_t n = ::recv(fd, buf, sizeof buf, MSG_DONTWAIT);
    if (n > 0) got.append(buf, static_cast<size_t>(n));
    if (n == 0) return got;
  }
  return got + "<no EOF>";
}

}  // namespace

TEST_CASE(
    "Connection: std::bad_alloc from on_data: earlier output, the protocol's last words, "
    "close") {
  auto loop = make_loop();
  Owner owner;
  net::ConnectionContext context(*loop, owner);
  int sv[2];
  REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) == 0);
  auto* conn = new net::Connection(context, sv[0]);
  bool disconnected = false;
  auto throwing = std::make_unique<Throwing>(&disconnected);
  const Throwing* protocol = throwing.get();
  REQUIRE(conn->start(std::move(throwing)).ok());
  REQUIRE(::write(sv[1], "x", 1) == 1);
  std::string got = read_to_eof(sv[1], *loop);
  CHECK(got == "before\noom\n");  // in order, then EOF: a clean close, not a reset
  CHECK(protocol->out_of_memory == 1);
  ::shutdown(sv[1], SHUT_WR);  // our EOF ends the server's linger
  for (int i = 0; i < 50 && owner.closed == 0; ++i)
    loop->run_once(5);
  CHECK(owner.closed == 1);
  CHECK(disconnected);
  CHECK(context.out_of_memory == 1);
  ::close(sv[1]);
}

namespace {

// The echo route, except that "boom" (and opening on /fail-open) throws std::bad_alloc.
struct FragileEcho final : ws::Handler {
  void on_open(ws::Session&, const http::Request& r) override {
    if (r.path == "/fail-open") throw std::bad_alloc();
  }
  void on_message(ws::Session& s, std::span<const uint8_t> payload, ws::MessageType type) override {
    if (std::string_view(reinterpret_cast<const char*>(payload.data()), payload.size()) == "boom")
      throw std::bad_alloc();
    s.send(payload, type);
  }
};

struct LiveServer {
  std::unique_ptr<net::Reactor> loop = make_loop();
  FragileEcho echo;
  std::unique_ptr<Server> server;
  explicit LiveServer(bool authorize_throws = false) {
    ServerOptions options;
    server = std::make_unique<Server>(*loop, options);
    Route route;
    route.handler = &echo;
    if (authorize_throws) {
      route.path = "/auth";
      route.authorize = [](const http::Request&) -> int { throw std::bad_alloc(); };
      Route plain;
      plain.handler = &echo;
      server->add_route(plain);
    }
    server->add_route(route);
    REQUIRE(server->start().ok());
  }
  // Pumps the loop (armed for failure injection when `armed`) until `fd` has `want` bytes,
  // hits EOF, or 300 iterations pass. Fixed buffers only: nothing here allocates.
  std::string pump(int fd, size_t want, bool armed = false) {
    static char got[65536];
    size_t n = 0;
    bool eof = false;
    for (int i = 0; i < 300 && n < want && !eof; ++i) {
      test::g_fail_armed = armed;
      loop->run_once(2);
      test::g_fail_armed = false;
      ssize_t r = ::recv(fd, got + n, sizeof got - n, MSG_DONTWAIT);
      if (r > 0) n += static_cast<size_t>(r);
      if (r == 0 || (r < 0 && errno == ECONNRESET)) eof = true;
    }
    return std::string(got, n) + (eof ? "<EOF>" : "");
  }
  bool drained() {
    for (int i = 0; i < 400 && server->stats().connections_open > 0; ++i)
      loop->run_once(5);
    return server->stats().connections_open == 0;
  }
};

std::string upgrade_request(const char* path) {
  return std::string("GET ") + path +
         " HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
         "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";
}

std::string client_frame(ws::Opcode op, std::string_view payload, bool fin = true) {
  const ws::MaskKey key{9, 8, 7, 6};
  Buffer frame;
  ws::encode_frame(frame, op, {reinterpret_cast<const uint8_t*>(payload.data()), payload.size()},
                   fin, false, &key);
  return {reinterpret_cast<const char*>(frame.data()), frame.readable()};
}

void send_all(int fd, const std::string& s) {
  REQUIRE(::send(fd, s.data(), s.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(s.size()));
}

// What follows the 101's head ("" when there is no complete 101 head).
std::string after_101(const std::string& got) {
  size_t end = got.find("\r\n\r\n");
  if (!got.starts_with("HTTP/1.1 101") || end == std::string::npos) return {};
  return got.substr(end + 4);
}
constexpr size_t kHead101 = 160;  // enough to hold the 101 for the fixed key
const std::string kClose1011 = std::string("\x88\x0f\x03\xf3", 4) + "out of memory";

bool echo_works(LiveServer& srv) {
  int fd = connect_loopback(srv.server->port());
  send_all(fd, upgrade_request("/echo") + client_frame(ws::Opcode::kText, "ping?"));
  std::string got = srv.pump(fd, kHead101 + 7);
  ::close(fd);
  return after_101(got).starts_with(std::string("\x81\x05ping?", 7));
}

}  // namespace

TEST_CASE("Server: a handler's std::bad_alloc closes that WebSocket with 1011; others go on") {
  LiveServer srv;
  int a = connect_loopback(srv.server->port());
  send_all(a, upgrade_request("/echo") + client_frame(ws::Opcode::kText, "fine") +
                  client_frame(ws::Opcode::kText, "boom"));
  std::string got = srv.pump(a, kHead101 + 6 + kClose1011.size() + 5);
  REQUIRE(got.starts_with("HTTP/1.1 101"));
  std::string frames = after_101(got);
  // The echo before the failure, then close 1011 "out of memory", then the TCP close
  // once our close frame has been answered (here: our EOF).
  CHECK(
      frames.starts_with(std::string("\x81\x04"
                                     "fine",
                                     6)));
  CHECK(frames.substr(6, kClose1011.size()) == kClose1011);
  CHECK(echo_works(srv));
  ::close(a);
  CHECK(srv.drained());
}

TEST_CASE("Server: std::bad_alloc in on_open (after the 101) closes with 1011") {
  LiveServer srv;
  int a = connect_loopback(srv.server->port());
  send_all(a, upgrade_request("/fail-open"));
  std::string got = srv.pump(a, kHead101 + kClose1011.size());
  REQUIRE(got.starts_with("HTTP/1.1 101"));
  CHECK(after_101(got).substr(0, kClose1011.size()) == kClose1011);
  CHECK(echo_works(srv));
  ::close(a);
  CHECK(srv.drained());
}

TEST_CASE("Server: std::bad_alloc during the handshake (before any 101) is answered 503") {
  LiveServer srv(true);
  int a = connect_loopback(srv.server->port());
  send_all(a, upgrade_request("/auth"));
  std::string got = srv.pump(a, 1000);
  CHECK(got.starts_with("HTTP/1.1 503 Service Unavailable\r\n"));
  CHECK(got.find("HTTP/1.1 101") == std::string::npos);
  CHECK(got.ends_with("out of memory\n<EOF>"));
  CHECK(echo_works(srv));
  ::close(a);
  CHECK(srv.drained());
}

TEST_CASE("HttpSession::on_out_of_memory: a complete 503 from a constant") {
  http::HttpOptions options;
  NoUpgrades upgrades;
  http::HttpSession http(options, nullptr, upgrades);
  FakeTransport t;
  http.on_out_of_memory(t);
  std::string s = t.sent_text();
  CHECK(s.starts_with("HTTP/1.1 503 Service Unavailable\r\n"));
  CHECK(s.find("Retry-After: 1\r\n") != std::string::npos);
  CHECK(s.find("Content-Length: 14\r\n") != std::string::npos);
  CHECK(s.substr(s.size() - 14) == "out of memory\n");
  CHECK_FALSE(t.closed);  // the connection closes once the words are out (net/connection.h)
}

// Fails each operator new of a connection's whole life in turn — accept, HTTP session,
// handshake, session, fragment assembly, echo, close — one per run: whichever fails, the
// server neither crashes nor hangs, the client gets a clear outcome, the next client is
// served, and no connection is left behind.
TEST_CASE("Server: every operator new of a connection's life, failed in turn") {
  std::map<std::string, int> outcomes;
  long n = 1;
  for (; n < 400; ++n) {
    LiveServer srv;
    int a = connect_loopback(srv.server->port());
    send_all(a, upgrade_request("/echo") + client_frame(ws::Opcode::kText, "hel", false) +
                    client_frame(ws::Opcode::kContinuation, "lo"));
    long failures_before = test::g_failures.load();
    test::g_fail_countdown = n;
    std::string got = srv.pump(a, kHead101 + 7, true);
    test::g_fail_countdown = 0;
    bool failed = test::g_failures.load() > failures_before;
    std::string outcome;
    if (after_101(got).starts_with("\x81\x05hello")) {
      outcome = "echoed";
    } else if (after_101(got).starts_with(kClose1011)) {
      outcome = "close 1011";
    } else if (got.starts_with("HTTP/1.1 503")) {
      outcome = "503";
    } else if (got == "<EOF>" || (got.starts_with("HTTP/1.1 101") && got.ends_with("<EOF>"))) {
      outcome = "dropped";
    } else {
      outcome = "unclear: " + got.substr(0, 40);
    }
    CAPTURE(n);
    CAPTURE(got.size());
    CHECK(outcome.rfind("unclear", 0) != 0);
    if (!failed) {
      CHECK(outcome == "echoed");
      ::close(a);
      break;  // the n-th allocation is past the scenario: every one has been failed
    }
    ++outcomes[outcome];
    CHECK(echo_works(srv));  // the server goes on
    ::close(a);
    CHECK(srv.drained());  // and keeps no connection behind
  }
  std::string summary;
  for (auto& [k, v] : outcomes)
    summary += k + ": " + std::to_string(v) + "  ";
  MESSAGE((n - 1) << " allocations failed in turn; outcomes: " << summary);
  CHECK(n > 3);
  CHECK(outcomes["close 1011"] > 0);
  CHECK(outcomes["503"] > 0);
}

// --- the defaults README's Limits table promises ------------------------------------------

TEST_CASE("wsedge defaults: every limit and timeout is on, at the value the README states") {
  app::Options o;
  std::string error;
  char name[] = "wsedge";
  char* argv[] = {name, nullptr};
  REQUIRE(app::parse_options(1, argv, &o, &error) == app::ParseOutcome::kRun);
  CHECK(o.handshake_timeout_ms == 10'000);  // slowloris: 408
  CHECK(o.ping_interval_ms == 30'000);      // keepalive pings ...
  CHECK(o.idle_timeout_ms == 0);            // ... and 2x that (60 s) of silence: 1001
  CHECK(o.close_grace_ms == 2'000);
  CHECK(o.tls_handshake_timeout_ms == 10'000);
  CHECK(o.max_message_size == (64u << 20));        // 1009
  CHECK(o.message_memory_budget == (128u << 20));  // 1013 to the largest holders
  CHECK(o.max_head_size == 8192);                  // 431
  CHECK(o.max_headers == 100);                     // 431
  CHECK(o.high_water == (4u << 20));               // backpressure
  CHECK(o.max_send_queue == (64u << 20));          // dropped
  CHECK(o.max_connections == 0);                   // derived: the fd limit minus 64
  // The idle timeout the session derives from them (ws/session.cpp): on.
  ws::SessionOptions session;
  session.ping_interval_ms = o.ping_interval_ms;
  session.idle_timeout_ms = o.idle_timeout_ms;
  FakeTransport t;
  struct Quiet final : ws::Handler {
    void on_message(ws::Session&, std::span<const uint8_t>, ws::MessageType) override {}
  } quiet;
  const http::Request request;
  ws::Session s(t, quiet, session, ws::Opening{.request = request});
  CHECK(t.timer_ms == 30'000);  // the first ping is due
}

TEST_CASE("--message-memory-budget: at least --max-message-size; raised with it unless given") {
  auto parse = [](std::vector<std::string> args, app::Options* o, std::string* error) {
    std::vector<char*> argv;
    static char name[] = "wsedge";
    argv.push_back(name);
    for (std::string& a : args)
      argv.push_back(a.data());
    argv.push_back(nullptr);
    return app::parse_options(static_cast<int>(argv.size() - 1), argv.data(), o, error);
  };
  {
    app::Options o;
    std::string error;
    REQUIRE(parse({"--max-message-size", "256M"}, &o, &error) == app::ParseOutcome::kRun);
    CHECK(o.message_memory_budget == (256u << 20));  // one such message must fit
  }
  {
    app::Options o;
    std::string error;
    CHECK(parse({"--max-message-size", "256M", "--message-memory-budget", "200M"}, &o, &error) ==
          app::ParseOutcome::kError);
    CHECK(error.find("at least --max-message-size") != std::string::npos);
  }
  {
    app::Options o;
    std::string error;
    REQUIRE(parse({"--message-memory-budget", "0", "--max-message-size", "1G"}, &o, &error) ==
            app::ParseOutcome::kRun);
    CHECK(o.message_memory_budget == 0);  // off stays off
  }
}
