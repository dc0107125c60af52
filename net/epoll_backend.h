// net/epoll_backend.h — the only door to epoll(7); everything above sees ReadyEvent.
//
// Owns the epoll fd. Each fd is registered once, edge-triggered, for read, write and peer
// half-close, tagged with its IoHandler*; wait() translates kernel events into the loop's
// kReadable/kWritable/kHangup/kPeerFin bits. Loop thread only. Never logs: errors go up as Result.
#pragma once

#include <cstdint>

#include "core/result.h"

namespace wsedge::net {

class IoHandler;

// One ready fd of a batch. handler == nullptr marks an event suppressed after the batch
// was collected (its handler was removed in the meantime: the stale-event defence).
struct ReadyEvent {
  IoHandler* handler;
  uint32_t events;  // kReadable | kWritable | kHangup | kPeerFin
};

class EpollBackend {
 public:
  static Result<EpollBackend> create();
  EpollBackend(EpollBackend&& other) noexcept : epfd_(other.epfd_) { other.epfd_ = -1; }
  EpollBackend& operator=(EpollBackend&&) = delete;
  EpollBackend(const EpollBackend&) = delete;
  ~EpollBackend();

  // EPOLL_CTL_ADD, edge-triggered, never re-armed afterwards. `interest` is kReadable,
  // kWritable or both (connections: both, plus EPOLLRDHUP; the loop's eventfd and
  // signalfd: kReadable only, or their permanent writability would wake the first wait).
  Result<void> add(int fd, IoHandler* handler, uint32_t interest);
  Result<void> remove(int fd);  // EPOLL_CTL_DEL

  // Waits up to timeout_ms (-1: no limit) and fills out[0..n). Returns n >= 0; EINTR is
  // returned as 0 events. Anything else is a broken invariant (bad epfd, bad pointer).
  Result<int> wait(ReadyEvent* out, int max, int timeout_ms);

 private:
  explicit EpollBackend(int epfd) : epfd_(epfd) {}
  int epfd_;
};

}  // namespace wsedge::net
