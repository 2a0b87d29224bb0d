// Tests of the scheduler (simulation.hpp): fifo's asyncio order, random and
// pct exploring orders per seed, daemons, virtual time and timers, liveness
// budgets, task errors and joins, two runs on two OS threads, wrong-side
// checks and non-decisions.
#include "asgisim/sim/simulation.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "asgisim/sim/detail/runtime_hooks.hpp"

namespace asgisim::sim {
namespace {

std::string status_text(const RunResult& result) {
  return std::string(to_string(result.status)) + ": " + result.report;
}

// Four tasks that each log three steps with a checkpoint between steps;
// the log is the order in which the scheduler ran them.
std::vector<std::string> checkpoint_order(SimulationOptions options) {
  Simulation sim(options);
  std::vector<std::string> order;
  for (const char* name : {"a", "b", "c", "d"}) {
    sim.spawn(name, [&order, name] {
      for (int step = 0; step < 3; ++step) {
        order.push_back(std::string(name) + std::to_string(step));
        checkpoint();
      }
    });
  }
  const RunResult result = sim.run();
  EXPECT_TRUE(result.ok()) << status_text(result);
  return order;
}

// ---- fifo is asyncio's order ------------------------------------------------

TEST(Fifo, RunsInSpawnOrderAndACheckpointGoesToTheBackOfTheQueue) {
  const std::vector<std::string> order = checkpoint_order({.strategy = Strategy::fifo});
  const std::vector<std::string> expected = {"a0", "b0", "c0", "d0", "a1", "b1",
                                             "c1", "d1", "a2", "b2", "c2", "d2"};
  EXPECT_EQ(order, expected);
}

TEST(Fifo, AWokenTaskIsAppendedBehindTasksAlreadyReady) {
  Simulation sim({.strategy = Strategy::fifo});
  std::vector<std::string> log;
  TaskHandle x = sim.spawn("x", [&] {
    log.push_back("x1");
    checkpoint();
    log.push_back("x2");
  });
  sim.spawn("joiner", [&] {
    log.push_back("j1");
    x.join();
    log.push_back("j2");
  });
  sim.spawn("y", [&] {
    log.push_back("y1");
    checkpoint();
    log.push_back("y2");
    checkpoint();
    log.push_back("y3");
  });
  const RunResult result = sim.run();
  ASSERT_TRUE(result.ok()) << status_text(result);
  // Queue: [x j y] -> x yields [j y x] -> j blocks [y x] -> y yields [x y]
  // -> x ends, waking j behind y [y j] -> y yields [j y] -> j ends -> y.
  const std::vector<std::string> expected = {"x1", "j1", "y1", "x2", "y2", "j2", "y3"};
  EXPECT_EQ(log, expected);
}

TEST(Fifo, ATaskSpawnedDuringTheRunQueuesBehindTheReadyTasks) {
  Simulation sim({.strategy = Strategy::fifo});
  std::vector<std::string> log;
  sim.spawn("parent", [&] {
    log.push_back("parent1");
    Simulation::current().spawn("child", [&] { log.push_back("child"); });
    checkpoint();
    log.push_back("parent2");
  });
  sim.spawn("other", [&] {
    log.push_back("other1");
    checkpoint();
    log.push_back("other2");
  });
  const RunResult result = sim.run();
  ASSERT_TRUE(result.ok()) << status_text(result);
  const std::vector<std::string> expected = {"parent1", "other1", "child", "parent2", "other2"};
  EXPECT_EQ(log, expected);
}

TEST(Fifo, MakesNoDecisions) {
  Simulation sim({.strategy = Strategy::fifo});
  for (int i = 0; i < 3; ++i) {
    sim.spawn("t", [] {
      checkpoint();
      sleep(kMillisecond);
    });
  }
  ASSERT_TRUE(sim.run().ok());
  EXPECT_EQ(sim.decisions().size(), 0u);
}

// ---- random and pct -----------------------------------------------------------

class ExploringStrategy : public ::testing::TestWithParam<Strategy> {};

TEST_P(ExploringStrategy, SameSeedGivesTheSameOrder) {
  for (std::uint64_t seed = 0; seed < 20; ++seed) {
    SCOPED_TRACE(testing::Message() << "seed " << seed << " strategy " << to_string(GetParam()));
    const auto first = checkpoint_order({.seed = seed, .strategy = GetParam()});
    const auto second = checkpoint_order({.seed = seed, .strategy = GetParam()});
    EXPECT_EQ(first, second);
  }
}

TEST_P(ExploringStrategy, DifferentSeedsExploreDifferentOrders) {
  std::set<std::vector<std::string>> orders;
  constexpr std::uint64_t kSeeds = 100;
  for (std::uint64_t seed = 0; seed < kSeeds; ++seed) {
    SCOPED_TRACE(testing::Message() << "seed " << seed);
    orders.insert(checkpoint_order({.seed = seed, .strategy = GetParam()}));
  }
  EXPECT_GE(orders.size(), 10u) << "strategy " << to_string(GetParam()) << " explores too few orders";
  const std::vector<std::string> fifo = checkpoint_order({.strategy = Strategy::fifo});
  EXPECT_GT(orders.size() - orders.count(fifo), 0u);
}

TEST_P(ExploringStrategy, EveryTaskStillRunsEveryStep) {
  for (std::uint64_t seed = 0; seed < 20; ++seed) {
    SCOPED_TRACE(testing::Message() << "seed " << seed);
    std::vector<std::string> order = checkpoint_order({.seed = seed, .strategy = GetParam()});
    std::multiset<std::string> steps(order.begin(), order.end());
    EXPECT_EQ(steps.size(), 12u);
    for (const char* name : {"a", "b", "c", "d"}) {
      // Each task's own steps stay in program order.
      std::vector<std::string> own;
      for (const std::string& s : order) {
        if (s[0] == name[0]) own.push_back(s);
      }
      EXPECT_EQ(own, (std::vector<std::string>{std::string(name) + "0", std::string(name) + "1",
                                               std::string(name) + "2"}));
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Strategies, ExploringStrategy, ::testing::Values(Strategy::random, Strategy::pct),
                         [](const auto& info) { return std::string(to_string(info.param)); });

// PCT with a hand-written schedule: priorities a > b > c and one change
// point at step 2, the first pick made from inside a running task (a's first
// checkpoint). At a change point the task that ran last (a) drops below every
// initial priority, so c must run before a runs again.
TEST(Pct, AtAChangePointTheTaskThatJustRanDropsBelowEveryOtherTask) {
  constexpr Label kPriority{"pct.priority", Stream::scheduler};
  constexpr Label kChangePoint{"pct.change_point", Stream::scheduler};
  const std::vector<Decision> schedule = {
      {kPriority.name, kPriority.stream, std::uint64_t{1} << 32, 300},  // a
      {kPriority.name, kPriority.stream, std::uint64_t{1} << 32, 200},  // b
      {kPriority.name, kPriority.stream, std::uint64_t{1} << 32, 100},  // c
      {kChangePoint.name, kChangePoint.stream, 2'000, 2},
  };
  ReplayChoiceSource source(schedule, ReplayMode::strict);
  Simulation sim({.strategy = Strategy::pct, .pct_depth = 2}, source);
  std::vector<std::string> order;
  for (const char* name : {"a", "b", "c"}) {
    sim.spawn(name, [&order, name] {
      for (int step = 0; step < 3; ++step) {
        order.push_back(std::string(name) + std::to_string(step));
        checkpoint();
      }
    });
  }
  const RunResult result = sim.run();
  ASSERT_TRUE(result.ok()) << status_text(result);
  ASSERT_GE(order.size(), 3u);
  // Step 1 runs a (highest); a yields, so step 2 (the change point) picks b
  // and lowers a; step 3 must then prefer c (priority 102) over a (now 1).
  EXPECT_EQ(order[0], "a0");
  EXPECT_EQ(order[1], "b0");
  EXPECT_EQ(order[2], "c0") << "the change point lowered the wrong task; order:"
                            << testing::PrintToString(order);
}

TEST(StrategyNames, RoundTrip) {
  for (Strategy s : {Strategy::fifo, Strategy::random, Strategy::pct}) {
    Strategy parsed = Strategy::fifo;
    ASSERT_TRUE(parse_strategy(to_string(s), parsed));
    EXPECT_EQ(parsed, s);
  }
  Strategy unused = Strategy::fifo;
  EXPECT_FALSE(parse_strategy("round-robin", unused));
}

// ---- daemons ----------------------------------------------------------------------

// Sets a flag when destroyed: shows that a task's stack was unwound.
struct SetOnDestruction {
  bool& flag;
  ~SetOnDestruction() { flag = true; }
};

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
    ASSERT_TRUE(result.ok()) << status_text(result);
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
  ASSERT_TRUE(result.ok()) << status_text(result);
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
  ASSERT_TRUE(result.ok()) << status_text(result);
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
    ASSERT_TRUE(result.ok()) << status_text(result);
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
    ASSERT_TRUE(result.ok()) << status_text(result);
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

// ---- pollers ----------------------------------------------------------------------
//
// A poller (detail::RuntimeHooks::spawn_poller) stands for a callback that
// re-queues itself every pass, like anyio's cancellation retries: it runs like
// any task, but the counts a model uses to decide whether anything else can
// make progress leave it out.

TEST(Poller, IsLeftOutOfTheBusyCountAndOfTheBusyPicks) {
  Simulation sim({.strategy = Strategy::fifo});
  std::vector<std::string> log;
  sim.runtime_hooks().spawn_poller("poller", [&] {
    Simulation& s = Simulation::current();
    for (int pass = 0; pass < 3; ++pass) {
      log.push_back("poll busy=" + std::to_string(s.runtime_hooks().busy_others_ready_count()) +
                    " picks=" + std::to_string(s.runtime_hooks().busy_picks()));
      s.cancel_shielded_checkpoint();
    }
  });
  sim.spawn("worker", [&] {
    const detail::RuntimeHooks hooks = Simulation::current().runtime_hooks();
    log.push_back("work busy=" + std::to_string(hooks.busy_others_ready_count()) +
                  " others=" + std::to_string(hooks.others_ready()));
    checkpoint();
    log.push_back("work again");
  });
  const RunResult result = sim.run();
  ASSERT_TRUE(result.ok()) << status_text(result);
  // The poller's own picks never count; the worker's two do. The worker sees
  // the ready poller as ready but not as busy.
  const std::vector<std::string> expected = {"poll busy=1 picks=0", "work busy=0 others=1",
                                             "poll busy=1 picks=1", "work again", "poll busy=0 picks=2"};
  EXPECT_EQ(log, expected);
}

// ---- virtual time -----------------------------------------------------------------

TEST(VirtualTime, AnHourOfSleepTakesNoWallTime) {
  Simulation sim;
  Nanoseconds woke_at = -1;
  sim.spawn("sleeper", [&] {
    EXPECT_EQ(now(), 0);
    sim::sleep(3'600 * kSecond);
    woke_at = now();
  });
  const auto wall_start = std::chrono::steady_clock::now();
  const RunResult result = sim.run();
  const auto wall = std::chrono::steady_clock::now() - wall_start;
  ASSERT_TRUE(result.ok()) << status_text(result);
  EXPECT_EQ(woke_at, 3'600 * kSecond);
  EXPECT_EQ(result.end_time_ns, 3'600 * kSecond);
  EXPECT_LT(wall, std::chrono::seconds(1));
}

TEST(VirtualTime, SleepsAddUpExactlyAndTimeOnlyMovesWhenNobodyIsReady) {
  using namespace literals;
  Simulation sim;
  std::vector<std::pair<std::string, Nanoseconds>> log;
  sim.spawn("a", [&] {
    sim::sleep(3_ms);
    log.emplace_back("a", now());
    sim::sleep(4_ms);
    log.emplace_back("a", now());
  });
  sim.spawn("b", [&] {
    for (int i = 0; i < 5; ++i) checkpoint();
    log.emplace_back("b", now());  // checkpoints take no virtual time
    sim::sleep(5_ms);
    log.emplace_back("b", now());
    sim::sleep(0);  // sleep(0) is a checkpoint, not a timer
    log.emplace_back("b", now());
  });
  ASSERT_TRUE(sim.run().ok());
  const std::vector<std::pair<std::string, Nanoseconds>> expected = {
      {"b", 0}, {"a", 3_ms}, {"b", 5_ms}, {"b", 5_ms}, {"a", 7_ms}};
  EXPECT_EQ(log, expected);
}

TEST(VirtualTime, TimersWithEqualDeadlinesFireInRegistrationOrder) {
  Simulation sim({.strategy = Strategy::fifo});
  std::vector<std::string> woke;
  const Nanoseconds deadline = 10 * kMillisecond;
  // Spawn order a, b, c; registration order b, c, a.
  sim.spawn("a", [&] {
    checkpoint();
    checkpoint();
    Simulation::current().sleep_until(deadline);
    woke.push_back("a");
  });
  sim.spawn("b", [&] {
    Simulation::current().sleep_until(deadline);
    woke.push_back("b");
  });
  sim.spawn("c", [&] {
    checkpoint();
    Simulation::current().sleep_until(deadline);
    woke.push_back("c");
  });
  const RunResult result = sim.run();
  ASSERT_TRUE(result.ok()) << status_text(result);
  EXPECT_EQ(woke, (std::vector<std::string>{"b", "c", "a"}));
  EXPECT_EQ(result.end_time_ns, deadline);
}

TEST(VirtualTime, SleepUntilThePastIsACheckpoint) {
  Simulation sim;
  std::vector<std::string> log;
  sim.spawn("a", [&] {
    sim::sleep(kMillisecond);
    Simulation::current().sleep_until(0);
    log.push_back("a");
  });
  sim.spawn("b", [&] {
    sim::sleep(kMillisecond);
    log.push_back("b");
  });
  ASSERT_TRUE(sim.run().ok());
  // a's sleep_until(0) yields to b, which woke at the same time.
  EXPECT_EQ(log, (std::vector<std::string>{"b", "a"}));
}

// ---- liveness budgets -------------------------------------------------------------

TEST(Liveness, ATaskThatCheckpointsForeverExhaustsTheStepBudget) {
  Simulation sim({.steps_max = 1'000});
  sim.spawn("spinner", [] {
    for (;;) checkpoint();
  });
  const RunResult result = sim.run();
  EXPECT_EQ(result.status, RunStatus::liveness_steps) << status_text(result);
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
  EXPECT_EQ(result.status, RunStatus::liveness_time) << status_text(result);
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
  EXPECT_TRUE(result.ok()) << status_text(result);
}

// ---- task errors and joins --------------------------------------------------------

TEST(TaskErrors, AnExceptionNobodyReceivesFailsTheRunWithItsMessage) {
  Simulation sim;
  bool other_unwound = false;
  sim.spawn("bystander", [&] {
    SetOnDestruction guard{other_unwound};
    sim::sleep(kSecond);
  });
  sim.spawn("boom", [] {
    sim::sleep(kMillisecond);
    throw std::runtime_error("kaboom");
  });
  const RunResult result = sim.run();
  ASSERT_EQ(result.status, RunStatus::task_error) << status_text(result);
  EXPECT_NE(result.report.find("kaboom"), std::string::npos) << result.report;
  EXPECT_NE(result.report.find("'boom'"), std::string::npos) << result.report;
  EXPECT_EQ(result.end_time_ns, kMillisecond);
  ASSERT_TRUE(result.error);
  EXPECT_THROW(std::rethrow_exception(result.error), std::runtime_error);
  EXPECT_TRUE(other_unwound);
}

TEST(TaskErrors, JoinReturnsAfterTheTaskEnds) {
  Simulation sim;
  int value = 0;
  Nanoseconds joined_at = -1;
  sim.spawn("parent", [&] {
    TaskHandle child = Simulation::current().spawn("child", [&] {
      sim::sleep(7 * kMillisecond);
      value = 42;
    });
    EXPECT_FALSE(child.done());
    child.join();
    joined_at = now();
    EXPECT_TRUE(child.done());
    child.join();  // joining again returns at once
  });
  const RunResult result = sim.run();
  ASSERT_TRUE(result.ok()) << status_text(result);
  EXPECT_EQ(value, 42);
  EXPECT_EQ(joined_at, 7 * kMillisecond);
}

TEST(TaskErrors, JoinRethrowsAndTheRunCompletes) {
  Simulation sim;
  std::string caught;
  sim.spawn("parent", [&] {
    TaskHandle child = Simulation::current().spawn("child", [] {
      sim::sleep(kMillisecond);
      throw std::runtime_error("child failed");
    });
    try {
      child.join();
    } catch (const std::runtime_error& error) {
      caught = error.what();
    }
  });
  const RunResult result = sim.run();
  EXPECT_TRUE(result.ok()) << status_text(result);
  EXPECT_EQ(caught, "child failed");
}

TEST(TaskErrors, JoinOfATaskThatAlreadyFailedRethrowsAtOnce) {
  Simulation sim;
  std::string caught;
  sim.spawn("parent", [&] {
    TaskHandle child = Simulation::current().spawn("child", [] { throw std::logic_error("early"); });
    sim::sleep(kSecond);
    EXPECT_TRUE(child.done());
    const Nanoseconds before = now();
    try {
      child.join();
    } catch (const std::logic_error& error) {
      caught = error.what();
    }
    EXPECT_EQ(now(), before);
  });
  const RunResult result = sim.run();
  EXPECT_TRUE(result.ok()) << status_text(result);
  EXPECT_EQ(caught, "early");
}

TEST(TaskErrors, ATaskThatFailsAfterItsHandleWasDroppedFailsTheRun) {
  Simulation sim;
  sim.spawn("parent", [] {
    {
      TaskHandle child = Simulation::current().spawn("child", [] {
        sim::sleep(kMillisecond);
        throw std::runtime_error("late failure");
      });
    }  // handle dropped while the child still runs
    sim::sleep(kSecond);
  });
  const RunResult result = sim.run();
  ASSERT_EQ(result.status, RunStatus::task_error) << status_text(result);
  EXPECT_NE(result.report.find("late failure"), std::string::npos);
  EXPECT_NE(result.report.find("'child'"), std::string::npos);
  EXPECT_EQ(result.end_time_ns, kMillisecond);
}

TEST(TaskErrors, DroppingTheLastHandleOfAFailedTaskWithoutJoiningFailsTheRun) {
  Simulation sim;
  sim.spawn("parent", [] {
    TaskHandle child = Simulation::current().spawn("child", [] { throw std::runtime_error("never joined"); });
    sim::sleep(kMillisecond);
    EXPECT_TRUE(child.done());
    TaskHandle copy = child;  // copies share the task
    child = TaskHandle();
    copy = TaskHandle();  // the last handle goes: the error has no receiver
    sim::sleep(kSecond);
  });
  const RunResult result = sim.run();
  ASSERT_EQ(result.status, RunStatus::task_error) << status_text(result);
  EXPECT_NE(result.report.find("never joined"), std::string::npos);
  EXPECT_EQ(result.end_time_ns, kMillisecond);
}

TEST(TaskErrors, JoinIsCancellable) {
  Simulation sim;
  bool child_finished = false;
  bool parent_cancelled = false;
  sim.spawn("parent", [&] {
    TaskHandle child = Simulation::current().spawn("child", [&] {
      sim::sleep(kSecond);
      child_finished = true;
    });
    parent_cancelled = move_on_after(kMillisecond, [&] { child.join(); });
    EXPECT_EQ(now(), kMillisecond);
  });
  const RunResult result = sim.run();
  ASSERT_TRUE(result.ok()) << status_text(result);
  EXPECT_TRUE(parent_cancelled);
  EXPECT_TRUE(child_finished) << "cancelling a join does not cancel the task joined";
  EXPECT_EQ(result.end_time_ns, kSecond);
}

TEST(TaskErrors, JoinOfAnEmptyHandleIsAUsageError) {
  TaskHandle empty;
  EXPECT_TRUE(empty.done());
  EXPECT_THROW(empty.join(), UsageError);
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
  EXPECT_TRUE(result.ok()) << status_text(result);
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

// ---- loop side and thread side ----------------------------------------------------

template <class Body>
std::string wrong_side_message(Body&& body) {
  try {
    body();
  } catch (const WrongSideError& error) {
    return error.what();
  }
  return {};
}

TEST(Domains, RequireDomainExplainsTheWrongSide) {
  Simulation sim;
  std::string from_loop;
  std::string from_thread;
  std::string loop_ok = "unset";
  std::string thread_ok = "unset";
  sim.spawn("handler", [&] {
    Simulation& s = Simulation::current();
    EXPECT_EQ(s.current_task().domain(), Domain::loop);
    from_loop = wrong_side_message([&] { s.require_domain(Domain::thread, "time.sleep"); });
    loop_ok = wrong_side_message([&] { s.require_domain(Domain::loop, "anyio.Lock.acquire"); });
  });
  sim.spawn_thread("worker", [&] {
    Simulation& s = Simulation::current();
    EXPECT_EQ(s.current_task().domain(), Domain::thread);
    from_thread = wrong_side_message([&] { s.require_domain(Domain::loop, "anyio.Lock.acquire"); });
    thread_ok = wrong_side_message([&] { s.require_domain(Domain::thread, "time.sleep"); });
  });
  ASSERT_TRUE(sim.run().ok());
  EXPECT_EQ(loop_ok, "");
  EXPECT_EQ(thread_ok, "");
  EXPECT_NE(from_loop.find("time.sleep would block the event loop"), std::string::npos) << from_loop;
  EXPECT_NE(from_loop.find("loop task #1 'handler'"), std::string::npos) << from_loop;
  EXPECT_NE(from_thread.find("anyio.Lock.acquire is an event-loop primitive"), std::string::npos)
      << from_thread;
  EXPECT_NE(from_thread.find("simulated thread #2 'worker'"), std::string::npos) << from_thread;
  EXPECT_NE(from_thread.find("call_soon_threadsafe"), std::string::npos) << from_thread;

  const std::string outside =
      wrong_side_message([&] { sim.require_domain(Domain::loop, "anyio.Event.wait"); });
  EXPECT_NE(outside.find("anyio.Event.wait must be called from a simulated task"), std::string::npos)
      << outside;
  EXPECT_NE(wrong_side_message([&] { sim.current_task(); }), "");
  EXPECT_EQ(sim.current_task_or_null(), nullptr);
}

TEST(Domains, ASimulatedThreadSleepsUninterruptibly) {
  Simulation sim;
  Nanoseconds woke_at = -1;
  sim.spawn_thread("worker", [&] {
    sim::sleep(5 * kMillisecond);
    woke_at = now();
  });
  ASSERT_TRUE(sim.run().ok());
  EXPECT_EQ(woke_at, 5 * kMillisecond);
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
    EXPECT_TRUE(result.ok()) << status_text(result);
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
