// apps/options.h — the wsedge command line.
//
// parse_options() turns argv into Options or into a one-line error; main() prints the
// error and exits with status 2 (usage errors), or the help/version text with status 0.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/log.h"
#include "ws/trace.h"

namespace wsedge::app {

struct Options {
  std::string host = "127.0.0.1";
  uint16_t port = 9001;
  bool reuse_port = false;
  std::string web_root = "apps/web";
  bool web_root_given = false;  // --web was on the command line (a missing DIR is an error)
  LogLevel log_level = LogLevel::kInfo;
  uint64_t max_message_size = 64ull << 20;
  uint64_t max_frame_size = 0;               // 0: = max_message_size
  uint64_t max_inflated_size = 16ull << 20;  // permessage-deflate: after inflating
  std::vector<std::string> subprotocols;
  std::vector<std::string> allowed_origins;
  // Host values answered besides the loopback names (http/host_policy.h); "any" turns the
  // check off. Without any, the check is on exactly when --host is a loopback address.
  std::vector<std::string> allowed_hosts;
  // On by default: a peer that answers no ping for two intervals is gone (a dead NAT
  // entry, a half-open TCP) and must not hold its fd and slot forever. Every browser and
  // client library answers pings by itself.
  int64_t ping_interval_ms = 30'000;
  int64_t message_timeout_ms = 60'000;            // a started frame or message must end within it
  uint64_t message_memory_budget = 128ull << 20;  // server-wide, unfinished messages; 0: none
  int64_t idle_timeout_ms = 0;  // 0: twice the ping interval (never without pings)
  int64_t handshake_timeout_ms = 10'000;
  int64_t close_grace_ms = 2'000;
  size_t high_water = 4u << 20;
  // permessage-deflate (RFC 7692) on the echo route.
  bool deflate = true;
  int deflate_window_bits = 15;
  bool deflate_no_context_takeover = false;
  uint64_t deflate_min_size = 64;
  int deflate_mem_level = 8;
  // TLS (net/tls): --tls-cert and --tls-key together; --tls-port adds a TLS listener
  // beside the plain one on --port instead of making --port TLS.
  std::string tls_cert;
  std::string tls_key;
  int tls_port = -1;  // -1: none
  int64_t tls_handshake_timeout_ms = 10'000;
  // Limits (README "## Limits").
  uint64_t max_connections = 0;   // 0: the fd limit minus a reserve (apps/wsedge.cpp)
  uint64_t max_head_size = 8192;  // request head bytes; over: 431
  uint64_t max_headers = 100;     // header fields per request (the parser's capacity); over: 431
  // Bytes queued for one peer before it is dropped. Unless given: 64M, or one message of
  // --max-message-size (plus frame headers) when that is larger, so one echo always fits.
  uint64_t max_send_queue = 64ull << 20;
  bool max_send_queue_given = false;
  bool message_memory_budget_given = false;  // else it grows to --max-message-size if larger
  // Demo routes (apps/chat, push, exec).
  int64_t push_interval_ms = 3'000;
  std::string exec_command;            // --exec as given; empty: no /exec route
  std::vector<std::string> exec_argv;  // --exec split into words (no shell)
  std::string exec_token;              // /exec clients must present it (main makes one if none)
  bool exec_token_generated = false;   // made at start, so printed for the user
  // --trace[=hex], --trace-filter (ws/trace.h, docs/trace.md); a filter turns tracing on.
  ws::TraceOptions
      trace;  // --metrics HOST:PORT | same-port[:PATH] (docs/metrics.md): off unless given.
  bool metrics = false;
  bool metrics_same_port = false;
  std::string metrics_host;
  uint16_t metrics_port = 0;
  std::string metrics_path = "/metrics";
};

// --metrics VALUE into `out`; false (with `out` unchanged in part) when VALUE is none of
// HOST:PORT ([v6]:PORT), same-port, same-port:/PATH.
bool parse_metrics(std::string_view value, Options* out);

// 128 random bits from the system's CSPRNG, as 32 hex digits: a fresh /exec token.
std::string random_token();

// True for addresses only this machine can reach: 127.0.0.0/8, ::1, "localhost".
bool is_loopback_host(const std::string& host);

enum class ParseOutcome { kRun, kHelp, kVersion, kError };

// On kError, `error` holds one line naming the flag and what was wrong with it.
ParseOutcome parse_options(int argc, char** argv, Options* out, std::string* error);
const char* usage_text();

}  // namespace wsedge::app
