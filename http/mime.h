// http/mime.h — Content-Type for a file name, by its extension.
//
// A fixed table (no /etc/mime.types lookup, so answers do not depend on the host). Text
// types carry "; charset=utf-8". Returns string literals; any thread.
#pragma once

#include <string_view>

namespace wsedge::http {

// The media type for `path`'s extension (case-insensitive); "application/octet-stream"
// when the extension is unknown or absent.
std::string_view mime_type_for(std::string_view path);

}  // namespace wsedge::http
