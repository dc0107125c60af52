// core/clock.h — the monotonic clock every timer in wsedge runs on.
//
// Milliseconds since an arbitrary start (CLOCK_MONOTONIC): never jumps with wall-clock
// changes, so timeouts stay right across NTP steps. Nanoseconds for measurements.
#pragma once

#include <cstdint>
#include <ctime>

namespace wsedge {

inline int64_t mono_ns() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

inline int64_t mono_ms() {
  return mono_ns() / 1'000'000;
}

}  // namespace wsedge
