// net/listener.h — a listening TCP socket on a Reactor: accepts until EAGAIN per edge.
//
// Owns the listening fd and one spare fd (the EMFILE reserve). Accepted fds go to the
// AcceptFn, which owns them from then on. Loop thread only. Must not be destroyed from
// inside its own AcceptFn (close() there is fine; destroy it in Reactor::defer()).
#pragma once

#include <sys/socket.h>

#include <cstdint>
#include <functional>
#include <string>

#include "core/result.h"
#include "net/reactor.h"

namespace wsedge::net {

class Listener final : public IoHandler {
 public:
  struct Options {
    std::string host = "127.0.0.1";  // IPv4/IPv6 literal or a name ("localhost")
    uint16_t port = 0;               // 0: the kernel picks a free port; see port()
    bool reuse_port = false;         // SO_REUSEPORT: one listener per loop thread
    int backlog = 4096;
  };
  // fd is non-blocking, close-on-exec, TCP_NODELAY (inherited from the listening socket);
  // the callee owns it.
  using AcceptFn = std::function<void(int fd, const sockaddr_storage& peer)>;

  Listener(Reactor& loop, AcceptFn on_accept);
  ~Listener();  // close()
  Listener(const Listener&) = delete;
  Listener& operator=(const Listener&) = delete;

  // socket, SO_REUSEADDR (+SO_REUSEPORT), TCP_NODELAY, bind, listen, register with the loop.
  // Names resolve through getaddrinfo; the first address returned is used.
  Result<void> listen(const Options& options);
  uint16_t port() const;        // bound port; 0 when not listening
  std::string address() const;  // "127.0.0.1:PORT" or "[::1]:PORT"
  bool listening() const { return fd_ >= 0; }
  void close();  // stop accepting; pending connections are reset by the kernel

  // Connections accepted and closed at once because the process ran out of fds.
  uint64_t dropped() const { return dropped_; }

  void on_io(uint32_t events) override;

 private:
  bool accept_one();  // false when the edge is drained (or accepting must pause)
  bool shed_one();    // EMFILE: take one pending connection with the spare fd and drop it
  void warn_fd_limit(int err);

  Reactor& loop_;
  AcceptFn on_accept_;
  int fd_ = -1;
  int spare_fd_ = -1;
  sockaddr_storage bound_{};
  uint64_t dropped_ = 0;
  int64_t last_warn_ms_ = -1'000'000;
};

}  // namespace wsedge::net
