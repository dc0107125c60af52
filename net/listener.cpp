#include "net/listener.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <new>

#include "core/log.h"
#include "net/socket.h"

namespace wsedge::net {
namespace {

// Literal addresses skip the resolver (and its files and sockets) entirely.
Result<void> resolve(const std::string& host, uint16_t port, sockaddr_storage* out,
                     socklen_t* len) {
  std::memset(out, 0, sizeof *out);
  auto* in = reinterpret_cast<sockaddr_in*>(out);
  auto* in6 = reinterpret_cast<sockaddr_in6*>(out);
  if (::inet_pton(AF_INET, host.c_str(), &in->sin_addr) == 1) {
    in->sin_family = AF_INET;
    in->sin_port = htons(port);
    *len = sizeof *in;
    return {};
  }
  if (::inet_pton(AF_INET6, host.c_str(), &in6->sin6_addr) == 1) {
    in6->sin6_family = AF_INET6;
    in6->sin6_port = htons(port);
    *len = sizeof *in6;
    return {};
  }
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE;
  addrinfo* res = nullptr;
  // getaddrinfo's error space is EAI_*, not errno: report it without an errno.
  if (::getaddrinfo(host.c_str(), nullptr, &hints, &res) != 0 || res == nullptr) {
    return Error{"getaddrinfo", 0};
  }
  std::memcpy(out, res->ai_addr, res->ai_addrlen);
  *len = res->ai_addrlen;
  ::freeaddrinfo(res);
  if (out->ss_family == AF_INET) in->sin_port = htons(port);
  if (out->ss_family == AF_INET6) in6->sin6_port = htons(port);
  return {};
}

int open_spare() {
  return ::open("/dev/null", O_RDONLY | O_CLOEXEC);
}

}  // namespace

Listener::Listener(Reactor& loop, AcceptFn on_accept, AdmitFn admit)
    : loop_(loop),
      on_accept_(std::move(on_accept)),
      admit_(std::move(admit)),
      log_timer_(&Listener::on_log_timer, this) {}

Listener::~Listener() {
  log_shed();  // what the pending summary line would have said
  loop_.disarm(log_timer_);
  close();
}

Result<void> Listener::listen(const Options& options) {
  if (fd_ >= 0) return Error{"listen: already listening", 0};
  int fd = options.inherited_fd;
  Result<void> r;
  if (fd >= 0) {
    // Bound and listening already (socket activation): only our per-socket settings.
    r = set_nonblocking(fd);
    if (r) r = set_cloexec(fd);
    if (r) r = set_nodelay(fd);
  } else {
    sockaddr_storage addr;
    socklen_t len = 0;
    if (auto res = resolve(options.host, options.port, &addr, &len); !res) return res;
    fd = ::socket(addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) return Error{"socket", errno};
    // Each failure below must close fd, so collect the first error and close once.
    r = set_reuseaddr(fd);
    if (r && options.reuse_port) r = set_reuseport(fd);
    // Linux copies TCP_NODELAY from the listening socket to every socket accept4 returns:
    // set once here instead of one setsockopt per connection.
    if (r) r = set_nodelay(fd);
    if (r && ::bind(fd, reinterpret_cast<sockaddr*>(&addr), len) != 0) r = Error{"bind", errno};
    if (r && ::listen(fd, options.backlog) != 0) r = Error{"listen", errno};
  }
  socklen_t blen = sizeof bound_;
  if (r && ::getsockname(fd, reinterpret_cast<sockaddr*>(&bound_), &blen) != 0) {
    r = Error{"getsockname", errno};
  }
  if (r) {
    spare_fd_ = open_spare();
    if (spare_fd_ < 0) r = Error{"open(/dev/null) for the spare fd", errno};
  }
  if (r) r = loop_.add(fd, this);
  if (!r) {
    ::close(fd);
    if (spare_fd_ >= 0) ::close(spare_fd_);
    spare_fd_ = -1;
    return r;
  }
  fd_ = fd;
  return {};
}

uint16_t Listener::port() const {
  if (fd_ < 0) return 0;
  if (bound_.ss_family == AF_INET6) {
    return ntohs(reinterpret_cast<const sockaddr_in6*>(&bound_)->sin6_port);
  }
  return ntohs(reinterpret_cast<const sockaddr_in*>(&bound_)->sin_port);
}

std::string Listener::address() const {
  return fd_ < 0 ? std::string() : format_address(bound_);
}

void Listener::close() {
  if (fd_ < 0) return;
  loop_.remove(fd_, this);
  ::close(fd_);
  fd_ = -1;
  if (spare_fd_ >= 0) ::close(spare_fd_);
  spare_fd_ = -1;
}

void Listener::on_io(uint32_t events) {
  if (!(events & kReadable)) return;  // writability means nothing on a listening socket
  // Edge-triggered: accept until EAGAIN, or the connections already queued stay there
  // unseen until the next client arrives.
  while (accept_one()) {
  }
}

bool Listener::accept_one() {
  sockaddr_storage peer;
  socklen_t len = sizeof peer;
  int fd = ::accept4(fd_, reinterpret_cast<sockaddr*>(&peer), &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
  if (fd >= 0 && admit_ && !admit_()) {
    // Full: close at once rather than leave it queued. A queued client waits for nothing
    // (and, edge-triggered, we would not hear of the backlog again until a new client),
    // and an answer such as 503 needs its request read first: an fd, a buffer and a timer
    // held for a client we have no room for — and over TLS a whole handshake.
    ::close(fd);
    count_shed(Shed::kAtLimit);
    return true;
  }
  if (fd >= 0) {
    try {
      on_accept_(fd, peer);
    } catch (const std::bad_alloc&) {
      // The callee closed fd: this client sees EOF, the next may find memory again.
      WSEDGE_LOG(kWarn, "listener %s: out of memory for a new connection: closed it",
                 address().c_str());
    }
    // Re-fetch after callback: on_accept_ may have called close() (shutdown).
    return fd_ >= 0;
  }
  switch (errno) {
    case EAGAIN:
#if EWOULDBLOCK != EAGAIN
    case EWOULDBLOCK:
#endif
      return false;
    case EINTR:
    case ECONNABORTED:  // the client reset while queued: its problem, not ours
    case EPERM:         // a firewall rule refused it
    case EPROTO:
      return true;
    case EMFILE:
    case ENFILE:
      last_errno_ = errno;
      return shed_one();
    default: {
      // ENOBUFS/ENOMEM and the like: give up on this edge; retrying now would spin.
      char why[128];
      WSEDGE_LOG(kWarn, "listener %s: %s", address().c_str(),
                 describe(Error{"accept4", errno}, why, sizeof why));
      return false;
    }
  }
}

bool Listener::shed_one() {
  // Out of fds, the queued connection cannot be accepted, yet with edge-triggered epoll
  // leaving it queued means silence until the next client, and its peer waits for
  // nothing. Free the spare, accept, close at once (the peer sees EOF), take the spare
  // back (libev/nginx's reserve-fd trick).
  if (spare_fd_ < 0) spare_fd_ = open_spare();  // limit may have eased since last time
  if (spare_fd_ < 0) return false;              // no spare: stop; the next edge retries
  ::close(spare_fd_);
  int fd = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
  if (fd >= 0) {
    ::close(fd);
    count_shed(Shed::kOutOfFds);
  }
  // The slot freed above is free again either way, unless another thread took it.
  spare_fd_ = open_spare();
  // Accepted one: go on, the next accept4 meets EMFILE again and sheds the next client.
  // Failed (EAGAIN: drained; anything else): wait for the next edge.
  return fd >= 0 && spare_fd_ >= 0;
}

// Rate limit: the first shed connection after a quiet second is logged at once; later
// ones are counted and summed up in one line a second later (and so on while they last),
// so a flood of clients costs at most one line per second and no count is lost.
void Listener::count_shed(Shed why) {
  ++dropped_[static_cast<int>(why)];
  ++unlogged_[static_cast<int>(why)];
  if (!log_timer_.armed()) log_shed();
}

void Listener::log_shed() {
  uint64_t at_limit = unlogged_[0], no_fds = unlogged_[1];
  if (at_limit + no_fds == 0) return;  // a quiet second: the next one logs at once
  unlogged_[0] = unlogged_[1] = 0;
  loop_.arm_after(log_timer_, 1000);
  auto n = [](uint64_t v) { return static_cast<unsigned long long>(v); };
  if (no_fds == 0) {
    WSEDGE_LOG(kWarn,
               "listener %s: connection limit reached: closed %llu new connection(s) (%llu so far)",
               address().c_str(), n(at_limit), n(dropped()));
  } else {
    WSEDGE_LOG(
        kWarn,
        "listener %s: accept4: %s: closed %llu new connection(s), %llu more at the connection "
        "limit (%llu so far)",
        address().c_str(), std::strerror(last_errno_), n(no_fds), n(at_limit), n(dropped()));
  }
}

void Listener::on_log_timer(Timer* t) {
  static_cast<Listener*>(t->arg())->log_shed();
}

}  // namespace wsedge::net
