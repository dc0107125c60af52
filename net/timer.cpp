#include "net/timer.h"

#include <cassert>

namespace wsedge::net {

Timer::~Timer() {
  if (armed()) heap_->disarm(*this);
}

TimerHeap::~TimerHeap() {
  for (Timer* t : heap_) {
    t->index_ = Timer::kNotArmed;
    t->heap_ = nullptr;
  }
}

void TimerHeap::sift_up(size_t i) {
  Timer* t = heap_[i];
  while (i > 0) {
    size_t parent = (i - 1) / 2;
    if (!before(t, heap_[parent])) break;
    place(i, heap_[parent]);
    i = parent;
  }
  place(i, t);
}

void TimerHeap::sift_down(size_t i) {
  Timer* t = heap_[i];
  const size_t n = heap_.size();
  for (;;) {
    size_t child = 2 * i + 1;
    if (child >= n) break;
    if (child + 1 < n && before(heap_[child + 1], heap_[child])) ++child;
    if (!before(heap_[child], t)) break;
    place(i, heap_[child]);
    i = child;
  }
  place(i, t);
}

void TimerHeap::remove_at(size_t i) {
  Timer* gone = heap_[i];
  Timer* last = heap_.back();
  heap_.pop_back();
  gone->index_ = Timer::kNotArmed;
  gone->heap_ = nullptr;
  if (gone == last) return;  // it was the last slot: nothing to refill
  place(i, last);
  // The moved-in element may belong above or below slot i; only one sift does anything.
  sift_up(i);
  sift_down(last->index_);
}

void TimerHeap::arm(Timer& t, int64_t deadline_ms) {
  if (t.armed() && t.heap_ != this) t.heap_->disarm(t);
  t.deadline_ms_ = deadline_ms;
  t.seq_ = next_seq_++;
  if (t.armed()) {
    // Moved: a later seq and any deadline change can push it either way.
    sift_up(t.index_);
    sift_down(t.index_);
    return;
  }
  t.heap_ = this;
  heap_.push_back(&t);
  sift_up(heap_.size() - 1);
}

void TimerHeap::disarm(Timer& t) {
  if (!t.armed()) return;
  assert(t.heap_ == this);
  remove_at(t.index_);
}

size_t TimerHeap::run_due(int64_t now_ms) {
  const uint64_t armed_before = next_seq_;
  size_t ran = 0;
  // Re-fetch heap_.front() each round: a callback may arm, disarm or destroy any timer.
  while (!heap_.empty()) {
    Timer* t = heap_.front();
    if (t->deadline_ms_ > now_ms || t->seq_ >= armed_before) break;
    remove_at(0);
    ++ran;
    t->cb_(t);  // t may be gone after this line
  }
  return ran;
}

}  // namespace wsedge::net
