#include "http/host_policy.h"

#include <algorithm>

#include "http/parser.h"

namespace wsedge::http {
namespace {

// Host = uri-host [ ":" port ] (RFC 9110 §7.2, RFC 3986 §3.2.2); an IPv6 literal is
// bracketed. Anything else, including an empty port after the colon, is refused.
struct Authority {
  std::string_view name;
  bool has_port = false;
  uint16_t port = 0;
};

bool parse_port(std::string_view digits, uint16_t* port) {
  if (digits.empty() || digits.size() > 5) return false;
  uint32_t v = 0;
  for (char c : digits) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + static_cast<uint32_t>(c - '0');
  }
  if (v > 65535) return false;
  *port = static_cast<uint16_t>(v);
  return true;
}

bool split_authority(std::string_view host, Authority* out) {
  size_t name_end;
  if (!host.empty() && host.front() == '[') {
    size_t close = host.find(']');
    if (close == std::string_view::npos) return false;
    name_end = close + 1;
  } else {
    name_end = std::min(host.find(':'), host.size());
  }
  out->name = host.substr(0, name_end);
  if (out->name.empty()) return false;
  std::string_view rest = host.substr(name_end);
  if (rest.empty()) return true;
  if (rest.front() != ':') return false;
  out->has_port = true;
  return parse_port(rest.substr(1), &out->port);
}

// One decimal octet, 0..255, without leading zeros (which some resolvers read as octal).
bool take_octet(std::string_view* s, unsigned* value) {
  size_t n = 0;
  unsigned v = 0;
  while (n < s->size() && n < 3 && (*s)[n] >= '0' && (*s)[n] <= '9') {
    v = v * 10 + static_cast<unsigned>((*s)[n] - '0');
    ++n;
  }
  if (n == 0 || v > 255 || (n > 1 && (*s)[0] == '0')) return false;
  s->remove_prefix(n);
  *value = v;
  return true;
}

bool is_loopback_ipv4(std::string_view s) {
  unsigned octet = 0;
  for (int i = 0; i < 4; ++i) {
    if (i > 0) {
      if (s.empty() || s.front() != '.') return false;
      s.remove_prefix(1);
    }
    if (!take_octet(&s, &octet)) return false;
    if (i == 0 && octet != 127) return false;
  }
  return s.empty();  // "127.0.0.1.attacker.example" is a name, not an address
}

bool names_match(const std::string& entry, const Authority& a) {
  Authority e;
  if (!split_authority(entry, &e) || !iequals(e.name, a.name)) return false;
  return !e.has_port || (a.has_port && e.port == a.port);
}

}  // namespace

bool is_loopback_name(std::string_view name) {
  return iequals(name, "localhost") || name == "[::1]" || is_loopback_ipv4(name);
}

bool host_allowed(std::string_view host, const HostPolicy& policy) {
  if (!policy.enabled) return true;
  Authority a;
  if (!split_authority(host, &a)) return false;
  for (const std::string& entry : policy.names) {
    if (names_match(entry, a)) return true;
  }
  if (!is_loopback_name(a.name)) return false;
  const auto& ports = policy.ports;
  auto listens_on = [&ports](uint16_t p) {
    return std::find(ports.begin(), ports.end(), p) != ports.end();
  };
  // RFC 9110 §7.2: no port means the scheme's default one.
  if (!a.has_port) return listens_on(80) || listens_on(443);
  return listens_on(a.port);
}

}  // namespace wsedge::http
