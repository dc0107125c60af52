// apps/chat.h — the chat route: rooms, two subprotocols, fan-out that encodes once.
//
// /chat?room=NAME&name=WHO joins room NAME (default "lobby"). The subprotocol chosen in the
// handshake (RFC 6455 §1.9, §4.2.2) decides what a member reads: "chat" gets plain text
// lines ("alice: hi", "* bob joined lobby (2 here)"), "superchat" gets JSON objects
// {"from","text","ts"} (notices add "event"). Every message goes to every member of the
// room, the sender included. Rooms are ws::Topics: each line is encoded once per
// subprotocol (the topic's formats) and written as the same bytes to each member, and a
// member whose send queue passes the high-water mark is dropped (close 1008, the topics'
// kClose policy) so it can neither stall the room nor grow the server's memory. Loop thread
// only.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/buffer.h"
#include "ws/session.h"
#include "ws/topics.h"

namespace wsedge::app {

class ChatHandler final : public ws::Handler {
 public:
  static constexpr size_t kMaxNameBytes = 32;
  static constexpr size_t kMaxRoomBytes = 64;
  static constexpr uint64_t kMaxMessageSize = 64 * 1024;  // the chat route's read limit
  static constexpr const char* kLineProtocol = "chat";
  static constexpr const char* kJsonProtocol = "superchat";

  ChatHandler();
  ~ChatHandler() override;
  ChatHandler(const ChatHandler&) = delete;
  ChatHandler& operator=(const ChatHandler&) = delete;

  void on_open(ws::Session& s, const http::Request& request) override;
  void on_message(ws::Session& s, std::span<const uint8_t> payload, ws::MessageType type) override;
  void on_close(ws::Session& s, uint16_t code, std::string_view reason) override;

  size_t members() const { return rooms_.session_count(); }  // across every room

 private:
  struct Member;
  // One thing said in a room: a message (event empty) or a notice (join, leave, drop).
  struct Line {
    std::string_view event;
    std::string_view from;
    std::string_view text;
    size_t here = 0;  // members in the room, for notices
  };

  // `speaker`: whose message this is (its own copy is corked, not refused: ws/topics.h).
  void say(std::string_view room, const Line& line, const Member* speaker = nullptr);
  void encode(const Line& line, bool json, Buffer& out);
  void send_one(Member& m, const Line& line);
  void dropped(ws::Session& s);  // the topics closed s for being slow
  void announce_leave(std::string_view room, std::string_view event, std::string_view who);

  ws::Topics rooms_;  // a room is a topic; format 0 reads "chat", 1 "superchat"
  std::unordered_map<const ws::Session*, std::unique_ptr<Member>> joined_;
  uint64_t guests_ = 0;  // for default names: guest-1, guest-2, ...
};

}  // namespace wsedge::app
