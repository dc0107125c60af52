#include "http/http_session.h"

#include <algorithm>

#include "core/buffer.h"
#include "core/log.h"
#include "http/response.h"

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

HttpSession::HttpSession(const HttpOptions& options, const RequestHandler* requests,
                         UpgradeHandler& upgrades)
    : options_(options), requests_(requests), upgrades_(upgrades) {}

void HttpSession::on_start(Transport& t) {
  // The first head's deadline counts from here, not from its first byte: a client that
  // waits, then trickles, gets no more time than one that trickles at once.
  t.arm_timer(options_.head_timeout_ms);
}

// The parser's verdict on an incomplete head can change only at a control byte (CR and
// LF end lines and the head; NUL, DEL and the like are errors at once) or at the size
// limit. Other new bytes (the middle of a long value or name) are judged when their line
// ends — one parse per line instead of one per read, which keeps a head sent in tiny
// pieces from costing its size squared. HTAB is legal inside values: it does not count.
bool HttpSession::worth_parsing(std::span<const uint8_t> data) const {
  if (scanned_ == 0 || data.size() <= scanned_) return true;
  if (data.size() >= options_.limits.max_head_bytes) return true;
  const uint8_t* p = data.data() + scanned_;
  const uint8_t* end = data.data() + data.size();
  for (;;) {
    p += detail::find_ctl(p, end);
    if (p == end) return false;
    if (*p != '\t') return true;
    ++p;
  }
}

Consumed HttpSession::on_data(Transport& t, std::span<uint8_t> data) {
  if (!head_started_) {
    head_started_ = true;
    if (keepalive_wait_) t.arm_timer(options_.head_timeout_ms);
    keepalive_wait_ = false;
  }
  if (!worth_parsing(data)) {
    scanned_ = data.size();
    if (options_.note_head_reads) [[unlikely]]
      note_head_read(data.size());
    return 0;
  }
  scanned_ = 0;
  size_t pos = 0;
  while (pos < data.size()) {
    Request request;
    ParseResult r = parse_request(data.subspan(pos), &request, options_.limits);
    if (r.status == ParseStatus::kIncomplete) {
      scanned_ = data.size() - pos;  // comes back first next time (Protocol::on_data)
      if (options_.note_head_reads) [[unlikely]]
        note_head_read(data.size() - pos);
      break;
    }
    if (r.status == ParseStatus::kError) {
      WSEDGE_LOG(kDebug, "http %.*s: %d %s", static_cast<int>(t.peer_address().size()),
                 t.peer_address().data(), status_for(r.error), describe(r.error));
      reply_error(t, status_for(r.error), describe(r.error));
      return data.size();
    }
    size_t head_end = pos + r.consumed;
    if (!host_admitted(t, request)) return head_end;
    if (request.header_has_token("upgrade", "websocket")) {
      // The head timer is ours; the protocol that takes over arms its own.
      t.disarm_timer();
      request.raw_head = {reinterpret_cast<const char*>(data.data()) + pos, r.consumed};
      request.head_reads = head_reads_;
      // Null when refused (answered, closing). Else the rest of `data` is the new
      // protocol's: bytes a client sent right behind its head are the first frames.
      return {head_end, upgrades_.on_upgrade(t, request)};
    }
    if (!answer(t, request)) return head_end;
    head_reads_.clear();
    pos = head_end;
    head_started_ = pos < data.size();
    keepalive_wait_ = !head_started_;
    t.arm_timer(head_started_ ? options_.head_timeout_ms : options_.keepalive_timeout_ms);
  }
  return pos;
}

void HttpSession::note_head_read(size_t head_bytes) {
  // A read that added nothing to the head (on_data runs once per read) is not a piece.
  if (!head_reads_.empty() && head_reads_.back() >= head_bytes) return;
  // Past kMaxNotedReads the last piece grows instead: the trace stays short and bounded.
  if (head_reads_.size() == kMaxNotedReads) {
    head_reads_.back() = static_cast<uint32_t>(head_bytes);
  } else {
    head_reads_.push_back(static_cast<uint32_t>(head_bytes));
  }
}

bool HttpSession::host_admitted(Transport& t, const Request& request) {
  // Checked before any route runs: a rebound name must reach neither a WebSocket route
  // nor a file (http/host_policy.h).
  // request.host(): an absolute-form target's authority wins over Host (RFC 9112 §3.2.2),
  // so "GET http://rebind.example/ HTTP/1.1" with "Host: localhost" is judged by its target.
  if (std::string_view host = request.host(); !host_allowed(host, options_.hosts)) {
    WSEDGE_LOG(kInfo, "http %.*s: Host '%.*s' refused (421)",
               static_cast<int>(t.peer_address().size()), t.peer_address().data(),
               static_cast<int>(std::min<size_t>(host.size(), 100)), host.data());
    if (options_.upgrades_refused != nullptr && request.header_has_token("upgrade", "websocket"))
      options_.upgrades_refused->add(421);
    reply_error(t, 421, "this server does not answer for that Host (see --allow-host)");
    return false;
  }
  return true;
}

bool HttpSession::answer(Transport& t, const Request& request) {
  if (request.has_body()) {
    // No route of ours takes a body, and skipping one we never read is not worth it.
    reply_error(t, 413, "request bodies are not accepted");
    return false;
  }
  Buffer& out = scratch();
  const ServeResult served =
      requests_ != nullptr ? requests_->serve(request, out) : serve_nothing(request, out);
  if (options_.responses != nullptr) options_.responses->add(served.status);
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
  if (options_.responses != nullptr) options_.responses->add(status);
  t.send(out.view());
  t.close();
}

void HttpSession::on_out_of_memory(Transport& t) {
  static constexpr std::string_view k503 =
      "HTTP/1.1 503 Service Unavailable\r\n"
      "Content-Type: text/plain; charset=utf-8\r\n"
      "Content-Length: 14\r\n"
      "Retry-After: 1\r\n"
      "Connection: close\r\n"
      "\r\n"
      "out of memory\n";
  if (options_.responses != nullptr) options_.responses->add(503);
  t.send({reinterpret_cast<const uint8_t*>(k503.data()), k503.size()});
}

void HttpSession::on_timer(Transport& t) {
  if (head_started_) {
    reply_error(t, 408, "request head not received in time");
  } else {
    t.close();  // idle keep-alive connection
  }
}

}  // namespace wsedge::http
