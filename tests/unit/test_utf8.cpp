#include <doctest/doctest.h>

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "core/cpu.h"
#include "ws/utf8.h"

using wsedge::SimdLevel;
using wsedge::ws::is_valid_utf8;
using wsedge::ws::utf8_dfa_step;
using wsedge::ws::Utf8Validator;
using Bytes = std::vector<uint8_t>;

namespace {

// Every kernel this CPU can run; the others would be lowered to one of these anyway.
std::vector<SimdLevel> levels() {
  std::vector<SimdLevel> out;
  for (int l = 0; l <= static_cast<int>(wsedge::cpu_simd_support()); ++l) {
    out.push_back(static_cast<SimdLevel>(l));
  }
  return out;
}

Bytes hex(const char* s) {
  Bytes out;
  std::string h(s);
  for (size_t i = 0; i < h.size();) {
    if (h[i] == ' ') {
      ++i;
      continue;
    }
    out.push_back(static_cast<uint8_t>(std::stoi(h.substr(i, 2), nullptr, 16)));
    i += 2;
  }
  return out;
}

Bytes ascii(const std::string& s) {
  return {s.begin(), s.end()};
}

Bytes cat(Bytes a, const Bytes& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

// Independent reference: decodes code points by their bit patterns and checks the ranges
// RFC 3629 forbids, rather than walking its byte table as the validator's DFA does.
bool decode_all(const uint8_t* p, size_t n) {
  size_t i = 0;
  while (i < n) {
    uint8_t b = p[i];
    int len = b < 0x80 ? 1 : (b >> 5) == 0x6 ? 2 : (b >> 4) == 0xE ? 3 : (b >> 3) == 0x1E ? 4 : 0;
    if (len == 0 || i + len > n) return false;
    uint32_t cp = len == 1 ? b : len == 2 ? b & 0x1F : len == 3 ? b & 0x0F : b & 0x07;
    for (int k = 1; k < len; ++k) {
      if ((p[i + k] & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (p[i + k] & 0x3F);
    }
    static const uint32_t kMin[5] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < kMin[len]) return false;                // overlong
    if (cp >= 0xD800 && cp <= 0xDFFF) return false;  // surrogate
    if (cp > 0x10FFFF) return false;                 // beyond Unicode
    i += len;
  }
  return true;
}
bool decode_all(const Bytes& b) {
  return decode_all(b.data(), b.size());
}

// The scalar reference's view: index of the first byte where the prefix stops being
// valid, or n; *complete tells whether it ends between code points.
size_t reference_bad(const Bytes& b, bool* complete) {
  uint8_t s = Utf8Validator::kAccept;
  for (size_t i = 0; i < b.size(); ++i) {
    s = utf8_dfa_step(s, b[i]);
    if (s == Utf8Validator::kReject) {
      *complete = false;
      return i;
    }
  }
  *complete = s == Utf8Validator::kAccept;
  return b.size();
}

struct Case {
  const char* name;
  const char* hex;
  bool valid;
};

// Modelled on autobahn-testsuite section 6 and Markus Kuhn's decoder stress test.
const Case kCases[] = {
    {"empty", "", true},
    {"ascii", "48 65 6C 6C 6F", true},
    {"kosme (Greek)", "CE BA E1 BD B9 CF 83 CE BC CE B5", true},
    {"Hello-mu-eszett", "48 65 6C 6C 6F 2D C2 B5 40 C3 9F C3 B6 C3 A4 C3 BC C3 A0 C3 A1", true},
    {"U+0000", "00", true},
    {"U+007F last 1-byte", "7F", true},
    {"U+0080 first 2-byte", "C2 80", true},
    {"U+07FF last 2-byte", "DF BF", true},
    {"U+0800 first 3-byte", "E0 A0 80", true},
    {"U+D7FF before surrogates", "ED 9F BF", true},
    {"U+E000 after surrogates", "EE 80 80", true},
    {"U+FFFD", "EF BF BD", true},
    {"U+FFFE noncharacter is valid UTF-8", "EF BF BE", true},
    {"U+FFFF last 3-byte", "EF BF BF", true},
    {"U+10000 first 4-byte", "F0 90 80 80", true},
    {"U+40000 F1 lead", "F1 80 80 80", true},
    {"U+FFFFF F3 lead", "F3 BF BF BF", true},
    {"U+100000 F4 lead", "F4 80 80 80", true},
    {"U+10FFFF last code point", "F4 8F BF BF", true},
    {"emoji U+1F600", "F0 9F 98 80", true},
    {"CJK", "E4 B8 AD E6 96 87", true},
    {"U+110000 first beyond", "F4 90 80 80", false},
    {"U+13FFFF", "F4 BF BF BF", false},
    {"U+140000 F5 lead", "F5 80 80 80", false},
    {"U+1FFFFF F7 lead", "F7 BF BF BF", false},
    {"5-byte U+200000", "F8 88 80 80 80", false},
    {"5-byte U+3FFFFFF", "FB BF BF BF BF", false},
    {"6-byte U+4000000", "FC 84 80 80 80 80", false},
    {"6-byte U+7FFFFFFF", "FD BF BF BF BF BF", false},
    {"lone continuation 80", "80", false},
    {"lone continuation BF", "BF", false},
    {"two continuations", "80 BF", false},
    {"three continuations", "80 BF 80", false},
    {"continuation after ascii", "41 80", false},
    {"continuation after 2-byte", "C2 80 80", false},
    {"continuation after 3-byte", "E1 80 80 80", false},
    {"continuation after 4-byte", "F1 80 80 80 80", false},
    {"lonely C0", "C0 20", false},
    {"lonely DF", "DF 20", false},
    {"lonely E0", "E0 20", false},
    {"lonely EF", "EF 20", false},
    {"lonely F0", "F0 20", false},
    {"lonely F7", "F7 20", false},
    {"lonely F8", "F8 20", false},
    {"lonely FC", "FC 20", false},
    {"truncated 2-byte at end", "C2", false},
    {"truncated 3-byte (1 of 3)", "E1", false},
    {"truncated 3-byte (2 of 3)", "E0 A0", false},
    {"truncated 4-byte (1 of 4)", "F0", false},
    {"truncated 4-byte (2 of 4)", "F0 90", false},
    {"truncated 4-byte (3 of 4)", "F4 8F BF", false},
    {"truncated 2-byte then ascii", "C2 41", false},
    {"truncated 3-byte then ascii", "E0 A0 41", false},
    {"truncated 4-byte then ascii", "F0 90 80 41", false},
    {"truncated 3-byte then lead", "E1 80 C2 80", false},
    {"all truncated leads", "C0 E0 80 F0 80 80 F8 80 80 80 FC 80 80 80 80", false},
    {"FE", "FE", false},
    {"FF", "FF", false},
    {"FE FE FF FF", "FE FE FF FF", false},
    {"overlong '/' 2-byte", "C0 AF", false},
    {"overlong '/' 3-byte", "E0 80 AF", false},
    {"overlong '/' 4-byte", "F0 80 80 AF", false},
    {"overlong '/' 5-byte", "F8 80 80 80 AF", false},
    {"overlong '/' 6-byte", "FC 80 80 80 80 AF", false},
    {"max overlong 2-byte U+007F", "C1 BF", false},
    {"max overlong 3-byte U+07FF", "E0 9F BF", false},
    {"max overlong 4-byte U+FFFF", "F0 8F BF BF", false},
    {"overlong NUL 2-byte", "C0 80", false},
    {"overlong NUL 3-byte", "E0 80 80", false},
    {"overlong NUL 4-byte", "F0 80 80 80", false},
    {"surrogate U+D800 first", "ED A0 80", false},
    {"surrogate U+DB7F", "ED AD BF", false},
    {"surrogate U+DB80", "ED AE 80", false},
    {"surrogate U+DBFF", "ED AF BF", false},
    {"surrogate U+DC00", "ED B0 80", false},
    {"surrogate U+DF80", "ED BE 80", false},
    {"surrogate U+DFFF last", "ED BF BF", false},
    {"paired surrogates D800 DC00", "ED A0 80 ED B0 80", false},
    {"paired surrogates DBFF DFFF", "ED AF BF ED BF BF", false},
    {"kosme then surrogate then text",
     "CE BA E1 BD B9 CF 83 CE BC CE B5 ED A0 80 65 64 69 74 65 64", false},
    {"valid then invalid byte", "CE BA E1 BD B9 CF 83 CE BC CE B5 F4 90 80 80 65 64 69 74", false},
};

// Feeds `b` cut into the given pieces; returns the validator's verdict: valid and complete.
bool feed_pieces(SimdLevel level, const Bytes& b, const std::vector<size_t>& cuts) {
  Utf8Validator v(level);
  size_t at = 0;
  bool ok = true;
  for (size_t cut : cuts) {
    ok = v.feed({b.data() + at, cut - at}) && ok;
    at = cut;
  }
  ok = v.feed({b.data() + at, b.size() - at}) && ok;
  CHECK(ok == !v.failed());
  return ok && v.finish();
}

// The verdict and the fail-fast position agree with the reference at `level`, fed whole,
// split in two at every offset, and byte by byte.
void check_everywhere(SimdLevel level, const Bytes& b) {
  bool complete = false;
  const size_t bad = reference_bad(b, &complete);
  const bool valid = bad == b.size() && complete;
  CHECK(is_valid_utf8(b, level) == valid);
  {
    Utf8Validator v(level);
    CHECK(v.feed_prefix(b) == bad);
    CHECK(v.failed() == (bad < b.size()));
  }
  for (size_t cut = 0; cut <= b.size(); ++cut) {
    Utf8Validator v(level);
    size_t first = v.feed_prefix({b.data(), cut});
    if (bad < cut) {
      CHECK(first == bad);  // the piece holding the bad byte reports it
      CHECK(v.failed());
      continue;
    }
    CHECK(first == cut);
    CHECK(v.feed_prefix({b.data() + cut, b.size() - cut}) == bad - cut);
    CHECK(v.finish() == valid);
  }
  Utf8Validator v(level);
  for (size_t i = 0; i < b.size(); ++i) {
    bool ok = v.feed({b.data() + i, 1});
    CHECK(ok == (i < bad));  // fails exactly at the first byte that breaks the prefix
    if (!ok) break;
  }
  CHECK(v.finish() == valid);
}

// Random valid UTF-8 mixing the four lengths, surrogates excluded.
Bytes random_utf8(std::mt19937& rng, size_t len) {
  Bytes out;
  while (out.size() < len) {
    uint32_t cp;
    switch (rng() % 4) {
      case 0:
        cp = rng() % 0x80;
        break;
      case 1:
        cp = 0x80 + rng() % (0x800 - 0x80);
        break;
      case 2:
        cp = 0x800 + rng() % (0x10000 - 0x800);
        break;
      default:
        cp = 0x10000 + rng() % (0x110000 - 0x10000);
        break;
    }
    if (cp >= 0xD800 && cp <= 0xDFFF) continue;
    if (cp < 0x80) {
      out.push_back(static_cast<uint8_t>(cp));
    } else if (cp < 0x800) {
      out.push_back(static_cast<uint8_t>(0xC0 | (cp >> 6)));
      out.push_back(static_cast<uint8_t>(0x80 | (cp & 0x3F)));
    } else if (cp < 0x10000) {
      out.push_back(static_cast<uint8_t>(0xE0 | (cp >> 12)));
      out.push_back(static_cast<uint8_t>(0x80 | ((cp >> 6) & 0x3F)));
      out.push_back(static_cast<uint8_t>(0x80 | (cp & 0x3F)));
    } else {
      out.push_back(static_cast<uint8_t>(0xF0 | (cp >> 18)));
      out.push_back(static_cast<uint8_t>(0x80 | ((cp >> 12) & 0x3F)));
      out.push_back(static_cast<uint8_t>(0x80 | ((cp >> 6) & 0x3F)));
      out.push_back(static_cast<uint8_t>(0x80 | (cp & 0x3F)));
    }
  }
  return out;
}

}  // namespace

TEST_CASE("utf8: the case table agrees with the independent decoder") {
  for (const Case& c : kCases) {
    CAPTURE(c.name);
    CHECK(decode_all(hex(c.hex)) == c.valid);
    bool complete = false;
    Bytes b = hex(c.hex);
    CHECK((reference_bad(b, &complete) == b.size() && complete) == c.valid);
  }
}

TEST_CASE("utf8: every case, every level, whole / split / byte by byte / fail-fast") {
  for (SimdLevel level : levels()) {
    for (const Case& c : kCases) {
      CAPTURE(wsedge::simd_level_name(level));
      CAPTURE(c.name);
      Bytes b = hex(c.hex);
      CHECK(is_valid_utf8(b, level) == c.valid);
      check_everywhere(level, b);
    }
  }
}

TEST_CASE("utf8: cases placed across SIMD block edges, between ASCII or multi-byte text") {
  const size_t kPads[] = {1, 13, 15, 16, 17, 29, 30, 31, 32, 33, 61, 62, 63, 64, 65, 127, 190};
  for (SimdLevel level : levels()) {
    for (const Case& c : kCases) {
      for (size_t pad : kPads) {
        CAPTURE(wsedge::simd_level_name(level));
        CAPTURE(c.name);
        CAPTURE(pad);
        Bytes greek;  // pad bytes of two-byte text, then ASCII to even it out
        while (greek.size() + 2 <= pad)
          greek.insert(greek.end(), {0xCE, 0xBA});
        if (greek.size() < pad) greek.push_back('x');
        for (const Bytes& prefix : {ascii(std::string(pad, 'a')), greek}) {
          Bytes b = cat(cat(prefix, hex(c.hex)), ascii(std::string(70, 'z')));
          CHECK(is_valid_utf8(b, level) == decode_all(b));
          Bytes open = cat(prefix, hex(c.hex));  // the case last: cut sequences stay cut
          check_everywhere(level, open);
        }
      }
    }
  }
}

TEST_CASE("utf8: messages of 0-16 bytes (the short ASCII path) with one non-ASCII byte anywhere") {
  for (SimdLevel level : levels()) {
    for (size_t n = 0; n <= 16; ++n) {
      Bytes ascii(n, 'a');
      CAPTURE(n);
      CHECK(is_valid_utf8(ascii, level));
      check_everywhere(level, ascii);
      for (size_t i = 0; i < n; ++i) {
        for (uint8_t high : {0x80, 0xC3, 0xFF}) {  // stray tail, cut lead, never valid
          Bytes b = ascii;
          b[i] = high;
          CAPTURE(i);
          CAPTURE(static_cast<int>(high));
          CHECK_FALSE(is_valid_utf8(b, level));
          check_everywhere(level, b);
        }
      }
    }
  }
}

TEST_CASE("utf8: failure is sticky, reset starts a new message, finish needs a boundary") {
  for (SimdLevel level : levels()) {
    Utf8Validator v(level);
    CHECK(v.feed(hex("E2 82")));
    CHECK_FALSE(v.finish());  // "€" cut after two of its three bytes
    CHECK(v.feed(hex("AC")));
    CHECK(v.finish());
    CHECK_FALSE(v.feed(hex("41 FF 41")));
    CHECK(v.failed());
    CHECK_FALSE(v.feed(hex("41")));  // sticky
    CHECK_FALSE(v.feed({}));
    CHECK(v.feed_prefix(hex("41")) == 0);
    CHECK_FALSE(v.finish());
    v.reset();
    CHECK(v.feed(hex("41")));
    CHECK(v.finish());
  }
  CHECK(sizeof(Utf8Validator) <= 2);  // one lives in every connection
  CHECK(is_valid_utf8(hex("F0 9F 98 80")));
  CHECK_FALSE(is_valid_utf8(hex("F0 9F 98")));
}

TEST_CASE("utf8: exhaustive 1-, 2- and 3-byte sequences match the independent decoder") {
  for (SimdLevel level : levels()) {
    CAPTURE(wsedge::simd_level_name(level));
    int mismatches = 0;
    uint8_t b[3];
    for (int x = 0; x < 256; ++x) {
      b[0] = static_cast<uint8_t>(x);
      mismatches += is_valid_utf8({b, 1}, level) != decode_all(b, 1);
      for (int y = 0; y < 256; ++y) {
        b[1] = static_cast<uint8_t>(y);
        mismatches += is_valid_utf8({b, 2}, level) != decode_all(b, 2);
        if (x < 0x80 && y < 0x80) continue;  // ASCII pairs: the third byte alone decides
        for (int z = 0; z < 256; ++z) {
          b[2] = static_cast<uint8_t>(z);
          mismatches += is_valid_utf8({b, 3}, level) != decode_all(b, 3);
        }
      }
    }
    CHECK(mismatches == 0);
  }
}

TEST_CASE("utf8: 4-byte sequences, leads F0-F4 exhaustive in the 2nd byte, random rest") {
  std::mt19937 rng(4);
  for (SimdLevel level : levels()) {
    CAPTURE(wsedge::simd_level_name(level));
    int mismatches = 0;
    uint8_t b[4];
    for (int i = 0; i < 400000; ++i) {
      uint32_t r = rng();
      b[0] = i % 2 ? static_cast<uint8_t>(0xE8 + (r & 0x17)) : static_cast<uint8_t>(r);
      b[1] = static_cast<uint8_t>(i % 4 < 2 ? 0x80 + ((r >> 8) & 0x7F) : r >> 8);
      b[2] = static_cast<uint8_t>(i % 3 ? 0x80 + ((r >> 16) & 0x3F) : r >> 16);
      b[3] = static_cast<uint8_t>(i % 5 ? 0x80 + ((r >> 24) & 0x3F) : r >> 24);
      mismatches += is_valid_utf8({b, 4}, level) != decode_all(b, 4);
    }
    for (int lead = 0xF0; lead <= 0xF7; ++lead) {
      for (int second = 0; second < 256; ++second) {
        b[0] = static_cast<uint8_t>(lead);
        b[1] = static_cast<uint8_t>(second);
        b[2] = 0xBF;
        b[3] = 0x80;
        mismatches += is_valid_utf8({b, 4}, level) != decode_all(b, 4);
      }
    }
    CHECK(mismatches == 0);
  }
}

TEST_CASE("utf8: the DFA's prefix verdict matches 'some completion decodes' for 1-3 bytes") {
  // Independent check of the fail-fast position: a prefix is viable iff appending some
  // tail bytes makes it decode. Completions need at most 3 more bytes, and only the
  // first one has a restricted range (after E0, ED, F0, F4), so try each first byte
  // followed by 80s.
  auto viable = [](Bytes p) {
    if (decode_all(p)) return true;
    for (int more = 1; more <= 3; ++more) {
      for (int first = 0x80; first <= 0xBF; ++first) {
        Bytes q = p;
        q.push_back(static_cast<uint8_t>(first));
        for (int k = 1; k < more; ++k)
          q.push_back(0x80);
        if (decode_all(q)) return true;
      }
    }
    return false;
  };
  int mismatches = 0;
  for (int x = 0; x < 256; ++x) {
    for (int y = 0x70; y < 0xC8; ++y) {  // ASCII, every tail, a few leads
      Bytes p = {static_cast<uint8_t>(x), static_cast<uint8_t>(y)};
      bool complete = false;
      mismatches += (reference_bad(p, &complete) == p.size()) != viable(p);
      Bytes one = {static_cast<uint8_t>(x)};
      mismatches += (reference_bad(one, &complete) == 1) != viable(one);
    }
  }
  CHECK(mismatches == 0);
}

TEST_CASE("utf8: every level agrees with the reference on random valid and corrupted text") {
  std::mt19937 rng(20210601);
  for (int iter = 0; iter < 3000; ++iter) {
    Bytes b = random_utf8(rng, rng() % 301);
    if (iter % 2 && !b.empty()) b[rng() % b.size()] = static_cast<uint8_t>(rng());
    if (iter % 7 == 0 && !b.empty()) b.resize(rng() % b.size());  // may cut a code point
    bool complete = false;
    size_t bad = reference_bad(b, &complete);
    CHECK((bad == b.size() && complete) == decode_all(b));
    for (SimdLevel level : levels()) {
      CAPTURE(iter);
      CAPTURE(wsedge::simd_level_name(level));
      Utf8Validator v(level);
      CHECK(v.feed_prefix(b) == bad);
      CHECK(v.finish() == (bad == b.size() && complete));
    }
  }
}

TEST_CASE("utf8: 64 KiB of text with one corrupted byte, every level") {
  std::mt19937 rng(65536);
  for (int iter = 0; iter < 60; ++iter) {
    Bytes b = random_utf8(rng, 65536);
    if (iter % 3 == 0) {  // mostly ASCII with a few euro signs: the ASCII skips run too
      for (auto& c : b)
        c = static_cast<uint8_t>('a' + rng() % 26);
      for (size_t i = rng() % 512; i + 3 < b.size(); i += 3 + rng() % 1024) {
        b[i] = 0xE2, b[i + 1] = 0x82, b[i + 2] = 0xAC;
      }
    }
    if (iter % 4) b[rng() % b.size()] = static_cast<uint8_t>(rng());
    bool complete = false;
    size_t bad = reference_bad(b, &complete);
    for (SimdLevel level : levels()) {
      CAPTURE(iter);
      CAPTURE(wsedge::simd_level_name(level));
      Utf8Validator v(level);
      CHECK(v.feed_prefix(b) == bad);
      CHECK(v.finish() == (bad == b.size() && complete));
    }
  }
}

TEST_CASE("utf8: random text split at every offset, every level") {
  std::mt19937 rng(7);
  for (int iter = 0; iter < 6; ++iter) {
    Bytes b = random_utf8(rng, 200 + rng() % 100);
    if (iter % 2) b[rng() % b.size()] = static_cast<uint8_t>(rng());
    for (SimdLevel level : levels()) {
      CAPTURE(iter);
      CAPTURE(wsedge::simd_level_name(level));
      check_everywhere(level, b);
      CHECK(feed_pieces(level, b, {1, 2, 3, 67, 68, 130}) == decode_all(b));
    }
  }
}
