// Zero heap allocations per echoed message in steady state (issues 3 and 6), proved by
// counting every malloc the server makes while it echoes. The count comes from
// interposing malloc/calloc/realloc for this test binary (forwarding to glibc), which
// AddressSanitizer's own interposition forbids: the ASan build leaves this file empty.
#include <doctest/doctest.h>

#include <cstdlib>  // defines __GLIBC__ on glibc systems

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define WSEDGE_NO_MALLOC_COUNT 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__)
#define WSEDGE_NO_MALLOC_COUNT 1
#endif

#if !defined(WSEDGE_NO_MALLOC_COUNT) && defined(__GLIBC__)

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <string>

#include "apps/echo.h"
#include "http/parser.h"
#include "net/reactor.h"
#include "server/server.h"
#include "tests/support/fake_transport.h"
#include "ws/frame.h"
#include "ws/topics.h"

extern "C" {
void* __libc_malloc(size_t);
void* __libc_calloc(size_t, size_t);
void* __libc_realloc(void*, size_t);
}

namespace {
std::atomic<bool> g_counting{false};
std::atomic<long> g_allocations{0};
}  // namespace

extern "C" void* malloc(size_t n) {
  if (g_counting.load(std::memory_order_relaxed)) g_allocations.fetch_add(1);
  return __libc_malloc(n);
}
extern "C" void* calloc(size_t n, size_t m) {
  if (g_counting.load(std::memory_order_relaxed)) g_allocations.fetch_add(1);
  return __libc_calloc(n, m);
}
extern "C" void* realloc(void* p, size_t n) {
  if (g_counting.load(std::memory_order_relaxed)) g_allocations.fetch_add(1);
  return __libc_realloc(p, n);
}

using namespace wsedge;

namespace {

int connect_to(uint16_t port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  timeval tv{5, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  return fd;
}

// Runs the loop until the client can read `want` bytes; returns them.
std::string pump_and_read(net::Reactor& loop, int fd, size_t want) {
  std::string got;
  char buf[4096];
  for (int i = 0; i < 1000 && got.size() < want; ++i) {
    g_counting = true;
    loop.run_once(5);
    g_counting = false;
    ssize_t n = ::recv(fd, buf, sizeof buf, MSG_DONTWAIT);
    if (n > 0) got.append(buf, static_cast<size_t>(n));
  }
  return got;
}

}  // namespace

TEST_CASE("steady-state echo makes no heap allocation per message") {
  auto loop = net::Reactor::create();
  REQUIRE(loop.ok());
  ServerOptions options;
  options.listen.port = 0;
  Server server(*loop.value(), options);
  app::EchoHandler echo;
  Route route;
  route.handler = &echo;
  server.add_route(route);
  REQUIRE(server.start().ok());

  g_allocations = 0;
  int fd = connect_to(server.port());
  std::string hello =
      "GET /echo HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
      "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";
  REQUIRE(::send(fd, hello.data(), hello.size(), 0) == static_cast<ssize_t>(hello.size()));
  std::string answer = pump_and_read(*loop.value(), fd, 129);
  REQUIRE(answer.starts_with("HTTP/1.1 101"));
  // The counter works: accepting and upgrading a connection does allocate.
  CHECK(g_allocations.load() > 0);

  for (ws::Opcode op : {ws::Opcode::kText, ws::Opcode::kBinary}) {
    for (size_t size : {16u, 1024u, 60000u}) {
      CAPTURE(size);
      std::string payload(size, 'e');
      const ws::MaskKey key{1, 2, 3, 4};
      Buffer frame;
      ws::encode_frame(frame, op, {reinterpret_cast<const uint8_t*>(payload.data()), size}, true,
                       false, &key);
      size_t echo_size = size + (size < 126 ? 2 : 4);
      auto round_trip = [&] {
        REQUIRE(::send(fd, frame.data(), frame.readable(), 0) ==
                static_cast<ssize_t>(frame.readable()));
        std::string back = pump_and_read(*loop.value(), fd, echo_size);
        REQUIRE(back.size() == echo_size);
        CHECK(back.substr(back.size() - size) == payload);
      };
      for (int i = 0; i < 20; ++i)
        round_trip();  // warm-up: buffers reach their size
      g_allocations = 0;
      for (int i = 0; i < 200; ++i)
        round_trip();
      CHECK(g_allocations.load() == 0);
    }
  }
  ::close(fd);
}

namespace {
struct Deaf final : ws::Handler {
  void on_message(ws::Session&, std::span<const uint8_t>, ws::MessageType) override {}
};
}  // namespace

TEST_CASE("ws::Topics: a publish to 200 members makes no heap allocation") {
  // In-memory transports whose sent-bytes vectors have room for every frame, so what is
  // counted is the fan-out's own allocations (issue 14: none per delivery).
  Deaf app;
  ws::SessionOptions options;
  http::Request request;
  std::vector<std::unique_ptr<test::FakeTransport>> wires;
  ws::Topics topics;
  for (int i = 0; i < 200; ++i) {
    auto t = std::make_unique<test::FakeTransport>();
    t->sent.reserve(64 * 1024);
    auto s = std::make_unique<ws::Session>(*t, app, options, ws::Opening{.request = request});
    topics.subscribe("all", *s, static_cast<ws::Topics::Format>(i % 2));
    t->protocol = std::move(s);
    wires.push_back(std::move(t));
  }
  const std::string line(100, 'x');
  auto encode = [&line](ws::Topics::Format f, Buffer& out) {
    ws::encode_frame(out, f == 0 ? ws::Opcode::kText : ws::Opcode::kBinary,
                     {reinterpret_cast<const uint8_t*>(line.data()), line.size()});
  };
  for (int i = 0; i < 5; ++i)
    topics.publish("all", encode);  // warm-up: the encodings' buffers reach their size
  g_allocations = 0;
  g_counting = true;
  size_t delivered = 0;
  for (int i = 0; i < 100; ++i)
    delivered += topics.publish("all", encode);
  g_counting = false;
  CHECK(delivered == 200 * 100);
  CHECK(g_allocations.load() == 0);
  CHECK(topics.counters().encoded == 2 * 105);  // twice per publish: one per format
  // The counter counts here: a new topic does allocate.
  g_counting = true;
  topics.subscribe("a new topic with a long name",
                   *static_cast<ws::Session*>(wires[0]->protocol.get()));
  g_counting = false;
  CHECK(g_allocations.load() > 0);
}

#endif
