// http/grammar.h — the RFC 9110 grammar pieces every parser in wsedge shares.
//
// The request-head parser, the Sec-WebSocket-Extensions parser, static files and the apps
// all read the same few productions: tokens (§5.6.2), optional whitespace (§5.6.3),
// comma-separated lists (§5.6.1), case-insensitive ASCII comparison, and the hex digits of
// a percent-encoding (RFC 3986 §2.1). One definition each, here. Pure, header-mostly,
// allocation-free; any thread.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace wsedge::http {

// A byte table: DIGIT, ALPHA and the `extra` characters are true (the shape of tchar, and of
// the character sets parsers derive from it).
constexpr std::array<bool, 256> make_alnum_table(std::string_view extra) {
  std::array<bool, 256> t{};
  for (int c = '0'; c <= '9'; ++c)
    t[c] = true;
  for (int c = 'a'; c <= 'z'; ++c)
    t[c] = true;
  for (int c = 'A'; c <= 'Z'; ++c)
    t[c] = true;
  for (char c : extra)
    t[static_cast<uint8_t>(c)] = true;
  return t;
}

// tchar (RFC 9110 §5.6.2): "!#$%&'*+-.^_`|~", DIGIT, ALPHA. Indexed by byte, for scanners.
inline constexpr std::array<bool, 256> kTchar = make_alnum_table("!#$%&'*+-.^_`|~");

constexpr bool is_tchar(char c) {
  return kTchar[static_cast<uint8_t>(c)];
}
// token = 1*tchar (RFC 9110 §5.6.2).
constexpr bool is_token(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (!is_tchar(c)) return false;
  }
  return true;
}
// OWS = *( SP / HTAB ) (RFC 9110 §5.6.3).
constexpr bool is_ows(char c) {
  return c == ' ' || c == '\t';
}
// The index of the first non-OWS character at or after i (s.size() when none).
constexpr size_t skip_ows(std::string_view s, size_t i) {
  while (i < s.size() && is_ows(s[i]))
    ++i;
  return i;
}
// The end of the token starting at i (== i when there is none).
constexpr size_t scan_token(std::string_view s, size_t i) {
  while (i < s.size() && is_tchar(s[i]))
    ++i;
  return i;
}
constexpr std::string_view trim_ows(std::string_view s) {
  while (!s.empty() && is_ows(s.front()))
    s.remove_prefix(1);
  while (!s.empty() && is_ows(s.back()))
    s.remove_suffix(1);
  return s;
}
constexpr bool is_alpha(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}
constexpr char ascii_lower(char c) {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c;
}
// HEXDIG (RFC 3986 §2.1, either case): its value, or -1.
constexpr int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// ASCII case-insensitive equality (field names, tokens, schemes: RFC 9110 §5.1, §5.6.2).
bool iequals(std::string_view a, std::string_view b);

// Pops the next element of a comma-separated list (RFC 9110 §5.6.1) from *list, OWS
// trimmed; empty elements are skipped. Returns false when the list is exhausted. Commas
// inside quoted strings are not special here: callers whose elements may hold them
// (Sec-WebSocket-Extensions) scan with the quotes in mind.
bool next_list_element(std::string_view* list, std::string_view* element);

}  // namespace wsedge::http
