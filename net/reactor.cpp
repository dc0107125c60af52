#include "net/reactor.h"

#include <signal.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>

#include "core/clock.h"
#include "core/log.h"

namespace wsedge::net {

Result<std::unique_ptr<Reactor>> Reactor::create() {
  auto backend = EpollBackend::create();
  if (!backend) return backend.error();
  int wake_fd = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (wake_fd < 0) return Error{"eventfd", errno};
  std::unique_ptr<Reactor> r(new Reactor(std::move(backend.value()), wake_fd));
  if (auto added = r->backend_.add(wake_fd, &r->waker_, kReadable); !added) return added.error();
  return r;
}

Reactor::Reactor(EpollBackend backend, int wake_fd)
    : backend_(std::move(backend)), now_ms_(mono_ms()), wake_fd_(wake_fd) {}

Reactor::~Reactor() {
  // Closing the fds also drops them from the epoll set, which closes with backend_.
  ::close(wake_fd_);
  if (signal_fd_ >= 0) ::close(signal_fd_);
}

Result<void> Reactor::add(int fd, IoHandler* handler) {
  return backend_.add(fd, handler, kReadable | kWritable);
}

void Reactor::remove(int fd, IoHandler* handler) {
  if (auto r = backend_.remove(fd); !r) {
    char why[128];
    WSEDGE_LOG(kWarn, "reactor: remove fd %d: %s", fd, describe(r.error(), why, sizeof why));
  }
  forget_pending(handler);
}

void Reactor::remove_and_close(int fd, IoHandler* handler) {
  ::close(fd);
  forget_pending(handler);
}

void Reactor::forget_pending(IoHandler* handler) {
  // Stale-event defence: the rest of this batch may still name handler, which the caller
  // is now free to delete. Null those entries; dispatch() skips nulls (uWS, nginx).
  for (int i = ready_pos_ + 1; i < ready_n_; ++i) {
    if (ready_[i].handler == handler) ready_[i].handler = nullptr;
  }
}

void Reactor::defer(std::function<void()> fn) {
  assert(in_loop_thread());
  deferred_.push_back(std::move(fn));
}

void Reactor::post(std::function<void()> fn) {
  bool was_empty;
  {
    std::lock_guard<std::mutex> lock(posted_mu_);
    was_empty = posted_.empty();
    posted_.push_back(std::move(fn));
    any_posted_.store(true, std::memory_order_release);
  }
  // One wakeup per non-empty queue is enough: the loop takes the whole queue at once, and
  // the next post after that finds it empty again and wakes it anew.
  if (was_empty) wake();
}

void Reactor::stop() {
  stop_.store(true, std::memory_order_release);
  wake();
}

void Reactor::wake() {
  uint64_t one = 1;
  // EAGAIN means the counter is saturated: the loop is already due to wake.
  ssize_t n;
  do {
    n = ::write(wake_fd_, &one, sizeof one);
  } while (n < 0 && errno == EINTR);
}

void Reactor::Waker::on_io(uint32_t /*events*/) {
  // Edge-triggered: one read resets the counter to 0 so the next write is a new edge.
  // The tasks themselves run in run_posted(), which checks the queue every iteration.
  ++r_->own_events_;
  uint64_t count;
  ssize_t n;
  do {
    n = ::read(r_->wake_fd_, &count, sizeof count);
  } while (n < 0 && errno == EINTR);
}

Result<void> Reactor::watch_signals(std::initializer_list<int> signals,
                                    std::function<void(int)> fn) {
  assert(in_loop_thread());
  sigset_t set;
  sigemptyset(&set);
  for (auto& [signo, _] : signal_fns_)
    sigaddset(&set, signo);
  for (int signo : signals) {
    sigaddset(&set, signo);
    signal_fns_.emplace_back(signo, fn);
  }
  // Blocked, so the default action (often: terminate) never runs; the signal stays
  // pending until the signalfd read takes it.
  if (int e = ::pthread_sigmask(SIG_BLOCK, &set, nullptr); e != 0) {
    return Error{"pthread_sigmask", e};
  }
  const bool fresh = signal_fd_ < 0;
  int fd = ::signalfd(signal_fd_, &set, SFD_NONBLOCK | SFD_CLOEXEC);
  if (fd < 0) return Error{"signalfd", errno};
  signal_fd_ = fd;
  if (fresh) return backend_.add(fd, &signal_reader_, kReadable);
  return {};
}

void Reactor::SignalReader::on_io(uint32_t /*events*/) {
  ++r_->own_events_;
  signalfd_siginfo info;
  for (;;) {  // drain: several signals may have arrived on one edge
    ssize_t n = ::read(r_->signal_fd_, &info, sizeof info);
    if (n < 0 && errno == EINTR) continue;
    if (n != static_cast<ssize_t>(sizeof info)) return;  // EAGAIN: drained
    // Re-fetch after callback: fn may call watch_signals(), growing signal_fns_, so index
    // instead of holding iterators.
    for (size_t i = 0; i < r_->signal_fns_.size(); ++i) {
      if (r_->signal_fns_[i].first == static_cast<int>(info.ssi_signo)) {
        r_->signal_fns_[i].second(static_cast<int>(info.ssi_signo));
      }
    }
  }
}

int Reactor::wait_timeout(int timeout_ms) const {
  if (!deferred_.empty() || stopping()) return 0;
  if (timers_.empty()) return timeout_ms;
  int64_t until_timer = timers_.earliest_ms() - now_ms_;
  if (until_timer <= 0) return 0;
  if (timeout_ms >= 0 && timeout_ms < until_timer) return timeout_ms;
  // epoll_wait rounds up to the clock tick, never down, so the timer is due on return.
  return until_timer > INT32_MAX ? INT32_MAX : static_cast<int>(until_timer);
}

// In line in run_once(), its one caller.
[[gnu::always_inline]] inline int Reactor::dispatch(int n) {
  int suppressed = 0;
  own_events_ = 0;
  ready_n_ = n;
  // Re-fetch ready_[i] every round: a handler may remove() another handler, which nulls
  // that handler's later entries in this very array.
  for (ready_pos_ = 0; ready_pos_ < ready_n_; ++ready_pos_) {
    const ReadyEvent& ev = ready_[ready_pos_];
    if (ev.handler == nullptr) {  // removed earlier in this batch; may already be deleted
      ++suppressed;
      continue;
    }
    ev.handler->on_io(ev.events);
  }
  ready_n_ = 0;
  ready_pos_ = 0;
  return n - suppressed - own_events_;  // the loop's own fds count themselves
}

void Reactor::run_posted() {
  // run_once calls this only when something was posted, so most iterations skip the mutex
  // (two atomic RMWs). A post that lands after its check also wakes the loop, so the next
  // iteration sees it.
  {
    // Swapping two vectors keeps both capacities alive, so steady posting stops allocating.
    std::lock_guard<std::mutex> lock(posted_mu_);
    running_.swap(posted_);
    any_posted_.store(false, std::memory_order_relaxed);
  }
  for (auto& fn : running_)
    fn();
  running_.clear();
}

void Reactor::run_deferred() {
  // Index, not iterators: a deferred fn may defer more, which can reallocate deferred_.
  for (size_t i = 0; i < deferred_.size(); ++i) {
    auto fn = std::move(deferred_[i]);
    fn();
  }
  deferred_.clear();
}

int Reactor::run_once(int timeout_ms) {
  loop_thread_ = std::this_thread::get_id();
  // The timeout comes from the clock read after the previous wait (nginx does the same):
  // a timer is then late by at most that iteration's work, never early, and the clock is
  // read once per iteration instead of twice.
  auto n = backend_.wait(ready_, kMaxBatch, wait_timeout(timeout_ms));
  if (!n) {
    // EBADF/EFAULT/EINVAL: the loop's own state is broken; continuing would spin.
    char why[128];
    WSEDGE_LOG(kError, "reactor: %s", describe(n.error(), why, sizeof why));
    std::abort();
  }
  wake_ns_ = mono_ns();
  now_ms_ = wake_ns_ / 1'000'000;
  // LoopStats: one increment, by what epoll_wait returned (0..kMaxBatch). Not by what
  // dispatch() delivers: computing that costs three more instructions per iteration, and
  // the difference (the loop's own wakeup and signal fds, stale events) is rare.
  ++stats_.iterations_by_events[n.value()];
  int delivered = dispatch(n.value());
  // Most iterations have no timer due, nothing posted and nothing deferred: three tests.
  if (!timers_.empty() && timers_.earliest_ms() <= now_ms_) timers_.run_due(now_ms_);
  if (any_posted_.load(std::memory_order_acquire)) run_posted();
  if (!deferred_.empty()) run_deferred();
  if (--sample_countdown_ == 0) [[unlikely]]
    sample_iteration();
  return delivered;
}

void Reactor::sample_iteration() {
  // A second clock read, once every kSampleEvery iterations: a systematic sample of the
  // iterations' durations, from the wake-up to the end of the deferred work.
  sample_countdown_ = LoopStats::kSampleEvery;
  const int64_t took = mono_ns() - wake_ns_;
  int bucket = 0;
  while (bucket < LoopStats::kBusyBuckets - 1 && took > LoopStats::kBusyBoundsNs[bucket])
    ++bucket;
  ++stats_.busy_by_bucket[bucket];
  stats_.busy_ns += took;
}

void Reactor::run() {
  while (!stopping())
    run_once(-1);
}

}  // namespace wsedge::net
