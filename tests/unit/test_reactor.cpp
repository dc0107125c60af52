#include <doctest/doctest.h>

#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "core/clock.h"
#include "net/reactor.h"
#include "net/socket.h"
#include "tests/unit/socket_pair.h"

using wsedge::IoStatus;
using wsedge::net::IoHandler;
using wsedge::net::kHangup;
using wsedge::net::kPeerFin;
using wsedge::net::kReadable;
using wsedge::net::kWritable;
using wsedge::net::Reactor;
using wsedge::test::SocketPair;

namespace {

std::unique_ptr<Reactor> make_loop() {
  auto r = Reactor::create();
  REQUIRE(r.ok());
  return std::move(r.value());
}

// Reads at most `per_call` bytes per event (0: drain until EAGAIN) and records everything.
struct Reader final : IoHandler {
  explicit Reader(int fd_, size_t per_call_ = 0) : fd(fd_), per_call(per_call_) {}
  void on_io(uint32_t events) override {
    ++calls;
    last_events = events;
    char buf[4096];
    size_t budget = per_call == 0 ? SIZE_MAX : per_call;
    while (budget > 0) {
      auto r = wsedge::net::read_some(fd, buf, budget < sizeof buf ? budget : sizeof buf);
      if (r.status == IoStatus::kClosed) closed = true;
      if (r.status != IoStatus::kOk) break;
      got.append(buf, r.bytes);
      budget -= r.bytes;
    }
  }
  int fd;
  size_t per_call;
  int calls = 0;
  uint32_t last_events = 0;
  bool closed = false;
  std::string got;
};

}  // namespace

TEST_CASE("Reactor: socketpair round trip through the loop") {
  auto loop = make_loop();
  SocketPair p;
  Reader reader(p.a);
  REQUIRE(loop->add(p.a, &reader).ok());
  CHECK(loop->run_once(0) == 1);  // registration reports the socket writable
  CHECK(reader.calls == 1);
  CHECK((reader.last_events & kWritable) != 0);
  p.send("ping");
  CHECK(loop->run_once(1000) == 1);
  CHECK(reader.got == "ping");
  CHECK((reader.last_events & kReadable) != 0);
  ::close(p.b);
  p.b = -1;
  CHECK(loop->run_once(1000) == 1);
  CHECK(reader.closed);
  CHECK((reader.last_events & kHangup) != 0);
  loop->remove(p.a, &reader);
}

namespace {
// A connected loopback TCP pair: `server` (non-blocking, the side under test), `client`.
struct TcpPair {
  int server = -1, client = -1;
  TcpPair() {
    int lfd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    REQUIRE(lfd >= 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    REQUIRE(::bind(lfd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
    REQUIRE(::listen(lfd, 1) == 0);
    REQUIRE(::getsockname(lfd, reinterpret_cast<sockaddr*>(&a), &len) == 0);
    client = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    REQUIRE(::connect(client, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
    server = ::accept4(lfd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    REQUIRE(server >= 0);
    ::close(lfd);
  }
  ~TcpPair() {
    if (server >= 0) ::close(server);
    if (client >= 0) ::close(client);
  }
};
}  // namespace

TEST_CASE("Reactor: kPeerFin marks a FIN with nothing behind it, never a reset") {
  auto loop = make_loop();
  SUBCASE("FIN: data, then EOF that needs no read") {
    TcpPair p;
    Reader reader(p.server, 3);  // reads the 3 bytes only, so the EOF stays unread
    REQUIRE(loop->add(p.server, &reader).ok());
    loop->run_once(0);
    REQUIRE(::write(p.client, "bye", 3) == 3);
    ::shutdown(p.client, SHUT_WR);
    ::usleep(10'000);  // both segments in before the single wait
    CHECK(loop->run_once(1000) == 1);
    CHECK(reader.got == "bye");
    CHECK((reader.last_events & kHangup) != 0);
    CHECK((reader.last_events & kPeerFin) != 0);
    char c;
    CHECK(::read(p.server, &c, 1) == 0);  // what kPeerFin promised
    loop->remove(p.server, &reader);
  }
  SUBCASE("reset: kHangup without kPeerFin, and read reports it") {
    TcpPair p;
    struct Recorder final : IoHandler {  // reads nothing, so the reset stays for us
      void on_io(uint32_t events) override { last_events = events; }
      uint32_t last_events = 0;
    } reader;
    REQUIRE(loop->add(p.server, &reader).ok());
    loop->run_once(0);
    linger abortive{1, 0};  // close() sends RST
    REQUIRE(::setsockopt(p.client, SOL_SOCKET, SO_LINGER, &abortive, sizeof abortive) == 0);
    ::close(p.client);
    p.client = -1;
    CHECK(loop->run_once(1000) == 1);
    CHECK((reader.last_events & kHangup) != 0);
    CHECK((reader.last_events & kPeerFin) == 0);
    char c;
    errno = 0;
    CHECK(::read(p.server, &c, 1) == -1);
    CHECK(errno == ECONNRESET);
    loop->remove(p.server, &reader);
  }
}

TEST_CASE("Reactor: edge-triggered: one event for three chunks, handler must drain") {
  auto loop = make_loop();
  SocketPair p;
  Reader reader(p.a);
  REQUIRE(loop->add(p.a, &reader).ok());
  loop->run_once(0);  // consume the initial writable edge
  reader.calls = 0;
  p.send("one,");
  p.send("two,");
  p.send("three");
  CHECK(loop->run_once(1000) == 1);
  CHECK(reader.calls == 1);
  CHECK(reader.got == "one,two,three");
  CHECK(loop->run_once(0) == 0);
  loop->remove(p.a, &reader);
}

TEST_CASE("Reactor: a handler that does not drain is not called again without new data") {
  auto loop = make_loop();
  SocketPair p;
  Reader lazy(p.a, 1);  // takes one byte per event: violates the ET contract on purpose
  REQUIRE(loop->add(p.a, &lazy).ok());
  loop->run_once(0);
  lazy.calls = 0;
  p.send("abcdef");
  CHECK(loop->run_once(1000) == 1);
  CHECK(lazy.got == "a");
  // Five bytes remain readable, yet no new edge: level-triggered would fire here.
  for (int i = 0; i < 3; ++i)
    CHECK(loop->run_once(0) == 0);
  CHECK(lazy.calls == 1);
  p.send("g");  // new data = new edge
  CHECK(loop->run_once(1000) == 1);
  CHECK(lazy.calls == 2);
  CHECK(lazy.got == "ab");
  loop->remove(p.a, &lazy);
}

TEST_CASE("Reactor: remove() mid-batch suppresses the removed handler's pending event") {
  auto loop = make_loop();
  SocketPair p1, p2;
  // Each handler, when called, removes and deletes the other: whichever epoll lists first
  // runs, and the other, though ready in the same batch, must not be called (under ASan a
  // call would also be a use-after-free).
  struct Killer final : IoHandler {
    Killer(Reactor* l, int f, Killer** other_slot, int* c)
        : loop(l), fd(f), other(other_slot), calls(c) {}
    void on_io(uint32_t) override {
      ++*calls;
      if (Killer* o = *other; o != nullptr) {
        loop->remove(o->fd, o);
        *other = nullptr;
        delete o;
      }
    }
    Reactor* loop;
    int fd;
    Killer** other;
    int* calls;
  };
  int calls = 0;
  Killer* slot[2] = {nullptr, nullptr};
  slot[0] = new Killer(loop.get(), p1.a, &slot[1], &calls);
  slot[1] = new Killer(loop.get(), p2.a, &slot[0], &calls);
  REQUIRE(loop->add(p1.a, slot[0]).ok());
  REQUIRE(loop->add(p2.a, slot[1]).ok());
  p1.send("x");
  p2.send("y");
  CHECK(loop->run_once(1000) == 1);
  CHECK(calls == 1);
  REQUIRE((slot[0] == nullptr) != (slot[1] == nullptr));
  // The removed fd is out of the epoll set: new data on both wakes only the survivor.
  p1.send("z");
  p2.send("z");
  calls = 0;
  CHECK(loop->run_once(1000) == 1);
  CHECK(calls == 1);
  Killer* survivor = slot[0] != nullptr ? slot[0] : slot[1];
  loop->remove(survivor->fd, survivor);
  delete survivor;
}

TEST_CASE("Reactor: remove_and_close() closes the fd, drops it from epoll, suppresses its event") {
  auto loop = make_loop();
  SocketPair p1, p2;
  // Whichever of the two epoll lists first closes the other one's fd mid-batch.
  struct Closer final : IoHandler {
    Closer(Reactor* l, SocketPair* theirs) : loop(l), peer(theirs) {}
    void on_io(uint32_t) override {
      ++calls;
      if (peer->a >= 0) {
        loop->remove_and_close(peer->a, victim);
        peer->a = -1;  // closed: SocketPair must not close it again
      }
    }
    Reactor* loop;
    SocketPair* peer;
    IoHandler* victim = nullptr;
    int calls = 0;
  };
  Closer c1(loop.get(), &p2), c2(loop.get(), &p1);
  c1.victim = &c2;
  c2.victim = &c1;
  int fd1 = p1.a, fd2 = p2.a;
  REQUIRE(loop->add(fd1, &c1).ok());
  REQUIRE(loop->add(fd2, &c2).ok());
  p1.send("x");
  p2.send("y");
  CHECK(loop->run_once(1000) == 1);
  CHECK(c1.calls + c2.calls == 1);  // the closed one's pending event was dropped
  int closed_fd = p1.a < 0 ? fd1 : fd2;
  errno = 0;
  CHECK(::fcntl(closed_fd, F_GETFD) == -1);
  CHECK(errno == EBADF);
  // The loop goes on with the survivor alone.
  SocketPair& alive = p1.a < 0 ? p2 : p1;
  Closer& survivor = p1.a < 0 ? c2 : c1;
  alive.send("z");
  CHECK(loop->run_once(1000) == 1);
  CHECK(survivor.calls == 2);
  loop->remove(alive.a, &survivor);
}

TEST_CASE("Reactor: defer runs after every handler of the batch, FIFO, nested too") {
  auto loop = make_loop();
  SocketPair p1, p2;
  std::vector<std::string> log;
  struct Logger final : IoHandler {
    Logger(Reactor* l, std::vector<std::string>* g, std::string n) : loop(l), log(g), name(n) {}
    void on_io(uint32_t) override {
      log->push_back(name);
      loop->defer([this] {
        log->push_back("deferred " + name);
        loop->defer([this] { log->push_back("nested " + name); });
      });
    }
    Reactor* loop;
    std::vector<std::string>* log;
    std::string name;
  };
  Logger l1(loop.get(), &log, "1"), l2(loop.get(), &log, "2");
  REQUIRE(loop->add(p1.a, &l1).ok());
  REQUIRE(loop->add(p2.a, &l2).ok());
  CHECK(loop->run_once(1000) == 2);
  REQUIRE(log.size() == 6);
  // Both handlers first (in epoll's order), then the deferred fns in the order deferred.
  CHECK(log[0].size() == 1);
  CHECK(log[1].size() == 1);
  CHECK(log[2] == "deferred " + log[0]);
  CHECK(log[3] == "deferred " + log[1]);
  CHECK(log[4] == "nested " + log[0]);
  CHECK(log[5] == "nested " + log[1]);
  loop->remove(p1.a, &l1);
  loop->remove(p2.a, &l2);
}

TEST_CASE("Reactor: post() from another thread wakes a blocked run_once") {
  auto loop = make_loop();
  std::atomic<int> ran{0};
  std::thread poster([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(30));
    loop->post([&] { ran.fetch_add(1); });
    loop->post([&] { ran.fetch_add(10); });
  });
  const int64_t start = wsedge::mono_ms();
  // -1 blocks until something happens; the two posts are that something.
  for (int i = 0; i < 10 && ran.load() != 11; ++i)
    loop->run_once(-1);
  poster.join();
  CHECK(ran.load() == 11);
  CHECK(wsedge::mono_ms() - start < 5000);
}

TEST_CASE("Reactor: posted tasks run in FIFO order; one posted by a task runs next time") {
  auto loop = make_loop();
  std::vector<int> order;
  loop->post([&] {
    order.push_back(1);
    loop->post([&] { order.push_back(3); });
  });
  loop->post([&] { order.push_back(2); });
  loop->run_once(1000);
  CHECK(order == std::vector<int>{1, 2});
  loop->run_once(1000);  // the eventfd was written again, so this does not block
  CHECK(order == std::vector<int>{1, 2, 3});
}

TEST_CASE("Reactor: stop() from another thread ends run()") {
  auto loop = make_loop();
  CHECK_FALSE(loop->stopping());
  std::thread stopper([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(30));
    loop->stop();
  });
  const int64_t start = wsedge::mono_ms();
  loop->run();  // blocks in epoll_wait(-1) until the stop's wakeup
  stopper.join();
  CHECK(loop->stopping());
  CHECK(wsedge::mono_ms() - start < 5000);
  loop->run();  // sticky: returns at once
}

TEST_CASE("Reactor: watch_signals delivers a raised SIGUSR1 on the loop") {
  auto loop = make_loop();
  std::vector<int> got;
  REQUIRE(loop->watch_signals({SIGUSR1, SIGUSR2}, [&](int signo) { got.push_back(signo); }).ok());
  // Blocked now: without the mask this raise() would terminate the test binary.
  sigset_t mask;
  REQUIRE(::pthread_sigmask(SIG_BLOCK, nullptr, &mask) == 0);
  CHECK(sigismember(&mask, SIGUSR1) == 1);
  ::raise(SIGUSR1);
  ::raise(SIGUSR2);
  for (int i = 0; i < 10 && got.size() < 2; ++i)
    loop->run_once(1000);
  CHECK(got == std::vector<int>{SIGUSR1, SIGUSR2});
  CHECK(loop->run_once(0) == 0);  // the signal fd is not counted as user I/O
}

TEST_CASE("Reactor: add() of a bad fd is an error with errno") {
  auto loop = make_loop();
  SocketPair p;
  Reader reader(p.a);
  auto r = loop->add(-1, &reader);
  CHECK_FALSE(r.ok());
  CHECK(r.error().sys_errno == EBADF);
  REQUIRE(loop->add(p.a, &reader).ok());
  auto twice = loop->add(p.a, &reader);
  CHECK_FALSE(twice.ok());
  CHECK(twice.error().sys_errno == EEXIST);
  loop->remove(p.a, &reader);
}
