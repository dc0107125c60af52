// tests/unit/fail_alloc.h — allocation failure injection for the unit binary.
//
// fail_alloc.cpp replaces the global operator new (and delete, to match). While
// g_fail_armed is true, the g_fail_countdown-th operator new from now (counting from 1)
// throws std::bad_alloc, once, and g_failures counts it. Disarmed, it only forwards to
// malloc. Arm it around the code under test only (e.g. Reactor::run_once), so the test's
// own allocations never fail. Loop thread only in practice; the counters are atomic anyway.
#pragma once

#include <atomic>

namespace wsedge::test {

extern std::atomic<bool> g_fail_armed;
extern std::atomic<long> g_fail_countdown;
extern std::atomic<long> g_failures;

}  // namespace wsedge::test
