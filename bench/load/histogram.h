// bench/load/histogram.h — a log-linear latency histogram (HdrHistogram's bucket shape).
//
// Values are nanoseconds. Below 256 every value has its own bucket; above, each power of
// two [2^e, 2^(e+1)) is cut into 128 equal buckets, so a bucket is at most 1/128 (0.78%)
// of its lower bound wide and reporting its midpoint errs by at most 0.39%. Fixed 35 KiB,
// no allocation after construction. One writer thread per histogram; any thread may read
// (counts are relaxed atomics written with plain load+store, so recording costs no lock).
#pragma once

#include <algorithm>
#include <array>
#include <atomic>
#include <bit>
#include <cstdint>

namespace wsedge::load {

class Histogram {
 public:
  static constexpr int kSubBits = 7;  // 128 sub-buckets per power of two
  static constexpr uint64_t kSub = uint64_t{1} << kSubBits;
  static constexpr int kMaxExponent = 41;  // 2^42 ns = 73 minutes; larger values clamp
  static constexpr size_t kBuckets = (kMaxExponent - kSubBits + 2) * kSub;

  static size_t index_of(uint64_t v) {
    if (v < 2 * kSub) return static_cast<size_t>(v);
    int e = std::bit_width(v) - 1;
    if (e > kMaxExponent) return kBuckets - 1;
    int shift = e - kSubBits;
    return static_cast<size_t>((shift + 1) * kSub + ((v >> shift) - kSub));
  }
  // [lowest, highest] value that lands in bucket i.
  static uint64_t bucket_low(size_t i) {
    if (i < 2 * kSub) return i;
    uint64_t shift = i / kSub - 1;
    return (kSub + i % kSub) << shift;
  }
  static uint64_t bucket_high(size_t i) {
    if (i < 2 * kSub) return i;
    uint64_t shift = i / kSub - 1;
    return bucket_low(i) + (uint64_t{1} << shift) - 1;
  }

  // Writer thread only.
  void record(uint64_t ns) {
    bump(counts_[index_of(ns)], 1);
    bump(total_, 1);
    bump(sum_, ns);
    if (ns > max_.load(std::memory_order_relaxed)) max_.store(ns, std::memory_order_relaxed);
  }

  // Adds other's counts into this (this must not have a concurrent writer).
  void merge(const Histogram& other) {
    for (size_t i = 0; i < kBuckets; ++i)
      bump(counts_[i], other.counts_[i].load(kRelaxed));
    bump(total_, other.total());
    bump(sum_, other.sum_.load(kRelaxed));
    max_.store(std::max(max(), other.max()), kRelaxed);
  }

  uint64_t total() const { return total_.load(kRelaxed); }
  uint64_t max() const { return max_.load(kRelaxed); }
  double mean() const {
    uint64_t n = total();
    return n ? static_cast<double>(sum_.load(kRelaxed)) / static_cast<double>(n) : 0.0;
  }

  // The value at quantile q (0..1): the midpoint of the bucket holding the ceil(q*n)-th
  // smallest value, never above the exact maximum. 0 when empty.
  uint64_t percentile(double q) const {
    uint64_t n = total();
    if (n == 0) return 0;
    auto rank = static_cast<uint64_t>(q * static_cast<double>(n) + 0.999999);
    rank = std::clamp<uint64_t>(rank, 1, n);
    uint64_t seen = 0;
    for (size_t i = 0; i < kBuckets; ++i) {
      seen += counts_[i].load(kRelaxed);
      if (seen >= rank) {
        uint64_t mid = bucket_low(i) + (bucket_high(i) - bucket_low(i)) / 2;
        return std::min(mid, max());
      }
    }
    return max();
  }

 private:
  static constexpr auto kRelaxed = std::memory_order_relaxed;
  // Single writer: load + store is race-free for readers and compiles to a plain add.
  static void bump(std::atomic<uint64_t>& a, uint64_t by) {
    a.store(a.load(kRelaxed) + by, kRelaxed);
  }

  std::array<std::atomic<uint64_t>, kBuckets> counts_{};
  std::atomic<uint64_t> total_{0};
  std::atomic<uint64_t> sum_{0};
  std::atomic<uint64_t> max_{0};
};

}  // namespace wsedge::load
