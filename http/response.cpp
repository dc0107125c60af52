#include "http/response.h"

#include <algorithm>
#include <array>
#include <charconv>
#include <cstdio>

namespace wsedge::http {

namespace {

void put(Buffer& out, std::string_view s) {
  out.append(s.data(), s.size());
}

void put_number(Buffer& out, uint64_t v) {
  char digits[24];
  auto [end, ec] = std::to_chars(digits, digits + sizeof digits, v);
  (void)ec;  // 24 bytes hold any uint64_t
  out.append(digits, static_cast<size_t>(end - digits));
}

const char* connection_value(ConnectionHeader c) {
  switch (c) {
    case ConnectionHeader::kClose:
      return "close";
    case ConnectionHeader::kKeepAlive:
      return "keep-alive";
    case ConnectionHeader::kNone:
      break;
  }
  return nullptr;
}

}  // namespace

std::string_view reason_phrase(int status) {
  switch (status) {
    case 101:
      return "Switching Protocols";
    case 200:
      return "OK";
    case 204:
      return "No Content";
    case 304:
      return "Not Modified";
    case 400:
      return "Bad Request";
    case 401:
      return "Unauthorized";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 408:
      return "Request Timeout";
    case 413:
      return "Content Too Large";
    case 414:
      return "URI Too Long";
    case 421:
      return "Misdirected Request";
    case 426:
      return "Upgrade Required";
    case 431:
      return "Request Header Fields Too Large";
    case 500:
      return "Internal Server Error";
    case 501:
      return "Not Implemented";
    case 503:
      return "Service Unavailable";
    case 505:
      return "HTTP Version Not Supported";
    default:
      return "Unknown";
  }
}

void write_status_line(Buffer& out, int status) {
  put(out, "HTTP/1.1 ");
  // RFC 9110 §15: a status code is exactly three digits.
  char code[3] = {static_cast<char>('0' + status / 100 % 10),
                  static_cast<char>('0' + status / 10 % 10), static_cast<char>('0' + status % 10)};
  out.append(code, 3);
  put(out, " ");
  put(out, reason_phrase(status));
  put(out, "\r\nServer: wsedge\r\n");
}

void write_header(Buffer& out, std::string_view name, std::string_view value) {
  put(out, name);
  put(out, ": ");
  put(out, value);
  put(out, "\r\n");
}

void write_header(Buffer& out, std::string_view name, uint64_t value) {
  put(out, name);
  put(out, ": ");
  put_number(out, value);
  put(out, "\r\n");
}

void write_date_header(Buffer& out, std::time_t now) {
  static constexpr std::array<const char*, 7> kDays = {"Sun", "Mon", "Tue", "Wed",
                                                       "Thu", "Fri", "Sat"};
  static constexpr std::array<const char*, 12> kMonths = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                          "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  std::tm tm{};
  gmtime_r(&now, &tm);
  // IMF-fixdate is fixed-width, so the English names cannot come from the locale.
  char date[40];
  int n = std::snprintf(date, sizeof date, "%s, %02d %s %04d %02d:%02d:%02d GMT",
                        kDays[static_cast<size_t>(tm.tm_wday) % 7], tm.tm_mday,
                        kMonths[static_cast<size_t>(tm.tm_mon) % 12], tm.tm_year + 1900, tm.tm_hour,
                        tm.tm_min, tm.tm_sec);
  write_header(out, "Date", std::string_view(date, n > 0 ? static_cast<size_t>(n) : 0));
}

void end_head(Buffer& out) {
  put(out, "\r\n");
}

void write_head(Buffer& out, const ResponseHead& head, uint64_t content_length) {
  write_status_line(out, head.status);
  if (!head.content_type.empty()) write_header(out, "Content-Type", head.content_type);
  write_header(out, "Content-Length", content_length);
  if (!head.cache_control.empty()) write_header(out, "Cache-Control", head.cache_control);
  if (const char* c = connection_value(head.connection)) write_header(out, "Connection", c);
  for (std::string_view line : head.extra) {
    put(out, line);
    put(out, "\r\n");
  }
  end_head(out);
}

void write_response(Buffer& out, const ResponseHead& head, std::span<const uint8_t> body) {
  write_head(out, head, body.size());
  // RFC 9110 §9.3.2: a response to HEAD carries the GET headers but never a body.
  if (!head.head_only) out.append(body);
}

void write_error(Buffer& out, int status, std::string_view reason, bool close, bool head_only) {
  // One line of text: control bytes would let a reason inject header lines or more.
  char body[kMaxErrorText + 1];
  size_t n = std::min(reason.size(), kMaxErrorText);
  for (size_t i = 0; i < n; ++i) {
    auto c = static_cast<uint8_t>(reason[i]);
    body[i] = (c < 0x20 || c == 0x7F) ? ' ' : static_cast<char>(c);
  }
  body[n++] = '\n';
  std::string_view allow[] = {"Allow: GET, HEAD"};
  std::string_view challenge[] = {"WWW-Authenticate: Bearer"};
  ResponseHead head;
  head.status = status;
  head.content_type = "text/plain; charset=utf-8";
  head.connection = close ? ConnectionHeader::kClose : ConnectionHeader::kNone;
  head.head_only = head_only;
  // RFC 9110 §15.5.6: a 405 response MUST carry an Allow header.
  if (status == 405) head.extra = allow;
  // RFC 9110 §11.6.1: a 401 response MUST carry a WWW-Authenticate challenge; the only
  // credential wsedge checks is a bearer token (the /exec route's).
  if (status == 401) head.extra = challenge;
  write_response(out, head, {reinterpret_cast<const uint8_t*>(body), n});
}

}  // namespace wsedge::http
