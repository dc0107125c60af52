// Fuzz target: the HTTP/1.1 request-head parser (http/parser.h).
//
// Input: byte 0 picks the limits (the defaults, or small ones so 414/431 are reachable), the
// rest is the bytes a client sent. Invariants, beyond "no crash, no over-read":
// - kDone: consumed <= size, the head ends in CRLF CRLF, every view points into the head,
//   names are tokens, values have no OWS at either end; the head alone parses the same.
// - kError: a named rule, an HTTP status the contract names, a one-line text, offset <= size.
// - every prefix is kIncomplete or the same verdict (re-parsing as bytes arrive is safe);
//   prefixes shorter than a done head are kIncomplete.
// - the SIMD scanners agree with their scalar references.
#include <algorithm>
#include <cstring>
#include <vector>

#include "http/parser.h"
#include "tests/fuzz/fuzz_check.h"

using namespace wsedge;
using wsedge::fuzz::Copy;
using wsedge::fuzz::points_into;
using wsedge::fuzz::Window;

namespace {

http::ParseLimits pick_limits(uint8_t b) {
  http::ParseLimits l;
  if ((b & 1) == 0) return l;
  l.max_head_bytes = 16 + (b >> 1);    // 16..143
  l.max_request_line = 8 + (b >> 3);   // 8..39
  l.max_headers = 1 + ((b >> 1) & 7);  // 1..8
  return l;
}

bool same(const http::ParseResult& a, const http::ParseResult& b) {
  return a.status == b.status && a.consumed == b.consumed && a.error == b.error &&
         a.error_offset == b.error_offset;
}

bool is_tchar(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
         (c != '\0' && std::strchr("!#$%&'*+-.^_`|~", c) != nullptr);
}
bool is_token(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (!is_tchar(c)) return false;
  }
  return true;
}
bool is_ows(char c) {
  return c == ' ' || c == '\t';
}

void check_done(std::span<const uint8_t> in, const http::Request& req, const http::ParseResult& r,
                const http::ParseLimits& limits) {
  FUZZ_CHECK(r.consumed >= 4 && r.consumed <= in.size());
  FUZZ_CHECK(r.consumed <= limits.max_head_bytes);
  FUZZ_CHECK(std::memcmp(in.data() + r.consumed - 4, "\r\n\r\n", 4) == 0);
  const std::span<const uint8_t> head = in.first(r.consumed);
  FUZZ_CHECK(is_token(req.method) && points_into(req.method, head));
  FUZZ_CHECK(!req.target.empty() && points_into(req.target, head));
  // RFC 9112 §3.2: origin-form is the path (and query) itself; absolute-form carries an
  // authority (Host's characters, never empty, so never userinfo) and then the path, which
  // is "/" when the target has none; "*" is its own path.
  if (req.authority.empty()) {
    FUZZ_CHECK(req.target == "*" || req.target.front() == '/');
    FUZZ_CHECK(req.target.starts_with(req.path));
  } else {
    FUZZ_CHECK(points_into(req.authority, head) &&
               req.target.find("://") != std::string_view::npos);
    FUZZ_CHECK(req.authority.find_first_of("@/?# ") == std::string_view::npos);
    FUZZ_CHECK(req.host() == req.authority);
    FUZZ_CHECK(req.path == "/" || (req.path.front() == '/' && points_into(req.path, head)));
  }
  FUZZ_CHECK(!req.path.empty());
  FUZZ_CHECK(req.version_minor == 0 || req.version_minor == 1);
  FUZZ_CHECK(req.num_headers <= std::min(limits.max_headers, http::kMaxHeaders));
  for (const http::Header& h : req.header_list()) {
    FUZZ_CHECK(is_token(h.name) && points_into(h.name, head) && points_into(h.value, head));
    FUZZ_CHECK(h.value.empty() || (!is_ows(h.value.front()) && !is_ows(h.value.back())));
    for (char c : h.value) {
      const auto u = static_cast<uint8_t>(c);
      FUZZ_CHECK(u == '\t' || (u >= 0x20 && u != 0x7F));  // RFC 9110 §5.5
    }
  }
  // RFC 9112 §3.2: an HTTP/1.1 request has exactly one Host.
  // RFC 9112 §3.2: at most one Host, and exactly one in HTTP/1.1.
  FUZZ_CHECK(req.header_count("host") <= 1);
  if (req.version_minor == 1) FUZZ_CHECK(req.header_count("host") == 1);
  FUZZ_CHECK(!(req.chunked && req.has_content_length));  // RFC 9112 §6.3 (3)
  FUZZ_CHECK(req.has_body() == (req.chunked || req.content_length > 0));
  (void)req.keep_alive();
}

// The head alone, in a block of its own, gives the same result with the same views' text.
void check_reparse(std::span<const uint8_t> in, const http::Request& req,
                   const http::ParseResult& r, const http::ParseLimits& limits) {
  Copy head(in.first(r.consumed));
  http::Request again;
  http::ParseResult r2 = http::parse_request(head.view(), &again, limits);
  FUZZ_CHECK(same(r, r2));
  FUZZ_CHECK(again.method == req.method && again.target == req.target);
  FUZZ_CHECK(again.num_headers == req.num_headers);
  for (size_t i = 0; i < req.num_headers; ++i) {
    FUZZ_CHECK(again.headers[i].name == req.headers[i].name);
    FUZZ_CHECK(again.headers[i].value == req.headers[i].value);
  }
  FUZZ_CHECK(again.content_length == req.content_length && again.chunked == req.chunked);
}

// Prefixes: all of them for short inputs; otherwise 16 spread over the input and those
// around the verdict's offset, where an off-by-one would show.
void check_prefixes(std::span<const uint8_t> in, const http::ParseResult& whole,
                    const http::ParseLimits& limits) {
  const size_t n = in.size();
  const size_t step = n <= 64 ? 1 : n / 16;
  const size_t at = whole.status == http::ParseStatus::kDone ? whole.consumed : whole.error_offset;
  std::vector<size_t> ks;
  for (size_t k = 0; k < n; k += step)
    ks.push_back(k);
  for (size_t k = at > 2 ? at - 2 : 0; k < std::min(n, at + 3); ++k)
    ks.push_back(k);
  static Window guard;
  http::Request req;
  for (size_t k : ks) {
    http::ParseResult r = http::parse_request(guard.place(in.first(k)), &req, limits);
    if (whole.status == http::ParseStatus::kDone && k < whole.consumed) {
      FUZZ_CHECK(r.status == http::ParseStatus::kIncomplete);
    } else if (r.status != http::ParseStatus::kIncomplete) {
      FUZZ_CHECK(same(r, whole));
    }
  }
}

void check_scanners(std::span<const uint8_t> in) {
  const uint8_t* b = in.data();
  const uint8_t* e = b + in.size();
  for (size_t off = 0; off < std::min<size_t>(in.size(), 16); ++off) {
    FUZZ_CHECK(http::detail::find_ctl(b + off, e) == http::detail::find_ctl_scalar(b + off, e));
    FUZZ_CHECK(http::detail::find_non_vchar(b + off, e) ==
               http::detail::find_non_vchar_scalar(b + off, e));
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const http::ParseLimits limits = pick_limits(data[0]);
  const std::span<const uint8_t> in(data + 1, size - 1);
  http::Request req;
  const http::ParseResult r = http::parse_request(in, &req, limits);
  FUZZ_CHECK((r.status == http::ParseStatus::kError) == (r.error != http::HttpError::kNone));
  switch (r.status) {
    case http::ParseStatus::kDone:
      check_done(in, req, r, limits);
      check_reparse(in, req, r, limits);
      break;
    case http::ParseStatus::kError: {
      FUZZ_CHECK(r.error != http::HttpError::kNone);
      const int s = http::status_for(r.error);
      FUZZ_CHECK(s == 400 || s == 414 || s == 431 || s == 505);
      const char* text = http::describe(r.error);
      FUZZ_CHECK(text[0] != '\0' && std::strchr(text, '\n') == nullptr);
      FUZZ_CHECK(r.error_offset <= in.size());
      break;
    }
    case http::ParseStatus::kIncomplete:
      // Only a head that fits the limit may still be waiting for bytes.
      FUZZ_CHECK(in.size() < limits.max_head_bytes);
      break;
  }
  check_prefixes(in, r, limits);
  check_scanners(in);
  return 0;
}
