// apps/push.h — the push route: the server speaks first, on its own clock.
//
// Every client of /push gets, right after the handshake and then every interval, one JSON
// text message: {"seq","ts","time","interval_ms","stats":{...}} — its own counter, the wall
// clock, and the server's live counters (connections, WebSockets, messages and bytes in and
// out, uptime). Each client has its own timer, so clients are not pushed in lock step. A
// client whose send queue is past the high-water mark skips ticks instead of queueing them.
// Loop thread only; the Reactor and Server outlive the handler, which outlives the sessions.
#pragma once

#include <cstdint>
#include <string>

#include "net/reactor.h"
#include "server/server.h"
#include "ws/session.h"

namespace wsedge::app {

class PushHandler final : public ws::Handler {
 public:
  PushHandler(net::Reactor& loop, const Server& server, int64_t interval_ms);
  ~PushHandler() override;
  PushHandler(const PushHandler&) = delete;
  PushHandler& operator=(const PushHandler&) = delete;

  void on_open(ws::Session& s, const http::Request& request) override;
  void on_message(ws::Session& s, std::span<const uint8_t> payload, ws::MessageType type) override;
  void on_close(ws::Session& s, uint16_t code, std::string_view reason) override;

 private:
  struct Client;
  static void on_tick(net::Timer* t);
  void push(Client& c);
  std::string snapshot(const Client& c) const;

  net::Reactor& loop_;
  const Server& server_;
  int64_t interval_ms_;
  int64_t started_ms_;
  Client* clients_ = nullptr;  // intrusive list, so the destructor can free stragglers
};

}  // namespace wsedge::app
