// net::TlsStream inside net::Connection, over a socketpair driven by a real Reactor, with an
// OpenSSL client on the other end: the handshake, the ET+TLS stall (records OpenSSL holds
// after the socket is drained), partial writes under backpressure, corking into one
// record, close_notify both ways, the handshake timeout, refused versions and ALPN.
#include <doctest/doctest.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <string>
#include <vector>

#include "net/connection.h"
#include "net/reactor.h"
#include "net/tls.h"
#include "tests/unit/tls_fixtures.h"

using namespace wsedge;
using namespace wsedge::net;

namespace {

// Echoes whole lines; "blast N\n" answers with N bytes of a pattern in one send;
// "cork N\n" answers with N sends of "c\n" inside the same on_data; "close\n" closes.
struct TlsLines final : Protocol {
  std::string received;
  int starts = 0;
  int drains = 0;
  bool disconnected = false;
  void on_start(Transport&) override { ++starts; }
  Consumed on_data(Transport& t, std::span<uint8_t> data) override {
    size_t pos = 0;
    for (;;) {
      auto* start = data.data() + pos;
      auto* nl = static_cast<uint8_t*>(std::memchr(start, '\n', data.size() - pos));
      if (nl == nullptr) return pos;
      size_t n = static_cast<size_t>(nl - start) + 1;
      std::string line(reinterpret_cast<char*>(start), n);
      received += line;
      pos += n;
      if (line.rfind("blast ", 0) == 0) {
        std::vector<uint8_t> blob(std::stoul(line.substr(6)));
        for (size_t i = 0; i < blob.size(); ++i)
          blob[i] = static_cast<uint8_t>(i * 7 + 3);
        t.send(blob);
      } else if (line.rfind("cork ", 0) == 0) {
        for (unsigned long i = std::stoul(line.substr(5)); i > 0; --i)
          t.send({reinterpret_cast<const uint8_t*>("c\n"), 2});
      } else if (line == "close\n") {
        t.send({start, n});
        t.close();
        return data.size();
      } else if (line == "final\n") {
        t.send({start, n});
        t.close_peer_finished();
        return data.size();
      } else {
        t.send({start, n});
      }
    }
  }
  void on_drain(Transport&) override { ++drains; }
  void on_disconnect(Transport&) override { disconnected = true; }
};

struct Owner final : ConnectionOwner {
  int closed = 0;
  void on_connection_closed(Connection* c) override {
    ++closed;
    delete c;
  }
};

SSL_CTX* client_ctx(int max_version = TLS1_3_VERSION) {
  SSL_CTX* c = SSL_CTX_new(TLS_client_method());
  REQUIRE(c != nullptr);
  SSL_CTX_set_max_proto_version(c, max_version);
  if (max_version < TLS1_2_VERSION) {
    // Let the client really offer the old versions, so the refusal is the server's.
    SSL_CTX_set_min_proto_version(c, TLS1_VERSION);
    SSL_CTX_set_security_level(c, 0);
    SSL_CTX_set_cipher_list(c, "DEFAULT@SECLEVEL=0");
  }
  SSL_CTX_set_verify(c, SSL_VERIFY_NONE, nullptr);
  return c;
}

struct TlsPair {
  test::TlsFiles files;
  TlsContext tls;
  std::unique_ptr<Reactor> loop;
  Owner owner;
  std::unique_ptr<ConnectionContext> context;
  Connection* conn = nullptr;
  TlsLines* proto = nullptr;
  int peer = -1;
  SSL_CTX* cctx = nullptr;
  SSL* client = nullptr;

  explicit TlsPair(ConnectionOptions options = {}, size_t recv_size = ConnectionContext::kRecvSize,
                   int client_max = TLS1_3_VERSION) {
    std::string why;
    REQUIRE_MESSAGE(tls.reload(files.cert, files.key, &why), why);
    auto r = Reactor::create();
    REQUIRE(r.ok());
    loop = std::move(r.value());
    int sv[2];
    REQUIRE(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) == 0);
    peer = sv[1];
    context = std::make_unique<ConnectionContext>(*loop, owner, options, recv_size);
    conn = new Connection(*context, sv[0]);
    conn->use_tls(TlsStream::over_fd(tls.get(), sv[0]));
    auto p = std::make_unique<TlsLines>();
    proto = p.get();
    REQUIRE(conn->start(std::move(p)).ok());
    cctx = client_ctx(client_max);
    client = SSL_new(cctx);
    SSL_set_fd(client, peer);
    SSL_set_connect_state(client);
  }
  ~TlsPair() {
    if (owner.closed == 0) delete conn;
    SSL_free(client);
    SSL_CTX_free(cctx);
    ::close(peer);
  }
  void spin(int iterations = 5) {
    for (int i = 0; i < iterations; ++i)
      loop->run_once(10);
  }
  // Both sides done: the client has the server's Finished and the protocol has started.
  bool handshake() {
    for (int i = 0; i < 200; ++i) {
      int r = SSL_do_handshake(client);
      if (r == 1 && proto->starts == 1) return true;
      if (r != 1) {
        int e = SSL_get_error(client, r);
        if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) return false;
      }
      if (owner.closed != 0) return false;
      loop->run_once(5);
    }
    return false;
  }
  void write(const std::string& s) {
    size_t n = 0;
    REQUIRE(SSL_write_ex(client, s.data(), s.size(), &n) == 1);
    REQUIRE(n == s.size());
  }
  // Reads until `want` bytes arrived (spinning the server between tries) or nothing moves.
  std::string read(size_t want, int max_idle = 50) {
    std::string got;
    char buf[65536];
    for (int idle = 0; got.size() < want && idle < max_idle;) {
      size_t n = 0;
      if (SSL_read_ex(client, buf, sizeof buf, &n) == 1) {
        got.append(buf, n);
        idle = 0;
        continue;
      }
      if (SSL_get_error(client, 0) != SSL_ERROR_WANT_READ) break;
      ++idle;
      loop->run_once(5);
    }
    return got;
  }
  // Raw ciphertext the server sent (what is in the socket now), for counting records.
  std::string read_raw() {
    std::string s;
    char buf[65536];
    for (ssize_t n; (n = ::read(peer, buf, sizeof buf)) > 0;)
      s.append(buf, static_cast<size_t>(n));
    return s;
  }
};

int count_app_records(const std::string& raw) {
  int n = 0;
  for (size_t i = 0; i + 5 <= raw.size();) {
    if (raw[i] == 0x17) ++n;  // application_data (TLS 1.3 hides every type behind it)
    i += 5 + ((static_cast<uint8_t>(raw[i + 3]) << 8) | static_cast<uint8_t>(raw[i + 4]));
  }
  return n;
}

std::string pattern(size_t n) {
  std::string s(n, '\0');
  for (size_t i = 0; i < n; ++i)
    s[i] = static_cast<char>(static_cast<uint8_t>(i * 7 + 3));
  return s;
}

}  // namespace

TEST_CASE("TLS: the protocol starts after the handshake and lines echo through SSL") {
  TlsPair p;
  CHECK(p.proto->starts == 0);
  REQUIRE(p.handshake());
  p.write("one\ntwo\n");
  CHECK(p.read(8) == "one\ntwo\n");
  CHECK(p.proto->received == "one\ntwo\n");
}

TEST_CASE("TLS: many small records arriving in one segment are all read (ET + SSL_pending)") {
  TlsPair p;
  REQUIRE(p.handshake());
  // 300 records encrypted into memory, then written to the socket in one write(): one
  // edge announces all of them, and OpenSSL reads them ahead in one go. A reader that
  // stopped after the first short SSL_read would wait for an edge that never comes.
  BIO* mem = BIO_new(BIO_s_mem());
  BIO* sock = SSL_get_wbio(p.client);
  BIO_up_ref(sock);
  SSL_set0_wbio(p.client, mem);
  std::string want;
  for (int i = 0; i < 300; ++i) {
    std::string line = "line " + std::to_string(i) + "\n";
    p.write(line);
    want += line;
  }
  char* bytes = nullptr;
  long len = BIO_get_mem_data(mem, &bytes);
  REQUIRE(len > 300 * 22);  // 300 records, each with its own header and tag
  REQUIRE(::write(p.peer, bytes, static_cast<size_t>(len)) == len);
  SSL_set0_wbio(p.client, sock);
  p.spin(3);
  CHECK(p.proto->received == want);
  CHECK(p.read(want.size()) == want);
}

TEST_CASE("TLS: a record larger than one read reaches the protocol whole") {
  TlsPair p({}, 4096);  // a receive buffer far smaller than a 16 KiB record
  REQUIRE(p.handshake());
  std::string line(16000, 'x');
  line += "\n";
  p.write(line);  // one SSL_write, one record
  p.spin(3);
  CHECK(p.proto->received.size() == line.size());
  CHECK(p.proto->received == line);
  CHECK(p.read(line.size()) == line);
}

TEST_CASE("TLS: a large send leaves in partial writes under backpressure, byte-exact") {
  ConnectionOptions o;
  o.high_water = 64 * 1024;
  TlsPair p(o);
  REQUIRE(p.handshake());
  const size_t n = 4u << 20;
  p.write("blast " + std::to_string(n) + "\n");
  p.spin(3);
  // The client reads nothing yet: the socket filled, SSL_write stopped at WANT_WRITE, and
  // the rest waits in the connection's queue.
  CHECK(p.conn->buffered_amount() > 0);
  CHECK(p.conn->buffered_amount() < n);
  std::string got = p.read(n);
  CHECK(got.size() == n);
  CHECK(got == pattern(n));
  CHECK(p.conn->buffered_amount() == 0);
  CHECK(p.proto->drains == 1);
  p.write("after\n");  // still a working stream
  CHECK(p.read(6) == "after\n");
}

TEST_CASE("TLS: sends corked inside one on_data leave as one record") {
  TlsPair p;
  REQUIRE(p.handshake());
  p.write("warm\n");  // also takes the TLS 1.3 session tickets off the wire
  REQUIRE(p.read(5) == "warm\n");
  p.write("cork 100\n");
  p.spin(3);
  std::string raw = p.read_raw();
  CHECK(count_app_records(raw) == 1);  // 100 sends, one record (not 100)
  CHECK(raw.size() < 250);
}

TEST_CASE("TLS: close() sends close_notify before the FIN") {
  TlsPair p;
  REQUIRE(p.handshake());
  p.write("close\n");
  CHECK(p.read(6) == "close\n");
  char c;
  size_t n = 0;
  CHECK(SSL_read_ex(p.client, &c, 1, &n) == 0);
  CHECK(SSL_get_error(p.client, 0) == SSL_ERROR_ZERO_RETURN);  // a clean TLS end
  CHECK((SSL_get_shutdown(p.client) & SSL_RECEIVED_SHUTDOWN) != 0);
  ::shutdown(p.peer, SHUT_WR);
  p.spin(3);
  CHECK(p.owner.closed == 1);
}

TEST_CASE("TLS: close_peer_finished() also ends with close_notify") {
  TlsPair p;
  REQUIRE(p.handshake());
  p.write("final\n");
  CHECK(p.read(6) == "final\n");
  char c;
  size_t n = 0;
  CHECK(SSL_read_ex(p.client, &c, 1, &n) == 0);
  CHECK(SSL_get_error(p.client, 0) == SSL_ERROR_ZERO_RETURN);
  CHECK(p.owner.closed == 1);
}

TEST_CASE("TLS: the peer's close_notify ends the connection and is answered") {
  TlsPair p;
  REQUIRE(p.handshake());
  p.write("x\n");
  REQUIRE(p.read(2) == "x\n");
  CHECK(SSL_shutdown(p.client) == 0);  // ours sent, theirs not seen yet
  p.spin(3);
  CHECK(p.owner.closed == 1);
  int r = 0;
  for (int i = 0; i < 20 && (r = SSL_shutdown(p.client)) != 1; ++i)
    p.spin(1);
  CHECK(r == 1);  // the server's close_notify arrived
}

TEST_CASE("TLS: a client that never finishes the handshake is cut at the timeout") {
  ConnectionOptions o;
  o.tls_handshake_ms = 30;
  TlsPair p(o);
  for (int i = 0; i < 50 && p.owner.closed == 0; ++i)
    p.loop->run_once(10);
  CHECK(p.owner.closed == 1);
}

TEST_CASE("TLS: plain HTTP on the TLS port gets a clear-text 400, then a clean close") {
  TlsPair p;
  std::string req = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
  REQUIRE(::write(p.peer, req.data(), req.size()) == static_cast<ssize_t>(req.size()));
  p.spin(3);
  CHECK(p.proto->starts == 0);  // the protocol never saw a byte
  std::string got;
  char buf[512];
  for (ssize_t n; (n = ::read(p.peer, buf, sizeof buf)) > 0;)
    got.append(buf, static_cast<size_t>(n));
  CHECK(got.rfind("HTTP/1.1 400 Bad Request\r\n", 0) == 0);
  CHECK(got.find("https://") != std::string::npos);
  CHECK(::read(p.peer, buf, sizeof buf) == 0);  // the server's FIN: a half-close, no reset
  CHECK(p.owner.closed == 0);                   // lingering until the client's own EOF
  ::shutdown(p.peer, SHUT_WR);
  p.spin(3);
  CHECK(p.owner.closed == 1);
}

TEST_CASE("TLS: bytes that are neither TLS nor HTTP close at once, with no answer") {
  TlsPair p;
  const char junk[] = "\x01\x02\x03\x04\x05\x06garbage";
  REQUIRE(::write(p.peer, junk, sizeof junk - 1) == static_cast<ssize_t>(sizeof junk - 1));
  p.spin(3);
  CHECK(p.owner.closed == 1);  // closed and freed (the protocol with it: never started)
  char buf[64];
  ssize_t n = ::read(p.peer, buf, sizeof buf);
  CHECK((n <= 0 || std::string(buf, static_cast<size_t>(n)).find("HTTP/") == std::string::npos));
}

TEST_CASE("TLS: versions below 1.2 are refused") {
  for (int version : {TLS1_VERSION, TLS1_1_VERSION}) {
    CAPTURE(version);
    TlsPair p({}, ConnectionContext::kRecvSize, version);
    CHECK_FALSE(p.handshake());
    p.spin(2);
    CHECK(p.owner.closed == 1);
  }
}

TEST_CASE("TLS: TLS 1.2 works with an ECDHE AEAD suite") {
  TlsPair p({}, ConnectionContext::kRecvSize, TLS1_2_VERSION);
  REQUIRE(p.handshake());
  CHECK(SSL_version(p.client) == TLS1_2_VERSION);
  std::string cipher = SSL_get_cipher_name(p.client);
  CHECK(cipher.rfind("ECDHE-", 0) == 0);
  CHECK((cipher.find("GCM") != std::string::npos || cipher.find("CHACHA20") != std::string::npos));
  p.write("v12\n");
  CHECK(p.read(4) == "v12\n");
}

TEST_CASE("TLS: no RSA key exchange and no CBC suite is accepted in TLS 1.2") {
  for (const char* suite :
       {"AES128-GCM-SHA256", "ECDHE-RSA-AES128-SHA", "ECDHE-ECDSA-AES128-SHA256"}) {
    CAPTURE(suite);
    TlsPair p({}, ConnectionContext::kRecvSize, TLS1_2_VERSION);
    REQUIRE(SSL_set_cipher_list(p.client, suite) == 1);
    CHECK_FALSE(p.handshake());
  }
}

TEST_CASE("TLS: ALPN answers http/1.1 and refuses a client that offers only h2") {
  {
    TlsPair p;
    static const unsigned char offer[] = "\x02h2\x08http/1.1";
    SSL_set_alpn_protos(p.client, offer, sizeof offer - 1);
    REQUIRE(p.handshake());
    const unsigned char* chosen = nullptr;
    unsigned int len = 0;
    SSL_get0_alpn_selected(p.client, &chosen, &len);
    CHECK(std::string(reinterpret_cast<const char*>(chosen), len) == "http/1.1");
  }
  {
    TlsPair p;
    static const unsigned char offer[] = "\x02h2";
    SSL_set_alpn_protos(p.client, offer, sizeof offer - 1);
    CHECK_FALSE(p.handshake());
  }
}

TEST_CASE("TlsContext: a bad reload keeps the old context and says why") {
  test::TlsFiles files;
  TlsContext tls;
  std::string why;
  CHECK_FALSE(tls.reload(files.dir + "/missing.pem", files.key, &why));
  CHECK(why.find("missing.pem") != std::string::npos);
  CHECK(tls.get() == nullptr);
  REQUIRE(tls.reload(files.cert, files.key, &why));
  SSL_CTX* good = tls.get();
  CHECK(tls.describe_certificate().find("CN=wsedge-test") != std::string::npos);
  why.clear();
  CHECK_FALSE(tls.reload(files.cert, files.other_key, &why));  // key of another certificate
  CHECK(why.find("other-key.pem") != std::string::npos);
  CHECK(tls.get() == good);
  CHECK_FALSE(tls.reload(files.key, files.key, &why));  // a key where the chain should be
  CHECK(tls.get() == good);
  test::TlsFiles fresh("wsedge-fresh", 7);
  REQUIRE(tls.reload(fresh.cert, fresh.key, &why));
  CHECK(tls.get() != good);
  CHECK(tls.describe_certificate().find("wsedge-fresh") != std::string::npos);
  CHECK(tls.describe_certificate().find("serial 07") != std::string::npos);
}
