// tests/unit/socket_pair.h — a connected, non-blocking AF_UNIX stream pair for loop tests.
// `a` is the side under test, `b` plays the peer; both are closed on destruction.
#pragma once

#include <doctest/doctest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>

namespace wsedge::test {

struct SocketPair {
  int a = -1, b = -1;
  SocketPair() {
    int fds[2];
    REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds) == 0);
    a = fds[0];
    b = fds[1];
  }
  ~SocketPair() {
    if (a >= 0) ::close(a);
    if (b >= 0) ::close(b);
  }
  SocketPair(const SocketPair&) = delete;
  SocketPair& operator=(const SocketPair&) = delete;
  // The peer writes s in one call.
  void send(const std::string& s) const {
    REQUIRE(::write(b, s.data(), s.size()) == static_cast<ssize_t>(s.size()));
  }
};

}  // namespace wsedge::test
