// apps/text.h — small text helpers the demo routes share: query parameters, JSON strings,
// UTF-8 repair and the --exec command line.
//
// Pure functions on caller-owned strings: no I/O, no global state, any thread. Inputs come
// from the network (query strings, chat messages, a child's output) and may be anything:
// every function is total and never reads past its input.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace wsedge::app {

// The value of `name` in an application/x-www-form-urlencoded query ("a=1&b=x%20y"),
// percent-decoded, '+' read as a space. The first occurrence wins. Returns false when the
// name is absent (a present but empty value returns true with *value empty).
bool query_param(std::string_view query, std::string_view name, std::string* value);

// Appends `s` as a JSON string literal (RFC 8259 §7), quotes included. `s` must be valid
// UTF-8 (see repair_utf8); control characters are escaped.
void append_json_string(std::string& out, std::string_view s);

// Reads the string member `key` of the JSON object in `json` (RFC 8259) into *value,
// unescaped (\uXXXX and surrogate pairs become UTF-8). Other members are skipped whatever
// their type. False when `json` is not one object, `key` is missing or not a string.
bool json_string_member(std::string_view json, std::string_view key, std::string* value);

// `bytes` with every ill-formed UTF-8 sequence replaced by U+FFFD (RFC 3629), so it may go
// out in a text frame (RFC 6455 §8.1: a text message must be valid UTF-8).
std::string repair_utf8(std::string_view bytes);

// The largest n <= max such that s[0, n) does not end inside a multi-byte character.
size_t utf8_prefix(std::string_view s, size_t max);

// A display name or room name from the network: control characters dropped, surrounding
// blanks trimmed, at most `max_bytes` bytes (cut at a character boundary), valid UTF-8.
std::string clean_label(std::string_view raw, size_t max_bytes);

// Splits "CMD ARGS..." into argv words the way a person expects without running a shell:
// blanks separate words, '...' and "..." group (no expansion inside), a backslash outside
// single quotes takes the next character literally. False (and *error set) on an
// unterminated quote or an empty command.
bool split_command(std::string_view line, std::vector<std::string>* argv, std::string* error);

// Constant-time equality for secrets (the time taken does not depend on where they differ).
bool secret_equal(std::string_view a, std::string_view b);

}  // namespace wsedge::app
