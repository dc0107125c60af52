// net/tls.h — TLS for the reactor: a reloadable server context and a per-connection stream.
//
// TlsContext owns the server's SSL_CTX: TLS 1.2 and 1.3 only, ECDHE + AEAD ciphers only,
// ALPN http/1.1, stateless session tickets, no renegotiation, no stateful session cache.
// reload() builds a new SSL_CTX from the files and swaps it in only if every step worked;
// streams already open keep the SSL_CTX they were made with (OpenSSL counts references).
// TlsStream is one connection's TLS state over a non-blocking fd (or, for tests and the
// fuzzer, over memory BIOs). It speaks IoResult like net/socket.h and never logs: on an
// error, last_error() says why. Loop thread only; nothing here blocks. See docs/tls.md.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "core/result.h"

typedef struct ssl_st SSL;
typedef struct ssl_ctx_st SSL_CTX;
typedef struct bio_st BIO;

namespace wsedge::net {

class TlsContext {
 public:
  TlsContext() = default;
  ~TlsContext();
  TlsContext(const TlsContext&) = delete;
  TlsContext& operator=(const TlsContext&) = delete;

  // Loads a PEM certificate chain (leaf first) and its private key. On failure the
  // current context (if any) stays in use and `error` holds one line naming the file and
  // what OpenSSL said. An encrypted key is refused (no pass-phrase prompt on a server).
  bool reload(const std::string& cert_file, const std::string& key_file, std::string* error);
  // The context new connections get; null before the first successful reload().
  SSL_CTX* get() const { return ctx_; }
  // Subject and serial of the loaded certificate, for the start-up and reload log lines.
  std::string describe_certificate() const;

 private:
  SSL_CTX* ctx_ = nullptr;
};

class TlsStream {
 public:
  enum class Handshake : uint8_t { kDone, kAgain, kFailed };

  // The server side of one connection over fd (not owned: the caller closes it).
  // Null when OpenSSL cannot allocate.
  static std::unique_ptr<TlsStream> over_fd(SSL_CTX* ctx, int fd);
  // Over two memory BIOs (ciphertext in, ciphertext out), for tests and the fuzzer. The
  // stream owns both BIOs.
  static std::unique_ptr<TlsStream> over_bios(SSL_CTX* ctx, BIO* in, BIO* out);
  ~TlsStream();
  TlsStream(const TlsStream&) = delete;
  TlsStream& operator=(const TlsStream&) = delete;

  // Advances the server handshake. kAgain: call again on the next readiness event.
  Handshake handshake();
  bool established() const { return established_; }
  // After kFailed: the client spoke plain HTTP to the TLS port (OpenSSL recognises
  // "GET ", "POST", "HEAD", "PUT " and CONNECT where a ClientHello belongs). handshake()
  // has then already written a clear-text 400 naming the mistake, so the caller should
  // half-close and linger (so the answer is read, not reset) rather than close at once.
  bool answered_plain_http() const { return answered_plain_http_; }

  // Decrypts into dst until dst is full or OpenSSL needs bytes the socket does not have
  // yet (WANT_READ): records OpenSSL already holds (SSL_pending, read-ahead) are drained
  // too, so an edge-triggered caller may take a short read as "socket drained" — unless
  // more_to_read() says an EOF or error is waiting right behind the bytes returned.
  // Ok(n) | Again | Closed (close_notify or TCP EOF; err ECONNRESET on reset) | Error.
  IoResult read(uint8_t* dst, size_t cap);
  bool more_to_read() const { return deferred_ != IoStatus::kOk; }

  // Encrypts and sends up to len bytes, one record (≤ 16 KiB) at a time, until all are
  // out or the socket is full. Ok(n) may be short; Again when nothing went out. After a
  // short write the caller must offer the same bytes again first (they may have moved:
  // SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER), as net::Connection's output queue does.
  IoResult write(const uint8_t* data, size_t len);

  // OpenSSL may need the other direction to progress (a read that must answer a
  // KeyUpdate; a write blocked on a read): maps the loop's readiness bits so the blocked
  // side is retried on the event it waits for. kReadable / kWritable as in net/reactor.h.
  uint32_t map_events(uint32_t events) const;

  // Sends close_notify once (best effort, never blocks), unless the stream failed or the
  // handshake never finished. RFC 8446 §6.1: each party sends it before closing its write side.
  void send_close_notify();

  // The reason for the last kError/kFailed (OpenSSL's error queue), for logs.
  const char* last_error() const { return error_; }
  SSL* ssl() const { return ssl_; }

 private:
  explicit TlsStream(SSL* ssl) : ssl_(ssl) {}
  IoResult fail(int ssl_error);  // maps SSL_get_error's answer, remembers the reason
  void answer_plain_http();

  SSL* ssl_;
  const int* sock_err_ = nullptr;      // the fd BIO's last errno (null over memory BIOs)
  IoStatus deferred_ = IoStatus::kOk;  // an EOF/error seen after bytes already returned
  int deferred_err_ = 0;
  bool established_ = false;
  bool failed_ = false;  // a fatal error: no close_notify may follow (SSL_shutdown(3))
  bool read_wants_write_ = false;
  bool write_wants_read_ = false;
  bool answered_plain_http_ = false;
  int fd_ = -1;  // the socket under the fd BIO, for the clear-text 400; -1 over memory BIOs
  const char* error_ = "";
};

}  // namespace wsedge::net
