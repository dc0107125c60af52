// wsedge — the server binary: the echo route on every path, the demo routes (/chat, /push,
// and /exec when --exec is given), static files from --web.
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>

#include "apps/chat.h"
#include "apps/echo.h"
#include "apps/exec.h"
#include "apps/options.h"
#include "apps/push.h"
#include "apps/socket_activation.h"
#include "core/log.h"
#include "net/reactor.h"
#include "server/server.h"

#ifndef WSEDGE_VERSION
#define WSEDGE_VERSION "0.1.0"
#endif

namespace {

wsedge::ServerOptions server_options(const wsedge::app::Options& o) {
  wsedge::ServerOptions s;
  s.listen.host = o.host;
  s.listen.port = o.port;
  s.listen.reuse_port = o.reuse_port;
  s.web_root = o.web_root;
  s.allowed_origins = o.allowed_origins;
  // DNS rebinding (http/host_policy.h): a server only this machine can reach answers only
  // this machine's names, unless told which others; "any" is the operator's opt-out.
  bool any_host =
      std::find(o.allowed_hosts.begin(), o.allowed_hosts.end(), "any") != o.allowed_hosts.end();
  s.http.hosts.enabled =
      !any_host && (wsedge::app::is_loopback_host(o.host) || !o.allowed_hosts.empty());
  s.http.hosts.names = o.allowed_hosts;
  s.http.head_timeout_ms = o.handshake_timeout_ms;
  s.http.limits.max_head_bytes = o.max_head_size;
  s.http.limits.max_headers = o.max_headers;
  s.connection.high_water = o.high_water;
  s.connection.linger_ms = o.close_grace_ms;
  s.shutdown_grace_ms = o.close_grace_ms + 500;
  s.message_memory_budget = static_cast<size_t>(o.message_memory_budget);
  s.trace = o.trace;
  s.metrics.enabled = o.metrics;
  s.metrics.same_port = o.metrics_same_port;
  s.metrics.path = o.metrics_path;
  s.metrics.listen.host = o.metrics_host;
  s.metrics.listen.port = o.metrics_port;
  // The metrics port has the WebSocket port's guard, judged by its own address.
  s.metrics.hosts.enabled =
      !any_host && (wsedge::app::is_loopback_host(o.metrics_host) || !o.allowed_hosts.empty());
  s.metrics.hosts.names = o.allowed_hosts;
  s.tls.cert_file = o.tls_cert;
  s.tls.key_file = o.tls_key;
  s.tls.port = o.tls_port;
  s.connection.tls_handshake_ms = o.tls_handshake_timeout_ms;
  s.connection.max_connections = static_cast<size_t>(o.max_connections);
  s.connection.max_send_queue = static_cast<size_t>(o.max_send_queue);
  if (!o.max_send_queue_given) {
    // The echo route answers a message with one of the same size: let it queue whole.
    s.connection.max_send_queue =
        std::max<size_t>(s.connection.max_send_queue, o.max_message_size + 64 * 1024);
  }
  return s;
}

wsedge::ws::SessionOptions session_options(const wsedge::app::Options& o) {
  wsedge::ws::SessionOptions s;
  s.max_message_size = o.max_message_size;
  s.max_frame_size = o.max_frame_size != 0 ? o.max_frame_size : UINT64_MAX;  // 0: not given
  s.max_inflated_size = o.max_inflated_size;
  s.ping_interval_ms = o.ping_interval_ms;
  s.idle_timeout_ms = o.idle_timeout_ms;
  s.message_timeout_ms = o.message_timeout_ms;
  s.close_grace_ms = o.close_grace_ms;
  return s;
}

// The handlers behind the routes; they must outlive the server's sessions' callbacks.
struct Routes {
  wsedge::app::EchoHandler echo;
  wsedge::app::ChatHandler chat;
  std::unique_ptr<wsedge::app::PushHandler> push;
  std::unique_ptr<wsedge::app::ExecHandler> exec;  // only with --exec
};

void add_routes(wsedge::Server& server, wsedge::net::Reactor& reactor,
                const wsedge::app::Options& opts, Routes& routes) {
  using namespace wsedge;
  Route echo_route;
  echo_route.handler = &routes.echo;
  echo_route.subprotocols = opts.subprotocols;
  echo_route.session = session_options(opts);
  echo_route.deflate.enabled = opts.deflate;
  echo_route.deflate.max_window_bits = opts.deflate_window_bits;
  echo_route.deflate.no_context_takeover = opts.deflate_no_context_takeover;
  echo_route.deflate.min_size = opts.deflate_min_size;
  echo_route.deflate.mem_level = opts.deflate_mem_level;
  server.add_route(echo_route);  // "" path: every path no other route claims

  Route chat_route;
  chat_route.path = "/chat";
  chat_route.handler = &routes.chat;
  chat_route.subprotocols = {app::ChatHandler::kLineProtocol, app::ChatHandler::kJsonProtocol};
  chat_route.session = session_options(opts);
  chat_route.session.require_subprotocol = true;  // 1008 "no supported subprotocol offered"
  chat_route.session.max_message_size =
      std::min<uint64_t>(opts.max_message_size, app::ChatHandler::kMaxMessageSize);
  server.add_route(chat_route);

  routes.push = std::make_unique<app::PushHandler>(reactor, server, opts.push_interval_ms);
  Route push_route;
  push_route.path = "/push";
  push_route.handler = routes.push.get();
  push_route.session = session_options(opts);
  server.add_route(push_route);

  // /exec exists only when asked for: it runs a program on this machine for its clients.
  if (opts.exec_argv.empty()) return;
  // Writing to a command that closed its stdin must be an EPIPE, not a dead server.
  std::signal(SIGPIPE, SIG_IGN);
  routes.exec = std::make_unique<app::ExecHandler>(
      reactor,
      app::ExecHandler::Options{opts.exec_argv, opts.exec_token, opts.allowed_origins, 1000});
  Route exec_route;
  exec_route.path = "/exec";
  exec_route.handler = routes.exec.get();
  exec_route.authorize = [h = routes.exec.get()](const http::Request& r) {
    return h->authorize(r);
  };
  exec_route.session = session_options(opts);
  exec_route.session.max_message_size = app::ExecHandler::kMaxLine;  // a line, not a file
  if (exec_route.session.ping_interval_ms == 0) exec_route.session.ping_interval_ms = 30'000;
  server.add_route(exec_route);
}

// Every connection is an fd: take the whole hard limit the administrator allows instead
// of the 1024 soft default, so EMFILE means the machine's limit, not a default's.
// Returns the limit now in force.
uint64_t raise_fd_limit() {
  rlimit lim{};
  if (getrlimit(RLIMIT_NOFILE, &lim) != 0) return 1024;
  if (lim.rlim_cur < lim.rlim_max) {
    rlim_t want = lim.rlim_max;
    lim.rlim_cur = want;
    if (setrlimit(RLIMIT_NOFILE, &lim) != 0) {
      WSEDGE_LOG(kWarn, "setrlimit(RLIMIT_NOFILE): %s", std::strerror(errno));
      getrlimit(RLIMIT_NOFILE, &lim);
    }
  }
  return lim.rlim_cur == RLIM_INFINITY ? UINT64_MAX : static_cast<uint64_t>(lim.rlim_cur);
}

// The default --max-connections: every fd the process may open, less a reserve for what
// the server opens besides connections (stdio, epoll, eventfd, signalfd, listeners and
// their spares, a static file being served, /exec pipes, a certificate being reloaded).
// Shedding there, with accept-and-close, keeps EMFILE — which stalls the whole accept
// path until an fd frees — a last resort. A small limit keeps a quarter in reserve.
uint64_t default_max_connections(uint64_t fd_limit) {
  uint64_t reserve = std::min<uint64_t>(64, fd_limit / 4);
  return std::max<uint64_t>(1, fd_limit - reserve);
}

}  // namespace

int main(int argc, char** argv) {
  using namespace wsedge;
  app::Options opts;
  std::string error;
  switch (app::parse_options(argc, argv, &opts, &error)) {
    case app::ParseOutcome::kHelp:
      std::fputs(app::usage_text(), stdout);
      return 0;
    case app::ParseOutcome::kVersion:
      std::puts("wsedge " WSEDGE_VERSION);
      return 0;
    case app::ParseOutcome::kError:
      std::fprintf(stderr, "wsedge: %s\n", error.c_str());
      return 2;
    case app::ParseOutcome::kRun:
      break;
  }
  set_log_level(opts.log_level);
  // systemd socket activation: the WebSocket port is the socket we were started with.
  const app::SocketActivation activation = app::take_socket_activation();
  if (!activation.error.empty()) {
    std::fprintf(stderr, "wsedge: %s\n", activation.error.c_str());
    return 2;
  }
  if (activation.active) {
    // The Host policy and the logs go by where the socket really listens.
    opts.host = app::bound_host(activation.fd);
    opts.port = 0;
  }
  // Without a token, any page the user's browser visits could reach the command through a
  // rebound name or a proxy; so there is always one (printed below, as Jupyter does).
  if (!opts.exec_argv.empty() && opts.exec_token.empty()) {
    opts.exec_token = app::random_token();
    opts.exec_token_generated = true;
  }
  uint64_t fd_limit = raise_fd_limit();
  if (opts.max_connections == 0) opts.max_connections = default_max_connections(fd_limit);
  if (!opts.web_root.empty() && ::access(opts.web_root.c_str(), R_OK | X_OK) != 0) {
    if (opts.web_root_given) {
      std::fprintf(stderr, "wsedge: --web %s: %s\n", opts.web_root.c_str(), std::strerror(errno));
      return 2;
    }
    // The default only makes sense from the source tree: elsewhere, serve no files.
    WSEDGE_LOG(kWarn, "no %s here: static files are off (use --web DIR)", opts.web_root.c_str());
    opts.web_root.clear();
  }

  auto loop = net::Reactor::create();
  char why[256];
  if (!loop) {
    std::fprintf(stderr, "wsedge: %s\n", describe(loop.error(), why, sizeof why));
    return 1;
  }
  net::Reactor& reactor = *loop.value();
  ServerOptions server_opts = server_options(opts);
  server_opts.listen.inherited_fd = activation.fd;
  Server server(reactor, server_opts);

  Routes routes;
  add_routes(server, reactor, opts, routes);
  app::ExecHandler* exec = routes.exec.get();

  bool stopping = false;
  Result<void> signals = reactor.watch_signals({SIGINT, SIGTERM}, [&](int signo) {
    if (stopping) {  // a second signal: stop waiting for close handshakes
      WSEDGE_LOG(kWarn, "signal %d again: exiting now", signo);
      reactor.stop();
      return;
    }
    stopping = true;
    WSEDGE_LOG(kInfo, "signal %d: stopping", signo);
    server.shutdown([&] {
      // Closing sessions interrupted their commands; reap them before exiting.
      if (exec) {
        exec->when_idle([&] { reactor.stop(); });
      } else {
        reactor.stop();
      }
    });
  });
  if (!signals) {
    std::fprintf(stderr, "wsedge: %s\n", describe(signals.error(), why, sizeof why));
    return 1;
  }
  // TLS: a certificate that cannot be used is a usage error (exit 2), found before
  // listening; SIGHUP then reloads it for new connections (a failed reload keeps the old).
  if (!opts.tls_cert.empty()) {
    if (!server.load_tls(&error)) {
      std::fprintf(stderr, "wsedge: %s\n", error.c_str());
      return 2;
    }
    WSEDGE_LOG(kInfo, "TLS certificate: %s", server.tls_certificate().c_str());
    Result<void> hup = reactor.watch_signals({SIGHUP}, [&](int) {
      std::string reason;
      if (server.reload_tls(&reason)) {
        WSEDGE_LOG(kInfo, "SIGHUP: TLS certificate reloaded: %s", server.tls_certificate().c_str());
      } else {
        WSEDGE_LOG(kError, "SIGHUP: TLS reload failed, keeping the current certificate: %s",
                   reason.c_str());
      }
    });
    if (!hup) {
      std::fprintf(stderr, "wsedge: %s\n", describe(hup.error(), why, sizeof why));
      return 1;
    }
  }
  if (Result<void> r = server.start(); !r) {
    std::fprintf(stderr, "wsedge: cannot listen on %s port %u: %s\n", opts.host.c_str(),
                 static_cast<unsigned>(opts.port), describe(r.error(), why, sizeof why));
    return 1;
  }
  // The first stdout line is a contract: tests and scripts read the port from it.
  // With --tls-port, a second line names the TLS listener.
  std::printf("wsedge listening on %s://%s/\n", server.main_is_tls() ? "wss" : "ws",
              server.address().c_str());
  if (!server.tls_address().empty()) {
    std::printf("wsedge listening on wss://%s/\n", server.tls_address().c_str());
  }
  // After the listening lines, which keep their places: where the metrics are.
  if (!server.metrics_address().empty()) {
    std::printf("wsedge metrics on http://%s%s\n", server.metrics_address().c_str(),
                server.metrics_path().c_str());
  }
  if (exec) {
    std::printf("wsedge /exec runs: %s (token required)\n", opts.exec_command.c_str());
    if (opts.exec_token_generated) {
      std::printf("wsedge /exec token: %s %s://%s/exec.html?token=%s\n", opts.exec_token.c_str(),
                  server.main_is_tls() ? "https" : "http", server.address().c_str(),
                  opts.exec_token.c_str());
    }
  }
  std::fflush(stdout);
  // Logged once listening: a configuration error above must stay the one line on stderr.
  WSEDGE_LOG(kInfo, "fd limit %llu: at most %llu connections at once (--max-connections)",
             static_cast<unsigned long long>(fd_limit),
             static_cast<unsigned long long>(opts.max_connections));
  reactor.run();
  const wsedge::ServerStats& st = server.stats();
  WSEDGE_LOG(kInfo,
             "stopped: %llu connections, %llu messages in, %llu out; unfinished messages held "
             "at most %zu B, %llu connections closed 1013 over --message-memory-budget",
             static_cast<unsigned long long>(st.connections_accepted),
             static_cast<unsigned long long>(st.messages.messages_in),
             static_cast<unsigned long long>(st.messages.messages_out),
             server.message_memory().peak(),
             static_cast<unsigned long long>(st.messages.closed_over_budget));
  return 0;
}
