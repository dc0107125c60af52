// core/memory_budget.h — server-wide accounting of the bytes held in incomplete messages.
//
// Every holder (a WebSocket session with a message in progress: fragments, inflated output,
// a partial frame) reports what it holds now; the budget keeps the sum and, once the sum
// passes the limit, names the largest holder so its owner can free it (by closing it).
// Pure accounting: no I/O, no clock, no policy about what freeing means. A Holder is
// embedded in its owner, costs nothing while it holds nothing, and releases its charge when
// destroyed. set() is O(1); largest() is O(holders holding bytes) and is only needed when
// over the limit. One loop owns a budget and its holders: not thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace wsedge {

class MemoryBudget;

class MemoryHolder {
 public:
  explicit MemoryHolder(void* owner = nullptr) : owner_(owner) {}
  ~MemoryHolder();  // releases whatever is still charged
  MemoryHolder(const MemoryHolder&) = delete;
  MemoryHolder& operator=(const MemoryHolder&) = delete;

  size_t held() const { return held_; }
  void* owner() const { return owner_; }  // given at construction, for the budget's caller

 private:
  friend class MemoryBudget;
  static constexpr size_t kInactive = static_cast<size_t>(-1);
  void* owner_;
  size_t held_ = 0;
  size_t index_ = kInactive;        // position in budget_->active_ while held_ > 0
  MemoryBudget* budget_ = nullptr;  // valid while held_ > 0
};

class MemoryBudget {
 public:
  explicit MemoryBudget(size_t limit) : limit_(limit) {}
  ~MemoryBudget();  // forgets the holders still charged (their later release is a no-op)
  MemoryBudget(const MemoryBudget&) = delete;
  MemoryBudget& operator=(const MemoryBudget&) = delete;

  // Records that h holds `bytes` now (a charge or a release of the difference). A holder
  // charged in another budget is released there first.
  void set(MemoryHolder& h, size_t bytes);
  void charge(MemoryHolder& h, size_t bytes) { set(h, h.held_ + bytes); }
  void release(MemoryHolder& h, size_t bytes) { set(h, bytes < h.held_ ? h.held_ - bytes : 0); }
  void release_all(MemoryHolder& h) { set(h, 0); }

  size_t limit() const { return limit_; }
  void set_limit(size_t limit) { limit_ = limit; }
  size_t total() const { return total_; }
  size_t peak() const { return peak_; }              // highest total seen
  size_t holders() const { return active_.size(); }  // holders holding at least one byte
  bool over() const { return total_ > limit_; }
  // The holder holding the most (any one of equals); null when none holds a byte.
  MemoryHolder* largest() const;

 private:
  void drop(MemoryHolder& h);  // h leaves active_ (h.held_ already subtracted)

  size_t limit_;
  size_t total_ = 0;
  size_t peak_ = 0;
  std::vector<MemoryHolder*> active_;
};

}  // namespace wsedge
