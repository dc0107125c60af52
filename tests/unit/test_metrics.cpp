// The metrics page's parts: the exposition writer (core/exposition.h) against the text
// format's rules (escaping, cumulative buckets, number spelling), the page's answers over
// HttpSession (200/HEAD/404/405), the per-status counts HttpSession keeps, and the
// close-code table. The whole page over real sockets: tests/interop/test_metrics.py.
#include <doctest/doctest.h>

#include <memory>
#include <string>

#include "core/exposition.h"
#include "http/http_session.h"
#include "server/metrics.h"
#include "tests/support/fake_transport.h"
#include "ws/session.h"

using namespace wsedge;

namespace {

std::string text(const Buffer& b) {
  return {reinterpret_cast<const char*>(b.view().data()), b.readable()};
}

std::string label_value(std::string_view v) {
  Buffer b;
  prom::append_label_value(b, v);
  return text(b);
}

struct NoUpgrades final : http::UpgradeHandler {
  std::unique_ptr<Protocol> on_upgrade(Transport& t, const http::Request&) override {
    t.close();
    return nullptr;
  }
};

// What a MetricsPage answers to `request` over an HttpSession.
std::string ask(const http::RequestHandler& page, const std::string& request,
                http::StatusCounts* counts = nullptr) {
  http::HttpOptions options;
  options.responses = counts;
  NoUpgrades upgrades;
  test::FakeTransport t;
  t.protocol = std::make_unique<http::HttpSession>(options, &page, upgrades);
  t.protocol->on_start(t);
  t.feed(request);
  return t.sent_text();
}

}  // namespace

TEST_CASE("metrics exposition: label values escape backslash, double quote and newline") {
  CHECK(label_value("plain") == "plain");
  CHECK(label_value("") == "");
  CHECK(label_value("a\\b") == "a\\\\b");
  CHECK(label_value("say \"hi\"") == "say \\\"hi\\\"");
  CHECK(label_value("two\nlines") == "two\\nlines");
  CHECK(label_value("\\\"\n") == "\\\\\\\"\\n");
  // Everything else is copied as it is: UTF-8, tabs, carriage returns.
  CHECK(label_value("caf\xc3\xa9\t\r") == "caf\xc3\xa9\t\r");
}

TEST_CASE("metrics exposition: HELP text escapes backslash and newline, not quotes") {
  Buffer b;
  prom::append_help_text(b, "a \"b\" \\ c\nd");
  CHECK(text(b) == "a \"b\" \\\\ c\\nd");
}

TEST_CASE("metrics exposition: names follow the format's grammar") {
  CHECK(prom::valid_metric_name("wsedge_messages_total"));
  CHECK(prom::valid_metric_name("a:b_c9"));
  CHECK_FALSE(prom::valid_metric_name("9lives"));
  CHECK_FALSE(prom::valid_metric_name(""));
  CHECK_FALSE(prom::valid_metric_name("has-dash"));
  CHECK(prom::valid_label_name("le"));
  CHECK_FALSE(prom::valid_label_name("a:b"));
}

TEST_CASE("metrics exposition: a family is HELP, TYPE, then samples with quoted labels") {
  Buffer b;
  prom::Writer w(b);
  w.family("wsedge_x_total", prom::Type::kCounter, "Things.");
  w.sample("wsedge_x_total", {}, uint64_t{3});
  w.sample("wsedge_x_total", {{"route", "/a\"b"}, {"code", "1000"}},
           uint64_t{18446744073709551615u});
  const std::span<const prom::Label> none;
  w.family("wsedge_y", prom::Type::kGauge, "Y.");
  w.sample("wsedge_y", none, 0.25);
  CHECK(text(b) ==
        "# HELP wsedge_x_total Things.\n"
        "# TYPE wsedge_x_total counter\n"
        "wsedge_x_total 3\n"
        "wsedge_x_total{route=\"/a\\\"b\",code=\"1000\"} 18446744073709551615\n"
        "# HELP wsedge_y Y.\n"
        "# TYPE wsedge_y gauge\n"
        "wsedge_y 0.25\n");
}

TEST_CASE("metrics exposition: histogram buckets are cumulative and +Inf equals _count") {
  Buffer b;
  prom::Writer w(b);
  const double bounds[] = {0.001, 0.01, 1};
  const uint64_t counts[] = {2, 0, 5, 1};  // per bucket; the last above 1
  w.histogram("h", bounds, counts, 3.5);
  CHECK(text(b) ==
        "h_bucket{le=\"0.001\"} 2\n"
        "h_bucket{le=\"0.01\"} 2\n"
        "h_bucket{le=\"1\"} 7\n"
        "h_bucket{le=\"+Inf\"} 8\n"
        "h_sum 3.5\n"
        "h_count 8\n");
}

TEST_CASE("metrics exposition: numbers read back exactly") {
  Buffer b;
  prom::Writer w(b);
  const std::span<const prom::Label> none;
  w.sample("a", none, 1e-6);
  w.sample("b", none, 0.1 + 0.2);  // needs 17 digits
  CHECK(text(b) == "a 1e-06\nb 0.30000000000000004\n");
}

TEST_CASE("metrics page: GET and HEAD of its path, 405 for other methods, 404 elsewhere") {
  const MetricsPage page(
      "/metrics", [](Buffer& out) { out.append("x 1\n", 4); }, nullptr);
  http::StatusCounts counts;
  const std::string got = ask(page, "GET /metrics HTTP/1.1\r\nHost: localhost\r\n\r\n", &counts);
  CHECK(got.find("HTTP/1.1 200 OK\r\n") == 0);
  CHECK(got.find("Content-Type: text/plain; version=0.0.4; charset=utf-8\r\n") !=
        std::string::npos);
  CHECK(got.find("Content-Length: 4\r\n") != std::string::npos);
  CHECK(got.ends_with("\r\n\r\nx 1\n"));
  CHECK(counts.of(200) == 1);

  const std::string head = ask(page, "HEAD /metrics HTTP/1.1\r\nHost: localhost\r\n\r\n");
  CHECK(head.find("HTTP/1.1 200 OK\r\n") == 0);
  CHECK(head.find("Content-Length: 4\r\n") != std::string::npos);
  CHECK(head.ends_with("\r\n\r\n"));  // no body

  const std::string post = ask(page, "POST /metrics HTTP/1.1\r\nHost: localhost\r\n\r\n", &counts);
  CHECK(post.find("HTTP/1.1 405") == 0);
  CHECK(post.find("Allow: GET, HEAD\r\n") != std::string::npos);
  CHECK(counts.of(405) == 1);

  const std::string other = ask(page, "GET /metricsx HTTP/1.1\r\nHost: localhost\r\n\r\n", &counts);
  CHECK(other.find("HTTP/1.1 404") == 0);
  CHECK(counts.of(404) == 1);
  // The query is not part of the path: a scraper's ?x=y still gets the page.
  CHECK(ask(page, "GET /metrics?a=b HTTP/1.1\r\nHost: localhost\r\n\r\n").find("HTTP/1.1 200") ==
        0);
}

TEST_CASE("metrics page: on the WebSocket port every other path goes to the handler behind it") {
  struct Files final : http::RequestHandler {
    http::ServeResult serve(const http::Request&, Buffer& out) const override {
      const std::string_view r = "HTTP/1.1 204 No Content\r\n\r\n";
      out.append(r.data(), r.size());
      return {204, 0, ""};
    }
  } files;
  const MetricsPage page(
      "/m", [](Buffer& out) { out.append("y 2\n", 4); }, &files);
  CHECK(ask(page, "GET /index.html HTTP/1.1\r\nHost: localhost\r\n\r\n").find("HTTP/1.1 204") == 0);
  CHECK(ask(page, "GET /m HTTP/1.1\r\nHost: localhost\r\n\r\n").find("HTTP/1.1 200") == 0);
}

TEST_CASE("metrics: HttpSession counts its errors by status") {
  const MetricsPage page(
      "/metrics", [](Buffer&) {}, nullptr);
  http::StatusCounts counts;
  ask(page, "GET / HTTP/1.1\r\n\r\n", &counts);  // no Host: 400
  ask(page, "GET /metrics HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabc", &counts);
  CHECK(counts.of(400) == 1);
  CHECK(counts.of(413) == 1);
  CHECK(counts.of(99) == 0);
  counts.add(600);  // outside the table: ignored, not a crash
  CHECK(counts.of(600) == 0);
}

TEST_CASE("metrics: every close code a frame can carry has its own slot, and back") {
  using ws::CloseCodeCounts;
  for (uint16_t code : {1000, 1005, 1015, 3000, 4999}) {
    CAPTURE(code);
    CHECK(CloseCodeCounts::slot(code) < CloseCodeCounts::kSlots);
    CHECK(CloseCodeCounts::code(CloseCodeCounts::slot(code)) == code);
  }
  for (uint16_t code : {0, 999, 1016, 2999, 5000, 65535}) {
    CHECK(CloseCodeCounts::slot(code) == CloseCodeCounts::kSlots);
  }
  CloseCodeCounts c;
  c.add(4000);
  c.add(4000);
  c.add(2000);  // not countable: dropped
  CHECK(c.by_slot[CloseCodeCounts::slot(4000)] == 2);
}
