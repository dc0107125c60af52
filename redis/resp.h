// redis/resp.h — RESP2, the Redis serialization protocol, as a pure codec.
//
// The backplane (issue 14) talks to redis-server over one TCP connection: commands go out
// as arrays of bulk strings, replies and pub/sub messages come back as RESP2 values. This
// file is only the byte format, with no I/O: parse_reply() takes the bytes received so far
// and returns one reply, or kIncomplete (nothing consumed: call again with more bytes
// behind), or an error naming the rule broken; encode_command() writes a command.
//
// RESP2 (redis.io "Redis serialization protocol specification"): every value starts with
// a type byte and its first line ends in CRLF.
//   +OK\r\n                    simple string (no CR or LF inside)
//   -ERR message\r\n           error
//   :1000\r\n                  integer (signed 64-bit)
//   $5\r\nhello\r\n            bulk string: a length, then that many bytes, then CRLF
//   $-1\r\n                    the null bulk string
//   *2\r\n...two values...     array: a count, then that many values (nested)
//   *-1\r\n                    the null array
// A pub/sub message is the array ["message", channel, payload] of bulk strings.
//
// Everything a server sends is checked as if it were hostile: lengths are digits only and
// bounded (RespLimits), arrays nest to a bounded depth and hold a bounded number of values,
// so a reply can never make us hold more than the limits say. Zero-copy: the text of a
// value is a view into the input. The parser keeps no state between calls; a reply that is
// incomplete is parsed again from its start when more bytes come (a bulk string's
// remaining length is checked in O(1), so a large payload in many reads costs little).
// Any thread; no heap except RespReply's value list, reused across replies.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "core/buffer.h"

namespace wsedge::redis {

enum class RespType : uint8_t {
  kSimpleString,
  kError,
  kInteger,
  kBulkString,
  kNullBulkString,
  kArray,
  kNullArray,
};

enum class RespError : uint8_t {
  kNone = 0,
  kUnknownType,      // the first byte of a value is none of + - : $ *
  kBareLineEnd,      // a CR not followed by LF, or an LF without CR, in a line
  kBadNumber,        // a length or integer that is not an optional '-' and 1..19 digits
  kNegativeLength,   // a length below -1 (only -1, the null value, is negative)
  kLineTooLong,      // a simple string, error or number line past max_line
  kBulkTooLarge,     // a bulk string longer than max_bulk
  kBulkMissingCrlf,  // a bulk string's bytes not followed by CRLF
  kArrayTooLarge,    // an array of more than max_array values
  kTooDeep,          // arrays nested deeper than max_depth
  kTooManyValues,    // one reply of more than max_values values in all
};
const char* describe(RespError e);

struct RespLimits {
  size_t max_line = 64 * 1024;    // a simple string or error line, CRLF excluded
  size_t max_bulk = 64ull << 20;  // one bulk string (a published message: the server's
                                  // --max-message-size is the real bound)
  size_t max_array = 1024;        // values in one array
  size_t max_depth = 8;           // nested arrays
  size_t max_values = 4096;       // values in one reply, all levels
};

// One value. An array is followed, in RespReply::values, by its `count` children (each
// with its own children after it): pre-order, so a flat array of bulk strings is simply
// values[1 .. count].
struct RespValue {
  RespType type = RespType::kNullBulkString;
  int64_t integer = 0;    // kInteger; kArray: the count of children
  std::string_view text;  // kSimpleString, kError, kBulkString: a view into the input
};

struct RespReply {
  std::vector<RespValue> values;  // values[0] is the reply; empty before the first parse
  const RespValue& top() const { return values.front(); }
};

enum class RespStatus : uint8_t { kIncomplete, kDone, kError };

struct RespResult {
  RespStatus status = RespStatus::kIncomplete;
  size_t consumed = 0;  // kDone: the reply's bytes
  RespError error = RespError::kNone;
  size_t error_offset = 0;  // kError: the byte of `in` that broke the rule
};

// The reply at the front of `in` into `out` (cleared first). The views in `out` point into
// `in` and live as long as it does.
RespResult parse_reply(std::span<const uint8_t> in, RespReply* out, const RespLimits& limits = {});

// A command as RESP2 sends it: an array of bulk strings, e.g. {"PUBLISH", topic, payload}.
void encode_command(Buffer& out, std::span<const std::string_view> args);

// ["message", channel, payload] (a pub/sub delivery): channel and payload, else false.
bool as_message(const RespReply& r, std::string_view* channel, std::string_view* payload);

}  // namespace wsedge::redis
