#include "apps/client/stream.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>

namespace wsedge::client {
namespace {

int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// Waits for `events` on fd until deadline_ms; false on timeout.
bool wait_for(int fd, short events, int64_t deadline_ms) {
  for (;;) {
    const int64_t left = deadline_ms - now_ms();
    if (left <= 0) return false;
    pollfd p{fd, events, 0};
    const int n = ::poll(&p, 1, static_cast<int>(left));
    if (n > 0) return true;
    if (n < 0 && errno != EINTR) return false;
  }
}

std::string tls_reason() {
  const unsigned long code = ERR_peek_last_error();
  const char* r = code ? ERR_reason_error_string(code) : nullptr;
  return r ? r : "unknown error";
}

// A non-blocking connect to one address, finished within the deadline.
int connect_one(const addrinfo* ai, int64_t deadline_ms, std::string* error) {
  const int fd =
      ::socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
  if (fd < 0) {
    *error = std::string("socket: ") + std::strerror(errno);
    return -1;
  }
  int err = 0;
  if (::connect(fd, ai->ai_addr, ai->ai_addrlen) != 0) {
    err = errno;
    if (err == EINPROGRESS) {
      err = ETIMEDOUT;
      if (wait_for(fd, POLLOUT, deadline_ms)) {
        socklen_t len = sizeof err;
        if (::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0) err = errno;
      }
    }
  }
  if (err != 0) {
    *error = std::string("connect: ") + std::strerror(err);
    ::close(fd);
    return -1;
  }
  // Each line typed is one small message: send it now rather than wait for Nagle.
  const int one = 1;
  (void)::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);  // best effort
  return fd;
}

// Whether SSL_read's error `e` means the TCP stream ended without close_notify. OpenSSL 3
// names it (SSL_R_UNEXPECTED_EOF_WHILE_READING); 1.1 reports a syscall error with errno 0.
// A reset (ECONNRESET) carried no close_notify either.
bool unexpected_eof(int e) {
#ifdef SSL_R_UNEXPECTED_EOF_WHILE_READING
  if (e == SSL_ERROR_SSL)
    return ERR_GET_REASON(ERR_peek_error()) == SSL_R_UNEXPECTED_EOF_WHILE_READING;
#endif
  return e == SSL_ERROR_SYSCALL && (errno == 0 || errno == ECONNRESET);
}

// Sets *error; returns false, for one-line failure returns.
bool fail(std::string* error, std::string why) {
  *error = std::move(why);
  return false;
}

}  // namespace

struct Stream::Tls {
  SSL_CTX* ctx = nullptr;
  SSL* ssl = nullptr;
  // After SSL_ERROR_SYSCALL or SSL_ERROR_SSL, OpenSSL forbids SSL_shutdown on this SSL.
  bool fatal = false;
  ~Tls() {
    SSL_free(ssl);
    SSL_CTX_free(ctx);
  }
};

std::unique_ptr<Stream> Stream::open(const ClientOptions& o, std::string* error) {
  const int timeout_ms = static_cast<int>(o.timeout_s * 1000);
  const int64_t deadline = now_ms() + timeout_ms;
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* list = nullptr;
  const std::string port = std::to_string(o.url.port);
  if (const int rc = ::getaddrinfo(o.url.host.c_str(), port.c_str(), &hints, &list); rc != 0) {
    *error = "cannot resolve " + o.url.host + ": " + gai_strerror(rc);
    return nullptr;
  }
  std::unique_ptr<Stream> s(new Stream());
  for (const addrinfo* ai = list; ai && s->fd_ < 0; ai = ai->ai_next)
    s->fd_ = connect_one(ai, deadline, error);
  ::freeaddrinfo(list);
  if (s->fd_ < 0) {
    *error = o.url.host + ":" + port + ": " + *error;
    return nullptr;
  }
  if (o.url.secure && !s->tls_handshake(o, timeout_ms, error)) return nullptr;
  return s;
}

bool Stream::tls_handshake(const ClientOptions& o, int timeout_ms, std::string* error) {
  ERR_clear_error();
  tls_ = std::make_unique<Tls>();
  tls_->ctx = SSL_CTX_new(TLS_client_method());
  if (!tls_->ctx) return fail(error, "TLS: " + tls_reason());
  SSL_CTX_set_min_proto_version(tls_->ctx, TLS1_2_VERSION);
  SSL_CTX_set_mode(tls_->ctx, SSL_MODE_ENABLE_PARTIAL_WRITE);
  if (!o.insecure) {
    const bool loaded = o.ca_file.empty() ? SSL_CTX_set_default_verify_paths(tls_->ctx) == 1
                                          : SSL_CTX_load_verify_locations(
                                                tls_->ctx, o.ca_file.c_str(), nullptr) == 1;
    if (!loaded) return fail(error, "--ca: cannot load " + o.ca_file + ": " + tls_reason());
    SSL_CTX_set_verify(tls_->ctx, SSL_VERIFY_PEER, nullptr);
  }
  tls_->ssl = SSL_new(tls_->ctx);
  if (!tls_->ssl || SSL_set_fd(tls_->ssl, fd_) != 1) return fail(error, "TLS: " + tls_reason());
  // RFC 6455 §4.1: a wss:// client MUST use the Server Name Indication extension (RFC 6066),
  // whose HostName is a DNS name: RFC 6066 §3 forbids a literal IPv4 or IPv6 address there.
  in_addr v4;
  in6_addr v6;
  if (inet_pton(AF_INET, o.url.host.c_str(), &v4) != 1 &&
      inet_pton(AF_INET6, o.url.host.c_str(), &v6) != 1)
    SSL_set_tlsext_host_name(tls_->ssl, o.url.host.c_str());
  if (!o.insecure) {
    // The certificate must name the host we meant (IP literals are matched as addresses).
    X509_VERIFY_PARAM* param = SSL_get0_param(tls_->ssl);
    X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
    if (X509_VERIFY_PARAM_set1_ip_asc(param, o.url.host.c_str()) != 1)
      X509_VERIFY_PARAM_set1_host(param, o.url.host.c_str(), 0);
  }
  const int64_t deadline = now_ms() + timeout_ms;
  for (;;) {
    const int rc = SSL_connect(tls_->ssl);
    if (rc == 1) return true;
    const int e = SSL_get_error(tls_->ssl, rc);
    const short want = e == SSL_ERROR_WANT_READ ? POLLIN : e == SSL_ERROR_WANT_WRITE ? POLLOUT : 0;
    if (want == 0) {
      const long verify = SSL_get_verify_result(tls_->ssl);
      *error =
          "TLS handshake failed: " +
          (verify != X509_V_OK ? std::string(X509_verify_cert_error_string(verify)) : tls_reason());
      return false;
    }
    if (!wait_for(fd_, want, deadline)) return fail(error, "TLS handshake timed out");
  }
}

Stream::~Stream() {
  tls_.reset();
  if (fd_ >= 0) ::close(fd_);
}

bool Stream::has_buffered() const {
  return tls_ && SSL_pending(tls_->ssl) > 0;
}

IoResult Stream::read(uint8_t* buf, size_t n) {
  if (tls_) {
    ERR_clear_error();
    const int rc = SSL_read(tls_->ssl, buf, static_cast<int>(n));
    if (rc > 0) return IoResult::ok(static_cast<size_t>(rc));
    const int e = SSL_get_error(tls_->ssl, rc);
    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) return IoResult::again();
    if (e == SSL_ERROR_ZERO_RETURN) return IoResult::closed();  // close_notify: a proper end
    tls_->fatal = true;
    // RFC 8446 §6.1: the end of the stream without close_notify is a truncation, which an
    // attacker on the path can cause as easily as the server; it is reported, and the loop
    // judges it by whether the WebSocket close handshake had completed (docs/client.md).
    if (unexpected_eof(e)) {
      truncated_ = true;
      return IoResult::closed();
    }
    return IoResult::error(EPROTO);
  }
  for (;;) {
    const ssize_t rc = ::recv(fd_, buf, n, 0);
    if (rc > 0) return IoResult::ok(static_cast<size_t>(rc));
    if (rc == 0) return IoResult::closed();
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) return IoResult::again();
    if (errno == ECONNRESET) return IoResult::closed();
    return IoResult::error(errno);
  }
}

bool Stream::write_all(const uint8_t* p, size_t n, int timeout_ms, std::string* error) {
  const int64_t deadline = now_ms() + timeout_ms;
  while (n > 0) {
    short want = POLLOUT;
    ssize_t rc;
    if (tls_) {
      ERR_clear_error();
      const int w = SSL_write(tls_->ssl, p, static_cast<int>(n));
      rc = w;
      if (w <= 0) {
        const int e = SSL_get_error(tls_->ssl, w);
        if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) {
          tls_->fatal = true;
          return fail(error, "TLS write failed: " + tls_reason());
        }
        want = e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT;
      }
    } else {
      // MSG_NOSIGNAL: a server that closed must give us EPIPE, not kill the tool with SIGPIPE.
      rc = ::send(fd_, p, n, MSG_NOSIGNAL);
      if (rc < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
        return fail(error, std::string("write: ") + std::strerror(errno));
    }
    if (rc > 0) {
      p += rc;
      n -= static_cast<size_t>(rc);
      continue;
    }
    if (!wait_for(fd_, want, deadline)) return fail(error, "write timed out");
  }
  return true;
}

void Stream::shutdown_write() {
  // Sends close_notify; the answer is not awaited. Not after a fatal error, which OpenSSL
  // forbids (and a truncated stream has no one left to tell).
  if (tls_ && !tls_->fatal) (void)SSL_shutdown(tls_->ssl);
  (void)::shutdown(fd_, SHUT_WR);  // best effort: the peer may be gone already
}

}  // namespace wsedge::client
