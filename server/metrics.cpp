#include "server/metrics.h"

#include <unistd.h>

#include "core/exposition.h"
#include "core/log.h"
#include "http/response.h"

namespace wsedge {

MetricsPage::MetricsPage(std::string path, Render render, const http::RequestHandler* other)
    : path_(std::move(path)), render_(std::move(render)), other_(other) {}

http::ServeResult MetricsPage::serve(const http::Request& req, Buffer& out) const {
  if (req.path != path_) {
    return other_ != nullptr ? other_->serve(req, out) : http::serve_nothing(req, out);
  }
  const bool head = req.method == "HEAD";
  if (req.method != "GET" && !head) {
    // RFC 9110 §15.5.6: a 405 MUST carry Allow (write_error adds "GET, HEAD").
    http::write_error(out, 405, "method not allowed", !req.keep_alive());
    return {405, 0, "method not allowed"};
  }
  // Rendered into a buffer of the loop's thread, kept between scrapes: a scrape is a
  // few KiB to a few tens of KiB (one sample per close code seen, per route).
  thread_local Buffer body;
  body.clear();
  render_(body);
  http::ConnectionHeader connection = http::ConnectionHeader::kNone;
  if (!req.keep_alive()) {
    connection = http::ConnectionHeader::kClose;
  } else if (req.version_minor == 0) {
    connection = http::ConnectionHeader::kKeepAlive;  // RFC 9112 §9.3
  }
  http::ResponseHead rh{.status = 200,
                        .content_type = prom::kContentType,
                        .connection = connection,
                        .head_only = head,
                        .cache_control = "no-store",
                        .extra = {}};
  http::write_response(out, rh, body.view());
  return {200, head ? 0 : body.readable(), ""};
}

namespace {
constexpr size_t kRecvBytes = 16 * 1024;  // request heads only; a longer one goes to the tail
}

MetricsPort::MetricsPort(net::Reactor& loop, const MetricsOptions& options, http::HttpOptions http,
                         const net::ConnectionOptions& connection, const MetricsPage& page)
    : options_(options),
      http_(std::move(http)),
      page_(page),
      context_(loop, *this, connection, kRecvBytes),
      listener_(
          loop, [this](int fd, const sockaddr_storage&) { on_accept(fd); },
          [this] { return open_ < options_.max_connections; }) {
  http_.hosts = options_.hosts;
  http_.note_head_reads = false;
  http_.responses = &responses_;
  http_.upgrades_refused = nullptr;  // on_upgrade answers them all with a 404
}

MetricsPort::~MetricsPort() {
  while (connections_ != nullptr) {
    net::Connection* c = connections_;
    connections_ = c->next;
    delete c;
  }
}

Result<void> MetricsPort::listen() {
  if (Result<void> r = listener_.listen(options_.listen); !r) return r;
  // Known only now for port 0; the sessions read the policy by reference.
  http_.hosts.ports.push_back(listener_.port());
  return {};
}

void MetricsPort::shutdown() {
  stopping_ = true;
  listener_.close();
  for (net::Connection* c = connections_; c != nullptr; c = c->next)
    c->protocol()->on_shutdown(*c);
}

void MetricsPort::on_accept(int fd) {
  if (stopping_) {
    ::close(fd);
    return;
  }
  std::unique_ptr<net::Connection> c = net::make_connection(context_, fd);
  if (Result<void> r = c->start(std::make_unique<http::HttpSession>(http_, &page_, *this)); !r) {
    char why[160];
    WSEDGE_LOG(kWarn, "metrics: cannot register connection: %s",
               describe(r.error(), why, sizeof why));
    return;
  }
  net::link_connection(connections_, c.release());
  ++open_;
}

void MetricsPort::on_connection_closed(net::Connection* c) {
  net::unlink_connection(connections_, c);
  --open_;
  delete c;
}

std::unique_ptr<Protocol> MetricsPort::on_upgrade(Transport& t, const http::Request& /*request*/) {
  thread_local Buffer out;
  out.clear();
  http::write_error(out, 404, "no WebSocket on the metrics port", true);
  responses_.add(404);
  t.send(out.view());
  t.close();
  return nullptr;
}

}  // namespace wsedge
