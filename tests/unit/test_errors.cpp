// Tests for the refusal vocabularies, http::HttpError and ws::HandshakeError: each value
// keeps the status the parser and the handshake answered with before the rules had names,
// and its text is one line a response body carries whole. Which rule a given input breaks
// is tested where the rule lives (test_http_parser, test_handshake), by value.
#include <doctest/doctest.h>

#include <initializer_list>
#include <string>
#include <utility>
#include <vector>

#include "http/errors.h"
#include "http/response.h"
#include "ws/handshake.h"

using wsedge::http::HttpError;
using wsedge::ws::HandshakeError;

namespace {

// Every value from kNone to `last`: status_for() is `none_status` for kNone, the listed
// status for the values in `not_400`, 400 for the rest; describe() is a non-empty line that
// write_error / write_handshake_error send whole, and no two values share a text, so a log
// line tells the rules apart.
template <typename E>
void check_refusals(E last, int none_status, std::initializer_list<std::pair<E, int>> not_400) {
  std::vector<std::string> seen;
  for (int i = 0; i <= static_cast<int>(last); ++i) {
    const auto e = static_cast<E>(i);
    int want = i == 0 ? none_status : 400;
    for (const auto& [value, status] : not_400)
      want = value == e ? status : want;
    const std::string d = describe(e);
    CAPTURE(d);
    CHECK(status_for(e) == want);
    CHECK(!d.empty());
    CHECK(d.size() <= wsedge::http::kMaxErrorText);
    CHECK(d.find_first_of("\r\n") == std::string::npos);
    for (const std::string& other : seen)
      CHECK(other != d);
    seen.push_back(d);
  }
  // A value past the enum (only a cast makes one) is refused with 400, never accepted.
  CHECK(status_for(static_cast<E>(200)) == 400);
  CHECK(std::string(describe(static_cast<E>(200))) == "unknown error");
}

}  // namespace

TEST_CASE("HttpError: 414 and 431 for the limits, 505 for HTTP/2+, 400 for the rest") {
  using E = HttpError;
  check_refusals(E::kConflictingContentLength, 0,
                 {{E::kRequestLineTooLong, 414},
                  {E::kHeadTooLarge, 431},
                  {E::kTooManyHeaders, 431},
                  {E::kUnsupportedVersion, 505}});
}

TEST_CASE("HandshakeError: 101 to accept; 405, 426 and 403 for their rules, 400 for the rest") {
  using E = HandshakeError;
  check_refusals(E::kOriginNotAllowed, 101,
                 {{E::kNotGet, 405}, {E::kBadVersion, 426}, {E::kOriginNotAllowed, 403}});
}
