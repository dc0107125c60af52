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
  bool in_room = true;  // false once it was dropped: no second leave notice
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

ChatHandler::ChatHandler()
    : rooms_({.slow = ws::Topics::SlowPolicy::kClose,
              .on_dropped = [this](ws::Session& s, std::string_view) { dropped(s); }}) {}

// A forced exit (second signal) leaves members behind; their sessions are deleted by the
// server without callbacks, and joined_ frees our own state.
ChatHandler::~ChatHandler() = default;

void ChatHandler::on_open(ws::Session& s, const http::Request& request) {
  std::string raw;
  std::string room_name =
      query_param(request.query, "room", &raw) ? clean_label(raw, kMaxRoomBytes) : std::string();
  if (room_name.empty()) room_name = "lobby";
  std::string name =
      query_param(request.query, "name", &raw) ? clean_label(raw, kMaxNameBytes) : std::string();
  if (name.empty()) name = "guest-" + std::to_string(++guests_);

  auto owned = std::make_unique<Member>(
      Member{&s, std::move(name), room_name, s.subprotocol() == kJsonProtocol});
  Member* m = owned.get();
  joined_[&s] = std::move(owned);
  s.user_data = m;
  rooms_.subscribe(room_name, s, m->json ? 1 : 0);
  WSEDGE_LOG(kDebug, "chat: %s (%s) joined %s", m->name.c_str(),
             std::string(s.subprotocol()).c_str(), room_name.c_str());
  std::string text = m->name + " joined " + room_name;
  say(room_name, Line{"join", m->name, text, rooms_.members(room_name)}, m);
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
  std::string_view rest = text;
  while (!rest.empty()) {
    size_t nl = rest.find('\n');
    std::string_view one = rest.substr(0, nl);
    rest = nl == std::string_view::npos ? std::string_view{} : rest.substr(nl + 1);
    if (!one.empty() && one.back() == '\r') one.remove_suffix(1);
    if (one.empty()) continue;
    say(m->room, Line{"", m->name, one}, m);
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
    rooms_.leave_all(s);
    announce_leave(m->room, "leave", m->name);
  }
  joined_.erase(&s);  // frees m
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

// The fan-out is the room's topic: each subprotocol's frame is built once (only if some
// member speaks it) and the same bytes go to every member (ws/topics.h).
void ChatHandler::say(std::string_view room, const Line& line, const Member* speaker) {
  rooms_.publish(
      room, [&](ws::Topics::Format format, Buffer& out) { encode(line, format == 1, out); },
      speaker != nullptr ? speaker->session : nullptr);
}

// The topics unsubscribed s from its room and closed it with 1008; the room hears of it.
void ChatHandler::dropped(ws::Session& s) {
  auto* m = static_cast<Member*>(s.user_data);
  if (m == nullptr || !m->in_room) return;
  m->in_room = false;
  WSEDGE_LOG(kWarn, "chat: dropping %s from %s (%s): %zu bytes queued, high-water %zu",
             m->name.c_str(), m->room.c_str(), std::string(s.peer_address()).c_str(),
             s.buffered_amount(), s.high_water_mark());
  announce_leave(m->room, "drop", m->name);
}

void ChatHandler::announce_leave(std::string_view room, std::string_view event,
                                 std::string_view who) {
  std::string text = std::string(who) + (event == "drop" ? " was dropped (too slow)" : " left");
  say(room, Line{event, who, text, rooms_.members(room)});
}

}  // namespace wsedge::app
