// http/errors.h — every way a request head can break HTTP/1.1, by name.
//
// One HttpError per rule http/parser refuses a head for, so a refusal says which RFC
// sentence the client broke and a test compares values instead of searching prose. Each
// maps to the status to answer with and to the one-line text of that answer's body (and of
// the log line). Plain values and string literals: no state, no allocation, any thread.
#pragma once

#include <cstddef>
#include <cstdint>

namespace wsedge::http {

enum class HttpError : uint8_t {
  kNone = 0,
  // Limits (ParseLimits). RFC 9112 §3: a request line too long to parse is a 414;
  // RFC 9110 §5.4 and RFC 6585 §5: header fields too large to process are a 431.
  kRequestLineTooLong,  // request line over max_request_line (RFC 9112 §3)
  kHeadTooLarge,        // head over max_head_bytes (RFC 6585 §5)
  kTooManyHeaders,      // more field lines than max_headers (RFC 6585 §5)
  // Line terminators, RFC 9112 §2.2.
  kBareLf,        // LF without the CR before it
  kExpectedCrlf,  // another byte where the line must end
  kBareCr,        // CR not followed by LF
  // The request line, RFC 9112 §3.
  kNoMethod,            // the line does not start with a token (RFC 9110 §9.1)
  kBadMethod,           // a non-token byte ends the method
  kEmptyTarget,         // a second SP where the target starts
  kNoVersion,           // the line ends after the target (HTTP/0.9's request)
  kBadTargetByte,       // a target byte outside VCHAR (RFC 9112 §3.2)
  kBadTargetForm,       // neither origin-form nor absolute-form (RFC 9112 §3.2)
  kAbsoluteFormNoHost,  // absolute-form with an empty authority (RFC 9110 §4.2.1)
  kBadAuthority,        // userinfo or a byte no host holds (RFC 9112 §3.2.2, RFC 9110 §4.2.4)
  kBadVersion,          // not "HTTP/" DIGIT "." DIGIT (RFC 9112 §2.3)
  kUnsupportedVersion,  // a major version other than 1: 505 (RFC 9110 §6.2, §15.6.6)
  // Field lines, RFC 9112 §5 and RFC 9110 §5.
  kObsFold,           // a line that starts with SP/HTAB: obs-fold (RFC 9112 §5.2), or
                      // whitespace before the first field line (RFC 9112 §2.2)
  kSpaceBeforeColon,  // whitespace between the field name and its colon (RFC 9112 §5.1)
  kBadHeaderName,     // a non-token byte in a field name (RFC 9110 §5.1)
  kEmptyHeaderName,   // a colon with no name before it (RFC 9110 §5.1)
  kControlInValue,    // NUL, DEL or another control byte in a field value (RFC 9110 §5.5)
  // Host, RFC 9112 §3.2: a server MUST answer 400 to each of these.
  kDuplicateHost,  // more than one Host line
  kBadHost,        // a Host value no host can have
  kMissingHost,    // an HTTP/1.1 request without Host
  // Message framing, RFC 9112 §6-7 and RFC 9110 §8.6.
  kTransferEncodingInHttp10,   // Transfer-Encoding in HTTP/1.0 is faulty framing (RFC 9112 §6.1)
  kChunkedNotFinal,            // the last coding is not chunked (RFC 9112 §6.3 item 4)
  kChunkedTwice,               // chunked applied more than once (RFC 9112 §7)
  kTransferEncodingAndLength,  // both framings at once (RFC 9112 §6.3 item 3)
  kContentLengthTooLarge,      // more digits than we represent (RFC 9110 §8.6)
  kBadContentLength,           // not 1*DIGIT, or an empty list (RFC 9112 §6.3 item 5)
  kConflictingContentLength    // values that disagree (RFC 9112 §6.3 item 5)
};

// The status to refuse the request with: 414, 431, 505, else 400. kNone gives 0: there
// is nothing to refuse, and the status of the answer is the handler's to choose.
int status_for(HttpError e);

// One line naming the broken rule: a string literal that write_error sends whole (its
// length is static_assert'ed against kMaxErrorText, http/response.h).
const char* describe(HttpError e);

namespace detail {

// One row of a refusal table: the rule, the status it is answered with, its text. The
// tables behind status_for() and describe() here and for ws::HandshakeError are arrays
// of these indexed by the enum, so a rule's status and text are written once, side by side.
template <typename E>
struct Refusal {
  E error;
  int status;
  const char* text;
};

// One row per value up to `last`, row i for value i (what makes the table indexable), and
// every text one line of 1..max_text bytes (what makes it safe to send whole as a body).
// For static_assert.
template <typename E, size_t N>
constexpr bool is_refusal_table(const Refusal<E> (&rows)[N], E last, size_t max_text) {
  if (N != static_cast<size_t>(last) + 1) return false;
  for (size_t i = 0; i < N; ++i) {
    if (static_cast<size_t>(rows[i].error) != i) return false;
    size_t n = 0;
    for (const char* c = rows[i].text; *c != '\0'; ++c, ++n) {
      if (*c == '\n' || *c == '\r') return false;
    }
    if (n == 0 || n > max_text) return false;
  }
  return true;
}

// The row of `e`. Only a cast can make a value past the table; it is refused with 400,
// never taken for kNone.
template <typename E, size_t N>
constexpr Refusal<E> refusal_in(const Refusal<E> (&rows)[N], E e) {
  const auto i = static_cast<size_t>(e);
  return i < N ? rows[i] : Refusal<E>{e, 400, "unknown error"};
}

}  // namespace detail

}  // namespace wsedge::http
