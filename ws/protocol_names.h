// ws/protocol_names.h — the names of the protocol's numbers, for people: opcodes (RFC 6455
// §5.2, §11.8), close codes (§7.4, IANA registry), and each WsError's enumerator and the
// section of the rule it names. The inspector (ws/inspect.h) and the client print them.
// String literals only: no state, any thread.
#pragma once

#include <cstdint>
#include <string_view>

#include "ws/errors.h"

namespace wsedge::ws {

// "continuation", "text", "binary", "close", "ping", "pong", "reserved non-control" (0x3-0x7),
// "reserved control" (0xB-0xF). Only the low 4 bits are read.
std::string_view opcode_name(uint8_t opcode);
// "normal closure", "protocol error", ..., "private use", "not valid on the wire".
std::string_view close_code_name(uint16_t code);
// "kMaskedFrame" and "RFC 6455 §5.1": the enumerator and the section of the rule it names.
std::string_view error_name(WsError e);
std::string_view error_section(WsError e);

}  // namespace wsedge::ws
