// net/reactor.h — the event loop: edge-triggered I/O readiness, timers, signals, wakeup.
//
// One Reactor per thread, share-nothing. Handlers are IoHandler* owned by the caller; the
// loop never owns or closes an fd. Everything is loop-thread-only except post() and
// stop(), which any thread may call. Edge-triggered: a handler must drain (read/accept
// until EAGAIN, write until EAGAIN or done) or it will not hear about that fd again until
// new data arrives. See docs/reactor.md for the loop, step by step.
#pragma once

#include <atomic>
#include <cassert>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "core/result.h"
#include "net/epoll_backend.h"
#include "net/timer.h"

namespace wsedge::net {

// Readiness bits given to IoHandler::on_io. Error and hang-up arrive as all three, so the
// handler's next read or write meets the error (nginx); a peer half-close (FIN) as
// kReadable|kHangup, and the handler's read then returns Closed.
inline constexpr uint32_t kReadable = 1;
inline constexpr uint32_t kWritable = 2;
inline constexpr uint32_t kHangup = 4;
// With kHangup: the peer sent a FIN and no error or full hang-up was pending. TCP raises
// it only once every byte before the FIN has arrived, so after a read that drains the
// socket (a short read) the next read would return 0 — the handler may take the EOF as
// read and save the syscall. Absent when a reset is pending: then read to learn it.
inline constexpr uint32_t kPeerFin = 8;

class IoHandler {
 public:
  virtual void on_io(uint32_t events) = 0;

 protected:
  ~IoHandler() = default;  // never deleted through this interface
};

// What the loop measures of itself, for the metrics page (docs/metrics.md): plain
// integers of the loop thread, read between iterations. Cheap by construction: each
// iteration adds one to the slot of its event count (one instruction: no search, no sum;
// the buckets and the sum are made from the slots when the page is read), and an
// iteration's duration is measured on one iteration in kSampleEvery only — the one clock
// read per iteration the loop makes anyway gives its start, a second read ends it.
struct LoopStats {
  static constexpr int kMaxEvents = 256;  // Reactor::kMaxBatch
  // iterations_by_events[n]: iterations whose epoll_wait returned n events (the loop's
  // own eventfd and signalfd included).
  uint64_t iterations_by_events[kMaxEvents + 1] = {};
  static constexpr int kSampleEvery = 64;
  // Upper bounds of the duration buckets (ns), then one bucket above the last.
  static constexpr int64_t kBusyBoundsNs[] = {
      1'000,   2'500,     5'000,     10'000,    25'000,     50'000,     100'000,    250'000,
      500'000, 1'000'000, 2'500'000, 5'000'000, 10'000'000, 25'000'000, 100'000'000};
  static constexpr int kBusyBuckets = sizeof(kBusyBoundsNs) / sizeof(kBusyBoundsNs[0]) + 1;
  uint64_t busy_by_bucket[kBusyBuckets] = {};
  int64_t busy_ns = 0;  // the sampled iterations' durations, summed
};

class Reactor {
 public:
  static constexpr int kMaxBatch = LoopStats::kMaxEvents;  // events taken per epoll_wait

  static Result<std::unique_ptr<Reactor>> create();
  ~Reactor();
  Reactor(const Reactor&) = delete;
  Reactor& operator=(const Reactor&) = delete;

  // Registers fd once, edge-triggered, for read+write+half-close. One handler per fd, and
  // a handler serves one fd (remove() identifies pending events by handler).
  Result<void> add(int fd, IoHandler* handler);
  // Unregisters fd (failures are logged) and drops any event for handler still pending in
  // the current batch, so handler may be deleted once the current callback returns (defer()
  // is the simplest place). Does not close fd. Call it before closing fd: a closed fd may
  // live on in epoll through a dup.
  void remove(int fd, IoHandler* handler);
  // remove() and close(fd) in one: closing the last descriptor of a socket takes it out of
  // the epoll set by itself, so this skips the EPOLL_CTL_DEL syscall (one per connection).
  // Only for an fd that was never dup'ed or inherited without close-on-exec (every fd the
  // server opens): a surviving duplicate would keep the registration and its events alive.
  void remove_and_close(int fd, IoHandler* handler);
  // Runs fn after this iteration's I/O, timers and posted tasks, in FIFO order; fns
  // deferred by a deferred fn run in the same iteration. Loop thread only.
  void defer(std::function<void()> fn);

  // Timers. Loop thread only. Deadlines are mono_ms() values. O(log n).
  void arm(Timer& t, int64_t deadline_ms) {
    assert(in_loop_thread());
    timers_.arm(t, deadline_ms);
  }
  void arm_after(Timer& t, int64_t delay_ms) { arm(t, now_ms_ + delay_ms); }
  void disarm(Timer& t) {
    assert(in_loop_thread());
    timers_.disarm(t);
  }
  // mono_ms() read when epoll_wait returns: one clock read per iteration, and every timer
  // armed in one batch shares the same "now".
  int64_t now_ms() const { return now_ms_; }
  // The loop's own measurements (LoopStats). Loop thread only.
  const LoopStats& stats() const { return stats_; }

  // Thread-safe: queue fn for the loop thread and wake it (eventfd). Tasks run in FIFO
  // order after the iteration's timers; a task posted by a task runs next iteration.
  void post(std::function<void()> fn);

  // Blocks `signals` in the calling thread's mask (call before starting other threads,
  // which inherit it) and calls fn(signo) on the loop thread for each delivery, through a
  // signalfd. May be called again to add signals; the mask stays blocked after ~Reactor.
  Result<void> watch_signals(std::initializer_list<int> signals, std::function<void(int)> fn);

  // One iteration: wait (up to timeout_ms, shortened to the next timer; -1: no limit; 0
  // when deferred work is pending), dispatch the batch, run due timers, posted tasks,
  // deferred fns. Returns the number of events given to user handlers (the loop's own
  // wakeup and signal fds are not counted; suppressed stale events are not counted).
  int run_once(int timeout_ms);
  void run();   // run_once(-1) until stop(); returns at once if stop() came first
  void stop();  // thread-safe; sticky: the loop stays stopping
  bool stopping() const { return stop_.load(std::memory_order_acquire); }
  // True on the thread that last ran an iteration (or before the first one).
  bool in_loop_thread() const {
    return loop_thread_ == std::thread::id{} || loop_thread_ == std::this_thread::get_id();
  }

 private:
  // The loop's own fds (eventfd, signalfd) are ordinary handlers in the batch.
  class Waker final : public IoHandler {
   public:
    explicit Waker(Reactor* r) : r_(r) {}
    void on_io(uint32_t events) override;
    Reactor* r_;
  };
  class SignalReader final : public IoHandler {
   public:
    explicit SignalReader(Reactor* r) : r_(r) {}
    void on_io(uint32_t events) override;
    Reactor* r_;
  };

  Reactor(EpollBackend backend, int wake_fd);
  int wait_timeout(int timeout_ms) const;
  int dispatch(int n);
  void forget_pending(IoHandler* handler);  // null handler's events left in this batch
  void run_posted();
  void run_deferred();
  [[gnu::cold, gnu::noinline]] void sample_iteration();
  void wake();

  EpollBackend backend_;
  ReadyEvent ready_[kMaxBatch] = {};
  int ready_n_ = 0;     // size of the batch being dispatched (0 outside dispatch)
  int ready_pos_ = 0;   // index of the event being dispatched
  int own_events_ = 0;  // events of this batch for the waker and the signal reader
  int64_t now_ms_;
  int64_t wake_ns_ = 0;  // mono_ns() when this iteration's epoll_wait returned
  LoopStats stats_;
  int sample_countdown_ = LoopStats::kSampleEvery;
  TimerHeap timers_;
  std::vector<std::function<void()>> deferred_;
  std::thread::id loop_thread_;  // set by each run_once; checks loop-thread-only calls

  std::atomic<bool> stop_{false};
  int wake_fd_;
  Waker waker_{this};
  std::mutex posted_mu_;
  std::vector<std::function<void()>> posted_;   // guarded by posted_mu_
  std::atomic<bool> any_posted_{false};         // posted_ is not empty: worth the lock
  std::vector<std::function<void()>> running_;  // loop thread: the batch taken from posted_

  int signal_fd_ = -1;
  SignalReader signal_reader_{this};
  std::vector<std::pair<int, std::function<void(int)>>> signal_fns_;
};

}  // namespace wsedge::net
