/* libwebsockets echo server, a peer in bench/compare. One lws context serviced on one
 * thread; every path upgrades and echoes each message with its opcode. Messages arrive
 * in chunks (lws's rx buffer), are assembled per session, queued, and written one per
 * WRITEABLE callback as lws requires. No extensions (no permessage-deflate), UTF-8
 * validated like wsedge, 64 MiB max message; a session queueing more than 4 MiB stops
 * reading until it drains. With --tls-cert/--tls-key: wss:// (lws's OpenSSL backend).
 * Usage: lws_echo [--port P] [--tls-cert FILE --tls-key FILE]; the first stdout line names
 * the port. */
#include <libwebsockets.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { kMaxMessage = 64 * 1024 * 1024, kHighWater = 4 * 1024 * 1024 };

struct msg {
  struct msg *next;
  size_t len, cap;
  int binary;
  unsigned char *data; /* LWS_PRE bytes of headroom, then the payload */
};

struct session {
  struct msg *head, *tail; /* complete messages waiting to be written */
  struct msg *rx;          /* the message being assembled */
  size_t queued;
  int paused;
};

static volatile sig_atomic_t interrupted;

static void msg_free(struct msg *m) {
  if (m) free(m->data);
  free(m);
}

static int rx_append(struct session *s, const void *in, size_t len, int binary) {
  struct msg *m = s->rx;
  if (!m) {
    m = calloc(1, sizeof *m);
    if (!m) return -1;
    m->binary = binary;
    s->rx = m;
  }
  if (m->len + len > kMaxMessage) return -1;
  if (m->len + len > m->cap) {
    size_t cap = m->cap ? m->cap * 2 : 256;
    while (cap < m->len + len) cap *= 2;
    unsigned char *nd = realloc(m->data, LWS_PRE + cap);
    if (!nd) return -1;
    m->data = nd;
    m->cap = cap;
  }
  if (len) memcpy(m->data + LWS_PRE + m->len, in, len);
  m->len += len;
  return 0;
}

static void rx_complete(struct lws *wsi, struct session *s) {
  struct msg *m = s->rx;
  s->rx = NULL;
  if (!m->data && !(m->data = malloc(LWS_PRE))) { free(m); return; }
  if (s->tail) s->tail->next = m; else s->head = m;
  s->tail = m;
  s->queued += m->len;
  if (!s->paused && s->queued > kHighWater) { s->paused = 1; lws_rx_flow_control(wsi, 0); }
  lws_callback_on_writable(wsi);
}

static int write_one(struct lws *wsi, struct session *s) {
  struct msg *m = s->head;
  if (!m) return 0;
  int n = lws_write(wsi, m->data + LWS_PRE, m->len, m->binary ? LWS_WRITE_BINARY : LWS_WRITE_TEXT);
  if (n < (int)m->len) return -1;
  s->head = m->next;
  if (!s->head) s->tail = NULL;
  s->queued -= m->len;
  msg_free(m);
  if (s->paused && s->queued < kHighWater / 2) { s->paused = 0; lws_rx_flow_control(wsi, 1); }
  if (s->head) lws_callback_on_writable(wsi);
  return 0;
}

static int callback_echo(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                         size_t len) {
  struct session *s = user;
  switch (reason) {
    case LWS_CALLBACK_ESTABLISHED:
      memset(s, 0, sizeof *s);
      break;
    case LWS_CALLBACK_RECEIVE:
      if (rx_append(s, in, len, lws_frame_is_binary(wsi)) < 0) return -1;
      if (lws_is_final_fragment(wsi) && lws_remaining_packet_payload(wsi) == 0)
        rx_complete(wsi, s);
      break;
    case LWS_CALLBACK_SERVER_WRITEABLE:
      return write_one(wsi, s);
    case LWS_CALLBACK_CLOSED:
      msg_free(s->rx);
      while (s->head) { struct msg *m = s->head; s->head = m->next; msg_free(m); }
      break;
    default:
      break;
  }
  return 0;
}

static const struct lws_protocols protocols[] = {
    {"echo", callback_echo, sizeof(struct session), 0, 0, NULL, 0},
    {NULL, NULL, 0, 0, 0, NULL, 0}};

static void on_signal(int sig) { (void)sig; interrupted = 1; }

int main(int argc, char **argv) {
  int port = 0;
  const char *cert = NULL, *key = NULL;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--port") && i + 1 < argc) port = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--tls-cert") && i + 1 < argc) cert = argv[++i];
    else if (!strcmp(argv[i], "--tls-key") && i + 1 < argc) key = argv[++i];
    else { fprintf(stderr, "usage: lws_echo [--port P] [--tls-cert FILE --tls-key FILE]\n"); return 2; }
  }
  if (!cert != !key) { fprintf(stderr, "lws_echo: --tls-cert and --tls-key go together\n"); return 2; }
  signal(SIGINT, on_signal);
  signal(SIGTERM, on_signal);
  lws_set_log_level(LLL_ERR, NULL);
  struct lws_context_creation_info info;
  memset(&info, 0, sizeof info);
  info.port = port;
  info.iface = "127.0.0.1";
  info.protocols = protocols; /* the first protocol serves clients that name none */
  info.options = LWS_SERVER_OPTION_DISABLE_IPV6 | LWS_SERVER_OPTION_VALIDATE_UTF8;
  info.count_threads = 1;
  info.fd_limit_per_thread = 0; /* follow RLIMIT_NOFILE */
  if (cert) { /* wss:// through lws's OpenSSL backend, its defaults */
    info.options |= LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
    info.ssl_cert_filepath = cert;
    info.ssl_private_key_filepath = key;
  }
  struct lws_context *ctx = lws_create_context(&info);
  if (!ctx) { fprintf(stderr, "lws_echo: lws_create_context failed\n"); return 1; }
  struct lws_vhost *vh = lws_get_vhost_by_name(ctx, "default");
  printf("libwebsockets listening on %s://127.0.0.1:%d/\n", cert ? "wss" : "ws",
         vh ? lws_get_vhost_listen_port(vh) : port);
  fflush(stdout);
  while (!interrupted && lws_service(ctx, 0) >= 0) {
  }
  lws_context_destroy(ctx);
  return 0;
}
