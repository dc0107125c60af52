#include "core/exposition.h"

#include <cassert>
#include <cinttypes>
#include <cmath>
#include <cstdio>
#include <cstdlib>

namespace wsedge::prom {
namespace {

bool name_char(char c, bool first, bool colon) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_') return true;
  if (c == ':') return colon;
  return !first && c >= '0' && c <= '9';
}

bool valid_name(std::string_view name, bool colon) {
  if (name.empty()) return false;
  for (size_t i = 0; i < name.size(); ++i) {
    if (!name_char(name[i], i == 0, colon)) return false;
  }
  return true;
}

// Go's strconv.ParseFloat reads what Prometheus parses: "+Inf", "-Inf", "NaN" and
// decimal floats. %.17g always reads back exactly; shorter forms are tried first so
// 0.25 is written "0.25", not "0.25000000000000000".
void format_double(double v, char* buf, size_t size) {
  if (std::isnan(v)) {
    std::snprintf(buf, size, "NaN");
    return;
  }
  if (std::isinf(v)) {
    std::snprintf(buf, size, v > 0 ? "+Inf" : "-Inf");
    return;
  }
  for (int precision = 6; precision <= 17; ++precision) {
    std::snprintf(buf, size, "%.*g", precision, v);
    if (std::strtod(buf, nullptr) == v) return;
  }
}

}  // namespace

bool valid_metric_name(std::string_view name) {
  return valid_name(name, true);
}

bool valid_label_name(std::string_view name) {
  return valid_name(name, false);
}

void append_label_value(Buffer& out, std::string_view value) {
  size_t run = 0;  // bytes copied as they are, appended in one piece
  for (size_t i = 0; i < value.size(); ++i) {
    const char c = value[i];
    const char* escaped = c == '\\' ? "\\\\" : c == '"' ? "\\\"" : c == '\n' ? "\\n" : nullptr;
    if (escaped == nullptr) continue;
    out.append(value.data() + run, i - run);
    out.append(escaped, 2);
    run = i + 1;
  }
  out.append(value.data() + run, value.size() - run);
}

void append_help_text(Buffer& out, std::string_view text) {
  size_t run = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c != '\\' && c != '\n') continue;
    out.append(text.data() + run, i - run);
    out.append(c == '\\' ? "\\\\" : "\\n", 2);
    run = i + 1;
  }
  out.append(text.data() + run, text.size() - run);
}

void Writer::family(std::string_view name, Type type, std::string_view help) {
  assert(valid_metric_name(name));
  text("# HELP ");
  text(name);
  text(" ");
  append_help_text(out_, help);
  text("\n# TYPE ");
  text(name);
  text(type == Type::kCounter ? " counter\n" : type == Type::kGauge ? " gauge\n" : " histogram\n");
}

void Writer::begin_sample(std::string_view name, std::span<const Label> labels,
                          const Label* extra) {
  text(name);
  if (labels.empty() && extra == nullptr) {
    text(" ");
    return;
  }
  char sep = '{';
  auto one = [&](const Label& l) {
    assert(valid_label_name(l.name));
    out_.append(&sep, 1);
    text(l.name);
    text("=\"");
    append_label_value(out_, l.value);
    text("\"");
    sep = ',';
  };
  for (const Label& l : labels)
    one(l);
  if (extra != nullptr) one(*extra);
  text("} ");
}

void Writer::sample(std::string_view name, std::span<const Label> labels, uint64_t value) {
  begin_sample(name, labels);
  char buf[24];
  int n = std::snprintf(buf, sizeof buf, "%" PRIu64 "\n", value);
  out_.append(buf, static_cast<size_t>(n));
}

void Writer::sample(std::string_view name, std::span<const Label> labels, double value) {
  begin_sample(name, labels);
  char buf[40];
  format_double(value, buf, sizeof buf);
  text(buf);
  text("\n");
}

void Writer::histogram(std::string_view name, std::span<const double> bounds,
                       std::span<const uint64_t> counts, double sum) {
  assert(counts.size() == bounds.size() + 1);
  // name_bucket, name_sum, name_count: built once in a small stack buffer.
  char bucket[96], tail[96];
  std::snprintf(bucket, sizeof bucket, "%.*s_bucket", static_cast<int>(name.size()), name.data());
  uint64_t cumulative = 0;
  char le[40];
  for (size_t i = 0; i <= bounds.size(); ++i) {
    cumulative += counts[i];
    if (i < bounds.size()) {
      format_double(bounds[i], le, sizeof le);
    } else {
      std::snprintf(le, sizeof le, "+Inf");
    }
    const Label label{"le", le};
    begin_sample(bucket, {}, &label);
    char buf[24];
    int n = std::snprintf(buf, sizeof buf, "%" PRIu64 "\n", cumulative);
    out_.append(buf, static_cast<size_t>(n));
  }
  std::snprintf(tail, sizeof tail, "%.*s_sum", static_cast<int>(name.size()), name.data());
  const std::span<const Label> none;
  sample(tail, none, sum);
  std::snprintf(tail, sizeof tail, "%.*s_count", static_cast<int>(name.size()), name.data());
  sample(tail, none, cumulative);
}

}  // namespace wsedge::prom
