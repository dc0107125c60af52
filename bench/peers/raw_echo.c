/* raw_echo — the limit for bench/compare: a TCP echo server with no WebSocket logic.
 * Single thread, edge-triggered epoll, non-blocking sockets, TCP_NODELAY. Every byte read
 * is written straight back; what the kernel refuses is queued per connection and flushed
 * on the writable edge (so 64 KiB messages stay correct). While a connection's queue is
 * above kHighWater it is not read, so a client that stops reading cannot grow memory.
 * Usage: raw_echo [--port P] (0 = a free port; first stdout line names the port). */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

enum { kReadBuf = 256 * 1024, kHighWater = 4 * 1024 * 1024, kMaxEvents = 256 };

struct conn {
  int fd;
  int read_paused; /* stopped reading because the queue is full */
  int eof;         /* the peer half-closed: close once the queue is flushed */
  char *q;         /* bytes the kernel refused, oldest first; NULL when empty */
  size_t q_off, q_len, q_cap;
};

static char rbuf[kReadBuf];

static void conn_free(int ep, struct conn *c) {
  epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
  close(c->fd);
  free(c->q);
  free(c);
}

static int queue_append(struct conn *c, const char *p, size_t n) {
  if (c->q_off > 0 && c->q_off == c->q_len) c->q_off = c->q_len = 0;
  if (c->q_len + n > c->q_cap) {
    if (c->q_off > 0) { /* compact before growing */
      memmove(c->q, c->q + c->q_off, c->q_len - c->q_off);
      c->q_len -= c->q_off;
      c->q_off = 0;
    }
    size_t cap = c->q_cap ? c->q_cap : 64 * 1024;
    while (cap < c->q_len + n) cap *= 2;
    char *nq = realloc(c->q, cap);
    if (!nq) return -1;
    c->q = nq;
    c->q_cap = cap;
  }
  memcpy(c->q + c->q_len, p, n);
  c->q_len += n;
  return 0;
}

/* Write p[0..n) now; queue what is refused. Returns -1 on a dead socket. */
static int send_or_queue(struct conn *c, const char *p, size_t n) {
  if (c->q_len - c->q_off == 0) {
    while (n > 0) {
      ssize_t w = write(c->fd, p, n);
      if (w > 0) { p += w; n -= (size_t)w; continue; }
      if (w < 0 && errno == EINTR) continue;
      if (w < 0 && errno == EAGAIN) break;
      return -1;
    }
  }
  return n ? queue_append(c, p, n) : 0;
}

/* Flush the queue until it is empty or the kernel says EAGAIN. */
static int flush_queue(struct conn *c) {
  while (c->q_len - c->q_off > 0) {
    ssize_t w = write(c->fd, c->q + c->q_off, c->q_len - c->q_off);
    if (w > 0) { c->q_off += (size_t)w; continue; }
    if (w < 0 && errno == EINTR) continue;
    if (w < 0 && errno == EAGAIN) return 0;
    return -1;
  }
  free(c->q); /* an idle connection keeps no buffer */
  c->q = NULL;
  c->q_off = c->q_len = c->q_cap = 0;
  return 0;
}

/* Read until EAGAIN (edge-triggered: must drain), echoing each chunk. A short read means
 * the socket is drained, unless the peer's FIN is already in (hup): then the FIN raises no
 * further edge, so read on to see the EOF. Returns -1 when the connection is to go. */
static int on_readable(struct conn *c, int hup) {
  for (;;) {
    if (c->q_len - c->q_off >= kHighWater) { c->read_paused = 1; return 0; }
    ssize_t r = read(c->fd, rbuf, sizeof rbuf);
    if (r > 0) {
      if (send_or_queue(c, rbuf, (size_t)r) < 0) return -1;
      if ((size_t)r < sizeof rbuf && !hup) return 0;
      continue;
    }
    if (r < 0 && errno == EINTR) continue;
    if (r < 0 && errno == EAGAIN) return 0;
    if (r == 0 && c->q_len - c->q_off > 0) { c->eof = 1; return 0; } /* flush the rest first */
    return -1; /* EOF with nothing left to send, or an error */
  }
}

static void on_accept(int ep, int lfd) {
  for (;;) {
    int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EINTR || errno == ECONNABORTED) continue;
      return; /* EAGAIN, or EMFILE: try again on the next edge */
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    struct conn *c = calloc(1, sizeof *c);
    if (!c) { close(fd); continue; }
    c->fd = fd;
    struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET, .data.ptr = c};
    if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0) { close(fd); free(c); }
  }
}

static int listen_on(int port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((unsigned short)port)};
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (bind(fd, (struct sockaddr *)&a, sizeof a) < 0 || listen(fd, 4096) < 0) {
    perror("raw_echo: bind/listen");
    exit(1);
  }
  socklen_t len = sizeof a;
  getsockname(fd, (struct sockaddr *)&a, &len);
  printf("raw_echo listening on ws://127.0.0.1:%d/\n", ntohs(a.sin_port));
  fflush(stdout);
  return fd;
}

int main(int argc, char **argv) {
  int port = 0;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--port") && i + 1 < argc) port = atoi(argv[++i]);
    else { fprintf(stderr, "usage: raw_echo [--port P]\n"); return 2; }
  }
  signal(SIGPIPE, SIG_IGN);
  int lfd = listen_on(port);
  int ep = epoll_create1(EPOLL_CLOEXEC);
  struct epoll_event lev = {.events = EPOLLIN | EPOLLET, .data.ptr = NULL};
  epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &lev);
  struct epoll_event evs[kMaxEvents];
  for (;;) {
    int n = epoll_wait(ep, evs, kMaxEvents, -1);
    if (n < 0 && errno == EINTR) continue;
    for (int i = 0; i < n; i++) {
      struct conn *c = evs[i].data.ptr;
      if (!c) { on_accept(ep, lfd); continue; }
      int dead = 0, hup = (evs[i].events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR)) != 0;
      if (evs[i].events & EPOLLOUT) {
        dead = flush_queue(c) < 0 || (c->eof && c->q_len == 0);
        if (!dead && c->read_paused && !c->eof && c->q_len - c->q_off < kHighWater / 2) {
          c->read_paused = 0;
          dead = on_readable(c, 1) < 0; /* reads stopped mid-stream: drain fully */
        }
      }
      if (!dead && !c->read_paused && !c->eof && (evs[i].events & EPOLLIN || hup))
        dead = on_readable(c, hup) < 0;
      if (dead) conn_free(ep, c);
    }
  }
}
