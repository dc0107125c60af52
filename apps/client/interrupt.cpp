#include "apps/client/interrupt.h"

#include <signal.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <cerrno>

namespace wsedge::client {

Interrupt::Interrupt() {
  struct sigaction old {};
  // An ignored SIGINT is the invoker's choice (background jobs of a script): keep it.
  if (::sigaction(SIGINT, nullptr, &old) != 0 || old.sa_handler == SIG_IGN) return;
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  // Blocked first, then read through the fd: a Ctrl-C between the two stays pending and is
  // seen by the first poll(), instead of killing the client mid-handshake-close.
  if (::sigprocmask(SIG_BLOCK, &set, nullptr) != 0) return;
  fd_ = ::signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
  if (fd_ < 0) (void)::sigprocmask(SIG_UNBLOCK, &set, nullptr);  // back to the default action
}

Interrupt::~Interrupt() {
  if (fd_ >= 0) ::close(fd_);
}

int Interrupt::take() {
  int n = 0;
  for (signalfd_siginfo info; fd_ >= 0;) {
    const ssize_t r = ::read(fd_, &info, sizeof info);
    if (r < 0 && errno == EINTR) continue;
    if (r != static_cast<ssize_t>(sizeof info)) break;  // EAGAIN: drained
    ++n;
  }
  return n;
}

}  // namespace wsedge::client
