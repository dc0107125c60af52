#include "core/memory_budget.h"

namespace wsedge {

MemoryHolder::~MemoryHolder() {
  if (budget_ != nullptr) budget_->release_all(*this);
}

MemoryBudget::~MemoryBudget() {
  for (MemoryHolder* h : active_) {
    h->budget_ = nullptr;
    h->index_ = MemoryHolder::kInactive;
    h->held_ = 0;
  }
}

void MemoryBudget::set(MemoryHolder& h, size_t bytes) {
  if (h.budget_ != nullptr && h.budget_ != this) h.budget_->release_all(h);
  total_ = total_ - h.held_ + bytes;
  if (total_ > peak_) peak_ = total_;
  const bool was_active = h.held_ > 0;
  h.held_ = bytes;
  if (bytes == 0) {
    if (was_active) drop(h);
    return;
  }
  if (!was_active) {
    h.budget_ = this;
    h.index_ = active_.size();
    active_.push_back(&h);
  }
}

void MemoryBudget::drop(MemoryHolder& h) {
  // Swap-remove: order among active holders carries no meaning beyond largest()'s ties.
  MemoryHolder* last = active_.back();
  active_[h.index_] = last;
  last->index_ = h.index_;
  active_.pop_back();
  h.index_ = MemoryHolder::kInactive;
  h.budget_ = nullptr;
}

MemoryHolder* MemoryBudget::largest() const {
  MemoryHolder* best = nullptr;
  for (MemoryHolder* h : active_) {
    if (best == nullptr || h->held_ > best->held_) best = h;
  }
  return best;
}

}  // namespace wsedge
