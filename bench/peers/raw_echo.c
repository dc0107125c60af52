/* raw_echo — the limit for bench/compare: a TCP echo server with no WebSocket logic.
 * Single thread, edge-triggered epoll, non-blocking sockets, TCP_NODELAY. Every byte read
 * is written straight back; what the kernel refuses is queued per connection and flushed
 * on the writable edge (so 64 KiB messages stay correct). While a connection's queue is
 * above kHighWater it is not read, so a client that stops reading cannot grow memory.
 * Usage: raw_echo [--port P] (0 = a free port; first stdout line names the port).
 * The listener, accept, the queue and the loop are echo_loop.h, shared with raw_tls_echo.c. */
#define _GNU_SOURCE
#include <signal.h>

#include "echo_loop.h"

struct conn {
  int fd;
  int read_paused; /* stopped reading because the queue is full */
  int eof;         /* the peer half-closed: close once the queue is flushed */
  struct outq q;   /* bytes the kernel refused */
};

static char rbuf[kReadBuf];

static void conn_free(int ep, struct conn *c) {
  epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
  close(c->fd);
  free(c->q.buf);
  free(c);
}

/* Write p[0..n) now; queue what is refused. Returns -1 on a dead socket. */
static int send_or_queue(struct conn *c, const char *p, size_t n) {
  if (outq_size(&c->q) == 0) {
    while (n > 0) {
      ssize_t w = write(c->fd, p, n);
      if (w > 0) { p += w; n -= (size_t)w; continue; }
      if (w < 0 && errno == EINTR) continue;
      if (w < 0 && errno == EAGAIN) break;
      return -1;
    }
  }
  return n ? outq_append(&c->q, p, n) : 0;
}

/* Flush the queue until it is empty or the kernel says EAGAIN. */
static int flush_queue(struct conn *c) {
  while (outq_size(&c->q) > 0) {
    ssize_t w = write(c->fd, c->q.buf + c->q.off, outq_size(&c->q));
    if (w > 0) { c->q.off += (size_t)w; continue; }
    if (w < 0 && errno == EINTR) continue;
    if (w < 0 && errno == EAGAIN) return 0;
    return -1;
  }
  outq_release(&c->q);
  return 0;
}

/* Read until EAGAIN (edge-triggered: must drain), echoing each chunk. A short read means
 * the socket is drained, unless the peer's FIN is already in (hup): then the FIN raises no
 * further edge, so read on to see the EOF. Returns -1 when the connection is to go. */
static int on_readable(struct conn *c, int hup) {
  for (;;) {
    if (outq_size(&c->q) >= kHighWater) { c->read_paused = 1; return 0; }
    ssize_t r = read(c->fd, rbuf, sizeof rbuf);
    if (r > 0) {
      if (send_or_queue(c, rbuf, (size_t)r) < 0) return -1;
      if ((size_t)r < sizeof rbuf && !hup) return 0;
      continue;
    }
    if (r < 0 && errno == EINTR) continue;
    if (r < 0 && errno == EAGAIN) return 0;
    if (r == 0 && outq_size(&c->q) > 0) { c->eof = 1; return 0; } /* flush the rest first */
    return -1; /* EOF with nothing left to send, or an error */
  }
}

static int on_event(struct conn *c, uint32_t events) {
  int dead = 0, hup = (events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR)) != 0;
  if (events & EPOLLOUT) {
    dead = flush_queue(c) < 0 || (c->eof && c->q.len == 0);
    if (!dead && c->read_paused && !c->eof && outq_size(&c->q) < kHighWater / 2) {
      c->read_paused = 0;
      dead = on_readable(c, 1) < 0; /* reads stopped mid-stream: drain fully */
    }
  }
  if (!dead && !c->read_paused && !c->eof && (events & EPOLLIN || hup))
    dead = on_readable(c, hup) < 0;
  return dead ? -1 : 0;
}

static void on_accept(int ep, int lfd) {
  for (;;) {
    int fd = accept_next(lfd);
    if (fd < 0) return;
    struct conn *c = calloc(1, sizeof *c);
    if (!c) { close(fd); continue; }
    c->fd = fd;
    if (watch(ep, fd, c) < 0) { close(fd); free(c); }
  }
}

int main(int argc, char **argv) {
  int port = 0;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--port") && i + 1 < argc) port = atoi(argv[++i]);
    else { fprintf(stderr, "usage: raw_echo [--port P]\n"); return 2; }
  }
  signal(SIGPIPE, SIG_IGN);
  serve(listen_on(port, "raw_echo", "ws"));
}
