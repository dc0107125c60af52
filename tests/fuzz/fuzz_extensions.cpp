// Fuzz target: Sec-WebSocket-Extensions parsing and permessage-deflate negotiation
// (ws/extensions.h, RFC 6455 §9.1, RFC 7692 §7).
//
// Input: byte 0 picks the server's policy; the rest is up to four header values separated
// by '\n' (a byte no field value can hold). Invariants:
// - ExtensionList ends, yields at most one element per comma plus one, and every view it
//   returns points into the value; a valid element's name and parameter names are tokens.
// - negotiate_deflate accepts exactly when a reference reading of RFC 7692 §7 finds an
//   acceptable permessage-deflate offer, and its answer obeys that first offer: windows in
//   8..15 and never above what was offered, client_max_window_bits only when offered,
//   server_no_context_takeover when asked. The answer re-parses as one valid element.
// - without quotes, several header values negotiate like their comma-joined list (§9.1).
#include <algorithm>
#include <string>
#include <vector>

#include "tests/fuzz/fuzz_check.h"
#include "ws/extensions.h"

using namespace wsedge;
using namespace wsedge::ws;
using wsedge::fuzz::points_into;

namespace {

DeflateServerPolicy pick_policy(uint8_t b) {
  DeflateServerPolicy p;
  p.enabled = (b & 0x80) == 0;
  p.max_window_bits = 8 + (b & 7);  // 8..15
  p.no_context_takeover = (b & 8) != 0;
  p.client_max_window_bits = 8 + ((b >> 4) & 7);  // 8..15
  p.client_no_context_takeover = (b & 0x40) != 0;
  return p;
}

bool is_tchar(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
         (c != '\0' && std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos);
}
bool is_token(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (!is_tchar(c)) return false;
  }
  return true;
}

std::string unescaped(const ExtensionParam& p) {
  char buf[256];
  const size_t n = unescape_value(p, buf);
  FUZZ_CHECK(n <= sizeof buf + 1);
  if (n > sizeof buf) return std::string(300, 'x');  // too long for any meaning here
  return {buf, n};
}

// RFC 7692 §7.1.2.1: 1*DIGIT without a leading zero, 8..15. 0: not such a value.
int bits_of(const std::string& v) {
  for (int bits = 8; bits <= 15; ++bits) {
    if (v == std::to_string(bits)) return bits;
  }
  return 0;
}

struct Offer {
  bool snct = false, cnct = false, cmwb = false;
  int smwb = 0, cmwb_value = 0;
};

// RFC 7692 §7: known parameters only, each at most once, each with a legal value.
bool acceptable(const ExtensionOffer& e, Offer* o) {
  if (!e.valid || e.name != "permessage-deflate") return false;
  std::vector<std::string_view> seen;
  for (size_t i = 0; i < e.param_count; ++i) {
    const ExtensionParam& p = e.params[i];
    for (std::string_view s : seen) {
      if (s == p.name) return false;
    }
    seen.push_back(p.name);
    if (p.name == "server_no_context_takeover" && !p.has_value) {
      o->snct = true;
    } else if (p.name == "client_no_context_takeover" && !p.has_value) {
      o->cnct = true;
    } else if (p.name == "server_max_window_bits" && p.has_value && bits_of(unescaped(p))) {
      o->smwb = bits_of(unescaped(p));
    } else if (p.name == "client_max_window_bits" && (!p.has_value || bits_of(unescaped(p)) != 0)) {
      o->cmwb = true;
      o->cmwb_value = p.has_value ? bits_of(unescaped(p)) : 0;
    } else {
      return false;
    }
  }
  return true;
}

void check_list(std::string_view value, bool* found, Offer* first) {
  ExtensionList list(value);
  ExtensionOffer e;
  size_t elements = 0;
  const size_t commas = static_cast<size_t>(std::count(value.begin(), value.end(), ','));
  const auto bytes = wsedge::fuzz::as_bytes(value);
  while (list.next(&e)) {
    FUZZ_CHECK(++elements <= commas + 1);
    FUZZ_CHECK(e.param_count <= kMaxExtensionParams);
    FUZZ_CHECK(points_into(e.name, bytes));
    if (e.valid) FUZZ_CHECK(is_token(e.name));
    for (size_t i = 0; i < e.param_count; ++i) {
      const ExtensionParam& p = e.params[i];
      FUZZ_CHECK(points_into(p.name, bytes) && points_into(p.value, bytes));
      FUZZ_CHECK(is_token(p.name));
      FUZZ_CHECK(p.has_value || (p.value.empty() && !p.quoted));
      // RFC 6455 §9.1: a value is a token, quoted or not (after unescaping).
      if (p.has_value) FUZZ_CHECK(is_token(p.quoted ? unescaped(p) : std::string(p.value)));
    }
    Offer o;
    if (!*found && acceptable(e, &o)) {
      *found = true;
      *first = o;
    }
  }
  FUZZ_CHECK(!list.next(&e));  // stays exhausted
}

void check_answer(const NegotiationResult& r, const Offer& o, const DeflateServerPolicy& p) {
  const DeflateConfig& c = r.config;
  FUZZ_CHECK(c.server_max_window_bits >= 8 && c.server_max_window_bits <= 15);
  FUZZ_CHECK(c.client_max_window_bits >= 8 && c.client_max_window_bits <= 15);
  FUZZ_CHECK(c.server_max_window_bits <= p.max_window_bits);
  if (o.smwb != 0) FUZZ_CHECK(c.server_max_window_bits <= o.smwb);  // §7.1.2.1
  if (o.snct) FUZZ_CHECK(c.server_no_context_takeover);             // §7.1.1.1
  if (!o.cmwb) FUZZ_CHECK(c.client_max_window_bits == 15);          // §7.1.2.2
  if (o.cmwb_value != 0) FUZZ_CHECK(c.client_max_window_bits <= o.cmwb_value);
  if (o.cnct || p.client_no_context_takeover) FUZZ_CHECK(c.client_no_context_takeover);

  const std::string header(r.header());
  FUZZ_CHECK(header.size() <= 128 && header.starts_with("permessage-deflate"));
  ExtensionList again(header);
  ExtensionOffer e;
  FUZZ_CHECK(again.next(&e) && e.valid && e.name == "permessage-deflate");
  FUZZ_CHECK(!again.next(&e));
  Offer answered;
  FUZZ_CHECK(acceptable(e, &answered));  // the answer uses the offer's own grammar
  FUZZ_CHECK(answered.snct == c.server_no_context_takeover);
  FUZZ_CHECK(answered.cnct == c.client_no_context_takeover);
  FUZZ_CHECK(answered.cmwb == o.cmwb);  // §7.1.2.2: answered only when offered
  if (o.cmwb) FUZZ_CHECK(answered.cmwb_value == c.client_max_window_bits);
  FUZZ_CHECK(answered.smwb == 0 ? c.server_max_window_bits == 15
                                : answered.smwb == c.server_max_window_bits);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const DeflateServerPolicy policy = pick_policy(data[0]);
  std::vector<std::string> values;  // each in a block of its own: over-reads are caught
  std::string_view rest(reinterpret_cast<const char*>(data + 1), size - 1);
  while (values.size() < 4) {
    const size_t nl = rest.find('\n');
    values.emplace_back(rest.substr(0, nl));
    if (nl == std::string_view::npos) break;
    rest.remove_prefix(nl + 1);
  }
  std::vector<std::string_view> views(values.begin(), values.end());

  bool found = false;
  Offer first;
  for (std::string_view v : views)
    check_list(v, &found, &first);
  const NegotiationResult r = negotiate_deflate(views, policy);
  FUZZ_CHECK(r.accepted() == (found && policy.enabled));
  FUZZ_CHECK(r.accepted() == !r.header().empty());
  if (r.accepted()) check_answer(r, first, policy);

  bool plain = true;
  std::string joined;
  for (std::string_view v : views) {
    plain = plain && v.find_first_of("\"\\") == std::string_view::npos;
    joined += (joined.empty() ? "" : ", ") + std::string(v);
  }
  if (plain) {
    const NegotiationResult j = negotiate_deflate(joined, policy);
    FUZZ_CHECK(j.header() == r.header());
  }
  return 0;
}
