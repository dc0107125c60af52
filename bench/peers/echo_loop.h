/* echo_loop.h — what raw_echo.c and raw_tls_echo.c share: the loopback listener, accepting
 * non-blocking TCP_NODELAY sockets, the per-connection queue of bytes the socket refused, and
 * the single-threaded edge-triggered epoll loop. Header-only, all static: each echo stays one
 * translation unit that the compiler sees whole, so sharing adds no call, copy or syscall to
 * the raw echo's hot path. The file that includes it (after #define _GNU_SOURCE) defines
 * struct conn and the three functions serve() calls:
 *   on_accept(ep, lfd)     accept what the listener holds (accept_next, watch);
 *   on_event(c, events)    one epoll event of a connection; < 0 when it is to go;
 *   conn_free(ep, c)       close and free it. */
#pragma once

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

enum { kReadBuf = 256 * 1024, kHighWater = 4 * 1024 * 1024, kMaxEvents = 256 };

struct conn;
static void on_accept(int ep, int lfd);
static int on_event(struct conn *c, uint32_t events);
static void conn_free(int ep, struct conn *c);

/* Bytes the socket refused, oldest first: buf[off..len) of cap; buf is NULL when empty. */
struct outq {
  char *buf;
  size_t off, len, cap;
};

static inline size_t outq_size(const struct outq *q) { return q->len - q->off; }

/* Append p[0..n): compacts before growing (moves are fine: SSL_write accepts a moved buffer
 * in SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER). Returns -1 when out of memory. */
static inline int outq_append(struct outq *q, const char *p, size_t n) {
  if (q->off > 0 && q->off == q->len) q->off = q->len = 0;
  if (q->len + n > q->cap) {
    if (q->off > 0) { /* compact before growing */
      memmove(q->buf, q->buf + q->off, q->len - q->off);
      q->len -= q->off;
      q->off = 0;
    }
    size_t cap = q->cap ? q->cap : 64 * 1024;
    while (cap < q->len + n) cap *= 2;
    char *nb = realloc(q->buf, cap);
    if (!nb) return -1;
    q->buf = nb;
    q->cap = cap;
  }
  memcpy(q->buf + q->len, p, n);
  q->len += n;
  return 0;
}

/* Once flushed: an idle connection keeps no buffer. */
static inline void outq_release(struct outq *q) {
  free(q->buf);
  q->buf = NULL;
  q->off = q->len = q->cap = 0;
}

/* The next connection of the backlog, non-blocking, with TCP_NODELAY; -1 when there is none
 * for now (EAGAIN, or EMFILE: try again on the next edge). */
static inline int accept_next(int lfd) {
  for (;;) {
    int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EINTR || errno == ECONNABORTED) continue;
      return -1;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return fd;
  }
}

/* Register fd, edge-triggered for reading and writing once and for all, with c as its data. */
static inline int watch(int ep, int fd, struct conn *c) {
  struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET, .data.ptr = c};
  return epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
}

/* Listen on 127.0.0.1:port (0: a free one) and say so on stdout's first line,
 * "NAME listening on SCHEME://127.0.0.1:PORT/". Exits 1 if the port cannot be had. */
static inline int listen_on(int port, const char *name, const char *scheme) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((unsigned short)port)};
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (bind(fd, (struct sockaddr *)&a, sizeof a) < 0 || listen(fd, 4096) < 0) {
    fprintf(stderr, "%s: bind/listen: %s\n", name, strerror(errno));
    exit(1);
  }
  socklen_t len = sizeof a;
  getsockname(fd, (struct sockaddr *)&a, &len);
  printf("%s listening on %s://127.0.0.1:%d/\n", name, scheme, ntohs(a.sin_port));
  fflush(stdout);
  return fd;
}

/* The loop: a null data.ptr is the listener; every other event goes to its connection. */
static inline void serve(int lfd) {
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
      if (on_event(c, evs[i].events) < 0) conn_free(ep, c);
    }
  }
}
