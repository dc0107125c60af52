// http/request_handler.h — what answers a plain (non-upgrade) request: the seam between
// HttpSession and the code behind it (static files, the metrics page, a router of both).
//
// serve() appends one complete response (head and, unless HEAD, body) to the caller's
// Buffer and says which status it wrote; HttpSession sends it and keeps the connection
// alive or not as the request asked. Called on the loop thread, for a request whose head
// passed the limits and the Host policy and that carries no body. Implementations must
// not block for long: they run inside the event loop.
#pragma once

#include <cstdint>

#include "core/buffer.h"
#include "http/parser.h"

namespace wsedge::http {

struct ServeResult {
  int status = 0;           // the status written to `out`
  uint64_t body_bytes = 0;  // body bytes appended (0 for HEAD and for errors)
  const char* reason = "";  // why, for the access log, when status is not 200
};

class RequestHandler {
 public:
  virtual ServeResult serve(const Request& req, Buffer& out) const = 0;

 protected:
  ~RequestHandler() = default;  // never deleted through this interface
};

// The answer when nothing serves the request: 404 for GET and HEAD, 405 (with Allow)
// for any other method (RFC 9110 §15.5.5, §15.5.6).
ServeResult serve_nothing(const Request& req, Buffer& out);

// Response counts by status, 100..599; one loop thread: plain integers.
struct StatusCounts {
  static constexpr int kFirst = 100, kLast = 599;
  uint64_t by_status[kLast - kFirst + 1] = {};
  void add(int status) {
    if (status >= kFirst && status <= kLast) ++by_status[status - kFirst];
  }
  uint64_t of(int status) const {
    return status >= kFirst && status <= kLast ? by_status[status - kFirst] : 0;
  }
};

}  // namespace wsedge::http
