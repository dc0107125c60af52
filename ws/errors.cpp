#include "ws/errors.h"

#include <string>

#include "ws/close_code.h"

namespace wsedge::ws {
namespace {

// Indexed by WsError; the order must follow the enum (checked by the test that every
// error has a distinct, non-empty description).
constexpr const char* kDescriptions[] = {
    "no error",
    "reserved bit set without a negotiated extension",
    "reserved opcode",
    "client frame not masked",
    "server frame masked",
    "control frame payload longer than 125 bytes",
    "fragmented control frame",
    "payload length not minimally encoded",
    "64-bit payload length with the most significant bit set",
    "continuation frame without a message to continue",
    "new data frame inside a fragmented message",
    "RSV1 set on a continuation frame",
    "RSV1 set on a control frame",
    "message too big",
    "invalid UTF-8",
    "close payload of one byte",
    "invalid close code",
    "compressed payload does not inflate",
};
constexpr size_t kErrorCount = static_cast<size_t>(WsError::kBadCompressedData) + 1;
static_assert(sizeof(kDescriptions) / sizeof(kDescriptions[0]) == kErrorCount,
              "one description per WsError");

constexpr bool all_fit_close_reason() {
  for (const char* d : kDescriptions) {
    if (std::char_traits<char>::length(d) > 123) return false;
  }
  return true;
}
// RFC 6455 §5.5: a close reason shares the 125-byte control payload with a 2-byte code.
static_assert(all_fit_close_reason(), "descriptions are used as close reasons");

}  // namespace

uint16_t close_code_for(WsError e) {
  switch (e) {
    case WsError::kNone:
      return close_code::kNormal;
    // RFC 6455 §8.1: invalid UTF-8 in a text message fails the connection with 1007.
    case WsError::kInvalidUtf8:
    case WsError::kBadCompressedData:
      return close_code::kInvalidPayload;
    // RFC 6455 §7.4.1: 1009, a message too big to process.
    case WsError::kMessageTooBig:
      return close_code::kMessageTooBig;
    default:
      return close_code::kProtocolError;
  }
}

const char* describe(WsError e) {
  auto i = static_cast<size_t>(e);
  return i < kErrorCount ? kDescriptions[i] : "unknown error";
}

}  // namespace wsedge::ws
