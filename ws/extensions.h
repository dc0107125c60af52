// ws/extensions.h — Sec-WebSocket-Extensions parsing (RFC 6455 §9.1) and the server side of
// permessage-deflate negotiation (RFC 7692 §5, §7.1).
//
// Pure: string_views in, values out; views point into the caller's header text, which must
// outlive them. No heap, no I/O; safe from any thread. Any input is accepted: a malformed
// list element is reported as such (and never accepted), never a crash.
#pragma once

#include <cstddef>
#include <span>
#include <string_view>

#include "ws/deflate.h"

namespace wsedge::ws {

// Parameters per extension offer we keep; an offer with more is reported malformed (a valid
// permessage-deflate offer has at most 4).
constexpr size_t kMaxExtensionParams = 8;

struct ExtensionParam {
  std::string_view name;
  std::string_view value;  // raw: for a quoted-string, the text between the quotes, escapes kept
  bool has_value = false;
  bool quoted = false;
};

// One element of the list: `name *(";" param)`.
struct ExtensionOffer {
  bool valid = false;  // false: a syntax error; name/params may be partial
  std::string_view name;
  ExtensionParam params[kMaxExtensionParams];
  size_t param_count = 0;
};

// Walks one header value element by element. RFC 9110 §5.6.1: empty elements (", ,") are
// skipped. After a syntax error the walk resumes at the next comma outside quotes.
class ExtensionList {
 public:
  explicit ExtensionList(std::string_view header_value) : rest_(header_value) {}
  bool next(ExtensionOffer* out);  // false when no element is left

 private:
  std::string_view rest_;
};

// Unescapes a parameter value (quoted-pair "\x" -> "x") into out; returns the length, or
// out.size() + 1 if it does not fit. Token values are copied as they are.
size_t unescape_value(const ExtensionParam& p, std::span<char> out);

// The agreed permessage-deflate parameters, from the server's point of view.
struct DeflateConfig {
  bool enabled = false;
  int server_max_window_bits = 15;          // our compressor's window (RFC 7692 §7.1.2.1)
  int client_max_window_bits = 15;          // the client's compressor's window = our inflater's
  bool server_no_context_takeover = false;  // §7.1.1.1
  bool client_no_context_takeover = false;  // §7.1.1.2
};

struct DeflateServerPolicy {
  bool enabled = true;
  int max_window_bits = 15;          // --deflate-window-bits: our compression window, 8..15
  bool no_context_takeover = false;  // --deflate-no-context-takeover: our side resets per message
  size_t min_size = 64;              // --deflate-min-size: smaller messages are sent as they are
  int mem_level = 8;                 // zlib memLevel for our compressor
  int level = 6;                     // zlib compression level for our compressor
  // Asked of the client when its offer allows it: caps our inflater's window (and memory).
  int client_max_window_bits = 15;
  bool client_no_context_takeover = false;  // always ask the client to reset per message
};

class NegotiationResult {
 public:
  DeflateConfig config;  // config.enabled == false: declined, send no header
  bool accepted() const { return config.enabled; }
  // The Sec-WebSocket-Extensions response value when accepted (else empty), e.g.
  // "permessage-deflate; server_no_context_takeover; client_max_window_bits=15".
  // Points into this object: copy it out before the object goes away.
  std::string_view header() const { return {header_, header_len_}; }
  void append_header(std::string_view s);  // for negotiate_deflate(); truncates, never overflows

 private:
  char header_[160] = {};  // the longest possible answer is 128 bytes
  size_t header_len_ = 0;
};

// Accepts the FIRST acceptable permessage-deflate offer across all header values, in order
// (RFC 6455 §9.1: several headers are one comma-joined list, in preference order).
// Unacceptable offers (malformed, unknown or repeated parameter, bad value) are skipped.
NegotiationResult negotiate_deflate(std::span<const std::string_view> header_values,
                                    const DeflateServerPolicy& policy);
inline NegotiationResult negotiate_deflate(std::string_view header_value,
                                           const DeflateServerPolicy& policy) {
  return negotiate_deflate(std::span<const std::string_view>(&header_value, 1), policy);
}

// What the session builds its compressor and decompressor from.
inline DeflaterOptions deflater_options(const DeflateConfig& c, const DeflateServerPolicy& p) {
  return {c.server_max_window_bits, p.mem_level, p.level, c.server_no_context_takeover};
}
inline InflaterOptions inflater_options(const DeflateConfig& c) {
  return {c.client_max_window_bits, c.client_no_context_takeover};
}

}  // namespace wsedge::ws
