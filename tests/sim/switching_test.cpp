// Tests of picking the next task (switching.cpp): fifo's asyncio order,
// random and pct exploring orders per seed, pollers left out of the busy picks,
// and fifo running a woken simulated thread until it blocks.
#include <gtest/gtest.h>

#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include "asgisim/sim/simulation.hpp"
#include "asgisim/sim/testing.hpp"
#include "asgisim/sim/threading.hpp"

namespace asgisim::sim {
namespace {

using namespace sim_testing;
using sim_testing::describe;

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
  EXPECT_TRUE(result.ok()) << describe(result);
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
  ASSERT_TRUE(result.ok()) << describe(result);
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
  ASSERT_TRUE(result.ok()) << describe(result);
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
  ASSERT_TRUE(result.ok()) << describe(result);
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

// ---- scheduling ----------------------------------------------------------------------------

// fifo: a thread that becomes runnable runs until it blocks before the loop
// takes its next step.
TEST(Scheduling, FifoRunsAWokenThreadUntilItBlocksBeforeTheLoopsNextStep) {
  SimpleQueue<int> queue;
  std::vector<std::string> log;
  Simulation sim({.seed = 1, .strategy = Strategy::fifo});
  sim.spawn("a", [&] {
    log.push_back("a1");
    queue.put(1);
    log.push_back("a2");  // putting is not a checkpoint
    sim.checkpoint();
    log.push_back("a3");
  });
  sim.spawn("b", [&] { log.push_back("b1"); });
  sim.spawn_thread("t", [&] {
    log.push_back("t waits");
    queue.get();
    log.push_back("t got");
    call_soon_threadsafe([&] { log.push_back("callback"); });
    log.push_back("t still running");
    thread_sleep(kMillisecond);  // blocks: now the loop may go on
    log.push_back("t done");
  });
  const RunResult result = sim.run();
  EXPECT_TRUE(result.ok()) << describe(result);
  EXPECT_EQ(log, (std::vector<std::string>{"t waits", "a1", "a2", "t got", "t still running", "b1", "a3",
                                           "callback", "t done"}));
}

struct MixedOutcome {
  RunResult result;
  std::string order;
  int total = 0;
};

// Three worker threads and the loop share a lock, a semaphore, an event and a
// queue; the order in which jobs are handled depends on the schedule.
MixedOutcome run_mixed(std::uint64_t seed) {
  ThreadLock lock("counter");
  ThreadSemaphore slots(2, "slots");
  ThreadEvent go("go");
  SimpleQueue<int> jobs("jobs");
  std::vector<LoopFuture<int>> handled;
  for (int i = 0; i < 3; ++i) handled.emplace_back("handled");
  MixedOutcome outcome;
  Simulation sim({.seed = seed, .strategy = Strategy::random});
  for (int w = 0; w < 3; ++w) {
    sim.spawn_thread("worker", [&, w] {
      go.wait();
      int count = 0;
      for (;;) {
        const int job = jobs.get();
        if (job < 0) break;
        slots.acquire();
        lock.acquire();
        outcome.order += std::to_string(w) + ":" + std::to_string(job) + " ";
        outcome.total += job;
        lock.release();
        thread_sleep(job * kMillisecond);
        slots.release();
        ++count;
      }
      handled[w].set_result(count);
    });
  }
  sim.spawn("loop", [&] {
    sim.sleep(kMillisecond);
    go.set();
    for (int job = 1; job <= 6; ++job) {
      jobs.put(job);
      if (job % 2 == 0) sim.checkpoint();
    }
    for (int w = 0; w < 3; ++w) jobs.put(-1);
    int count = 0;
    for (auto& future : handled) count += future.get();
    EXPECT_EQ(count, 6);
  });
  outcome.result = sim.run();
  return outcome;
}

TEST(Scheduling, RandomStrategyIsDeterministicPerSeedAndVariesAcrossSeeds) {
  std::set<std::uint64_t> hashes;
  std::set<std::string> orders;
  for (std::uint64_t seed = 0; seed < 50; ++seed) {
    const MixedOutcome first = run_mixed(seed);
    const MixedOutcome second = run_mixed(seed);
    ASSERT_TRUE(first.result.ok()) << "seed " << seed << " " << describe(first.result);
    EXPECT_EQ(first.total, 21);
    EXPECT_EQ(first.result.trace_hash, second.result.trace_hash) << "seed " << seed;
    EXPECT_EQ(first.order, second.order) << "seed " << seed;
    EXPECT_EQ(first.result.steps, second.result.steps) << "seed " << seed;
    hashes.insert(first.result.trace_hash);
    orders.insert(first.order);
  }
  EXPECT_GT(hashes.size(), 10U);
  EXPECT_GT(orders.size(), 1U);
}

}  // namespace
}  // namespace asgisim::sim
