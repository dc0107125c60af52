// apps/client/verdict.h — wsedge-client's exit status, decided from how the run ended.
//
// The loop (apps/client/run.cpp) fills an Outcome when it is over; judge() turns it into the
// exit status and the lines to print ("wsedge-client: ..."), in order. Pure: no I/O, so every
// row of docs/client.md's exit status table is a unit test (tests/unit/test_client.cpp).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace wsedge::client {

inline constexpr int kExitClean = 0;          // the close handshake completed, with a good code
inline constexpr int kExitFailed = 1;         // anything else that went wrong
inline constexpr int kExitUsage = 2;          // a bad command line
inline constexpr int kExitInterrupted = 130;  // Ctrl-C: 128 + SIGINT, as a shell reports it

struct Outcome {
  bool protocol_failed = false;       // the session failed the connection; its event said why
  std::vector<std::string> failures;  // other reasons the run failed, in the order they came
  bool close_sent = false, close_received = false;
  bool we_started_close = false;  // our Close went out before the server's arrived
  uint16_t sent_code = 0, peer_code = 0;
  bool expect_missing = false;  // an --expect had not arrived when the connection closed
  std::string next_expect;      // that text, escaped for printing
  bool tls_truncated = false;   // TLS ended without close_notify (RFC 8446 §6.1)
  int interrupts = 0;           // Ctrl-Cs seen: 1 closes politely, 2 quits at once
};

struct Verdict {
  int status = kExitClean;
  std::vector<std::string> lines;
};

Verdict judge(const Outcome& o);

}  // namespace wsedge::client
