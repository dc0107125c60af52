// apps/client.cpp — wsedge-client: an interactive WebSocket client for watching the protocol.
//
//   wsedge-client [options] ws://host:port/path        (docs/client.md; --help)
//
// The opening handshake (ws/client_handshake), then a poll() loop over stdin and the socket:
// lines become messages or commands (apps/client/commands), the server's frames become
// printed messages (apps/client/session), and with --trace every step is described on stderr
// by the same inspector the server's trace uses (ws/inspect). Exit status (apps/client/
// verdict.h): 0 after a clean close, 1 on a protocol or connection failure, 2 on a usage
// error, 130 after Ctrl-C.
#include <openssl/rand.h>
#include <poll.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <string>
#include <vector>

#include "apps/client/commands.h"
#include "apps/client/options.h"
#include "apps/client/run.h"
#include "apps/client/session.h"
#include "apps/client/stream.h"
#include "apps/client/verdict.h"
#include "core/clock.h"
#include "ws/client_handshake.h"
#include "ws/close_code.h"
#include "ws/inspect.h"

namespace wsedge::client {
namespace {

constexpr std::string_view kConn = "c1";
constexpr ws::inspect::Prefix kToServer{kConn, ws::inspect::Flow::kClientToServer};
constexpr ws::inspect::Prefix kToClient{kConn, ws::inspect::Flow::kServerToClient};

void random_bytes(uint8_t* p, int n) {
  // RFC 6455 §4.1 and §10.3: the key nonce and the masking keys come from a strong source
  // of entropy; a tool that cannot get one must not go on with predictable masks.
  if (RAND_bytes(p, n) != 1) {
    say("RAND_bytes failed: no source of randomness");
    std::_Exit(1);
  }
}

ws::MaskKey fresh_key() {
  ws::MaskKey k;
  random_bytes(k.data(), static_cast<int>(k.size()));
  return k;
}

std::string join(const std::vector<std::string>& v) {
  std::string s;
  for (const std::string& e : v)
    s.append(s.empty() ? "" : ", ").append(e);
  return s;
}

struct Handshake {
  ws::ServerResponse response;
  std::string head;  // the response head (the views in `response` point into it)
  std::string rest;  // bytes after the head: the server's first frames
};

// Reads the response head, within the deadline. Empty error on success.
std::string read_head(Stream& s, int64_t deadline, Handshake* h) {
  std::string got;
  for (;;) {
    uint8_t buf[4096];
    const IoResult r = s.read(buf, sizeof buf);
    if (r.status == IoStatus::kOk) {
      got.append(reinterpret_cast<const char*>(buf), r.bytes);
      if (const size_t n = ws::response_head_length(got); n != 0) {
        h->head = got.substr(0, n);
        h->rest = got.substr(n);
        return {};
      }
      if (got.size() > ws::kMaxResponseHead) return "the response head is larger than 16 KiB";
      continue;
    }
    if (r.status == IoStatus::kClosed)
      return "the server closed the connection during the handshake";
    if (r.status == IoStatus::kError) return "read failed during the handshake";
    const int64_t left = deadline - mono_ms();
    pollfd p{s.fd(), POLLIN, 0};
    if (!s.has_buffered() && (left <= 0 || ::poll(&p, 1, static_cast<int>(left)) == 0))
      return "no handshake response within the timeout";
  }
}

void trace_handshake(const ClientOptions& o, const std::string& key, const Handshake& h,
                     const ws::ClientOffer& offer) {
  std::string t;
  ws::inspect::format_head(t, kToClient, h.head);
  ws::inspect::format_accept_key(t, kToClient, key);
  const ws::ServerResponse& r = h.response;
  if (r.status == 101) {
    ws::inspect::format_note(t, kToClient,
                             r.error == ws::ClientHandshakeError::kBadAccept
                                 ? "Sec-WebSocket-Accept \"" + std::string(r.accept) +
                                       "\" does not match: RFC 6455 §4.1 says fail"
                                 : "Sec-WebSocket-Accept matches (RFC 6455 §4.1)");
  }
  const std::string protocols = join(o.subprotocols);
  ws::inspect::format_negotiation(
      t, kToClient,
      {protocols, r.subprotocol, offer.deflate ? "permessage-deflate; client_max_window_bits" : "",
       r.extensions});
  std::fputs(t.c_str(), stderr);
}

// The opening handshake (RFC 6455 §4.1). Empty error on success.
std::string handshake(Stream& s, const ClientOptions& o, Handshake* h) {
  uint8_t nonce[ws::kClientNonceLength];
  // RFC 6455 §4.1: the nonce MUST be selected randomly for each connection.
  random_bytes(nonce, sizeof nonce);
  const std::string key = ws::client_key(nonce);
  const ws::ClientOffer offer{o.url.host_header, o.url.target, key,      o.subprotocols,
                              o.deflate,         o.origin,     o.headers};
  std::string request;
  ws::write_client_request(request, offer);
  if (o.trace != TraceLevel::kOff) {
    std::string t;
    ws::inspect::format_head(t, kToServer, request);
    std::fputs(t.c_str(), stderr);
  }
  const int timeout_ms = static_cast<int>(o.timeout_s * 1000);
  std::string error;
  if (!s.write_all(reinterpret_cast<const uint8_t*>(request.data()), request.size(), timeout_ms,
                   &error))
    return error;
  if (std::string why = read_head(s, mono_ms() + timeout_ms, h); !why.empty()) return why;
  h->response = ws::check_server_response(h->head, offer);
  if (o.trace != TraceLevel::kOff) trace_handshake(o, key, *h, offer);
  const ws::ServerResponse& r = h->response;
  if (r.error == ws::ClientHandshakeError::kNone) return {};
  std::string why = ws::describe(r.error);
  if (*r.detail) why.append(": ").append(r.detail);
  if (r.status != 0)
    why.append(" [HTTP ").append(std::to_string(r.status)).append(" ").append(r.reason).append("]");
  return why;
}

}  // namespace
}  // namespace wsedge::client

int main(int argc, char** argv) {
  using namespace wsedge::client;  // NOLINT(google-build-using-namespace): main only
  // A server that closes while we write must give us EPIPE (and a message), not kill the
  // tool: plain sends use MSG_NOSIGNAL, but OpenSSL writes with write().
  std::signal(SIGPIPE, SIG_IGN);
  ClientOptions o;
  if (std::string why = parse_client_options(argc, argv, &o); !why.empty()) {
    say(why);
    return kExitUsage;
  }
  if (o.help) {
    std::fputs(client_usage(), stdout);
    return 0;
  }
  std::string error;
  std::unique_ptr<Stream> stream = Stream::open(o, &error);
  if (!stream) {
    say("cannot connect: " + error);
    return 1;
  }
  Handshake h;
  if (std::string why = handshake(*stream, o, &h); !why.empty()) {
    say("handshake failed: " + why);
    return 1;
  }
  return run_session(*stream, o, h.response, h.rest, &fresh_key);
}
