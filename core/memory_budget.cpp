#include "core/memory_budget.h"

namespace wsedge {

MemoryBudget::~MemoryBudget() {
  for (Entry& e : active_)
    e.holder->index_ = MemoryHolder::kInactive;
}

void MemoryBudget::set(MemoryHolder& h, void* owner, size_t bytes) {
  if (!h.holds()) {
    if (bytes == 0) return;
    // Grows first: a bad_alloc leaves the accounting as it was.
    active_.push_back({&h, owner, 0});
    h.index_ = static_cast<uint32_t>(active_.size() - 1);
  }
  Entry& e = active_[h.index_];
  total_ = total_ - e.held + bytes;
  if (total_ > peak_) peak_ = total_;
  e.held = bytes;
  if (owner != nullptr) e.owner = owner;
  if (bytes != 0) return;
  // Swap-remove: order among active holders carries no meaning beyond largest()'s ties.
  Entry& last = active_.back();
  last.holder->index_ = h.index_;
  e = last;
  active_.pop_back();
  h.index_ = MemoryHolder::kInactive;
}

MemoryBudget::Holding MemoryBudget::largest() const {
  const Entry* best = nullptr;
  for (const Entry& e : active_) {
    if (best == nullptr || e.held > best->held) best = &e;
  }
  if (best == nullptr) return {};
  return {best->holder, best->owner, best->held};
}

}  // namespace wsedge
