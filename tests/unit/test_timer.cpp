#include <doctest/doctest.h>

#include <algorithm>
#include <memory>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "core/clock.h"
#include "net/reactor.h"
#include "net/timer.h"

using wsedge::net::Reactor;
using wsedge::net::Timer;
using wsedge::net::TimerHeap;

namespace {

// A timer that appends its name to a shared log when it fires.
struct Named {
  Named(std::string n, std::vector<std::string>* l) : name(std::move(n)), log(l) {}
  std::string name;
  std::vector<std::string>* log;
  Timer timer{&Named::fire, this};
  static void fire(Timer* t) {
    auto* self = static_cast<Named*>(t->arg());
    self->log->push_back(self->name);
  }
};

}  // namespace

TEST_CASE("TimerHeap runs due timers by deadline, equal deadlines in arm order") {
  std::vector<std::string> log;
  Named a{"a", &log}, b{"b", &log}, c{"c", &log}, d{"d", &log}, e{"e", &log}, f{"f", &log};
  TimerHeap heap;
  struct Row {
    Named* n;
    int64_t deadline;
  };
  const Row rows[] = {{&a, 100}, {&b, 50}, {&c, 100}, {&d, 50}, {&e, 75}, {&f, 101}};
  for (const Row& r : rows)
    heap.arm(r.n->timer, r.deadline);
  CHECK(heap.size() == 6);
  CHECK(heap.earliest_ms() == 50);
  CHECK(heap.run_due(49) == 0);
  CHECK(heap.run_due(100) == 5);
  CHECK(log == std::vector<std::string>{"b", "d", "e", "a", "c"});
  CHECK_FALSE(a.timer.armed());
  CHECK(f.timer.armed());
  CHECK(heap.earliest_ms() == 101);
}

TEST_CASE("TimerHeap disarm removes from any position; re-arm moves and re-sequences") {
  std::vector<std::string> log;
  Named a{"a", &log}, b{"b", &log}, c{"c", &log}, d{"d", &log};
  TimerHeap heap;
  heap.arm(a.timer, 10);
  heap.arm(b.timer, 20);
  heap.arm(c.timer, 30);
  heap.arm(d.timer, 10);
  heap.disarm(b.timer);
  heap.disarm(b.timer);  // disarming twice is a no-op
  CHECK_FALSE(b.timer.armed());
  heap.arm(a.timer, 10);  // same deadline, armed again: now after d
  heap.arm(c.timer, 5);   // moved earlier
  CHECK(c.timer.deadline_ms() == 5);
  CHECK(heap.run_due(1000) == 3);
  CHECK(log == std::vector<std::string>{"c", "d", "a"});
  CHECK(heap.empty());
}

TEST_CASE("Timer destroyed while armed leaves the heap (auto-disarm)") {
  std::vector<std::string> log;
  TimerHeap heap;
  Named keep{"keep", &log};
  heap.arm(keep.timer, 2);
  {
    auto gone = std::make_unique<Named>("gone", &log);
    heap.arm(gone->timer, 1);
    CHECK(heap.size() == 2);
  }
  CHECK(heap.size() == 1);
  CHECK(heap.run_due(10) == 1);
  CHECK(log == std::vector<std::string>{"keep"});
}

TEST_CASE("Timer callback may re-arm itself; a delay-0 re-arm waits for the next round") {
  struct Again {
    TimerHeap* heap;
    int fired = 0;
    Timer timer{&Again::fire, this};
    static void fire(Timer* t) {
      auto* self = static_cast<Again*>(t->arg());
      ++self->fired;
      self->heap->arm(*t, 0);  // due at once: would loop forever without the cut-off
    }
  };
  TimerHeap heap;
  Again again{&heap};
  heap.arm(again.timer, 0);
  CHECK(heap.run_due(0) == 1);
  CHECK(again.fired == 1);
  CHECK(again.timer.armed());
  CHECK(heap.run_due(0) == 1);
  CHECK(again.fired == 2);
  heap.disarm(again.timer);
}

TEST_CASE("Timer callback may disarm a later due timer, which then does not run") {
  std::vector<std::string> log;
  Named victim{"victim", &log};
  struct Killer {
    TimerHeap* heap;
    Timer* victim;
    Timer timer{&Killer::fire, this};
    static void fire(Timer* t) {
      auto* self = static_cast<Killer*>(t->arg());
      self->heap->disarm(*self->victim);
    }
  };
  TimerHeap heap;
  Killer killer{&heap, &victim.timer};
  heap.arm(killer.timer, 5);
  heap.arm(victim.timer, 5);
  CHECK(heap.run_due(5) == 1);
  CHECK(log.empty());
  CHECK(heap.empty());
}

TEST_CASE("TimerHeap matches a sorted reference under random arm/disarm (seeded)") {
  std::mt19937 rng(12345);
  std::vector<std::string> log;
  std::vector<std::unique_ptr<Named>> timers;
  for (int i = 0; i < 200; ++i) {
    timers.push_back(std::make_unique<Named>(std::to_string(i), &log));
  }
  TimerHeap heap;
  struct Ref {
    int64_t deadline;
    uint64_t seq;
    std::string name;
  };
  std::vector<Ref> ref(timers.size(), Ref{-1, 0, ""});
  uint64_t seq = 0;
  for (int step = 0; step < 5000; ++step) {
    size_t i = rng() % timers.size();
    if (rng() % 4 == 0) {
      heap.disarm(timers[i]->timer);
      ref[i].deadline = -1;
    } else {
      int64_t when = static_cast<int64_t>(rng() % 50);
      heap.arm(timers[i]->timer, when);
      ref[i] = Ref{when, seq++, timers[i]->name};
    }
  }
  std::vector<Ref> expected;
  for (const Ref& r : ref) {
    if (r.deadline >= 0) expected.push_back(r);
  }
  std::sort(expected.begin(), expected.end(), [](const Ref& x, const Ref& y) {
    return x.deadline != y.deadline ? x.deadline < y.deadline : x.seq < y.seq;
  });
  REQUIRE(heap.size() == expected.size());
  CHECK(heap.run_due(1000) == expected.size());
  REQUIRE(log.size() == expected.size());
  for (size_t k = 0; k < log.size(); ++k)
    CHECK(log[k] == expected[k].name);
}

TEST_CASE("Reactor: run_once(-1) returns when the next timer is due") {
  auto loop = Reactor::create();
  REQUIRE(loop.ok());
  Reactor& r = *loop.value();
  std::vector<std::string> log;
  Named t{"t", &log};
  r.arm_after(t.timer, 30);
  const int64_t start = wsedge::mono_ms();
  int rounds = 0;
  while (log.empty() && rounds < 10) {
    r.run_once(-1);  // without the timer this would block forever
    ++rounds;
  }
  const int64_t elapsed = wsedge::mono_ms() - start;
  CHECK(log.size() == 1);
  CHECK(elapsed >= 29);
  CHECK(elapsed < 1000);
  CHECK(rounds <= 2);
}

TEST_CASE("Reactor: run_once timeout is shortened by a timer but not lengthened") {
  auto loop = Reactor::create();
  REQUIRE(loop.ok());
  Reactor& r = *loop.value();
  std::vector<std::string> log;
  Named far{"far", &log};
  r.arm_after(far.timer, 10'000);
  int64_t start = wsedge::mono_ms();
  CHECK(r.run_once(20) == 0);
  int64_t elapsed = wsedge::mono_ms() - start;
  CHECK(elapsed >= 19);
  CHECK(elapsed < 1000);
  CHECK(log.empty());
  CHECK(far.timer.armed());
  r.disarm(far.timer);
  CHECK_FALSE(far.timer.armed());
}

TEST_CASE("Reactor: now_ms is the cached clock of the iteration") {
  auto loop = Reactor::create();
  REQUIRE(loop.ok());
  Reactor& r = *loop.value();
  r.run_once(0);
  const int64_t before = r.now_ms();
  CHECK(std::abs(before - wsedge::mono_ms()) <= 5);
  r.run_once(15);
  CHECK(r.now_ms() - before >= 14);
}
