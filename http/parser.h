// http/parser.h — incremental, zero-copy parser for an HTTP/1.1 request head (RFC 9112).
//
// Pure: a byte span in, {status, consumed} out; no I/O, no clock, no logging, no heap.
// Every string_view in Request points into the caller's input span, so the input must
// outlive the Request. Re-parse from the start when more bytes arrive: the parser reads
// only in[0, min(size, limits.max_head_bytes)) and never past in.size(), and it rejects as
// soon as the bytes seen prove an error. Any thread; no shared state.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

#include "http/errors.h"
#include "http/grammar.h"

namespace wsedge::http {

// Capacity of Request::headers; ParseLimits::max_headers is clamped to it.
inline constexpr size_t kMaxHeaders = 100;

struct ParseLimits {
  size_t max_head_bytes = 8192;    // request line + headers + final CRLF CRLF; over: 431
  size_t max_headers = 100;        // header lines; over: 431
  size_t max_request_line = 4096;  // request line without its CRLF; over: 414
};

// The same three names as ws::DecodeStatus: every pure parser in wsedge answers with them.
enum class ParseStatus : uint8_t { kIncomplete, kDone, kError };

struct ParseResult {
  ParseStatus status = ParseStatus::kIncomplete;
  size_t consumed = 0;  // kDone: bytes of the head, incl. leading empty lines and CRLF CRLF
  // kError: the rule broken; status_for() is the answer's status (400, 414, 431 or 505),
  // describe() its text. kNone otherwise.
  HttpError error = HttpError::kNone;
  size_t error_offset = 0;  // kError: offset in the input of the offending byte
};

struct Header {
  std::string_view name;   // a token, case as sent
  std::string_view value;  // leading and trailing OWS removed
};

struct Request {
  std::string_view method;  // a token, case-sensitive (RFC 9110 §9.1)
  std::string_view target;  // as sent
  // The target's path ("/" when an absolute-form target has none) and query (after the
  // first '?', without it; empty when absent). RFC 9112 §3.2: origin-form ("/p?q"),
  // absolute-form ("http://host:port/p?q", RFC 6455 §4.2.1 allows it for the handshake),
  // or "*" (asterisk-form, path "*"). Any other form is refused with 400.
  std::string_view path;
  std::string_view query;
  // Absolute-form only: the target's authority, which stands for Host (RFC 9112 §3.2.2).
  std::string_view authority;
  int version_minor = 1;  // 0 or 1 (HTTP/1.2+ is handled as 1.1, RFC 9110 §2.5)
  std::array<Header, kMaxHeaders> headers;
  size_t num_headers = 0;
  bool has_content_length = false;
  uint64_t content_length = 0;  // valid when has_content_length
  bool chunked = false;         // Transfer-Encoding ends in "chunked"
  // The whole head as received, request line to the blank line: set by HttpSession for an
  // upgrade (the server's --trace shows it), empty otherwise. parse_request leaves it.
  std::string_view raw_head;
  // With HttpOptions::note_head_reads, for an upgrade: how many of the head's bytes had
  // arrived after each read that left it incomplete (a head in one read: empty).
  std::span<const uint32_t> head_reads;

  std::span<const Header> header_list() const { return {headers.data(), num_headers}; }
  // The authority the client meant: an absolute-form target's, else the Host header's
  // (RFC 9112 §3.2.2: an origin server MUST ignore Host when the target carries one).
  std::string_view host() const { return authority.empty() ? header("host") : authority; }
  // First value of the header named `name` (case-insensitive); empty when absent.
  std::string_view header(std::string_view name) const;
  bool has_header(std::string_view name) const { return header_count(name) > 0; }
  size_t header_count(std::string_view name) const;
  // True when any `name` header, read as a comma-separated list, holds `token`
  // (case-insensitive), e.g. "Connection: keep-alive, Upgrade" holds "upgrade".
  bool header_has_token(std::string_view name, std::string_view token) const;
  // HTTP/1.1: persistent unless "Connection: close"; HTTP/1.0 only with "keep-alive"
  // (RFC 9112 §9.3).
  bool keep_alive() const;
  bool has_body() const { return chunked || (has_content_length && content_length > 0); }
};

// Parses one request head from the start of `in`. kIncomplete: feed more bytes and call
// again with the whole head so far. kDone: `out` is filled and in[consumed..] is the body
// or the next pipelined request. kError: answer status_for(error) and close the connection.
ParseResult parse_request(std::span<const uint8_t> in, Request* out,
                          const ParseLimits& limits = {});

// next_list_element() and iequals() are http/grammar.h's (included above).

namespace detail {
// Offset of the first byte in [p, end) that is a control character (< 0x20 or 0x7F,
// HTAB, CR and LF included), or end - p when none. SIMD where the CPU has it; the scalar
// version is the reference the tests compare it against.
size_t find_ctl(const uint8_t* p, const uint8_t* end);
size_t find_ctl_scalar(const uint8_t* p, const uint8_t* end);
// Offset of the first byte in [p, end) outside VCHAR 0x21..0x7E, or end - p when none.
size_t find_non_vchar(const uint8_t* p, const uint8_t* end);
size_t find_non_vchar_scalar(const uint8_t* p, const uint8_t* end);
}  // namespace detail

}  // namespace wsedge::http
