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
 * names the port. The listener, accept, the queue and the loop are echo_loop.h, shared with
 * raw_echo.c. */
#define _GNU_SOURCE
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <signal.h>

#include "echo_loop.h"

struct conn {
  int fd;
  SSL *ssl;
  int established;
  int read_paused; /* stopped reading because the queue is full */
  int eof;         /* the peer's close_notify: answer it once the queue is flushed */
  struct outq q;   /* plaintext the socket refused */
};

static char rbuf[kReadBuf];
static SSL_CTX *ctx;

static void conn_free(int ep, struct conn *c) {
  epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
  SSL_free(c->ssl);
  close(c->fd);
  free(c->q.buf);
  free(c);
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
  if (outq_size(&c->q) == 0) {
    ssize_t w = tls_write(c, p, n);
    if (w < 0) return -1;
    p += w;
    n -= (size_t)w;
  }
  return n ? outq_append(&c->q, p, n) : 0;
}

/* Offer the queue to SSL_write until it is empty or the socket is full. */
static int flush_queue(struct conn *c) {
  if (outq_size(&c->q) > 0) {
    ssize_t w = tls_write(c, c->q.buf + c->q.off, outq_size(&c->q));
    if (w < 0) return -1;
    c->q.off += (size_t)w;
    if (outq_size(&c->q) > 0) return 0;
  }
  outq_release(&c->q);
  return 0;
}

/* Decrypt until WANT_READ, echoing each chunk. Returns -1 when the connection is to go. */
static int on_readable(struct conn *c) {
  for (;;) {
    if (outq_size(&c->q) >= kHighWater) { c->read_paused = 1; return 0; }
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
  if (!c->eof || outq_size(&c->q) > 0) return 0;
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
    if (c->read_paused && !c->eof && outq_size(&c->q) < kHighWater / 2) {
      c->read_paused = 0;
      events |= EPOLLIN; /* reads stopped mid-stream: drain fully */
    }
  }
  if (!c->read_paused && !c->eof && (events & EPOLLIN || hup) && on_readable(c) < 0) return -1;
  return finish_if_done(c);
}

static void on_accept(int ep, int lfd) {
  for (;;) {
    int fd = accept_next(lfd);
    if (fd < 0) return;
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
    if (watch(ep, fd, c) < 0) conn_free(ep, c);
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
  ctx = server_ctx(cert, key);
  serve(listen_on(port, "raw_tls_echo", "wss"));
}
