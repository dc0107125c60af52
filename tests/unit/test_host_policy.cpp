// Tests for http/host_policy: the DNS-rebinding guard's verdict on Host values, one rule
// per row, with the policy a loopback server on port 9001 runs by default.
#include <doctest/doctest.h>

#include <string>

#include "http/host_policy.h"

using wsedge::http::host_allowed;
using wsedge::http::HostPolicy;
using wsedge::http::is_loopback_name;

TEST_CASE("is_loopback_name: localhost, 127.0.0.0/8 dotted quads and [::1] only") {
  struct Row {
    const char* name;
    bool loopback;
  };
  const Row rows[] = {
      {"localhost", true},
      {"LocalHost", true},
      {"127.0.0.1", true},
      {"127.255.10.3", true},
      {"[::1]", true},
      {"127.0.0.1.rebind.example", false},  // a name that starts like an address
      {"localhost.rebind.example", false},
      {"rebind.example", false},
      {"127.0.0", false},
      {"127.0.0.1.", false},
      {"127.0.0.256", false},
      {"127.0.0.01", false},  // leading zero: octal to some resolvers
      {"127.1", false},
      {"128.0.0.1", false},
      {"0x7f.0.0.1", false},
      {"[::2]", false},
      {"::1", false},  // unbracketed: not a Host's IPv6 literal
      {"", false},
  };
  for (const Row& row : rows) {
    CAPTURE(row.name);
    CHECK(is_loopback_name(row.name) == row.loopback);
  }
}

TEST_CASE("host_allowed: a loopback server answers only its own names and port") {
  HostPolicy loopback{.enabled = true, .names = {}, .ports = {9001}};
  struct Row {
    const char* host;
    bool allowed;
  };
  const Row rows[] = {
      {"127.0.0.1:9001", true},
      {"localhost:9001", true},
      {"[::1]:9001", true},
      {"rebind.example:9001", false},  // the rebinding attack: the page's own name
      {"127.0.0.1.rebind.example:9001", false},
      {"127.0.0.1:9002", false},  // another port: another authority
      {"127.0.0.1", false},       // no port: port 80, which we are not
      {"127.0.0.1:", false},
      {"127.0.0.1:09001x", false},
      {"127.0.0.1:99999", false},
      {"127.0.0.1:9001:9001", false},
      {"[::1", false},
      {"[::1]9001", false},
      {"", false},  // no Host at all (HTTP/1.0)
  };
  for (const Row& row : rows) {
    CAPTURE(row.host);
    CHECK(host_allowed(row.host, loopback) == row.allowed);
  }
}

TEST_CASE("host_allowed: names the operator adds, with or without a port") {
  HostPolicy p{.enabled = true, .names = {"chat.example", "api.example:8443"}, .ports = {9001}};
  CHECK(host_allowed("chat.example", p));  // behind a proxy on 443: no port in Host
  CHECK(host_allowed("CHAT.example:443", p));
  CHECK(host_allowed("api.example:8443", p));
  CHECK_FALSE(host_allowed("api.example", p));
  CHECK_FALSE(host_allowed("api.example:443", p));
  CHECK_FALSE(host_allowed("other.example", p));
  CHECK(host_allowed("localhost:9001", p));  // loopback names keep working
}

TEST_CASE("host_allowed: no port means 80 or 443; off means every Host") {
  HostPolicy on80{.enabled = true, .names = {}, .ports = {80}};
  CHECK(host_allowed("localhost", on80));
  CHECK(host_allowed("localhost:80", on80));
  CHECK_FALSE(host_allowed("rebind.example", on80));
  HostPolicy off;
  CHECK(host_allowed("rebind.example:9001", off));
  CHECK(host_allowed("", off));
}
