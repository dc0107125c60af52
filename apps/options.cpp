#include "apps/options.h"

#include <sys/random.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <string_view>

#include "apps/text.h"

namespace wsedge::app {
namespace {

// "65536", "64K", "16M", "1G" (binary multiples).
bool parse_size(std::string_view text, uint64_t* out) {
  if (text.empty()) return false;
  uint64_t mult = 1;
  switch (text.back()) {
    case 'K':
    case 'k':
      mult = 1ull << 10;
      break;
    case 'M':
    case 'm':
      mult = 1ull << 20;
      break;
    case 'G':
    case 'g':
      mult = 1ull << 30;
      break;
    default:
      break;
  }
  if (mult != 1) text.remove_suffix(1);
  if (text.empty() || text.size() > 15) return false;
  uint64_t v = 0;
  for (char ch : text) {
    if (ch < '0' || ch > '9') return false;
    v = v * 10 + static_cast<uint64_t>(ch - '0');
  }
  if (v > UINT64_MAX / mult) return false;  // "999999999999999G" must not wrap to a small size
  *out = v * mult;
  return true;
}

// Seconds, possibly fractional ("0.5"), into milliseconds.
bool parse_seconds(const char* text, int64_t* out_ms) {
  errno = 0;
  char* end = nullptr;
  double s = std::strtod(text, &end);
  if (errno != 0 || end == text || *end != '\0' || !std::isfinite(s) || s < 0 || s > 86400 * 365) {
    return false;
  }
  *out_ms = static_cast<int64_t>(std::llround(s * 1000));
  return true;
}

}  // namespace

const char* usage_text() {
  return "usage: wsedge [options]\n"
         "  --host H              address to listen on (default 127.0.0.1; ::1, 0.0.0.0, :: ok)\n"
         "  --port P              port (default 9001; 0 picks a free one and prints it)\n"
         "  --reuse-port          set SO_REUSEPORT (several instances on one port)\n"
         "  --web DIR             static files for plain GETs (default apps/web; '' for none)\n"
         "  --log-level L         trace|debug|info|warn|error|off (default info)\n"
         "  --max-message-size N  largest message accepted, e.g. 65536, 16M (default 64M);\n"
         "                        larger ones are refused with close 1009\n"
         "  --subprotocol NAME    a subprotocol the echo route speaks; repeat, most preferred\n"
         "                        first\n"
         "  --allow-origin O      accept only handshakes with this Origin; repeatable\n"
         "                        (default: any origin)\n"
         "  --allow-host H        also answer requests whose Host is H (name or name:port);\n"
         "                        repeatable; 'any' answers every Host (default on a\n"
         "                        loopback --host: only localhost/127.x/[::1] with our port)\n"
         "  --ping-interval S     ping a WebSocket silent for S seconds (default 30; 0: off)\n"
         "  --idle-timeout S      close a WebSocket silent for S seconds, pongs included\n"
         "                        (default: 2x the ping interval; without pings, never)\n"
         "  --handshake-timeout S a request head must arrive within S seconds (default 10)\n"
         "  --close-grace S       wait S seconds for the peer's close/EOF (default 2)\n"
         "  --high-water N        per-connection send queue limit, e.g. 4M (default 4M)\n"
         "  --deflate on|off      offer permessage-deflate on the echo route (default on)\n"
         "  --deflate-window-bits N  our compression window, 8..15 (default 15)\n"
         "  --deflate-no-context-takeover  compress every message from scratch\n"
         "  --deflate-min-size N  send smaller messages uncompressed (default 64)\n"
         "  --deflate-mem-level N zlib memLevel 1..9: memory vs ratio (default 8)\n"
         "limits (README \"Limits\"):\n"
         "  --max-connections N   connections open at once; past it new ones are accepted\n"
         "                        and closed at once (default: the fd limit minus 64)\n"
         "  --max-head-size N     largest request head, e.g. 16K (default 8K); larger: 431\n"
         "  --max-headers N       header fields per request, 1..100 (default 100); more: 431\n"
         "  --max-send-queue N    bytes queued for a peer that does not read before it is\n"
         "                        dropped (default 64M, or --max-message-size if larger)\n"
         "  --max-frame-size N    largest single frame, refused from its header with close\n"
         "                        1009 (default: --max-message-size; at most 4G-2:\n"
         "                        larger messages arrive as fragments)\n"
         "  --max-inflated-size N largest compressed message once inflated (default 16M);\n"
         "                        larger: close 1009\n"
         "  --message-timeout S   a started frame or message must be complete within S\n"
         "                        seconds, or close 1008 (default 60; 0: no limit)\n"
         "  --message-memory-budget N  bytes all connections together may hold in\n"
         "                        unfinished messages (default 128M, or --max-message-size\n"
         "                        if larger; 0: no bound); past it\n"
         "                        the largest holders are closed 1013 (try again later)\n"
         "tls:\n"
         "  --tls-cert FILE       PEM certificate chain (leaf first): serve wss:// and https://\n"
         "  --tls-key FILE        PEM private key of that certificate (unencrypted)\n"
         "  --tls-port P          TLS on port P beside plain ws:// on --port (0: a free port)\n"
         "  --tls-handshake-timeout S  the TLS handshake must finish within S seconds\n"
         "                        (default 10); SIGHUP reloads cert and key\n"
         "trace (docs/trace.md):\n"
         "  --trace               print each WebSocket's handshake, frames and close on\n"
         "                        stderr, decoded field by field\n"
         "  --trace=hex           the same, plus a hex dump of every frame\n"
         "  --trace-filter F      trace only connections matching F: path=/P (a trailing *\n"
         "                        matches a prefix), peer=IP or peer=IP:PORT, several joined\n"
         "                        with ','; repeatable (any may match); implies --trace\n"
         "metrics (docs/metrics.md):\n"
         "  --metrics HOST:PORT   serve GET /metrics (Prometheus text format) on a port of\n"
         "                        its own (port 0: a free one, printed); off by default\n"
         "  --metrics same-port[:PATH]  serve it on the WebSocket port instead, at PATH\n"
         "                        (default /metrics)\n"
         "demo routes:\n"
         "  --push-interval S     /push sends every S seconds (default 3)\n"
         "  --exec \"CMD ARGS\"     enable /exec: each connection runs CMD (no shell; quote\n"
         "                        words with '...' or \"...\"); off unless given\n"
         "  --exec-token T        /exec clients must present T (?token=T or Authorization:\n"
         "                        Bearer T); required when --host is not loopback, else\n"
         "                        a random one is made and printed at start\n"
         "  --help, --version\n";
}

ParseOutcome parse_options(int argc, char** argv, Options* out, std::string* error) {
  for (int i = 1; i < argc; ++i) {
    std::string_view flag = argv[i];
    if (flag == "--help" || flag == "-h") return ParseOutcome::kHelp;
    if (flag == "--version") return ParseOutcome::kVersion;
    if (flag == "--reuse-port") {
      out->reuse_port = true;
      continue;
    }
    if (flag == "--trace" || flag.starts_with("--trace=")) {
      const std::string_view level = flag == "--trace" ? "summary" : flag.substr(8);
      if (level != "summary" && level != "hex") {
        *error = "--trace: invalid level '" + std::string(level) + "' (--trace or --trace=hex)";
        return ParseOutcome::kError;
      }
      out->trace.enabled = true;
      if (level == "hex") out->trace.detail = ws::inspect::Detail::kHex;
      continue;
    }
    if (flag == "--trace-filter") {
      if (i + 1 >= argc) {
        *error = "--trace-filter: missing value";
        return ParseOutcome::kError;
      }
      ws::TraceFilter f;
      std::string why;
      if (!ws::parse_trace_filter(argv[++i], &f, &why)) {
        *error = "--trace-filter: " + why;
        return ParseOutcome::kError;
      }
      out->trace.enabled = true;
      out->trace.filters.push_back(std::move(f));
      continue;
    }
    if (flag == "--deflate-no-context-takeover") {
      out->deflate_no_context_takeover = true;
      continue;
    }
    // clang-format off
    static constexpr std::string_view kWithValue[] = {
        "--host", "--port", "--web", "--log-level", "--max-message-size", "--subprotocol",
        "--allow-origin", "--ping-interval", "--idle-timeout", "--handshake-timeout",
        "--close-grace", "--high-water", "--deflate", "--deflate-window-bits",
        "--deflate-min-size", "--deflate-mem-level", "--push-interval", "--exec",
        "--exec-token",
        "--allow-host", "--metrics"};
    static constexpr std::string_view kTlsWithValue[] = {
        "--tls-cert", "--tls-key", "--tls-port", "--tls-handshake-timeout"};
    static constexpr std::string_view kLimitsWithValue[] = {
        "--max-connections", "--max-head-size", "--max-headers", "--max-send-queue",
        "--max-frame-size", "--max-inflated-size", "--message-timeout",
        "--message-memory-budget"};
    // clang-format on
    bool known = false;
    for (std::string_view k : kWithValue)
      known = known || k == flag;
    for (std::string_view k : kTlsWithValue)
      known = known || k == flag;
    for (std::string_view k : kLimitsWithValue)
      known = known || k == flag;
    if (!known) {
      *error = "unknown argument '" + std::string(flag) + "' (see --help)";
      return ParseOutcome::kError;
    }
    if (i + 1 >= argc) {
      *error = std::string(flag) + ": missing value";
      return ParseOutcome::kError;
    }
    const char* value = argv[++i];
    uint64_t n = 0;
    bool ok = true;
    if (flag == "--host") {
      out->host = value;
      ok = !out->host.empty();
    } else if (flag == "--port") {
      ok = parse_size(value, &n) && n <= 65535 &&
           std::string_view(value).find_first_not_of("0123456789") == std::string_view::npos;
      out->port = static_cast<uint16_t>(n);
    } else if (flag == "--web") {
      out->web_root = value;
      out->web_root_given = true;
    } else if (flag == "--log-level") {
      ok = parse_log_level(value, &out->log_level);
    } else if (flag == "--max-message-size") {
      ok = parse_size(value, &out->max_message_size) && out->max_message_size > 0;
    } else if (flag == "--subprotocol") {
      out->subprotocols.emplace_back(value);
      ok = !out->subprotocols.back().empty();
    } else if (flag == "--allow-origin") {
      out->allowed_origins.emplace_back(value);
    } else if (flag == "--allow-host") {
      out->allowed_hosts.emplace_back(value);
      ok = !out->allowed_hosts.back().empty();
    } else if (flag == "--ping-interval") {
      ok = parse_seconds(value, &out->ping_interval_ms);
    } else if (flag == "--idle-timeout") {
      ok = parse_seconds(value, &out->idle_timeout_ms);
    } else if (flag == "--handshake-timeout") {
      ok = parse_seconds(value, &out->handshake_timeout_ms) && out->handshake_timeout_ms > 0;
    } else if (flag == "--close-grace") {
      ok = parse_seconds(value, &out->close_grace_ms);
    } else if (flag == "--deflate") {
      std::string_view v = value;
      ok = v == "on" || v == "off";
      out->deflate = v == "on";
    } else if (flag == "--deflate-window-bits") {
      ok = parse_size(value, &n) && n >= 8 && n <= 15;
      out->deflate_window_bits = static_cast<int>(n);
    } else if (flag == "--deflate-min-size") {
      ok = parse_size(value, &out->deflate_min_size);
    } else if (flag == "--deflate-mem-level") {
      ok = parse_size(value, &n) && n >= 1 && n <= 9;
      out->deflate_mem_level = static_cast<int>(n);
    } else if (flag == "--high-water") {
      ok = parse_size(value, &n) && n >= 1024;
      out->high_water = n;
    } else if (flag == "--push-interval") {
      ok = parse_seconds(value, &out->push_interval_ms) && out->push_interval_ms >= 10;
    } else if (flag == "--exec") {
      std::string why;
      out->exec_command = value;
      if (!split_command(value, &out->exec_argv, &why)) {
        *error = std::string("--exec: ") + why + " in '" + value + "'";
        return ParseOutcome::kError;
      }
    } else if (flag == "--tls-cert") {
      out->tls_cert = value;
      ok = !out->tls_cert.empty();
    } else if (flag == "--tls-key") {
      out->tls_key = value;
      ok = !out->tls_key.empty();
    } else if (flag == "--tls-port") {
      ok = parse_size(value, &n) && n <= 65535 &&
           std::string_view(value).find_first_not_of("0123456789") == std::string_view::npos;
      out->tls_port = static_cast<int>(n);
    } else if (flag == "--tls-handshake-timeout") {
      ok =
          parse_seconds(value, &out->tls_handshake_timeout_ms) && out->tls_handshake_timeout_ms > 0;
    } else if (flag == "--exec-token") {
      out->exec_token = value;
      ok = !out->exec_token.empty();
    } else if (flag == "--max-connections") {
      ok = parse_size(value, &out->max_connections) && out->max_connections > 0;
    } else if (flag == "--message-timeout") {
      ok = parse_seconds(value, &out->message_timeout_ms);
    } else if (flag == "--max-frame-size") {
      // ws::kMaxFrameSize: a frame is held whole until complete (4G - 2 bytes at most).
      ok = parse_size(value, &out->max_frame_size) && out->max_frame_size > 0 &&
           out->max_frame_size <= (4ull << 30) - 2;
    } else if (flag == "--message-memory-budget") {
      ok = parse_size(value, &out->message_memory_budget);
      out->message_memory_budget_given = true;
    } else if (flag == "--max-inflated-size") {
      ok = parse_size(value, &out->max_inflated_size) && out->max_inflated_size > 0;
    } else if (flag == "--max-send-queue") {
      ok = parse_size(value, &out->max_send_queue) && out->max_send_queue >= 1024;
      out->max_send_queue_given = true;
    } else if (flag == "--max-head-size") {
      // At least a request line's worth; at most what a per-connection buffer may hold.
      ok = parse_size(value, &out->max_head_size) && out->max_head_size >= 1024 &&
           out->max_head_size <= (16u << 20);
    } else if (flag == "--metrics") {
      if (!parse_metrics(value, out)) {
        *error = std::string("--metrics: invalid value '") + value +
                 "' (HOST:PORT, same-port or same-port:/PATH)";
        return ParseOutcome::kError;
      }
    } else if (flag == "--max-headers") {
      ok = parse_size(value, &out->max_headers) && out->max_headers >= 1 && out->max_headers <= 100;
    }
    if (!ok) {
      *error = std::string(flag) + ": invalid value '" + value + "'";
      return ParseOutcome::kError;
    }
  }
  // A command runner reachable from the network is a remote shell for anyone: refuse to
  // start one without a secret unless only this machine can connect.
  if (!out->exec_argv.empty() && out->exec_token.empty() && !is_loopback_host(out->host)) {
    *error = "--exec on a non-loopback --host (" + out->host + ") requires --exec-token";
    return ParseOutcome::kError;
  }
  if (out->tls_cert.empty() != out->tls_key.empty()) {
    *error =
        out->tls_cert.empty() ? "--tls-key without --tls-cert" : "--tls-cert without --tls-key";
    return ParseOutcome::kError;
  }
  if (out->tls_port >= 0 && out->tls_cert.empty()) {
    *error = "--tls-port needs --tls-cert and --tls-key";
    return ParseOutcome::kError;
  }
  if (out->tls_port > 0 && out->tls_port == out->port) {
    *error = "--tls-port must differ from --port";
    return ParseOutcome::kError;
  }
  if (out->message_memory_budget != 0 && out->message_memory_budget < out->max_message_size) {
    // Else one message within the limits could never be received: refused 1013 every time.
    // A raised --max-message-size alone raises the default budget with it.
    if (out->message_memory_budget_given) {
      *error = "--message-memory-budget must be at least --max-message-size (or 0)";
      return ParseOutcome::kError;
    }
    out->message_memory_budget = out->max_message_size;
  }
  if (out->metrics && !out->metrics_same_port && out->metrics_port != 0 &&
      out->metrics_port == out->port) {
    *error = "--metrics: the port is --port's (use --metrics same-port to share it)";
    return ParseOutcome::kError;
  }
  if (!out->exec_token.empty() && out->exec_argv.empty()) {
    *error = "--exec-token without --exec";
    return ParseOutcome::kError;
  }
  return ParseOutcome::kRun;
}

bool parse_metrics(std::string_view value, Options* out) {
  constexpr std::string_view kSame = "same-port";
  if (value.starts_with(kSame)) {
    std::string_view rest = value.substr(kSame.size());
    if (!rest.empty()) {
      // A path as a request's would be compared: absolute, no query, visible ASCII.
      if (rest.front() != ':' || rest.size() < 2 || rest[1] != '/') return false;
      rest.remove_prefix(1);
      if (std::any_of(rest.begin(), rest.end(),
                      [](char c) { return c <= ' ' || c >= 127 || c == '?' || c == '#'; }))
        return false;
      out->metrics_path = std::string(rest);
    }
    out->metrics = true;
    out->metrics_same_port = true;
    return true;
  }
  const size_t colon = value.rfind(':');
  if (colon == std::string_view::npos || colon == 0) return false;
  std::string_view host = value.substr(0, colon);
  const std::string_view port = value.substr(colon + 1);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  } else if (host.find(':') != std::string_view::npos) {
    return false;  // an IPv6 address needs its brackets: [::1]:9100
  }
  uint64_t n = 0;
  if (host.empty() || port.empty() || port.size() > 5 ||
      port.find_first_not_of("0123456789") != std::string_view::npos || !parse_size(port, &n) ||
      n > 65535)
    return false;
  out->metrics = true;
  out->metrics_same_port = false;
  out->metrics_host = std::string(host);
  out->metrics_port = static_cast<uint16_t>(n);
  return true;
}

bool is_loopback_host(const std::string& host) {
  std::string_view h = host;
  if (h.size() > 2 && h.front() == '[' && h.back() == ']') h = h.substr(1, h.size() - 2);
  return h == "localhost" || h == "::1" || h.substr(0, 4) == "127." || h == "::ffff:127.0.0.1";
}

std::string random_token() {
  unsigned char bytes[16];
  // getrandom(2) blocks only before the kernel's pool is seeded, once per boot.
  size_t got = 0;
  while (got < sizeof bytes) {
    ssize_t n = ::getrandom(bytes + got, sizeof bytes - got, 0);
    if (n < 0 && errno != EINTR) std::abort();  // no randomness: never run with a guessable one
    if (n > 0) got += static_cast<size_t>(n);
  }
  static constexpr char kHex[] = "0123456789abcdef";
  std::string token;
  for (unsigned char b : bytes) {
    token += kHex[b >> 4];
    token += kHex[b & 15];
  }
  return token;
}

}  // namespace wsedge::app
