// apps/exec.h — the exec route: one command per connection, its stdio as messages.
//
// Each /exec session starts the fixed --exec command (no shell). Every text message goes
// to the command's stdin followed by a newline; every line it writes to stdout or stderr
// comes back as a text message (cut at kMaxLine, repaired to valid UTF-8). When the
// session ends, the command's stdin is closed and it gets SIGINT, then SIGKILL after
// kill_after_ms; it is always reaped (pidfd). When the command exits first, the session
// closes with 1000 and "exit status N" as the reason. Output is read only while the client
// keeps up (send queue under the high-water mark), so a slow client slows the command
// instead of growing the server. Loop thread only; the handler outlives its sessions.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "net/reactor.h"
#include "ws/session.h"

namespace wsedge::http {
struct Request;
}

namespace wsedge::app {

class ExecHandler final : public ws::Handler {
 public:
  static constexpr size_t kMaxLine = 8 * 1024;         // longer output lines are split
  static constexpr size_t kMaxPendingStdin = 1 << 20;  // unread input before we give up

  struct Options {
    std::vector<std::string> argv;             // the command; never empty
    std::string token;                         // clients must present it; empty: no check
    std::vector<std::string> allowed_origins;  // the server's --allow-origin list
    int64_t kill_after_ms = 1000;              // SIGINT, then SIGKILL this much later
  };

  ExecHandler(net::Reactor& loop, Options options);
  // Kills (SIGKILL) and reaps whatever still runs: nothing outlives the server.
  ~ExecHandler() override;
  ExecHandler(const ExecHandler&) = delete;
  ExecHandler& operator=(const ExecHandler&) = delete;

  // The route's authorize hook, run before the handshake. 403 for a browser page from
  // another origin (it could otherwise drive the command from any site the user visits);
  // 401 when a token is configured and the request does not carry it as ?token= or
  // "Authorization: Bearer". 0: go ahead.
  int authorize(const http::Request& request) const;

  void on_open(ws::Session& s, const http::Request& request) override;
  void on_message(ws::Session& s, std::span<const uint8_t> payload, ws::MessageType type) override;
  void on_close(ws::Session& s, uint16_t code, std::string_view reason) override;
  void on_drain(ws::Session& s) override;

  size_t running() const { return jobs_; }
  // Calls done once no command is left running (at once if none is): a graceful stop
  // waits for the children its closing sessions interrupted.
  void when_idle(std::function<void()> done);

 private:
  class Job;
  void job_finished(Job* job);

  net::Reactor& loop_;
  Options options_;
  Job* list_ = nullptr;  // every job whose child is not reaped yet
  size_t jobs_ = 0;
  std::function<void()> idle_;
};

}  // namespace wsedge::app
