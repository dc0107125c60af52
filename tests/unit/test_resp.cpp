// redis/resp: RESP2 replies as tables of bytes and what they parse to, every split of a
// reply (incomplete until its last byte, then the same reply), every rule a hostile server
// can break with the byte it is at, the limits, and commands round-tripping.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "redis/resp.h"

using namespace wsedge;
using namespace wsedge::redis;

namespace {

std::span<const uint8_t> bytes(std::string_view s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

// A value as text, for comparing trees: "+OK", "-ERR x", ":5", "$hello", "$nil",
// "*2[...]", "*nil".
std::string show(const RespReply& r, size_t& i) {
  const RespValue& v = r.values[i++];
  switch (v.type) {
    case RespType::kSimpleString:
      return "+" + std::string(v.text);
    case RespType::kError:
      return "-" + std::string(v.text);
    case RespType::kInteger:
      return ":" + std::to_string(v.integer);
    case RespType::kBulkString:
      return "$" + std::string(v.text);
    case RespType::kNullBulkString:
      return "$nil";
    case RespType::kNullArray:
      return "*nil";
    case RespType::kArray: {
      std::string s = "*" + std::to_string(v.integer) + "[";
      for (int64_t k = 0; k < v.integer; ++k)
        s += (k ? "," : "") + show(r, i);
      return s + "]";
    }
  }
  return "?";
}

std::string show(const RespReply& r) {
  size_t i = 0;
  std::string s = show(r, i);
  CHECK(i == r.values.size());  // nothing left over
  return s;
}

struct Good {
  std::string wire;
  std::string shown;
};

const Good kGood[] = {
    {"+OK\r\n", "+OK"},
    {"+\r\n", "+"},
    {"-ERR unknown command 'FOO'\r\n", "-ERR unknown command 'FOO'"},
    {":0\r\n", ":0"},
    {":-42\r\n", ":-42"},
    {":9223372036854775807\r\n", ":9223372036854775807"},
    {":-9223372036854775808\r\n", ":-9223372036854775808"},
    {"$5\r\nhello\r\n", "$hello"},
    {"$0\r\n\r\n", "$"},
    {std::string("$4\r\na\r\n\0\r\n", 10), std::string("$a\r\n\0", 5)},  // binary-safe
    {"$-1\r\n", "$nil"},
    {"*0\r\n", "*0[]"},
    {"*-1\r\n", "*nil"},
    {"*3\r\n$7\r\nmessage\r\n$4\r\nroom\r\n$2\r\nhi\r\n", "*3[$message,$room,$hi]"},
    {"*3\r\n$9\r\nsubscribe\r\n$4\r\nroom\r\n:1\r\n", "*3[$subscribe,$room,:1]"},
    {"*2\r\n*1\r\n:1\r\n*2\r\n+a\r\n$-1\r\n", "*2[*1[:1],*2[+a,$nil]]"},
};

}  // namespace

TEST_CASE("RESP2: each kind of value, whole, and the bytes after it are left") {
  for (const Good& g : kGood) {
    CAPTURE(g.wire);
    RespReply r;
    const std::string with_more = g.wire + "+next\r\n";
    RespResult res = parse_reply(bytes(with_more), &r);
    REQUIRE(res.status == RespStatus::kDone);
    CHECK(res.consumed == g.wire.size());
    CHECK(show(r) == g.shown);
  }
}

TEST_CASE("RESP2: every prefix of a reply is incomplete, consuming nothing") {
  for (const Good& g : kGood) {
    for (size_t n = 0; n < g.wire.size(); ++n) {
      CAPTURE(g.wire);
      CAPTURE(n);
      RespReply r;
      RespResult res = parse_reply(bytes(std::string_view(g.wire).substr(0, n)), &r);
      CHECK(res.status == RespStatus::kIncomplete);
      CHECK(res.consumed == 0);
    }
  }
}

TEST_CASE("RESP2: each broken rule is an error at the byte that broke it") {
  struct Bad {
    std::string wire;
    RespError error;
    size_t offset;
  };
  const Bad cases[] = {
      {"?x\r\n", RespError::kUnknownType, 0},
      {"*1\r\n!\r\n", RespError::kUnknownType, 4},
      {"+OK\n", RespError::kBareLineEnd, 3},
      {"+O\rK\r\n", RespError::kBareLineEnd, 2},
      {":12a\r\n", RespError::kBadNumber, 3},
      {":\r\n", RespError::kBadNumber, 1},
      {":-\r\n", RespError::kBadNumber, 2},
      {":+5\r\n", RespError::kBadNumber, 1},
      {":9223372036854775808\r\n", RespError::kBadNumber, 1},    // INT64_MAX + 1
      {":12345678901234567890\r\n", RespError::kBadNumber, 20},  // 20 digits
      {"$-2\r\n", RespError::kNegativeLength, 1},
      {"*-5\r\n", RespError::kNegativeLength, 1},
      {"$3\r\nabcX\r\n", RespError::kBulkMissingCrlf, 7},
      {"$ 3\r\nabc\r\n", RespError::kBadNumber, 1},
  };
  for (const Bad& b : cases) {
    CAPTURE(b.wire);
    RespReply r;
    RespResult res = parse_reply(bytes(b.wire), &r);
    REQUIRE(res.status == RespStatus::kError);
    CHECK(res.error == b.error);
    CHECK(res.error_offset == b.offset);
    CHECK(std::string(describe(res.error)).size() > 0);
  }
}

TEST_CASE("RESP2: the limits hold against a server that sends too much") {
  RespLimits lim;
  lim.max_line = 8;
  lim.max_bulk = 10;
  lim.max_array = 3;
  lim.max_depth = 2;
  lim.max_values = 5;
  auto err = [&](std::string_view wire) {
    RespReply r;
    RespResult res = parse_reply(bytes(wire), &r, lim);
    return res.status == RespStatus::kError ? res.error : RespError::kNone;
  };
  CHECK(err("+12345678\r\n") == RespError::kNone);  // exactly max_line
  CHECK(err("+123456789\r\n") == RespError::kLineTooLong);
  CHECK(err("+123456789") == RespError::kLineTooLong);  // known before the line ends
  CHECK(err("$10\r\n0123456789\r\n") == RespError::kNone);
  CHECK(err("$11\r\n") == RespError::kBulkTooLarge);        // from the length, no bytes waited for
  CHECK(err("$999999999\r\n") == RespError::kLineTooLong);  // the length line is a line too
  CHECK(err("*4\r\n") == RespError::kArrayTooLarge);
  CHECK(err("*1\r\n*1\r\n:1\r\n") == RespError::kNone);  // depth 2
  CHECK(err("*1\r\n*1\r\n*1\r\n:1\r\n") == RespError::kTooDeep);
  CHECK(err("*3\r\n*3\r\n:1\r\n:2\r\n:3\r\n:4\r\n") == RespError::kTooManyValues);
  // The defaults: a length past 64 MiB is refused from its digits.
  RespReply r;
  RespResult res = parse_reply(bytes("$99999999999\r\n"), &r);
  CHECK(res.status == RespStatus::kError);
  CHECK(res.error == RespError::kBulkTooLarge);
}

TEST_CASE("RESP2: a command encodes as an array of bulk strings and parses back") {
  const std::string payload("line 1\r\nline 2 \0 binary", 23);
  const std::string_view args[] = {"PUBLISH", "room", payload};
  Buffer out;
  encode_command(out, args);
  const std::string wire(reinterpret_cast<const char*>(out.data()), out.readable());
  CHECK(wire == "*3\r\n$7\r\nPUBLISH\r\n$4\r\nroom\r\n$23\r\n" + payload + "\r\n");
  RespReply r;
  RespResult res = parse_reply(out.view(), &r);
  REQUIRE(res.status == RespStatus::kDone);
  CHECK(res.consumed == wire.size());
  REQUIRE(r.values.size() == 4);
  CHECK(r.values[3].text == payload);
}

TEST_CASE("RESP2: as_message picks out a pub/sub delivery and nothing else") {
  auto parsed = [](std::string_view wire, RespReply& r) {
    REQUIRE(parse_reply(bytes(wire), &r).status == RespStatus::kDone);
  };
  RespReply r;
  std::string_view channel, payload;
  parsed("*3\r\n$7\r\nmessage\r\n$4\r\nroom\r\n$2\r\nhi\r\n", r);
  REQUIRE(as_message(r, &channel, &payload));
  CHECK(channel == "room");
  CHECK(payload == "hi");
  parsed("*3\r\n$9\r\nsubscribe\r\n$4\r\nroom\r\n:1\r\n", r);
  CHECK_FALSE(as_message(r, &channel, &payload));
  parsed("*3\r\n$7\r\nMESSAGE\r\n$4\r\nroom\r\n$2\r\nhi\r\n", r);  // Redis sends lower case
  CHECK_FALSE(as_message(r, &channel, &payload));
  parsed("*2\r\n$7\r\nmessage\r\n$4\r\nroom\r\n", r);
  CHECK_FALSE(as_message(r, &channel, &payload));
  parsed("+OK\r\n", r);
  CHECK_FALSE(as_message(r, &channel, &payload));
}
