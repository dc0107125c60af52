// http/static_files.h — answers GET and HEAD from files under one root directory.
//
// StaticFiles owns the resolved root path; serve() appends one complete response to the
// caller's Buffer. It does blocking file I/O (realpath, open, fstat, pread): meant for a
// small web root on local disk, not for a hot path. Const after construction, so one
// instance may be shared by threads. Paths that would leave the root are refused with 403.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "core/buffer.h"
#include "core/result.h"
#include "http/parser.h"
#include "http/request_handler.h"

namespace wsedge::http {

// Result of turning a request path into a path relative to the root.
struct DecodedPath {
  int status = 0;           // 0: ok; 400: bad escape or not a path; 403: refused
  const char* reason = "";  // when status != 0
  size_t length = 0;        // bytes written to the output, no leading '/'
  bool directory = false;   // named a directory (empty, or ended in '/'): serve index.html
};

// Percent-decodes `path` (RFC 3986 §2.1) into `out` and normalises it: empty and "."
// segments dropped; "..", NUL and backslash refused (403) however they were encoded.
// The output never starts with '/', so it cannot name anything outside the root by
// itself (only a symlink can, which serve() checks after resolving).
DecodedPath decode_request_path(std::string_view path, std::span<char> out);

class StaticFiles final : public RequestHandler {
 public:
  static constexpr uint64_t kDefaultMaxFileBytes = 16u << 20;

  // Resolves `root` with realpath(3) now; check() reports a root that did not resolve.
  explicit StaticFiles(const std::string& root, uint64_t max_file_bytes = kDefaultMaxFileBytes);

  Result<void> check() const;
  const std::string& root() const { return root_; }

  // GET/HEAD: 200 with the file (a directory means its index.html), else 400 (bad path),
  // 403 (escapes the root, not a regular file), 404, 405 (other methods, with Allow),
  // 500 (larger than max_file_bytes, read error). Connection follows req.keep_alive().
  ServeResult serve(const Request& req, Buffer& out) const override;

 private:
  ServeResult serve_resolved(const Request& req, const char* real, Buffer& out) const;
  ServeResult serve_file(const Request& req, const char* real, Buffer& out) const;
  bool inside_root(std::string_view real) const;

  std::string root_;  // realpath of the root; empty when it did not resolve
  int root_errno_ = 0;
  uint64_t max_file_bytes_;
};

}  // namespace wsedge::http
