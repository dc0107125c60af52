#include "core/result.h"

#include <cstdio>
#include <cstring>

namespace wsedge {

const char* describe(const Error& e, char* buf, size_t len) {
  if (e.sys_errno != 0) {
    std::snprintf(buf, len, "%s: %s", e.what, std::strerror(e.sys_errno));
  } else {
    std::snprintf(buf, len, "%s", e.what);
  }
  return buf;
}

}  // namespace wsedge
