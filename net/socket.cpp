#include "net/socket.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/sockios.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <cassert>
#include <cerrno>
#include <cstdio>

namespace wsedge::net {
namespace {

// The one errno mapping every wrapper shares.
IoResult from_errno(int e) {
  switch (e) {
    case EAGAIN:
#if EWOULDBLOCK != EAGAIN
    case EWOULDBLOCK:
#endif
      return IoResult::again();
    case ECONNRESET:
    case EPIPE:
      return IoResult{IoStatus::kClosed, 0, e};
    default:
      return IoResult::error(e);
  }
}

Result<void> set_int_option(int fd, int level, int name, const char* what) {
  int one = 1;
  if (::setsockopt(fd, level, name, &one, sizeof one) != 0) return Error{what, errno};
  return {};
}

}  // namespace

IoResult read_some_after(int fd, void* buf, size_t len, ssize_t n) {
  assert(len > 0);
  for (;;) {
    if (n > 0) return IoResult::ok(static_cast<size_t>(n));
    if (n == 0) return IoResult::closed();
    if (errno != EINTR) return from_errno(errno);
    n = ::read(fd, buf, len);
  }
}

// send() failed once: errno says why.
IoResult write_some_after(int fd, const void* buf, size_t len) {
  const bool socket = errno != ENOTSOCK;  // not a socket (a pipe, in tests): write(2)
  int e = errno;
  for (;;) {
    if (socket && e != EINTR) return from_errno(e);
    ssize_t n = socket ? ::send(fd, buf, len, MSG_NOSIGNAL) : ::write(fd, buf, len);
    if (n >= 0) return IoResult::ok(static_cast<size_t>(n));
    e = errno;
    if (!socket && e != EINTR) return from_errno(e);
  }
}

IoResult writev_some(int fd, const iovec* iov, int iovcnt) {
  msghdr msg{};
  msg.msg_iov = const_cast<iovec*>(iov);  // sendmsg does not write through msg_iov
  msg.msg_iovlen = static_cast<size_t>(iovcnt);
  for (;;) {
    ssize_t n = ::sendmsg(fd, &msg, MSG_NOSIGNAL);
    if (n < 0 && errno == ENOTSOCK) n = ::writev(fd, iov, iovcnt);
    if (n >= 0) return IoResult::ok(static_cast<size_t>(n));
    if (errno != EINTR) return from_errno(errno);
  }
}

Result<void> set_nonblocking(int fd) {
  int flags = ::fcntl(fd, F_GETFL);
  if (flags < 0) return Error{"fcntl(F_GETFL)", errno};
  if (::fcntl(fd, F_SETFL, flags | O_NONBLOCK) != 0) return Error{"fcntl(F_SETFL)", errno};
  return {};
}

Result<void> set_cloexec(int fd) {
  int flags = ::fcntl(fd, F_GETFD);
  if (flags < 0) return Error{"fcntl(F_GETFD)", errno};
  if (::fcntl(fd, F_SETFD, flags | FD_CLOEXEC) != 0) return Error{"fcntl(F_SETFD)", errno};
  return {};
}

Result<void> set_nodelay(int fd) {
  return set_int_option(fd, IPPROTO_TCP, TCP_NODELAY, "setsockopt(TCP_NODELAY)");
}

Result<void> set_reuseaddr(int fd) {
  return set_int_option(fd, SOL_SOCKET, SO_REUSEADDR, "setsockopt(SO_REUSEADDR)");
}

Result<void> set_reuseport(int fd) {
  return set_int_option(fd, SOL_SOCKET, SO_REUSEPORT, "setsockopt(SO_REUSEPORT)");
}

int socket_error(int fd) {
  int err = 0;
  socklen_t len = sizeof err;
  if (::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0) return errno;
  return err;
}

size_t unsent_bytes(int fd) {
  int queued = 0;
  if (::ioctl(fd, SIOCOUTQ, &queued) != 0 || queued < 0) return 0;
  return static_cast<size_t>(queued);
}

size_t format_address(const sockaddr* addr, char* buf, size_t len) {
  char ip[INET6_ADDRSTRLEN] = "?";
  unsigned port = 0;
  int n = 0;
  if (addr->sa_family == AF_INET) {
    const auto* in = reinterpret_cast<const sockaddr_in*>(addr);
    ::inet_ntop(AF_INET, &in->sin_addr, ip, sizeof ip);
    port = ntohs(in->sin_port);
    n = std::snprintf(buf, len, "%s:%u", ip, port);
  } else if (addr->sa_family == AF_INET6) {
    const auto* in6 = reinterpret_cast<const sockaddr_in6*>(addr);
    ::inet_ntop(AF_INET6, &in6->sin6_addr, ip, sizeof ip);
    port = ntohs(in6->sin6_port);
    n = std::snprintf(buf, len, "[%s]:%u", ip, port);  // brackets: RFC 3986 §3.2.2
  } else {
    n = std::snprintf(buf, len, "?");
  }
  if (n < 0) return 0;
  return len == 0 ? 0 : (static_cast<size_t>(n) < len ? static_cast<size_t>(n) : len - 1);
}

std::string format_address(const sockaddr_storage& addr) {
  char buf[INET6_ADDRSTRLEN + 8];
  size_t n = format_address(reinterpret_cast<const sockaddr*>(&addr), buf, sizeof buf);
  return std::string(buf, n);
}

}  // namespace wsedge::net
