#include "apps/chat.h"

#include <chrono>

#include "apps/text.h"
#include "core/log.h"
#include "http/parser.h"
#include "ws/close_code.h"
#include "ws/frame.h"

namespace wsedge::app {

struct ChatHandler::Member {
  ws::Session* session;
  std::string name;
  std::string room;
  bool json;            // speaks superchat
  bool in_room = true;  // false once it left or was dropped: no second leave notice
  size_t index = 0;     // position in its room's member list (O(1) removal)
};

namespace {

int64_t wall_ms() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

std::span<const uint8_t> bytes_of(std::string_view s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

}  // namespace

ChatHandler::~ChatHandler() {
  // A forced exit (second signal) leaves members behind; their sessions are deleted by the
  // server without callbacks, so only our own state is freed here.
  for (auto& [name, room] : rooms_) {
    for (Member* m : room.members) {
      delete m;
    }
  }
}

size_t ChatHandler::members() const {
  size_t n = 0;
  for (const auto& [name, room] : rooms_)
    n += room.members.size();
  return n;
}

void ChatHandler::on_open(ws::Session& s, const http::Request& request) {
  std::string raw;
  std::string room_name =
      query_param(request.query, "room", &raw) ? clean_label(raw, kMaxRoomBytes) : std::string();
  if (room_name.empty()) room_name = "lobby";
  std::string name =
      query_param(request.query, "name", &raw) ? clean_label(raw, kMaxNameBytes) : std::string();
  if (name.empty()) name = "guest-" + std::to_string(++guests_);

  auto* m = new Member{&s, std::move(name), room_name, s.subprotocol() == kJsonProtocol};
  s.user_data = m;
  Room& room = rooms_[room_name];
  m->index = room.members.size();
  room.members.push_back(m);
  WSEDGE_LOG(kDebug, "chat: %s (%s) joined %s", m->name.c_str(),
             std::string(s.subprotocol()).c_str(), room_name.c_str());
  std::string text = m->name + " joined " + room_name;
  say(room, Line{"join", m->name, text, room.members.size()}, m);
}

void ChatHandler::on_message(ws::Session& s, std::span<const uint8_t> payload,
                             ws::MessageType type) {
  auto* m = static_cast<Member*>(s.user_data);
  if (m == nullptr || !m->in_room) return;
  if (type != ws::MessageType::kText) {
    // RFC 6455 §7.4.1: 1003 — an endpoint received a type of data it cannot accept.
    s.close(ws::close_code::kUnsupportedData, "chat takes text messages");
    return;
  }
  std::string_view in(reinterpret_cast<const char*>(payload.data()), payload.size());
  std::string text;
  if (m->json) {
    if (!json_string_member(in, "text", &text)) {
      send_one(*m, Line{"error", "", R"(superchat expects {"text": "..."})"});
      return;
    }
    text = repair_utf8(text);  // \u escapes may name lone surrogates' halves; keep it valid
  } else {
    text.assign(in);
  }
  // One chat line per line of input: a line protocol must never carry a raw newline.
  Room& room = rooms_[m->room];
  std::string_view rest = text;
  while (!rest.empty()) {
    size_t nl = rest.find('\n');
    std::string_view one = rest.substr(0, nl);
    rest = nl == std::string_view::npos ? std::string_view{} : rest.substr(nl + 1);
    if (!one.empty() && one.back() == '\r') one.remove_suffix(1);
    if (one.empty()) continue;
    say(room, Line{"", m->name, one}, m);
    if (!m->in_room) return;  // the sender itself was too slow and is gone
  }
}

void ChatHandler::on_close(ws::Session& s, uint16_t code, std::string_view /*reason*/) {
  auto* m = static_cast<Member*>(s.user_data);
  if (m == nullptr) return;  // refused before it joined (no subprotocol)
  s.user_data = nullptr;
  if (m->in_room) {
    WSEDGE_LOG(kDebug, "chat: %s left %s (close %u)", m->name.c_str(), m->room.c_str(),
               static_cast<unsigned>(code));
    remove(m);
    announce_leave(m->room, "leave", m->name);
  }
  delete m;
}

void ChatHandler::encode(const Line& line, bool json, Buffer& out) {
  out.clear();
  std::string body;
  if (json) {
    body = "{";
    if (!line.event.empty()) {
      body += "\"event\":";
      append_json_string(body, line.event);
      body += ",";
    }
    body += "\"from\":";
    append_json_string(body, line.from);
    body += ",\"text\":";
    append_json_string(body, line.text);
    body += ",\"ts\":" + std::to_string(wall_ms());
    if (line.here > 0) body += ",\"here\":" + std::to_string(line.here);
    body += "}";
  } else if (line.event.empty()) {
    body.append(line.from).append(": ").append(line.text);
  } else {
    body.append("* ").append(line.text);
    if (line.here > 0) body += " (" + std::to_string(line.here) + " here)";
  }
  ws::encode_frame(out, ws::Opcode::kText, bytes_of(body));
}

void ChatHandler::send_one(Member& m, const Line& line) {
  Buffer frame;
  encode(line, m.json, frame);
  m.session->send_encoded(frame.view());
}

// The fan-out: each subprotocol's frame is built once (only if some member speaks it) and
// the same bytes go to every member. A member whose queue is past the high-water mark
// after this write is dropped once the loop is done: removing members mid-loop would
// disturb the list being walked. The speaker is not judged here: we run inside its read
// callback, where its sends are corked (counted as buffered though the kernel refused
// nothing). A speaker that stops reading is caught by the others' messages, and its own
// input stops at its high-water mark (the connection pauses reading), so it cannot grow.
void ChatHandler::say(Room& room, const Line& line, const Member* speaker) {
  bool line_ready = false;
  bool json_ready = false;
  std::vector<Member*> slow;
  for (Member* m : room.members) {
    bool& ready = m->json ? json_ready : line_ready;
    Buffer& frame = m->json ? json_frame_ : line_frame_;
    if (!ready) {
      encode(line, m->json, frame);
      ready = true;
    }
    ws::Session& s = *m->session;
    s.send_encoded(frame.view());
    if (m != speaker && s.buffered_amount() > s.high_water_mark()) slow.push_back(m);
  }
  if (!slow.empty()) drop_slow(slow);
}

// Every slow member leaves the room before anyone is told, so the notices below (which
// are fan-outs themselves, and may find more slow members) never meet a half-dropped one.
void ChatHandler::drop_slow(std::vector<Member*>& slow) {
  for (Member* m : slow) {
    WSEDGE_LOG(kWarn, "chat: dropping %s from %s (%s): %zu bytes queued, high-water %zu",
               m->name.c_str(), m->room.c_str(), std::string(m->session->peer_address()).c_str(),
               m->session->buffered_amount(), m->session->high_water_mark());
    remove(m);
    // RFC 6455 §7.4.1: 1008, a policy violation. The frame queues behind the backlog; the
    // session's close grace then drops the TCP connection if the peer never reads it.
    m->session->close(ws::close_code::kPolicyViolation, "too slow: send queue over the limit");
  }
  for (Member* m : slow)
    announce_leave(m->room, "drop", m->name);
}

void ChatHandler::announce_leave(const std::string& room_name, std::string_view event,
                                 std::string_view who) {
  auto it = rooms_.find(room_name);
  if (it == rooms_.end()) return;
  std::string text = std::string(who) + (event == "drop" ? " was dropped (too slow)" : " left");
  say(it->second, Line{event, who, text, it->second.members.size()});
  // say() may have dropped members; the room goes when the last one is gone.
  it = rooms_.find(room_name);
  if (it != rooms_.end() && it->second.members.empty()) rooms_.erase(it);
}

void ChatHandler::remove(Member* m) {
  m->in_room = false;
  auto it = rooms_.find(m->room);
  if (it == rooms_.end()) return;
  std::vector<Member*>& list = it->second.members;
  Member* last = list.back();
  list[m->index] = last;
  last->index = m->index;
  list.pop_back();
}

}  // namespace wsedge::app
