// net::Connection over a socketpair driven by a real Reactor.
#include <doctest/doctest.h>

#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <string>
#include <vector>

#include "net/connection.h"
#include "net/reactor.h"

using namespace wsedge;
using namespace wsedge::net;

namespace {

// Consumes whole lines ("...\n") and echoes each; leaves a partial line unconsumed.
struct LineEcho final : Protocol {
  std::vector<std::string> lines;
  std::vector<size_t> offered;  // data.size() of each on_data call
  bool disconnected = false;
  bool close_after_first = false;
  bool close_silently = false;  // close() inside on_data without sending anything
  bool peer_finished = false;   // close with close_peer_finished() instead of close()
  size_t blob = 0;              // with close_after_first: this many bytes more before closing
  size_t big = 0;  // each echo is followed by `big` bytes of its first char, then the line again
  int drains = 0;
  bool abort_at_once = false;  // abort() inside on_data
  TcpEnd* ended = nullptr;     // where on_disconnect writes Transport::how_ended()
  Consumed on_data(Transport& t, std::span<uint8_t> data) override {
    offered.push_back(data.size());
    if (abort_at_once) {
      t.abort();
      return data.size();
    }
    if (close_silently) {
      t.close();
      return data.size();
    }
    size_t pos = 0;
    for (;;) {
      auto* start = data.data() + pos;
      auto* nl = static_cast<uint8_t*>(std::memchr(start, '\n', data.size() - pos));
      if (nl == nullptr) break;
      size_t n = static_cast<size_t>(nl - start) + 1;
      lines.emplace_back(reinterpret_cast<char*>(start), n);
      t.send({start, n});
      if (big > 0) {
        // Above Transport::kMaxCorkedCopy: sent from this memory, behind the corked echo.
        std::vector<uint8_t> bytes(big, start[0]);
        t.send(bytes);
        t.send({start, n});
      }
      pos += n;
      if (close_after_first) {
        if (blob > 0) {
          std::vector<uint8_t> bytes(blob, 'b');
          t.send(bytes);
        }
        if (peer_finished) {
          t.close_peer_finished();
        } else {
          t.close();
        }
        return data.size();
      }
    }
    return pos;
  }
  void on_drain(Transport&) override { ++drains; }
  void on_disconnect(Transport& t) override {
    disconnected = true;
    if (ended != nullptr) *ended = t.how_ended();
  }
};

struct Owner final : ConnectionOwner {
  int closed = 0;
  void on_connection_closed(Connection* c) override {
    ++closed;
    delete c;
  }
};

struct Pair {
  std::unique_ptr<Reactor> loop;
  Owner owner;
  std::unique_ptr<ConnectionContext> context;
  Connection* conn = nullptr;
  LineEcho* proto = nullptr;
  int peer = -1;
  TcpEnd ended = TcpEnd::kOpen;  // how_ended() as the protocol heard it in on_disconnect

  explicit Pair(ConnectionOptions options = {}) {
    auto r = Reactor::create();
    REQUIRE(r.ok());
    loop = std::move(r.value());
    int sv[2];
    REQUIRE(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) == 0);
    peer = sv[1];
    context = std::make_unique<ConnectionContext>(*loop, owner, options);
    conn = new Connection(*context, sv[0]);
    auto p = std::make_unique<LineEcho>();
    proto = p.get();
    proto->ended = &ended;
    REQUIRE(conn->start(std::move(p)).ok());
  }
  ~Pair() {
    if (owner.closed == 0) delete conn;
    ::close(peer);
  }
  void spin(int iterations = 5) {
    for (int i = 0; i < iterations; ++i)
      loop->run_once(10);
  }
  std::string read_peer() {
    std::string s;
    char buf[65536];
    for (;;) {
      ssize_t n = ::read(peer, buf, sizeof buf);
      if (n <= 0) break;
      s.append(buf, static_cast<size_t>(n));
    }
    return s;
  }
  void write_peer(const std::string& s) {
    REQUIRE(::write(peer, s.data(), s.size()) == static_cast<ssize_t>(s.size()));
  }
};

}  // namespace

TEST_CASE("Connection hands bytes to the protocol and sends its answers") {
  Pair p;
  p.write_peer("one\ntwo\n");
  p.spin();
  CHECK(p.proto->lines == std::vector<std::string>{"one\n", "two\n"});
  CHECK(p.read_peer() == "one\ntwo\n");
}

TEST_CASE("Connection keeps the unconsumed tail and offers it first next time") {
  Pair p;
  p.write_peer("par");
  p.spin();
  CHECK(p.proto->lines.empty());
  p.write_peer("tial\nrest");
  p.spin();
  REQUIRE(p.proto->lines.size() == 1);
  CHECK(p.proto->lines[0] == "partial\n");
  CHECK(p.proto->offered.back() == std::string("partial\nrest").size());
  p.write_peer("\n");
  p.spin();
  CHECK(p.proto->lines.back() == "rest\n");
  CHECK(p.read_peer() == "partial\nrest\n");
}

TEST_CASE("Connection: peer EOF finishes the connection and tells protocol and owner") {
  Pair p;
  p.write_peer("bye\n");
  ::shutdown(p.peer, SHUT_WR);
  p.spin();
  CHECK(p.owner.closed == 1);  // the owner deleted it; proto is gone with it
  CHECK(p.ended == TcpEnd::kPeerEof);
}

TEST_CASE("Connection::abort drops at once: kAborted") {
  Pair p;
  p.proto->abort_at_once = true;
  p.write_peer("x\n");
  p.spin(2);
  CHECK(p.owner.closed == 1);
  CHECK(p.ended == TcpEnd::kAborted);
}

TEST_CASE("Connection::close flushes, half-closes, and finishes on the peer's EOF") {
  Pair p;
  p.proto->close_after_first = true;
  p.write_peer("last\n");
  p.spin();
  // The answer arrived, then EOF (our write side is shut).
  CHECK(p.read_peer() == "last\n");
  char c;
  CHECK(::read(p.peer, &c, 1) == 0);
  CHECK(p.owner.closed == 0);  // still lingering: waiting for the peer's EOF
  ::shutdown(p.peer, SHUT_WR);
  p.spin();
  CHECK(p.owner.closed == 1);
  CHECK(p.ended == TcpEnd::kHalfClosed);  // RFC 6455 §7.1.1: we closed first, cleanly
}

TEST_CASE("Connection::close inside on_data with nothing to send half-closes at once") {
  ConnectionOptions o;
  o.linger_ms = 60'000;  // long: the EOF must not wait for the linger timer
  Pair p(o);
  p.proto->close_silently = true;
  p.write_peer("anything");
  p.spin(2);
  char c;
  CHECK(::read(p.peer, &c, 1) == 0);  // our write side is shut already
  ::shutdown(p.peer, SHUT_WR);
  p.spin(2);
  CHECK(p.owner.closed == 1);
}

TEST_CASE("Connection::close gives up on a silent peer after the linger timeout") {
  ConnectionOptions o;
  o.linger_ms = 30;
  Pair p(o);
  p.proto->close_after_first = true;
  p.write_peer("x\n");
  for (int i = 0; i < 20 && p.owner.closed == 0; ++i)
    p.loop->run_once(20);
  CHECK(p.owner.closed == 1);
  CHECK(p.ended == TcpEnd::kLingerExpired);
}

TEST_CASE("Connection::close_peer_finished closes at once: no half-close, no wait for EOF") {
  ConnectionOptions o;
  o.linger_ms = 60'000;  // long: nothing may wait for the timer
  Pair p(o);
  p.proto->close_after_first = true;
  p.proto->peer_finished = true;
  p.write_peer("last\n");
  p.spin(2);
  CHECK(p.owner.closed == 1);  // finished without the peer's EOF
  CHECK(p.ended == TcpEnd::kClosedAtOnce);
  CHECK(p.read_peer() == "last\n");
  char c;
  CHECK(::read(p.peer, &c, 1) == 0);  // then a clean EOF, not a reset
}

TEST_CASE("Connection::close_peer_finished sends everything queued before closing") {
  ConnectionOptions o;
  o.linger_ms = 60'000;
  Pair p(o);
  int size = 4096;
  setsockopt(p.peer, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
  const size_t blob = 4u << 20;  // far more than the socket buffers hold
  p.proto->close_after_first = true;
  p.proto->peer_finished = true;
  p.proto->blob = blob;
  p.write_peer("x\n");
  p.spin(2);
  CHECK(p.owner.closed == 0);  // the kernel refused most of it: still flushing
  CHECK(p.conn->buffered_amount() > 0);
  size_t got = 0;
  bool eof = false;
  for (int i = 0; i < 100000 && !eof; ++i) {
    char buf[65536];
    ssize_t n = ::read(p.peer, buf, sizeof buf);
    if (n > 0) got += static_cast<size_t>(n);
    if (n == 0) eof = true;
    p.spin(1);
  }
  CHECK(eof);
  CHECK(got == 2 + blob);  // "x\n" and every byte of the blob, then EOF
  CHECK(p.owner.closed == 1);
}

TEST_CASE("Connection::close_peer_finished gives up on a peer that never reads") {
  ConnectionOptions o;
  o.linger_ms = 30;
  Pair p(o);
  int size = 4096;
  setsockopt(p.peer, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
  p.proto->close_after_first = true;
  p.proto->peer_finished = true;
  p.proto->blob = 4u << 20;
  p.write_peer("x\n");
  for (int i = 0; i < 50 && p.owner.closed == 0; ++i)
    p.loop->run_once(20);
  CHECK(p.owner.closed == 1);
  CHECK(p.ended == TcpEnd::kFlushExpired);
}

TEST_CASE("Connection: answers too large to cork leave in order with the corked ones") {
  // Small answers inside on_data are copied into the cork; one above kMaxCorkedCopy is
  // written from the caller's memory after the cork is written. Two lines in one read: the
  // bytes must come out line, blob, line, for each line in turn.
  Pair p;
  p.proto->big = 100 * 1024;
  REQUIRE(p.proto->big > Transport::kMaxCorkedCopy);
  p.write_peer("a\nb\n");
  std::string want = "a\n" + std::string(p.proto->big, 'a') + "a\n" + "b\n" +
                     std::string(p.proto->big, 'b') + "b\n";
  std::string got;
  for (int i = 0; i < 200 && got.size() < want.size(); ++i) {
    p.spin(1);
    got += p.read_peer();
  }
  CHECK(got.size() == want.size());
  CHECK(got == want);
}

TEST_CASE(
    "Connection: a large answer the kernel half takes queues, and later answers queue behind it") {
  // A small send buffer makes the uncorked write partial: the rest is queued, and every
  // answer after it in the same on_data must queue behind it, not slip into the cork.
  Pair p;
  int size = 4096;
  REQUIRE(setsockopt(p.conn->fd(), SOL_SOCKET, SO_SNDBUF, &size, sizeof size) == 0);
  REQUIRE(setsockopt(p.peer, SOL_SOCKET, SO_RCVBUF, &size, sizeof size) == 0);
  p.proto->big = 64 * 1024;
  p.write_peer("x\ny\nz\n");
  std::string want;
  for (char ch : std::string("xyz"))
    want += std::string(1, ch) + "\n" + std::string(p.proto->big, ch) + std::string(1, ch) + "\n";
  std::string got;
  for (int i = 0; i < 2000 && got.size() < want.size(); ++i) {
    p.spin(1);
    got += p.read_peer();
  }
  CHECK(got.size() == want.size());
  CHECK(got == want);
}

TEST_CASE("Connection backpressure: a peer that does not read stops our reading") {
  ConnectionOptions o;
  o.high_water = 64 * 1024;
  Pair p(o);
  int size = 4096;
  setsockopt(p.peer, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
  std::string line(1023, 'x');
  line += '\n';
  // The peer writes a lot and reads nothing: echoes pile up in the connection's queue
  // until it passes the high-water mark, and then the connection stops reading.
  size_t written = 0;
  for (int round = 0; round < 200; ++round) {
    for (int i = 0; i < 16; ++i) {
      ssize_t n = ::write(p.peer, line.data(), line.size());
      if (n > 0) written += static_cast<size_t>(n);
    }
    p.spin(1);
  }
  CHECK(p.conn->buffered_amount() > o.high_water);
  CHECK(p.conn->buffered_amount() < o.high_water + 256 * 1024 + 2 * line.size());
  size_t lines_before = p.proto->lines.size();
  CHECK(lines_before * line.size() < written);  // input was left in the kernel
  // Now the peer reads everything: the queue drains, on_drain fires, reading resumes,
  // and every line written comes back.
  std::string echoed;
  for (int i = 0; i < 2000 && echoed.size() < written; ++i) {
    echoed += p.read_peer();
    p.spin(1);
  }
  CHECK(echoed.size() == written);
  CHECK(p.proto->drains >= 1);
}
