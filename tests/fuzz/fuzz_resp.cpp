// Fuzz target: the RESP2 parser (redis/resp.h), bytes as a hostile Redis server sends them.
//
// Input: byte 0 picks small limits or the defaults; the rest is the stream. Invariants: a
// reply either parses (consuming at most the input, its pre-order tree exactly as many
// values as the counts say, every text view inside the input), is incomplete, or fails at
// a byte inside the input. A reply that parses is incomplete at every shorter prefix tried
// (the one just short of it and its half), consuming nothing — the parser keeps no state,
// so whatever a read split is, the reply only appears once it is whole. Re-encoding the
// bulk strings of a flat array as a command parses back to the same strings.
#include <string>
#include <vector>

#include "redis/resp.h"
#include "tests/fuzz/fuzz_check.h"

using namespace wsedge;
using namespace wsedge::redis;
using wsedge::fuzz::Copy;

namespace {

// Walks the value at values[i] and its children; returns the index after them.
size_t walk(const RespReply& r, size_t i, size_t depth, const RespLimits& lim) {
  FUZZ_CHECK(i < r.values.size());
  FUZZ_CHECK(depth <= lim.max_depth);
  const RespValue& v = r.values[i++];
  if (v.type != RespType::kArray) return i;
  FUZZ_CHECK(v.integer >= 0 && static_cast<uint64_t>(v.integer) <= lim.max_array);
  for (int64_t k = 0; k < v.integer; ++k)
    i = walk(r, i, depth + 1, lim);
  return i;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  RespLimits lim;
  if (data[0] & 1) {
    lim.max_line = 16;
    lim.max_bulk = 32;
    lim.max_array = 4;
    lim.max_depth = 3;
    lim.max_values = 12;
  }
  Copy copy({data + 1, size - 1});
  const std::span<const uint8_t> in = copy.view();
  RespReply r;
  const RespResult res = parse_reply(in, &r, lim);
  if (res.status == RespStatus::kError) {
    FUZZ_CHECK(res.error != RespError::kNone);
    FUZZ_CHECK(res.error_offset < in.size());
    return 0;
  }
  if (res.status == RespStatus::kIncomplete) {
    FUZZ_CHECK(res.consumed == 0);
    return 0;
  }
  FUZZ_CHECK(res.consumed > 0 && res.consumed <= in.size());
  FUZZ_CHECK(!r.values.empty() && r.values.size() <= lim.max_values);
  FUZZ_CHECK(walk(r, 0, 0, lim) == r.values.size());
  const char* lo = reinterpret_cast<const char*>(in.data());
  for (const RespValue& v : r.values) {
    if (v.text.empty()) continue;
    FUZZ_CHECK(v.text.data() >= lo && v.text.data() + v.text.size() <= lo + res.consumed);
  }
  for (size_t cut : {res.consumed - 1, res.consumed / 2}) {
    Copy prefix(in.first(cut));
    RespReply again;
    const RespResult p = parse_reply(prefix.view(), &again, lim);
    FUZZ_CHECK(p.status == RespStatus::kIncomplete && p.consumed == 0);
  }
  // A flat array of bulk strings re-encoded as a command parses back to the same strings.
  const RespValue& top = r.top();
  if (top.type == RespType::kArray && static_cast<size_t>(top.integer) + 1 == r.values.size()) {
    std::vector<std::string_view> args;
    bool all_bulk = true;
    for (size_t i = 1; i < r.values.size(); ++i) {
      all_bulk = all_bulk && r.values[i].type == RespType::kBulkString;
      args.push_back(r.values[i].text);
    }
    if (all_bulk) {
      Buffer out;
      encode_command(out, args);
      RespReply back;
      RespLimits roomy;
      const RespResult b = parse_reply(out.view(), &back, roomy);
      FUZZ_CHECK(b.status == RespStatus::kDone && b.consumed == out.readable());
      FUZZ_CHECK(back.values.size() == r.values.size());
      for (size_t i = 1; i < back.values.size(); ++i)
        FUZZ_CHECK(back.values[i].text == r.values[i].text);
    }
  }
  return 0;
}
