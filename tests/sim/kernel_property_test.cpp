// Properties of the kernel over random task programs (RapidCheck): a small
// program of tasks, each a list of operations (sleep, checkpoint, send and
// receive on shared streams, lock/unlock, spawn children, cancel a scope,
// move_on_after), run under a random seed and strategy. Every blocking
// operation is bounded by a timeout, so a run must complete: a lost wake-up
// shows up as a deadlock or a stuck task. The kernel invariants checked:
// every task ends, virtual time never goes backwards (per task and across
// the run), locks exclude, stream items are neither duplicated nor invented
// nor lost, and the same seed gives the same hash. A variant adds an
// intended lock cycle: the run must then stop as a deadlock whose report
// lists exactly the two tasks of the cycle.
#include <gtest/gtest.h>
#include <rapidcheck.h>
#include <rapidcheck/gtest.h>

#include <cstdint>
#include <ostream>
#include <set>
#include <string>
#include <vector>

#include "asgisim/sim/lock.hpp"
#include "asgisim/sim/simulation.hpp"
#include "sim/kernel_program.hpp"

namespace asgisim::sim {
namespace {

using namespace kernel_program;

// How a run is scheduled: the seed, the strategy and PCT's parameters (short
// step estimates put PCT's change points inside these short runs).
struct Schedule {
  std::uint64_t seed = 0;
  Strategy strategy = Strategy::fifo;
  std::uint32_t pct_depth = 3;
  std::uint64_t pct_steps_estimate = 2'000;
};

std::ostream& operator<<(std::ostream& out, const Schedule& s) {
  return out << "seed " << s.seed << " strategy " << to_string(s.strategy) << " pct_depth " << s.pct_depth
             << " pct_steps_estimate " << s.pct_steps_estimate;
}

Schedule generate_schedule() {
  Schedule s;
  s.seed = *rc::gen::arbitrary<std::uint64_t>();
  s.strategy = *rc::gen::element(Strategy::fifo, Strategy::random, Strategy::pct);
  s.pct_depth = *rc::gen::inRange<std::uint32_t>(1, 5);
  s.pct_steps_estimate = *rc::gen::inRange<std::uint64_t>(2, 300);
  return s;
}

// Runs `program` (plus, with `with_cycle`, two tasks locking two locks in
// opposite orders) and returns what it observed. A task cancelled from
// outside still ends: its outermost scope swallows the Cancelled; a child
// cancelled with its group ends by raising it into the group.
Observations run_program(const Program& program, const Schedule& schedule, bool with_cycle) {
  Observations seen;
  Lock cycle_a("cycle-a");
  Lock cycle_b("cycle-b");
  Interpreter interpreter(program, seen);
  {
    Simulation sim({.seed = schedule.seed,
                    .strategy = schedule.strategy,
                    .pct_depth = schedule.pct_depth,
                    .pct_steps_estimate = schedule.pct_steps_estimate,
                    .steps_max = 200'000});
    interpreter.spawn_all(sim);
    if (with_cycle) {
      sim.spawn("cycle-1", [&] {
        LockGuard first(cycle_a);
        sim::sleep(kMillisecond);
        LockGuard second(cycle_b);
      });
      sim.spawn("cycle-2", [&] {
        LockGuard first(cycle_b);
        sim::sleep(kMillisecond);
        LockGuard second(cycle_a);
      });
    }
    seen.result = sim.run();
    seen.hash = seen.result.trace_hash;
  }
  interpreter.drain();
  return seen;
}

// The invariants every completed run keeps.
void check_items(const Observations& seen) {
  std::multiset<int> delivered(seen.received.begin(), seen.received.end());
  delivered.insert(seen.leftover.begin(), seen.leftover.end());
  for (int item : delivered) {
    RC_ASSERT(delivered.count(item) == 1u);       // never duplicated
    RC_ASSERT(seen.attempted.count(item) == 1u);  // never invented
  }
  for (int item : seen.sent_ok) RC_ASSERT(delivered.count(item) == 1u);  // never lost
}

RC_GTEST_PROP(KernelProperties, EveryProgramCompletesKeepingTheKernelInvariants, ()) {
  const Program program = generate_program();
  const Schedule schedule = generate_schedule();
  RC_LOG() << schedule << "\n" << describe(program);

  const Observations first = run_program(program, schedule, false);
  RC_ASSERT(first.result.status == RunStatus::completed);
  RC_ASSERT(first.trouble.empty());
  RC_ASSERT(first.tasks_ended == first.tasks_spawned);
  RC_ASSERT(first.unfinished.empty());
  RC_ASSERT(first.result.blocked.empty());
  RC_ASSERT(std::is_sorted(first.times.begin(), first.times.end()));
  RC_ASSERT((first.times.empty() || first.times.back() <= first.result.end_time_ns));
  check_items(first);

  const Observations second = run_program(program, schedule, false);
  RC_ASSERT(second.hash == first.hash);
  RC_ASSERT(second.times == first.times);
  RC_ASSERT(second.received == first.received);
}

RC_GTEST_PROP(KernelProperties, AnIntendedCycleIsTheOnlyThingReportedBlocked, ()) {
  const Program program = generate_program();
  const Schedule schedule = generate_schedule();
  RC_LOG() << schedule << "\n" << describe(program);

  const Observations seen = run_program(program, schedule, true);
  RC_ASSERT(seen.result.status == RunStatus::deadlock);
  RC_ASSERT(seen.trouble.empty());
  // Every program task ended; only the two tasks of the cycle are blocked.
  RC_ASSERT(seen.unfinished.empty());
  RC_ASSERT(seen.result.blocked.size() == 2u);
  std::set<std::string> blocked;
  for (const BlockedTask& b : seen.result.blocked) {
    blocked.insert(b.task_name);
    RC_ASSERT(b.held_by.size() == 1u);
  }
  RC_ASSERT(blocked == (std::set<std::string>{"cycle-1", "cycle-2"}));
  RC_ASSERT(seen.result.report.find("cycle:") != std::string::npos);
  check_items(seen);
}

RC_GTEST_PROP(KernelProperties, ClockObservationsMatchTheEndTime, ()) {
  // A program of sleeps only: the run ends exactly when its longest task does.
  const int tasks = *rc::gen::inRange(1, 8);
  std::vector<std::vector<int>> naps;
  Nanoseconds longest = 0;
  for (int t = 0; t < tasks; ++t) {
    naps.push_back(*rc::gen::container<std::vector<int>>(rc::gen::inRange(0, 50)));
    Nanoseconds total = 0;
    for (int n : naps.back()) total += n * kMillisecond;
    longest = std::max(longest, total);
  }
  const Schedule schedule = generate_schedule();
  RC_LOG() << schedule;
  Simulation sim({.seed = schedule.seed,
                  .strategy = schedule.strategy,
                  .pct_depth = schedule.pct_depth,
                  .pct_steps_estimate = schedule.pct_steps_estimate});
  std::vector<Nanoseconds> ends(static_cast<std::size_t>(tasks), -1);
  bool clock_exact = true;  // checked after the run: RC_ASSERT must not throw inside a task
  for (int t = 0; t < tasks; ++t) {
    sim.spawn("sleeper", [&, t] {
      Nanoseconds expected = 0;
      for (int n : naps[static_cast<std::size_t>(t)]) {
        sim::sleep(n * kMillisecond);
        expected += n * kMillisecond;
        clock_exact = clock_exact && now() == expected;
      }
      ends[static_cast<std::size_t>(t)] = now();
    });
  }
  const RunResult result = sim.run();
  RC_ASSERT(result.ok());
  RC_ASSERT(clock_exact);
  RC_ASSERT(result.end_time_ns == longest);
  RC_ASSERT(*std::max_element(ends.begin(), ends.end()) == longest);
}

}  // namespace
}  // namespace asgisim::sim
