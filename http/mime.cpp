#include "http/mime.h"

#include "http/parser.h"

namespace wsedge::http {

namespace {

struct MimeEntry {
  std::string_view ext;
  std::string_view type;
};

constexpr MimeEntry kTypes[] = {
    {"html", "text/html; charset=utf-8"},
    {"htm", "text/html; charset=utf-8"},
    {"css", "text/css; charset=utf-8"},
    // RFC 9239: text/javascript is the one media type for JavaScript, modules included.
    {"js", "text/javascript; charset=utf-8"},
    {"mjs", "text/javascript; charset=utf-8"},
    {"json", "application/json"},
    {"map", "application/json"},
    {"svg", "image/svg+xml"},
    {"png", "image/png"},
    {"jpg", "image/jpeg"},
    {"jpeg", "image/jpeg"},
    {"gif", "image/gif"},
    {"webp", "image/webp"},
    {"ico", "image/x-icon"},
    {"txt", "text/plain; charset=utf-8"},
    // Browsers refuse WebAssembly.instantiateStreaming without exactly this type.
    {"wasm", "application/wasm"},
    {"woff2", "font/woff2"},
};

}  // namespace

std::string_view mime_type_for(std::string_view path) {
  size_t slash = path.rfind('/');
  std::string_view name = slash == std::string_view::npos ? path : path.substr(slash + 1);
  size_t dot = name.rfind('.');
  if (dot != std::string_view::npos) {
    std::string_view ext = name.substr(dot + 1);
    for (const MimeEntry& e : kTypes) {
      if (iequals(e.ext, ext)) return e.type;
    }
  }
  return "application/octet-stream";
}

}  // namespace wsedge::http
