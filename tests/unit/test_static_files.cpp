// Tests for http/static_files: a temporary web root with files, directories, a FIFO and
// symlinks pointing inside and outside it.
#include <doctest/doctest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <string>

#include "http/parser.h"
#include "http/static_files.h"

using namespace wsedge::http;
using wsedge::Buffer;

namespace {

void write_file(const std::string& path, const std::string& content) {
  std::ofstream f(path, std::ios::binary);
  f << content;
}

// <tmp>/root is the web root; <tmp>/root-other and <tmp>/outside hold what must stay hidden.
struct WebRoot {
  std::string base;
  std::string root;
  WebRoot() {
    char tmpl[] = "/tmp/wsedge-static-XXXXXX";
    REQUIRE(mkdtemp(tmpl) != nullptr);
    base = tmpl;
    root = base + "/root";
    for (const char* d : {"/root", "/root/sub", "/root/empty", "/root-other", "/outside"})
      REQUIRE(mkdir((base + d).c_str(), 0755) == 0);
    write_file(root + "/index.html", "<h1>home</h1>");
    write_file(root + "/app.js", "console.log(1)");
    write_file(root + "/a b.txt", "spaced");
    write_file(root + "/sub/index.html", "<h1>sub</h1>");
    write_file(root + "/big.bin", std::string(2000, 'x'));
    write_file(base + "/outside/secret.txt", "secret");
    write_file(base + "/root-other/secret.txt", "sibling secret");
    REQUIRE(symlink("app.js", (root + "/inlink.js").c_str()) == 0);
    REQUIRE(symlink("../outside/secret.txt", (root + "/escape.txt").c_str()) == 0);
    REQUIRE(symlink("../outside", (root + "/escdir").c_str()) == 0);
    REQUIRE(symlink("../root-other/secret.txt", (root + "/sibling.txt").c_str()) == 0);
    REQUIRE(mkfifo((root + "/fifo").c_str(), 0644) == 0);
  }
  ~WebRoot() { REQUIRE(std::system(("rm -rf '" + base + "'").c_str()) == 0); }
};

struct Served {
  ServeResult result;
  std::string wire;
  std::string body() const {
    size_t end = wire.find("\r\n\r\n");
    return end == std::string::npos ? std::string() : wire.substr(end + 4);
  }
};

Served serve(const StaticFiles& files, const std::string& method, const std::string& target,
             const std::string& version = "HTTP/1.1") {
  std::string head = method + " " + target + " " + version + "\r\nHost: t\r\n\r\n";
  Request req;
  ParseResult r = parse_request({reinterpret_cast<const uint8_t*>(head.data()), head.size()}, &req);
  REQUIRE(r.status == ParseStatus::kDone);
  Buffer out;
  Served s;
  s.result = files.serve(req, out);
  s.wire.assign(reinterpret_cast<const char*>(out.data()), out.readable());
  return s;
}

}  // namespace

TEST_CASE("StaticFiles serves, maps directories, and refuses escapes") {
  WebRoot web;
  StaticFiles files(web.root, 1000);
  REQUIRE(files.check().ok());
  struct Row {
    const char* name;
    const char* method;
    const char* target;
    int status;
    const char* body;  // exact body, or nullptr to skip
  };
  const Row rows[] = {
      {"root is index.html", "GET", "/", 200, "<h1>home</h1>"},
      {"file", "GET", "/app.js", 200, "console.log(1)"},
      {"query ignored", "GET", "/app.js?v=3", 200, "console.log(1)"},
      {"percent-encoded name", "GET", "/a%20b.txt", 200, "spaced"},
      {"directory with slash", "GET", "/sub/", 200, "<h1>sub</h1>"},
      {"directory without slash", "GET", "/sub", 200, "<h1>sub</h1>"},
      {"dot and empty segments", "GET", "//./sub//./index.html", 200, "<h1>sub</h1>"},
      {"symlink inside root", "GET", "/inlink.js", 200, "console.log(1)"},
      {"absolute-form", "GET", "http://t/app.js", 200, "console.log(1)"},
      {"HEAD has no body", "HEAD", "/app.js", 200, ""},
      {"missing", "GET", "/nope.html", 404, nullptr},
      {"directory without index", "GET", "/empty/", 404, nullptr},
      {"POST", "POST", "/", 405, nullptr},
      {"DELETE", "DELETE", "/app.js", 405, nullptr},
      {"dot-dot", "GET", "/../outside/secret.txt", 403, nullptr},
      {"dot-dot inside", "GET", "/sub/../../outside/secret.txt", 403, nullptr},
      {"encoded dot-dot lower", "GET", "/%2e%2e/outside/secret.txt", 403, nullptr},
      {"encoded dot-dot upper", "GET", "/%2E%2E/outside/secret.txt", 403, nullptr},
      {"encoded dot-dot mixed", "GET", "/.%2E/outside/secret.txt", 403, nullptr},
      {"encoded slash", "GET", "/sub%2f..%2f..%2foutside/secret.txt", 403, nullptr},
      {"NUL", "GET", "/app.js%00.html", 403, nullptr},
      {"backslash", "GET", "/..\\outside", 403, nullptr},
      {"encoded backslash", "GET", "/%5c..%5coutside", 403, nullptr},
      {"symlink to outside file", "GET", "/escape.txt", 403, nullptr},
      {"symlink to outside dir", "GET", "/escdir/secret.txt", 403, nullptr},
      {"symlink to sibling with root as prefix", "GET", "/sibling.txt", 403, nullptr},
      {"FIFO", "GET", "/fifo", 403, nullptr},
      {"bad escape", "GET", "/a%2", 400, nullptr},
      {"bad escape digits", "GET", "/a%zz", 400, nullptr},
      {"asterisk", "GET", "*", 400, nullptr},
      {"over the size limit", "GET", "/big.bin", 500, nullptr},
  };
  for (const Row& row : rows) {
    std::string name = row.name;
    CAPTURE(name);
    Served s = serve(files, row.method, row.target);
    CHECK(s.result.status == row.status);
    CHECK(s.wire.find("HTTP/1.1 " + std::to_string(row.status) + " ") == 0);
    if (row.body != nullptr) CHECK(s.body() == row.body);
    // Nothing of what lies outside the root ever reaches the wire.
    CHECK(s.body() != "secret");
    CHECK(s.body() != "sibling secret");
  }
}

TEST_CASE("StaticFiles headers: type, length, cache, connection, Allow") {
  WebRoot web;
  StaticFiles files(web.root);
  Served s = serve(files, "GET", "/app.js");
  CHECK(s.wire.find("\r\nContent-Type: text/javascript; charset=utf-8\r\n") != std::string::npos);
  CHECK(s.wire.find("\r\nContent-Length: 14\r\n") != std::string::npos);
  CHECK(s.wire.find("\r\nCache-Control: no-cache\r\n") != std::string::npos);
  CHECK(s.wire.find("Connection:") == std::string::npos);
  CHECK(s.result.body_bytes == 14);

  s = serve(files, "HEAD", "/");
  CHECK(s.wire.find("\r\nContent-Length: 13\r\n") != std::string::npos);  // the GET's length
  CHECK(s.body().empty());
  CHECK(s.result.body_bytes == 0);

  s = serve(files, "GET", "/", "HTTP/1.0");
  CHECK(s.wire.find("\r\nConnection: close\r\n") != std::string::npos);

  s = serve(files, "PUT", "/");
  CHECK(s.wire.find("\r\nAllow: GET, HEAD\r\n") != std::string::npos);
}

TEST_CASE("StaticFiles reports a root that does not resolve") {
  StaticFiles files("/nonexistent/wsedge/web");
  CHECK(!files.check().ok());
  Served s = serve(files, "GET", "/");
  CHECK(s.result.status == 500);
  StaticFiles file_root("/etc/hostname");
  CHECK(!file_root.check().ok());
}

TEST_CASE("decode_request_path normalises and refuses") {
  struct Row {
    const char* in;
    int status;
    const char* out;
    bool directory;
  };
  const Row rows[] = {
      {"/", 0, "", true},          {"/a/b", 0, "a/b", false},
      {"/a/b/", 0, "a/b", true},   {"/a/./b/.", 0, "a/b", true},
      {"/%41%62", 0, "Ab", false}, {"/a..b/..c", 0, "a..b/..c", false},
      {"/..", 403, "", false},     {"/a/%2E%2e", 403, "", false},
      {"/%00", 403, "", false},    {"/%", 400, "", false},
      {"/%4", 400, "", false},     {"/%g0", 400, "", false},
      {"a", 400, "", false},
  };
  for (const Row& r : rows) {
    CAPTURE(r.in);
    char buf[64];
    DecodedPath d = decode_request_path(r.in, buf);
    CHECK(d.status == r.status);
    if (r.status == 0) {
      CHECK(std::string(buf, d.length) == r.out);
      CHECK(d.directory == r.directory);
    }
  }
  char tiny[4];
  CHECK(decode_request_path("/abcdef", tiny).status == 403);
}
