#include "apps/client/verdict.h"

#include "ws/close_code.h"
#include "ws/protocol_names.h"

namespace wsedge::client {
namespace {

// The status the WebSocket connection alone earns, with the lines that say why it failed.
int websocket_status(const Outcome& o, std::vector<std::string>* lines) {
  if (o.protocol_failed) return kExitFailed;  // the event already said which rule broke
  const size_t before = lines->size();
  lines->insert(lines->end(), o.failures.begin(), o.failures.end());
  if (o.tls_truncated && !(o.close_sent && o.close_received)) {
    // RFC 8446 §6.1: without close_notify the data may have been cut short by anyone on the
    // path, and no Close frame vouches for the end either.
    lines->push_back(
        "TLS stream ended without close_notify (truncation) before the close handshake "
        "completed (RFC 8446 §6.1)");
  }
  if (lines->size() == before && !o.close_received)
    lines->push_back("the connection closed without a Close frame (1006, abnormal closure)");
  if (lines->size() != before) return kExitFailed;
  if (o.expect_missing) {
    lines->push_back("--expect: the connection closed before \"" + o.next_expect + "\"");
    return kExitFailed;
  }
  const uint16_t c = o.peer_code;
  if (c == ws::close_code::kNormal || c == ws::close_code::kGoingAway ||
      c == ws::close_code::kNoStatus || (o.we_started_close && c == o.sent_code))
    return kExitClean;
  lines->push_back("the server closed with " + std::to_string(c) + " (" +
                   std::string(ws::close_code_name(c)) + ")");
  return kExitFailed;
}

}  // namespace

Verdict judge(const Outcome& o) {
  Verdict v;
  if (o.interrupts >= 2) {
    v.status = kExitInterrupted;
    v.lines.push_back("interrupted again: quitting without waiting for the server");
    return v;
  }
  if (o.tls_truncated && o.close_sent && o.close_received) {
    // Both Close frames vouch for the end of the data (RFC 6455 §7.1.2), so a missing
    // close_notify after them is worth a warning, not a failure.
    v.lines.push_back(
        "warning: TLS stream ended without close_notify (truncation, RFC 8446 §6.1) after "
        "the close handshake");
  }
  v.status = websocket_status(o, &v.lines);
  if (o.interrupts == 1) {
    // Interrupted, whatever the close did: a script must not take the run for a pass.
    if (v.status == kExitClean) v.lines.push_back("interrupted: the close handshake completed");
    v.status = kExitInterrupted;
  }
  return v;
}

}  // namespace wsedge::client
