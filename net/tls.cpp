#include "net/tls.h"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "net/reactor.h"
#include "net/socket.h"

namespace wsedge::net {
namespace {

// TLS 1.2 suites: ephemeral ECDH key exchange (forward secrecy, no RSA key transport) and
// AEAD ciphers only (no CBC: Lucky 13, POODLE-style padding oracles). TLS 1.3 has only AEAD.
constexpr const char* kTls12Ciphers =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305";
constexpr const char* kTls13Suites =
    "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256";
constexpr const char* kGroups = "X25519:P-256:P-384";

// What OpenSSL said, as one short phrase ("wrong version number", "no start line"): the
// first error queued is the root cause; later ones only say which layer passed it on.
const char* openssl_reason() {
  unsigned long code = ERR_peek_error();
  if (code == 0) return "unknown error";
  const char* reason = ERR_reason_error_string(code);
  return reason != nullptr ? reason : "unknown error";
}

// RFC 7301 §3.2: answer http/1.1 when offered; a client that offers only protocols we do
// not speak gets the fatal no_application_protocol alert. No ALPN at all is fine.
int select_alpn(SSL* /*ssl*/, const unsigned char** out, unsigned char* outlen,
                const unsigned char* in, unsigned int inlen, void* /*arg*/) {
  static constexpr char kHttp11[] = "http/1.1";
  for (unsigned int i = 0; i < inlen;) {
    unsigned int n = in[i];
    if (n == 0 || i + 1 + n > inlen) break;  // malformed list: OpenSSL checked it, but be safe
    if (n == sizeof kHttp11 - 1 && std::memcmp(in + i + 1, kHttp11, n) == 0) {
      *out = in + i + 1;
      *outlen = static_cast<unsigned char>(n);
      return SSL_TLSEXT_ERR_OK;
    }
    i += 1 + n;
  }
  return SSL_TLSEXT_ERR_ALERT_FATAL;
}

// A server must not stop at start-up (or on SIGHUP) to ask a terminal for a pass phrase.
int refuse_passphrase(char* /*buf*/, int /*size*/, int /*rwflag*/, void* /*u*/) {
  return 0;
}

SSL_CTX* new_server_ctx() {
  SSL_CTX* c = SSL_CTX_new(TLS_server_method());
  if (c == nullptr) return nullptr;
  bool ok = SSL_CTX_set_min_proto_version(c, TLS1_2_VERSION) == 1 &&
            SSL_CTX_set_max_proto_version(c, TLS1_3_VERSION) == 1 &&
            SSL_CTX_set_cipher_list(c, kTls12Ciphers) == 1 &&
            SSL_CTX_set_ciphersuites(c, kTls13Suites) == 1 &&
            SSL_CTX_set1_groups_list(c, kGroups) == 1;
  if (!ok) {
    SSL_CTX_free(c);
    return nullptr;
  }
  // Renegotiation is a DoS lever and a source of past CVEs; WebSocket never needs it.
  SSL_CTX_set_options(c, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION);
  // RELEASE_BUFFERS: an idle connection keeps no 16 KiB record buffers. PARTIAL_WRITE and
  // ACCEPT_MOVING_WRITE_BUFFER: SSL_write returns after each record, and a retry may come
  // from the connection's output queue, which moves as it compacts and grows.
  SSL_CTX_set_mode(c, SSL_MODE_RELEASE_BUFFERS | SSL_MODE_ENABLE_PARTIAL_WRITE |
                          SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  // Read-ahead: one read() takes every record the socket holds, not a header then a body.
  SSL_CTX_set_read_ahead(c, 1);
  // Resumption through stateless tickets only: a stateful cache is memory any client
  // could fill (OpenSSL's default keeps up to 20,480 sessions).
  SSL_CTX_set_session_cache_mode(c, SSL_SESS_CACHE_OFF);
  SSL_CTX_set_alpn_select_cb(c, select_alpn, nullptr);
  SSL_CTX_set_default_passwd_cb(c, refuse_passphrase);
  return c;
}

// --- the fd BIO: OpenSSL's socket BIO writes with write(2), which raises SIGPIPE on a
// vanished peer; ours goes through net/socket.h (send with MSG_NOSIGNAL, EINTR retried).

struct FdBio {
  int fd;
  int err;  // errno of the last failed read/write (ECONNRESET, EPIPE, ...); 0 on EOF
};

int fd_bio_io_result(BIO* b, IoResult r) {
  auto* s = static_cast<FdBio*>(BIO_get_data(b));
  if (r.status == IoStatus::kOk) return static_cast<int>(r.bytes);
  s->err = r.err;
  return r.status == IoStatus::kClosed && r.err == 0 ? 0 : -1;
}

int fd_bio_read(BIO* b, char* buf, int len) {
  BIO_clear_retry_flags(b);
  if (len <= 0) return 0;
  auto* s = static_cast<FdBio*>(BIO_get_data(b));
  IoResult r = read_some(s->fd, buf, static_cast<size_t>(len));
  if (r.status == IoStatus::kAgain) {
    BIO_set_retry_read(b);
    return -1;
  }
  return fd_bio_io_result(b, r);
}

int fd_bio_write(BIO* b, const char* buf, int len) {
  BIO_clear_retry_flags(b);
  auto* s = static_cast<FdBio*>(BIO_get_data(b));
  IoResult r = write_some(s->fd, buf, static_cast<size_t>(len));
  if (r.status == IoStatus::kAgain) {
    BIO_set_retry_write(b);
    return -1;
  }
  return fd_bio_io_result(b, r);
}

long fd_bio_ctrl(BIO* /*b*/, int cmd, long /*num*/, void* /*ptr*/) {
  return cmd == BIO_CTRL_FLUSH ? 1 : 0;  // nothing is buffered in this BIO
}

int fd_bio_create(BIO* b) {
  BIO_set_init(b, 1);
  return 1;
}

int fd_bio_destroy(BIO* b) {
  delete static_cast<FdBio*>(BIO_get_data(b));
  BIO_set_data(b, nullptr);
  return 1;
}

BIO_METHOD* fd_bio_method() {
  static BIO_METHOD* method = [] {
    BIO_METHOD* m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "wsedge fd");
    if (m != nullptr) {
      BIO_meth_set_read(m, fd_bio_read);
      BIO_meth_set_write(m, fd_bio_write);
      BIO_meth_set_ctrl(m, fd_bio_ctrl);
      BIO_meth_set_create(m, fd_bio_create);
      BIO_meth_set_destroy(m, fd_bio_destroy);
    }
    return m;
  }();
  return method;
}

}  // namespace

// --- TlsContext ----------------------------------------------------------------------

TlsContext::~TlsContext() {
  SSL_CTX_free(ctx_);
}

bool TlsContext::reload(const std::string& cert_file, const std::string& key_file,
                        std::string* error) {
  ERR_clear_error();
  SSL_CTX* c = new_server_ctx();
  if (c == nullptr) {
    *error = std::string("cannot set up a TLS context: ") + openssl_reason();
    return false;
  }
  if (::access(cert_file.c_str(), R_OK) != 0) {
    *error = "cannot read certificate chain " + cert_file + ": " + std::strerror(errno);
  } else if (::access(key_file.c_str(), R_OK) != 0) {
    *error = "cannot read private key " + key_file + ": " + std::strerror(errno);
  } else if (SSL_CTX_use_certificate_chain_file(c, cert_file.c_str()) != 1) {
    *error = "cannot load certificate chain " + cert_file + ": " + openssl_reason();
  } else if (SSL_CTX_use_PrivateKey_file(c, key_file.c_str(), SSL_FILETYPE_PEM) != 1) {
    *error = "cannot load private key " + key_file + ": " + openssl_reason();
  } else if (SSL_CTX_check_private_key(c) != 1) {
    *error = "private key " + key_file + " does not match certificate " + cert_file + ": " +
             openssl_reason();
  } else {
    if (ctx_ != nullptr) {
      // Keep the ticket keys: clients resume across a reload instead of all handshaking
      // in full at once.
      unsigned char keys[80];
      if (SSL_CTX_get_tlsext_ticket_keys(ctx_, keys, sizeof keys) == 1) {
        SSL_CTX_set_tlsext_ticket_keys(c, keys, sizeof keys);
      }
      OPENSSL_cleanse(keys, sizeof keys);
    }
    SSL_CTX_free(ctx_);  // open connections hold their own reference to it
    ctx_ = c;
    ERR_clear_error();
    return true;
  }
  SSL_CTX_free(c);
  ERR_clear_error();
  return false;
}

std::string TlsContext::describe_certificate() const {
  X509* cert = ctx_ != nullptr ? SSL_CTX_get0_certificate(ctx_) : nullptr;
  if (cert == nullptr) return "(none)";
  char subject[256];
  X509_NAME_oneline(X509_get_subject_name(cert), subject, sizeof subject);
  std::string out = subject;
  BIGNUM* serial = ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert), nullptr);
  if (char* hex = serial != nullptr ? BN_bn2hex(serial) : nullptr) {
    out += " serial ";
    out += hex;
    OPENSSL_free(hex);
  }
  BN_free(serial);
  return out;
}

// --- TlsStream -----------------------------------------------------------------------

std::unique_ptr<TlsStream> TlsStream::over_fd(SSL_CTX* ctx, int fd) {
  BIO_METHOD* method = fd_bio_method();
  BIO* bio = method != nullptr ? BIO_new(method) : nullptr;
  if (bio == nullptr) return nullptr;
  auto* state = new FdBio{fd, 0};
  BIO_set_data(bio, state);  // freed with the BIO
  SSL* ssl = SSL_new(ctx);
  if (ssl == nullptr) {
    BIO_free(bio);
    return nullptr;
  }
  SSL_set_bio(ssl, bio, bio);  // one BIO both ways; the SSL owns it
  SSL_set_accept_state(ssl);
  std::unique_ptr<TlsStream> stream(new TlsStream(ssl));
  stream->sock_err_ = &state->err;
  stream->fd_ = fd;
  return stream;
}

std::unique_ptr<TlsStream> TlsStream::over_bios(SSL_CTX* ctx, BIO* in, BIO* out) {
  SSL* ssl = SSL_new(ctx);
  if (ssl == nullptr) {
    BIO_free(in);
    BIO_free(out);
    return nullptr;
  }
  SSL_set_bio(ssl, in, out);
  SSL_set_accept_state(ssl);
  return std::unique_ptr<TlsStream>(new TlsStream(ssl));
}

TlsStream::~TlsStream() {
  SSL_free(ssl_);
}

IoResult TlsStream::fail(int ssl_error) {
  IoResult r = IoResult::error(EPROTO);
  if (ssl_error == SSL_ERROR_ZERO_RETURN) return IoResult::closed();  // the peer's close_notify
  failed_ = true;
  if (ssl_error == SSL_ERROR_SYSCALL) {
    // The socket failed under OpenSSL (or gave EOF mid-record): its errno tells which.
    int err = sock_err_ != nullptr ? *sock_err_ : 0;
    error_ = err != 0 ? std::strerror(err) : "connection closed";
    if (err == 0 || err == ECONNRESET || err == EPIPE) return IoResult{IoStatus::kClosed, 0, err};
    return IoResult::error(err);
  }
  error_ = openssl_reason();
  // A TCP EOF without close_notify: the peer went away (browsers do this), not an attack
  // on the stream — WebSocket frames show truncation themselves.
  if (ERR_GET_REASON(ERR_peek_error()) == SSL_R_UNEXPECTED_EOF_WHILE_READING) {
    return IoResult::closed();
  }
  return r;
}

TlsStream::Handshake TlsStream::handshake() {
  ERR_clear_error();
  int r = SSL_do_handshake(ssl_);
  if (r == 1) {
    established_ = true;
    read_wants_write_ = false;
    return Handshake::kDone;
  }
  int e = SSL_get_error(ssl_, r);
  if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) return Handshake::kAgain;
  int reason = ERR_GET_REASON(ERR_peek_error());
  fail(e);
  if (reason == SSL_R_HTTP_REQUEST || reason == SSL_R_HTTPS_PROXY_REQUEST) answer_plain_http();
  return Handshake::kFailed;
}

// A plain-HTTP client on the TLS port would otherwise see its connection closed with no
// word of why (or a TLS alert it cannot read). One clear-text answer, best effort: the
// socket is fresh and the answer far smaller than its send buffer, so one write suffices.
void TlsStream::answer_plain_http() {
  if (fd_ < 0) return;
  static constexpr char kAnswer[] =
      "HTTP/1.1 400 Bad Request\r\n"
      "Content-Type: text/plain; charset=utf-8\r\n"
      "Content-Length: 55\r\n"
      "Connection: close\r\n"
      "\r\n"
      "This port speaks TLS: use https:// or wss:// instead.\r\n";
  static_assert(sizeof "This port speaks TLS: use https:// or wss:// instead.\r\n" - 1 == 55);
  IoResult r = write_some(fd_, kAnswer, sizeof kAnswer - 1);
  answered_plain_http_ = r.status == IoStatus::kOk;
}

IoResult TlsStream::read(uint8_t* dst, size_t cap) {
  if (deferred_ != IoStatus::kOk) {
    IoResult r{deferred_, 0, deferred_err_};
    deferred_ = IoStatus::kOk;
    return r;
  }
  read_wants_write_ = false;
  size_t got = 0;
  while (got < cap) {
    size_t n = 0;
    ERR_clear_error();
    if (SSL_read_ex(ssl_, dst + got, cap - got, &n) == 1) {
      got += n;
      continue;  // OpenSSL may hold more records (read-ahead): drain them all
    }
    int e = SSL_get_error(ssl_, 0);
    if (e == SSL_ERROR_WANT_READ) break;  // the socket is empty: the edge is consumed
    if (e == SSL_ERROR_WANT_WRITE) {      // e.g. answering a KeyUpdate on a full socket
      read_wants_write_ = true;
      break;
    }
    IoResult r = fail(e);
    if (got == 0) return r;
    deferred_ = r.status;  // hand out the bytes first; the EOF or error comes next call
    deferred_err_ = r.err;
    break;
  }
  return got == 0 ? IoResult::again() : IoResult::ok(got);
}

IoResult TlsStream::write(const uint8_t* data, size_t len) {
  write_wants_read_ = false;
  size_t done = 0;
  while (done < len) {
    size_t n = 0;
    ERR_clear_error();
    if (SSL_write_ex(ssl_, data + done, len - done, &n) == 1) {
      done += n;  // partial-write mode: one record went out
      continue;
    }
    int e = SSL_get_error(ssl_, 0);
    if (e == SSL_ERROR_WANT_WRITE) break;
    if (e == SSL_ERROR_WANT_READ) {
      write_wants_read_ = true;
      break;
    }
    if (done > 0) break;  // report what went out; the error repeats on the next call
    return fail(e);
  }
  return done == 0 && len > 0 ? IoResult::again() : IoResult::ok(done);
}

uint32_t TlsStream::map_events(uint32_t events) const {
  uint32_t out = events;
  if (read_wants_write_ && (events & kWritable)) out |= kReadable;
  if (write_wants_read_ && (events & kReadable)) out |= kWritable;
  return out;
}

void TlsStream::send_close_notify() {
  if (!established_ || failed_ || (SSL_get_shutdown(ssl_) & SSL_SENT_SHUTDOWN)) return;
  ERR_clear_error();
  // 0: sent, the peer's not seen yet; 1: both sent; -1 WANT_WRITE: the socket is full,
  // which on a closing connection we accept (the alert is advisory for WebSocket, whose
  // close frame already ended the stream).
  SSL_shutdown(ssl_);
  ERR_clear_error();
}

}  // namespace wsedge::net
