#include "apps/client/run.h"

#include <poll.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "apps/client/commands.h"
#include "apps/client/interrupt.h"
#include "apps/client/verdict.h"
#include "core/clock.h"
#include "ws/close_code.h"
#include "ws/inspect.h"

namespace wsedge::client {
namespace {

constexpr int64_t kNever = INT64_MAX;

std::string escaped(std::string_view s) {
  std::string out;
  ws::inspect::append_escaped(out, {reinterpret_cast<const uint8_t*>(s.data()), s.size()});
  return out;
}

std::string seconds(double s) {
  char text[32];
  std::snprintf(text, sizeof text, "%g s", s);
  return text;
}

class Loop {
 public:
  Loop(Stream& s, const ClientOptions& o, const ws::ServerResponse& agreed, KeySource keys,
       Interrupt& ctrl_c)
      : stream_(s),
        ctrl_c_(ctrl_c),
        o_(o),
        timeout_ms_(static_cast<int64_t>(o.timeout_s * 1000)),
        session_({agreed.deflate, o.trace, "c1", keys}) {}

  int run(std::string_view first_bytes);

 private:
  void start_script();
  bool step();  // one poll round; false when the loop is over
  int64_t deadline() const;
  bool on_deadline();
  void on_interrupt();
  void read_socket();
  void read_stdin();
  void execute(const Command& c);
  void receive(std::span<const uint8_t> bytes);
  void print(const Event& e);
  void flush();
  void print_trace();
  void note(std::string_view text, ws::inspect::Flow flow);
  int verdict();

  Stream& stream_;
  Interrupt& ctrl_c_;
  const ClientOptions& o_;
  const int64_t timeout_ms_;
  ClientSession session_;
  std::string line_;  // a stdin line still without its newline
  bool stdin_open_ = true, tcp_closed_ = false, we_started_close_ = false;
  size_t expected_ = 0;  // --expect texts seen so far
  int64_t expect_deadline_ = kNever, close_deadline_ = kNever;
  uint16_t peer_code_ = 0;
  int interrupts_ = 0;   // Ctrl-Cs so far: the first closes politely, the second quits
  std::string failure_;  // why the run failed, when it did not fail by the protocol: ends it
  // An --expect that did not come in time: the run has failed, but it still closes politely
  // (the close handshake, bounded by --timeout) before it says so.
  std::string expect_failure_;
};

int Loop::run(std::string_view first_bytes) {
  receive({reinterpret_cast<const uint8_t*>(first_bytes.data()), first_bytes.size()});
  if (o_.scripted()) start_script();
  flush();
  while (step()) {
  }
  if (interrupts_ < 2) flush();  // twice: at once, not even a write that could wait
  stream_.shutdown_write();
  return verdict();
}

void Loop::start_script() {
  stdin_open_ = false;  // scripted: stdin is not read
  for (const std::string& s : o_.send)
    session_.send_text(s);
  expect_deadline_ = mono_ms() + timeout_ms_;
}

bool Loop::step() {
  if (session_.failed() || tcp_closed_ || !failure_.empty() || interrupts_ >= 2) return false;
  // Scripted: every --expect arrived (or none was asked): the close handshake, with 1000.
  if (o_.scripted() && expected_ == o_.expect.size() && !session_.close_sent()) {
    session_.send_close(ws::close_code::kNormal, {});
    flush();
  }
  if (session_.close_sent() && close_deadline_ == kNever) close_deadline_ = mono_ms() + timeout_ms_;
  // poll() skips a negative fd: the signalfd when SIGINT is ignored, stdin once it is done.
  const int in = stdin_open_ && !session_.close_sent() ? STDIN_FILENO : -1;
  pollfd fds[3] = {{stream_.fd(), POLLIN, 0}, {ctrl_c_.fd(), POLLIN, 0}, {in, POLLIN, 0}};
  const int64_t until = deadline();
  int wait = until == kNever ? -1 : static_cast<int>(std::max<int64_t>(0, until - mono_ms()));
  if (stream_.has_buffered()) wait = 0;
  const int rc = ::poll(fds, 3, wait);
  if (rc < 0 && errno != EINTR) {
    failure_ = "poll failed";
    return false;
  }
  if (fds[1].revents & POLLIN) on_interrupt();  // first: the user's word ends the others
  if (interrupts_ >= 2) return false;
  if (rc == 0 && !stream_.has_buffered() && mono_ms() >= until) {
    const bool go_on = on_deadline();
    flush();  // the Close an --expect timeout sends goes out now, not when the wait is over
    return go_on;
  }
  if ((fds[0].revents & (POLLIN | POLLHUP | POLLERR)) || stream_.has_buffered()) read_socket();
  if (fds[2].revents & (POLLIN | POLLHUP | POLLERR)) read_stdin();
  flush();
  return true;
}

int64_t Loop::deadline() const {
  // Once the close handshake has begun, only its own wait counts: an --expect still missing
  // has either failed already or can no longer arrive as a reply to anything we sent.
  const bool expecting = expected_ < o_.expect.size() && !session_.close_sent();
  return std::min(expecting ? expect_deadline_ : kNever, close_deadline_);
}

bool Loop::on_deadline() {
  if (expected_ < o_.expect.size() && !session_.close_sent()) {
    expect_failure_ = "--expect: no message \"" + escaped(o_.expect[expected_]) + "\" within " +
                      seconds(o_.timeout_s);
    // RFC 6455 §7.3: not a dropped TCP connection but the closing handshake, so the server
    // learns why we leave; 1001 (going away, §7.4.1): the client gives up and goes, nothing
    // the server sent broke a rule, and 1000 would claim the connection's purpose was met.
    note("--expect timed out: the client starts the close handshake",
         ws::inspect::Flow::kClientToServer);
    session_.send_close(ws::close_code::kGoingAway, "--expect timed out");
    return true;  // step() arms the close wait: the server's Close, at most --timeout
  }
  if (session_.close_received()) {
    // RFC 6455 §7.1.1: the server should close TCP first; past the wait we do it ourselves.
    note("the server did not close TCP in time; the client closes it",
         ws::inspect::Flow::kClientToServer);
    return false;
  }
  failure_ = "no Close frame from the server within the timeout";
  return false;
}

void Loop::on_interrupt() {
  const int n = ctrl_c_.take();
  if (n == 0) return;
  interrupts_ += n;
  if (interrupts_ >= 2) return;  // step() ends the loop at once
  const std::string wait = "waiting up to " + seconds(o_.timeout_s) +
                           " for the server's Close (Ctrl-C again quits at once)";
  if (session_.close_sent()) {
    say("interrupted: the close handshake is under way; " + wait);
    return;
  }
  // RFC 6455 §7.4.1: 1001, "going away": the user is leaving, as a browser does when it
  // navigates off a page; the closing handshake (§7.3) rather than a dropped connection.
  note("Ctrl-C: the client starts the close handshake", ws::inspect::Flow::kClientToServer);
  session_.send_close(ws::close_code::kGoingAway, {});
  say("interrupted: closing with 1001 (going away); " + wait);
}

void Loop::read_socket() {
  for (;;) {
    uint8_t buf[65536];
    const IoResult r = stream_.read(buf, sizeof buf);
    if (r.status == IoStatus::kOk) {
      receive({buf, r.bytes});
      if (session_.failed()) return;
      continue;
    }
    if (r.status == IoStatus::kAgain) return;
    if (r.status == IoStatus::kError)
      failure_ = std::string("read failed: ") + std::strerror(r.err);
    tcp_closed_ = true;
    const char* when =
        session_.close_received() ? "after the close handshake" : "without a close handshake";
    note(stream_.truncated()
             ? std::string("TLS stream ended without close_notify (truncation), ") + when
             : std::string("TCP closed by the server (FIN), ") + when,
         ws::inspect::Flow::kServerToClient);
    return;
  }
}

void Loop::receive(std::span<const uint8_t> bytes) {
  if (bytes.empty()) return;
  const bool sent_before = session_.close_sent();
  std::vector<Event> events;
  session_.receive(bytes, &events);
  print_trace();  // the frames first, then what they meant
  for (const Event& e : events) {
    if (e.kind == EventKind::kClose) {
      we_started_close_ = sent_before;
      peer_code_ = e.code;
    }
    print(e);
  }
}

void Loop::print(const Event& e) {
  switch (e.kind) {
    case EventKind::kText:
    case EventKind::kBinary:
      if (e.kind == EventKind::kText) {
        std::fwrite(e.data.data(), 1, e.data.size(), stdout);
        std::fputc('\n', stdout);
      } else {
        std::string hex;
        ws::inspect::append_hex(hex,
                                {reinterpret_cast<const uint8_t*>(e.data.data()), e.data.size()});
        std::fprintf(stdout, "[binary %zu bytes] %s\n", e.data.size(), hex.c_str());
      }
      if (expected_ < o_.expect.size() && e.data == o_.expect[expected_]) ++expected_;
      break;
    case EventKind::kPing:
    case EventKind::kPong:
      std::fprintf(stdout, "[%s] %s\n", e.kind == EventKind::kPing ? "ping" : "pong",
                   escaped(e.data).c_str());
      break;
    case EventKind::kClose:
      std::fprintf(stdout, "[close %u %s]%s%s\n", e.code,
                   std::string(ws::close_code_name(e.code)).c_str(), e.data.empty() ? "" : " ",
                   escaped(e.data).c_str());
      break;
    case EventKind::kFailed:
      say("the server broke " + std::string(ws::error_section(e.error)) + ": " +
          ws::describe(e.error) + " (" + std::string(ws::error_name(e.error)) + ", at byte " +
          std::to_string(e.offset) + "); closing with " + std::to_string(e.code));
      break;
  }
  std::fflush(stdout);
}

void Loop::read_stdin() {
  char buf[4096];
  const ssize_t n = ::read(STDIN_FILENO, buf, sizeof buf);
  if (n < 0 && (errno == EINTR || errno == EAGAIN)) return;
  if (n > 0) {
    line_.append(buf, static_cast<size_t>(n));
    for (size_t eol; (eol = line_.find('\n')) != std::string::npos;) {
      execute(parse_command(std::string_view(line_).substr(0, eol)));
      line_.erase(0, eol + 1);
      flush();
    }
    return;
  }
  // EOF: a last line without its newline still counts; then the close handshake (1000).
  if (!line_.empty()) execute(parse_command(line_));
  line_.clear();
  stdin_open_ = false;
  if (!session_.close_sent()) session_.send_close(ws::close_code::kNormal, {});
}

void Loop::execute(const Command& c) {
  bool sent = true;
  switch (c.kind) {
    case CommandKind::kText:
      sent = session_.send_text(c.text);
      break;
    case CommandKind::kBinary:
      sent = session_.send_binary(c.bytes);
      break;
    case CommandKind::kPing:
      sent = session_.send_ping(c.text);
      break;
    case CommandKind::kClose:
      sent = session_.send_close(c.code, c.text);
      break;
    case CommandKind::kFragment:
      sent = session_.send_fragments(c.text, c.fragments);
      break;
    case CommandKind::kRaw:
      session_.send_raw(c.raw);
      break;
    case CommandKind::kHelp:
      std::fputs(command_help(), stderr);
      break;
    case CommandKind::kError:
      say(c.error);
      break;
  }
  // RFC 6455 §5.5.1: nothing but /raw goes out after our Close.
  if (!sent) say("not sent: the close handshake has started");
}

void Loop::print_trace() {
  std::string& t = session_.trace();
  if (t.empty()) return;
  std::fputs(t.c_str(), stderr);
  t.clear();
}

void Loop::flush() {
  print_trace();
  Buffer& out = session_.output();
  if (out.empty() || tcp_closed_) return out.clear();
  std::string error;
  if (!stream_.write_all(out.data(), out.readable(), static_cast<int>(timeout_ms_), &error)) {
    if (failure_.empty()) failure_ = error;
  }
  out.clear();
}

void Loop::note(std::string_view text, ws::inspect::Flow flow) {
  // Into the session's trace, so the note follows the frames it comes after.
  if (o_.trace != TraceLevel::kOff) ws::inspect::format_note(session_.trace(), {"c1", flow}, text);
}

int Loop::verdict() {
  Outcome out;
  out.protocol_failed = session_.failed();
  for (const std::string* f : {&expect_failure_, &failure_})
    if (!f->empty()) out.failures.push_back(*f);
  out.close_sent = session_.close_sent();
  out.close_received = session_.close_received();
  out.we_started_close = we_started_close_;
  out.sent_code = session_.sent_close_code();
  out.peer_code = peer_code_;
  out.expect_missing = expected_ < o_.expect.size();
  if (out.expect_missing) out.next_expect = escaped(o_.expect[expected_]);
  out.tls_truncated = stream_.truncated();
  out.interrupts = interrupts_;
  const Verdict v = judge(out);
  for (const std::string& line : v.lines)
    say(line);
  return v.status;
}

}  // namespace

void say(const std::string& line) {
  std::fprintf(stderr, "wsedge-client: %s\n", line.c_str());
}

int run_session(Stream& stream, const ClientOptions& o, const ws::ServerResponse& agreed,
                std::string_view first_bytes, KeySource keys) {
  std::string hello = "connected to " + std::string(o.url.secure ? "wss://" : "ws://") +
                      o.url.host_header + o.url.target;
  if (!agreed.subprotocol.empty()) hello += ", subprotocol " + std::string(agreed.subprotocol);
  if (agreed.deflate.enabled) hello += ", permessage-deflate";
  // Ctrl-C is the loop's from here on (before, it ends the client at once: no WebSocket to
  // close yet); made before the "connected" line, which tests wait for before they send one.
  Interrupt ctrl_c;
  say(hello);
  Loop loop(stream, o, agreed, keys, ctrl_c);
  return loop.run(first_bytes);
}

}  // namespace wsedge::client
