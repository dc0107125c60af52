#include "http/static_files.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdlib>
#include <cstring>

#include "http/grammar.h"
#include "http/mime.h"
#include "http/response.h"

namespace wsedge::http {

namespace {

DecodedPath refuse(int status, const char* reason) {
  DecodedPath d;
  d.status = status;
  d.reason = reason;
  return d;
}

// Closes a file descriptor on every return path.
class FdGuard {
 public:
  explicit FdGuard(int fd) : fd_(fd) {}
  ~FdGuard() {
    if (fd_ >= 0) ::close(fd_);
  }
  FdGuard(const FdGuard&) = delete;
  FdGuard& operator=(const FdGuard&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

ServeResult fail(const Request& req, Buffer& out, int status, const char* reason) {
  write_error(out, status, reason, !req.keep_alive(), req.method == "HEAD");
  return {status, 0, reason};
}

ConnectionHeader connection_for(const Request& req) {
  if (!req.keep_alive()) return ConnectionHeader::kClose;
  // RFC 9112 §9.3: an HTTP/1.0 connection persists only if the response says keep-alive.
  return req.version_minor == 0 ? ConnectionHeader::kKeepAlive : ConnectionHeader::kNone;
}

// Reads exactly `size` bytes from `fd` at offset 0 into `dst`; false on error or EOF.
bool read_all(int fd, uint8_t* dst, uint64_t size) {
  uint64_t done = 0;
  while (done < size) {
    ssize_t n = ::pread(fd, dst + done, size - done, static_cast<off_t>(done));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;  // error, or the file shrank under us
    done += static_cast<uint64_t>(n);
  }
  return true;
}

}  // namespace

DecodedPath decode_request_path(std::string_view path, std::span<char> out) {
  if (path.empty() || path.front() != '/') return refuse(400, "request path is not absolute");
  DecodedPath d;
  size_t seg_start = 0;  // where the current segment begins in out
  size_t n = 0;
  for (size_t i = 0; i <= path.size(); ++i) {
    char c = '/';  // a virtual separator ends the last segment
    if (i < path.size()) {
      c = path[i];
      if (c == '%') {
        // RFC 3986 §2.1: pct-encoded = "%" HEXDIG HEXDIG; anything else is malformed.
        int hi = i + 2 < path.size() ? hex_value(path[i + 1]) : -1;
        int lo = hi >= 0 ? hex_value(path[i + 2]) : -1;
        if (lo < 0) return refuse(400, "invalid percent-encoding in path");
        c = static_cast<char>(hi * 16 + lo);
        i += 2;
      }
      if (c == '\0') return refuse(403, "NUL byte in path");
      if (c == '\\') return refuse(403, "backslash in path");
    }
    if (c != '/') {
      if (n + 1 >= out.size()) return refuse(403, "path too long");
      out[n++] = c;
      continue;
    }
    std::string_view seg(out.data() + seg_start, n - seg_start);
    // Decoding came first, so "%2e%2e", ".%2E" and "..%2f" all arrive here as "..".
    if (seg == "..") return refuse(403, "dot-dot segment in path");
    if (seg.empty() || seg == ".") {
      n = seg_start;  // drop it; an empty path or a trailing '/' names a directory
      d.directory = true;
      continue;
    }
    d.directory = false;
    if (n + 1 >= out.size()) return refuse(403, "path too long");
    out[n++] = '/';
    seg_start = n;
  }
  d.length = n > 0 ? n - 1 : 0;  // the last segment's separator is not part of the path
  if (d.length == 0) d.directory = true;
  return d;
}

StaticFiles::StaticFiles(const std::string& root, uint64_t max_file_bytes)
    : max_file_bytes_(max_file_bytes) {
  char real[PATH_MAX];
  if (::realpath(root.c_str(), real) == nullptr) {
    root_errno_ = errno;
    return;
  }
  struct stat st {};
  if (::stat(real, &st) != 0 || !S_ISDIR(st.st_mode)) {
    root_errno_ = ENOTDIR;
    return;
  }
  root_ = real;
}

Result<void> StaticFiles::check() const {
  if (root_.empty()) return Error{"static files root", root_errno_};
  return {};
}

bool StaticFiles::inside_root(std::string_view real) const {
  if (root_ == "/") return true;
  if (real.size() < root_.size() || real.substr(0, root_.size()) != root_) return false;
  // "/srv/web-other" starts with "/srv/web" but is not inside it.
  return real.size() == root_.size() || real[root_.size()] == '/';
}

ServeResult StaticFiles::serve(const Request& req, Buffer& out) const {
  // RFC 9110 §9.1: the origin server answers 405 for a known method it does not allow
  // on the resource (501 would claim the method is unknown to it).
  if (req.method != "GET" && req.method != "HEAD") return fail(req, out, 405, "method not allowed");
  if (root_.empty()) return fail(req, out, 500, "web root unavailable");
  std::string_view path = req.path;
  // RFC 9112 §3.2.2: a server MUST accept absolute-form; keep only its path part.
  for (std::string_view scheme : {"http://", "https://"}) {
    if (path.size() >= scheme.size() && iequals(path.substr(0, scheme.size()), scheme)) {
      size_t slash = path.find('/', scheme.size());
      path = slash == std::string_view::npos ? std::string_view("/") : path.substr(slash);
    }
  }
  char full[PATH_MAX];
  size_t prefix = root_.size() + 1;
  if (prefix + 1 >= sizeof full) return fail(req, out, 500, "web root path too long");
  std::memcpy(full, root_.data(), root_.size());
  full[root_.size()] = '/';
  DecodedPath d = decode_request_path(path, {full + prefix, sizeof full - prefix});
  if (d.status != 0) return fail(req, out, d.status, d.reason);
  full[prefix + d.length] = '\0';
  char real[PATH_MAX];
  if (::realpath(full, real) == nullptr) {
    return errno == EACCES ? fail(req, out, 403, "permission denied")
                           : fail(req, out, 404, "not found");
  }
  // A symlink inside the root may point anywhere: judge the resolved path, not the name.
  if (!inside_root(real)) return fail(req, out, 403, "path resolves outside the web root");
  return serve_resolved(req, real, out);
}

ServeResult StaticFiles::serve_resolved(const Request& req, const char* real, Buffer& out) const {
  // A directory is served by its index.html, which is resolved and checked in turn.
  struct stat st {};
  if (::stat(real, &st) == 0 && S_ISDIR(st.st_mode)) {
    char index[PATH_MAX];
    int n = std::snprintf(index, sizeof index, "%s/index.html", real);
    if (n < 0 || static_cast<size_t>(n) >= sizeof index) return fail(req, out, 404, "not found");
    char resolved[PATH_MAX];
    if (::realpath(index, resolved) == nullptr) return fail(req, out, 404, "no index.html");
    if (!inside_root(resolved)) return fail(req, out, 403, "path resolves outside the web root");
    return serve_file(req, resolved, out);
  }
  return serve_file(req, real, out);
}

ServeResult StaticFiles::serve_file(const Request& req, const char* real, Buffer& out) const {
  // O_NOFOLLOW: realpath already resolved every link, so a link here means the tree changed
  // between the two calls. O_NONBLOCK: opening a FIFO must not hang the loop.
  FdGuard fd(::open(real, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK));
  if (fd.get() < 0) return fail(req, out, errno == EACCES ? 403 : 404, "cannot open file");
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) return fail(req, out, 500, "fstat failed");
  if (!S_ISREG(st.st_mode)) return fail(req, out, 403, "not a regular file");
  auto size = static_cast<uint64_t>(st.st_size);
  if (size > max_file_bytes_) return fail(req, out, 500, "file larger than the serving limit");
  ResponseHead head;
  head.content_type = mime_type_for(real);
  head.connection = connection_for(req);
  head.head_only = req.method == "HEAD";
  if (head.head_only) {
    write_head(out, head, size);
    return {200, 0, ""};
  }
  // The head goes to a scratch buffer first, so a failed read leaves `out` untouched and
  // the client gets a clean 500 instead of a 200 with a short body.
  Buffer head_bytes;
  write_head(head_bytes, head, size);
  size_t head_len = head_bytes.readable();
  uint8_t* dst = out.prepare(head_len + size);
  std::memcpy(dst, head_bytes.data(), head_len);
  if (!read_all(fd.get(), dst + head_len, size)) return fail(req, out, 500, "read failed");
  out.commit(head_len + size);
  return {200, size, ""};
}

}  // namespace wsedge::http
