// bench/load/tls_client.h — wsload's TLS client: one context per worker, one stream per conn.
//
// TlsClientContext owns one worker's SSL_CTX (client method, TLS 1.2..1.3 or one version,
// verification against --ca or the system store, or none with --insecure) and, with
// --tls-resume, the newest session ticket the server sent, which the next connection of
// that worker offers. TlsClient is one connection's client-side SSL over a non-blocking fd
// (not owned), driven edge-triggered like the plain path: handshake() until kDone, read()
// drains until WANT_READ (SSL_pending included), write() returns short on WANT_WRITE. It
// never logs; error() says why. Loop thread only (each worker has its own context).
#pragma once

#include <arpa/inet.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <string>

#include "bench/load/options.h"
#include "core/result.h"

namespace wsedge::load {

// What OpenSSL said, as one short phrase: the first queued error is the root cause.
inline std::string tls_reason() {
  const unsigned long code = ERR_peek_error();
  const char* r = code ? ERR_reason_error_string(code) : nullptr;
  return r ? r : "unknown error";
}

class TlsClientContext {
 public:
  // Null and *error set (one line naming the flag or file) when it cannot be made.
  static std::unique_ptr<TlsClientContext> create(const TlsOptions& o, std::string* error) {
    ERR_clear_error();
    std::unique_ptr<TlsClientContext> c(new TlsClientContext(o));
    c->ctx_ = SSL_CTX_new(TLS_client_method());
    if (!c->ctx_) return fail("cannot create a TLS context: " + tls_reason(), error);
    const int lo = o.version == 13 ? TLS1_3_VERSION : TLS1_2_VERSION;
    const int hi = o.version == 12 ? TLS1_2_VERSION : TLS1_3_VERSION;
    SSL_CTX_set_min_proto_version(c->ctx_, lo);
    SSL_CTX_set_max_proto_version(c->ctx_, hi);
    // As the server does: no 16 KiB record buffers kept per idle connection, SSL_write
    // returns per record, and a retry may come from out_, which moves as it grows.
    SSL_CTX_set_mode(c->ctx_, SSL_MODE_RELEASE_BUFFERS | SSL_MODE_ENABLE_PARTIAL_WRITE |
                                  SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    SSL_CTX_set_read_ahead(c->ctx_, 1);  // one read() takes every record the socket holds
    static constexpr unsigned char kAlpn[] = "\x08http/1.1";  // RFC 7301; as browsers offer
    SSL_CTX_set_alpn_protos(c->ctx_, kAlpn, sizeof kAlpn - 1);
    if (!o.insecure) {
      if (!o.ca_file.empty() && ::access(o.ca_file.c_str(), R_OK) != 0)
        return fail("--ca: cannot read " + o.ca_file + ": " + std::strerror(errno), error);
      const bool loaded = o.ca_file.empty() ? SSL_CTX_set_default_verify_paths(c->ctx_) == 1
                                            : SSL_CTX_load_verify_locations(
                                                  c->ctx_, o.ca_file.c_str(), nullptr) == 1;
      if (!loaded)
        return fail("--ca: cannot load " + (o.ca_file.empty() ? "the system store" : o.ca_file) +
                        ": " + tls_reason(),
                    error);
      SSL_CTX_set_verify(c->ctx_, SSL_VERIFY_PEER, nullptr);
    }
    if (o.resume) {
      // Tickets only (the client cache holds nothing): the callback keeps the newest.
      SSL_CTX_set_session_cache_mode(c->ctx_,
                                     SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
      SSL_CTX_sess_set_new_cb(c->ctx_, &TlsClientContext::on_new_session);
      SSL_CTX_set_app_data(c->ctx_, c.get());
    }
    return c;
  }
  ~TlsClientContext() {
    SSL_SESSION_free(session_);
    SSL_CTX_free(ctx_);
  }
  TlsClientContext(const TlsClientContext&) = delete;
  TlsClientContext& operator=(const TlsClientContext&) = delete;

  SSL_CTX* get() const { return ctx_; }
  const TlsOptions& options() const { return opt_; }
  SSL_SESSION* session() const { return session_; }  // null until a ticket arrived

 private:
  explicit TlsClientContext(const TlsOptions& o) : opt_(o) {}
  static std::unique_ptr<TlsClientContext> fail(std::string why, std::string* error) {
    *error = std::move(why);
    ERR_clear_error();
    return nullptr;
  }
  // TLS 1.3 sends tickets after the handshake (read with the 101), TLS 1.2 inside it.
  static int on_new_session(SSL* ssl, SSL_SESSION* s) {
    auto* self = static_cast<TlsClientContext*>(SSL_CTX_get_app_data(SSL_get_SSL_CTX(ssl)));
    SSL_SESSION_free(self->session_);
    self->session_ = s;
    return 1;  // we keep the reference
  }

  TlsOptions opt_;
  SSL_CTX* ctx_ = nullptr;
  SSL_SESSION* session_ = nullptr;
};

class TlsClient {
 public:
  enum class Handshake : uint8_t { kDone, kAgain, kFailed };

  // Client side over fd, SNI and the name check as the options say. Null when OpenSSL
  // cannot allocate.
  static std::unique_ptr<TlsClient> over_fd(TlsClientContext& ctx, int fd) {
    SSL* ssl = SSL_new(ctx.get());
    if (!ssl) return nullptr;
    std::unique_ptr<TlsClient> t(new TlsClient(ssl));
    const TlsOptions& o = ctx.options();
    // OpenSSL's socket BIO writes with write(2): SIGPIPE is ignored by wsload's main().
    if (SSL_set_fd(ssl, fd) != 1) return nullptr;
    SSL_set_connect_state(ssl);
    const std::string& name = o.sni.empty() ? o.verify_host : o.sni;
    in6_addr probe{};
    const bool ip_literal = inet_pton(AF_INET, name.c_str(), &probe) == 1 ||
                            inet_pton(AF_INET6, name.c_str(), &probe) == 1;
    // RFC 6066 §3: a literal IP address is not a HostName and is never sent as SNI.
    if (!ip_literal && SSL_set_tlsext_host_name(ssl, name.c_str()) != 1) return nullptr;
    if (!o.insecure) {
      X509_VERIFY_PARAM* p = SSL_get0_param(ssl);
      const int set = ip_literal ? X509_VERIFY_PARAM_set1_ip_asc(p, name.c_str())
                                 : X509_VERIFY_PARAM_set1_host(p, name.c_str(), 0);
      if (set != 1) return nullptr;
    }
    if (o.resume && ctx.session()) SSL_set_session(ssl, ctx.session());
    return t;
  }
  ~TlsClient() { SSL_free(ssl_); }
  TlsClient(const TlsClient&) = delete;
  TlsClient& operator=(const TlsClient&) = delete;

  Handshake handshake() {
    ERR_clear_error();
    errno = 0;
    const int r = SSL_do_handshake(ssl_);
    if (r == 1) return Handshake::kDone;
    const int e = SSL_get_error(ssl_, r);
    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) return Handshake::kAgain;
    remember(e);
    return Handshake::kFailed;
  }
  bool resumed() const { return SSL_session_reused(ssl_) == 1; }
  // The certificate check failed (wrong CA, wrong name): a setup error, not a measurement.
  bool verify_failed() const { return verify_failed_; }
  // errno of a failed socket under OpenSSL (ECONNREFUSED while connecting), else 0.
  int sys_errno() const { return sys_errno_; }
  const std::string& error() const { return error_; }
  const char* version() const { return SSL_get_version(ssl_); }
  const char* cipher() const { return SSL_get_cipher_name(ssl_); }

  // Decrypts into dst until it is full or OpenSSL needs bytes the socket does not have
  // (WANT_READ): records already buffered by read-ahead are drained too, so a short Ok is
  // "socket drained" unless more_to_read() says an EOF or error waits behind the bytes.
  IoResult read(uint8_t* dst, size_t cap) {
    if (deferred_ != IoStatus::kOk) {
      const IoResult r{deferred_, 0, deferred_err_};
      deferred_ = IoStatus::kOk;
      return r;
    }
    size_t got = 0;
    while (got < cap) {
      size_t n = 0;
      ERR_clear_error();
      errno = 0;
      if (SSL_read_ex(ssl_, dst + got, cap - got, &n) == 1) {
        got += n;
        continue;
      }
      const int e = SSL_get_error(ssl_, 0);
      if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) break;
      const IoResult r = end_of_stream(e);
      if (got == 0) return r;
      deferred_ = r.status;  // the bytes first; the EOF or error on the next call
      deferred_err_ = r.err;
      break;
    }
    return got == 0 ? IoResult::again() : IoResult::ok(got);
  }
  bool more_to_read() const { return deferred_ != IoStatus::kOk; }

  // Encrypts and sends up to len bytes, a record at a time, until the socket is full.
  // Ok(n) may be short (then offer the rest again first); Again when nothing went out.
  IoResult write(const uint8_t* data, size_t len) {
    size_t done = 0;
    while (done < len) {
      size_t n = 0;
      ERR_clear_error();
      errno = 0;
      if (SSL_write_ex(ssl_, data + done, len - done, &n) == 1) {
        done += n;
        continue;
      }
      const int e = SSL_get_error(ssl_, 0);
      if (e == SSL_ERROR_WANT_WRITE || e == SSL_ERROR_WANT_READ) break;
      if (done > 0) break;  // report what went out; the error repeats on the next call
      return end_of_stream(e);
    }
    return done == 0 && len > 0 ? IoResult::again() : IoResult::ok(done);
  }

  // The stream ended cleanly (the WebSocket close handshake, or --raw's close_notify
  // answered), but no close_notify goes into a socket the server has closed. Say the
  // shutdown is done, or SSL_free takes the session for a broken one and makes it
  // unresumable. Flags, not SSL_shutdown(): after a bare TCP EOF (a server that sent no
  // close_notify) OpenSSL is in its error state and SSL_shutdown would set nothing.
  void finish_quietly() { SSL_set_shutdown(ssl_, SSL_SENT_SHUTDOWN | SSL_RECEIVED_SHUTDOWN); }

  // --raw over TLS ends the stream the TLS way: close_notify, then the caller's SHUT_WR.
  void send_close_notify() {
    ERR_clear_error();
    (void)SSL_shutdown(ssl_);
    ERR_clear_error();
  }

 private:
  explicit TlsClient(SSL* ssl) : ssl_(ssl) {}

  void remember(int e) {
    sys_errno_ = e == SSL_ERROR_SYSCALL ? errno : 0;
    const long v = SSL_get_verify_result(ssl_);
    verify_failed_ = v != X509_V_OK;
    if (verify_failed_)
      error_ = std::string("certificate verify failed: ") + X509_verify_cert_error_string(v);
    else if (e == SSL_ERROR_SYSCALL)
      error_ = sys_errno_ ? std::strerror(sys_errno_) : "connection closed during the handshake";
    else
      error_ = tls_reason();
  }
  // close_notify and a bare TCP EOF both end the stream (the WebSocket close handshake
  // says whether it was complete); a reset keeps its errno.
  IoResult end_of_stream(int e) {
    if (e == SSL_ERROR_ZERO_RETURN) return IoResult::closed();
    remember(e);
    if (e == SSL_ERROR_SYSCALL)
      return sys_errno_ == 0 ? IoResult::closed() : IoResult{IoStatus::kClosed, 0, sys_errno_};
    if (ERR_GET_REASON(ERR_peek_error()) == SSL_R_UNEXPECTED_EOF_WHILE_READING)
      return IoResult::closed();
    return IoResult::error(EPROTO);
  }

  SSL* ssl_;
  IoStatus deferred_ = IoStatus::kOk;
  int deferred_err_ = 0;
  int sys_errno_ = 0;
  bool verify_failed_ = false;
  std::string error_;
};

}  // namespace wsedge::load
