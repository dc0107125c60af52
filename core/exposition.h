// core/exposition.h — writes metrics in the Prometheus text exposition format, 0.0.4.
//
// The format (prometheus.io/docs/instrumenting/exposition_formats, "Text-based format"):
// one family is a "# HELP name text" and a "# TYPE name counter|gauge|histogram" line
// followed by its samples, "name{label="value",...} number", one per line, LF-terminated.
// Appends to the caller's Buffer and nothing else: no I/O, no clock, no state between
// calls beyond the Buffer. Names and label names are ours (checked in debug builds);
// label values may be anything (a subprotocol a client chose) and are escaped.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <span>
#include <string_view>

#include "core/buffer.h"

namespace wsedge::prom {

inline constexpr std::string_view kContentType = "text/plain; version=0.0.4; charset=utf-8";

enum class Type : uint8_t { kCounter, kGauge, kHistogram };

struct Label {
  std::string_view name;
  std::string_view value;
};

// A label value as the format quotes it: backslash, double quote and line feed become
// \\, \" and \n; every other byte is copied as it is (the format is UTF-8 text).
void append_label_value(Buffer& out, std::string_view value);
// HELP text escapes only backslash and line feed (a double quote is itself there).
void append_help_text(Buffer& out, std::string_view text);
// [a-zA-Z_:][a-zA-Z0-9_:]* for metric names; label names may not contain ':'.
bool valid_metric_name(std::string_view name);
bool valid_label_name(std::string_view name);

class Writer {
 public:
  explicit Writer(Buffer& out) : out_(out) {}

  // The two comment lines that open a family; every sample of it follows.
  void family(std::string_view name, Type type, std::string_view help);
  void sample(std::string_view name, std::initializer_list<Label> labels, uint64_t value) {
    sample(name, std::span<const Label>(labels.begin(), labels.size()), value);
  }
  void sample(std::string_view name, std::span<const Label> labels, uint64_t value);
  // Values that are not integers (seconds): the shortest decimal that reads back the same.
  void sample(std::string_view name, std::span<const Label> labels, double value);
  // A whole histogram family's samples: `counts[i]` observations fell at or below
  // `bounds[i]` and above bounds[i-1] (not cumulative; this writes them cumulated), and
  // counts[bounds.size()] above the last bound. Writes name_bucket{le=...} for each
  // bound and le="+Inf", then name_sum and name_count (= the +Inf bucket).
  void histogram(std::string_view name, std::span<const double> bounds,
                 std::span<const uint64_t> counts, double sum);

 private:
  void begin_sample(std::string_view name, std::span<const Label> labels,
                    const Label* extra = nullptr);
  void text(std::string_view s) { out_.append(s.data(), s.size()); }
  Buffer& out_;
};

}  // namespace wsedge::prom
