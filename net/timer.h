// net/timer.h — intrusive one-shot timers and the binary min-heap that orders them.
//
// A Timer is embedded in its owner (a connection, a session); arming it allocates nothing
// beyond amortised growth of the heap's pointer array. The owner is recovered in the
// callback from arg() (a void* given at construction). Loop thread only: a TimerHeap and
// its timers belong to one Reactor. Deadlines are mono_ms() milliseconds (core/clock.h).
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace wsedge::net {

class TimerHeap;

class Timer {
 public:
  // Called on the loop thread with the timer already disarmed, so it may re-arm itself.
  using Callback = void (*)(Timer* timer);

  explicit Timer(Callback cb, void* arg = nullptr) : cb_(cb), arg_(arg) {}
  // Auto-disarm: an owner may be destroyed with its timer still armed (a connection torn
  // down mid-handshake). The heap never keeps a pointer to a destroyed Timer.
  ~Timer();
  Timer(const Timer&) = delete;
  Timer& operator=(const Timer&) = delete;

  bool armed() const { return index_ != kNotArmed; }
  int64_t deadline_ms() const { return deadline_ms_; }  // last armed deadline
  void* arg() const { return arg_; }

 private:
  friend class TimerHeap;
  static constexpr size_t kNotArmed = static_cast<size_t>(-1);

  Callback cb_;
  void* arg_;
  int64_t deadline_ms_ = 0;
  uint64_t seq_ = 0;           // arm order: ties at the same deadline run first-armed-first
  size_t index_ = kNotArmed;   // position in heap_->heap_, so disarm is O(log n)
  TimerHeap* heap_ = nullptr;  // valid while armed
};

// Min-heap of armed timers ordered by (deadline, arm sequence).
class TimerHeap {
 public:
  TimerHeap() = default;
  ~TimerHeap();  // disarms what is left, so later ~Timer calls do not touch a dead heap
  TimerHeap(const TimerHeap&) = delete;
  TimerHeap& operator=(const TimerHeap&) = delete;

  // Arms t at deadline_ms; an armed timer is moved (and counts as armed now for ties).
  // A timer armed in another heap is first disarmed there. O(log n).
  void arm(Timer& t, int64_t deadline_ms);
  void disarm(Timer& t);  // no-op when not armed. O(log n).

  bool empty() const { return heap_.empty(); }
  size_t size() const { return heap_.size(); }
  int64_t earliest_ms() const { return heap_.front()->deadline_ms_; }  // REQUIRES: !empty()

  // Runs due timers (deadline <= now_ms) in (deadline, arm order), disarming each before
  // its callback. Stops at the first timer that was (re)armed during this call: a callback
  // that re-arms itself with delay 0 must not starve the loop. What is left due runs on the
  // next call (the reactor then polls with timeout 0). Returns the number of callbacks run.
  size_t run_due(int64_t now_ms);

 private:
  static bool before(const Timer* a, const Timer* b) {
    return a->deadline_ms_ != b->deadline_ms_ ? a->deadline_ms_ < b->deadline_ms_
                                              : a->seq_ < b->seq_;
  }
  void place(size_t i, Timer* t) {
    heap_[i] = t;
    t->index_ = i;
  }
  void sift_up(size_t i);
  void sift_down(size_t i);
  void remove_at(size_t i);

  std::vector<Timer*> heap_;
  uint64_t next_seq_ = 0;
};

}  // namespace wsedge::net
