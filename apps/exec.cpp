#include "apps/exec.h"

#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <string_view>

#include "apps/child_process.h"
#include "apps/text.h"
#include "core/buffer.h"
#include "core/log.h"
#include "http/parser.h"
#include "ws/close_code.h"

namespace wsedge::app {
namespace {

enum Stream { kStdin = 0, kStdout = 1, kStderr = 2, kPidfd = 3 };

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    char x = a[i], y = b[i];
    if (x >= 'A' && x <= 'Z') x = static_cast<char>(x - 'A' + 'a');
    if (y >= 'A' && y <= 'Z') y = static_cast<char>(y - 'A' + 'a');
    if (x != y) return false;
  }
  return true;
}

// "http://host:port" -> "host:port"; empty when it has no scheme.
std::string_view origin_authority(std::string_view origin) {
  size_t p = origin.find("://");
  if (p == std::string_view::npos) return {};
  std::string_view rest = origin.substr(p + 3);
  return rest.substr(0, rest.find('/'));
}

}  // namespace

// One running command and the session it talks to (until that session ends).
class ExecHandler::Job {
 public:
  Job(ExecHandler& owner, ws::Session* s, const ChildProcess& c)
      : owner_(owner), session_(s), child_(c), kill_timer_(&Job::on_kill_timer, this) {
    for (int i = 0; i < 4; ++i)
      ends_[i] = End{this, i};
  }
  ~Job() {
    for (int i = 0; i < 4; ++i)
      close_end(i);
  }

  bool watch() {
    for (int i = 0; i < 4; ++i) {
      if (!owner_.loop_.add(*fd(i), &ends_[i])) return false;
    }
    return true;
  }
  void input(std::span<const uint8_t> text);
  void detach();
  void resume();
  void kill_and_reap();

  ExecHandler& owner_;
  ws::Session* session_;  // null once the session ended
  Job* prev = nullptr;
  Job* next = nullptr;

 private:
  struct End final : net::IoHandler {
    End() = default;
    End(Job* j, int w) : job(j), which(w) {}
    void on_io(uint32_t /*events*/) override { job->on_io(which); }
    Job* job = nullptr;
    int which = 0;
  };

  int* fd(int which) {
    switch (which) {
      case kStdin:
        return &child_.stdin_fd;
      case kStdout:
        return &child_.stdout_fd;
      case kStderr:
        return &child_.stderr_fd;
      default:
        return &child_.pidfd;
    }
  }
  void close_end(int which) {
    int* f = fd(which);
    if (*f < 0) return;
    owner_.loop_.remove(*f, &ends_[which]);  // before close: a dup may keep it in epoll
    close_fd(*f);
  }
  void on_io(int which) {
    if (which == kStdin) flush_stdin();
    if (which == kStdout || which == kStderr) read_output(which, false);
    if (which == kPidfd) reap();
  }
  static void on_kill_timer(net::Timer* t) {
    auto* job = static_cast<Job*>(t->arg());
    WSEDGE_LOG(kInfo, "exec: pid %d ignored SIGINT for %lld ms: SIGKILL", job->child_.pid,
               static_cast<long long>(job->owner_.options_.kill_after_ms));
    ::kill(-job->child_.pid, SIGKILL);
  }
  void flush_stdin();
  void read_output(int which, bool force);
  void take(int which, std::string_view chunk);
  size_t emit_piece(std::string_view text);
  void emit(std::string_view line);
  void reap();

  ChildProcess child_;
  End ends_[4];
  std::string partial_[3];  // an unfinished output line, per stream (stdout, stderr)
  Buffer stdin_pending_;    // what the command has not read yet
  net::Timer kill_timer_;
  bool paused_ = false;  // the client is behind: output stays in the pipe for now
};

void ExecHandler::Job::input(std::span<const uint8_t> text) {
  if (child_.stdin_fd < 0) return;  // the command closed its stdin: nobody would read this
  stdin_pending_.append(text);
  stdin_pending_.append("\n", 1);
  flush_stdin();
  if (stdin_pending_.readable() > kMaxPendingStdin && session_ != nullptr) {
    session_->close(ws::close_code::kPolicyViolation, "the command is not reading its input");
  }
}

void ExecHandler::Job::flush_stdin() {
  while (!stdin_pending_.empty() && child_.stdin_fd >= 0) {
    ssize_t n = ::write(child_.stdin_fd, stdin_pending_.data(), stdin_pending_.readable());
    if (n > 0) {
      stdin_pending_.consume(static_cast<size_t>(n));
    } else if (n < 0 && errno == EINTR) {
      continue;
    } else if (n < 0 && errno == EAGAIN) {
      return;  // the pipe is full: its writable edge brings us back
    } else {   // EPIPE (SIGPIPE is ignored): the command closed its stdin or exited
      close_end(kStdin);
      stdin_pending_.release();
    }
  }
  if (stdin_pending_.empty()) stdin_pending_.release();
}

// Edge-triggered: read until EAGAIN, or stop early while the client is behind (`force`
// reads regardless: the command exited and what is left in the pipe is all there is).
void ExecHandler::Job::read_output(int which, bool force) {
  char buf[16 * 1024];
  for (;;) {
    int f = *fd(which);
    if (f < 0 || (paused_ && !force && session_ != nullptr)) return;
    ssize_t n = ::read(f, buf, sizeof buf);
    if (n > 0) {
      if (session_ != nullptr) take(which, {buf, static_cast<size_t>(n)});
    } else if (n < 0 && errno == EINTR) {
      continue;
    } else if (n < 0 && errno == EAGAIN) {
      return;
    } else {  // EOF (or an error, which ends the stream just the same)
      if (session_ != nullptr && !partial_[which].empty()) emit(partial_[which]);
      partial_[which].clear();
      close_end(which);
      return;
    }
  }
}

void ExecHandler::Job::take(int which, std::string_view chunk) {
  std::string& line = partial_[which];
  line.append(chunk);
  size_t start = 0;
  for (size_t nl; (nl = line.find('\n', start)) != std::string::npos; start = nl + 1) {
    std::string_view whole = std::string_view(line).substr(start, nl - start);
    // However the pipe cut the output, a line longer than one message goes in pieces.
    while (whole.size() > kMaxLine)
      whole.remove_prefix(emit_piece(whole));
    emit(whole);
  }
  line.erase(0, start);
  while (line.size() > kMaxLine)
    line.erase(0, emit_piece(line));
}

// Emits the first kMaxLine bytes of `text` (fewer, to end on a UTF-8 character boundary)
// as one message; returns how many bytes it took.
size_t ExecHandler::Job::emit_piece(std::string_view text) {
  size_t cut = utf8_prefix(text, kMaxLine);
  if (cut == 0) cut = kMaxLine;
  emit(text.substr(0, cut));
  return cut;
}

void ExecHandler::Job::emit(std::string_view line) {
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  // RFC 6455 §8.1: a text message must be valid UTF-8; a command may print anything.
  session_->send_text(repair_utf8(line));
  if (session_->buffered_amount() > session_->high_water_mark()) paused_ = true;
}

void ExecHandler::Job::resume() {
  paused_ = false;
  read_output(kStdout, false);
  read_output(kStderr, false);
}

// The session is gone: the command must end. Closing stdin is the polite request (cat,
// a REPL), SIGINT the firm one, SIGKILL after kill_after_ms the last word. Output is still
// drained (and dropped) so the command does not block on a full pipe while it exits.
void ExecHandler::Job::detach() {
  session_ = nullptr;
  close_end(kStdin);
  stdin_pending_.release();
  ::kill(-child_.pid, SIGINT);
  owner_.loop_.arm_after(kill_timer_, owner_.options_.kill_after_ms);
  resume();
}

void ExecHandler::Job::reap() {
  int status = 0;
  pid_t r = ::waitpid(child_.pid, &status, WNOHANG);
  if (r != child_.pid) return;  // not exited yet (or already reaped): nothing to do
  owner_.loop_.disarm(kill_timer_);
  std::string how = describe_wait_status(status);
  WSEDGE_LOG(kInfo, "exec: pid %d %s", child_.pid, how.c_str());
  if (session_ != nullptr) {
    // What the command wrote before it exited still sits in the pipes: it goes first.
    read_output(kStdout, true);
    read_output(kStderr, true);
    for (int w : {kStdout, kStderr}) {
      if (!partial_[w].empty()) emit(partial_[w]);
    }
    session_->user_data = nullptr;
    session_->close(ws::close_code::kNormal, how);
    session_ = nullptr;
  }
  for (int i = 0; i < 4; ++i)
    close_end(i);
  owner_.job_finished(this);
}

// Shutdown path: the loop is no longer running, so this waits (SIGKILL cannot be ignored;
// the wait is short).
void ExecHandler::Job::kill_and_reap() {
  ::kill(-child_.pid, SIGKILL);
  ::waitpid(child_.pid, nullptr, 0);
}

ExecHandler::ExecHandler(net::Reactor& loop, Options options)
    : loop_(loop), options_(std::move(options)) {}

ExecHandler::~ExecHandler() {
  while (list_ != nullptr) {
    Job* j = list_;
    list_ = j->next;
    j->kill_and_reap();
    delete j;
  }
}

int ExecHandler::authorize(const http::Request& request) const {
  std::string_view origin = request.header("Origin");
  // Browsers always send Origin; other clients may not, and they are no CSRF vehicle.
  if (!origin.empty() && options_.allowed_origins.empty() &&
      !iequals(origin_authority(origin), request.host())) {
    return 403;
  }
  if (options_.token.empty()) return 0;
  std::string presented;
  std::string_view auth = request.header("Authorization");
  if (auth.size() > 7 && iequals(auth.substr(0, 7), "Bearer ")) {
    std::string_view t = auth.substr(7);
    while (!t.empty() && t.front() == ' ')
      t.remove_prefix(1);
    presented.assign(t);
  } else {
    query_param(request.query, "token", &presented);
  }
  return secret_equal(presented, options_.token) ? 0 : 401;
}

void ExecHandler::on_open(ws::Session& s, const http::Request& /*request*/) {
  Result<ChildProcess> child = spawn_child(options_.argv);
  if (!child) {
    char why[160];
    describe(child.error(), why, sizeof why);
    WSEDGE_LOG(kWarn, "exec: cannot start '%s': %s", options_.argv[0].c_str(), why);
    // RFC 6455 §7.4.1: 1011, the server met a condition that kept it from serving.
    s.close(ws::close_code::kInternalError, std::string("cannot start command: ") + why);
    return;
  }
  auto* job = new Job(*this, &s, child.value());
  job->next = list_;
  if (list_ != nullptr) list_->prev = job;
  list_ = job;
  ++jobs_;
  s.user_data = job;
  WSEDGE_LOG(kInfo, "exec: pid %d started for %.*s", child->pid,
             static_cast<int>(s.peer_address().size()), s.peer_address().data());
  if (!job->watch()) {
    s.user_data = nullptr;
    job->session_ = nullptr;
    s.close(ws::close_code::kInternalError, "cannot watch the command");
    job->detach();
  }
}

void ExecHandler::on_message(ws::Session& s, std::span<const uint8_t> payload,
                             ws::MessageType type) {
  auto* job = static_cast<Job*>(s.user_data);
  if (job == nullptr) return;  // the command already exited; the close is under way
  if (type != ws::MessageType::kText) {
    // RFC 6455 §7.4.1: 1003 — a data type the endpoint cannot accept.
    s.close(ws::close_code::kUnsupportedData, "exec takes text lines");
    return;
  }
  job->input(payload);
}

void ExecHandler::on_close(ws::Session& s, uint16_t /*code*/, std::string_view /*reason*/) {
  auto* job = static_cast<Job*>(s.user_data);
  if (job == nullptr) return;
  s.user_data = nullptr;
  job->detach();
}

void ExecHandler::on_drain(ws::Session& s) {
  if (auto* job = static_cast<Job*>(s.user_data)) job->resume();
}

void ExecHandler::when_idle(std::function<void()> done) {
  if (jobs_ == 0) {
    done();
    return;
  }
  idle_ = std::move(done);
}

void ExecHandler::job_finished(Job* job) {
  if (job->prev != nullptr) job->prev->next = job->next;
  if (job->next != nullptr) job->next->prev = job->prev;
  if (list_ == job) list_ = job->next;
  --jobs_;
  // We are inside one of the job's own callbacks: free it after the loop is done with it.
  loop_.defer([job] { delete job; });
  if (jobs_ == 0 && idle_) {
    auto done = std::move(idle_);
    idle_ = nullptr;
    done();
  }
}

}  // namespace wsedge::app
