// apps/echo.h — the echo route: every message comes back with its own opcode.
//
// The autobahn-testsuite testee: wsedge's default route for every unrouted path.
#pragma once

#include "ws/session.h"

namespace wsedge::app {

class EchoHandler final : public ws::Handler {
 public:
  void on_message(ws::Session& s, std::span<const uint8_t> payload, ws::MessageType type) override {
    s.send(payload, type);
  }
};

}  // namespace wsedge::app
