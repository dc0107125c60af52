/* raw_tls_echo — the TLS floor for bench/compare: raw_echo.c with OpenSSL in between, and
 * no WebSocket logic. Single thread, edge-triggered epoll, non-blocking sockets,
 * TCP_NODELAY. The TLS settings are wsedge's (net/tls.cpp): TLS 1.2 and 1.3, ECDHE + AEAD,
 * X25519/P-256/P-384, stateless session tickets, no session cache, no renegotiation,
 * read-ahead, released idle buffers, partial writes. Every byte decrypted is encrypted
 * straight back; what the socket refuses is queued per connection and offered to
 * SSL_write again on the writable edge (moving-buffer mode, so the queue may compact and
 * grow). Reads drain until WANT_READ, which covers what OpenSSL already holds
 * (SSL_pending): edge-triggered epoll raises no new edge for it. While a connection's
 * queue is above kHighWater it is not read. A close_notify from the client (wsload --raw
 * over wss) is answered with one once the queue is flushed, then the socket is closed.
 * Usage: raw_tls_echo --tls-cert FILE --tls-key FILE [--port P]; the first stdout line
 * names the port. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
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
  SSL *ssl;
  int established;
  int read_paused; /* stopped reading because the queue is full */
  int eof;         /* the peer's close_notify: answer it once the queue is flushed */
  char *q;         /* plaintext the socket refused, oldest first; NULL when empty */
  size_t q_off, q_len, q_cap;
};

static char rbuf[kReadBuf];

static void conn_free(int ep, struct conn *c) {
  epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
  SSL_free(c->ssl);
  close(c->fd);
  free(c->q);
  free(c);
}

static int queue_append(struct conn *c, const char *p, size_t n) {
  if (c->q_off > 0 && c->q_off == c->q_len) c->q_off = c->q_len = 0;
  if (c->q_len + n > c->q_cap) {
    if (c->q_off > 0) { /* compact before growing: SSL_write accepts a moved buffer */
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

/* SSL_write p[0..n) a record at a time. Returns bytes written, or -1 on a dead stream;
 * stops short on WANT_WRITE (or WANT_READ). */
static ssize_t tls_write(struct conn *c, const char *p, size_t n) {
  size_t done = 0;
  while (done < n) {
    size_t w = 0;
    ERR_clear_error();
    if (SSL_write_ex(c->ssl, p + done, n - done, &w) == 1) {
      done += w;
      continue;
    }
    int e = SSL_get_error(c->ssl, 0);
    if (e == SSL_ERROR_WANT_WRITE || e == SSL_ERROR_WANT_READ) break;
    return -1;
  }
  return (ssize_t)done;
}

/* Write p[0..n) now; queue what is refused. Returns -1 on a dead stream. */
static int send_or_queue(struct conn *c, const char *p, size_t n) {
  if (c->q_len - c->q_off == 0) {
    ssize_t w = tls_write(c, p, n);
    if (w < 0) return -1;
    p += w;
    n -= (size_t)w;
  }
  return n ? queue_append(c, p, n) : 0;
}

/* Offer the queue to SSL_write until it is empty or the socket is full. */
static int flush_queue(struct conn *c) {
  if (c->q_len - c->q_off > 0) {
    ssize_t w = tls_write(c, c->q + c->q_off, c->q_len - c->q_off);
    if (w < 0) return -1;
    c->q_off += (size_t)w;
    if (c->q_len - c->q_off > 0) return 0;
  }
  free(c->q); /* an idle connection keeps no buffer */
  c->q = NULL;
  c->q_off = c->q_len = c->q_cap = 0;
  return 0;
}

/* Decrypt until WANT_READ, echoing each chunk. Returns -1 when the connection is to go. */
static int on_readable(struct conn *c) {
  for (;;) {
    if (c->q_len - c->q_off >= kHighWater) { c->read_paused = 1; return 0; }
    size_t r = 0;
    ERR_clear_error();
    if (SSL_read_ex(c->ssl, rbuf, sizeof rbuf, &r) == 1) {
      if (send_or_queue(c, rbuf, r) < 0) return -1;
      continue;
    }
    int e = SSL_get_error(c->ssl, 0);
    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) return 0;
    if (e == SSL_ERROR_ZERO_RETURN) { c->eof = 1; return 0; } /* close_notify */
    return -1; /* TCP EOF without close_notify, a reset, or a broken record */
  }
}

/* The client's close_notify is answered (RFC 8446 §6.1) once everything is echoed. */
static int finish_if_done(struct conn *c) {
  if (!c->eof || c->q_len - c->q_off > 0) return 0;
  SSL_shutdown(c->ssl);
  return -1;
}

static int on_event(struct conn *c, uint32_t events) {
  if (!c->established) {
    ERR_clear_error();
    int r = SSL_do_handshake(c->ssl);
    if (r != 1) {
      int e = SSL_get_error(c->ssl, r);
      return e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE ? 0 : -1;
    }
    c->established = 1;
    events |= EPOLLIN; /* read-ahead may hold the first records already */
  }
  int hup = (events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR)) != 0;
  if (events & EPOLLOUT) {
    if (flush_queue(c) < 0) return -1;
    if (c->read_paused && !c->eof && c->q_len - c->q_off < kHighWater / 2) {
      c->read_paused = 0;
      events |= EPOLLIN; /* reads stopped mid-stream: drain fully */
    }
  }
  if (!c->read_paused && !c->eof && (events & EPOLLIN || hup) && on_readable(c) < 0) return -1;
  return finish_if_done(c);
}

static void on_accept(int ep, int lfd, SSL_CTX *ctx) {
  for (;;) {
    int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EINTR || errno == ECONNABORTED) continue;
      return; /* EAGAIN, or EMFILE: try again on the next edge */
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    struct conn *c = calloc(1, sizeof *c);
    SSL *ssl = c ? SSL_new(ctx) : NULL;
    if (!ssl || SSL_set_fd(ssl, fd) != 1) {
      SSL_free(ssl);
      free(c);
      close(fd);
      continue;
    }
    SSL_set_accept_state(ssl);
    c->fd = fd;
    c->ssl = ssl;
    struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET, .data.ptr = c};
    if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0) conn_free(ep, c);
  }
}

static SSL_CTX *server_ctx(const char *cert, const char *key) {
  SSL_CTX *c = SSL_CTX_new(TLS_server_method());
  if (!c || SSL_CTX_set_min_proto_version(c, TLS1_2_VERSION) != 1 ||
      SSL_CTX_set_max_proto_version(c, TLS1_3_VERSION) != 1 ||
      SSL_CTX_set_cipher_list(c, "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
                                 "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
                                 "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305") != 1 ||
      SSL_CTX_set_ciphersuites(c, "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:"
                                  "TLS_CHACHA20_POLY1305_SHA256") != 1 ||
      SSL_CTX_set1_groups_list(c, "X25519:P-256:P-384") != 1 ||
      SSL_CTX_use_certificate_chain_file(c, cert) != 1 ||
      SSL_CTX_use_PrivateKey_file(c, key, SSL_FILETYPE_PEM) != 1 ||
      SSL_CTX_check_private_key(c) != 1) {
    fprintf(stderr, "raw_tls_echo: TLS setup failed: %s\n",
            ERR_reason_error_string(ERR_peek_error()) ? ERR_reason_error_string(ERR_peek_error())
                                                      : "unknown error");
    exit(2);
  }
  SSL_CTX_set_options(c, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION);
  SSL_CTX_set_mode(c, SSL_MODE_RELEASE_BUFFERS | SSL_MODE_ENABLE_PARTIAL_WRITE |
                          SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  SSL_CTX_set_read_ahead(c, 1);
  SSL_CTX_set_session_cache_mode(c, SSL_SESS_CACHE_OFF); /* tickets only */
  return c;
}

static int listen_on(int port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((unsigned short)port)};
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (bind(fd, (struct sockaddr *)&a, sizeof a) < 0 || listen(fd, 4096) < 0) {
    perror("raw_tls_echo: bind/listen");
    exit(1);
  }
  socklen_t len = sizeof a;
  getsockname(fd, (struct sockaddr *)&a, &len);
  printf("raw_tls_echo listening on wss://127.0.0.1:%d/\n", ntohs(a.sin_port));
  fflush(stdout);
  return fd;
}

int main(int argc, char **argv) {
  int port = 0;
  const char *cert = NULL, *key = NULL;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--port") && i + 1 < argc) port = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--tls-cert") && i + 1 < argc) cert = argv[++i];
    else if (!strcmp(argv[i], "--tls-key") && i + 1 < argc) key = argv[++i];
    else { cert = NULL; break; }
  }
  if (!cert || !key) {
    fprintf(stderr, "usage: raw_tls_echo --tls-cert FILE --tls-key FILE [--port P]\n");
    return 2;
  }
  signal(SIGPIPE, SIG_IGN); /* OpenSSL's socket BIO writes with write(2) */
  SSL_CTX *ctx = server_ctx(cert, key);
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
      if (!c) { on_accept(ep, lfd, ctx); continue; }
      if (on_event(c, evs[i].events) < 0) conn_free(ep, c);
    }
  }
}
