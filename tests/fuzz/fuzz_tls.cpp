// libFuzzer target: the server side of net::TlsStream fed arbitrary client bytes.
//
//   clang++-14 -std=c++20 -I. -fsanitize=fuzzer,address,undefined tests/fuzz/fuzz_tls.cpp \
//     net/tls.cpp net/socket.cpp -lssl -lcrypto -lz -o build/fuzz_tls
//   build/fuzz_tls tests/fuzz/corpus/tls/
//
// The stream runs over memory BIOs with the server's real context (TlsContext: the same
// versions, ciphers, ALPN and options as wsedge). The input is delivered in chunks whose
// sizes come from a hash of the input (reproducible; a record split anywhere), and after
// every chunk the stream is driven as net::Connection drives it: handshake, then read
// until Again, echoing what was read. Three modes:
//   - the input starts with 0x16 (a handshake record, as every seed does) or is mode 0:
//     the bytes are the client's, from the first ClientHello byte on;
//   - mode 1: a real in-process client completes the handshake first, then the input
//     follows as raw records (garbage after a valid handshake: bad MACs, bad types);
//   - mode 2: after that handshake the input is plaintext the client encrypts, so the
//     decrypt-and-drain path (many records, records split across chunks) runs too.
// In modes 1 and 2 the client resumes a session (a ticket taken once, at start-up, from a
// full handshake with the same server context) unless the first byte is 0xF1 or 0xF2 (modes
// 1 and 2): then it makes a full handshake (certificate, signature) as before. Two values
// only, so mutated inputs (0xFF is a favourite) mostly take the cheap path. A resumed TLS 1.3
// handshake still runs the (EC)DHE exchange and ends in the same established stream, so
// the records after it reach the same code; it skips signing, sending, parsing and
// checking the certificate, which made most of a mode 1 or 2 run.
// It must never crash, hang or leak; failures are just closed streams.
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "net/tls.h"

using wsedge::IoStatus;
using wsedge::net::TlsContext;
using wsedge::net::TlsStream;

namespace {

TlsContext* g_server = nullptr;
SSL_CTX* g_client = nullptr;
SSL_SESSION* g_session = nullptr;  // what the client resumes (modes 1 and 2)

// A throwaway certificate: written once to a temporary directory for TlsContext::reload,
// which is the code path the server uses.
void make_context() {
  char dir[] = "/tmp/fuzz-tls-XXXXXX";
  if (::mkdtemp(dir) == nullptr) std::abort();
  std::string cert = std::string(dir) + "/cert.pem", key = std::string(dir) + "/key.pem";
  EVP_PKEY* pkey = EVP_EC_gen("P-256");
  X509* x = X509_new();
  ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
  X509_gmtime_adj(X509_getm_notBefore(x), -60);
  X509_gmtime_adj(X509_getm_notAfter(x), 86400);
  X509_set_pubkey(x, pkey);
  X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>("fuzz"), -1, -1, 0);
  X509_set_issuer_name(x, X509_get_subject_name(x));
  X509_sign(x, pkey, EVP_sha256());
  FILE* f = std::fopen(cert.c_str(), "w");
  PEM_write_X509(f, x);
  std::fclose(f);
  f = std::fopen(key.c_str(), "w");
  PEM_write_PrivateKey(f, pkey, nullptr, nullptr, 0, nullptr, nullptr);
  std::fclose(f);
  X509_free(x);
  EVP_PKEY_free(pkey);
  g_server = new TlsContext;
  std::string why;
  if (!g_server->reload(cert, key, &why)) {
    std::fprintf(stderr, "fuzz_tls: %s\n", why.c_str());
    std::abort();
  }
  std::remove(cert.c_str());
  std::remove(key.c_str());
  ::rmdir(dir);
  g_client = SSL_CTX_new(TLS_client_method());
  SSL_CTX_set_verify(g_client, SSL_VERIFY_NONE, nullptr);
}

uint32_t fnv1a(const uint8_t* data, size_t size) {
  uint32_t h = 2166136261u;
  for (size_t i = 0; i < size; ++i)
    h = (h ^ data[i]) * 16777619u;
  return h;
}

struct Server {
  BIO* in = BIO_new(BIO_s_mem());   // client -> server ciphertext
  BIO* out = BIO_new(BIO_s_mem());  // server -> client ciphertext
  std::unique_ptr<TlsStream> stream;
  bool dead = false;
  Server() {
    BIO_set_mem_eof_return(in, -1);  // empty means "more later", as a non-blocking socket
    stream = TlsStream::over_bios(g_server->get(), in, out);
  }
  // What net::Connection does on an event: the handshake, then read until Again,
  // answering what arrived (exercises the write path, partial writes included).
  void drive() {
    if (dead) return;
    if (!stream->established()) {
      TlsStream::Handshake h = stream->handshake();
      if (h == TlsStream::Handshake::kFailed) dead = true;
      if (h != TlsStream::Handshake::kDone) return;
    }
    uint8_t buf[4096];
    for (;;) {
      wsedge::IoResult r = stream->read(buf, sizeof buf);
      if (r.status == IoStatus::kAgain) break;
      if (r.status != IoStatus::kOk) {
        dead = true;
        break;
      }
      if (stream->write(buf, r.bytes).status == IoStatus::kError) dead = true;
      if (r.bytes < sizeof buf && !stream->more_to_read()) break;
    }
  }
};

// Feeds `bytes` to `sink` in chunks of 1..64 (or up to 4 KiB) bytes chosen by `h`.
template <class Sink>
void in_chunks(const uint8_t* data, size_t size, uint32_t h, Sink sink) {
  for (size_t pos = 0; pos < size;) {
    h = h * 1103515245u + 12345u;
    size_t n = (h >> 16) % ((h & 1) ? 64 : 4096) + 1;
    if (n > size - pos) n = size - pos;
    sink(data + pos, n);
    pos += n;
  }
}

// Runs a real client against the server until both finished the handshake, resuming
// g_session when `resume` (and one is held).
SSL* handshake(Server& s, BIO** client_in, bool resume) {
  SSL* c = SSL_new(g_client);
  BIO* cin = BIO_new(BIO_s_mem());
  BIO* cout = BIO_new(BIO_s_mem());
  BIO_set_mem_eof_return(cin, -1);
  SSL_set_bio(c, cin, cout);
  SSL_set_connect_state(c);
  if (resume && g_session != nullptr) SSL_set_session(c, g_session);
  for (int i = 0; i < 10 && !(SSL_is_init_finished(c) && s.stream->established()); ++i) {
    SSL_do_handshake(c);
    char buf[8192];
    for (int n; (n = BIO_read(cout, buf, sizeof buf)) > 0;)
      BIO_write(s.in, buf, n);
    s.drive();
    for (int n; (n = BIO_read(s.out, buf, sizeof buf)) > 0;)
      BIO_write(cin, buf, n);
  }
  if (resume && SSL_is_init_finished(c) && !SSL_session_reused(c)) {
    // No session yet (start-up) or the ticket was refused (expired): keep this one's.
    // Reading takes the NewSessionTicket messages the server sent after its Finished.
    char b[16];
    (void)SSL_read(c, b, sizeof b);
    if (SSL_SESSION* fresh = SSL_get1_session(c);
        fresh != nullptr && SSL_SESSION_is_resumable(fresh)) {
      SSL_SESSION_free(g_session);
      g_session = fresh;
    } else {
      SSL_SESSION_free(fresh);
    }
  }
  *client_in = cin;
  return c;
}

// Frees a client. Freeing one that did not send close_notify would mark its session as not
// resumable (OpenSSL's ssl_clear_bad_session), and that session may be g_session: say it
// was shut down. The server never sees this client again, so nothing else changes.
void free_client(SSL* c) {
  if (c == nullptr) return;
  SSL_set_shutdown(c, SSL_SENT_SHUTDOWN);
  SSL_free(c);
}

// Takes the session the resumed handshakes use, from one full handshake.
void make_session() {
  Server s;
  BIO* client_in = nullptr;
  SSL* c = handshake(s, &client_in, true);
  free_client(c);
  if (g_session == nullptr) {
    std::fprintf(stderr, "fuzz_tls: no resumable session from the server\n");
    std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (g_server == nullptr) {
    make_context();
    make_session();
  }
  uint32_t h = fnv1a(data, size);
  int mode = (size == 0 || data[0] == 0x16) ? 0 : data[0] % 3;
  bool resume = size == 0 || data[0] < 0xF1 || data[0] > 0xF2;
  if (mode != 0) {
    ++data;
    --size;
  }
  Server s;
  if (!s.stream) return 0;
  SSL* client = nullptr;
  BIO* client_in = nullptr;
  if (mode != 0) client = handshake(s, &client_in, resume);
  in_chunks(data, size, h, [&](const uint8_t* p, size_t n) {
    if (mode == 2) {
      SSL_write(client, p, static_cast<int>(n));
      BIO* cout = SSL_get_wbio(client);
      char buf[8192];
      for (int k; (k = BIO_read(cout, buf, sizeof buf)) > 0;)
        BIO_write(s.in, buf, k);
    } else {
      BIO_write(s.in, p, static_cast<int>(n));
    }
    s.drive();
    (void)BIO_reset(s.out);  // the client never reads: keep memory bounded
  });
  s.stream->send_close_notify();
  free_client(client);
  (void)client_in;
  return 0;
}
