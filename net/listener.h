// net/listener.h — a listening TCP socket on a Reactor: accepts until EAGAIN per edge.
//
// Owns the listening fd and one spare fd (the EMFILE reserve). Accepted fds go to the
// AcceptFn, which owns them from then on. Loop thread only. Must not be destroyed from
// inside its own AcceptFn (close() there is fine; destroy it in Reactor::defer()).
// Shedding: while the AdmitFn says no (a connection limit) or the process is out of fds,
// queued clients are accepted and closed at once — they see EOF instead of hanging in the
// backlog — and counted; the log says so at most once a second, with the counts.
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
    // A listening socket handed to us already bound (systemd socket activation): adopted
    // instead of making one; host, port, reuse_port and backlog are then the giver's.
    int inherited_fd = -1;
  };
  // fd is non-blocking, close-on-exec, TCP_NODELAY (inherited from the listening socket);
  // the callee owns it. A callee that throws std::bad_alloc must have closed it: the
  // listener logs the failure and goes on accepting.
  using AcceptFn = std::function<void(int fd, const sockaddr_storage& peer)>;
  // Asked before each accept: false means no room for another connection now.
  using AdmitFn = std::function<bool()>;
  enum class Shed : uint8_t { kAtLimit, kOutOfFds };

  // `admit` empty: every connection is admitted.
  Listener(Reactor& loop, AcceptFn on_accept, AdmitFn admit = {});
  ~Listener();  // close()
  Listener(const Listener&) = delete;
  Listener& operator=(const Listener&) = delete;

  // socket, SO_REUSEADDR (+SO_REUSEPORT), TCP_NODELAY, bind, listen, register with the loop.
  // Names resolve through getaddrinfo; the first address returned is used. With
  // inherited_fd: that socket made non-blocking and TCP_NODELAY, and registered; it is ours
  // from then on (closed on failure too).
  Result<void> listen(const Options& options);
  uint16_t port() const;        // bound port; 0 when not listening
  std::string address() const;  // "127.0.0.1:PORT" or "[::1]:PORT"
  bool listening() const { return fd_ >= 0; }
  void close();  // stop accepting; pending connections are reset by the kernel

  // Connections accepted and closed at once: for either reason, or for one.
  uint64_t dropped() const { return dropped_[0] + dropped_[1]; }
  uint64_t dropped(Shed why) const { return dropped_[static_cast<int>(why)]; }

  void on_io(uint32_t events) override;

 private:
  bool accept_one();  // false when the edge is drained (or accepting must pause)
  bool shed_one();    // EMFILE: take one pending connection with the spare fd and drop it
  void count_shed(Shed why);
  void log_shed();  // one line for what was shed since the last one
  static void on_log_timer(Timer* t);

  Reactor& loop_;
  AcceptFn on_accept_;
  AdmitFn admit_;
  int fd_ = -1;
  int spare_fd_ = -1;
  sockaddr_storage bound_{};
  uint64_t dropped_[2] = {0, 0};   // by Shed
  uint64_t unlogged_[2] = {0, 0};  // shed since the last log line
  int last_errno_ = 0;             // EMFILE or ENFILE, for the log line
  Timer log_timer_;                // armed for a second after each log line
};

}  // namespace wsedge::net
