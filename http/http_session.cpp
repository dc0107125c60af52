#include "http/http_session.h"

#include <algorithm>

#include "core/buffer.h"
#include "core/log.h"
#include "http/response.h"
#include "http/static_files.h"

namespace wsedge::http {
namespace {
// Responses are built here and copied out by Transport::send, so one buffer per thread
// serves every connection and no connection keeps a response buffer of its own.
Buffer& scratch() {
  thread_local Buffer buffer;
  buffer.clear();
  return buffer;
}
}  // namespace

HttpSession::HttpSession(const HttpOptions& options, const StaticFiles* files,
                         UpgradeHandler& upgrades)
    : options_(options), files_(files), upgrades_(upgrades) {}

void HttpSession::on_start(Transport& t) {
  t.arm_timer(options_.head_timeout_ms);
}

size_t HttpSession::on_data(Transport& t, std::span<uint8_t> data) {
  if (!head_started_) {
    head_started_ = true;
    t.arm_timer(options_.head_timeout_ms);
  }
  size_t pos = 0;
  while (pos < data.size()) {
    Request request;
    ParseResult r = parse_request(data.subspan(pos), &request, options_.limits);
    if (r.status == ParseStatus::kIncomplete) break;
    if (r.status == ParseStatus::kError) {
      WSEDGE_LOG(kDebug, "http %.*s: %d %s", static_cast<int>(t.peer_address().size()),
                 t.peer_address().data(), r.http_status, r.reason);
      reply_error(t, r.http_status, r.reason);
      return data.size();
    }
    size_t head_end = pos + r.consumed;
    if (!answer(t, request)) return head_end;  // an upgrade hands the rest to the session
    pos = head_end;
    head_started_ = pos < data.size();
    t.arm_timer(head_started_ ? options_.head_timeout_ms : options_.keepalive_timeout_ms);
  }
  return pos;
}

bool HttpSession::answer(Transport& t, const Request& request) {
  // Checked before any route runs: a rebound name must reach neither a WebSocket route
  // nor a file (http/host_policy.h).
  if (!host_allowed(request.header("host"), options_.hosts)) {
    WSEDGE_LOG(kInfo, "http %.*s: Host '%.*s' refused (421)",
               static_cast<int>(t.peer_address().size()), t.peer_address().data(),
               static_cast<int>(std::min<size_t>(request.header("host").size(), 100)),
               request.header("host").data());
    reply_error(t, 421, "this server does not answer for that Host (see --allow-host)");
    return false;
  }
  if (request.header_has_token("upgrade", "websocket")) {
    upgrades_.on_upgrade(t, request);
    return false;
  }
  if (request.has_body()) {
    // No route of ours takes a body, and skipping one we never read is not worth it.
    reply_error(t, 413, "request bodies are not accepted");
    return false;
  }
  Buffer& out = scratch();
  if (files_ != nullptr) {
    files_->serve(request, out);
  } else if (request.method == "GET" || request.method == "HEAD") {
    write_error(out, 404, "not found", false);
  } else {
    write_error(out, 405, "method not allowed", false);
  }
  t.send(out.view());
  if (!request.keep_alive()) {
    t.close();
    return false;
  }
  return true;
}

void HttpSession::reply_error(Transport& t, int status, std::string_view reason) {
  Buffer& out = scratch();
  write_error(out, status, reason, true);
  t.send(out.view());
  t.close();
}

void HttpSession::on_timer(Transport& t) {
  if (head_started_) {
    reply_error(t, 408, "request head not received in time");
  } else {
    t.close();  // idle keep-alive connection
  }
}

}  // namespace wsedge::http
