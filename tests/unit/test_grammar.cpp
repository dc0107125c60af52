// http/grammar: the RFC 9110 pieces every parser shares, checked against the RFC's own lists.
#include <doctest/doctest.h>

#include <string>

#include "http/grammar.h"

using namespace wsedge::http;

TEST_CASE("RFC 9110 §5.6.2: tchar is exactly ALPHA, DIGIT and !#$%&'*+-.^_`|~") {
  const std::string specials = "!#$%&'*+-.^_`|~";
  for (int c = 0; c < 256; ++c) {
    bool alnum = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
    bool special = c != 0 && specials.find(static_cast<char>(c)) != std::string::npos;
    CAPTURE(c);
    CHECK(is_tchar(static_cast<char>(c)) == (alnum || special));
    CHECK(kTchar[static_cast<size_t>(c)] == (alnum || special));
  }
}

TEST_CASE("tokens, OWS, scans and trims") {
  struct Row {
    std::string_view s;
    bool token;
  };
  const Row rows[] = {{"permessage-deflate", true},
                      {"x", true},
                      {"", false},
                      {"a b", false},
                      {"a,b", false},
                      {"\"q\"", false},
                      {"a=b", false},
                      {"~`|^", true},
                      {"caf\xc3\xa9", false},
                      {"a\t", false},
                      {"(x)", false},
                      {"a;b", false}};
  for (const Row& r : rows) {
    CAPTURE(r.s);
    CHECK(is_token(r.s) == r.token);
  }
  CHECK(is_ows(' '));
  CHECK(is_ows('\t'));
  CHECK_FALSE(is_ows('\r'));
  CHECK_FALSE(is_ows('\n'));
  CHECK(skip_ows(" \t x", 0) == 3);
  CHECK(skip_ows("   ", 1) == 3);
  CHECK(scan_token("abc; d", 0) == 3);
  CHECK(scan_token(";abc", 0) == 0);
  CHECK(trim_ows(" \t a b \t") == "a b");
  CHECK(trim_ows(" \t ").empty());
}

TEST_CASE("RFC 3986 §2.1: HEXDIG in either case; ASCII case-insensitive equality") {
  const std::string digits = "0123456789abcdef";
  for (int c = 0; c < 256; ++c) {
    char ch = static_cast<char>(c);
    size_t lower = digits.find(ch >= 'A' && ch <= 'F' ? static_cast<char>(ch + 32) : ch);
    int want = c != 0 && lower != std::string::npos ? static_cast<int>(lower) : -1;
    CAPTURE(c);
    CHECK(hex_value(ch) == want);
  }
  CHECK(iequals("Sec-WebSocket-Key", "sec-websocket-KEY"));
  CHECK_FALSE(iequals("upgrade", "upgrades"));
  CHECK_FALSE(iequals("caf\xc3\xa9", "CAF\xc3\x89"));  // ASCII only: no Unicode folding
  CHECK(ascii_lower('Z') == 'z');
  CHECK(ascii_lower('[') == '[');
}
