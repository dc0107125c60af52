// Tests for http/parser: table rows run whole, at every split offset, byte by byte, and
// at the end of a page followed by a PROT_NONE page so any over-read faults.
#include <doctest/doctest.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "http/errors.h"
#include "http/parser.h"
#include "tests/unit/http_fixtures.h"

using wsedge::http::HttpError;
using wsedge::http::parse_request;
using wsedge::http::ParseLimits;
using wsedge::http::ParseResult;
using wsedge::http::ParseStatus;
using wsedge::http::Request;

namespace {

// Holds bytes flush against a PROT_NONE page: reading one byte past the end segfaults.
class Guarded {
 public:
  explicit Guarded(std::string_view bytes) {
    size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
    size_t data_pages = (bytes.size() + page - 1) / page + 1;
    len_ = (data_pages + 1) * page;
    void* m = mmap(nullptr, len_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    REQUIRE(m != MAP_FAILED);
    base_ = static_cast<uint8_t*>(m);
    REQUIRE(mprotect(base_ + data_pages * page, page, PROT_NONE) == 0);
    data_ = base_ + data_pages * page - bytes.size();
    if (!bytes.empty()) std::memcpy(data_, bytes.data(), bytes.size());
    size_ = bytes.size();
  }
  ~Guarded() { munmap(base_, len_); }
  Guarded(const Guarded&) = delete;
  Guarded& operator=(const Guarded&) = delete;
  std::span<const uint8_t> span() const { return {data_, size_}; }

 private:
  uint8_t* base_ = nullptr;
  uint8_t* data_ = nullptr;
  size_t size_ = 0;
  size_t len_ = 0;
};

std::span<const uint8_t> bytes_of(std::string_view s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

ParseResult parse_guarded(std::string_view s, Request* req, const ParseLimits& lim = {}) {
  Guarded g(s);
  return parse_request(g.span(), req, lim);
}

bool same(const ParseResult& a, const ParseResult& b) {
  return a.status == b.status && a.consumed == b.consumed && a.error == b.error &&
         a.error_offset == b.error_offset;
}

constexpr const char* kChrome = wsedge::test::kChromeUpgrade;

constexpr const char* kFirefox =
    "GET /echo HTTP/1.1\r\n"
    "Host: 127.0.0.1:9001\r\n"
    "User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0\r\n"
    "Accept: */*\r\n"
    "Accept-Language: en-US,en;q=0.5\r\n"
    "Accept-Encoding: gzip, deflate, br\r\n"
    "Sec-WebSocket-Version: 13\r\n"
    "Origin: http://127.0.0.1:9001\r\n"
    "Sec-WebSocket-Extensions: permessage-deflate\r\n"
    "Sec-WebSocket-Key: x3JJHMbDL1EzLkh9GBhXDw==\r\n"
    "Connection: keep-alive, Upgrade\r\n"
    "Sec-Fetch-Dest: empty\r\n"
    "Sec-Fetch-Mode: websocket\r\n"
    "Sec-Fetch-Site: same-origin\r\n"
    "Pragma: no-cache\r\n"
    "Cache-Control: no-cache\r\n"
    "Upgrade: websocket\r\n"
    "\r\n";

struct Row {
  const char* name;
  std::string input;
  ParseStatus status;
  HttpError error = HttpError::kNone;  // kError rows: the rule broken
  bool early = false;                  // kError rows: input[0..error_offset] already fails
  ParseLimits limits = {};
};

std::string many_headers(int n) {
  std::string s = "GET / HTTP/1.1\r\nHost: h\r\n";
  for (int i = 1; i < n; ++i)
    s += "X-" + std::to_string(i) + ": v\r\n";
  return s + "\r\n";
}

ParseLimits header_limit(size_t n) {
  ParseLimits l;
  l.max_headers = n;
  return l;
}

using S = ParseStatus;
using E = HttpError;

// A table, not a function: one named row per rule.
const std::vector<Row> kRows = {
    {"minimal GET", "GET / HTTP/1.1\r\nHost: a\r\n\r\n", S::kDone},
    {"leading empty lines skipped", "\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n", S::kDone},
    {"query and OWS", "GET /p?x=1&y HTTP/1.1\r\nHost: a\r\nX:  b c \t\r\n\r\n", S::kDone},
    {"empty value, tab inside, obs-text",
     "GET / HTTP/1.1\r\nHost: a\r\nE:\r\nT: a\tb\r\nO: caf\xc3\xa9\r\n\r\n", S::kDone},
    {"HTTP/1.0 without Host", "GET / HTTP/1.0\r\n\r\n", S::kDone},
    {"HTTP/1.2 is handled as 1.1", "GET / HTTP/1.2\r\nHost: a\r\n\r\n", S::kDone},
    {"unknown method token", "BREW /pot HTTP/1.1\r\nHost: a\r\n\r\n", S::kDone},
    {"absolute-form target", "GET http://a/b HTTP/1.1\r\nHost: a\r\n\r\n", S::kDone},
    {"asterisk-form", "OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n", S::kDone},
    {"absolute-form, ws scheme, no path", "GET ws://a:9 HTTP/1.1\r\nHost: a\r\n\r\n", S::kDone},
    {"absolute-form, query without a path", "GET http://a?q HTTP/1.1\r\nHost: a\r\n\r\n", S::kDone},
    {"neither origin- nor absolute-form", "GET p/q HTTP/1.1\r\nHost: a\r\n\r\n", S::kError,
     E::kBadTargetForm},
    {"authority-form (CONNECT's)", "CONNECT a:443 HTTP/1.1\r\nHost: a\r\n\r\n", S::kError,
     E::kBadTargetForm},
    {"scheme with a bad character", "GET ht_tp://a/ HTTP/1.1\r\nHost: a\r\n\r\n", S::kError,
     E::kBadTargetForm},
    {"scheme not followed by //", "GET http:/a/ HTTP/1.1\r\nHost: a\r\n\r\n", S::kError,
     E::kBadTargetForm},
    {"absolute-form without a host", "GET http:///p HTTP/1.1\r\nHost: a\r\n\r\n", S::kError,
     E::kAbsoluteFormNoHost},
    {"absolute-form with userinfo", "GET http://evil@a/ HTTP/1.1\r\nHost: a\r\n\r\n", S::kError,
     E::kBadAuthority},
    {"absolute-form with a fragment after the host", "GET http://a#/x HTTP/1.1\r\nHost: a\r\n\r\n",
     S::kError, E::kBadAuthority},
    // The http_parser fuzzer's find, minimized (corpus: regress-absolute-form-fragment).
    {"fuzz: a '#' right after the host", "E t://H# HTTP/1.1\r\nHost:\r\n\r\n", S::kError,
     E::kBadAuthority},
    {"absolute-form still needs Host in HTTP/1.1", "GET http://a/ HTTP/1.1\r\n\r\n", S::kError,
     E::kMissingHost},
    {"Chrome upgrade", kChrome, S::kDone},
    {"Firefox upgrade", kFirefox, S::kDone},
    {"agreeing Content-Length",
     "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5, 5\r\n"
     "content-length: 5\r\n\r\nhello",
     S::kDone},
    {"chunked", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", S::kDone},
    {"IPv6 host", "GET / HTTP/1.1\r\nHost: [::1]:80\r\n\r\n", S::kDone},
    {"max_headers exactly", many_headers(100), S::kDone},
    {"bare LF ends request line", "GET / HTTP/1.1\nHost: a\r\n\r\n", S::kError, E::kBareLf, true},
    {"bare LF ends header", "GET / HTTP/1.1\r\nHost: a\n\r\n", S::kError, E::kBareLf, true},
    {"bare LF ends head", "GET / HTTP/1.1\r\nHost: a\r\n\n", S::kError, E::kBareLf, true},
    {"bare LF before request line", "\nGET / HTTP/1.1\r\nHost: a\r\n\r\n", S::kError, E::kBareLf,
     true},
    {"bare CR in value", "GET / HTTP/1.1\r\nHost: a\rb\r\n\r\n", S::kError, E::kBareCr, true},
    {"obs-fold", "GET / HTTP/1.1\r\nHost: a\r\nX: a\r\n  b\r\n\r\n", S::kError, E::kObsFold, true},
    {"whitespace before first header", "GET / HTTP/1.1\r\n Host: a\r\n\r\n", S::kError, E::kObsFold,
     true},
    {"space before colon", "GET / HTTP/1.1\r\nHost : a\r\n\r\n", S::kError, E::kSpaceBeforeColon,
     true},
    {"tab before colon", "GET / HTTP/1.1\r\nHost\t: a\r\n\r\n", S::kError, E::kSpaceBeforeColon,
     true},
    {"non-token in name", "GET / HTTP/1.1\r\nHo(st: a\r\n\r\n", S::kError, E::kBadHeaderName, true},
    {"empty header name", "GET / HTTP/1.1\r\nHost: a\r\n: x\r\n\r\n", S::kError,
     E::kEmptyHeaderName, true},
    {"NUL in value", std::string("GET / HTTP/1.1\r\nHost: a\r\nX: a\0b\r\n\r\n", 35), S::kError,
     E::kControlInValue, true},
    {"DEL in value", "GET / HTTP/1.1\r\nHost: a\r\nX: a\x7f\r\n\r\n", S::kError, E::kControlInValue,
     true},
    {"lowercase protocol name", "GET / http/1.1\r\nHost: a\r\n\r\n", S::kError, E::kBadVersion,
     true},
    {"junk after version", "GET / HTTP/1.1x\r\nHost: a\r\n\r\n", S::kError, E::kExpectedCrlf, true},
    {"two-digit major", "GET / HTTP/11.1\r\nHost: a\r\n\r\n", S::kError, E::kBadVersion, true},
    {"HTTP/2.0", "GET / HTTP/2.0\r\nHost: a\r\n\r\n", S::kError, E::kUnsupportedVersion},
    {"HTTP/0.9 line", "GET /\r\n\r\n", S::kError, E::kNoVersion, true},
    {"non-token method", "GE(T / HTTP/1.1\r\nHost: a\r\n\r\n", S::kError, E::kBadMethod, true},
    {"no method", " / HTTP/1.1\r\nHost: a\r\n\r\n", S::kError, E::kNoMethod, true},
    {"two spaces after method", "GET  / HTTP/1.1\r\nHost: a\r\n\r\n", S::kError, E::kEmptyTarget,
     true},
    {"non-ASCII target", "GET /caf\xc3\xa9 HTTP/1.1\r\nHost: a\r\n\r\n", S::kError,
     E::kBadTargetByte, true},
    {"HTTP/1.1 without Host", "GET / HTTP/1.1\r\nX: a\r\n\r\n", S::kError, E::kMissingHost},
    {"two Host lines", "GET / HTTP/1.0\r\nHost: a\r\nHost: b\r\n\r\n", S::kError,
     E::kDuplicateHost},
    {"invalid Host", "GET / HTTP/1.1\r\nHost: a/b\r\n\r\n", S::kError, E::kBadHost},
    {"bad Content-Length", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1x\r\n\r\n", S::kError,
     E::kBadContentLength},
    {"negative Content-Length", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n",
     S::kError, E::kBadContentLength},
    {"empty Content-Length", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length:\r\n\r\n", S::kError,
     E::kBadContentLength},
    {"huge Content-Length",
     "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 99999999999999999999\r\n\r\n", S::kError,
     E::kContentLengthTooLarge},
    {"conflicting Content-Length",
     "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n", S::kError,
     E::kConflictingContentLength},
    {"Transfer-Encoding with Content-Length",
     "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n",
     S::kError, E::kTransferEncodingAndLength},
    {"chunked not final", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, gzip\r\n\r\n",
     S::kError, E::kChunkedNotFinal},
    {"chunked twice", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, chunked\r\n\r\n",
     S::kError, E::kChunkedTwice},
    {"Transfer-Encoding in HTTP/1.0", "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n",
     S::kError, E::kTransferEncodingInHttp10},
    {"request line over limit", "GET /" + std::string(4100, 'a') + " HTTP/1.1\r\nHost: a\r\n\r\n",
     S::kError, E::kRequestLineTooLong, true},
    {"request line at limit",
     "GET /" + std::string(4096 - 14, 'a') + " HTTP/1.1\r\nHost: a\r\n\r\n", S::kDone},
    {"request line one over limit",
     "GET /" + std::string(4096 - 13, 'a') + " HTTP/1.1\r\nHost: a\r\n\r\n", S::kError,
     E::kRequestLineTooLong, true},
    {"head over limit", "GET / HTTP/1.1\r\nHost: a\r\nX: " + std::string(8200, 'v') + "\r\n\r\n",
     S::kError, E::kHeadTooLarge, true},
    {"too many headers", many_headers(101), S::kError, E::kTooManyHeaders, true},
    {"custom header limit", "GET / HTTP/1.1\r\nHost: a\r\nA: 1\r\nB: 2\r\n\r\n", S::kError,
     E::kTooManyHeaders, true, header_limit(2)},
};

// Every strict prefix is kIncomplete or the same verdict; the whole gives `whole`.
void check_prefixes(const Row& row, const ParseResult& whole) {
  Request req;
  for (size_t k = 0; k < row.input.size(); ++k) {
    CAPTURE(k);
    ParseResult r = parse_guarded(std::string_view(row.input).substr(0, k), &req, row.limits);
    if (whole.status == ParseStatus::kDone && k < whole.consumed) {
      REQUIRE(r.status == ParseStatus::kIncomplete);
    } else if (r.status != ParseStatus::kIncomplete) {
      REQUIRE(same(r, whole));
    }
    // An error proven by its own byte is reported once that byte has arrived.
    if (row.early && k > whole.error_offset) REQUIRE(same(r, whole));
  }
}

// A connection that receives one byte per read and re-parses its whole buffer each time.
void check_byte_by_byte(const Row& row, const ParseResult& whole) {
  std::string buf;
  Request req;
  ParseResult r;
  for (char c : row.input) {
    buf.push_back(c);
    r = parse_request(bytes_of(buf), &req, row.limits);
    if (r.status != ParseStatus::kIncomplete) break;
  }
  CHECK(same(r, whole));
}

}  // namespace

TEST_CASE("parse_request table: whole, every prefix, byte by byte, guard page") {
  for (const Row& row : kRows) {
    std::string name = row.name;
    CAPTURE(name);
    Request req;
    ParseResult whole = parse_guarded(row.input, &req, row.limits);
    REQUIRE(whole.status == row.status);
    CHECK(whole.error == row.error);
    if (row.status == ParseStatus::kError) {
      CHECK(whole.error_offset <= row.input.size());
    } else {
      CHECK(whole.consumed == row.input.find("\r\n\r\n", row.input.find(' ')) + 4);
    }
    check_prefixes(row, whole);
    check_byte_by_byte(row, whole);
  }
}

TEST_CASE("parse_request fills the request with views into the input") {
  std::string in = "\r\nGET /p/q?x=1?y HTTP/1.0\r\nHost: ex.org \r\nX-A:\tone two\t\r\n\r\nBODY";
  Guarded g(in);
  Request req;
  ParseResult r = parse_request(g.span(), &req);
  REQUIRE(r.status == ParseStatus::kDone);
  CHECK(r.consumed == in.size() - 4);
  CHECK(req.method == "GET");
  CHECK(req.target == "/p/q?x=1?y");
  CHECK(req.path == "/p/q");
  CHECK(req.query == "x=1?y");
  CHECK(req.version_minor == 0);
  REQUIRE(req.num_headers == 2);
  CHECK(req.headers[0].name == "Host");
  CHECK(req.headers[0].value == "ex.org");
  CHECK(req.headers[1].value == "one two");
  CHECK(reinterpret_cast<const uint8_t*>(req.method.data()) == g.span().data() + 2);
  CHECK(req.query.empty() == false);
  CHECK(!req.has_body());
}

TEST_CASE("RFC 9112 §3.2.2: an absolute-form target's authority stands for Host") {
  struct Form {
    const char* target;
    const char* path;
    const char* query;
    const char* authority;
  };
  const Form forms[] = {
      {"/chat?room=1", "/chat", "room=1", ""},
      {"http://localhost:9001/chat?room=1", "/chat", "room=1", "localhost:9001"},
      {"HTTPS://[::1]:443/a/b", "/a/b", "", "[::1]:443"},
      {"ws://127.0.0.1:80", "/", "", "127.0.0.1:80"},
      {"wss://x.example?q=/y", "/", "q=/y", "x.example"},
      {"*", "*", "", ""},
  };
  for (const Form& f : forms) {
    CAPTURE(f.target);
    std::string in = std::string("GET ") + f.target + " HTTP/1.1\r\nHost: rebind.example\r\n\r\n";
    Request req;
    REQUIRE(parse_request(bytes_of(in), &req).status == ParseStatus::kDone);
    CHECK(req.target == f.target);
    CHECK(req.path == f.path);
    CHECK(req.query == f.query);
    CHECK(req.authority == f.authority);
    CHECK(req.host() == (*f.authority != '\0' ? f.authority : "rebind.example"));
  }
}

TEST_CASE("Request helpers: case-insensitive lookup, counts, tokens, keep-alive") {
  std::string in =
      "GET / HTTP/1.1\r\nHost: a\r\nConnection: keep-alive, Upgrade\r\nX-Dup: 1\r\n"
      "x-dup: 2\r\nUpgrade: WebSocket\r\nConnection: ,,\r\nContent-Length: 3\r\n\r\n";
  Request req;
  REQUIRE(parse_request(bytes_of(in), &req).status == ParseStatus::kDone);
  CHECK(req.header("HOST") == "a");
  CHECK(req.header("x-dup") == "1");
  CHECK(req.header("absent").empty());
  CHECK(req.has_header("upgrade"));
  CHECK(!req.has_header("absent"));
  CHECK(req.header_count("X-DUP") == 2);
  CHECK(req.header_has_token("connection", "upgrade"));
  CHECK(req.header_has_token("connection", "KEEP-ALIVE"));
  CHECK(!req.header_has_token("connection", "keep"));
  CHECK(req.header_has_token("upgrade", "websocket"));
  CHECK(req.has_content_length);
  CHECK(req.content_length == 3);
  CHECK(req.has_body());

  struct KeepRow {
    const char* name;
    const char* head;
    bool keep;
  };
  const KeepRow keep_rows[] = {
      {"1.1 default", "GET / HTTP/1.1\r\nHost: a\r\n\r\n", true},
      {"1.1 close", "GET / HTTP/1.1\r\nHost: a\r\nConnection: Close\r\n\r\n", false},
      {"1.1 close in list", "GET / HTTP/1.1\r\nHost: a\r\nConnection: foo, close\r\n\r\n", false},
      {"1.0 default", "GET / HTTP/1.0\r\n\r\n", false},
      {"1.0 keep-alive", "GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n", true},
  };
  for (const KeepRow& row : keep_rows) {
    std::string name = row.name;
    CAPTURE(name);
    REQUIRE(parse_request(bytes_of(row.head), &req).status == ParseStatus::kDone);
    CHECK(req.keep_alive() == row.keep);
  }
}

TEST_CASE("next_list_element skips empty elements and trims OWS") {
  std::string_view list = " a ,, b\t,\t, c", e;
  std::vector<std::string_view> got;
  while (wsedge::http::next_list_element(&list, &e))
    got.push_back(e);
  CHECK(got == std::vector<std::string_view>{"a", "b", "c"});
}

TEST_CASE("pipelined requests: consumed is exact, at every split of the stream") {
  std::string stream =
      "GET /1 HTTP/1.1\r\nHost: a\r\n\r\n"
      "HEAD /2 HTTP/1.1\r\nHost: a\r\n\r\n"
      "GET /3 HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n";
  for (size_t split = 0; split <= stream.size(); ++split) {
    CAPTURE(split);
    std::string buf = stream.substr(0, split);
    std::vector<std::string> targets;
    bool fed_rest = false;
    for (;;) {
      Request req;
      ParseResult r = parse_request(bytes_of(buf), &req);
      REQUIRE(r.status != ParseStatus::kError);
      if (r.status == ParseStatus::kIncomplete) {
        if (fed_rest) break;
        buf += stream.substr(split);
        fed_rest = true;
        continue;
      }
      targets.emplace_back(req.target);
      buf.erase(0, r.consumed);
    }
    CHECK(buf.empty());
    CHECK(targets == std::vector<std::string>{"/1", "/2", "/3"});
  }
}

TEST_CASE("SIMD scanners agree with the scalar reference at every length and position") {
  using wsedge::http::detail::find_ctl;
  using wsedge::http::detail::find_ctl_scalar;
  using wsedge::http::detail::find_non_vchar;
  using wsedge::http::detail::find_non_vchar_scalar;
  std::mt19937 rng(1234);
  const uint8_t specials[] = {0x00, 0x09, 0x0A, 0x0D, 0x1F, 0x20, 0x21, 0x7E, 0x7F, 0x80, 0xFF};
  for (size_t len = 0; len <= 70; ++len) {
    for (int trial = 0; trial < 40; ++trial) {
      std::string s(len, 'a');
      for (char& c : s)
        c = static_cast<char>(0x21 + rng() % 94);
      if (len > 0 && trial > 0) s[rng() % len] = static_cast<char>(specials[rng() % 11]);
      Guarded g(s);
      const uint8_t* p = g.span().data();
      CAPTURE(len);
      CHECK(find_ctl(p, p + len) == find_ctl_scalar(p, p + len));
      CHECK(find_non_vchar(p, p + len) == find_non_vchar_scalar(p, p + len));
    }
  }
}

TEST_CASE("max_headers above the array capacity is clamped, not overrun") {
  ParseLimits lim;
  lim.max_headers = 1000;
  lim.max_head_bytes = 1 << 20;
  Request req;
  ParseResult r = parse_request(bytes_of(many_headers(150)), &req, lim);
  CHECK(r.status == ParseStatus::kError);
  CHECK(r.error == HttpError::kTooManyHeaders);
}

TEST_CASE("seeded mutations of valid requests never crash and stay consistent") {
  const std::string seeds[] = {kChrome, kFirefox,
                               "POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\nhi"};
  std::mt19937 rng(20240601);
  const char alphabet[] =
      "\r\n :\t,\x01\x7f\x80"
      "Aa0/%?HTTP1.";
  int done = 0, errors = 0, incomplete = 0;
  for (int iter = 0; iter < 4000; ++iter) {
    std::string s = seeds[iter % 3];
    int edits = 1 + static_cast<int>(rng() % 4);
    for (int e = 0; e < edits && !s.empty(); ++e) {
      size_t at = rng() % s.size();
      char c = alphabet[rng() % (sizeof alphabet - 1)];
      switch (rng() % 4) {
        case 0:
          s[at] = c;
          break;
        case 1:
          s.insert(at, 1, c);
          break;
        case 2:
          s.erase(at, 1 + rng() % 8);
          break;
        default:
          s.insert(at, s.substr(rng() % s.size(), rng() % 64));
          break;
      }
    }
    Request req;
    ParseResult r = parse_guarded(s, &req);
    if (r.status == ParseStatus::kDone) {
      ++done;
      REQUIRE(r.consumed <= s.size());
      for (const auto& h : req.header_list())
        REQUIRE(!h.name.empty());
    } else if (r.status == ParseStatus::kError) {
      ++errors;
      REQUIRE(r.error_offset <= s.size());
      REQUIRE(r.error != HttpError::kNone);
      const int status = wsedge::http::status_for(r.error);
      REQUIRE((status == 400 || status == 414 || status == 431 || status == 505));
    } else {
      ++incomplete;
    }
    if (iter % 16 == 0) {
      Row row{"mutation", s, r.status};
      check_byte_by_byte(row, r);
    }
  }
  // The mutations reach every verdict, so the loop tests something.
  CHECK(done > 100);
  CHECK(errors > 100);
  CHECK(incomplete > 10);
}
