#include "net/epoll_backend.h"

#include <sys/epoll.h>
#include <unistd.h>

#include <cerrno>

#include "net/reactor.h"

namespace wsedge::net {
namespace {

constexpr int kMaxBatch = 256;  // mirrors Reactor's ready array; checked in wait()

// nginx's rule: ERR/HUP become "readable and writable" so whichever direction the handler
// tries next meets the error in its own syscall, where it is handled anyway.
uint32_t translate(uint32_t ev) {
  // The common event, readable and/or writable with nothing else, in one test.
  if ((ev & ~static_cast<uint32_t>(EPOLLIN | EPOLLOUT)) == 0) [[likely]]
    return ((ev & EPOLLIN) ? kReadable : 0) | ((ev & EPOLLOUT) ? kWritable : 0);
  uint32_t out = 0;
  if (ev & EPOLLIN) out |= kReadable;
  if (ev & EPOLLOUT) out |= kWritable;
  if (ev & EPOLLRDHUP) out |= kReadable | kHangup;  // peer sent FIN: read() will return 0
  if (ev & (EPOLLERR | EPOLLHUP)) {
    out |= kReadable | kWritable | kHangup;
  } else if (ev & EPOLLRDHUP) {
    out |= kPeerFin;  // a FIN alone: no reset behind it to learn about from read()
  }
  return out;
}

}  // namespace

Result<EpollBackend> EpollBackend::create() {
  int fd = ::epoll_create1(EPOLL_CLOEXEC);
  if (fd < 0) return Error{"epoll_create1", errno};
  return EpollBackend(fd);
}

EpollBackend::~EpollBackend() {
  if (epfd_ >= 0) ::close(epfd_);
}

Result<void> EpollBackend::add(int fd, IoHandler* handler, uint32_t interest) {
  epoll_event ev{};
  ev.events = EPOLLRDHUP | EPOLLET;
  if (interest & kReadable) ev.events |= EPOLLIN;
  if (interest & kWritable) ev.events |= EPOLLOUT;
  ev.data.ptr = handler;
  if (::epoll_ctl(epfd_, EPOLL_CTL_ADD, fd, &ev) != 0) return Error{"epoll_ctl(ADD)", errno};
  return {};
}

Result<void> EpollBackend::remove(int fd) {
  epoll_event ev{};  // ignored by DEL, but kernels before 2.6.9 required non-null
  if (::epoll_ctl(epfd_, EPOLL_CTL_DEL, fd, &ev) != 0) return Error{"epoll_ctl(DEL)", errno};
  return {};
}

Result<int> EpollBackend::wait(ReadyEvent* out, int max, int timeout_ms) {
  // Kernel events land on the stack and are translated at once, so no epoll type ever
  // leaves this file (redis keeps its backend behind the same kind of wall).
  epoll_event events[kMaxBatch];
  if (max > kMaxBatch) max = kMaxBatch;
  int n = ::epoll_wait(epfd_, events, max, timeout_ms);
  if (n < 0) {
    if (errno == EINTR) return 0;  // a signal (e.g. a debugger): just another iteration
    return Error{"epoll_wait", errno};
  }
  for (int i = 0; i < n; ++i) {
    out[i].handler = static_cast<IoHandler*>(events[i].data.ptr);
    out[i].events = translate(events[i].events);
  }
  return n;
}

}  // namespace wsedge::net
