#include "http/request_handler.h"

#include "http/response.h"

namespace wsedge::http {

ServeResult serve_nothing(const Request& req, Buffer& out) {
  const bool close = !req.keep_alive();
  const bool head = req.method == "HEAD";
  if (req.method == "GET" || head) {
    write_error(out, 404, "not found", close, head);
    return {404, 0, "not found"};
  }
  write_error(out, 405, "method not allowed", close);
  return {405, 0, "method not allowed"};
}

}  // namespace wsedge::http
