// http/host_policy.h — which Host values a server answers: the DNS-rebinding guard.
//
// A page on attacker.example can make its own name resolve to 127.0.0.1 (DNS rebinding).
// The browser then sends that page's requests, WebSocket handshakes included, to a server
// on loopback, and since the page is same-origin with itself, an Origin check that compares
// Origin with Host passes: both are the attacker's name. The one thing the attacker cannot
// choose is a Host that names this machine, so a server reachable only from here answers
// only requests whose Host is a loopback name with one of its own ports (RFC 9110 §7.2:
// Host is the authority the client meant; §15.5.20: 421 for a request not meant for us).
// Pure; any thread.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace wsedge::http {

struct HostPolicy {
  // Off: every Host is answered (a server on a public address goes by many names).
  bool enabled = false;
  // Accepted besides the loopback names, case-insensitively: "name" (any port) or
  // "name:port" (that port only).
  std::vector<std::string> names;
  // The ports this server listens on. A loopback Host must name one of them; a Host
  // without a port names the scheme's default (80 or 443), per RFC 9110 §7.2.
  std::vector<uint16_t> ports;
};

// "localhost", a dotted-quad IPv4 address in 127.0.0.0/8, or "[::1]" (no port).
bool is_loopback_name(std::string_view name);

// Whether a request with this Host value (empty: none was sent) may be answered.
bool host_allowed(std::string_view host, const HostPolicy& policy);

}  // namespace wsedge::http
