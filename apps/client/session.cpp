#include "apps/client/session.h"

#include <algorithm>

#include "ws/close_code.h"

namespace wsedge::client {
namespace {

using ws::Opcode;
using ws::WsError;
using ws::inspect::FrameNotes;
using ws::inspect::Position;

std::span<const uint8_t> bytes_of(std::string_view s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

std::string text_of(std::span<const uint8_t> b) {
  return std::string(reinterpret_cast<const char*>(b.data()), b.size());
}

ws::DeflaterOptions deflater_options(const ws::ClientDeflate& d) {
  // RFC 7692 §7.1.2.2 / §7.1.1.2: the client compresses within client_max_window_bits and
  // resets per message when the server asked for client_no_context_takeover.
  ws::DeflaterOptions o;
  o.window_bits = d.client_max_window_bits;
  o.no_context_takeover = d.client_no_context_takeover;
  return o;
}

ws::InflaterOptions inflater_options(const ws::ClientDeflate& d) {
  return {d.server_max_window_bits, d.server_no_context_takeover};
}

}  // namespace

ClientSession::ClientSession(const SessionConfig& c)
    : cfg_(c), deflater_(deflater_options(c.deflate)), inflater_(inflater_options(c.deflate)) {}

void ClientSession::trace_frame(bool sent, std::span<const uint8_t> frame, const FrameNotes& n) {
  if (cfg_.trace == TraceLevel::kOff) return;
  const ws::inspect::Prefix p{
      cfg_.conn_id, sent ? ws::inspect::Flow::kClientToServer : ws::inspect::Flow::kServerToClient};
  ws::inspect::format_frame(
      trace_, p, frame, n,
      cfg_.trace == TraceLevel::kHex ? ws::inspect::Detail::kHex : ws::inspect::Detail::kSummary);
}

void ClientSession::send_frame(Opcode op, std::span<const uint8_t> payload, bool fin, bool rsv1,
                               uint64_t message, Position pos, uint64_t inflated_size) {
  // RFC 6455 §5.3: every frame a client sends is masked with a fresh key that the server (or
  // anything on the path) cannot predict: a new RAND_bytes key per frame, never reused.
  const ws::MaskKey key = cfg_.keys();
  const size_t before = out_.readable();
  ws::encode_frame(out_, op, payload, fin, rsv1, &key);
  FrameNotes n;
  n.position = pos;
  n.message = message;
  n.text = op == Opcode::kText || (op == Opcode::kContinuation && sending_text_);
  n.compressed = inflated_size != 0;
  if (n.compressed && (pos == Position::kWhole || pos == Position::kLast)) {
    n.compressed_size = compressed_total_;
    n.inflated_size = inflated_size;
  }
  trace_frame(true, out_.view().subspan(before), n);
}

bool ClientSession::send_message(Opcode op, std::span<const uint8_t> bytes, unsigned count) {
  // RFC 6455 §5.5.1: after sending a Close frame the endpoint MUST NOT send any more data.
  if (close_sent_ || failed_) return false;
  const uint64_t message = ++messages_out_;
  std::span<const uint8_t> payload = bytes;
  Buffer compressed;
  // RFC 7692 §6: with permessage-deflate agreed, a message MAY be compressed; we compress
  // every non-empty one, so a trace shows both sizes.
  const bool deflate = cfg_.deflate.enabled && !bytes.empty();
  if (deflate) {
    if (!deflater_.compress(bytes, compressed).ok()) return false;
    payload = compressed.view();
  }
  compressed_total_ = payload.size();
  sending_text_ = op == Opcode::kText;
  // RFC 6455 §5.4: the first frame carries the opcode, the rest are continuations, the last
  // has FIN; RFC 7692 §6.1: RSV1 only on the first.
  for (unsigned i = 0; i < count; ++i) {
    const size_t from = payload.size() * i / count, to = payload.size() * (i + 1) / count;
    const bool last = i + 1 == count;
    const Position pos = count == 1 ? Position::kWhole
                         : i == 0   ? Position::kFirst
                         : last     ? Position::kLast
                                    : Position::kMiddle;
    send_frame(i == 0 ? op : Opcode::kContinuation, payload.subspan(from, to - from), last,
               deflate && i == 0, message, pos, deflate ? bytes.size() : 0);
  }
  return true;
}

bool ClientSession::send_text(std::string_view text) {
  return send_message(Opcode::kText, bytes_of(text), 1);
}

bool ClientSession::send_binary(std::span<const uint8_t> bytes) {
  return send_message(Opcode::kBinary, bytes, 1);
}

bool ClientSession::send_fragments(std::string_view text, unsigned count) {
  return send_message(Opcode::kText, bytes_of(text), std::max(count, 1u));
}

bool ClientSession::send_ping(std::string_view data) {
  if (close_sent_ || failed_ || data.size() > ws::kMaxControlPayload) return false;
  send_frame(Opcode::kPing, bytes_of(data), true, false, 0, Position::kControl, 0);
  return true;
}

bool ClientSession::send_close(uint16_t code, std::string_view reason) {
  if (close_sent_) return false;
  uint8_t payload[ws::kMaxControlPayload];
  const size_t n = ws::encode_close_payload(payload, code, reason);
  send_frame(Opcode::kClose, {payload, n}, true, false, 0, Position::kControl, 0);
  close_sent_ = true;
  sent_code_ = code;
  return true;
}

void ClientSession::send_raw(const RawFrame& raw) {
  const std::vector<uint8_t> frame = encode_raw(raw, cfg_.keys());
  out_.append(frame.data(), frame.size());
  FrameNotes n;
  n.position = Position::kUntracked;
  n.text = raw.opcode == 0x1;
  trace_frame(true, frame, n);
  if (raw.opcode == 0x8) close_sent_ = true;
}

void ClientSession::receive(std::span<const uint8_t> bytes, std::vector<Event>* events) {
  // RFC 6455 §5.5.1: nothing follows a Close; a failed connection reads no more.
  if (failed_ || close_received_) return;
  in_.append(bytes);
  // RFC 6455 §5.1: "A client MUST close a connection if it detects a masked frame";
  // RFC 7692 §6: RSV1 is legal only once permessage-deflate is agreed.
  const ws::DecodeRules rules{.expect_masked = false, .allow_rsv1 = cfg_.deflate.enabled};
  while (!in_.empty() && !failed_ && !close_received_) {
    const std::span<const uint8_t> view = in_.view();
    const ws::DecodeResult r = ws::decode_header(view, rules);
    if (r.status == ws::DecodeStatus::kIncomplete) break;
    if (r.status == ws::DecodeStatus::kError) {
      // Refused at its header: shown as far as it arrived, outside the message count.
      FrameNotes n;
      n.position = Position::kUntracked;
      ws::inspect::WireHeader w;
      size_t shown = view.size();
      if (ws::inspect::read_wire_header(view, &w) && w.length < shown - w.header_size)
        shown = w.header_size + static_cast<size_t>(w.length);
      trace_frame(false, view.first(shown), n);
      fail(r.error, offset_ + r.error_offset, events);
      break;
    }
    // RFC 6455 §10.4: refuse what we will not hold from the header, before buffering it.
    if (r.header.payload_length > cfg_.max_message) {
      fail(WsError::kMessageTooBig, offset_, events);
      break;
    }
    const size_t total = r.header.header_length + static_cast<size_t>(r.header.payload_length);
    if (view.size() < total) break;
    frame_in(view.first(total), r.header, events);
    in_.consume(total);
    offset_ += total;
  }
}

bool ClientSession::frame_in(std::span<const uint8_t> frame, const ws::FrameHeader& h,
                             std::vector<Event>* events) {
  FrameNotes n;
  if (ws::is_control(h.opcode)) {
    n.position = Position::kControl;
    n.message = sequence_.in_message() ? messages_in_ : 0;
  } else if (h.opcode == Opcode::kContinuation) {
    n.position = h.fin ? Position::kLast : Position::kMiddle;
    n.message = messages_in_;
  } else {
    n.position = h.fin ? Position::kWhole : Position::kFirst;
    n.message = messages_in_ + 1;
  }
  // RFC 6455 §5.4 (and RFC 7692 §6.1): the order of frames in and between messages.
  WsError e = sequence_.on_frame(h);
  if (e != WsError::kNone) {
    trace_frame(false, frame, n);
    fail(e, offset_, events);
    return false;
  }
  const std::span<const uint8_t> payload = frame.subspan(h.header_length);
  if (ws::is_data(h.opcode)) {
    if (h.opcode != Opcode::kContinuation) ++messages_in_;
    n.text = sequence_.message_opcode() == Opcode::kText;
    n.compressed = sequence_.message_compressed();
    e = data_in(h, payload, events, &n);
    trace_frame(false, frame, n);
  } else {
    trace_frame(false, frame, n);
    if (h.opcode == Opcode::kClose) {
      e = close_in(payload, events);
    } else {
      events->push_back(
          {h.opcode == Opcode::kPing ? EventKind::kPing : EventKind::kPong, text_of(payload)});
      // RFC 6455 §5.5.2: a Ping is answered with a Pong of the same Application data
      // (§5.5.3) unless a Close has been received (receive() reads nothing after one); our
      // own unanswered Close does not end the duty: a Pong is control, not data (§5.5.1).
      if (h.opcode == Opcode::kPing)
        send_frame(Opcode::kPong, payload, true, false, 0, Position::kControl, 0);
    }
  }
  if (e != WsError::kNone) fail(e, offset_, events);
  return e == WsError::kNone;
}

WsError ClientSession::data_in(const ws::FrameHeader& h, std::span<const uint8_t> payload,
                               std::vector<Event>* events, FrameNotes* n) {
  const bool compressed = sequence_.message_compressed();
  if (message_.readable() + payload.size() > cfg_.max_message) return WsError::kMessageTooBig;
  // RFC 6455 §8.1: text MUST be UTF-8; fail as soon as the bytes prove it is not (a
  // compressed message is checked once inflated).
  if (!compressed && n->text && !utf8_.feed(payload)) return WsError::kInvalidUtf8;
  message_.append(payload);
  if (!h.fin) return WsError::kNone;
  std::span<const uint8_t> data = message_.view();
  if (compressed) {
    // RFC 7692 §7.2.2: inflate the payloads of all frames with 00 00 ff ff appended.
    inflated_.clear();
    ws::InflateStatus st = inflater_.feed(message_.view(), inflated_, cfg_.max_message);
    if (st == ws::InflateStatus::kOk) st = inflater_.finish(inflated_, cfg_.max_message);
    if (st == ws::InflateStatus::kTooBig) return WsError::kMessageTooBig;
    if (st == ws::InflateStatus::kCorrupt) return WsError::kBadCompressedData;
    data = inflated_.view();
    n->compressed_size = message_.readable();
    n->inflated_size = data.size();
    if (n->text && !ws::is_valid_utf8(data)) return WsError::kInvalidUtf8;
  } else if (n->text && !utf8_.finish()) {
    return WsError::kInvalidUtf8;  // the message ends inside a character
  }
  events->push_back({n->text ? EventKind::kText : EventKind::kBinary, text_of(data)});
  utf8_.reset();
  message_.clear();
  return WsError::kNone;
}

WsError ClientSession::close_in(std::span<const uint8_t> payload, std::vector<Event>* events) {
  // RFC 6455 §5.5.1: empty, or a valid code (§7.4) then a UTF-8 reason.
  const ws::ClosePayloadResult r = ws::parse_close_payload(payload);
  if (r.error != WsError::kNone) return r.error;
  if (!ws::is_valid_utf8(r.reason)) return WsError::kInvalidUtf8;
  close_received_ = true;
  events->push_back({EventKind::kClose, text_of(r.reason), r.code});
  // RFC 6455 §5.5.1: an endpoint that receives a Close and has not sent one MUST send one in
  // response, typically echoing the status code it received (an empty close echoes empty).
  if (!close_sent_) send_close(r.code, {});
  return WsError::kNone;
}

void ClientSession::fail(WsError e, uint64_t offset, std::vector<Event>* events) {
  // RFC 6455 §7.1.7: to fail the connection, send a Close with the code the error calls for
  // (if none was sent yet) and close the TCP connection (the caller does that).
  const uint16_t code = ws::close_code_for(e);
  if (cfg_.trace != TraceLevel::kOff) {
    const ws::inspect::Prefix p{cfg_.conn_id, ws::inspect::Flow::kServerToClient};
    ws::inspect::format_protocol_error(trace_, p, e, offset, close_sent_ ? 0 : code);
  }
  if (!close_sent_) send_close(code, ws::describe(e));
  failed_ = true;
  Event ev;
  ev.kind = EventKind::kFailed;
  ev.error = e;
  ev.offset = offset;
  ev.code = code;
  events->push_back(std::move(ev));
}

}  // namespace wsedge::client
