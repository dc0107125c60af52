// core/memory_budget.h — server-wide accounting of the bytes held in incomplete messages.
//
// Every holder (a WebSocket session with a message in progress: fragments, inflated output,
// a partial frame) reports what it holds now; the budget keeps the sum and, once the sum
// passes the limit, names the largest holder so its owner can free it (by closing it).
// Pure accounting: no I/O, no clock, no policy about what freeing means.
//
// A MemoryHolder is 4 bytes embedded in its owner (it fits in a session's padding: idle
// connections pay nothing for it); the budget keeps the owner pointer and the bytes of the
// holders that hold any. set() is O(1); largest() is O(holders holding bytes) and is only
// needed when over the limit. One loop owns a budget and its holders: not thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace wsedge {

class MemoryHolder {
 public:
  MemoryHolder() = default;
  // REQUIRES: released (MemoryBudget::release_all) before it is destroyed, or its budget
  // destroyed first: the budget points at the holders that hold bytes.
  ~MemoryHolder() = default;
  MemoryHolder(const MemoryHolder&) = delete;
  MemoryHolder& operator=(const MemoryHolder&) = delete;

  bool holds() const { return index_ != kInactive; }  // charged at least one byte

 private:
  friend class MemoryBudget;
  static constexpr uint32_t kInactive = UINT32_MAX;
  uint32_t index_ = kInactive;  // position in the budget's active_ while it holds bytes
};

class MemoryBudget {
 public:
  explicit MemoryBudget(size_t limit) : limit_(limit) {}
  ~MemoryBudget();  // forgets the holders still charged (their later release is a no-op)
  MemoryBudget(const MemoryBudget&) = delete;
  MemoryBudget& operator=(const MemoryBudget&) = delete;

  // Records that h, embedded in `owner`, holds `bytes` now (a charge, or a release of the
  // difference). A holder belongs to one budget at a time.
  void set(MemoryHolder& h, void* owner, size_t bytes);
  void release_all(MemoryHolder& h) { set(h, nullptr, 0); }
  size_t held(const MemoryHolder& h) const { return h.holds() ? active_[h.index_].held : 0; }

  size_t limit() const { return limit_; }
  void set_limit(size_t limit) { limit_ = limit; }
  size_t total() const { return total_; }
  size_t peak() const { return peak_; }              // highest total seen
  size_t holders() const { return active_.size(); }  // holders holding at least one byte
  bool over() const { return total_ > limit_; }

  struct Holding {
    MemoryHolder* holder = nullptr;  // null: nobody holds a byte
    void* owner = nullptr;
    size_t held = 0;
  };
  // The holder holding the most (any one of equals).
  Holding largest() const;

 private:
  struct Entry {
    MemoryHolder* holder;
    void* owner;
    size_t held;
  };

  std::vector<Entry> active_;
  size_t limit_;
  size_t total_ = 0;
  size_t peak_ = 0;
};

}  // namespace wsedge
