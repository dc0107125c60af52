#include "ws/extensions.h"

#include <algorithm>
#include <cstring>

#include "http/grammar.h"

namespace wsedge::ws {

namespace {

using http::is_tchar;
using http::scan_token;
using http::skip_ows;

// s[i] is the opening quote. Returns the index just past the closing quote, or npos when
// the string is unterminated or its unescaped content is not a token: RFC 6455 §9.1 says a
// quoted extension-param value must, after unescaping, conform to the token ABNF.
size_t scan_quoted(std::string_view s, size_t i) {
  size_t chars = 0;
  for (++i; i < s.size(); ++i) {
    char c = s[i];
    if (c == '"') return chars > 0 ? i + 1 : std::string_view::npos;  // token is 1*tchar
    if (c == '\\') {
      if (++i == s.size()) break;  // a backslash escaping the end of the text
      c = s[i];
    }
    if (!is_tchar(c)) return std::string_view::npos;
    ++chars;
  }
  return std::string_view::npos;
}

// Resynchronises after a syntax error: the index just past the next comma outside a
// quoted-string, or the end. An unbalanced quote swallows the rest of the value.
size_t skip_element(std::string_view s, size_t i) {
  bool quoted = false;
  for (; i < s.size(); ++i) {
    const char c = s[i];
    if (quoted) {
      if (c == '\\') {
        ++i;
      } else if (c == '"') {
        quoted = false;
      }
    } else if (c == '"') {
      quoted = true;
    } else if (c == ',') {
      return i + 1;
    }
  }
  return s.size();
}

// Parses `token ["=" (token | quoted-string)]` at i. Returns the index after it or npos.
size_t parse_param(std::string_view s, size_t i, ExtensionParam* p) {
  const size_t name_end = scan_token(s, i);
  if (name_end == i) return std::string_view::npos;  // ";" with no name, ";=", "; ;"
  p->name = s.substr(i, name_end - i);
  i = skip_ows(s, name_end);
  if (i == s.size() || s[i] != '=') return name_end;
  i = skip_ows(s, i + 1);
  if (i < s.size() && s[i] == '"') {
    const size_t end = scan_quoted(s, i);
    if (end == std::string_view::npos) return end;
    p->value = s.substr(i + 1, end - i - 2);
    p->quoted = true;
    p->has_value = true;
    return end;
  }
  const size_t end = scan_token(s, i);
  if (end == i) return std::string_view::npos;  // "name=" with no value
  p->value = s.substr(i, end - i);
  p->has_value = true;
  return end;
}

// Parses one element starting at i (its first non-blank character). Returns the index just
// past the element's comma (or the end) and sets out->valid.
size_t parse_element(std::string_view s, size_t i, ExtensionOffer* out) {
  const size_t name_end = scan_token(s, i);
  if (name_end == i) return skip_element(s, i);  // no extension name
  out->name = s.substr(i, name_end - i);
  i = name_end;
  for (;;) {
    i = skip_ows(s, i);
    if (i == s.size() || s[i] == ',') {
      out->valid = true;
      return i == s.size() ? i : i + 1;
    }
    if (s[i] != ';' || out->param_count == kMaxExtensionParams) return skip_element(s, i);
    ExtensionParam p;
    const size_t end = parse_param(s, skip_ows(s, i + 1), &p);
    if (end == std::string_view::npos) return skip_element(s, i + 1);
    out->params[out->param_count++] = p;
    i = end;
  }
}

// --- permessage-deflate -------------------------------------------------------------------

// One permessage-deflate offer's parameters (RFC 7692 §7.1). 0 means "absent".
struct DeflateOffer {
  bool server_no_context_takeover = false;
  bool client_no_context_takeover = false;
  int server_max_window_bits = 0;
  bool client_max_window_bits_present = false;
  int client_max_window_bits = 0;  // 0 when given without a value
};

// RFC 7692 §7.1.2.1/§7.1.2.2 ABNF: 1*DIGIT, no leading zero, 8..15 ("08", "7", "16" fail).
int window_bits_value(const ExtensionParam& p) {
  char v[3];
  const size_t n = unescape_value(p, v);
  if (n == 1 && (v[0] == '8' || v[0] == '9')) return v[0] - '0';
  if (n == 2 && v[0] == '1' && v[1] >= '0' && v[1] <= '5') return 10 + (v[1] - '0');
  return 0;
}

// Reads one offer; false when RFC 7692 §7 says the server MUST decline it: a parameter not
// defined for an offer, one with an invalid value, or one given twice.
bool read_deflate_offer(const ExtensionOffer& e, DeflateOffer* o) {
  unsigned seen = 0;
  for (size_t k = 0; k < e.param_count; ++k) {
    const ExtensionParam& p = e.params[k];
    unsigned bit;
    if (p.name == "server_no_context_takeover") {
      bit = 1;
      o->server_no_context_takeover = true;
      if (p.has_value) return false;  // §7.1.1.1: this parameter has no value
    } else if (p.name == "client_no_context_takeover") {
      bit = 2;
      o->client_no_context_takeover = true;
      if (p.has_value) return false;  // §7.1.1.2: no value
    } else if (p.name == "server_max_window_bits") {
      bit = 4;
      o->server_max_window_bits = window_bits_value(p);  // §7.1.2.1: a value is required
      if (!p.has_value || o->server_max_window_bits == 0) return false;
    } else if (p.name == "client_max_window_bits") {
      bit = 8;
      o->client_max_window_bits_present = true;  // §7.1.2.2: the value is optional
      if (p.has_value && (o->client_max_window_bits = window_bits_value(p)) == 0) return false;
    } else {
      return false;  // an unknown parameter
    }
    if (seen & bit) return false;  // the same parameter twice
    seen |= bit;
  }
  return true;
}

void append_number(NegotiationResult* r, int v) {
  char digits[2] = {static_cast<char>('0' + v / 10), static_cast<char>('0' + v % 10)};
  r->append_header(v >= 10 ? std::string_view(digits, 2) : std::string_view(digits + 1, 1));
}

// Builds the answer to an acceptable offer and its response header.
void accept_offer(const DeflateOffer& o, const DeflateServerPolicy& policy, NegotiationResult* r) {
  DeflateConfig& c = r->config;
  c.enabled = true;
  const int own_bits = std::clamp(policy.max_window_bits, 8, 15);
  // §7.1.1.1: an offer with server_no_context_takeover is accepted only by agreeing to it;
  // the server may also add it on its own.
  c.server_no_context_takeover = o.server_no_context_takeover || policy.no_context_takeover;
  // §7.1.1.2: the server may always ask the client not to take over context.
  c.client_no_context_takeover = o.client_no_context_takeover || policy.client_no_context_takeover;
  // §7.1.2.1: accepting server_max_window_bits=N means answering it with a value <= N; the
  // server may announce a smaller window than 15 even when not asked.
  c.server_max_window_bits =
      o.server_max_window_bits ? std::min(o.server_max_window_bits, own_bits) : own_bits;
  const bool send_server_bits = o.server_max_window_bits != 0 || own_bits < 15;
  // §7.1.2.2: client_max_window_bits MUST NOT be answered unless offered; if offered with a
  // value, the answer may use it (never more).
  c.client_max_window_bits = 15;
  if (o.client_max_window_bits_present) {
    const int asked = std::clamp(policy.client_max_window_bits, 8, 15);
    c.client_max_window_bits =
        o.client_max_window_bits ? std::min(o.client_max_window_bits, asked) : asked;
  }
  r->append_header("permessage-deflate");
  if (c.server_no_context_takeover) r->append_header("; server_no_context_takeover");
  if (c.client_no_context_takeover) r->append_header("; client_no_context_takeover");
  if (send_server_bits) {
    r->append_header("; server_max_window_bits=");
    append_number(r, c.server_max_window_bits);
  }
  if (o.client_max_window_bits_present) {
    r->append_header("; client_max_window_bits=");
    append_number(r, c.client_max_window_bits);
  }
}

}  // namespace

bool ExtensionList::next(ExtensionOffer* out) {
  for (;;) {
    const size_t i = skip_ows(rest_, 0);
    if (i == rest_.size()) {
      rest_ = {};
      return false;
    }
    if (rest_[i] == ',') {  // RFC 9110 §5.6.1: a recipient ignores empty list elements
      rest_.remove_prefix(i + 1);
      continue;
    }
    *out = ExtensionOffer{};
    rest_.remove_prefix(parse_element(rest_, i, out));
    return true;
  }
}

size_t unescape_value(const ExtensionParam& p, std::span<char> out) {
  size_t n = 0;
  for (size_t i = 0; i < p.value.size(); ++i) {
    char c = p.value[i];
    if (p.quoted && c == '\\' && i + 1 < p.value.size()) c = p.value[++i];
    if (n == out.size()) return out.size() + 1;
    out[n++] = c;
  }
  return n;
}

void NegotiationResult::append_header(std::string_view s) {
  const size_t n = std::min(s.size(), sizeof header_ - header_len_);
  std::memcpy(header_ + header_len_, s.data(), n);
  header_len_ += n;
}

NegotiationResult negotiate_deflate(std::span<const std::string_view> header_values,
                                    const DeflateServerPolicy& policy) {
  NegotiationResult r;
  if (!policy.enabled) return r;
  for (std::string_view value : header_values) {
    ExtensionList list(value);
    ExtensionOffer e;
    while (list.next(&e)) {
      // Other extensions (x-webkit-deflate-frame, ...) are not ours: RFC 6455 §9.1 lets the
      // server answer only those it accepts.
      if (!e.valid || e.name != "permessage-deflate") continue;
      DeflateOffer o;
      if (!read_deflate_offer(e, &o)) continue;  // RFC 7692 §7: decline, try the next
      accept_offer(o, policy, &r);
      return r;
    }
  }
  return r;
}

}  // namespace wsedge::ws
