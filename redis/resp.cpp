// redis/resp.cpp — the RESP2 parser and command encoder.
#include "redis/resp.h"

#include <algorithm>
#include <charconv>
#include <limits>

namespace wsedge::redis {

const char* describe(RespError e) {
  switch (e) {
    case RespError::kNone:
      return "no error";
    case RespError::kUnknownType:
      return "unknown RESP type byte";
    case RespError::kBareLineEnd:
      return "CR or LF alone in a line";
    case RespError::kBadNumber:
      return "malformed number";
    case RespError::kNegativeLength:
      return "negative length other than -1";
    case RespError::kLineTooLong:
      return "line too long";
    case RespError::kBulkTooLarge:
      return "bulk string over the limit";
    case RespError::kBulkMissingCrlf:
      return "bulk string not followed by CRLF";
    case RespError::kArrayTooLarge:
      return "array over the limit";
    case RespError::kTooDeep:
      return "arrays nested too deep";
    case RespError::kTooManyValues:
      return "reply of too many values";
  }
  return "unknown error";
}

namespace {

class Parser {
 public:
  Parser(std::span<const uint8_t> in, RespReply* out, const RespLimits& limits)
      : begin_(in.data()), end_(in.data() + in.size()), out_(out), limits_(limits) {}

  RespResult run() {
    out_->values.clear();
    const uint8_t* p = begin_;
    Step s = value(p, 0);
    RespResult r;
    if (s == Step::kDone) {
      r.status = RespStatus::kDone;
      r.consumed = static_cast<size_t>(p - begin_);
    } else if (s == Step::kError) {
      r.status = RespStatus::kError;
      r.error = error_;
      r.error_offset = static_cast<size_t>(error_at_ - begin_);
    }
    return r;
  }

 private:
  enum class Step : uint8_t { kIncomplete, kDone, kError };

  Step fail(RespError e, const uint8_t* at) {
    error_ = e;
    error_at_ = at;
    return Step::kError;
  }

  // The line starting at p (after the type byte) up to its CRLF: [p, *line_end), and p
  // moved past the CRLF. A CR or LF inside is an error: RESP2 lines never hold them.
  Step line(const uint8_t*& p, const uint8_t** line_end) {
    // The CR may sit right after max_line bytes; a line that has not ended by then is too
    // long, which is known as soon as that byte is here.
    const size_t scan = std::min(static_cast<size_t>(end_ - p), limits_.max_line + 1);
    const uint8_t* q = p;
    while (q < p + scan && *q != '\r' && *q != '\n')
      ++q;
    if (q == p + scan) {
      if (scan == limits_.max_line + 1) return fail(RespError::kLineTooLong, q - 1);
      return Step::kIncomplete;
    }
    if (*q == '\n') return fail(RespError::kBareLineEnd, q);
    if (q + 1 == end_) return Step::kIncomplete;
    if (q[1] != '\n') return fail(RespError::kBareLineEnd, q);
    *line_end = q;
    p = q + 2;
    return Step::kDone;
  }

  // An optional '-' and 1..19 digits that fit in int64_t.
  Step number(const uint8_t* from, const uint8_t* to, int64_t* out) {
    const uint8_t* q = from;
    const bool negative = q < to && *q == '-';
    if (negative) ++q;
    if (q == to || to - q > 19) return fail(RespError::kBadNumber, q == to ? to : q + 19);
    uint64_t v = 0;
    for (; q < to; ++q) {
      if (*q < '0' || *q > '9') return fail(RespError::kBadNumber, q);
      v = v * 10 + static_cast<uint64_t>(*q - '0');
    }
    const uint64_t max = negative ? uint64_t{1} << 63 : std::numeric_limits<int64_t>::max();
    if (v > max) return fail(RespError::kBadNumber, from);
    *out = negative ? static_cast<int64_t>(0 - v) : static_cast<int64_t>(v);
    return Step::kDone;
  }

  Step value(const uint8_t*& p, size_t depth) {
    if (p == end_) return Step::kIncomplete;
    if (out_->values.size() >= limits_.max_values) return fail(RespError::kTooManyValues, p);
    const uint8_t* at = p;
    const uint8_t type = *p++;
    const uint8_t* text_end = nullptr;
    const uint8_t* text = p;
    switch (type) {
      case '+':
      case '-': {
        if (Step s = line(p, &text_end); s != Step::kDone) return s;
        out_->values.push_back(
            {type == '+' ? RespType::kSimpleString : RespType::kError,
             0,
             {reinterpret_cast<const char*>(text), static_cast<size_t>(text_end - text)}});
        return Step::kDone;
      }
      case ':': {
        if (Step s = line(p, &text_end); s != Step::kDone) return s;
        int64_t v = 0;
        if (Step s = number(text, text_end, &v); s != Step::kDone) return s;
        out_->values.push_back({RespType::kInteger, v, {}});
        return Step::kDone;
      }
      case '$': {
        if (Step s = line(p, &text_end); s != Step::kDone) return s;
        int64_t n = 0;
        if (Step s = number(text, text_end, &n); s != Step::kDone) return s;
        if (n == -1) {
          out_->values.push_back({RespType::kNullBulkString, 0, {}});
          return Step::kDone;
        }
        if (n < -1) return fail(RespError::kNegativeLength, text);
        const auto len = static_cast<uint64_t>(n);
        // Judged from the length alone, before any of the bytes are waited for.
        if (len > limits_.max_bulk) return fail(RespError::kBulkTooLarge, text);
        if (static_cast<uint64_t>(end_ - p) < len + 2) return Step::kIncomplete;
        const uint8_t* data = p;
        p += len;
        if (p[0] != '\r' || p[1] != '\n') return fail(RespError::kBulkMissingCrlf, p);
        p += 2;
        out_->values.push_back(
            {RespType::kBulkString, 0, {reinterpret_cast<const char*>(data), len}});
        return Step::kDone;
      }
      case '*': {
        if (Step s = line(p, &text_end); s != Step::kDone) return s;
        int64_t n = 0;
        if (Step s = number(text, text_end, &n); s != Step::kDone) return s;
        if (n == -1) {
          out_->values.push_back({RespType::kNullArray, 0, {}});
          return Step::kDone;
        }
        if (n < -1) return fail(RespError::kNegativeLength, text);
        if (static_cast<uint64_t>(n) > limits_.max_array)
          return fail(RespError::kArrayTooLarge, text);
        if (depth + 1 > limits_.max_depth) return fail(RespError::kTooDeep, at);
        out_->values.push_back({RespType::kArray, n, {}});
        for (int64_t i = 0; i < n; ++i) {
          if (Step s = value(p, depth + 1); s != Step::kDone) return s;
        }
        return Step::kDone;
      }
      default:
        return fail(RespError::kUnknownType, at);
    }
  }

  const uint8_t* begin_;
  const uint8_t* end_;
  RespReply* out_;
  const RespLimits& limits_;
  RespError error_ = RespError::kNone;
  const uint8_t* error_at_ = nullptr;
};

void append_text(Buffer& out, std::string_view s) {
  out.append({reinterpret_cast<const uint8_t*>(s.data()), s.size()});
}

// "*3\r\n" or "$5\r\n": a type byte, a decimal count, CRLF; no allocation.
void append_count(Buffer& out, char type, size_t n) {
  char line[24];
  line[0] = type;
  char* end = std::to_chars(line + 1, line + sizeof line - 2, n).ptr;
  *end++ = '\r';
  *end++ = '\n';
  append_text(out, {line, static_cast<size_t>(end - line)});
}

}  // namespace

RespResult parse_reply(std::span<const uint8_t> in, RespReply* out, const RespLimits& limits) {
  return Parser(in, out, limits).run();
}

void encode_command(Buffer& out, std::span<const std::string_view> args) {
  append_count(out, '*', args.size());
  for (std::string_view a : args) {
    append_count(out, '$', a.size());
    append_text(out, a);
    append_text(out, "\r\n");
  }
}

bool as_message(const RespReply& r, std::string_view* channel, std::string_view* payload) {
  const std::vector<RespValue>& v = r.values;
  if (v.size() != 4 || v[0].type != RespType::kArray || v[0].integer != 3) return false;
  for (size_t i = 1; i < 4; ++i) {
    if (v[i].type != RespType::kBulkString) return false;
  }
  if (v[1].text != "message") return false;
  *channel = v[2].text;
  *payload = v[3].text;
  return true;
}

}  // namespace wsedge::redis
