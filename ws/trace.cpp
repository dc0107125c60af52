#include "ws/trace.h"

#include <unistd.h>

#include <cerrno>

#include "ws/close_code.h"
#include "ws/mask.h"
#include "ws/protocol_names.h"

namespace wsedge::ws {
namespace {

using inspect::Flow;
using inspect::FrameNotes;
using inspect::Position;
using inspect::Prefix;
using inspect::WireHeader;

// "ip:port" → "ip"; "[v6]:port" → "v6".
std::string_view host_of(std::string_view address) {
  if (!address.empty() && address.front() == '[') {
    size_t close = address.find(']');
    return close == std::string_view::npos ? address : address.substr(1, close - 1);
  }
  size_t colon = address.rfind(':');
  return colon == std::string_view::npos ? address : address.substr(0, colon);
}

std::string_view as_text(std::span<const uint8_t> b) {
  return {reinterpret_cast<const char*>(b.data()), b.size()};
}

// The values of several header lines as one list (RFC 6455 §9.1, §11.3.4).
std::string joined(std::span<const std::string_view> lines) {
  std::string all;
  for (std::string_view v : lines) {
    if (!all.empty()) all.append(", ");
    all.append(v);
  }
  return all;
}

}  // namespace

bool TraceFilter::matches(std::string_view request_path, std::string_view peer_address) const {
  if (!path.empty()) {
    if (path.back() == '*') {
      if (request_path.substr(0, path.size() - 1) !=
          std::string_view(path).substr(0, path.size() - 1))
        return false;
    } else if (request_path != path) {
      return false;
    }
  }
  if (!peer.empty() && peer != peer_address && peer != host_of(peer_address)) return false;
  return true;
}

bool parse_trace_filter(std::string_view text, TraceFilter* out, std::string* error) {
  TraceFilter f;
  if (text.empty()) {
    *error = "empty filter (want path=/P or peer=IP, joined with ',')";
    return false;
  }
  while (true) {
    const size_t comma = text.find(',');
    const std::string_view term = text.substr(0, comma);
    const size_t eq = term.find('=');
    if (eq == std::string_view::npos || eq + 1 == term.size()) {
      *error = "'" + std::string(term) + "' is not key=value (path=/P or peer=IP)";
      return false;
    }
    const std::string_view key = term.substr(0, eq), value = term.substr(eq + 1);
    if (key == "path") {
      if (value.front() != '/' && value != "*") {
        *error = "path '" + std::string(value) + "' must start with '/'";
        return false;
      }
      f.path = value;
    } else if (key == "peer") {
      f.peer = value;
    } else {
      *error = "unknown key '" + std::string(key) + "' (path or peer)";
      return false;
    }
    if (comma == std::string_view::npos) break;
    text.remove_prefix(comma + 1);
  }
  *out = std::move(f);
  return true;
}

Tracer::Tracer(TraceOptions options, int fd) : options_(std::move(options)), fd_(fd) {}

TracedConnection* Tracer::begin(std::string_view peer, std::string_view path) {
  // Every upgrade gets a number, traced or not, so "c7" says it was the seventh.
  const uint64_t n = next_id_++;
  if (!options_.filters.empty()) {
    bool any = false;
    for (const TraceFilter& f : options_.filters)
      any = any || f.matches(path, peer);
    if (!any) return nullptr;
  }
  handshaking_ = std::make_unique<TracedConnection>();
  handshaking_->id = "c" + std::to_string(n);
  handshaking_->peer = peer;
  return handshaking_.get();
}

void Tracer::request(TracedConnection& c, std::string_view head, std::span<const uint32_t> reads) {
  const Prefix about{c.id, Flow::kNote};
  inspect::format_note(out_, about,
                       "connection from " + c.peer + ": WebSocket upgrade request (RFC 6455 §4.1)");
  if (!reads.empty()) {
    // TCP is a byte stream: where a read ends says nothing about the request, so the parser
    // keeps what came and looks again when more arrives.
    inspect::format_note(out_, about,
                         "the head came in " + std::to_string(reads.size() + 1) +
                             " reads; HttpSession::on_data kept each incomplete part and "
                             "parsed again when more arrived (RFC 9112 §2.2)");
    size_t from = 0;
    for (size_t i = 0; i <= reads.size(); ++i) {
      const size_t to = i < reads.size() ? std::min<size_t>(reads[i], head.size()) : head.size();
      std::string line = "  read " + std::to_string(i + 1) + ": bytes " + std::to_string(from) +
                         "-" + std::to_string(to - 1) + " \"";
      constexpr size_t kShown = 40;
      const std::string_view piece = head.substr(from, to - from);
      inspect::append_escaped(
          line, {reinterpret_cast<const uint8_t*>(piece.data()), std::min(piece.size(), kShown)});
      line += piece.size() > kShown ? "\"..." : "\"";
      if (i == reads.size()) line += ": the blank line, the head is whole";
      inspect::format_note(out_, about, line);
      from = to;
    }
  }
  inspect::format_head(out_, {c.id, Flow::kClientToServer}, head);
  emit();
}

void Tracer::checks(TracedConnection& c, const http::Request& request, const UpgradeFields& fields,
                    HandshakeError failed) {
  inspect::format_handshake_checks(out_, {c.id, Flow::kNote}, request, fields, failed);
  emit();
}

void Tracer::accepted(TracedConnection& c, const UpgradeFields& fields,
                      const HandshakeResult& result, bool deflate_on,
                      const NegotiationResult& deflate, std::span<const uint8_t> response) {
  const Prefix note{c.id, Flow::kNote};
  // RFC 6455 §4.2.2 item 5, fourth bullet: the server proves it read the key.
  inspect::format_accept_key(out_, note, fields.key);
  const std::string protocols = joined(fields.protocols());
  const std::string extensions = joined(fields.extensions());
  inspect::format_negotiation(out_, note,
                              {.subprotocols_offered = protocols,
                               .subprotocol_chosen = result.subprotocol,
                               .extensions_offered = extensions,
                               .extensions_agreed = deflate.header()});
  if (!protocols.empty()) {
    inspect::format_note(out_, note,
                         result.subprotocol.empty()
                             ? "  why: the route speaks none of them, so the 101 names none "
                               "(RFC 6455 §4.2.2 item 5)"
                             : "  why: the route's first preference that the client offered "
                               "(RFC 6455 §4.2.2 item 5)");
  }
  if (!extensions.empty()) {
    inspect::format_note(
        out_, note,
        !deflate_on ? "  why: permessage-deflate is off on this route; unknown extensions are "
                      "declined by not naming them (RFC 6455 §9.1)"
        : deflate.accepted()
            ? "  why: the first acceptable permessage-deflate offer, answered with the "
              "parameters the server uses (RFC 7692 §5, §7.1)"
            : "  why: no acceptable permessage-deflate offer: declined by sending no header "
              "(RFC 7692 §5)");
  }
  inspect::format_head(out_, {c.id, Flow::kServerToClient}, as_text(response));
  inspect::format_note(out_, note, "101 sent: the connection is a WebSocket now (RFC 6455 §4.2.2)");
  emit();
}

void Tracer::refused(TracedConnection* c, std::span<const uint8_t> response) {
  if (c == nullptr) return;
  inspect::format_head(out_, {c->id, Flow::kServerToClient}, as_text(response));
  inspect::format_note(out_, {c->id, Flow::kNote},
                       "handshake refused: no WebSocket; the server closes TCP after the answer");
  emit();
  if (handshaking_.get() == c) handshaking_.reset();
}

void Tracer::bind(const void* session, TracedConnection* c) {
  if (handshaking_.get() != c) return;  // not ours (a test's): nothing to trace
  bound_[session] = std::move(handshaking_);
}

TracedConnection* Tracer::find(const void* session) {
  auto it = bound_.find(session);
  return it == bound_.end() ? nullptr : it->second.get();
}

void Tracer::end(const void* session) {
  bound_.erase(session);
}

// Where a frame stands in its message, from its own header and what came before it in the
// same direction (RFC 6455 §5.4: a message is a first frame with an opcode, then
// continuations, the last with FIN; control frames may sit between them, §5.5).
FrameNotes Tracer::place(TracedConnection::Stream& s, std::span<const uint8_t> frame) {
  FrameNotes n;
  WireHeader h;
  if (!inspect::read_wire_header(frame, &h)) {
    n.position = Position::kUntracked;
    return n;
  }
  // RFC 6455 §5.2: 0x3-0x7 and 0xB-0xF are reserved; such a frame belongs to no message.
  if ((h.opcode > 0x2 && h.opcode < 0x8) || h.opcode > 0xA) {
    n.position = Position::kUntracked;
    return n;
  }
  if (h.opcode >= 0x8) {
    n.position = Position::kControl;
    n.message = s.in_message ? s.message : 0;
    return n;
  }
  if (h.opcode != 0x0) {
    ++s.message;
    s.text = h.opcode == 0x1;
    s.compressed = h.rsv1;  // RFC 7692 §6: RSV1 on the first frame only
    s.compressed_size = 0;
    n.position = h.fin ? Position::kWhole : Position::kFirst;
  } else if (!s.in_message) {
    n.position = Position::kUntracked;
    return n;
  } else {
    n.position = h.fin ? Position::kLast : Position::kMiddle;
  }
  s.in_message = !h.fin;
  n.message = s.message;
  n.text = s.text;
  n.compressed = s.compressed;
  if (s.compressed) s.compressed_size += h.length;
  n.compressed_size = s.compressed_size;
  return n;
}

void Tracer::received(TracedConnection& c, std::span<const uint8_t> data) {
  c.rx_total += data.size() - c.rx_carry;
  c.rx_base = c.rx_total - data.size();
  c.rx_data = data.data();
  size_t pos = 0;
  while (pos < data.size()) {
    WireHeader h;
    const std::span<const uint8_t> rest = data.subspan(pos);
    if (!inspect::read_wire_header(rest, &h) || rest.size() - h.header_size < h.length) break;
    const size_t size = h.header_size + static_cast<size_t>(h.length);
    scratch_.assign(rest.begin(), rest.begin() + static_cast<ptrdiff_t>(size));
    // The reader unmasked what an earlier read brought of this frame's payload, in place
    // (RFC 6455 §5.3); masking is its own inverse, so masking it again gives the wire bytes.
    if (pos == 0 && h.masked && c.rx_carry > h.header_size)
      unmask(scratch_.data() + h.header_size, c.rx_carry - h.header_size, h.mask_key);
    const FrameNotes notes = place(c.rx, scratch_);
    if (notes.compressed && h.fin && h.opcode < 0x8)
      c.inflating.emplace_back(notes.message, notes.compressed_size);
    inspect::format_frame(out_, {c.id, Flow::kClientToServer}, scratch_, notes, options_.detail);
    pos += size;
  }
  c.rx_walked = pos;
  c.rx_carry = data.size() - pos;  // a frame not all here yet: the next read starts with it
  emit();
}

void Tracer::inflated(TracedConnection& c, uint64_t inflated_size) {
  if (c.inflating.empty()) return;
  const auto [message, compressed] = c.inflating.front();
  c.inflating.erase(c.inflating.begin());
  inspect::format_note(out_, {c.id, Flow::kClientToServer},
                       "  message " + std::to_string(message) + " permessage-deflate: " +
                           std::to_string(compressed) + " bytes compressed, " +
                           std::to_string(inflated_size) + " inflated (RFC 7692 §6.2)");
  emit();
}

void Tracer::sent(TracedConnection& c, std::span<const uint8_t> header,
                  std::span<const uint8_t> payload, uint64_t inflated_size) {
  scratch_.assign(header.begin(), header.end());
  scratch_.insert(scratch_.end(), payload.begin(), payload.end());
  FrameNotes notes = place(c.tx, scratch_);
  if (notes.compressed && inflated_size != 0) notes.inflated_size = inflated_size;
  inspect::format_frame(out_, {c.id, Flow::kServerToClient}, scratch_, notes, options_.detail);
  emit();
}

void Tracer::sent_frames(TracedConnection& c, std::span<const uint8_t> frames) {
  while (!frames.empty()) {
    WireHeader h;
    if (!inspect::read_wire_header(frames, &h) || frames.size() - h.header_size < h.length) {
      inspect::format_note(out_, {c.id, Flow::kServerToClient},
                           "(bytes that are not whole frames)");
      break;
    }
    const size_t size = h.header_size + static_cast<size_t>(h.length);
    const FrameNotes notes = place(c.tx, frames.first(size));
    inspect::format_frame(out_, {c.id, Flow::kServerToClient}, frames.first(size), notes,
                          options_.detail);
    frames = frames.subspan(size);
  }
  emit();
}

void Tracer::protocol_error(TracedConnection& c, WsError error, uint16_t close_code_sent,
                            const uint8_t* at) {
  // An error the reader found has its byte; one found later (inflating, the UTF-8 of an
  // inflated message) is put at the end of the whole frames of the read.
  const uint64_t offset = at != nullptr && c.rx_data != nullptr
                              ? c.rx_base + static_cast<uint64_t>(at - c.rx_data)
                              : c.rx_base + c.rx_walked;
  inspect::format_protocol_error(out_, {c.id, Flow::kClientToServer}, error, offset,
                                 close_code_sent);
  emit();
}

namespace {
std::string code_text(uint16_t code) {
  if (code == 0) return "none";
  return std::to_string(code) + " (" + std::string(close_code_name(code)) + ")";
}
}  // namespace

void Tracer::close_received(TracedConnection& c, uint16_t code, bool first) {
  c.client_code = code;
  if (first) {
    c.client_started_close = true;
    note(c, "close handshake: the client starts it with " + code_text(code) +
                "; the server answers with the same code (RFC 6455 §5.5.1)");
  } else {
    note(c, "close handshake complete: the server started it with " + code_text(c.server_code) +
                ", the client answered with " + code_text(code) + " (RFC 6455 §7.1.2)");
  }
}

void Tracer::close_started(TracedConnection& c, uint16_t code) {
  c.server_started_close = true;
  note(c, "close handshake: the server starts it with " + code_text(code) +
              ", then waits for the client's close, at most --close-grace (RFC 6455 §7.1.2)");
}

void Tracer::failing(TracedConnection& c, uint16_t code, const char* reason, bool sending) {
  note(c, "the server fails the connection (RFC 6455 §7.1.7): close " + std::to_string(code) +
              " \"" + reason + "\"" +
              (sending ? " sent, then TCP closed" : ", TCP closed (a close was sent already)"));
}

void Tracer::disconnected(TracedConnection& c, TcpEnd how) {
  std::string line = "closed: ";
  if (c.client_started_close) {
    line += "the client started the close handshake";
  } else if (c.server_started_close) {
    line += "the server started the close handshake";
  } else if (c.server_code != 0) {
    line += "the server failed the connection";
  } else {
    line += "TCP ended with no close handshake (RFC 6455 §7.1.5: 1006)";
  }
  line += "; server sent " + code_text(c.server_code) + ", client sent " + code_text(c.client_code);
  line += "; TCP: ";
  line += describe(how);
  note(c, line);
}

void Tracer::note(TracedConnection& c, std::string_view text) {
  inspect::format_note(out_, {c.id, Flow::kNote}, text);
  emit();
}

void Tracer::emit() {
  size_t done = 0;
  while (done < out_.size()) {
    ssize_t n = ::write(fd_, out_.data() + done, out_.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;  // stderr gone or full: tracing never blocks or fails the server
    done += static_cast<size_t>(n);
  }
  out_.clear();
}

}  // namespace wsedge::ws
