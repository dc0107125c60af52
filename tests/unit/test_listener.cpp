#include <doctest/doctest.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <dirent.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "core/clock.h"
#include "net/listener.h"
#include "net/socket.h"

using wsedge::net::Listener;
using wsedge::net::Reactor;

namespace {

// IPv6 loopback present? Checked once, before the v6 case decides whether to skip.
bool has_ipv6_loopback() {
  int fd = ::socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  sockaddr_in6 a{};
  a.sin6_family = AF_INET6;
  a.sin6_addr = in6addr_loopback;
  bool ok = ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  ::close(fd);
  if (!ok) std::fprintf(stderr, "test_listener: no IPv6 loopback here; the ::1 case is skipped\n");
  return ok;
}
const bool kHaveV6 = has_ipv6_loopback();

// A blocking client connected to host:port (loopback: completes via the backlog).
int connect_to(const char* host, uint16_t port) {
  sockaddr_storage ss{};
  socklen_t len;
  auto* in = reinterpret_cast<sockaddr_in*>(&ss);
  auto* in6 = reinterpret_cast<sockaddr_in6*>(&ss);
  if (::inet_pton(AF_INET, host, &in->sin_addr) == 1) {
    in->sin_family = AF_INET;
    in->sin_port = htons(port);
    len = sizeof *in;
  } else {
    REQUIRE(::inet_pton(AF_INET6, host, &in6->sin6_addr) == 1);
    in6->sin6_family = AF_INET6;
    in6->sin6_port = htons(port);
    len = sizeof *in6;
  }
  int fd = ::socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  REQUIRE(fd >= 0);
  REQUIRE(::connect(fd, reinterpret_cast<sockaddr*>(&ss), len) == 0);
  return fd;
}

// Waits until fd is readable (bounded) and reads; returns the read(2) result, errno in *err.
ssize_t read_within(int fd, char* buf, size_t len, int timeout_ms, int* err) {
  pollfd p{fd, POLLIN, 0};
  *err = 0;
  if (::poll(&p, 1, timeout_ms) != 1) {
    *err = ETIMEDOUT;
    return -1;
  }
  ssize_t n = ::read(fd, buf, len);
  if (n < 0) *err = errno;
  return n;
}

struct Accepted {
  std::vector<int> fds;
  std::vector<std::string> peers;
  ~Accepted() {
    for (int fd : fds)
      ::close(fd);
  }
};

std::unique_ptr<Reactor> make_loop() {
  auto r = Reactor::create();
  REQUIRE(r.ok());
  return std::move(r.value());
}

// Port 0 listener on host; connects `clients` before running the loop once, so all of
// them sit in the backlog behind a single readable edge.
void burst_accept(const char* host, const char* expect_prefix, int clients) {
  auto loop = make_loop();
  Accepted acc;
  Listener listener(*loop, [&](int fd, const sockaddr_storage& peer) {
    acc.fds.push_back(fd);
    acc.peers.push_back(wsedge::net::format_address(peer));
  });
  Listener::Options opt;
  opt.host = host;
  REQUIRE(listener.listen(opt).ok());
  REQUIRE(listener.port() != 0);
  CHECK(listener.address() == expect_prefix + std::to_string(listener.port()));
  std::vector<int> cfds;
  for (int i = 0; i < clients; ++i)
    cfds.push_back(connect_to(host, listener.port()));
  // Let the last handshake ACK reach the accept queue before the single wait.
  ::usleep(20'000);
  CHECK(loop->run_once(1000) == 1);                       // one edge ...
  CHECK(acc.fds.size() == static_cast<size_t>(clients));  // ... drained to EAGAIN
  for (int fd : acc.fds) {
    CHECK((::fcntl(fd, F_GETFL) & O_NONBLOCK) != 0);
    CHECK((::fcntl(fd, F_GETFD) & FD_CLOEXEC) != 0);
    int v = 0;
    socklen_t len = sizeof v;
    ::getsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &v, &len);
    CHECK(v != 0);
  }
  for (const std::string& p : acc.peers)
    CHECK(p.rfind(expect_prefix, 0) == 0);
  // The accepted ends really are the clients' peers.
  REQUIRE(::write(acc.fds[0], "hi", 2) == 2);
  bool someone_heard = false;
  for (int fd : cfds) {
    char buf[4];
    if (::recv(fd, buf, sizeof buf, MSG_DONTWAIT) == 2) someone_heard = true;
    ::close(fd);
  }
  CHECK(someone_heard);
}

}  // namespace

TEST_CASE("Listener: 127.0.0.1 port 0, a burst of clients accepted on one edge") {
  burst_accept("127.0.0.1", "127.0.0.1:", 8);
}

TEST_CASE("Listener: ::1 port 0, a burst of clients accepted on one edge" *
          doctest::skip(!kHaveV6)) {
  burst_accept("::1", "[::1]:", 8);
}

TEST_CASE("Listener: names resolve; bad hosts and busy ports are errors") {
  auto loop = make_loop();
  Listener a(*loop, [](int fd, const sockaddr_storage&) { ::close(fd); });
  Listener::Options opt;
  opt.host = "localhost";
  REQUIRE(a.listen(opt).ok());
  CHECK(a.port() != 0);
  CHECK(a.listening());
  auto again = a.listen(opt);
  CHECK_FALSE(again.ok());

  Listener b(*loop, [](int fd, const sockaddr_storage&) { ::close(fd); });
  Listener::Options taken;
  taken.host = a.address().rfind('[', 0) == 0 ? "::1" : "127.0.0.1";
  taken.port = a.port();
  auto busy = b.listen(taken);
  CHECK_FALSE(busy.ok());
  CHECK(busy.error().sys_errno == EADDRINUSE);
  CHECK_FALSE(b.listening());

  Listener c(*loop, [](int fd, const sockaddr_storage&) { ::close(fd); });
  Listener::Options bad;
  bad.host = "no.such.host.invalid";
  CHECK_FALSE(c.listen(bad).ok());

  a.close();
  CHECK_FALSE(a.listening());
  CHECK(a.port() == 0);
}

TEST_CASE("Listener: SO_REUSEPORT lets two listeners share a port") {
  auto loop = make_loop();
  auto drop = [](int fd, const sockaddr_storage&) { ::close(fd); };
  Listener a(*loop, drop), b(*loop, drop);
  Listener::Options opt;
  opt.reuse_port = true;
  REQUIRE(a.listen(opt).ok());
  opt.port = a.port();
  CHECK(b.listen(opt).ok());
  CHECK(b.port() == a.port());
}

TEST_CASE("Listener: close() from inside the accept callback stops accepting") {
  auto loop = make_loop();
  std::unique_ptr<Listener> l;
  int accepted = 0;
  l = std::make_unique<Listener>(*loop, [&](int fd, const sockaddr_storage&) {
    ++accepted;
    ::close(fd);
    l->close();  // graceful shutdown from the callback: the accept loop must notice
  });
  REQUIRE(l->listen({}).ok());
  int c1 = connect_to("127.0.0.1", l->port());
  int c2 = connect_to("127.0.0.1", l->port());
  ::usleep(20'000);
  loop->run_once(1000);
  CHECK(accepted == 1);
  ::close(c1);
  ::close(c2);
}

// Child side of the EMFILE test; returns the exit code (0 = all good).
int emfile_child(int to_parent, int from_parent) {
  ::alarm(20);  // a child stuck in a spinning accept loop must not outlive the test
  auto created = Reactor::create();
  if (!created) return 10;
  Reactor& loop = *created.value();
  int accepted = 0;
  Listener listener(loop, [&](int fd, const sockaddr_storage&) {
    ++accepted;
    [[maybe_unused]] ssize_t w = ::write(fd, "ok", 2);
    ::close(fd);
  });
  if (!listener.listen({})) return 11;
  // Lower the fd limit to just above the highest open fd, then fill every free slot.
  int highest = 0;
  if (DIR* d = ::opendir("/proc/self/fd")) {
    while (dirent* e = ::readdir(d))
      highest = std::max(highest, std::atoi(e->d_name));
    ::closedir(d);
  }
  rlimit lim{static_cast<rlim_t>(highest) + 8, static_cast<rlim_t>(highest) + 8};
  if (::setrlimit(RLIMIT_NOFILE, &lim) != 0) return 12;
  std::vector<int> filler;
  for (int fd; (fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC)) >= 0;)
    filler.push_back(fd);
  if (errno != EMFILE || filler.size() < 4) return 13;
  uint16_t port = listener.port();
  if (::write(to_parent, &port, sizeof port) != sizeof port) return 14;

  const int64_t deadline = wsedge::mono_ms() + 5000;
  int events = 0, iterations = 0;
  while (listener.dropped() < 5 && wsedge::mono_ms() < deadline) {
    events += loop.run_once(20);
    ++iterations;
  }
  if (listener.dropped() != 5 || accepted != 0) return 20;
  // Give fds back: the listener must still be alive and accept normally.
  for (int i = 0; i < 4; ++i)
    ::close(filler[i]);
  if (::write(to_parent, "R", 1) != 1) return 15;
  while (accepted < 1 && wsedge::mono_ms() < deadline) {
    events += loop.run_once(20);
    ++iterations;
  }
  if (accepted != 1) return 21;
  // No spinning: one edge per client burst, not one per retry.
  if (events > 12) return 22;
  rusage ru{};
  ::getrusage(RUSAGE_SELF, &ru);
  int64_t cpu_ms = (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000 +
                   (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1000;
  if (cpu_ms > 2000) return 23;
  char sync;
  [[maybe_unused]] ssize_t r = ::read(from_parent, &sync, 1);
  (void)iterations;
  return 0;
}

TEST_CASE("Listener: out of fds (EMFILE) it sheds queued clients, does not spin, survives") {
  int up[2], down[2];
  REQUIRE(::pipe2(up, O_CLOEXEC) == 0);
  REQUIRE(::pipe2(down, O_CLOEXEC) == 0);
  pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    ::close(up[0]);
    ::close(down[1]);
    std::fflush(stderr);
    ::_exit(emfile_child(up[1], down[0]));
  }
  ::close(up[1]);
  ::close(down[0]);
  uint16_t port = 0;
  pollfd pf{up[0], POLLIN, 0};
  REQUIRE(::poll(&pf, 1, 5000) == 1);
  REQUIRE(::read(up[0], &port, sizeof port) == sizeof port);
  std::vector<int> clients;
  for (int i = 0; i < 5; ++i)
    clients.push_back(connect_to("127.0.0.1", port));
  for (int fd : clients) {
    char buf[8];
    int err = 0;
    ssize_t n = read_within(fd, buf, sizeof buf, 3000, &err);
    CAPTURE(err);
    CHECK((n == 0 || (n < 0 && err == ECONNRESET)));  // shed: closed, not left hanging
    ::close(fd);
  }
  char ready = 0;
  REQUIRE(::poll(&pf, 1, 5000) == 1);
  REQUIRE(::read(up[0], &ready, 1) == 1);
  int late = connect_to("127.0.0.1", port);
  char buf[4] = {};
  int err = 0;
  CHECK(read_within(late, buf, sizeof buf, 3000, &err) == 2);
  CHECK(std::string(buf, 2) == "ok");
  ::close(late);
  REQUIRE(::write(down[1], "x", 1) == 1);
  int status = 0;
  pid_t done = 0;
  for (int i = 0; i < 500 && done == 0; ++i) {  // bounded wait: a spinning child is killed
    done = ::waitpid(pid, &status, WNOHANG);
    if (done == 0) ::usleep(10'000);
  }
  if (done == 0) {
    ::kill(pid, SIGKILL);
    ::waitpid(pid, &status, 0);
    FAIL("EMFILE child did not finish: the listener spun or hung");
  }
  CHECK(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
  ::close(up[0]);
  ::close(down[1]);
}
