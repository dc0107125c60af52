// apps/client/commands.h — what a line typed into wsedge-client means, and /raw's frame bytes.
//
// parse_command() reads one stdin line (without its newline) into a Command: a text message,
// or one of the slash commands. encode_raw() writes a frame with exactly the header bits the
// user asked for, legal or not, so a learner can break the protocol on purpose and watch the
// server's answer. Pure: no I/O; the masking key comes from the caller.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "ws/mask.h"

namespace wsedge::client {

// /raw FIN=0 RSV1=1 OP=0x3 MASK=1 KEY=01020304 LEN=5 FORM=16 PAYLOAD=48656c6c6f
struct RawFrame {
  bool fin = true, rsv1 = false, rsv2 = false, rsv3 = false;
  uint8_t opcode = 0x1;
  bool masked = true;  // a client's frames are masked (RFC 6455 §5.1); MASK=0 breaks that
  bool has_key = false;
  ws::MaskKey key{};
  bool has_length = false;  // LEN= given: the header announces it, whatever PAYLOAD holds
  uint64_t length = 0;
  int form = 0;  // 0: the minimal length form; 7, 16 or 64 to force one (§5.2)
  std::vector<uint8_t> payload;
};

enum class CommandKind : uint8_t {
  kText,      // text: the line itself (or after "//": the line without its first "/")
  kBinary,    // bytes
  kPing,      // text: the ping's data
  kClose,     // code (1005: none) and text: the reason
  kFragment,  // fragments pieces of text
  kRaw,       // raw
  kHelp,
  kError,  // error: why the line is refused (nothing is sent)
};

struct Command {
  CommandKind kind = CommandKind::kText;
  std::string text;
  std::vector<uint8_t> bytes;
  uint16_t code = 1000;
  unsigned fragments = 1;
  RawFrame raw;
  std::string error;
};

inline constexpr unsigned kMaxFragments = 1024;

Command parse_command(std::string_view line);

// Hex digits, optionally separated by spaces or colons, into bytes; false when not hex or odd.
bool parse_hex(std::string_view hex, std::vector<uint8_t>* out);

// The frame /raw asked for, masked with raw.key if given, else with `fresh_key`.
std::vector<uint8_t> encode_raw(const RawFrame& raw, ws::MaskKey fresh_key);

const char* command_help();

}  // namespace wsedge::client
