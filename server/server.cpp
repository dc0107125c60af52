#include "server/server.h"

#include <unistd.h>

#include <array>
#include <new>

#include "core/log.h"
#include "http/response.h"
#include "ws/close_code.h"
#include "ws/handshake.h"

namespace wsedge {

using ws::check_handshake;
using ws::compute_accept_key;
using ws::DeflateServerPolicy;
using ws::HandshakeOptions;
using ws::HandshakeResult;
using ws::kAcceptKeyLength;
using ws::negotiate_deflate;
using ws::NegotiationResult;
using ws::Opening;
using ws::Session;
using ws::write_handshake_error;
using ws::write_handshake_response;

Server::Server(net::Reactor& loop, ServerOptions options)
    : loop_(loop),
      options_(std::move(options)),
      context_(loop, *this, options_.connection),
      listener_(
          loop, [this](int fd, const sockaddr_storage&) { on_accept(fd, main_is_tls()); },
          [this] { return stats_.connections_open < options_.connection.max_connections; }),
      tls_listener_(
          loop, [this](int fd, const sockaddr_storage&) { on_accept(fd, true); },
          [this] { return stats_.connections_open < options_.connection.max_connections; }),
      memory_budget_(options_.message_memory_budget),
      memory_return_(
          [](void* self, int64_t delay_ms) {
            auto* server = static_cast<Server*>(self);
            server->loop_.arm_after(server->memory_timer_, delay_ms);
          },
          this),
      memory_timer_(
          [](net::Timer* t) {
            auto* server = static_cast<Server*>(t->arg());
            server->memory_return_.run(server->loop_.now_ms());
          },
          this),
      shutdown_timer_(
          [](net::Timer* t) {
            auto* self = static_cast<Server*>(t->arg());
            WSEDGE_LOG(kWarn, "shutdown grace over: aborting the remaining connections");
            for (net::Connection* c = self->connections_; c != nullptr; c = c->next)
              c->abort();
          },
          this) {
  if (options_.trace.enabled) {
    tracer_ = std::make_unique<ws::Tracer>(options_.trace);
    options_.http.note_head_reads = true;  // the trace shows a head that came in pieces
  }
  if (!options_.web_root.empty()) {
    files_ = std::make_unique<http::StaticFiles>(options_.web_root);
  }
  requests_ = files_.get();
  options_.http.responses = &stats_.http_responses;
  options_.http.upgrades_refused = &stats_.refused_by_status;
  if (options_.metrics.enabled) {
    const MetricsOptions& m = options_.metrics;
    metrics_page_ = std::make_unique<MetricsPage>(
        m.path, [this](Buffer& out) { write_metrics(out); }, m.same_port ? files_.get() : nullptr);
    if (m.same_port) {
      requests_ = metrics_page_.get();
    } else {
      metrics_port_ = std::make_unique<MetricsPort>(loop_, m, options_.http, options_.connection,
                                                    *metrics_page_);
    }
  }
  context_.memory_return = &memory_return_;
  memory_return_.watch(context_.cork);
  memory_return_.watch(context_.tls_join);
  memory_return_.watch(Session::compression_scratch());  // this (the loop's) thread's
}

Server::~Server() {
  loop_.disarm(shutdown_timer_);
  metrics_port_.reset();
  while (connections_ != nullptr) {
    net::Connection* c = connections_;
    connections_ = c->next;
    delete c;
  }
  loop_.disarm(memory_timer_);  // after: a closing TLS connection arms it
}

void Server::add_route(Route route) {
  route.session.counters = &stats_.messages;
  if (options_.message_memory_budget > 0) route.session.memory_budget = &memory_budget_;
  route.session.memory_return = &memory_return_;
  route.session.tracer = tracer_.get();
  routes_.push_back(std::move(route));
}

Result<void> Server::start() {
  if (files_) {
    if (Result<void> r = files_->check(); !r) return r;
  }
  // OpenSSL 3 builds its provider tables on first use: pay that once here, not in the
  // first client's handshake latency (nor as a step in the memory curve of connections).
  char warm[kAcceptKeyLength];
  compute_accept_key("dGhlIHNhbXBsZSBub25jZQ==", warm);
  if (options_.tls.enabled() && tls_.get() == nullptr) return Error{"TLS certificate not loaded"};
  if (Result<void> r = listener_.listen(options_.listen); !r) return r;
  // Known only now when --port 0 asked for a free one; sessions read it by reference.
  options_.http.hosts.ports.push_back(listener_.port());
  if (metrics_port_) {
    // Named, so the one line on stderr does not blame the WebSocket port.
    if (Result<void> r = metrics_port_->listen(); !r)
      return Error{"the --metrics port", r.error().sys_errno};
  }
  if (!options_.tls.enabled() || options_.tls.port < 0) return {};
  net::Listener::Options tls_listen = options_.listen;
  tls_listen.port = static_cast<uint16_t>(options_.tls.port);
  if (Result<void> r = tls_listener_.listen(tls_listen); !r) return r;
  options_.http.hosts.ports.push_back(tls_listener_.port());
  return {};
}

bool Server::load_tls(std::string* error) {
  return tls_.reload(options_.tls.cert_file, options_.tls.key_file, error);
}

bool Server::reload_tls(std::string* error) {
  if (!options_.tls.enabled()) {
    *error = "TLS is off (no --tls-cert)";
    return false;
  }
  return load_tls(error);
}

void Server::on_accept(int fd, bool tls) {
  if (shutdown_done_) {  // stopping: accept nothing new
    ::close(fd);
    return;
  }
  // Out of memory anywhere below, the connection (and with it fd) is freed and the
  // listener goes on (net/listener.h): nothing leaks, nothing is left half-registered.
  std::unique_ptr<net::Connection> c = net::make_connection(context_, fd);
  if (tls) {
    std::unique_ptr<net::TlsStream> stream = net::TlsStream::over_fd(tls_.get(), fd);
    if (!stream) {
      WSEDGE_LOG(kWarn, "cannot allocate TLS state for a new connection");
      return;
    }
    c->use_tls(std::move(stream));
  }
  auto http = std::make_unique<http::HttpSession>(options_.http, requests_, *this);
  if (Result<void> r = c->start(std::move(http)); !r) {
    char why[160];
    WSEDGE_LOG(kWarn, "cannot register connection: %s", describe(r.error(), why, sizeof why));
    return;
  }
  net::link_connection(connections_, c.release());
  ++stats_.connections_accepted;
  ++stats_.connections_open;
}

void Server::on_connection_closed(net::Connection* c) {
  net::unlink_connection(connections_, c);
  --stats_.connections_open;
  delete c;
  maybe_finish_shutdown();
}

const Route* Server::find_route(std::string_view path) const {
  const Route* fallback = nullptr;
  for (const Route& r : routes_) {
    if (r.path == path) return &r;
    if (r.path.empty()) fallback = &r;
  }
  return fallback;
}

std::unique_ptr<Protocol> Server::on_upgrade(Transport& t, const http::Request& request) {
  thread_local Buffer out;
  out.clear();
  // --trace: one test per upgrade when off; a traced one is shown step by step.
  ws::TracedConnection* trace = nullptr;
  if (tracer_) [[unlikely]] {
    trace = tracer_->begin(t.peer_address(), request.path);
    if (trace != nullptr) tracer_->request(*trace, request.raw_head, request.head_reads);
  }
  auto refuse = [&](int status, auto write) -> std::unique_ptr<Protocol> {
    ++stats_.handshakes_refused;
    stats_.refused_by_status.add(status);
    write();
    if (trace != nullptr) tracer_->refused(trace, out.view());
    t.send(out.view());
    t.close();
    return nullptr;
  };
  const Route* route = find_route(request.path);
  if (route == nullptr) {
    return refuse(404,
                  [&] { http::write_error(out, 404, "no WebSocket route at this path", true); });
  }
  if (route->authorize) {
    if (int status = route->authorize(request); status != 0) {
      return refuse(status, [&] {
        http::write_error(out, status, status == 401 ? "authorization required" : "forbidden",
                          true);
      });
    }
  }
  HandshakeOptions hs{route->subprotocols, options_.allowed_origins};
  // One pass over the headers for everything below (the checks and the negotiation).
  const ws::UpgradeFields fields = ws::gather_upgrade_fields(request);
  HandshakeResult result = check_handshake(request, fields, hs);
  if (trace != nullptr) tracer_->checks(*trace, request, fields, result.error);
  if (!result.ok()) {
    WSEDGE_LOG(kInfo, "handshake from %.*s refused: %d %s",
               static_cast<int>(t.peer_address().size()), t.peer_address().data(),
               status_for(result.error), describe(result.error));
    return refuse(status_for(result.error), [&] { write_handshake_error(out, result); });
  }
  NegotiationResult deflate;
  // RFC 6455 §9.1: several Sec-WebSocket-Extensions lines form one list, in order.
  if (route->deflate.enabled && fields.extension_count > 0)
    deflate = negotiate_deflate(fields.extensions(), route->deflate);
  write_handshake_response(out, result, deflate.header());
  if (trace != nullptr)
    tracer_->accepted(*trace, fields, result, route->deflate.enabled, deflate, out.view());
  // result.subprotocol views the route's own string (HandshakeOptions::subprotocols).
  Opening opening{.request = request,
                  .response = out.view(),
                  .subprotocol = result.subprotocol,
                  .deflate = deflate.accepted() ? &deflate.config : nullptr,
                  .deflate_policy = &route->deflate,
                  .trace = trace};
  auto session = std::make_unique<Session>(t, *route->handler, route->session, opening);
  ++stats_.handshakes_ok;
  return session;
}

void Server::shutdown(std::function<void()> done) {
  shutdown_done_ = std::move(done);
  listener_.close();
  tls_listener_.close();
  if (metrics_port_) metrics_port_->shutdown();
  WSEDGE_LOG(kInfo, "shutting down: closing %llu connections",
             static_cast<unsigned long long>(stats_.connections_open));
  for (net::Connection* c = connections_; c != nullptr; c = c->next)
    c->protocol()->on_shutdown(*c);
  loop_.arm_after(shutdown_timer_, options_.shutdown_grace_ms);
  maybe_finish_shutdown();
}

void Server::maybe_finish_shutdown() {
  if (!shutdown_done_ || connections_ != nullptr) return;
  loop_.disarm(shutdown_timer_);
  auto done = std::move(shutdown_done_);
  shutdown_done_ = [] {};  // still "stopping": late accepts are refused
  done();
}

}  // namespace wsedge
