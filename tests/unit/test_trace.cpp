// ws/trace: --trace-filter's grammar and matching (a path, a prefix, a peer with or without
// its port, IPv6), and the handshake-check lines of ws/inspect the server's trace prints.
#include <doctest/doctest.h>

#include <string>

#include "ws/handshake.h"
#include "ws/inspect.h"
#include "ws/trace.h"

using wsedge::ws::parse_trace_filter;
using wsedge::ws::TraceFilter;

TEST_CASE("trace filter: parsing") {
  TraceFilter f;
  std::string why;
  CHECK(parse_trace_filter("path=/echo", &f, &why));
  CHECK(f.path == "/echo");
  CHECK(f.peer.empty());
  CHECK(parse_trace_filter("path=/chat*,peer=::1", &f, &why));
  CHECK(f.path == "/chat*");
  CHECK(f.peer == "::1");
  for (const char* bad : {"", "path", "path=", "peer=", "host=x", "path=echo", "path=/a,"}) {
    CAPTURE(bad);
    CHECK_FALSE(parse_trace_filter(bad, &f, &why));
    CHECK_FALSE(why.empty());
  }
}

TEST_CASE("trace filter: matching") {
  TraceFilter f;
  std::string why;
  REQUIRE(parse_trace_filter("path=/echo", &f, &why));
  CHECK(f.matches("/echo", "127.0.0.1:5000"));
  CHECK_FALSE(f.matches("/echo2", "127.0.0.1:5000"));
  REQUIRE(parse_trace_filter("path=/chat*", &f, &why));
  CHECK(f.matches("/chat", "1.2.3.4:1"));
  CHECK(f.matches("/chatroom", "1.2.3.4:1"));
  CHECK_FALSE(f.matches("/echo", "1.2.3.4:1"));
  REQUIRE(parse_trace_filter("peer=127.0.0.2", &f, &why));
  CHECK(f.matches("/x", "127.0.0.2:40000"));
  CHECK_FALSE(f.matches("/x", "127.0.0.1:40000"));
  CHECK_FALSE(f.matches("/x", "127.0.0.22:40000"));
  REQUIRE(parse_trace_filter("peer=127.0.0.2:40000", &f, &why));
  CHECK(f.matches("/x", "127.0.0.2:40000"));
  CHECK_FALSE(f.matches("/x", "127.0.0.2:40001"));
  REQUIRE(parse_trace_filter("peer=::1,path=/echo", &f, &why));
  CHECK(f.matches("/echo", "[::1]:9000"));
  CHECK_FALSE(f.matches("/other", "[::1]:9000"));
}

TEST_CASE("inspect: the handshake checks stop at the first that fails") {
  using namespace wsedge::ws;  // NOLINT(google-build-using-namespace): test file
  wsedge::http::Request req;
  req.method = "GET";
  UpgradeFields f;
  f.hosts = 1;
  f.upgrade_websocket = true;
  f.connection_upgrade = false;
  std::string out;
  inspect::format_handshake_checks(out, {"c1", inspect::Flow::kNote}, req, f,
                                   HandshakeError::kNoConnectionUpgrade);
  CHECK(out.find("c1 * check RFC 6455 §4.2.1 item 1: method GET: GET - ok\n") == 0);
  CHECK(out.find("c1 * check RFC 6455 §4.2.1 item 3: Upgrade holds \"websocket\": yes - ok\n") !=
        std::string::npos);
  CHECK(out.find("item 4: Connection holds \"Upgrade\": no - FAILED: 400 ") != std::string::npos);
  CHECK(out.find("item 5") == std::string::npos);  // nothing after the failure
}
