// apps/socket_activation.cpp — reading LISTEN_PID / LISTEN_FDS and checking fd 3.
#include "apps/socket_activation.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstdlib>
#include <cstring>

namespace wsedge::app {

namespace {

constexpr int kFirstFd = 3;  // SD_LISTEN_FDS_START

// A decimal number with nothing around it.
bool parse_long(const char* s, long* out) {
  if (s == nullptr || *s == '\0') return false;
  const char* end = s + std::strlen(s);
  auto [p, ec] = std::from_chars(s, end, *out);
  return ec == std::errc() && p == end;
}

}  // namespace

SocketActivation parse_socket_activation(const char* listen_pid, const char* listen_fds,
                                         long self) {
  SocketActivation a;
  long pid = 0;
  // sd_listen_fds(3): the fds are ours only if LISTEN_PID is our pid; else, or unset, they
  // were meant for another process (a parent that did not clean up) and we bind as usual.
  if (!parse_long(listen_pid, &pid) || pid != self) return a;
  a.active = true;
  long n = 0;
  if (!parse_long(listen_fds, &n) || n < 0) {
    a.error = "LISTEN_FDS is not a number of sockets";
    return a;
  }
  if (n != 1) {
    a.error = "socket activation: wsedge takes exactly one listening socket (LISTEN_FDS=" +
              std::to_string(n) + ")";
    return a;
  }
  a.fd = kFirstFd;
  return a;
}

SocketActivation take_socket_activation() {
  SocketActivation a =
      parse_socket_activation(std::getenv("LISTEN_PID"), std::getenv("LISTEN_FDS"), ::getpid());
  if (!a.active) return a;
  ::unsetenv("LISTEN_PID");
  ::unsetenv("LISTEN_FDS");
  ::unsetenv("LISTEN_FDNAMES");
  if (!a.error.empty()) return a;
  int type = 0, listening = 0;
  socklen_t len = sizeof type;
  sockaddr_storage addr{};
  socklen_t alen = sizeof addr;
  if (::getsockopt(a.fd, SOL_SOCKET, SO_TYPE, &type, &len) != 0) {
    a.error = std::string("socket activation: fd 3: ") + std::strerror(errno);
  } else if (len = sizeof listening;
             type != SOCK_STREAM ||
             ::getsockopt(a.fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &len) != 0 || !listening) {
    a.error = "socket activation: fd 3 is not a listening stream socket";
  } else if (::getsockname(a.fd, reinterpret_cast<sockaddr*>(&addr), &alen) != 0 ||
             (addr.ss_family != AF_INET && addr.ss_family != AF_INET6)) {
    a.error = "socket activation: fd 3 is not a TCP socket (IPv4 or IPv6)";
  } else if (::fcntl(a.fd, F_SETFD, FD_CLOEXEC) != 0) {
    a.error = std::string("socket activation: fd 3: ") + std::strerror(errno);
  }
  if (!a.error.empty()) a.fd = -1;
  return a;
}

std::string bound_host(int fd) {
  sockaddr_storage addr{};
  socklen_t len = sizeof addr;
  char text[INET6_ADDRSTRLEN] = {};
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) return {};
  const void* ip =
      addr.ss_family == AF_INET6
          ? static_cast<const void*>(&reinterpret_cast<sockaddr_in6*>(&addr)->sin6_addr)
          : static_cast<const void*>(&reinterpret_cast<sockaddr_in*>(&addr)->sin_addr);
  if (::inet_ntop(addr.ss_family, ip, text, sizeof text) == nullptr) return {};
  return text;
}

}  // namespace wsedge::app
