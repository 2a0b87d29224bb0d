// Tests of running and tearing down a run (simulation.cpp): daemons, the
// lifecycle of a simulation, liveness budgets, two runs on two OS threads, and
// choices and faults.
#include "asgisim/sim/simulation.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "asgisim/sim/capacity_limiter.hpp"
#include "asgisim/sim/event.hpp"
#include "asgisim/sim/lock.hpp"
#include "asgisim/sim/semaphore.hpp"
#include "asgisim/sim/testing.hpp"

namespace asgisim::sim {
namespace {

using namespace sim_testing;
using sim_testing::describe;

// ---- daemons ----------------------------------------------------------------------

TEST(Daemon, DoesNotKeepTheRunAliveAndIsUnwoundAtTheEnd) {
  bool unwound = false;
  int daemon_wakeups = 0;
  {
    Simulation sim;
    sim.spawn(
        "keepalive",
        [&] {
          SetOnDestruction guard{unwound};
          for (;;) {
            sim::sleep(kSecond);
            ++daemon_wakeups;
          }
        },
        SpawnOptions{.daemon = true});
    sim.spawn("request", [] { sim::sleep(5 * kSecond + kMillisecond); });
    const RunResult result = sim.run();
    ASSERT_TRUE(result.ok()) << describe(result);
    EXPECT_EQ(result.end_time_ns, 5 * kSecond + kMillisecond);
    EXPECT_TRUE(result.blocked.empty());
    // Unwound by run() itself, not by the Simulation's destructor.
    EXPECT_TRUE(unwound);
  }
  EXPECT_EQ(daemon_wakeups, 5);
}

TEST(Daemon, ARunOfOnlyDaemonsEndsAtOnce) {
  Simulation sim;
  bool started = false;
  sim.spawn(
      "idle",
      [&] {
        started = true;
        sim::sleep(kSecond);
      },
      SpawnOptions{.daemon = true});
  const RunResult result = sim.run();
  ASSERT_TRUE(result.ok()) << describe(result);
  EXPECT_EQ(result.end_time_ns, 0);
  EXPECT_FALSE(started) << "a daemon that never ran is unwound without running its body";
}

TEST(Daemon, ABlockedDaemonIsNotADeadlock) {
  Simulation sim;
  bool unwound = false;
  sim.spawn(
      "waiter",
      [&] {
        SetOnDestruction guard{unwound};
        // Joins a task that never ends: blocked forever, no timer.
        TaskHandle forever = Simulation::current().spawn(
            "forever",
            [] {
              for (;;) sim::sleep(kSecond);
            },
            SpawnOptions{.daemon = true});
        forever.join();
      },
      SpawnOptions{.daemon = true});
  sim.spawn("main", [] { sim::sleep(3 * kSecond); });
  const RunResult result = sim.run();
  ASSERT_TRUE(result.ok()) << describe(result);
  EXPECT_TRUE(unwound);
}

TEST(Daemon, SetDaemonTurnsATaskIntoADaemonAndBack) {
  // A worker that becomes a daemon while idle no longer keeps the run alive.
  {
    Simulation sim;
    bool worked = false;
    sim.spawn("worker", [&] {
      Simulation& s = Simulation::current();
      sim::sleep(2 * kSecond);
      worked = true;
      s.set_daemon(s.current_task(), true);
      for (;;) sim::sleep(kSecond);
    });
    const RunResult result = sim.run();
    ASSERT_TRUE(result.ok()) << describe(result);
    EXPECT_TRUE(worked);
    EXPECT_EQ(result.end_time_ns, 2 * kSecond);
  }
  // A daemon that stops being one keeps the run alive until it ends.
  {
    Simulation sim;
    bool finished = false;
    sim.spawn(
        "promoted",
        [&] {
          Simulation& s = Simulation::current();
          EXPECT_TRUE(s.current_task().daemon());
          s.set_daemon(s.current_task(), false);
          sim::sleep(10 * kSecond);
          finished = true;
        },
        SpawnOptions{.daemon = true});
    sim.spawn("short", [] { sim::sleep(kSecond); });
    const RunResult result = sim.run();
    ASSERT_TRUE(result.ok()) << describe(result);
    EXPECT_TRUE(finished);
    EXPECT_EQ(result.end_time_ns, 10 * kSecond);
  }
}

TEST(Lifecycle, ASimulationDestroyedWithoutRunningReleasesItsTasks) {
  Runner runner(StackPoolOptions{.guarded_stacks_max = 2});
  bool captures_destroyed = false;
  bool body_ran = false;
  {
    Simulation sim({}, nullptr, runner);
    for (int i = 0; i < 4; ++i) {
      auto guard = std::shared_ptr<SetOnDestruction>(new SetOnDestruction{captures_destroyed});
      sim.spawn("never-run", [guard, &body_ran] { body_ran = true; });
    }
  }
  EXPECT_TRUE(captures_destroyed);
  EXPECT_FALSE(body_ran);
  EXPECT_EQ(runner.stacks().free_count(), 4u) << "every stack went back to the pool";
}

TEST(Primitives, SafeToDestroyOnAStackThatTeardownUnwindsFirst) {
  // The owner's stack (with the lock, event and semaphore on it) is unwound
  // before the tasks waiting on them; their clean-up must not touch freed memory.
  Simulation sim({.strategy = Strategy::fifo});
  sim.spawn("owner", [&] {
    Lock lock("local lock");
    Event event("local event");
    Semaphore semaphore(0, std::nullopt, "local semaphore");
    CapacityLimiter limiter(1, "local limiter");
    LockGuard guard(lock);
    limiter.acquire();
    sim.spawn("lock waiter", [&lock] { lock.acquire(); });
    sim.spawn("event waiter", [&event] { event.wait(); });
    sim.spawn("semaphore waiter", [&semaphore] { semaphore.acquire(); });
    sim.spawn("limiter waiter", [&limiter] { limiter.acquire(); });
    Event never;
    never.wait();
  });
  const RunResult result = sim.run();
  EXPECT_EQ(result.status, RunStatus::deadlock) << describe(result);
  EXPECT_EQ(result.blocked.size(), 5U) << result.report;
}

// ---- liveness budgets -------------------------------------------------------------

TEST(Liveness, ATaskThatCheckpointsForeverExhaustsTheStepBudget) {
  Simulation sim({.steps_max = 1'000});
  sim.spawn("spinner", [] {
    for (;;) checkpoint();
  });
  const RunResult result = sim.run();
  EXPECT_EQ(result.status, RunStatus::liveness_steps) << describe(result);
  EXPECT_NE(result.report.find("step budget of 1000 steps"), std::string::npos) << result.report;
  EXPECT_EQ(result.steps, 1'001u);
  EXPECT_EQ(result.end_time_ns, 0);
}

TEST(Liveness, ATaskSleepingInALoopExhaustsTheTimeBudget) {
  Simulation sim({.time_max_ns = 10 * kSecond});
  int wakeups = 0;
  sim.spawn("poller", [&] {
    for (;;) {
      sim::sleep(kSecond);
      ++wakeups;
    }
  });
  const RunResult result = sim.run();
  EXPECT_EQ(result.status, RunStatus::liveness_time) << describe(result);
  EXPECT_NE(result.report.find("virtual-time budget"), std::string::npos) << result.report;
  EXPECT_EQ(wakeups, 10);
  EXPECT_EQ(result.end_time_ns, 10 * kSecond);
  ASSERT_EQ(result.blocked.size(), 1u);
  EXPECT_EQ(result.blocked[0].task_name, "poller");
  EXPECT_NE(result.blocked[0].waits_on.find("sleep"), std::string::npos);
}

TEST(Liveness, ATimerExactlyAtTheBudgetStillFires) {
  Simulation sim({.time_max_ns = 10 * kSecond});
  sim.spawn("sleeper", [] { sim::sleep(10 * kSecond); });
  const RunResult result = sim.run();
  EXPECT_TRUE(result.ok()) << describe(result);
}

// ---- two simulations on two OS threads --------------------------------------------

// A small workload with random scheduling, sleeps and client decisions.
std::uint64_t workload_hash(std::uint64_t seed) {
  Simulation sim({.seed = seed, .strategy = Strategy::random});
  for (int i = 0; i < 4; ++i) {
    sim.spawn("worker", [i] {
      for (int step = 0; step < 5; ++step) {
        if (choose({"worker.nap", Stream::clients}, 3) == 0) sim::sleep((i + 1) * kMillisecond);
        checkpoint();
        note("step", static_cast<std::uint64_t>(step));
      }
    });
  }
  const RunResult result = sim.run();
  EXPECT_TRUE(result.ok()) << describe(result);
  return result.trace_hash;
}

TEST(Isolation, TwoSimulationsOnTwoThreadsGiveTheSameHashesAsSequentially) {
  constexpr std::uint64_t kSeeds = 40;
  std::vector<std::uint64_t> sequential;
  for (std::uint64_t seed = 0; seed < kSeeds; ++seed) sequential.push_back(workload_hash(seed));
  std::vector<std::uint64_t> parallel(kSeeds, 0);
  // Both threads run at once, interleaving their switches on the shared cores.
  auto sweep = [&parallel](std::uint64_t first) {
    for (std::uint64_t seed = first; seed < kSeeds; seed += 2) parallel[seed] = workload_hash(seed);
  };
  std::thread even(sweep, 0);
  std::thread odd(sweep, 1);
  even.join();
  odd.join();
  EXPECT_EQ(parallel, sequential);
  EXPECT_GT(std::set<std::uint64_t>(sequential.begin(), sequential.end()).size(), kSeeds / 2);
}

TEST(Isolation, EachThreadHasItsOwnCurrentSimulation) {
  EXPECT_EQ(Simulation::current_or_null(), nullptr);
  EXPECT_THROW(Simulation::current(), WrongSideError);
  Simulation sim;
  Simulation* seen_inside = nullptr;
  Simulation* seen_on_other_thread = &sim;
  sim.spawn("t", [&] {
    seen_inside = &Simulation::current();
    std::thread other([&] { seen_on_other_thread = Simulation::current_or_null(); });
    other.join();
  });
  ASSERT_TRUE(sim.run().ok());
  EXPECT_EQ(seen_inside, &sim);
  EXPECT_EQ(seen_on_other_thread, nullptr);
  EXPECT_EQ(Simulation::current_or_null(), nullptr);
}

TEST(Isolation, RunCanBeCalledOnlyOnceAndNotInsideAnotherRun) {
  Simulation sim;
  ASSERT_TRUE(sim.run().ok());
  EXPECT_THROW(sim.run(), UsageError);

  Simulation outer;
  bool nested_refused = false;
  outer.spawn("t", [&] {
    Simulation inner;
    try {
      inner.run();
    } catch (const UsageError&) {
      nested_refused = true;
    }
  });
  ASSERT_TRUE(outer.run().ok());
  EXPECT_TRUE(nested_refused);
}

// ---- choices ------------------------------------------------------------------------

TEST(Choices, ChooseWithAtMostOneAlternativeRecordsNothing) {
  auto run = [](bool with_trivial_choices) {
    Simulation sim({.seed = 3, .strategy = Strategy::fifo});
    sim.spawn("client", [with_trivial_choices] {
      if (with_trivial_choices) {
        EXPECT_EQ(choose({"client.single", Stream::clients}, 1), 0u);
        EXPECT_EQ(choose({"client.none", Stream::clients}, 0), 0u);
      }
      sim::sleep(kMillisecond);
    });
    const RunResult result = sim.run();
    EXPECT_TRUE(result.ok()) << describe(result);
    EXPECT_EQ(sim.decisions().size(), 0u);
    return result.trace_hash;
  };
  EXPECT_EQ(run(true), run(false)) << "a non-decision leaves no trace";
}

TEST(Choices, ChooseRecordsLabelStreamAndValue) {
  Simulation sim({.seed = 11});
  std::uint64_t value = 99;
  sim.spawn("client", [&] { value = choose({"client.disconnect", Stream::clients}, 5); });
  ASSERT_TRUE(sim.run().ok());
  ASSERT_EQ(sim.decisions().size(), 1u);
  const Decision& d = sim.decisions().decisions()[0];
  EXPECT_EQ(d.label, "client.disconnect");
  EXPECT_EQ(d.stream, Stream::clients);
  EXPECT_EQ(d.n, 5u);
  EXPECT_EQ(d.value, value);
  EXPECT_LT(value, 5u);
}

TEST(Choices, BuggifyNeverFiresWhenDisabledAndAlwaysWhenCertainAndEnabled) {
  int fired_disabled = 0;
  {
    Simulation sim({.seed = 1, .buggify_enabled = false});
    sim.spawn("t", [&] {
      for (int i = 0; i < 100; ++i) fired_disabled += buggify({"fault.x", Stream::faults}, 1.0) ? 1 : 0;
    });
    ASSERT_TRUE(sim.run().ok());
    EXPECT_EQ(sim.decisions().size(), 0u);
  }
  EXPECT_EQ(fired_disabled, 0);
  // Swarm: a site is on for a whole run or off for a whole run.
  int runs_on = 0;
  for (std::uint64_t seed = 0; seed < 40; ++seed) {
    SCOPED_TRACE(testing::Message() << "seed " << seed);
    Simulation sim({.seed = seed});
    int fired = 0;
    sim.spawn("t", [&] {
      for (int i = 0; i < 20; ++i) fired += buggify({"fault.x", Stream::faults}, 1.0) ? 1 : 0;
      EXPECT_FALSE(buggify({"fault.never", Stream::faults}, 0.0));
    });
    ASSERT_TRUE(sim.run().ok());
    EXPECT_TRUE(fired == 0 || fired == 20) << fired;
    runs_on += fired == 20 ? 1 : 0;
  }
  EXPECT_GT(runs_on, 5);
  EXPECT_LT(runs_on, 35);
}

}  // namespace
}  // namespace asgisim::sim
