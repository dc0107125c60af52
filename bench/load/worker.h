// bench/load/worker.h — one thread, one reactor, its share of the connections.
//
// The worker owns its Conns and LoopContext; the main thread creates it, starts run() on
// a thread of its own, and talks to it only through Reactor::post (begin_rate, finish)
// and the Stats atomics. Connects are ramped: at most kMaxPendingConnects handshakes in
// progress per worker, so 50k connections do not all SYN at once. Rate mode sends from a
// timerfd tick; message i of this worker is due at start + i / rate (open loop).
#pragma once

#include <sys/timerfd.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <memory>
#include <vector>

#include "bench/load/conn.h"
#include "bench/load/loop_context.h"

namespace wsedge::load {

class Worker final : public ConnOwner, public net::IoHandler {
 public:
  static constexpr int kMaxPendingConnects = 200;
  // After the window: how long echoes still in flight may take to come home before the
  // close frames go out anyway, and then how long the close handshakes may take.
  static constexpr int64_t kDrainTimeoutMs = 2'000;
  static constexpr int64_t kFinishTimeoutMs = 4'000;

  // Connections [first, first + count) of the run, by global index.
  Worker(std::unique_ptr<net::Reactor> reactor, const Options& o, const FramePool* pool,
         const Window& w, int first, int count, uint64_t seed)
      : reactor_(std::move(reactor)),
        ctx_(o, pool, w, seed),
        conns_(new Conn[static_cast<size_t>(std::max(count, 0))]),  // count >= 0 (main)
        count_(count) {
    ctx_.reactor = reactor_.get();
    ctx_.owner = this;
    if (o.tls.enabled) {  // main() made one already, so this fails only without memory
      std::string why;
      ctx_.tls = TlsClientContext::create(o.tls, &why);
      if (!ctx_.tls) ctx_.stats.setup_failure("TLS: " + why);
    }
    for (int i = 0; i < count; ++i)
      conns_[i].init(&ctx_, first + i);
  }
  ~Worker() {
    if (tick_fd_ >= 0) ::close(tick_fd_);
  }

  Stats& stats() { return ctx_.stats; }
  net::Reactor& reactor() { return *reactor_; }

  // Worker thread: connect, then serve until finish() has closed everything.
  void run() {
    if (ctx_.opt.tls.enabled && !ctx_.tls) {
      for (int i = 0; i < count_; ++i)
        ctx_.stats.settled.add(1);
      return;
    }
    start_more();
    reactor_->run();
    for (int i = 0; i < count_; ++i)
      conns_[i].abort_quiet();
  }

  // Rate mode, posted by main once all connections are open: the schedule starts now.
  void begin_rate(int64_t start_ns) {
    start_ns_ = start_ns;
    per_sec_ = ctx_.opt.rate / ctx_.opt.threads;
    // Tick as often as one message is due, within [100 µs, 1 ms]: a coarser tick adds
    // its period to every latency, a finer one costs a wakeup per message.
    auto period_ns = static_cast<long>(std::clamp(1e9 / per_sec_, 1e5, 1e6));
    tick_fd_ = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    itimerspec its{};
    its.it_interval.tv_nsec = period_ns;
    its.it_value.tv_nsec = period_ns;
    if (tick_fd_ < 0 || timerfd_settime(tick_fd_, 0, &its, nullptr) != 0 ||
        !reactor_->add(tick_fd_, this).ok())
      ctx_.stats.error(ErrorKind::kConnect, "timerfd: errno %lld", errno);
  }

  // Posted by main at the end of the window: send nothing more, let the echoes in flight
  // return, close every connection politely, then stop. Draining first matters: RFC 6455
  // §5.5.1 lets a server answer a close frame at once, so one that has read a message but
  // not yet written its echo may drop it (libwebsockets and Python websockets do). A close
  // sent while echoes were owed would count that as lost data, against the server, for a
  // message sent after the measured window had ended.
  void finish() {
    ctx_.finishing = true;
    if (tick_fd_ >= 0) {
      reactor_->remove(tick_fd_, this);
      ::close(tick_fd_);
      tick_fd_ = -1;
    }
    next_ = count_;  // no more connects
    if (ctx_.opt.mode != Mode::kConnect) {
      for (int i = 0; i < count_; ++i)
        conns_[i].close_when_drained();
      reactor_->arm_after(drain_deadline_, kDrainTimeoutMs);
    }
    reactor_->arm_after(deadline_, kDrainTimeoutMs + kFinishTimeoutMs);
    maybe_stop();
  }

  // The rate tick.
  void on_io(uint32_t) override {
    uint64_t expirations = 0;
    while (::read(tick_fd_, &expirations, sizeof expirations) > 0) {
    }
    send_due(mono_ns());
  }

  void on_settled(Conn&, bool) override {
    ctx_.stats.settled.add(1);
    --pending_;
    start_more();
  }
  void on_cycle_done(Conn& c) override {
    const int64_t now = mono_ns();
    ctx_.stats.messages_total.add(1);
    if (ctx_.window.contains(now)) {
      ctx_.stats.messages_window.add(1);
      ctx_.stats.latency.record(static_cast<uint64_t>(now - c.started_ns()));
    }
    if (ctx_.finishing) return maybe_stop();
    ++pending_;
    c.start();
    if (c.live()) ++live_;
  }
  void on_closed(Conn&) override {
    --live_;
    if (ctx_.finishing) maybe_stop();
  }

 private:
  void start_more() {
    while (pending_ < kMaxPendingConnects && next_ < count_) {
      ++pending_;
      Conn& c = conns_[next_++];
      c.start();
      if (c.live()) ++live_;
    }
  }

  void send_due(int64_t now) {
    const double due_f = static_cast<double>(now - start_ns_) * per_sec_ / 1e9;
    const auto due = static_cast<uint64_t>(due_f) + 1;  // message 0 is due at start
    const double gap_ns = 1e9 / per_sec_;
    for (; sent_ < due; ++sent_) {
      Conn* c = next_open();
      if (!c) continue;  // every connection is gone (errors counted already)
      c->push_time(start_ns_ + static_cast<int64_t>(static_cast<double>(sent_) * gap_ns));
      if (touched_n_[c - conns_.get()]++ == 0) touched_.push_back(c);
    }
    // One writev per connection per tick, however many of its messages fell due.
    for (Conn* c : touched_) {
      size_t n = touched_n_[c - conns_.get()];
      touched_n_[c - conns_.get()] = 0;
      if (c->open()) c->send_frames(n);
    }
    touched_.clear();
  }

  Conn* next_open() {
    if (touched_n_.empty()) touched_n_.assign(static_cast<size_t>(count_), 0);
    for (int tries = 0; tries < count_; ++tries) {
      Conn* c = &conns_[rr_];
      rr_ = rr_ + 1 == count_ ? 0 : rr_ + 1;
      if (c->open()) return c;
    }
    return nullptr;
  }

  // Echoes still owed 2 s after the window: close anyway; if the server then closes
  // without them, the connection counts them as lost.
  static void on_drain_deadline(net::Timer* t) {
    auto* w = static_cast<Worker*>(t->arg());
    for (int i = 0; i < w->count_; ++i)
      if (w->conns_[i].open()) w->conns_[i].begin_close();
  }
  static void on_deadline(net::Timer* t) {
    auto* w = static_cast<Worker*>(t->arg());
    for (int i = 0; i < w->count_; ++i)
      if (w->conns_[i].live()) w->conns_[i].fail(ErrorKind::kTimeout, "close after the run");
    w->reactor_->stop();
  }
  void maybe_stop() {
    if (live_ == 0) reactor_->stop();
  }

  std::unique_ptr<net::Reactor> reactor_;
  LoopContext ctx_;
  std::unique_ptr<Conn[]> conns_;
  int count_;
  int next_ = 0;     // next connection to start
  int pending_ = 0;  // connects whose handshake has not settled
  int live_ = 0;     // connections with an open fd
  net::Timer drain_deadline_{&Worker::on_drain_deadline, this};
  net::Timer deadline_{&Worker::on_deadline, this};
  // Rate mode.
  int tick_fd_ = -1;
  int64_t start_ns_ = 0;
  double per_sec_ = 0;
  uint64_t sent_ = 0;
  int rr_ = 0;
  std::vector<Conn*> touched_;
  std::vector<uint32_t> touched_n_;
};

}  // namespace wsedge::load
