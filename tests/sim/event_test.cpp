// Tests of anyio.Event (event.hpp): waking every waiter, FIFO wake order,
// checkpoints, cancellation while waiting and wrong-side use.
#include "asgisim/sim/event.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "asgisim/sim/cancel.hpp"
#include "asgisim/sim/simulation.hpp"
#include "asgisim/sim/task_group.hpp"
#include "asgisim/sim/testing.hpp"

namespace asgisim::sim {
namespace {

using namespace sim_testing;
using sim_testing::describe;

SIM_TEST(Event, SetWakesEveryWaiterAtOnce) {
  Event event("ready");
  std::vector<Nanoseconds> woke_at;
  task_group([&](TaskGroup& tg) {
    for (int i = 0; i < 3; ++i) {
      tg.start_soon("waiter", [&] {
        event.wait();
        woke_at.push_back(sim.now());
      });
    }
    tg.start_soon("setter", [&] {
      sim.sleep(10 * ms);
      EXPECT_EQ(event.statistics().tasks_waiting, 3U);
      EXPECT_FALSE(event.is_set());
      event.set();
      event.set();  // idempotent
      EXPECT_TRUE(event.is_set());
    });
  });
  EXPECT_EQ(woke_at, std::vector<Nanoseconds>(3, 10 * ms));
  EXPECT_EQ(event.statistics().tasks_waiting, 0U);
}

TEST(Event, WakesWaitersInTheOrderTheyStartedWaiting) {
  Simulation sim({.strategy = Strategy::fifo});
  Event event;
  std::vector<std::string> order;
  for (const char* name : {"a", "b", "c"}) {
    sim.spawn(name, [&, name] {
      event.wait();
      order.push_back(name);
    });
  }
  sim.spawn("setter", [&] { event.set(); });
  const RunResult result = sim.run();
  EXPECT_TRUE(result.ok()) << describe(result);
  EXPECT_EQ(order, (std::vector<std::string>{"a", "b", "c"}));
}

TEST(Event, WaitingOnASetEventIsStillACheckpoint) {
  Simulation sim({.strategy = Strategy::fifo});
  Event event;
  event.set();  // outside a run: nothing can be waiting
  std::vector<std::string> log;
  sim.spawn("a", [&] {
    log.push_back("a1");
    event.wait();
    log.push_back("a2");
    const bool cancelled = cancel_scope([&](CancelScope& scope) {
      scope.cancel();
      event.wait();
      ADD_FAILURE() << "wait() on a set event inside a cancelled scope returned";
    });
    EXPECT_TRUE(cancelled);
  });
  sim.spawn("b", [&] { log.push_back("b1"); });
  const RunResult result = sim.run();
  EXPECT_TRUE(result.ok()) << describe(result);
  EXPECT_EQ(log, (std::vector<std::string>{"a1", "b1", "a2"}));
}

TEST(Event, CancelledWhileWaitingLeavesTheQueue) {
  run_under_schedules([](Simulation& sim) {
    Event event;
    CancelScope* scope = nullptr;
    sim.spawn("timed", [&] {
      EXPECT_TRUE(move_on_after(5 * ms, [&] { event.wait(); }));
      EXPECT_EQ(sim.now(), 5 * ms);
    });
    sim.spawn("cancelled by another task", [&] {
      const bool caught = cancel_scope([&](CancelScope& s) {
        scope = &s;
        event.wait();
      });
      EXPECT_TRUE(caught);
      EXPECT_EQ(sim.now(), 7 * ms);
    });
    sim.spawn("canceller", [&] {
      sim.sleep(7 * ms);
      EXPECT_EQ(event.statistics().tasks_waiting, 1U);
      scope->cancel();
    });
    const RunResult result = sim.run();
    EXPECT_TRUE(result.ok()) << describe(result);
    EXPECT_EQ(event.statistics().tasks_waiting, 0U);
    EXPECT_FALSE(event.is_set());
  });
}

// A waiter woken by set() whose scope is cancelled in the same step, before
// it resumes: what it did before the scope caught the cancellation.
struct WokenThenCancelled {
  bool returned = false;          // wait() returned
  bool after_checkpoint = false;  // and the checkpoint after it too
  bool caught = false;            // the scope caught a cancellation
};
WokenThenCancelled woken_then_cancelled(Simulation& sim) {
  Event event;
  CancelScope* scope = nullptr;
  WokenThenCancelled seen;
  sim.spawn("waiter", [&] {
    seen.caught = cancel_scope([&](CancelScope& s) {
      scope = &s;
      event.wait();
      seen.returned = true;
      sim.checkpoint();
      seen.after_checkpoint = true;
    });
  });
  sim.spawn("setter", [&] {
    sim.sleep(1 * ms);
    event.set();
    scope->cancel();  // same step: the waiter is ready but has not resumed
  });
  const RunResult result = sim.run();
  EXPECT_TRUE(result.ok()) << describe(result);
  EXPECT_TRUE(event.is_set());
  return seen;
}

TEST(Event, WokenThenCancelledBeforeResumingRaisesCancelled) {
  run_under_schedules([](Simulation& sim) {
    const WokenThenCancelled seen = woken_then_cancelled(sim);
    EXPECT_TRUE(seen.caught);
    EXPECT_FALSE(seen.returned);
  });
}

// anyio 4 (TaskGroupErrors::anyio4): no checkpoint after a woken wait().
TEST(Event, AWokenWaitCheckpointsAfterwardsUnderAnyio3Only) {
  for (TaskGroupErrors anyio : {TaskGroupErrors::anyio3, TaskGroupErrors::anyio4}) {
    Simulation sim({.strategy = Strategy::fifo, .task_group_errors = anyio});
    Event event;
    std::vector<std::string> order;
    sim.spawn("waiter", [&] {
      event.wait();
      order.push_back("waiter");
    });
    sim.spawn("setter", [&] {
      event.set();
      sim.checkpoint();
      order.push_back("setter");
    });
    const RunResult result = sim.run();
    ASSERT_TRUE(result.ok()) << describe(result);
    EXPECT_EQ(order, anyio == TaskGroupErrors::anyio3 ? (std::vector<std::string>{"setter", "waiter"})
                                                      : (std::vector<std::string>{"waiter", "setter"}));
  }
}

// anyio 4's _deliver_cancellation skips a task whose future is done: the
// woken wait() returns, and the task's next checkpoint raises.
TEST(Event, WokenThenCancelledReturnsAndTheNextCheckpointRaisesUnderAnyio4) {
  for (std::uint64_t seed = 0; seed < 20; ++seed) {
    Simulation sim(
        {.seed = seed, .strategy = Strategy::random, .task_group_errors = TaskGroupErrors::anyio4});
    const WokenThenCancelled seen = woken_then_cancelled(sim);
    EXPECT_TRUE(seen.returned) << seed;
    EXPECT_TRUE(seen.caught) << seed;
    EXPECT_FALSE(seen.after_checkpoint) << seed;
  }
}

TEST(Event, WrongSide) {
  Event event;
  EXPECT_THROW(event.wait(), WrongSideError);  // outside a run
  Simulation sim;
  sim.spawn_thread("worker", [&] {
    EXPECT_THROW(event.wait(), WrongSideError);
    EXPECT_THROW(event.set(), WrongSideError);
  });
  const RunResult result = sim.run();
  EXPECT_TRUE(result.ok()) << describe(result);
  EXPECT_FALSE(event.is_set());
}

}  // namespace
}  // namespace asgisim::sim
