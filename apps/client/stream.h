// apps/client/stream.h — wsedge-client's byte stream to the server: TCP, or TLS over TCP.
//
// open() resolves and connects (within a deadline), and for wss:// runs the TLS handshake
// with SNI and, unless --insecure, verification of the chain and the host name. The socket is
// non-blocking afterwards: read() returns what is there (IoResult: kAgain when nothing is),
// write_all() waits in poll() while the kernel is full. A TLS stream that ends without the
// server's close_notify reads as kClosed, with truncated() set (RFC 8446 §6.1): the loop
// decides what that costs. A tool's loop, not the server's reactor: one thread, one Stream;
// it owns the fd and the SSL.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "apps/client/options.h"
#include "core/result.h"

namespace wsedge::client {

class Stream {
 public:
  // Null and *error set (one line) when the connection or the TLS handshake fails.
  static std::unique_ptr<Stream> open(const ClientOptions& o, std::string* error);
  ~Stream();
  Stream(const Stream&) = delete;
  Stream& operator=(const Stream&) = delete;

  int fd() const { return fd_; }
  // TLS may hold decrypted bytes the socket no longer shows as readable.
  bool has_buffered() const;

  IoResult read(uint8_t* buf, size_t n);
  // false and *error set when the connection fails; waits at most timeout_ms in all.
  bool write_all(const uint8_t* p, size_t n, int timeout_ms, std::string* error);
  // Our side is done sending: TLS close_notify, then a TCP half-close (FIN).
  void shutdown_write();
  // The TLS stream ended (EOF or reset) without the server's close_notify: a truncation.
  bool truncated() const { return truncated_; }

 private:
  Stream() = default;
  bool tls_handshake(const ClientOptions& o, int timeout_ms, std::string* error);

  int fd_ = -1;
  bool truncated_ = false;
  struct Tls;
  std::unique_ptr<Tls> tls_;
};

}  // namespace wsedge::client
