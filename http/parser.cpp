#include "http/parser.h"

#include <algorithm>
#include <array>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace wsedge::http {

namespace {

// Host (RFC 9110 §7.2, RFC 3986 §3.2.2): reg-name / IP-literal chars plus ":" port.
// Anything else (SP, '/', '@', '?', '#', '"', ...) makes the field value invalid.
constexpr std::array<bool, 256> kHostChar = make_alnum_table("-._~!$&'()*+,;=:[]%");

std::string_view view(const uint8_t* from, const uint8_t* to) {
  return {reinterpret_cast<const char*>(from), static_cast<size_t>(to - from)};
}

enum class Step : uint8_t { kOk, kIncomplete, kError };

// One parse over [begin, in_end). `e` is where the bytes the current element may use end;
// running into it means "need more" unless it is a limit, which `limit_status_` names.
class HeadParser {
 public:
  HeadParser(std::span<const uint8_t> in, Request* out, const ParseLimits& limits)
      : begin_(in.data()), p_(in.data()), out_(out), limits_(limits) {
    size_t window = std::min(in.size(), limits.max_head_bytes);
    window_end_ = begin_ + window;
    clipped_ = in.size() >= limits.max_head_bytes;
    max_headers_ = std::min(limits.max_headers, kMaxHeaders);
  }

  ParseResult run();

 private:
  Step fail(const uint8_t* at, HttpError error) {
    result_.status = ParseStatus::kError;
    result_.error = error;
    result_.error_offset = static_cast<size_t>(at - begin_);
    return Step::kError;
  }
  // Called when the element being parsed reached e_ unfinished.
  Step out_of_bytes() {
    if (e_is_line_limit_) return fail(e_, HttpError::kRequestLineTooLong);
    if (clipped_ && e_ == window_end_) return fail(e_, HttpError::kHeadTooLarge);
    return Step::kIncomplete;
  }
  Step skip_empty_lines();
  Step request_line();
  Step split_target(const uint8_t* t);
  Step version();
  Step crlf();
  Step header_line(bool* end_of_head);
  Step header_value(const uint8_t** value_end);
  Step check_semantics();
  Step check_content_length();
  Step check_transfer_encoding();

  const uint8_t* begin_;
  const uint8_t* p_;
  const uint8_t* e_ = nullptr;
  const uint8_t* window_end_;
  bool e_is_line_limit_ = false;  // e_ is where the request line's length limit is hit
  bool clipped_;
  size_t max_headers_;
  Request* out_;
  const ParseLimits& limits_;
  ParseResult result_;
};

// RFC 9112 §2.2: a server SHOULD ignore at least one empty line (CRLF) received before
// the request-line. All of them are skipped; they still count against max_head_bytes.
Step HeadParser::skip_empty_lines() {
  while (p_ < e_ && (*p_ == '\r' || *p_ == '\n')) {
    if (Step s = crlf(); s != Step::kOk) return s;
  }
  if (p_ == e_) return out_of_bytes();
  return Step::kOk;
}

// Line terminators. RFC 9112 §2.2 lets a recipient accept a bare LF as a terminator, but
// it MAY, not MUST: wsedge rejects both a bare LF and a bare CR (which §2.2 says MUST be
// treated as invalid or replaced by SP), because a server that reads framing differently
// from a proxy in front of it is how request smuggling starts. Every real client sends CRLF.
Step HeadParser::crlf() {
  if (p_ == e_) return out_of_bytes();
  if (*p_ == '\n') return fail(p_, HttpError::kBareLf);
  if (*p_ != '\r') return fail(p_, HttpError::kExpectedCrlf);
  if (++p_ == e_) return out_of_bytes();
  // RFC 9112 §2.2: a bare CR MUST be considered invalid (or replaced; we reject).
  if (*p_ != '\n') return fail(p_, HttpError::kBareCr);
  ++p_;
  return Step::kOk;
}

// RFC 9112 §3.2: request-target = origin-form / absolute-form / authority-form /
// asterisk-form. Fills path, query and (absolute-form) authority from out_->target, which
// starts at `t` in the input (for error offsets).
Step HeadParser::split_target(const uint8_t* t) {
  std::string_view target = out_->target;
  std::string_view rest = target;  // path-abempty [ "?" query ] once the authority is gone
  if (target.front() != '/' && target != "*") {
    // absolute-form = absolute-URI: scheme "://" authority path-abempty [ "?" query ].
    // (authority-form belongs to CONNECT, which no route of ours serves: 400 here too.)
    size_t colon = target.find(':');
    bool scheme_ok = colon != std::string_view::npos && colon > 0 && is_alpha(target[0]);
    for (size_t i = 1; scheme_ok && i < colon; ++i) {
      char c = target[i];  // RFC 3986 §3.1: ALPHA *( ALPHA / DIGIT / "+" / "-" / "." )
      scheme_ok = is_alpha(c) || (c >= '0' && c <= '9') || c == '+' || c == '-' || c == '.';
    }
    if (!scheme_ok || target.substr(colon + 1, 2) != "//")
      return fail(t, HttpError::kBadTargetForm);
    size_t begin = colon + 3;
    // The authority ends at the path or the query. A '#' is no part of a request target
    // (RFC 9112 §3.2: absolute-URI has no fragment) and fails the authority check below.
    size_t end = target.find_first_of("/?", begin);
    if (end == std::string_view::npos) end = target.size();
    std::string_view authority = target.substr(begin, end - begin);
    if (authority.empty()) return fail(t + begin, HttpError::kAbsoluteFormNoHost);
    for (size_t i = 0; i < authority.size(); ++i) {
      // kHostChar has no '@': userinfo is refused (RFC 9110 §4.2.4 deprecates it, and
      // "user@host" is the classic way to make a URL read as another host).
      if (!kHostChar[static_cast<uint8_t>(authority[i])])
        return fail(t + begin + i, HttpError::kBadAuthority);
    }
    out_->authority = authority;
    rest = target.substr(end);
  }
  size_t q = rest.find('?');
  out_->path = rest.substr(0, q);
  if (out_->path.empty()) out_->path = "/";  // RFC 9112 §3.2.2: an empty path is "/"
  out_->query = q == std::string_view::npos ? std::string_view{} : rest.substr(q + 1);
  return Step::kOk;
}

// request-line = method SP request-target SP HTTP-version (RFC 9112 §3)
Step HeadParser::request_line() {
  const uint8_t* line = p_;
  // The line may use its content limit plus CRLF; offsets, so no pointer leaves the input.
  size_t line_room = limits_.max_request_line + 2;
  e_is_line_limit_ = static_cast<size_t>(window_end_ - line) >= line_room;
  e_ = e_is_line_limit_ ? line + line_room : window_end_;
  const uint8_t* m = p_;
  while (p_ < e_ && kTchar[*p_])
    ++p_;
  if (p_ == e_) return out_of_bytes();
  if (p_ == m) return fail(p_, HttpError::kNoMethod);
  if (*p_ != ' ') return fail(p_, HttpError::kBadMethod);
  out_->method = view(m, p_++);

  const uint8_t* t = p_;
  p_ += detail::find_non_vchar(p_, e_);
  if (p_ == e_) return out_of_bytes();
  if (p_ == t) return fail(p_, HttpError::kEmptyTarget);
  if (*p_ == '\r' || *p_ == '\n') return fail(p_, HttpError::kNoVersion);
  if (*p_ != ' ') return fail(p_, HttpError::kBadTargetByte);
  out_->target = view(t, p_++);
  if (Step s = split_target(t); s != Step::kOk) return s;

  if (Step s = version(); s != Step::kOk) return s;
  const uint8_t* cr = p_;
  if (Step s = crlf(); s != Step::kOk) return s;
  if (static_cast<size_t>(cr - line) > limits_.max_request_line)
    return fail(line + limits_.max_request_line, HttpError::kRequestLineTooLong);
  e_is_line_limit_ = false;
  e_ = window_end_;
  return Step::kOk;
}

// HTTP-version = "HTTP" "/" DIGIT "." DIGIT, case-sensitive (RFC 9112 §2.3).
Step HeadParser::version() {
  const uint8_t* start = p_;
  constexpr std::string_view kName = "HTTP/";
  for (char c : kName) {
    if (p_ == e_) return out_of_bytes();
    if (*p_++ != static_cast<uint8_t>(c)) return fail(p_ - 1, HttpError::kBadVersion);
  }
  int digits[2] = {0, 0};
  for (int i = 0; i < 2; ++i) {
    if (p_ == e_) return out_of_bytes();
    if (*p_ < '0' || *p_ > '9') return fail(p_, HttpError::kBadVersion);
    digits[i] = *p_++ - '0';
    if (i == 0) {
      if (p_ == e_) return out_of_bytes();
      if (*p_++ != '.') return fail(p_ - 1, HttpError::kBadVersion);
    }
  }
  // RFC 9110 §6.2: a server MAY answer 505 to a major version it does not implement.
  if (digits[0] != 1) return fail(start + 5, HttpError::kUnsupportedVersion);
  // RFC 9110 §2.5: a higher minor version is processed as the highest one implemented.
  out_->version_minor = digits[1] == 0 ? 0 : 1;
  return Step::kOk;
}

// field-line = field-name ":" OWS field-value OWS (RFC 9112 §5)
Step HeadParser::header_line(bool* end_of_head) {
  if (p_ == e_) return out_of_bytes();
  if (*p_ == '\r' || *p_ == '\n') {
    *end_of_head = true;
    return crlf();
  }
  // RFC 9112 §5.2: obs-fold MAY be rejected with 400; §2.2: whitespace before the first
  // field line MUST be rejected or consumed. Both look like a line starting with SP/HTAB.
  if (*p_ == ' ' || *p_ == '\t') return fail(p_, HttpError::kObsFold);
  if (out_->num_headers == max_headers_) return fail(p_, HttpError::kTooManyHeaders);
  const uint8_t* name = p_;
  while (p_ < e_ && kTchar[*p_])
    ++p_;
  if (p_ == e_) return out_of_bytes();
  if (*p_ != ':') {
    // RFC 9112 §5.1: whitespace between field name and colon MUST be rejected with 400.
    if (*p_ == ' ' || *p_ == '\t') return fail(p_, HttpError::kSpaceBeforeColon);
    return fail(p_, HttpError::kBadHeaderName);
  }
  if (p_ == name) return fail(p_, HttpError::kEmptyHeaderName);
  Header& h = out_->headers[out_->num_headers];
  h.name = view(name, p_++);
  while (p_ < e_ && (*p_ == ' ' || *p_ == '\t'))
    ++p_;
  const uint8_t* value = p_;
  const uint8_t* value_end = nullptr;
  if (Step s = header_value(&value_end); s != Step::kOk) return s;
  while (value_end > value && (value_end[-1] == ' ' || value_end[-1] == '\t'))
    --value_end;
  h.value = view(value, value_end);
  ++out_->num_headers;
  return Step::kOk;
}

// Scans a field value up to its CRLF. RFC 9110 §5.5: field-value is VCHAR, obs-text, SP
// and HTAB; any other control character (NUL, bare CR, bare LF, DEL) is invalid.
Step HeadParser::header_value(const uint8_t** value_end) {
  for (;;) {
    p_ += detail::find_ctl(p_, e_);
    if (p_ == e_) return out_of_bytes();
    if (*p_ == '\t') {
      ++p_;
      continue;
    }
    if (*p_ == '\r' || *p_ == '\n') break;
    return fail(p_, HttpError::kControlInValue);
  }
  *value_end = p_;
  return crlf();
}

ParseResult HeadParser::run() {
  // Reset field by field: zeroing the 3 KiB header array on every re-parse is waste.
  out_->method = out_->target = out_->path = out_->query = out_->authority = {};
  out_->version_minor = 1;
  out_->num_headers = 0;
  out_->has_content_length = out_->chunked = false;
  out_->content_length = 0;
  e_ = window_end_;
  Step s = skip_empty_lines();
  if (s == Step::kOk) s = request_line();
  bool end_of_head = false;
  while (s == Step::kOk && !end_of_head)
    s = header_line(&end_of_head);
  if (s == Step::kOk) s = check_semantics();
  if (s == Step::kOk) {
    result_.status = ParseStatus::kDone;
    result_.consumed = static_cast<size_t>(p_ - begin_);
  }
  return result_;
}

Step HeadParser::check_semantics() {
  // RFC 9112 §3.2: a server MUST answer 400 to an HTTP/1.1 request without Host, and to
  // any request with more than one Host line or an invalid Host value.
  size_t hosts = 0;
  for (const Header& h : out_->header_list()) {
    if (!iequals(h.name, "host")) continue;
    if (++hosts > 1)
      return fail(reinterpret_cast<const uint8_t*>(h.name.data()), HttpError::kDuplicateHost);
    const auto* v = reinterpret_cast<const uint8_t*>(h.value.data());
    for (size_t i = 0; i < h.value.size(); ++i) {
      if (!kHostChar[v[i]]) return fail(v + i, HttpError::kBadHost);
    }
  }
  if (hosts == 0 && out_->version_minor == 1) return fail(p_, HttpError::kMissingHost);
  if (Step s = check_transfer_encoding(); s != Step::kOk) return s;
  return check_content_length();
}

Step HeadParser::check_transfer_encoding() {
  const Header* last = nullptr;
  std::string_view final_coding;
  int chunked = 0;
  for (const Header& h : out_->header_list()) {
    if (!iequals(h.name, "transfer-encoding")) continue;
    last = &h;
    std::string_view list = h.value, coding;
    while (next_list_element(&list, &coding)) {
      final_coding = coding;
      if (iequals(coding, "chunked")) ++chunked;
    }
  }
  if (last == nullptr) return Step::kOk;
  const auto* at = reinterpret_cast<const uint8_t*>(last->value.data());
  // RFC 9112 §6.1: Transfer-Encoding in an HTTP/1.0 message MUST be treated as faulty framing.
  if (out_->version_minor == 0) return fail(at, HttpError::kTransferEncodingInHttp10);
  // RFC 9112 §6.3 (4): chunked not final in a request: the server MUST answer 400.
  if (!iequals(final_coding, "chunked")) return fail(at, HttpError::kChunkedNotFinal);
  // RFC 9112 §7: chunked MUST NOT be applied more than once.
  if (chunked > 1) return fail(at, HttpError::kChunkedTwice);
  // RFC 9112 §6.3 (3): both Transfer-Encoding and Content-Length ought to be an error.
  if (out_->has_header("content-length")) return fail(at, HttpError::kTransferEncodingAndLength);
  out_->chunked = true;
  return Step::kOk;
}

// Content-Length = 1*DIGIT (RFC 9110 §8.6). Repeated lines or list values that all agree
// are one value (RFC 9110 §8.6 MAY); RFC 9112 §6.3 (5): any invalid value MUST be 400.
Step HeadParser::check_content_length() {
  for (const Header& h : out_->header_list()) {
    if (!iequals(h.name, "content-length")) continue;
    const auto* at = reinterpret_cast<const uint8_t*>(h.value.data());
    std::string_view list = h.value, element;
    size_t elements = 0;
    while (next_list_element(&list, &element)) {
      ++elements;
      if (element.size() > 18) return fail(at, HttpError::kContentLengthTooLarge);
      uint64_t v = 0;
      for (char c : element) {
        if (c < '0' || c > '9') return fail(at, HttpError::kBadContentLength);
        v = v * 10 + static_cast<uint64_t>(c - '0');
      }
      if (out_->has_content_length && v != out_->content_length)
        return fail(at, HttpError::kConflictingContentLength);
      out_->has_content_length = true;
      out_->content_length = v;
    }
    if (elements == 0) return fail(at, HttpError::kBadContentLength);
  }
  return Step::kOk;
}

}  // namespace

ParseResult parse_request(std::span<const uint8_t> in, Request* out, const ParseLimits& limits) {
  if (in.empty()) return {};  // kIncomplete; also keeps pointer math off a null data()
  return HeadParser(in, out, limits).run();
}

std::string_view Request::header(std::string_view name) const {
  for (const Header& h : header_list()) {
    if (iequals(h.name, name)) return h.value;
  }
  return {};
}

size_t Request::header_count(std::string_view name) const {
  size_t n = 0;
  for (const Header& h : header_list())
    n += iequals(h.name, name) ? 1 : 0;
  return n;
}

bool Request::header_has_token(std::string_view name, std::string_view token) const {
  for (const Header& h : header_list()) {
    if (!iequals(h.name, name)) continue;
    std::string_view list = h.value, element;
    while (next_list_element(&list, &element)) {
      if (iequals(element, token)) return true;
    }
  }
  return false;
}

bool Request::keep_alive() const {
  if (header_has_token("connection", "close")) return false;
  return version_minor >= 1 || header_has_token("connection", "keep-alive");
}

namespace detail {

size_t find_ctl_scalar(const uint8_t* p, const uint8_t* end) {
  const uint8_t* s = p;
  while (p < end && *p >= 0x20 && *p != 0x7F)
    ++p;
  return static_cast<size_t>(p - s);
}

size_t find_non_vchar_scalar(const uint8_t* p, const uint8_t* end) {
  const uint8_t* s = p;
  while (p<end&& * p> 0x20 && *p < 0x7F)
    ++p;
  return static_cast<size_t>(p - s);
}

#if defined(__SSE2__)
// Both kernels load 16 bytes only while 16 remain before `end`, so they never read past
// the input; the scalar reference finishes the tail.
size_t find_ctl(const uint8_t* p, const uint8_t* end) {
  const uint8_t* s = p;
  const __m128i k1f = _mm_set1_epi8(0x1F);
  const __m128i kdel = _mm_set1_epi8(0x7F);
  for (; end - p >= 16; p += 16) {
    __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
    // Unsigned v <= 0x1F  <=>  min(v, 0x1F) == v.
    __m128i ctl = _mm_or_si128(_mm_cmpeq_epi8(_mm_min_epu8(v, k1f), v), _mm_cmpeq_epi8(v, kdel));
    if (int mask = _mm_movemask_epi8(ctl); mask != 0)
      return static_cast<size_t>(p - s) + static_cast<size_t>(__builtin_ctz(mask));
  }
  return static_cast<size_t>(p - s) + find_ctl_scalar(p, end);
}

size_t find_non_vchar(const uint8_t* p, const uint8_t* end) {
  const uint8_t* s = p;
  const __m128i k20 = _mm_set1_epi8(0x20);
  const __m128i kdel = _mm_set1_epi8(0x7F);
  for (; end - p >= 16; p += 16) {
    __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
    // Signed compares: bytes >= 0x80 are negative, so they fail "> 0x20" as wanted.
    __m128i ok = _mm_and_si128(_mm_cmpgt_epi8(v, k20), _mm_cmplt_epi8(v, kdel));
    if (int mask = _mm_movemask_epi8(ok) ^ 0xFFFF; mask != 0)
      return static_cast<size_t>(p - s) + static_cast<size_t>(__builtin_ctz(mask));
  }
  return static_cast<size_t>(p - s) + find_non_vchar_scalar(p, end);
}
#else
size_t find_ctl(const uint8_t* p, const uint8_t* end) {
  return find_ctl_scalar(p, end);
}
size_t find_non_vchar(const uint8_t* p, const uint8_t* end) {
  return find_non_vchar_scalar(p, end);
}
#endif

}  // namespace detail

}  // namespace wsedge::http
