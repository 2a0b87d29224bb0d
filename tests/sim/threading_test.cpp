// Tests of the simulated-thread primitives (threading.hpp): threading.Lock,
// Semaphore and Event used from threads, timeouts in virtual time and time.sleep.
#include "asgisim/sim/threading.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

#include "asgisim/sim/loop_future.hpp"
#include "asgisim/sim/simulation.hpp"
#include "asgisim/sim/testing.hpp"

namespace asgisim::sim {
namespace {

using namespace sim_testing;
using sim_testing::describe;

// ---- threading.Lock ---------------------------------------------------------

TEST(ThreadLock, HandsOverToTheWaitingThreadOnRelease) {
  ThreadLock lock("db");
  std::vector<std::string> log;
  Simulation sim({.seed = 1, .strategy = Strategy::fifo});
  TaskId a_id = kNoTask;
  sim.spawn_thread("a", [&] {
    a_id = sim.current_task().id();
    EXPECT_TRUE(lock.acquire());
    EXPECT_TRUE(lock.locked());
    EXPECT_EQ(lock.owner(), a_id);
    log.push_back("a acquired");
    thread_sleep(10 * kMillisecond);
    std::vector<TaskId> holders;
    lock.holders(holders);
    EXPECT_EQ(holders, std::vector<TaskId>{a_id});
    EXPECT_EQ(lock.waiting(), 1U);
    lock.release();
    log.push_back("a released");
  });
  sim.spawn_thread("b", [&] {
    EXPECT_TRUE(lock.acquire());
    EXPECT_EQ(sim.now(), 10 * kMillisecond);
    EXPECT_EQ(lock.owner(), sim.current_task().id());
    log.push_back("b acquired");
    lock.release();
  });
  const RunResult result = sim.run();
  EXPECT_TRUE(result.ok()) << describe(result);
  EXPECT_EQ(log, (std::vector<std::string>{"a acquired", "a released", "b acquired"}));
  EXPECT_FALSE(lock.locked());
  EXPECT_EQ(lock.owner(), kNoTask);
}

TEST(ThreadLock, AcquireTimesOutInVirtualTime) {
  ThreadLock lock;
  Simulation sim({.seed = 1, .strategy = Strategy::fifo});
  sim.spawn_thread("holder", [&] {
    EXPECT_TRUE(lock.acquire());
    thread_sleep(5 * kSecond);
    lock.release();
  });
  sim.spawn_thread("impatient", [&] {
    EXPECT_FALSE(lock.acquire(true, 1 * kSecond));
    EXPECT_EQ(sim.now(), 1 * kSecond);
    EXPECT_EQ(lock.waiting(), 0U);
    EXPECT_FALSE(lock.acquire(false));
    EXPECT_FALSE(lock.acquire(true, 0));
    EXPECT_TRUE(lock.acquire(true, 10 * kSecond));
    EXPECT_EQ(sim.now(), 5 * kSecond);
    lock.release();
  });
  const RunResult result = sim.run();
  EXPECT_TRUE(result.ok()) << describe(result);
  EXPECT_EQ(result.end_time_ns, 5 * kSecond);
}

// The holder releases at the very instant the waiter's timeout fires: the
// waiter has already been woken with timed_out but is still queued. The lock
// handed to it must not be lost.
TEST(ThreadLock, ReleaseRacingATimeoutDoesNotLoseTheLock) {
  int handed_over = 0;
  int timed_out = 0;
  for (Strategy strategy : {Strategy::fifo, Strategy::random, Strategy::pct}) {
    for (std::uint64_t seed = 0; seed < 20; ++seed) {
      ThreadLock lock;
      ThreadEvent held;
      bool got = false;
      Simulation sim({.seed = seed, .strategy = strategy});
      sim.spawn_thread("holder", [&] {
        EXPECT_TRUE(lock.acquire());
        held.set();
        thread_sleep(1 * kSecond);
        lock.release();
      });
      sim.spawn_thread("waiter", [&] {
        EXPECT_TRUE(held.wait());
        got = lock.acquire(true, 1 * kSecond);
        EXPECT_EQ(sim.now(), 1 * kSecond);
        if (got) {
          EXPECT_EQ(lock.owner(), sim.current_task().id());
          lock.release();
        } else {
          EXPECT_NE(lock.owner(), sim.current_task().id());
        }
      });
      const RunResult result = sim.run();
      EXPECT_TRUE(result.ok()) << describe(result);
      EXPECT_FALSE(lock.locked()) << "seed " << seed;
      // fifo: the holder's timer was registered first, so it releases before
      // the waiter resumes and the lock is handed over.
      if (strategy == Strategy::fifo) {
        EXPECT_TRUE(got);
      }
      ++(got ? handed_over : timed_out);
    }
  }
  // Other schedules let the waiter resume first: both outcomes are legal.
  EXPECT_GT(handed_over, 0);
  EXPECT_GT(timed_out, 0);
}

TEST(ThreadLock, MisuseRaisesUsageError) {
  ThreadLock lock;
  EXPECT_THROW(lock.release(), UsageError);  // outside a run: Python's RuntimeError
  EXPECT_THROW(lock.acquire(false, kSecond), UsageError);
  EXPECT_THROW(lock.acquire(true, -5), UsageError);
  EXPECT_TRUE(lock.acquire(false));  // a non-blocking call works anywhere
  lock.release();
  Simulation sim;
  sim.spawn_thread("t", [&] { EXPECT_THROW(lock.release(), UsageError); });
  const RunResult result = sim.run();
  EXPECT_TRUE(result.ok()) << describe(result);
}

TEST(ThreadLock, IsNotOwnerCheckedButRecordsTheOwner) {
  ThreadLock lock;
  Simulation sim;
  TaskId thread_id = kNoTask;
  sim.spawn_thread("t", [&] {
    thread_id = sim.current_task().id();
    EXPECT_TRUE(lock.acquire());
  });
  sim.spawn("loop", [&] {
    sim.sleep(kMillisecond);
    EXPECT_EQ(lock.owner(), thread_id);
    lock.release();  // Python's Lock may be released by anyone
    EXPECT_FALSE(lock.locked());
    EXPECT_EQ(lock.owner(), kNoTask);
  });
  const RunResult result = sim.run();
  EXPECT_TRUE(result.ok()) << describe(result);
}

TEST(ThreadLock, LockOrderInversionIsReportedAsDeadlockWithHolders) {
  ThreadLock first("first");
  ThreadLock second("second");
  Simulation sim({.seed = 1, .strategy = Strategy::fifo});
  sim.spawn_thread("t1", [&] {
    first.acquire();
    thread_sleep(kMillisecond);
    second.acquire();
  });
  sim.spawn_thread("t2", [&] {
    second.acquire();
    thread_sleep(kMillisecond);
    first.acquire();
  });
  const RunResult result = sim.run();
  ASSERT_EQ(result.status, RunStatus::deadlock) << describe(result);
  ASSERT_EQ(result.blocked.size(), 2U);
  for (const auto& blocked : result.blocked) {
    EXPECT_TRUE(blocked.thread);
    EXPECT_NE(blocked.waits_on.find("threading.Lock"), std::string::npos) << blocked.waits_on;
    ASSERT_EQ(blocked.held_by.size(), 1U);
    EXPECT_NE(blocked.held_by[0], blocked.task);
  }
  EXPECT_NE(result.report.find("cycle"), std::string::npos) << result.report;
}

// ---- threading.Semaphore ----------------------------------------------------

TEST(ThreadSemaphore, BlocksAtZeroAndHandsUnitsToWaiters) {
  ThreadSemaphore slots(2, "slots");
  std::vector<Nanoseconds> acquired_at;
  Simulation sim({.seed = 1, .strategy = Strategy::fifo});
  for (int i = 0; i < 4; ++i) {
    sim.spawn_thread("worker", [&] {
      EXPECT_TRUE(slots.acquire());
      acquired_at.push_back(sim.now());
      thread_sleep(10 * kMillisecond);
      slots.release();
    });
  }
  sim.spawn_thread("observer", [&] {
    thread_sleep(kMillisecond);
    EXPECT_EQ(slots.value(), 0U);
    EXPECT_EQ(slots.waiting(), 2U);
    std::vector<TaskId> holders;
    slots.holders(holders);
    EXPECT_EQ(holders.size(), 2U);
    EXPECT_FALSE(slots.acquire(true, 5 * kMillisecond));
    EXPECT_EQ(sim.now(), 6 * kMillisecond);
  });
  const RunResult result = sim.run();
  EXPECT_TRUE(result.ok()) << describe(result);
  EXPECT_EQ(acquired_at, (std::vector<Nanoseconds>{0, 0, 10 * kMillisecond, 10 * kMillisecond}));
  EXPECT_EQ(slots.value(), 2U);
}

TEST(ThreadSemaphore, ReleaseManyWakesThatManyWaiters) {
  ThreadSemaphore gate(0);
  int passed = 0;
  Simulation sim({.seed = 1, .strategy = Strategy::fifo});
  for (int i = 0; i < 3; ++i) {
    sim.spawn_thread("waiter", [&] {
      if (gate.acquire(true, 5 * kSecond)) ++passed;
    });
  }
  sim.spawn("loop", [&] {
    sim.sleep(kSecond);
    EXPECT_EQ(gate.waiting(), 3U);
    gate.release(2);  // release works from the loop: it never blocks
    EXPECT_EQ(gate.waiting(), 1U);
    EXPECT_EQ(gate.value(), 0U);
  });
  const RunResult result = sim.run();
  EXPECT_TRUE(result.ok()) << describe(result);
  EXPECT_EQ(passed, 2);
  EXPECT_EQ(result.end_time_ns, 5 * kSecond);
  EXPECT_THROW(gate.release(0), UsageError);
}

TEST(ThreadSemaphore, BoundedSemaphoreRejectsExtraRelease) {
  ThreadBoundedSemaphore bounded(1);
  EXPECT_EQ(bounded.kind(), "threading.BoundedSemaphore");
  EXPECT_THROW(bounded.release(), UsageError);
  EXPECT_TRUE(bounded.acquire(false));
  EXPECT_FALSE(bounded.acquire(false));
  EXPECT_THROW(bounded.release(2), UsageError);
  bounded.release();
  EXPECT_EQ(bounded.value(), 1U);
  ThreadSemaphore unbounded(0);
  unbounded.release(3);
  EXPECT_EQ(unbounded.value(), 3U);
}

// ---- threading.Event ---------------------------------------------------------

TEST(ThreadEvent, SetWakesEveryWaiterAndTimeoutsReturnFalse) {
  ThreadEvent ready("ready");
  std::vector<Nanoseconds> woke_at;
  Simulation sim({.seed = 1, .strategy = Strategy::fifo});
  for (int i = 0; i < 2; ++i) {
    sim.spawn_thread("waiter", [&] {
      EXPECT_FALSE(ready.wait(kMillisecond));
      EXPECT_EQ(sim.now(), kMillisecond);
      EXPECT_TRUE(ready.wait());
      woke_at.push_back(sim.now());
    });
  }
  sim.spawn("loop", [&] {
    EXPECT_FALSE(ready.wait(0));  // a poll works from the loop
    sim.sleep(3 * kMillisecond);
    EXPECT_EQ(ready.waiting(), 2U);
    ready.set();
    EXPECT_TRUE(ready.is_set());
    EXPECT_EQ(ready.waiting(), 0U);
    ready.clear();  // woken waiters still return true, as in Python
    EXPECT_FALSE(ready.is_set());
  });
  const RunResult result = sim.run();
  EXPECT_TRUE(result.ok()) << describe(result);
  EXPECT_EQ(woke_at, (std::vector<Nanoseconds>{3 * kMillisecond, 3 * kMillisecond}));
}

// ---- time.sleep ----------------------------------------------------------------

TEST(ThreadSleep, AdvancesVirtualTimeOnly) {
  Simulation sim;
  sim.spawn_thread("sleeper", [&] {
    thread_sleep(250 * kMillisecond);
    EXPECT_EQ(sim.now(), 250 * kMillisecond);
    thread_sleep(0);
    EXPECT_EQ(sim.now(), 250 * kMillisecond);
    EXPECT_THROW(thread_sleep(-1), UsageError);
  });
  const RunResult result = sim.run();
  EXPECT_TRUE(result.ok()) << describe(result);
  EXPECT_EQ(result.end_time_ns, 250 * kMillisecond);
}

}  // namespace
}  // namespace asgisim::sim
