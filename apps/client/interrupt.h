// apps/client/interrupt.h — Ctrl-C (SIGINT) as a file descriptor the client's poll() loop
// watches, so no work happens in a signal handler: there is none.
//
// The constructor blocks SIGINT and opens a signalfd for it; a Ctrl-C then stays pending
// until take() reads it in the loop. The mask is not restored: the client exits after its
// loop, and unblocking a pending SIGINT would kill it before it reports. A SIGINT that
// whoever started the client had set to "ignore" (a shell does that for `cmd &`) stays
// ignored: fd() is then -1, which poll() skips. One per process, in the loop's thread.
#pragma once

namespace wsedge::client {

class Interrupt {
 public:
  Interrupt();
  ~Interrupt();
  Interrupt(const Interrupt&) = delete;
  Interrupt& operator=(const Interrupt&) = delete;

  // -1 when SIGINT is ignored or the signalfd could not be made (Ctrl-C then keeps its
  // default action: the client dies at once, as before the loop started).
  int fd() const { return fd_; }
  // How many SIGINTs arrived since the last call (0 if none). Two Ctrl-Cs before a read
  // count once: a blocked standard signal is pending or not, never queued twice.
  int take();

 private:
  int fd_ = -1;
};

}  // namespace wsedge::client
