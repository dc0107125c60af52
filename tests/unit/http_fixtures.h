// tests/unit/http_fixtures.h — real-world request heads shared by the parser tests and
// bench/micro_http.cpp, so the benchmark measures exactly what the tests prove correct.
#pragma once

namespace wsedge::test {

// What Chrome 120 sends to open a WebSocket (458 bytes).
inline constexpr const char* kChromeUpgrade =
    "GET /chat?room=1 HTTP/1.1\r\n"
    "Host: localhost:9001\r\n"
    "Connection: Upgrade\r\n"
    "Pragma: no-cache\r\n"
    "Cache-Control: no-cache\r\n"
    "User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0.0.0 Safari/537.36\r\n"
    "Upgrade: websocket\r\n"
    "Origin: http://localhost:9001\r\n"
    "Sec-WebSocket-Version: 13\r\n"
    "Accept-Encoding: gzip, deflate, br\r\n"
    "Accept-Language: en-US,en;q=0.9\r\n"
    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
    "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n"
    "\r\n";

}  // namespace wsedge::test
