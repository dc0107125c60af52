// http/http_session.h — the Protocol a connection starts with: HTTP/1.1 until an upgrade.
//
// Parses request heads incrementally (pipelined requests in one read are answered in
// order), hands plain requests to a RequestHandler (static files), answers errors with a one-line
// reason, keeps connections alive per RFC 9112 §9.3, and hands WebSocket upgrade requests to an
// UpgradeHandler, which either refuses them or switches the connection to a WebSocket session (the
// hijack). Request bodies are not accepted: such requests get an error and a close.
// Every request, upgrade or not, must first pass the HostPolicy (421 otherwise).
// Slowloris guard: the first request head must complete within head_timeout_ms of the
// connection's start, a later one within head_timeout_ms of its first byte (the keep-alive
// wait before it has its own timeout), else 408 and close. A trickle never moves it.
// Header floods cost linear time: a head still incomplete is parsed again only when the
// new bytes hold a line end or another control byte (or reach the size limit), so a large
// head arriving in small pieces is not re-scanned from its start on every read.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "core/transport.h"
#include "http/host_policy.h"
#include "http/parser.h"
#include "http/request_handler.h"

namespace wsedge::http {

class UpgradeHandler {
 public:
  // A complete request whose Upgrade header asks for websocket (its Host admitted). Either
  // answer with an error, close and return null, or send the 101 and return the protocol
  // that takes the connection over: the transport switches to it once the HttpSession's
  // callback returned, and hands it the bytes behind the request head.
  virtual std::unique_ptr<Protocol> on_upgrade(Transport& t, const Request& request) = 0;

 protected:
  ~UpgradeHandler() = default;
};

struct HttpOptions {
  ParseLimits limits;
  HostPolicy hosts;  // requests whose Host it refuses get 421 (the DNS-rebinding guard)
  int64_t head_timeout_ms = 10'000;       // slowloris guard
  int64_t keepalive_timeout_ms = 30'000;  // an idle keep-alive connection is closed after it
  // --trace: keep where each read of a request head ended, so the trace can show a head
  // that arrived in pieces (Request::head_reads). Off: nothing is kept.
  bool note_head_reads = false;
  // Where every response the sessions send is counted by status (the 101 of an upgrade
  // is the UpgradeHandler's to count). Null: not counted.
  StatusCounts* responses = nullptr;
  // Upgrade requests refused before the UpgradeHandler saw them (421 for their Host), by
  // status: a handshake outcome the handler cannot count. Null: not counted.
  StatusCounts* upgrades_refused = nullptr;
};

class HttpSession final : public Protocol {
 public:
  // `requests` answers plain requests (static files, the metrics page); null: every plain
  // GET is a 404 (serve_nothing).
  HttpSession(const HttpOptions& options, const RequestHandler* requests, UpgradeHandler& upgrades);

  void on_start(Transport& t) override;
  Consumed on_data(Transport& t, std::span<uint8_t> data) override;
  void on_timer(Transport& t) override;
  void on_disconnect(Transport& /*t*/) override {}
  // The server ran out of memory serving this connection: a 503 from a constant (nothing
  // to allocate). RFC 9110 §15.6.4: the condition is temporary.
  void on_out_of_memory(Transport& t) override;

 private:
  // The HostPolicy's verdict on the request's authority; false: 421 sent, closing.
  bool host_admitted(Transport& t, const Request& request);
  // A plain (non-upgrade) request: the RequestHandler's answer, 404, 405 or 413. False
  // when that closed the connection.
  bool answer(Transport& t, const Request& request);
  void reply_error(Transport& t, int status, std::string_view reason);
  // Whether the bytes of `data` behind its scanned_ prefix could change the verdict.
  bool worth_parsing(std::span<const uint8_t> data) const;

  const HttpOptions& options_;
  const RequestHandler* requests_;
  UpgradeHandler& upgrades_;
  size_t scanned_ = 0;           // bytes of the head in progress already parsed: incomplete
  bool head_started_ = false;    // bytes of a request head have arrived
  bool keepalive_wait_ = false;  // the timer is the keep-alive one, not a head deadline
  // note_head_reads: the head's size after each incomplete read, at most kMaxNotedReads.
  static constexpr size_t kMaxNotedReads = 32;
  std::vector<uint32_t> head_reads_;
  void note_head_read(size_t head_bytes);
};

}  // namespace wsedge::http
