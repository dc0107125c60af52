// server/metrics.h — the metrics endpoint: GET /metrics in the Prometheus text format.
//
// MetricsPage is a RequestHandler that answers GET and HEAD of one path with the text a
// render function writes (core/exposition.h), and hands every other request to the
// handler behind it (the static files, on the WebSocket port) or, with none, 404/405.
// MetricsPort is the metrics' own listening socket on the server's reactor: plain HTTP
// through HttpSession with the same head limits and timeouts as the WebSocket port, a
// Host policy of its own, a small cap on connections open at once, and no upgrades.
// Loop thread only; the server owns both (docs/metrics.md).
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <string>

#include "core/buffer.h"
#include "http/http_session.h"
#include "http/request_handler.h"
#include "net/connection.h"
#include "net/listener.h"

namespace wsedge {

struct MetricsOptions {
  bool enabled = false;
  // Served on the WebSocket port (at `path`) instead of a listener of its own.
  bool same_port = false;
  std::string path = "/metrics";
  net::Listener::Options listen;  // the metrics port (not same_port); port 0: a free one
  // The metrics port answers only Hosts this policy admits (its own port is added once
  // bound), like the WebSocket port: a page on a rebound name reads no metrics.
  http::HostPolicy hosts;
  // Scrapers open a connection or two; more at once is someone else.
  size_t max_connections = 32;
};

class MetricsPage final : public http::RequestHandler {
 public:
  using Render = std::function<void(Buffer& body)>;
  // `other` answers every other path; null: 404 (405 for methods other than GET, HEAD).
  MetricsPage(std::string path, Render render, const http::RequestHandler* other);
  http::ServeResult serve(const http::Request& req, Buffer& out) const override;

 private:
  std::string path_;
  Render render_;
  const http::RequestHandler* other_;
};

class MetricsPort final : public net::ConnectionOwner, public http::UpgradeHandler {
 public:
  // `http` is copied (its Host policy gets this port); `page` must outlive the port.
  MetricsPort(net::Reactor& loop, const MetricsOptions& options, http::HttpOptions http,
              const net::ConnectionOptions& connection, const MetricsPage& page);
  ~MetricsPort();

  Result<void> listen();
  std::string address() const { return listener_.address(); }
  // Graceful stop: no new connections; idle ones close, a scrape in flight finishes.
  void shutdown();
  // Every response the port sent, by status; connections open now.
  const http::StatusCounts& responses() const { return responses_; }
  size_t open() const { return open_; }

 private:
  void on_accept(int fd);
  void on_connection_closed(net::Connection* c) override;
  // The metrics port speaks no WebSocket: 404 and close.
  std::unique_ptr<Protocol> on_upgrade(Transport& t, const http::Request& request) override;

  const MetricsOptions& options_;
  http::HttpOptions http_;
  const MetricsPage& page_;
  http::StatusCounts responses_;
  // Its own context: the metrics port shares no buffer or counter with the WebSocket
  // port's connections, and a small receive buffer is plenty for request heads.
  net::ConnectionContext context_;
  net::Listener listener_;
  net::Connection* connections_ = nullptr;  // intrusive list, as the server's
  size_t open_ = 0;
  bool stopping_ = false;
};

}  // namespace wsedge
