// Tests for http/response and http/mime: exact bytes on the wire.
#include <doctest/doctest.h>

#include <string>

#include "http/mime.h"
#include "http/parser.h"
#include "http/response.h"

using namespace wsedge::http;
using wsedge::Buffer;

namespace {
std::string str(const Buffer& b) {
  return {reinterpret_cast<const char*>(b.data()), b.readable()};
}
std::span<const uint8_t> bytes_of(std::string_view s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}
}  // namespace

TEST_CASE("reason_phrase covers every status the server sends") {
  struct Row {
    int status;
    const char* phrase;
  };
  const Row rows[] = {{101, "Switching Protocols"},
                      {200, "OK"},
                      {304, "Not Modified"},
                      {400, "Bad Request"},
                      {401, "Unauthorized"},
                      {403, "Forbidden"},
                      {404, "Not Found"},
                      {405, "Method Not Allowed"},
                      {413, "Content Too Large"},
                      {414, "URI Too Long"},
                      {426, "Upgrade Required"},
                      {431, "Request Header Fields Too Large"},
                      {500, "Internal Server Error"},
                      {501, "Not Implemented"},
                      {503, "Service Unavailable"},
                      {505, "HTTP Version Not Supported"},
                      {299, "Unknown"}};
  for (const Row& r : rows) {
    CAPTURE(r.status);
    CHECK(reason_phrase(r.status) == r.phrase);
  }
}

TEST_CASE("write_response writes status line, headers, Content-Length and body") {
  Buffer out;
  ResponseHead head;
  head.content_type = "text/html; charset=utf-8";
  std::string_view extra[] = {"X-A: 1"};
  head.extra = extra;
  write_response(out, head, bytes_of("<p>hi</p>"));
  CHECK(str(out) ==
        "HTTP/1.1 200 OK\r\nServer: wsedge\r\nContent-Type: text/html; charset=utf-8\r\n"
        "Content-Length: 9\r\nCache-Control: no-cache\r\nX-A: 1\r\n\r\n<p>hi</p>");
}

TEST_CASE("HEAD responses carry the GET headers but no body") {
  Buffer out;
  ResponseHead head;
  head.head_only = true;
  head.cache_control = {};
  head.connection = ConnectionHeader::kKeepAlive;
  write_response(out, head, bytes_of("12345"));
  CHECK(str(out) ==
        "HTTP/1.1 200 OK\r\nServer: wsedge\r\nContent-Length: 5\r\nConnection: keep-alive\r\n\r\n");
}

TEST_CASE("write_error: one-line text body, Connection: close on request, Allow on 405") {
  Buffer out;
  write_error(out, 404, "not found", false);
  CHECK(str(out) ==
        "HTTP/1.1 404 Not Found\r\nServer: wsedge\r\nContent-Type: text/plain; charset=utf-8\r\n"
        "Content-Length: 10\r\nCache-Control: no-cache\r\n\r\nnot found\n");
  out.clear();
  write_error(out, 405, "method not allowed", true);
  std::string s = str(out);
  CHECK(s.find("HTTP/1.1 405 Method Not Allowed\r\n") == 0);
  CHECK(s.find("\r\nAllow: GET, HEAD\r\n") != std::string::npos);
  CHECK(s.find("\r\nConnection: close\r\n") != std::string::npos);
  out.clear();
  // RFC 9110 §11.6.1: 401 carries a challenge.
  write_error(out, 401, "token required", true);
  s = str(out);
  CHECK(s.find("HTTP/1.1 401 Unauthorized\r\n") == 0);
  CHECK(s.find("\r\nWWW-Authenticate: Bearer\r\n") != std::string::npos);
  out.clear();
  // A reason with CR/LF must not become header lines.
  write_error(out, 400, "bad\r\nX-Injected: 1", true);
  s = str(out);
  CHECK(s.find("\r\nX-Injected") == std::string::npos);
  CHECK(s.substr(s.size() - 19) == "bad  X-Injected: 1\n");
}

TEST_CASE("responses parse back as well-formed heads") {
  Buffer out;
  write_error(out, 431, "request head larger than limit", true);
  // Reuse the request parser on the status line's shape: swap it for a request line.
  std::string s = str(out);
  size_t eol = s.find("\r\n");
  std::string as_request = "GET / HTTP/1.1" + s.substr(eol);
  Request req;
  ParseResult r = parse_request(bytes_of(as_request), &req);
  REQUIRE(r.status == ParseStatus::kError);  // no Host: but every header line was valid
  CHECK(r.error == HttpError::kMissingHost);
  CHECK(req.content_length == 0);
  CHECK(std::stoul(std::string(req.header("content-length"))) == s.size() - s.find("\r\n\r\n") - 4);
}

TEST_CASE("write_date_header formats IMF-fixdate") {
  Buffer out;
  write_date_header(out, 784111777);  // RFC 9110 §5.6.7's example instant
  CHECK(str(out) == "Date: Sun, 06 Nov 1994 08:49:37 GMT\r\n");
}

TEST_CASE("mime_type_for maps extensions case-insensitively") {
  struct Row {
    const char* path;
    const char* type;
  };
  const Row rows[] = {{"/index.html", "text/html; charset=utf-8"},
                      {"a.CSS", "text/css; charset=utf-8"},
                      {"app.js", "text/javascript; charset=utf-8"},
                      {"m.mjs", "text/javascript; charset=utf-8"},
                      {"d.json", "application/json"},
                      {"i.svg", "image/svg+xml"},
                      {"i.png", "image/png"},
                      {"i.jpg", "image/jpeg"},
                      {"favicon.ico", "image/x-icon"},
                      {"r.txt", "text/plain; charset=utf-8"},
                      {"x.wasm", "application/wasm"},
                      {"noext", "application/octet-stream"},
                      {"dir.d/noext", "application/octet-stream"},
                      {"x.unknown", "application/octet-stream"}};
  for (const Row& r : rows) {
    CAPTURE(r.path);
    CHECK(mime_type_for(r.path) == r.type);
  }
}
