// http/response.h — writes HTTP/1.1 responses into a core Buffer.
//
// Appends bytes to the caller's Buffer and nothing else: no I/O, no clock (a Date header
// takes the time as an argument). Names and values are trusted, from our own code; the
// only caller-controlled text, write_error's reason, has control bytes replaced by spaces
// so it cannot split the response. Any thread; one Buffer per caller.
#pragma once

#include <cstddef>
#include <cstdint>
#include <ctime>
#include <span>
#include <string_view>

#include "core/buffer.h"

namespace wsedge::http {

// The Connection header a response carries.
enum class ConnectionHeader {
  kNone,       // HTTP/1.1 default: persistent
  kClose,      // "Connection: close": the server closes after this response
  kKeepAlive,  // "Connection: keep-alive": what an HTTP/1.0 client needs to stay open
};

struct ResponseHead {
  int status = 200;
  std::string_view content_type;  // empty: no Content-Type header
  ConnectionHeader connection = ConnectionHeader::kNone;
  bool head_only = false;  // answer to HEAD: Content-Length of the body, but no body
  std::string_view cache_control = "no-cache";  // empty: no header
  std::span<const std::string_view> extra;      // more header lines, "Name: value" each
};

// "OK", "Not Found", ...; "Unknown" for a code outside the table.
std::string_view reason_phrase(int status);

// "HTTP/1.1 <status> <reason>\r\nServer: wsedge\r\n"
void write_status_line(Buffer& out, int status);
// "<name>: <value>\r\n"
void write_header(Buffer& out, std::string_view name, std::string_view value);
void write_header(Buffer& out, std::string_view name, uint64_t value);
// "Date: Sun, 06 Nov 1994 08:49:37 GMT\r\n" (IMF-fixdate, RFC 9110 §5.6.7)
void write_date_header(Buffer& out, std::time_t now);
// The empty line that ends the head.
void end_head(Buffer& out);

// Status line, Server, Content-Type, Content-Length: content_length, Cache-Control,
// Connection, extra, empty line. The caller appends the body (or not, for HEAD).
void write_head(Buffer& out, const ResponseHead& head, uint64_t content_length);
// write_head plus the body, unless head.head_only.
void write_response(Buffer& out, const ResponseHead& head, std::span<const uint8_t> body);
// The longest reason write_error sends: one line in a small stack buffer, cut past this.
inline constexpr size_t kMaxErrorText = 255;

// A complete error: text/plain body of `reason` (at most kMaxErrorText bytes) and a newline;
// 405 carries "Allow: GET, HEAD" (RFC 9110 §15.5.6 MUST); `close` adds "Connection: close".
void write_error(Buffer& out, int status, std::string_view reason, bool close,
                 bool head_only = false);

}  // namespace wsedge::http
