// apps/client/options.h — the wsedge-client command line and its ws:// / wss:// URL.
//
// parse_client_options() turns argv into ClientOptions or into a one-line error (main() prints
// it and exits with status 2). parse_ws_url() reads RFC 6455 §3's URI grammar. Pure: no I/O.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace wsedge::client {

// RFC 6455 §3: ws-URI = "ws:" "//" host [ ":" port ] path [ "?" query ], wss likewise.
struct WsUrl {
  bool secure = false;
  std::string host;         // without the brackets of an IPv6 literal
  uint16_t port = 0;        // 80 / 443 when absent (§3)
  std::string target;       // path and query: the request's resource name, "/" at least
  std::string host_header;  // what Host carries: host, bracketed for IPv6, ":port" if not default
};

// Empty on success, else why the URL is refused.
std::string parse_ws_url(std::string_view text, WsUrl* out);

enum class TraceLevel : uint8_t { kOff, kSummary, kHex };

struct ClientOptions {
  WsUrl url;
  std::vector<std::string> subprotocols;
  std::vector<std::string> headers;  // "Name: value"
  std::string origin;
  bool deflate = false;
  TraceLevel trace = TraceLevel::kOff;
  std::vector<std::string> send;    // --send, in order; then close 1000
  std::vector<std::string> expect;  // --expect, in order
  double timeout_s = 5;
  bool insecure = false;  // wss: skip certificate verification
  std::string ca_file;    // wss: trust this CA file instead of the system store
  bool help = false;
  bool scripted() const { return !send.empty() || !expect.empty(); }
};

// Empty on success, else a one-line usage error.
std::string parse_client_options(int argc, const char* const* argv, ClientOptions* out);

const char* client_usage();

}  // namespace wsedge::client
