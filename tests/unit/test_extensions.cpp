#include <doctest/doctest.h>

#include <string>
#include <string_view>
#include <vector>

#include "ws/extensions.h"

using wsedge::ws::DeflateServerPolicy;
using wsedge::ws::ExtensionList;
using wsedge::ws::ExtensionOffer;
using wsedge::ws::negotiate_deflate;

namespace {

constexpr std::string_view kDeclined = "";

struct Row {
  std::string name;
  std::string_view offer;
  std::string_view answer;  // kDeclined: no header
};

std::string answer_to(std::string_view offer, const DeflateServerPolicy& policy = {}) {
  auto r = negotiate_deflate(offer, policy);
  CHECK(r.accepted() == !r.header().empty());
  return std::string(r.header());
}

}  // namespace

TEST_CASE("negotiate_deflate: each offer gets the exact answer (default policy)") {
  const Row rows[] = {
      {"bare offer", "permessage-deflate", "permessage-deflate"},
      {"client_max_window_bits without value", "permessage-deflate; client_max_window_bits",
       "permessage-deflate; client_max_window_bits=15"},
      {"client_max_window_bits=10 is honoured", "permessage-deflate; client_max_window_bits=10",
       "permessage-deflate; client_max_window_bits=10"},
      {"client_no_context_takeover echoed", "permessage-deflate; client_no_context_takeover",
       "permessage-deflate; client_no_context_takeover"},
      {"server_no_context_takeover agreed", "permessage-deflate; server_no_context_takeover",
       "permessage-deflate; server_no_context_takeover"},
      {"server_max_window_bits=9", "permessage-deflate; server_max_window_bits=9",
       "permessage-deflate; server_max_window_bits=9"},
      {"server_max_window_bits=8 accepted", "permessage-deflate; server_max_window_bits=8",
       "permessage-deflate; server_max_window_bits=8"},
      {"server_max_window_bits=15", "permessage-deflate; server_max_window_bits=15",
       "permessage-deflate; server_max_window_bits=15"},
      {"autobahn 13.2 style",
       "permessage-deflate; client_no_context_takeover; client_max_window_bits",
       "permessage-deflate; client_no_context_takeover; client_max_window_bits=15"},
      {"autobahn 13.3 style",
       "permessage-deflate; server_max_window_bits=8; client_max_window_bits",
       "permessage-deflate; server_max_window_bits=8; client_max_window_bits=15"},
      {"all four",
       "permessage-deflate; server_no_context_takeover; client_no_context_takeover; "
       "server_max_window_bits=12; client_max_window_bits=11",
       "permessage-deflate; server_no_context_takeover; client_no_context_takeover; "
       "server_max_window_bits=12; client_max_window_bits=11"},
      {"parameter order does not matter",
       "permessage-deflate; client_max_window_bits=9; server_no_context_takeover",
       "permessage-deflate; server_no_context_takeover; client_max_window_bits=9"},
      {"quoted value", "permessage-deflate; server_max_window_bits=\"10\"",
       "permessage-deflate; server_max_window_bits=10"},
      {"quoted value with a quoted-pair", "permessage-deflate; client_max_window_bits=\"1\\2\"",
       "permessage-deflate; client_max_window_bits=12"},
      {"no spaces", "permessage-deflate;client_max_window_bits=13;server_no_context_takeover",
       "permessage-deflate; server_no_context_takeover; client_max_window_bits=13"},
      {"spaces and tabs everywhere",
       " \tpermessage-deflate \t; \tserver_max_window_bits \t= \t10 \t, ",
       "permessage-deflate; server_max_window_bits=10"},
      {"first acceptable offer wins",
       "permessage-deflate; server_max_window_bits=10, permessage-deflate",
       "permessage-deflate; server_max_window_bits=10"},
      {"bad first offer skipped",
       "permessage-deflate; server_max_window_bits=16, permessage-deflate; "
       "client_max_window_bits",
       "permessage-deflate; client_max_window_bits=15"},
      {"unknown extensions ignored",
       "x-webkit-deflate-frame, foo; bar=1, permessage-deflate; client_no_context_takeover",
       "permessage-deflate; client_no_context_takeover"},
      {"malformed element then a good one", "foo; =1, permessage-deflate", "permessage-deflate"},
      {"empty list elements ignored (RFC 9110 5.6.1)", ", ,permessage-deflate,,",
       "permessage-deflate"},
      // "x,y" is no token, so foo is malformed; the walk resumes after the quoted comma.
      {"comma inside a quoted value of another extension", "foo; a=\"x,y\", permessage-deflate",
       "permessage-deflate"},
      {"unknown extension with a quoted value", "foo; a=\"xy\", permessage-deflate",
       "permessage-deflate"},
      // Declined offers.
      {"empty header", "", kDeclined},
      {"only commas", ",,,", kDeclined},
      {"other extension only", "x-webkit-deflate-frame", kDeclined},
      {"unknown parameter", "permessage-deflate; foo", kDeclined},
      {"unknown parameter with value", "permessage-deflate; foo=1", kDeclined},
      {"duplicate parameter",
       "permessage-deflate; server_no_context_takeover; "
       "server_no_context_takeover",
       kDeclined},
      {"duplicate window bits",
       "permessage-deflate; client_max_window_bits=10; client_max_window_bits=10", kDeclined},
      {"duplicate with and without value",
       "permessage-deflate; client_max_window_bits; client_max_window_bits=10", kDeclined},
      {"window bits 7", "permessage-deflate; server_max_window_bits=7", kDeclined},
      {"window bits 16", "permessage-deflate; client_max_window_bits=16", kDeclined},
      {"window bits leading zero", "permessage-deflate; server_max_window_bits=08", kDeclined},
      {"window bits 0", "permessage-deflate; server_max_window_bits=0", kDeclined},
      {"window bits sign", "permessage-deflate; server_max_window_bits=+9", kDeclined},
      {"window bits quoted with space", "permessage-deflate; server_max_window_bits=\"1 0\"",
       kDeclined},
      {"window bits empty quotes", "permessage-deflate; server_max_window_bits=\"\"", kDeclined},
      {"window bits hex", "permessage-deflate; server_max_window_bits=0xa", kDeclined},
      {"server_max_window_bits needs a value", "permessage-deflate; server_max_window_bits",
       kDeclined},
      {"no_context_takeover with value", "permessage-deflate; server_no_context_takeover=1",
       kDeclined},
      {"client_no_context_takeover with value",
       "permessage-deflate; client_no_context_takeover=\"x\"", kDeclined},
      {"trailing semicolon", "permessage-deflate;", kDeclined},
      {"double semicolon", "permessage-deflate;; client_max_window_bits", kDeclined},
      {"semicolon equals", "permessage-deflate;=", kDeclined},
      {"equals without value", "permessage-deflate; client_max_window_bits=", kDeclined},
      {"unbalanced quote", "permessage-deflate; client_max_window_bits=\"10", kDeclined},
      {"unbalanced quote eats the rest", "foo; a=\"x, permessage-deflate", kDeclined},
      {"empty name with params", "; client_max_window_bits", kDeclined},
      {"name case differs", "Permessage-Deflate", kDeclined},
      {"garbage character", "permessage-deflate @", kDeclined},
      {"two names without separator", "permessage-deflate foo", kDeclined},
      {"backslash at end of text", "permessage-deflate; a=\"\\", kDeclined},
  };
  for (const Row& row : rows) {
    CAPTURE(row.name);
    CHECK(answer_to(row.offer) == row.answer);
  }
}

TEST_CASE("negotiate_deflate: the config matches the answer") {
  auto r = negotiate_deflate(
      "permessage-deflate; server_no_context_takeover; server_max_window_bits=10; "
      "client_max_window_bits=12",
      DeflateServerPolicy{});
  REQUIRE(r.accepted());
  CHECK(r.config.server_no_context_takeover);
  CHECK_FALSE(r.config.client_no_context_takeover);
  CHECK(r.config.server_max_window_bits == 10);
  CHECK(r.config.client_max_window_bits == 12);

  auto plain = negotiate_deflate("permessage-deflate", DeflateServerPolicy{});
  CHECK(plain.config.server_max_window_bits == 15);
  CHECK(plain.config.client_max_window_bits == 15);  // not offered: the client may use 15
}

TEST_CASE("negotiate_deflate: several header values are one list, in order") {
  const std::string_view values[] = {"foo, permessage-deflate; server_max_window_bits=99",
                                     "permessage-deflate; server_max_window_bits=11",
                                     "permessage-deflate"};
  auto r = negotiate_deflate(values, DeflateServerPolicy{});
  CHECK(std::string(r.header()) == "permessage-deflate; server_max_window_bits=11");
}

TEST_CASE("negotiate_deflate: the server policy changes the answer") {
  struct PolicyRow {
    std::string name;
    DeflateServerPolicy policy;
    std::string_view offer;
    std::string_view answer;
  };
  DeflateServerPolicy off;
  off.enabled = false;
  DeflateServerPolicy small;
  small.max_window_bits = 10;
  DeflateServerPolicy nct;
  nct.no_context_takeover = true;
  DeflateServerPolicy client_small;
  client_small.client_max_window_bits = 9;
  DeflateServerPolicy client_nct;
  client_nct.client_no_context_takeover = true;
  const PolicyRow rows[] = {
      {"disabled declines", off, "permessage-deflate", kDeclined},
      {"own window announced", small, "permessage-deflate",
       "permessage-deflate; server_max_window_bits=10"},
      {"own window below the offer", small, "permessage-deflate; server_max_window_bits=12",
       "permessage-deflate; server_max_window_bits=10"},
      {"offer below own window", small, "permessage-deflate; server_max_window_bits=9",
       "permessage-deflate; server_max_window_bits=9"},
      {"server no context takeover", nct, "permessage-deflate; client_max_window_bits",
       "permessage-deflate; server_no_context_takeover; client_max_window_bits=15"},
      {"client window asked when offered", client_small,
       "permessage-deflate; client_max_window_bits",
       "permessage-deflate; client_max_window_bits=9"},
      {"client window never above its offer", client_small,
       "permessage-deflate; client_max_window_bits=8",
       "permessage-deflate; client_max_window_bits=8"},
      // RFC 7692 §7.1.2.2: not offered -> MUST NOT be in the answer, whatever the policy.
      {"client window not offered", client_small, "permessage-deflate", "permessage-deflate"},
      {"client no context takeover asked", client_nct, "permessage-deflate",
       "permessage-deflate; client_no_context_takeover"},
  };
  for (const PolicyRow& row : rows) {
    CAPTURE(row.name);
    CHECK(answer_to(row.offer, row.policy) == row.answer);
  }
  auto r = negotiate_deflate("permessage-deflate; client_max_window_bits", client_small);
  CHECK(r.config.client_max_window_bits == 9);
  CHECK(wsedge::ws::inflater_options(r.config).window_bits == 9);
  CHECK(wsedge::ws::deflater_options(r.config, client_small).window_bits == 15);
}

TEST_CASE("negotiate_deflate: the longest answer fits") {
  DeflateServerPolicy p;
  p.max_window_bits = 12;
  auto r = negotiate_deflate(
      "permessage-deflate; server_no_context_takeover; client_no_context_takeover; "
      "server_max_window_bits=15; client_max_window_bits=15",
      p);
  CHECK(std::string(r.header()) ==
        "permessage-deflate; server_no_context_takeover; client_no_context_takeover; "
        "server_max_window_bits=12; client_max_window_bits=15");
}

TEST_CASE("ExtensionList: elements, parameters and raw quoted values") {
  ExtensionList list("a; x=1; y=\"q\\\"\", b;z , c");
  ExtensionOffer e;
  REQUIRE(list.next(&e));
  CHECK_FALSE(e.valid);    // \" unescapes to a quote, which is not a token character
  REQUIRE(list.next(&e));  // resumes after the comma that follows the quoted-string
  CHECK(e.valid);
  CHECK(e.name == "b");
  REQUIRE(list.next(&e));
  CHECK(e.valid);
  CHECK(e.name == "c");
  CHECK_FALSE(list.next(&e));

  ExtensionList good("a; x=1; y=\"q\\r\", b;z");
  REQUIRE(good.next(&e));
  CHECK(e.valid);
  CHECK(e.name == "a");
  REQUIRE(e.param_count == 2);
  CHECK(e.params[0].name == "x");
  CHECK(e.params[0].value == "1");
  CHECK(e.params[1].quoted);
  CHECK(e.params[1].value == "q\\r");
  char buf[8];
  CHECK(wsedge::ws::unescape_value(e.params[1], buf) == 2);
  CHECK(std::string_view(buf, 2) == "qr");
  REQUIRE(good.next(&e));
  CHECK(e.name == "b");
  REQUIRE(e.param_count == 1);
  CHECK_FALSE(e.params[0].has_value);
  CHECK_FALSE(good.next(&e));
}

TEST_CASE("ExtensionList: too many parameters is malformed") {
  ExtensionOffer e;
  ExtensionList list("a;p1;p2;p3;p4;p5;p6;p7;p8;p9, b");
  REQUIRE(list.next(&e));
  CHECK_FALSE(e.valid);
  REQUIRE(list.next(&e));
  CHECK(e.name == "b");
}

TEST_CASE("negotiate_deflate: every prefix and every byte value, never a crash") {
  const std::string full =
      "x-webkit-deflate-frame, permessage-deflate; server_no_context_takeover; "
      "client_max_window_bits=\"10\"; server_max_window_bits=9, permessage-deflate";
  for (size_t n = 0; n <= full.size(); ++n) {
    auto r = negotiate_deflate(std::string_view(full).substr(0, n), DeflateServerPolicy{});
    CHECK(r.header().size() <= 128);
  }
  // The full value's first permessage-deflate offer is accepted.
  CHECK(answer_to(full) ==
        "permessage-deflate; server_no_context_takeover; server_max_window_bits=9; "
        "client_max_window_bits=10");
  // Replace each byte by every value: the parser must stay in bounds.
  std::string mutated = full;
  for (size_t i = 0; i < full.size(); i += 7) {
    for (int c = 0; c < 256; ++c) {
      mutated[i] = static_cast<char>(c);
      auto r = negotiate_deflate(mutated, DeflateServerPolicy{});
      CHECK(r.header().size() <= 128);
    }
    mutated[i] = full[i];
  }
}
