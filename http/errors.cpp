#include "http/errors.h"

#include "http/response.h"

namespace wsedge::http {
namespace {

using E = HttpError;

// The texts are the answers' bodies on the wire: change one and a client sees it.
constexpr detail::Refusal<HttpError> kRefusals[] = {
    {E::kNone, 0, "no error"},
    {E::kRequestLineTooLong, 414, "request line longer than limit"},
    {E::kHeadTooLarge, 431, "request head larger than limit"},
    {E::kTooManyHeaders, 431, "too many header fields"},
    {E::kBareLf, 400, "bare LF line terminator"},
    {E::kExpectedCrlf, 400, "expected CRLF"},
    {E::kBareCr, 400, "bare CR not followed by LF"},
    {E::kNoMethod, 400, "request line does not start with a method token"},
    {E::kBadMethod, 400, "method contains a non-token character"},
    {E::kEmptyTarget, 400, "empty request target"},
    {E::kNoVersion, 400, "request line has no HTTP version"},
    {E::kBadTargetByte, 400, "request target contains a byte outside VCHAR"},
    {E::kBadTargetForm, 400, "request target is neither origin-form nor absolute-form"},
    {E::kAbsoluteFormNoHost, 400, "absolute-form target without a host"},
    {E::kBadAuthority, 400, "invalid authority in an absolute-form target"},
    {E::kBadVersion, 400, "malformed HTTP version"},
    {E::kUnsupportedVersion, 505, "HTTP major version is not 1"},
    {E::kObsFold, 400, "obsolete line folding (obs-fold)"},
    {E::kSpaceBeforeColon, 400, "whitespace between header name and colon"},
    {E::kBadHeaderName, 400, "header name contains a non-token character"},
    {E::kEmptyHeaderName, 400, "empty header name"},
    {E::kControlInValue, 400, "header value contains a control character"},
    {E::kDuplicateHost, 400, "more than one Host header"},
    {E::kBadHost, 400, "invalid Host header value"},
    {E::kMissingHost, 400, "HTTP/1.1 request without Host"},
    {E::kTransferEncodingInHttp10, 400, "Transfer-Encoding in an HTTP/1.0 request"},
    {E::kChunkedNotFinal, 400, "Transfer-Encoding does not end in chunked"},
    {E::kChunkedTwice, 400, "chunked applied more than once"},
    {E::kTransferEncodingAndLength, 400, "both Transfer-Encoding and Content-Length"},
    {E::kContentLengthTooLarge, 400, "Content-Length too large"},
    {E::kBadContentLength, 400, "invalid Content-Length"},
    {E::kConflictingContentLength, 400, "conflicting Content-Length values"},
};
// write_error would cut a longer text, and a second line would be a broken body.
static_assert(detail::is_refusal_table(kRefusals, E::kConflictingContentLength, kMaxErrorText),
              "one row per HttpError in enum order, texts one line that write_error sends whole");

}  // namespace

int status_for(HttpError e) {
  return detail::refusal_in(kRefusals, e).status;
}

const char* describe(HttpError e) {
  return detail::refusal_in(kRefusals, e).text;
}

}  // namespace wsedge::http
