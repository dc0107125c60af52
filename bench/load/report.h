// bench/load/report.h — CPU and RSS sampling, the progress line, the summary, the JSON.
//
// CPU: wsload's own from getrusage(RUSAGE_SELF) (µs resolution, all threads); the
// server's from /proc/PID/stat utime/stime (clock ticks, 10 ms on Debian). RSS from
// /proc/PID/status VmRSS. Printing is main-thread only; the Summary is a plain value
// computed once after the workers have stopped.
#pragma once

#include <sys/resource.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>

#include "bench/load/histogram.h"
#include "bench/load/options.h"
#include "bench/load/stats.h"

namespace wsedge::load {

struct CpuSample {
  double user_us = 0, sys_us = 0;
  bool ok = false;
};

inline CpuSample self_cpu() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  auto us = [](const timeval& tv) { return tv.tv_sec * 1e6 + static_cast<double>(tv.tv_usec); };
  return {us(ru.ru_utime), us(ru.ru_stime), true};
}

// utime and stime are fields 14 and 15 of /proc/PID/stat; the command (field 2) may hold
// spaces and parentheses, so fields are counted from the last ')'.
inline CpuSample proc_cpu(int pid) {
  char path[64], buf[1024];
  std::snprintf(path, sizeof path, "/proc/%d/stat", pid);
  FILE* f = std::fopen(path, "r");
  if (!f) return {};
  size_t n = std::fread(buf, 1, sizeof buf - 1, f);
  std::fclose(f);
  buf[n] = '\0';
  const char* p = std::strrchr(buf, ')');
  unsigned long long ut = 0, st = 0;
  if (!p ||
      std::sscanf(p + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2)
    return {};
  const double us_per_tick = 1e6 / static_cast<double>(sysconf(_SC_CLK_TCK));
  return {static_cast<double>(ut) * us_per_tick, static_cast<double>(st) * us_per_tick, true};
}

// VmRSS in bytes; -1 when unreadable.
inline long long proc_rss(int pid) {
  char path[64], line[256];
  std::snprintf(path, sizeof path, "/proc/%d/status", pid);
  FILE* f = std::fopen(path, "r");
  if (!f) return -1;
  long long kb = -1;
  while (std::fgets(line, sizeof line, f))
    if (std::sscanf(line, "VmRSS: %lld kB", &kb) == 1) break;
  std::fclose(f);
  return kb < 0 ? -1 : kb * 1024;
}

struct Summary {
  const Options* opt = nullptr;
  uint64_t messages = 0;  // in the window (connect mode: completed cycles)
  uint64_t connected = 0;
  uint64_t errors = 0;
  uint64_t error_kinds[kErrorKinds] = {};
  double p50 = 0, p90 = 0, p99 = 0, p999 = 0, max = 0, mean = 0;  // µs
  CpuSample client, server;                                       // deltas over the window
  long long rss_per_conn = -1;
  // --deflate, summed over the run (Stats::deflate_*).
  uint64_t deflate_agreed = 0, deflate_sent = 0, deflate_sent_bytes = 0, deflate_sent_wire = 0;
  uint64_t deflate_echoes = 0, deflate_echoes_compressed = 0, deflate_echo_bytes = 0,
           deflate_echo_wire = 0;

  // wss://, summed over the run: handshakes in full and resumed; the first one's version.
  uint64_t tls_full = 0, tls_resumed = 0;
  std::string tls_version, tls_cipher;

  double msgs_per_s() const { return static_cast<double>(messages) / opt->duration_s; }
  double mb_per_s() const { return msgs_per_s() * static_cast<double>(opt->size) / 1e6; }
  double per_msg(double us) const { return messages ? us / static_cast<double>(messages) : 0; }
  double cpu_ratio() const {
    double s = server.user_us + server.sys_us;
    return s > 0 ? (client.user_us + client.sys_us) / s : 0;
  }
  // Wire bytes / message bytes: below 1 is what compression saved. 0 when nothing moved.
  static double ratio(uint64_t wire, uint64_t message) {
    return message ? static_cast<double>(wire) / static_cast<double>(message) : 0;
  }
};

inline void fill_latency(Summary& s, const Histogram& h) {
  s.p50 = static_cast<double>(h.percentile(0.50)) / 1e3;
  s.p90 = static_cast<double>(h.percentile(0.90)) / 1e3;
  s.p99 = static_cast<double>(h.percentile(0.99)) / 1e3;
  s.p999 = static_cast<double>(h.percentile(0.999)) / 1e3;
  s.max = static_cast<double>(h.max()) / 1e3;
  s.mean = h.mean() / 1e3;
}

inline void print_human(const Summary& s, FILE* out) {
  const Options& o = *s.opt;
  std::fprintf(out,
               "wsload %s %s%s: %d connections, %d in flight, %llu B %s, %d thread%s, "
               "%.3g s after %.3g s warm-up\n",
               mode_name(o.mode), o.url.c_str(),
               o.raw ? (o.tls.enabled ? " (raw TLS)" : " (raw TCP)") : "", o.connections,
               o.inflight, static_cast<unsigned long long>(o.size), o.binary ? "binary" : "text",
               o.threads, o.threads == 1 ? "" : "s", o.duration_s, o.warmup_s);
  const char* unit = o.mode == Mode::kConnect ? "handshakes" : "msgs";
  std::fprintf(out, "  %-10s %llu in the window: %.1f %s/s, %.3f MB/s\n", unit,
               static_cast<unsigned long long>(s.messages), s.msgs_per_s(), unit, s.mb_per_s());
  if (o.mode == Mode::kRate)
    std::fprintf(out, "  rate       target %.1f msgs/s, achieved %.1f\n", o.rate, s.msgs_per_s());
  std::fprintf(out,
               "  latency    p50 %.1f µs  p90 %.1f  p99 %.1f  p99.9 %.1f  max %.1f  "
               "mean %.1f%s\n",
               s.p50, s.p90, s.p99, s.p999, s.max, s.mean,
               o.mode == Mode::kIdle ? "  (opening handshake)" : "");
  if (s.messages > 0) {  // idle mode, or nothing got through: no per-message cost
    std::fprintf(out, "  client CPU per msg: %.2f µs (user %.2f, sys %.2f)",
                 s.per_msg(s.client.user_us + s.client.sys_us), s.per_msg(s.client.user_us),
                 s.per_msg(s.client.sys_us));
    if (s.server.ok)
      std::fprintf(out, "; server: %.2f µs (user %.2f, sys %.2f); client/server %.2f",
                   s.per_msg(s.server.user_us + s.server.sys_us), s.per_msg(s.server.user_us),
                   s.per_msg(s.server.sys_us), s.cpu_ratio());
    std::fprintf(out, "\n");
  }
  if (s.rss_per_conn >= 0)
    std::fprintf(out, "  server RSS per connection: %lld bytes (%llu connected)\n", s.rss_per_conn,
                 static_cast<unsigned long long>(s.connected));
  if (o.deflate) {
    std::fprintf(out, "  deflate    agreed on %llu connection%s",
                 static_cast<unsigned long long>(s.deflate_agreed),
                 s.deflate_agreed == 1 ? "" : "s");
    if (s.deflate_agreed > 0)
      std::fprintf(out,
                   "; sent %llu msgs, wire/payload %.3f; %llu of %llu echoes compressed, "
                   "wire/payload %.3f (whole run)",
                   static_cast<unsigned long long>(s.deflate_sent),
                   Summary::ratio(s.deflate_sent_wire, s.deflate_sent_bytes),
                   static_cast<unsigned long long>(s.deflate_echoes_compressed),
                   static_cast<unsigned long long>(s.deflate_echoes),
                   Summary::ratio(s.deflate_echo_wire, s.deflate_echo_bytes));
    std::fprintf(out, "\n");
  }
  if (o.tls.enabled)
    std::fprintf(out, "  tls        %s %s; %llu handshakes in full, %llu resumed (whole run)\n",
                 s.tls_version.empty() ? "-" : s.tls_version.c_str(),
                 s.tls_cipher.empty() ? "-" : s.tls_cipher.c_str(),
                 static_cast<unsigned long long>(s.tls_full),
                 static_cast<unsigned long long>(s.tls_resumed));
  std::fprintf(out, "  errors     %llu\n", static_cast<unsigned long long>(s.errors));
}

inline void print_json(const Summary& s, FILE* out) {
  const Options& o = *s.opt;
  std::string url;
  for (char c : o.url) {  // a URL literal has no control characters; escape the JSON pair
    if (c == '"' || c == '\\') url += '\\';
    url += c;
  }
  std::fprintf(out,
               "{\"mode\":\"%s\",\"url\":\"%s\",\"connections\":%d,\"inflight\":%d,"
               "\"size\":%llu,\"binary\":%s,\"threads\":%d,\"duration_s\":%.3f,",
               mode_name(o.mode), url.c_str(), o.connections, o.inflight,
               static_cast<unsigned long long>(o.size), o.binary ? "true" : "false", o.threads,
               o.duration_s);
  std::fprintf(out,
               "\"messages\":%llu,\"msgs_per_s\":%.1f,\"mb_per_s\":%.3f,\"connected\":%llu,"
               "\"errors\":%llu,\"error_kinds\":{",
               static_cast<unsigned long long>(s.messages), s.msgs_per_s(), s.mb_per_s(),
               static_cast<unsigned long long>(s.connected),
               static_cast<unsigned long long>(s.errors));
  const char* sep = "";
  for (int k = 0; k < kErrorKinds; ++k) {
    if (s.error_kinds[k] == 0) continue;
    std::fprintf(out, "%s\"%s\":%llu", sep, error_kind_name(static_cast<ErrorKind>(k)),
                 static_cast<unsigned long long>(s.error_kinds[k]));
    sep = ",";
  }
  std::fprintf(out,
               "},\"latency_us\":{\"p50\":%.2f,\"p90\":%.2f,\"p99\":%.2f,\"p999\":%.2f,"
               "\"max\":%.2f,\"mean\":%.2f},",
               s.p50, s.p90, s.p99, s.p999, s.max, s.mean);
  std::fprintf(out, "\"client_cpu_us_per_msg\":{\"user\":%.3f,\"sys\":%.3f}",
               s.per_msg(s.client.user_us), s.per_msg(s.client.sys_us));
  if (s.server.ok)
    std::fprintf(out,
                 ",\"server_cpu_us_per_msg\":{\"user\":%.3f,\"sys\":%.3f},"
                 "\"cpu_ratio\":%.3f",
                 s.per_msg(s.server.user_us), s.per_msg(s.server.sys_us), s.cpu_ratio());
  std::fprintf(out, ",\"send_mode\":\"%s\",\"read_size\":%llu",
               o.send_mode == SendMode::kSingle ? "single" : "gather",
               static_cast<unsigned long long>(o.read_size));
  if (o.mode == Mode::kConnect) std::fprintf(out, ",\"handshakes_per_s\":%.1f", s.msgs_per_s());
  if (o.mode == Mode::kIdle && s.rss_per_conn >= 0)
    std::fprintf(out, ",\"rss_per_conn_bytes\":%lld", s.rss_per_conn);
  if (o.mode == Mode::kRate)
    std::fprintf(out, ",\"target_rate\":%.1f,\"achieved_rate\":%.1f", o.rate, s.msgs_per_s());
  if (o.deflate) {
    auto u = [](uint64_t v) { return static_cast<unsigned long long>(v); };
    std::fprintf(out,
                 ",\"deflate\":{\"agreed\":%llu,\"sent\":%llu,\"sent_bytes\":%llu,"
                 "\"sent_wire_bytes\":%llu,\"sent_ratio\":%.4f,\"echoes\":%llu,"
                 "\"echoes_compressed\":%llu,\"echo_bytes\":%llu,\"echo_wire_bytes\":%llu,"
                 "\"echo_ratio\":%.4f}",
                 u(s.deflate_agreed), u(s.deflate_sent), u(s.deflate_sent_bytes),
                 u(s.deflate_sent_wire), Summary::ratio(s.deflate_sent_wire, s.deflate_sent_bytes),
                 u(s.deflate_echoes), u(s.deflate_echoes_compressed), u(s.deflate_echo_bytes),
                 u(s.deflate_echo_wire), Summary::ratio(s.deflate_echo_wire, s.deflate_echo_bytes));
  }
  if (o.tls.enabled)
    std::fprintf(
        out, ",\"tls\":{\"version\":\"%s\",\"cipher\":\"%s\",\"full\":%llu,\"resumed\":%llu}",
        s.tls_version.c_str(), s.tls_cipher.c_str(), static_cast<unsigned long long>(s.tls_full),
        static_cast<unsigned long long>(s.tls_resumed));
  std::fprintf(out, "}\n");
}

}  // namespace wsedge::load
