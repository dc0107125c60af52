// bench/load/options.h — wsload's command line: modes, flags, the ws:// URL.
//
// parse_options() is pure (argv in, Options or a one-line error out); no I/O beyond
// getaddrinfo-free literal parsing, so a usage error is decided before anything runs.
// The CLI is a contract with bench/peers and the compare script: change it only together.
// Any thread; no state.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cerrno>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>

namespace wsedge::load {

enum class Mode { kEcho, kRate, kConnect, kIdle };

inline const char* mode_name(Mode m) {
  switch (m) {
    case Mode::kEcho:
      return "echo";
    case Mode::kRate:
      return "rate";
    case Mode::kConnect:
      return "connect";
    case Mode::kIdle:
      return "idle";
  }
  return "?";
}

// Limits: a frame pool and a socket each must stay reasonable for one process.
inline constexpr uint64_t kMaxSize = 64ull << 20;
inline constexpr int kMaxInflight = 1024;  // one writev of K frames stays under IOV_MAX
inline constexpr int kMaxConnections = 1'000'000;
inline constexpr int kMaxThreads = 256;
inline constexpr uint64_t kDefaultReadSize = 256 * 1024;
inline constexpr uint64_t kMinReadSize = 1024, kMaxReadSize = 64ull << 20;

// How echo and rate mode hand frames to the kernel (--send-mode).
enum class SendMode : uint8_t {
  kGather,  // the frames due at once (K in flight, a rate tick) in one writev
  kSingle,  // each frame, header and payload contiguous, in a send() of its own
};

// wss:// (bench/load/tls_client.h).
struct TlsOptions {
  bool enabled = false;     // the URL is wss://
  std::string ca_file;      // --ca: trust only this bundle; empty: the system's store
  bool insecure = false;    // --insecure: no certificate or name check
  std::string sni;          // --sni: server name sent and checked; empty: the URL's host name
  std::string verify_host;  // the URL's host, checked against the certificate without --sni
  int version = 0;          // --tls-version: 0 (1.2 or 1.3), 12 or 13
  bool resume = false;      // --tls-resume: offer the last session ticket on each connect
};

struct Options {
  Mode mode = Mode::kEcho;
  std::string url;
  std::string host_header;  // "host:port" as written in the URL, for the Host header
  std::string path = "/";
  sockaddr_storage addr{};  // the server, port included
  socklen_t addr_len = 0;
  int connections = 100;
  int inflight = 1;
  uint64_t size = 16;
  bool binary = false;
  double duration_s = 10;
  double warmup_s = 2;
  int threads = 1;
  double rate = 0;  // rate mode: messages per second, total over all connections
  bool deflate = false;
  bool deflate_no_context_takeover = false;  // offer client_no_context_takeover (RFC 7692)
  bool raw = false;
  SendMode send_mode = SendMode::kGather;
  uint64_t read_size = kDefaultReadSize;  // bytes per read() of the client's socket
  bool reset_after_close = false;  // connect mode: end each cycle's TCP with a RST
  TlsOptions tls;
  int server_pid = 0;  // 0: none
  bool json = false;
  bool quiet = false;
};

inline constexpr const char* kUsageText =
    "usage: wsload MODE --url ws[s]://HOST:PORT/PATH [options]\n"
    "modes:\n"
    "  echo     closed loop: each connection keeps --inflight messages in flight\n"
    "  rate     open loop: --rate messages/s in total; latency from the intended send time\n"
    "  connect  handshakes/s: connect, upgrade, close handshake, EOF; --connections loops\n"
    "  idle     open --connections WebSockets, hold them for --duration; server RSS/conn\n"
    "options:\n"
    "  --url URL          ws:// or wss://HOST:PORT/PATH; HOST an IPv4/[IPv6] literal or\n"
    "                     localhost (wss: TLS over OpenSSL, port 443 by default)\n"
    "  --connections N    connections (connect mode: concurrent loops)     [100]\n"
    "  --inflight K       messages in flight per connection (echo)          [1]\n"
    "  --size BYTES       payload size; K and M suffixes allowed            [16]\n"
    "  --binary           binary messages (default: text)\n"
    "  --duration S       measured seconds (fractions allowed)              [10]\n"
    "  --warmup S         unmeasured seconds before the window              [2]\n"
    "  --threads T        event loops, one per thread; connections split    [1]\n"
    "  --rate R           rate mode: total messages per second (required)\n"
    "  --deflate          offer permessage-deflate; if agreed, compress every message and\n"
    "                     inflate compressed echoes before verifying them\n"
    "  --deflate-no-context-takeover  with --deflate: offer client_no_context_takeover, so\n"
    "                     each message is compressed once per run, not once per send\n"
    "  --send-mode M      gather: the frames due at once in one writev; single: each\n"
    "                     frame (header+payload, contiguous) in a send() of its own [gather]\n"
    "  --read-size BYTES  client read buffer, 1K..64M (K/M suffixes)     [256K]\n"
    "  --raw              plain TCP, no handshake: expect the sent frame bytes back verbatim\n"
    "                     (over wss://: TLS only; connect mode then cycles TLS handshakes)\n"
    "  --reset-after-close  connect mode: once the close handshake and the server's EOF are\n"
    "                     done, close with a TCP reset, so the server keeps no TIME_WAIT\n"
    "  --ca FILE          wss: trust only the CA certificates in FILE (PEM) [system store]\n"
    "  --insecure         wss: check no certificate and no name (not with --ca)\n"
    "  --sni NAME         wss: send NAME as the server name and check the certificate\n"
    "                     against it [the URL's host; an IP literal is checked, not sent]\n"
    "  --tls-version V    wss: 1.2 or 1.3 only                        [either]\n"
    "  --tls-resume       wss: offer the newest session ticket on each new connection\n"
    "                     (resumed handshakes; the JSON counts them)\n"
    "  --server-pid PID   sample the server's CPU (/proc/PID/stat) and RSS (idle)\n"
    "  --json             one JSON object on stdout instead of the summary\n"
    "  --quiet            no progress lines (they go to stderr)\n"
    "  --help\n"
    "exit status: 0 ok, 1 errors were counted, 2 usage error or a refused certificate\n";

namespace detail {

inline bool parse_int(std::string_view s, long long lo, long long hi, long long* out) {
  if (s.empty()) return false;
  std::string tmp(s);
  char* end = nullptr;
  errno = 0;
  long long v = std::strtoll(tmp.c_str(), &end, 10);
  long long mul = 1;
  if (end && (*end == 'K' || *end == 'k'))
    mul = 1024, ++end;
  else if (end && (*end == 'M' || *end == 'm'))
    mul = 1024 * 1024, ++end;
  if (errno != 0 || end == tmp.c_str() || *end != '\0') return false;
  if (v < lo / mul || v > hi / mul) return false;
  *out = v * mul;
  return true;
}

inline bool parse_seconds(std::string_view s, double lo, double* out) {
  if (s.empty()) return false;
  std::string tmp(s);
  char* end = nullptr;
  double v = std::strtod(tmp.c_str(), &end);
  if (end == tmp.c_str() || *end != '\0' || !std::isfinite(v) || v < lo || v > 1e7) return false;
  *out = v;
  return true;
}

// Fills addr from a literal host (IPv4, IPv6 without brackets, or "localhost").
inline bool resolve_literal(const std::string& host, uint16_t port, Options* o) {
  std::memset(&o->addr, 0, sizeof o->addr);
  auto* v4 = reinterpret_cast<sockaddr_in*>(&o->addr);
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&o->addr);
  std::string h = host == "localhost" ? "127.0.0.1" : host;
  if (inet_pton(AF_INET, h.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(port);
    o->addr_len = sizeof(sockaddr_in);
    return true;
  }
  if (inet_pton(AF_INET6, h.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(port);
    o->addr_len = sizeof(sockaddr_in6);
    return true;
  }
  return false;
}

// ws[s]://HOST[:PORT][/PATH]; returns an error message or nullptr.
inline const char* parse_url(const std::string& url, Options* o) {
  o->tls.enabled = url.rfind("wss://", 0) == 0;
  if (!o->tls.enabled && url.rfind("ws://", 0) != 0) return "--url must start with ws:// or wss://";
  // RFC 6455 §3 and §4.1 (item 1): a WebSocket URI has no fragment, and an invalid URI
  // fails before any connection is made ("#" inside the URI is written %23).
  if (url.find('#') != std::string::npos) return "--url: a WebSocket URI has no #fragment";
  std::string rest = url.substr(o->tls.enabled ? 6 : 5);
  size_t slash = rest.find('/');
  std::string authority = rest.substr(0, slash);
  o->path = slash == std::string::npos ? "/" : rest.substr(slash);
  std::string host, port_text;
  if (!authority.empty() && authority[0] == '[') {
    size_t close = authority.find(']');
    if (close == std::string::npos) return "--url: unterminated [IPv6] host";
    host = authority.substr(1, close - 1);
    if (close + 1 < authority.size()) {
      if (authority[close + 1] != ':') return "--url: junk after ]";
      port_text = authority.substr(close + 2);
    }
  } else {
    size_t colon = authority.find(':');
    host = authority.substr(0, colon);
    if (colon != std::string::npos) port_text = authority.substr(colon + 1);
  }
  long long port = o->tls.enabled ? 443 : 80;
  if (!port_text.empty() && !parse_int(port_text, 1, 65535, &port)) return "--url: bad port";
  if (host.empty() || !resolve_literal(host, static_cast<uint16_t>(port), o))
    return "--url: host must be an IPv4 or [IPv6] literal or localhost";
  o->host_header = authority;
  o->tls.verify_host = host;  // as written, without the [ ] of an IPv6 literal
  o->url = url;
  return nullptr;
}

inline bool parse_mode(std::string_view s, Mode* m) {
  if (s == "echo")
    *m = Mode::kEcho;
  else if (s == "rate")
    *m = Mode::kRate;
  else if (s == "connect")
    *m = Mode::kConnect;
  else if (s == "idle")
    *m = Mode::kIdle;
  else
    return false;
  return true;
}

// One flag with its value. Returns an error message or nullptr.
inline const char* apply_flag(std::string_view f, std::string_view v, Options* o) {
  long long n = 0;
  if (f == "--url") return parse_url(std::string(v), o);
  if (f == "--connections") {
    if (!parse_int(v, 1, kMaxConnections, &n)) return "--connections: 1..1000000";
    o->connections = static_cast<int>(n);
  } else if (f == "--inflight") {
    if (!parse_int(v, 1, kMaxInflight, &n)) return "--inflight: 1..1024";
    o->inflight = static_cast<int>(n);
  } else if (f == "--size") {
    if (!parse_int(v, 0, static_cast<long long>(kMaxSize), &n)) return "--size: 0..64M";
    o->size = static_cast<uint64_t>(n);
  } else if (f == "--read-size") {
    if (!parse_int(v, static_cast<long long>(kMinReadSize), static_cast<long long>(kMaxReadSize),
                   &n))
      return "--read-size: 1K..64M";
    o->read_size = static_cast<uint64_t>(n);
  } else if (f == "--send-mode") {
    if (v == "gather")
      o->send_mode = SendMode::kGather;
    else if (v == "single")
      o->send_mode = SendMode::kSingle;
    else
      return "--send-mode: gather or single";
  } else if (f == "--threads") {
    if (!parse_int(v, 1, kMaxThreads, &n)) return "--threads: 1..256";
    o->threads = static_cast<int>(n);
  } else if (f == "--server-pid") {
    if (!parse_int(v, 1, 1 << 30, &n)) return "--server-pid: a process id";
    o->server_pid = static_cast<int>(n);
  } else if (f == "--duration") {
    if (!parse_seconds(v, 0.01, &o->duration_s)) return "--duration: seconds > 0";
  } else if (f == "--warmup") {
    if (!parse_seconds(v, 0, &o->warmup_s)) return "--warmup: seconds >= 0";
  } else if (f == "--ca") {
    if (v.empty()) return "--ca: a file name";
    o->tls.ca_file = std::string(v);
  } else if (f == "--sni") {
    if (v.empty() || v.find_first_of(" /") != std::string_view::npos) return "--sni: a host name";
    o->tls.sni = std::string(v);
  } else if (f == "--tls-version") {
    if (v == "1.2")
      o->tls.version = 12;
    else if (v == "1.3")
      o->tls.version = 13;
    else
      return "--tls-version: 1.2 or 1.3";
  } else if (f == "--rate") {
    if (!parse_seconds(v, 1, &o->rate) || o->rate > 1e9) return "--rate: 1..1e9 messages/s";
  } else {
    return "unknown option";
  }
  return nullptr;
}

inline bool is_switch(std::string_view f, Options* o) {
  if (f == "--binary")
    o->binary = true;
  else if (f == "--deflate")
    o->deflate = true;
  else if (f == "--deflate-no-context-takeover")
    o->deflate_no_context_takeover = true;
  else if (f == "--raw")
    o->raw = true;
  else if (f == "--reset-after-close")
    o->reset_after_close = true;
  else if (f == "--insecure")
    o->tls.insecure = true;
  else if (f == "--tls-resume")
    o->tls.resume = true;
  else if (f == "--json")
    o->json = true;
  else if (f == "--quiet")
    o->quiet = true;
  else
    return false;
  return true;
}

}  // namespace detail

enum class ParseStatus { kOk, kHelp, kUsage };

// On kUsage, *error holds one line naming the problem.
inline ParseStatus parse_options(int argc, char** argv, Options* o, std::string* error) {
  for (int i = 1; i < argc; ++i)
    if (std::string_view(argv[i]) == "--help" || std::string_view(argv[i]) == "-h")
      return ParseStatus::kHelp;
  if (argc < 2 || !detail::parse_mode(argv[1], &o->mode)) {
    *error = "first argument must be a mode: echo, rate, connect or idle";
    return ParseStatus::kUsage;
  }
  for (int i = 2; i < argc; ++i) {
    std::string_view f = argv[i];
    if (detail::is_switch(f, o)) continue;
    const char* value = i + 1 < argc ? argv[i + 1] : nullptr;
    const char* err = detail::apply_flag(f, value ? value : "", o);
    if (err && std::string_view(err) != "unknown option" && !value) err = "missing value";
    if (err) {
      // Messages from apply_flag name their flag already ("--size: 0..64M").
      *error = err[0] == '-' ? std::string(err) : std::string(f) + ": " + err;
      return ParseStatus::kUsage;
    }
    ++i;
  }
  const char* err = nullptr;
  const TlsOptions& t = o->tls;
  const bool tls_flags =
      !t.ca_file.empty() || t.insecure || !t.sni.empty() || t.version || t.resume;
  if (o->url.empty())
    err = "--url is required";
  else if (tls_flags && !t.enabled)
    err = "--ca, --insecure, --sni, --tls-version and --tls-resume need a wss:// URL";
  else if (t.insecure && !t.ca_file.empty())
    err = "--insecure and --ca exclude each other";
  else if (o->mode == Mode::kRate && o->rate <= 0)
    err = "rate mode needs --rate";
  else if (o->mode != Mode::kRate && o->rate > 0)
    err = "--rate applies to rate mode only";
  else if (o->raw && o->mode == Mode::kConnect && !o->tls.enabled)
    err = "--raw has no handshake to measure (over wss:// it measures the TLS handshake alone)";
  else if (o->raw && o->deflate)
    err = "--raw and --deflate exclude each other";
  else if (o->send_mode == SendMode::kSingle && o->deflate)
    err = "--send-mode single applies to plain frames, not --deflate";
  else if (o->deflate_no_context_takeover && !o->deflate)
    err = "--deflate-no-context-takeover needs --deflate";
  else if (o->reset_after_close && o->mode != Mode::kConnect)
    err = "--reset-after-close applies to connect mode only";
  else if (o->threads > o->connections)
    err = "--threads must not exceed --connections";
  if (err) {
    *error = err;
    return ParseStatus::kUsage;
  }
  return ParseStatus::kOk;
}

}  // namespace wsedge::load
