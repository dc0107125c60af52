// bench/load/stats.h — what one worker thread counts: messages, bytes, errors, latency.
//
// Each Stats has one writer (its worker thread); the main thread reads it live for the
// progress line and merges all of them at the end. Counters are relaxed atomics written
// with load + store (no lock prefix on the hot path). The first message of each error
// kind is kept for the summary; it is written once, before its count is published.
#pragma once

#include <atomic>
#include <cstdint>
#include <cstdio>
#include <string>

#include "bench/load/histogram.h"

namespace wsedge::load {

enum class ErrorKind : uint8_t {
  kConnect,          // connect() failed: refused, unreachable, no ports
  kHandshake,        // not a valid 101 (RFC 6455 §4.1)
  kMismatch,         // echo bytes differ from what was sent, or wrong length/opcode
  kUnexpectedClose,  // EOF or a close frame while messages were expected
  kReset,            // read/write error (ECONNRESET, EPIPE)
  kProtocol,         // a server frame breaking RFC 6455 (masked, bad opcode, RSV bits)
  kTimeout,          // connect, handshake or close handshake took too long
  kTls,              // the TLS handshake failed or the TLS stream broke (wss://)
};
inline constexpr int kErrorKinds = 8;

inline const char* error_kind_name(ErrorKind k) {
  switch (k) {
    case ErrorKind::kConnect:
      return "connect";
    case ErrorKind::kHandshake:
      return "handshake";
    case ErrorKind::kMismatch:
      return "mismatch";
    case ErrorKind::kUnexpectedClose:
      return "unexpected_close";
    case ErrorKind::kReset:
      return "reset";
    case ErrorKind::kProtocol:
      return "protocol";
    case ErrorKind::kTimeout:
      return "timeout";
    case ErrorKind::kTls:
      return "tls";
  }
  return "?";
}

class Counter {
 public:
  void add(uint64_t n) { v_.store(v_.load(std::memory_order_relaxed) + n, kRelaxed); }
  uint64_t get() const { return v_.load(kRelaxed); }

 private:
  static constexpr auto kRelaxed = std::memory_order_relaxed;
  std::atomic<uint64_t> v_{0};
};

struct Stats {
  Counter messages_total;   // completed messages (or handshake cycles), warm-up included
  Counter messages_window;  // completed inside the measured window
  Counter connected;        // connections that finished their opening handshake
  Counter settled;          // connections that opened or failed for good (start-up barrier)
  // permessage-deflate (--deflate), over the whole run, on connections that agreed it only.
  // "Wire" bytes are frame payload bytes as they crossed the socket (headers excluded).
  Counter deflate_agreed;             // opening handshakes that agreed permessage-deflate
  Counter deflate_sent;               // messages sent (all compressed once agreed)
  Counter deflate_sent_bytes;         // their payload bytes before compression
  Counter deflate_sent_wire;          // ... and after
  Counter deflate_echoes;             // echoes received, compressed or not
  Counter deflate_echoes_compressed;  // of which RSV1 was set (inflated, then verified)
  Counter deflate_echo_bytes;         // echo payload bytes after inflating
  Counter deflate_echo_wire;          // ... and as received
  // wss://: TLS handshakes done in full and by resuming a session (--tls-resume), and the
  // version and cipher of the first one (written once, before its count is published).
  Counter tls_full;
  Counter tls_resumed;
  char tls_version[16] = {};
  char tls_cipher[64] = {};
  // A setup error no run can measure past (the certificate was refused): the main thread
  // stops the run and exits 2. The text is written once, before the flag is set.
  std::atomic<bool> setup_failed{false};
  char setup_error[200] = {};
  Counter errors[kErrorKinds];
  char first_error[kErrorKinds][160] = {};
  Histogram latency;

  void error(ErrorKind k, const char* fmt_detail, long long a = 0, long long b = 0) {
    auto i = static_cast<size_t>(k);
    if (errors[i].get() == 0)
      std::snprintf(first_error[i], sizeof first_error[i], fmt_detail, a, b);
    errors[i].add(1);
  }
  // The same, with a ready-made text (an OpenSSL reason) instead of a format.
  void error_text(ErrorKind k, const char* prefix, const std::string& text) {
    auto i = static_cast<size_t>(k);
    if (errors[i].get() == 0)
      std::snprintf(first_error[i], sizeof first_error[i], "%s%s", prefix, text.c_str());
    errors[i].add(1);
  }
  void setup_failure(const std::string& text) {
    if (setup_failed.load(std::memory_order_relaxed)) return;
    std::snprintf(setup_error, sizeof setup_error, "%s", text.c_str());
    setup_failed.store(true, std::memory_order_release);
  }
  void tls_done(bool resumed, const char* version, const char* cipher) {
    if (tls_full.get() + tls_resumed.get() == 0) {
      std::snprintf(tls_version, sizeof tls_version, "%s", version ? version : "?");
      std::snprintf(tls_cipher, sizeof tls_cipher, "%s", cipher ? cipher : "?");
    }
    (resumed ? tls_resumed : tls_full).add(1);
  }
  uint64_t error_total() const {
    uint64_t n = 0;
    for (const auto& e : errors)
      n += e.get();
    return n;
  }
};

}  // namespace wsedge::load
