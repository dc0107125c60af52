// net/socket.h — thin non-blocking socket syscall wrappers in wsedge's I/O vocabulary.
//
// Each call maps errno into IoResult/Result (core/result.h), retries EINTR, never logs and
// never allocates (format_address(sockaddr_storage) excepted). The caller owns every fd.
// Closed means the peer is gone: err == 0 for an orderly EOF, ECONNRESET or EPIPE when it
// reset; callers that care (close code 1006 vs. a clean close) read err.
#pragma once

#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <string>

#include "core/result.h"

namespace wsedge::net {

// The paths of read_some/write_some past their first syscall (EOF, EINTR, errno, a
// non-socket): out of line, so what every message pays is the syscall and one test.
IoResult read_some_after(int fd, void* buf, size_t len, ssize_t first);
IoResult write_some_after(int fd, const void* buf, size_t len);

// read(2). Ok(n>0) | Again (EAGAIN) | Closed (EOF: err 0; ECONNRESET: err set) | Error.
// REQUIRES: len > 0 (a zero-length read could not be told from EOF).
inline IoResult read_some(int fd, void* buf, size_t len) {
  const ssize_t n = ::read(fd, buf, len);
  if (n > 0) [[likely]]
    return IoResult::ok(static_cast<size_t>(n));
  return read_some_after(fd, buf, len, n);
}

// send(2) with MSG_NOSIGNAL, so a vanished peer yields EPIPE (-> Closed), not SIGPIPE.
// Non-sockets (pipes, in tests) fall back to write(2). Ok(n) may be short.
inline IoResult write_some(int fd, const void* buf, size_t len) {
  const ssize_t n = ::send(fd, buf, len, MSG_NOSIGNAL);
  if (n >= 0) [[likely]]
    return IoResult::ok(static_cast<size_t>(n));
  return write_some_after(fd, buf, len);
}

// sendmsg(2) with MSG_NOSIGNAL over iov[0..iovcnt); same mapping and fallback (writev).
// REQUIRES: 0 <= iovcnt <= IOV_MAX.
IoResult writev_some(int fd, const iovec* iov, int iovcnt);

Result<void> set_nonblocking(int fd);
Result<void> set_cloexec(int fd);
Result<void> set_nodelay(int fd);  // TCP_NODELAY: frames are small and latency matters
Result<void> set_reuseaddr(int fd);
Result<void> set_reuseport(int fd);

// The pending socket error (SO_ERROR), consumed by the read; 0 when none.
int socket_error(int fd);

// Bytes of a TCP socket's send queue the peer has not acknowledged yet (ioctl SIOCOUTQ,
// tcp(7)): what the kernel still holds for it. One syscall: for sampling, not per send.
// 0 when the ioctl fails (not a TCP socket).
size_t unsent_bytes(int fd);

// "1.2.3.4:80" or "[::1]:80" into buf (NUL-terminated, truncated to len). Returns the
// length written (excluding NUL). Unknown families format as "?".
size_t format_address(const sockaddr* addr, char* buf, size_t len);
std::string format_address(const sockaddr_storage& addr);

}  // namespace wsedge::net
