// core/log.h — leveled logging to stderr.
//
// One global level, set once at start-up (--log-level). A disabled level costs one
// comparison: the WSEDGE_LOG macro checks before any formatting happens. Lines look like
//   2026-11-23T10:00:00.123Z warn  listener: accept4: Too many open files
// Not for the hot path at info or below; nothing in the pure parsers logs at all.
#pragma once

#include <string_view>

namespace wsedge {

enum class LogLevel { kTrace = 0, kDebug, kInfo, kWarn, kError, kOff };

LogLevel log_level();
void set_log_level(LogLevel level);
// Parses "trace|debug|info|warn|error|off"; false for anything else.
bool parse_log_level(std::string_view name, LogLevel* out);
const char* log_level_name(LogLevel level);

// printf-style; appends the newline. Writes with a single write(2) so lines from
// different threads do not interleave.
void log_write(LogLevel level, const char* fmt, ...) __attribute__((format(printf, 2, 3)));

}  // namespace wsedge

#define WSEDGE_LOG(level, ...)                                     \
  do {                                                             \
    if (::wsedge::LogLevel::level >= ::wsedge::log_level())        \
      ::wsedge::log_write(::wsedge::LogLevel::level, __VA_ARGS__); \
  } while (0)
