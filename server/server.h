// server/server.h — a WebSocket server: listener, connections, routes, graceful shutdown.
//
// The composition root of the library, above the layers it joins (so ws/ and http/ include
// nothing of net/): it accepts connections (net/), starts each with
// an HttpSession (http/), answers WebSocket upgrades with the handshake (ws/handshake)
// and hijacks the connection into a ws::Session for the route's ws::Handler. Every non-upgrade
// GET is served from the static root (or 404). One Server runs on one Reactor, on that
// reactor's thread; routes, options and handlers must outlive it.
// With a certificate (ServerOptions::tls) the listener speaks TLS — or, with a TLS port, a
// second listener does, beside the plain one; reload_tls() swaps the certificate for new
// connections while open ones keep theirs (docs/tls.md).
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "http/http_session.h"
#include "http/static_files.h"
#include "net/connection.h"
#include "net/listener.h"
#include "net/reactor.h"
#include "net/tls.h"
#include "server/metrics.h"
#include "ws/session.h"
#include "ws/trace.h"

namespace wsedge {

struct Route {
  std::string path;  // exact path; "" is the default for every path no other route claims
  ws::Handler* handler = nullptr;
  // Subprotocols the route speaks, most preferred first (RFC 6455 §4.2.2 /subprotocol/).
  std::vector<std::string> subprotocols;
  // (ws::SessionOptions::require_subprotocol refuses clients that offer none of them.)
  // Runs before the handshake: 0 lets it proceed; an HTTP status (401, 403) refuses it
  // with that status. Empty: everyone may connect.
  std::function<int(const http::Request&)> authorize;
  ws::SessionOptions session;
  // permessage-deflate (RFC 7692): off unless the route turns it on.
  ws::DeflateServerPolicy deflate{.enabled = false};
};

// TLS (net/tls): both files empty means none. The handshake timeout is
// ConnectionOptions::tls_handshake_ms.
struct TlsServerOptions {
  std::string cert_file;  // PEM chain, leaf first
  std::string key_file;   // PEM private key, unencrypted
  int port = -1;          // -1: the main listener speaks TLS; else a second, TLS-only one
                          // on this port (0: a free one) beside the plain listener
  bool enabled() const { return !cert_file.empty(); }
};

struct ServerOptions {
  net::Listener::Options listen;
  TlsServerOptions tls;
  std::string web_root;                      // static files; empty: none
  std::vector<std::string> allowed_origins;  // empty: any Origin
  http::HttpOptions http;
  net::ConnectionOptions connection;
  int64_t shutdown_grace_ms = 2000;  // graceful stop: how long close handshakes may take
  // Bytes all WebSockets together may hold in unfinished messages (ws::SessionOptions::
  // memory_budget); 0: no server-wide bound.
  size_t message_memory_budget = 128ull << 20;
  // --trace, --trace=hex, --trace-filter (ws/trace.h, docs/trace.md): off by default.
  ws::TraceOptions trace;
  // --metrics (server/metrics.h, docs/metrics.md): off by default.
  MetricsOptions metrics;
};

struct ServerStats {
  uint64_t connections_accepted = 0;
  uint64_t connections_open = 0;
  uint64_t handshakes_ok = 0;            // 101 sent
  uint64_t handshakes_refused = 0;       // every refusal, whichever status
  http::StatusCounts refused_by_status;  // the same, by the status answered
  http::StatusCounts http_responses;     // every response HttpSession sent on our ports
  ws::MessageCounters messages;
};

class Server final : public net::ConnectionOwner, public http::UpgradeHandler {
 public:
  Server(net::Reactor& loop, ServerOptions options);
  ~Server();

  // Add every route before start(); sessions point at their route.
  void add_route(Route route);
  // With TLS on, load_tls() must succeed before start(); false with a one-line `error`.
  bool load_tls(std::string* error);
  Result<void> start();
  uint16_t port() const { return listener_.port(); }
  std::string address() const { return listener_.address(); }
  bool main_is_tls() const { return options_.tls.enabled() && options_.tls.port < 0; }
  // The second (TLS) listener's address; empty without one.
  std::string tls_address() const { return tls_listener_.address(); }
  // Where GET /metrics is served ("HOST:PORT", the path apart); empty without --metrics.
  std::string metrics_address() const;
  const std::string& metrics_path() const { return options_.metrics.path; }
  // The metrics page's text (Prometheus exposition format 0.0.4): every counter and
  // gauge of docs/metrics.md, the per-connection ones summed over the registry now.
  void write_metrics(Buffer& out) const;
  // Re-reads the certificate and key for connections accepted from now on; a failure
  // keeps the current ones (false, with why in `error`). Open connections are untouched.
  bool reload_tls(std::string* error);
  std::string tls_certificate() const { return tls_.describe_certificate(); }
  const ServerStats& stats() const { return stats_; }
  // Bytes held in unfinished messages now (total()) and at most (peak()).
  const MemoryBudget& message_memory() const { return memory_budget_; }
  const MemoryReturn::Stats& memory_returned() const { return memory_return_.stats(); }

  // Graceful stop (RFC 6455 §7.1.2 close with 1001 "going away"): stop accepting, start
  // the close handshake on every WebSocket, close idle HTTP connections, then call `done`
  // once every connection is gone or shutdown_grace_ms passed (stragglers are aborted).
  void shutdown(std::function<void()> done);

 private:
  class SessionLink;

  void on_accept(int fd, bool tls);
  void on_connection_closed(net::Connection* c) override;
  std::unique_ptr<Protocol> on_upgrade(Transport& t, const http::Request& request) override;
  const Route* find_route(std::string_view path) const;
  void maybe_finish_shutdown();

  net::Reactor& loop_;
  ServerOptions options_;
  net::ConnectionContext context_;
  net::Listener listener_;
  net::Listener tls_listener_;  // --tls-port: TLS beside the plain listener
  net::TlsContext tls_;
  std::unique_ptr<http::StaticFiles> files_;
  // --metrics: the page, and its own port unless same_port (then the page answers the
  // WebSocket port's plain requests, handing every other path to files_).
  std::unique_ptr<MetricsPage> metrics_page_;
  std::unique_ptr<MetricsPort> metrics_port_;
  const http::RequestHandler* requests_ = nullptr;  // what plain requests go to
  std::deque<Route> routes_;                // sessions keep references into it: never reallocated
  net::Connection* connections_ = nullptr;  // intrusive list of every live connection
  ServerStats stats_;
  MemoryBudget memory_budget_;  // limit 0: not handed to the routes
  // Gives the memory of large messages back to the system once they stop: watches the
  // loop's kept buffers (cork, TLS join, compression scratch) and trims the heap. The
  // scratch is thread_local: the Server is constructed on the thread that runs its loop.
  MemoryReturn memory_return_;
  net::Timer memory_timer_;
  std::unique_ptr<ws::Tracer> tracer_;  // null unless options_.trace.enabled
  std::function<void()> shutdown_done_;
  net::Timer shutdown_timer_;
};

}  // namespace wsedge
