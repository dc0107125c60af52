#include <doctest/doctest.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "net/socket.h"
#include "tests/unit/socket_pair.h"

using wsedge::test::SocketPair;

using wsedge::IoStatus;
namespace net = wsedge::net;

TEST_CASE("socket: read_some maps data, EAGAIN and EOF") {
  SocketPair p;
  char buf[16];
  CHECK(net::read_some(p.a, buf, sizeof buf).status == IoStatus::kAgain);
  auto w = net::write_some(p.b, "hello", 5);
  CHECK(w.status == IoStatus::kOk);
  CHECK(w.bytes == 5);
  auto r = net::read_some(p.a, buf, sizeof buf);
  CHECK(r.status == IoStatus::kOk);
  CHECK(std::string(buf, r.bytes) == "hello");
  ::close(p.b);
  p.b = -1;
  r = net::read_some(p.a, buf, sizeof buf);
  CHECK(r.status == IoStatus::kClosed);
  CHECK(r.err == 0);  // orderly EOF
}

TEST_CASE("socket: write to a closed peer is Closed(EPIPE), not SIGPIPE") {
  SocketPair p;
  ::close(p.b);
  p.b = -1;
  auto w = net::write_some(p.a, "x", 1);
  CHECK(w.status == IoStatus::kClosed);
  CHECK(w.err == EPIPE);
  iovec iov[1] = {{const_cast<char*>("y"), 1}};
  auto v = net::writev_some(p.a, iov, 1);
  CHECK(v.status == IoStatus::kClosed);
  CHECK(v.err == EPIPE);
}

TEST_CASE("socket: writev_some gathers, and reports Again when the peer is full") {
  SocketPair p;
  char one[] = "ab", two[] = "cde";
  iovec iov[2] = {{one, 2}, {two, 3}};
  auto v = net::writev_some(p.a, iov, 2);
  CHECK(v.status == IoStatus::kOk);
  CHECK(v.bytes == 5);
  char buf[8];
  auto r = net::read_some(p.b, buf, sizeof buf);
  CHECK(std::string(buf, r.bytes) == "abcde");
  std::string big(64 * 1024, 'z');
  size_t total = 0;
  IoStatus last = IoStatus::kOk;
  for (int i = 0; i < 10'000 && last == IoStatus::kOk; ++i) {
    auto w = net::write_some(p.a, big.data(), big.size());
    last = w.status;
    total += w.bytes;
  }
  CHECK(last == IoStatus::kAgain);
  CHECK(total > 0);
}

TEST_CASE("socket: write_some falls back to write(2) on a pipe") {
  int fds[2];
  REQUIRE(::pipe2(fds, O_NONBLOCK | O_CLOEXEC) == 0);
  auto w = net::write_some(fds[1], "pipe", 4);
  CHECK(w.status == IoStatus::kOk);
  CHECK(w.bytes == 4);
  char buf[8];
  auto r = net::read_some(fds[0], buf, sizeof buf);
  CHECK(std::string(buf, r.bytes) == "pipe");
  ::close(fds[0]);
  ::close(fds[1]);
}

TEST_CASE("socket: read_some on a bad fd is Error(EBADF)") {
  char buf[4];
  auto r = net::read_some(-1, buf, sizeof buf);
  CHECK(r.status == IoStatus::kError);
  CHECK(r.err == EBADF);
}

TEST_CASE("socket: options set and read back") {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  REQUIRE(fd >= 0);
  CHECK(net::set_nonblocking(fd).ok());
  CHECK((::fcntl(fd, F_GETFL) & O_NONBLOCK) != 0);
  CHECK(net::set_cloexec(fd).ok());
  CHECK((::fcntl(fd, F_GETFD) & FD_CLOEXEC) != 0);
  CHECK(net::set_nodelay(fd).ok());
  int v = 0;
  socklen_t len = sizeof v;
  ::getsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &v, &len);
  CHECK(v != 0);
  CHECK(net::set_reuseaddr(fd).ok());
  CHECK(net::set_reuseport(fd).ok());
  CHECK(net::socket_error(fd) == 0);
  ::close(fd);
  auto bad = net::set_nodelay(-1);
  CHECK_FALSE(bad.ok());
  CHECK(bad.error().sys_errno == EBADF);
}

TEST_CASE("socket: format_address for IPv4, IPv6 and truncation") {
  struct Row {
    const char* name;
    int family;
    const char* ip;
    uint16_t port;
    const char* expect;
  };
  const Row rows[] = {
      {"v4 loopback", AF_INET, "127.0.0.1", 9001, "127.0.0.1:9001"},
      {"v4 any port 0", AF_INET, "0.0.0.0", 0, "0.0.0.0:0"},
      {"v6 loopback", AF_INET6, "::1", 443, "[::1]:443"},
      {"v6 full", AF_INET6, "2001:db8::ff00:42:8329", 65535, "[2001:db8::ff00:42:8329]:65535"},
      {"v4-mapped", AF_INET6, "::ffff:10.0.0.1", 80, "[::ffff:10.0.0.1]:80"},
  };
  for (const Row& r : rows) {
    CAPTURE(r.name);
    sockaddr_storage ss{};
    if (r.family == AF_INET) {
      auto* in = reinterpret_cast<sockaddr_in*>(&ss);
      in->sin_family = AF_INET;
      in->sin_port = htons(r.port);
      REQUIRE(::inet_pton(AF_INET, r.ip, &in->sin_addr) == 1);
    } else {
      auto* in6 = reinterpret_cast<sockaddr_in6*>(&ss);
      in6->sin6_family = AF_INET6;
      in6->sin6_port = htons(r.port);
      REQUIRE(::inet_pton(AF_INET6, r.ip, &in6->sin6_addr) == 1);
    }
    CHECK(net::format_address(ss) == r.expect);
    char small[6];
    size_t n = net::format_address(reinterpret_cast<sockaddr*>(&ss), small, sizeof small);
    CHECK(n == 5);
    CHECK(std::string(small) == std::string(r.expect).substr(0, 5));
  }
  sockaddr_storage unix_addr{};
  unix_addr.ss_family = AF_UNIX;
  CHECK(net::format_address(unix_addr) == "?");
}
