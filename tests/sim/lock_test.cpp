// Tests of anyio.Lock (lock.hpp): exclusion, FIFO hand-off as on asyncio,
// misuse, cancellation while waiting and after the hand-off, wrong-side use and
// the deadlock report.
#include "asgisim/sim/lock.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "asgisim/sim/cancel.hpp"
#include "asgisim/sim/event.hpp"
#include "asgisim/sim/simulation.hpp"
#include "asgisim/sim/testing.hpp"

namespace asgisim::sim {
namespace {

using namespace sim_testing;
using sim_testing::describe;

TEST(Lock, ExcludesAcrossCheckpoints) {
  run_under_schedules([](Simulation& sim) {
    Lock lock("counter");
    int counter = 0;
    int inside = 0;
    int inside_max = 0;
    for (int t = 0; t < 5; ++t) {
      sim.spawn("incrementer", [&] {
        for (int round = 0; round < 3; ++round) {
          with_lock(lock, [&] {
            inside_max = std::max(inside_max, ++inside);
            const int seen = counter;
            checkpoint();
            counter = seen + 1;
            --inside;
          });
        }
      });
    }
    const RunResult result = sim.run();
    EXPECT_TRUE(result.ok()) << describe(result);
    EXPECT_EQ(counter, 15);
    EXPECT_EQ(inside_max, 1);
    EXPECT_FALSE(lock.locked());
  });
}

TEST(Lock, ReleaseHandsTheLockToTheLongestWaiter) {
  run_under_schedules([](Simulation& sim) {
    Lock lock("db");
    std::vector<std::string> order;
    TaskId holder = kNoTask;
    TaskId first_waiter = kNoTask;
    sim.spawn("holder", [&] {
      holder = sim.current_task().id();
      lock.acquire();
      sim.sleep(10 * ms);
      lock.release();
      // Ownership went straight to the first waiter: the lock never looked free.
      EXPECT_TRUE(lock.locked());
      EXPECT_EQ(lock.owner(), first_waiter);
      EXPECT_THROW(lock.acquire_nowait(), WouldBlock);
    });
    int delay = 0;
    for (const char* name : {"b", "c", "d"}) {
      ++delay;
      sim.spawn(name, [&, name, delay] {
        sim.sleep(delay * ms);
        if (delay == 1) first_waiter = sim.current_task().id();
        LockGuard guard(lock);
        order.push_back(name);
        EXPECT_EQ(lock.owner(), sim.current_task().id());
      });
    }
    sim.spawn("monitor", [&] {
      sim.sleep(5 * ms);
      const LockStatistics stats = lock.statistics();
      EXPECT_TRUE(stats.locked);
      EXPECT_EQ(stats.owner, holder);
      EXPECT_EQ(stats.tasks_waiting, 3U);
      std::vector<TaskId> holders;
      lock.holders(holders);
      EXPECT_EQ(holders, std::vector<TaskId>{holder});
    });
    const RunResult result = sim.run();
    EXPECT_TRUE(result.ok()) << describe(result);
    EXPECT_EQ(order, (std::vector<std::string>{"b", "c", "d"}));
    EXPECT_FALSE(lock.locked());
  });
}

TEST(Lock, FifoHopsMatchAnyioOnAsyncio) {
  // The order real anyio 3.6.2 on asyncio produces: the woken waiter resumes
  // one hop after release() and then passes anyio Event.wait()'s checkpoint.
  Simulation sim({.strategy = Strategy::fifo});
  Lock lock;
  std::vector<std::string> log;
  sim.spawn("a", [&] {
    lock.acquire();
    log.push_back("a has");
    checkpoint();
    lock.release();
    log.push_back("a released");
    checkpoint();
    log.push_back("a2");
    checkpoint();
    log.push_back("a3");
  });
  sim.spawn("b", [&] {
    lock.acquire();
    log.push_back("b has");
    lock.release();
  });
  sim.spawn("c", [&] {
    for (int step = 1; step <= 4; ++step) {
      log.push_back(std::string("c").append(std::to_string(step)));  // not "c" + ...: GCC bug 105651
      if (step < 4) checkpoint();
    }
  });
  const RunResult result = sim.run();
  EXPECT_TRUE(result.ok()) << describe(result);
  EXPECT_EQ(log,
            (std::vector<std::string>{"c1", "a has", "c2", "a released", "c3", "a2", "c4", "b has", "a3"}));
}

TEST(Lock, MisuseRaisesUsageError) {
  run_under_schedules([](Simulation& sim) {
    Lock lock;
    sim.spawn("owner", [&] {
      lock.acquire();
      try {
        lock.acquire();
        ADD_FAILURE() << "re-acquire did not raise";
      } catch (const UsageError& error) {
        EXPECT_STREQ(error.what(), "Attempted to acquire an already held Lock");
      }
      EXPECT_THROW(lock.acquire_nowait(), UsageError);
      sim.sleep(2 * ms);
      lock.release();
      EXPECT_THROW(lock.release(), UsageError);
    });
    sim.spawn("stranger", [&] {
      sim.sleep(1 * ms);
      try {
        lock.release();
        ADD_FAILURE() << "release by a non-owner did not raise";
      } catch (const UsageError& error) {
        EXPECT_STREQ(error.what(), "The current task is not holding this lock");
      }
    });
    const RunResult result = sim.run();
    EXPECT_TRUE(result.ok()) << describe(result);
  });
}

TEST(Lock, CancelledWhileWaitingLeavesTheQueue) {
  run_under_schedules([](Simulation& sim) {
    Lock lock;
    CancelScope* scope = nullptr;
    TaskId holder = kNoTask;
    sim.spawn("holder", [&] {
      holder = sim.current_task().id();
      LockGuard guard(lock);
      sim.sleep(10 * ms);
      EXPECT_EQ(lock.statistics().tasks_waiting, 0U);
    });
    sim.spawn("timed", [&] {
      sim.sleep(1 * ms);
      EXPECT_TRUE(move_on_after(4 * ms, [&] {
        lock.acquire();
        ADD_FAILURE() << "acquired a held lock";
      }));
      EXPECT_EQ(sim.now(), 5 * ms);
      EXPECT_EQ(lock.owner(), holder);
    });
    sim.spawn("cancelled by another task", [&] {
      sim.sleep(1 * ms);
      EXPECT_TRUE(cancel_scope([&](CancelScope& s) {
        scope = &s;
        lock.acquire();
      }));
      EXPECT_EQ(sim.now(), 3 * ms);
    });
    sim.spawn("canceller", [&] {
      sim.sleep(3 * ms);
      scope->cancel();
    });
    const RunResult result = sim.run();
    EXPECT_TRUE(result.ok()) << describe(result);
    EXPECT_FALSE(lock.locked());
  });
}

TEST(Lock, CancelledAfterTheHandOffPassesTheLockOn) {
  run_under_schedules([](Simulation& sim) {
    Lock lock;
    CancelScope* b_scope = nullptr;
    std::vector<std::string> log;
    sim.spawn("a", [&] {
      lock.acquire();
      sim.sleep(10 * ms);
      lock.release();     // hands the lock to b ...
      b_scope->cancel();  // ... which is cancelled before it resumes
    });
    sim.spawn("b", [&] {
      sim.sleep(1 * ms);
      const bool caught = cancel_scope([&](CancelScope& s) {
        b_scope = &s;
        lock.acquire();
        log.push_back("b acquired");
        lock.release();
      });
      EXPECT_TRUE(caught);
      EXPECT_NE(lock.owner(), sim.current_task().id());
    });
    sim.spawn("c", [&] {
      sim.sleep(2 * ms);
      with_lock(lock, [&] { log.push_back("c acquired"); });
      EXPECT_EQ(sim.now(), 10 * ms);
    });
    const RunResult result = sim.run();
    EXPECT_TRUE(result.ok()) << describe(result);
    EXPECT_EQ(log, std::vector<std::string>{"c acquired"});
    EXPECT_FALSE(lock.locked());
  });
}

TEST(Lock, CancelledDuringTheTrailingCheckpointPassesTheLockOn) {
  // fifo: a releases (b ready), a checkpoints, b resumes and enters anyio
  // Event.wait()'s trailing checkpoint, a cancels b's scope, b raises there.
  Simulation sim({.strategy = Strategy::fifo});
  Lock lock;
  CancelScope* b_scope = nullptr;
  std::vector<std::string> log;
  sim.spawn("a", [&] {
    lock.acquire();
    sim.sleep(10 * ms);
    lock.release();
    checkpoint();
    b_scope->cancel();
  });
  sim.spawn("b", [&] {
    sim.sleep(1 * ms);
    EXPECT_TRUE(cancel_scope([&](CancelScope& s) {
      b_scope = &s;
      lock.acquire();
      log.push_back("b acquired");
    }));
  });
  sim.spawn("c", [&] {
    sim.sleep(2 * ms);
    with_lock(lock, [&] { log.push_back("c acquired"); });
  });
  const RunResult result = sim.run();
  EXPECT_TRUE(result.ok()) << describe(result);
  EXPECT_EQ(log, std::vector<std::string>{"c acquired"});
  EXPECT_FALSE(lock.locked());
}

TEST(Lock, AcquireInACancelledScopeRaisesEvenWhenFree) {
  run_under_schedules([](Simulation& sim) {
    Lock lock;
    sim.spawn("task", [&] {
      EXPECT_TRUE(cancel_scope([&](CancelScope& scope) {
        scope.cancel();
        lock.acquire();
        ADD_FAILURE() << "acquire() in a cancelled scope returned";
      }));
      EXPECT_FALSE(lock.locked());
    });
    const RunResult result = sim.run();
    EXPECT_TRUE(result.ok()) << describe(result);
  });
}

TEST(Lock, WrongSide) {
  Lock lock;
  EXPECT_THROW(lock.acquire(), WrongSideError);
  Simulation sim;
  sim.spawn_thread("worker", [&] {
    EXPECT_THROW(lock.acquire(), WrongSideError);
    EXPECT_THROW(lock.acquire_nowait(), WrongSideError);
    EXPECT_THROW(lock.release(), WrongSideError);
  });
  const RunResult result = sim.run();
  EXPECT_TRUE(result.ok()) << describe(result);
}

TEST(Lock, DeadlockReportNamesTheOwner) {
  Simulation sim({.strategy = Strategy::fifo});
  Lock lock("db");
  Event never("never set");
  TaskId owner = kNoTask;
  TaskId waiter = kNoTask;
  sim.spawn("owner", [&] {
    owner = sim.current_task().id();
    lock.acquire();
    never.wait();
  });
  sim.spawn("waiter", [&] {
    waiter = sim.current_task().id();
    sim.sleep(1 * ms);
    lock.acquire();
  });
  const RunResult result = sim.run();
  ASSERT_EQ(result.status, RunStatus::deadlock) << describe(result);
  EXPECT_NE(result.report.find("anyio.Event 'never set'"), std::string::npos) << result.report;
  bool found = false;
  for (const BlockedTask& blocked : result.blocked) {
    if (blocked.task != waiter) continue;
    found = true;
    EXPECT_NE(blocked.waits_on.find("anyio.Lock 'db'"), std::string::npos) << blocked.waits_on;
    EXPECT_NE(blocked.waits_on.find("locked, 1 waiting"), std::string::npos) << blocked.waits_on;
    EXPECT_EQ(blocked.held_by, std::vector<TaskId>{owner});
  }
  EXPECT_TRUE(found) << result.report;
}

}  // namespace
}  // namespace asgisim::sim
