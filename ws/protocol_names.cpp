#include "ws/protocol_names.h"

#include <iterator>

#include "ws/close_code.h"

namespace wsedge::ws {

std::string_view opcode_name(uint8_t opcode) {
  // RFC 6455 §5.2 and §11.8: six opcodes defined; 0x3-0x7 are reserved for further
  // non-control frames, 0xB-0xF for further control frames.
  static constexpr std::string_view kNames[16] = {"continuation",
                                                  "text",
                                                  "binary",
                                                  "reserved non-control",
                                                  "reserved non-control",
                                                  "reserved non-control",
                                                  "reserved non-control",
                                                  "reserved non-control",
                                                  "close",
                                                  "ping",
                                                  "pong",
                                                  "reserved control",
                                                  "reserved control",
                                                  "reserved control",
                                                  "reserved control",
                                                  "reserved control"};
  return kNames[opcode & 0x0F];
}

std::string_view close_code_name(uint16_t code) {
  // RFC 6455 §7.4.1 and the IANA registry (1012-1014); §7.4.2 for the ranges.
  static constexpr std::string_view kNames[] = {
      "normal closure",   "going away",         "protocol error",      "unsupported data",
      "reserved",         "no status received", "abnormal closure",    "invalid payload data",
      "policy violation", "message too big",    "mandatory extension", "internal error",
      "service restart",  "try again later",    "bad gateway",         "TLS handshake failure"};
  if (code >= close_code::kNormal && code <= close_code::kTlsHandshake)
    return kNames[code - close_code::kNormal];
  if (code >= 3000 && code <= 3999) return "registered (libraries, frameworks)";
  if (code >= 4000 && code <= 4999) return "private use";
  if (code >= 1016 && code <= 2999) return "reserved for the RFCs";
  return "not valid on the wire";
}

namespace {
// Indexed by WsError: the enumerator's name and the section of the rule it names.
struct ErrorInfo {
  std::string_view name, section;
};
constexpr ErrorInfo kErrors[] = {
    {"kNone", "no rule"},
    {"kReservedBits", "RFC 6455 §5.2"},
    {"kReservedOpcode", "RFC 6455 §5.2"},
    {"kUnmaskedFrame", "RFC 6455 §5.1"},
    {"kMaskedFrame", "RFC 6455 §5.1"},
    {"kControlTooLong", "RFC 6455 §5.5"},
    {"kControlFragmented", "RFC 6455 §5.5"},
    {"kNonMinimalLength", "RFC 6455 §5.2"},
    {"kLengthTopBit", "RFC 6455 §5.2"},
    {"kUnexpectedContinuation", "RFC 6455 §5.4"},
    {"kExpectedContinuation", "RFC 6455 §5.4"},
    {"kCompressedContinuation", "RFC 7692 §6.1"},
    {"kCompressedControl", "RFC 7692 §6.1"},
    {"kMessageTooBig", "RFC 6455 §10.4"},
    {"kInvalidUtf8", "RFC 6455 §8.1"},
    {"kBadClosePayload", "RFC 6455 §5.5.1"},
    {"kBadCloseCode", "RFC 6455 §7.4.1"},
    {"kBadCompressedData", "RFC 7692 §7.2.2"},
};
static_assert(std::size(kErrors) == static_cast<size_t>(WsError::kBadCompressedData) + 1,
              "one row per WsError, in enum order");
constexpr ErrorInfo kUnknownError{"unknown", "unknown"};

const ErrorInfo& error_info(WsError e) {
  const auto i = static_cast<size_t>(e);
  return i < std::size(kErrors) ? kErrors[i] : kUnknownError;
}
}  // namespace

std::string_view error_name(WsError e) {
  return error_info(e).name;
}

std::string_view error_section(WsError e) {
  return error_info(e).section;
}

}  // namespace wsedge::ws
