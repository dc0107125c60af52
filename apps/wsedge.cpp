// wsedge — the server binary: the echo route on every path, static files from --web.
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstring>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "apps/echo.h"
#include "apps/options.h"
#include "core/log.h"
#include "net/reactor.h"
#include "ws/server.h"

#ifndef WSEDGE_VERSION
#define WSEDGE_VERSION "0.1.0"
#endif

namespace {

wsedge::ws::ServerOptions server_options(const wsedge::app::Options& o) {
  wsedge::ws::ServerOptions s;
  s.listen.host = o.host;
  s.listen.port = o.port;
  s.listen.reuse_port = o.reuse_port;
  s.web_root = o.web_root;
  s.allowed_origins = o.allowed_origins;
  s.http.head_timeout_ms = o.handshake_timeout_ms;
  s.connection.high_water = o.high_water;
  s.connection.linger_ms = o.close_grace_ms;
  s.shutdown_grace_ms = o.close_grace_ms + 500;
  return s;
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
  ws::Server server(reactor, server_options(opts));

  app::EchoHandler echo;
  ws::Route echo_route;
  echo_route.handler = &echo;
  echo_route.subprotocols = opts.subprotocols;
  echo_route.session.max_message_size = opts.max_message_size;
  echo_route.session.ping_interval_ms = opts.ping_interval_ms;
  echo_route.session.idle_timeout_ms = opts.idle_timeout_ms;
  echo_route.session.close_grace_ms = opts.close_grace_ms;
  echo_route.deflate.enabled = opts.deflate;
  echo_route.deflate.max_window_bits = opts.deflate_window_bits;
  echo_route.deflate.no_context_takeover = opts.deflate_no_context_takeover;
  echo_route.deflate.min_size = opts.deflate_min_size;
  echo_route.deflate.mem_level = opts.deflate_mem_level;
  server.add_route(echo_route);  // "" path: every path no other route claims

  bool stopping = false;
  Result<void> signals = reactor.watch_signals({SIGINT, SIGTERM}, [&](int signo) {
    if (stopping) {  // a second signal: stop waiting for close handshakes
      WSEDGE_LOG(kWarn, "signal %d again: exiting now", signo);
      reactor.stop();
      return;
    }
    stopping = true;
    WSEDGE_LOG(kInfo, "signal %d: stopping", signo);
    server.shutdown([&] { reactor.stop(); });
  });
  if (!signals) {
    std::fprintf(stderr, "wsedge: %s\n", describe(signals.error(), why, sizeof why));
    return 1;
  }
  if (Result<void> r = server.start(); !r) {
    std::fprintf(stderr, "wsedge: cannot listen on %s port %u: %s\n", opts.host.c_str(),
                 static_cast<unsigned>(opts.port), describe(r.error(), why, sizeof why));
    return 1;
  }
  // The first stdout line is a contract: tests and scripts read the port from it.
  std::printf("wsedge listening on ws://%s/\n", server.address().c_str());
  std::fflush(stdout);
  reactor.run();
  WSEDGE_LOG(kInfo, "stopped");
  return 0;
}
