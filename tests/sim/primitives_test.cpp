// Tests of anyio's loop primitives (event.hpp, lock.hpp, semaphore.hpp,
// capacity_limiter.hpp, condition.hpp): semantics, FIFO hand-off, cancellation
// while waiting, anyio 3.6.2's quirks, wrong-side use and deadlock reports.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "asgisim/sim/capacity_limiter.hpp"
#include "asgisim/sim/condition.hpp"
#include "asgisim/sim/event.hpp"
#include "asgisim/sim/lock.hpp"
#include "asgisim/sim/semaphore.hpp"
#include "asgisim/sim/simulation.hpp"

namespace asgisim::sim {
namespace {

std::string describe(const RunResult& result) {
  return std::string(to_string(result.status)) + ": " + result.report;
}

struct Schedule {
  Strategy strategy;
  std::uint64_t seed;
};
constexpr Schedule kSchedules[] = {
    {Strategy::fifo, 0},    {Strategy::random, 1}, {Strategy::random, 7},
    {Strategy::random, 42}, {Strategy::pct, 3},
};

// Runs `scenario(sim)` on a fresh Simulation for fifo and a few random and
// pct seeds: for behaviour that must not depend on the interleaving (the
// scenarios order their steps with virtual-time sleeps).
template <class Scenario>
void under_every_schedule(Scenario&& scenario) {
  for (const Schedule& schedule : kSchedules) {
    SCOPED_TRACE(std::string(to_string(schedule.strategy)) + " seed " + std::to_string(schedule.seed));
    Simulation sim({.seed = schedule.seed, .strategy = schedule.strategy});
    scenario(sim);
  }
}

constexpr Nanoseconds ms = kMillisecond;

// ---- Event -----------------------------------------------------------------------

TEST(Event, SetWakesEveryWaiterAtOnce) {
  under_every_schedule([](Simulation& sim) {
    Event event("ready");
    std::vector<Nanoseconds> woke_at;
    for (int i = 0; i < 3; ++i) {
      sim.spawn("waiter", [&] {
        event.wait();
        woke_at.push_back(sim.now());
      });
    }
    sim.spawn("setter", [&] {
      sim.sleep(10 * ms);
      EXPECT_EQ(event.statistics().tasks_waiting, 3U);
      EXPECT_FALSE(event.is_set());
      event.set();
      event.set();  // idempotent
      EXPECT_TRUE(event.is_set());
    });
    const RunResult result = sim.run();
    EXPECT_TRUE(result.ok()) << describe(result);
    EXPECT_EQ(woke_at, std::vector<Nanoseconds>(3, 10 * ms));
    EXPECT_EQ(event.statistics().tasks_waiting, 0U);
  });
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
  under_every_schedule([](Simulation& sim) {
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

TEST(Event, WokenThenCancelledBeforeResumingRaisesCancelled) {
  under_every_schedule([](Simulation& sim) {
    Event event;
    CancelScope* scope = nullptr;
    bool returned = false;
    bool caught = false;
    sim.spawn("waiter", [&] {
      caught = cancel_scope([&](CancelScope& s) {
        scope = &s;
        event.wait();
        returned = true;
      });
    });
    sim.spawn("setter", [&] {
      sim.sleep(1 * ms);
      event.set();
      scope->cancel();  // same step: the waiter is ready but has not resumed
    });
    const RunResult result = sim.run();
    EXPECT_TRUE(result.ok()) << describe(result);
    EXPECT_TRUE(caught);
    EXPECT_FALSE(returned);
    EXPECT_TRUE(event.is_set());
  });
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

// ---- Lock --------------------------------------------------------------------------

TEST(Lock, ExcludesAcrossCheckpoints) {
  under_every_schedule([](Simulation& sim) {
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
  under_every_schedule([](Simulation& sim) {
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
  under_every_schedule([](Simulation& sim) {
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
  under_every_schedule([](Simulation& sim) {
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
  under_every_schedule([](Simulation& sim) {
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
  under_every_schedule([](Simulation& sim) {
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

TEST(Primitives, SameSeedSameTrace) {
  // Every primitive in one scenario, run twice per seed: identical traces.
  auto run_once = [](std::uint64_t seed) {
    Simulation sim({.seed = seed, .strategy = Strategy::random});
    Lock lock;
    Semaphore semaphore(2);
    CapacityLimiter limiter(2);
    Event done;
    std::vector<int> log;
    for (int i = 0; i < 6; ++i) {
      sim.spawn("worker", [&, i] {
        with_limiter(limiter, [&] {
          with_semaphore(semaphore, [&] {
            with_lock(lock, [&] {
              log.push_back(i);
              checkpoint();
            });
          });
        });
        if (i == 5) done.set();
      });
    }
    sim.spawn("watcher", [&] { done.wait(); });
    const RunResult result = sim.run();
    EXPECT_TRUE(result.ok()) << describe(result);
    return std::make_pair(result.trace_hash, log);
  };
  for (std::uint64_t seed : {1U, 2U, 3U}) EXPECT_EQ(run_once(seed), run_once(seed));
}

// ---- Semaphore -------------------------------------------------------------------------

TEST(Semaphore, LimitsConcurrency) {
  under_every_schedule([](Simulation& sim) {
    Semaphore semaphore(2);
    int inside = 0;
    int inside_max = 0;
    for (int t = 0; t < 6; ++t) {
      sim.spawn("worker", [&] {
        with_semaphore(semaphore, [&] {
          inside_max = std::max(inside_max, ++inside);
          sim.sleep(1 * ms);
          --inside;
        });
      });
    }
    const RunResult result = sim.run();
    EXPECT_TRUE(result.ok()) << describe(result);
    EXPECT_EQ(inside_max, 2);
    EXPECT_EQ(semaphore.value(), 2U);
    EXPECT_EQ(result.end_time_ns, 3 * ms);
  });
}

TEST(Semaphore, ReleaseHandsTheUnitToTheLongestWaiter) {
  under_every_schedule([](Simulation& sim) {
    Semaphore semaphore(1);
    std::vector<std::string> order;
    sim.spawn("holder", [&] {
      semaphore.acquire();
      sim.sleep(10 * ms);
      EXPECT_EQ(semaphore.statistics().tasks_waiting, 3U);
      semaphore.release();
      EXPECT_EQ(semaphore.value(), 0U);  // handed over, not counted
      EXPECT_THROW(semaphore.acquire_nowait(), WouldBlock);
    });
    int delay = 0;
    for (const char* name : {"b", "c", "d"}) {
      ++delay;
      sim.spawn(name, [&, name, delay] {
        sim.sleep(delay * ms);
        SemaphoreGuard guard(semaphore);
        order.push_back(name);
      });
    }
    const RunResult result = sim.run();
    EXPECT_TRUE(result.ok()) << describe(result);
    EXPECT_EQ(order, (std::vector<std::string>{"b", "c", "d"}));
    EXPECT_EQ(semaphore.value(), 1U);
  });
}

TEST(Semaphore, BoundedAndNowait) {
  EXPECT_THROW(Semaphore(2, 1), std::invalid_argument);
  Simulation sim;
  Semaphore semaphore(1, 1);
  sim.spawn("task", [&] {
    try {
      semaphore.release();
      ADD_FAILURE() << "over-release did not raise";
    } catch (const std::invalid_argument& error) {
      EXPECT_STREQ(error.what(), "semaphore released too many times");
    }
    semaphore.acquire_nowait();
    EXPECT_EQ(semaphore.value(), 0U);
    EXPECT_THROW(semaphore.acquire_nowait(), WouldBlock);
    semaphore.release();
    EXPECT_EQ(semaphore.max_value(), std::optional<std::uint64_t>(1));
  });
  const RunResult result = sim.run();
  EXPECT_TRUE(result.ok()) << describe(result);
}

TEST(Semaphore, CancelledWhileWaitingLeavesTheQueue) {
  under_every_schedule([](Simulation& sim) {
    Semaphore semaphore(0);
    sim.spawn("waiter", [&] {
      EXPECT_TRUE(move_on_after(5 * ms, [&] { semaphore.acquire(); }));
      EXPECT_EQ(semaphore.statistics().tasks_waiting, 0U);
      semaphore.release();
    });
    const RunResult result = sim.run();
    EXPECT_TRUE(result.ok()) << describe(result);
    EXPECT_EQ(semaphore.value(), 1U);
  });
}

TEST(Semaphore, CancelledAfterTheHandOffPassesTheUnitOn) {
  under_every_schedule([](Simulation& sim) {
    Semaphore semaphore(0);
    CancelScope* b_scope = nullptr;
    std::vector<std::string> log;
    sim.spawn("a", [&] {
      sim.sleep(10 * ms);
      semaphore.release();  // hands the unit to b ...
      b_scope->cancel();    // ... which is cancelled before it resumes
    });
    sim.spawn("b", [&] {
      sim.sleep(1 * ms);
      EXPECT_TRUE(cancel_scope([&](CancelScope& s) {
        b_scope = &s;
        semaphore.acquire();
        log.push_back("b acquired");
      }));
    });
    sim.spawn("c", [&] {
      sim.sleep(2 * ms);
      semaphore.acquire();
      log.push_back("c acquired");
    });
    const RunResult result = sim.run();
    EXPECT_TRUE(result.ok()) << describe(result);
    EXPECT_EQ(log, std::vector<std::string>{"c acquired"});
    EXPECT_EQ(semaphore.value(), 0U);
  });
}

TEST(Semaphore, CancelledAfterTheHandOffWithNobodyElseReturnsTheUnit) {
  under_every_schedule([](Simulation& sim) {
    Semaphore semaphore(0);
    CancelScope* scope = nullptr;
    sim.spawn("a", [&] {
      sim.sleep(10 * ms);
      semaphore.release();
      scope->cancel();
    });
    sim.spawn("b", [&] {
      EXPECT_TRUE(cancel_scope([&](CancelScope& s) {
        scope = &s;
        semaphore.acquire();
      }));
    });
    const RunResult result = sim.run();
    EXPECT_TRUE(result.ok()) << describe(result);
    EXPECT_EQ(semaphore.value(), 1U);
  });
}

TEST(Semaphore, WrongSide) {
  Simulation sim;
  Semaphore semaphore(1);
  sim.spawn_thread("worker", [&] {
    EXPECT_THROW(semaphore.acquire(), WrongSideError);
    EXPECT_THROW(semaphore.acquire_nowait(), WrongSideError);
    EXPECT_THROW(semaphore.release(), WrongSideError);
  });
  const RunResult result = sim.run();
  EXPECT_TRUE(result.ok()) << describe(result);
  EXPECT_EQ(semaphore.value(), 1U);
}

// ---- CapacityLimiter -----------------------------------------------------------------------

TEST(CapacityLimiter, LendsUpToItsTotal) {
  under_every_schedule([](Simulation& sim) {
    CapacityLimiter limiter(2, "pool");
    std::vector<TaskId> ids(3, kNoTask);
    for (int i = 0; i < 3; ++i) {
      sim.spawn("borrower", [&, i] {
        ids[i] = sim.current_task().id();
        sim.sleep(i * ms);
        LimiterGuard guard(limiter);
        EXPECT_TRUE(limiter.holds_token(Borrower::of_task(ids[i])));
        sim.sleep(10 * ms);
      });
    }
    sim.spawn("monitor", [&] {
      sim.sleep(5 * ms);
      const CapacityLimiterStatistics stats = limiter.statistics();
      EXPECT_EQ(stats.borrowed_tokens, 2U);
      EXPECT_EQ(stats.total_tokens, 2U);
      EXPECT_EQ(stats.tasks_waiting, 1U);
      EXPECT_EQ(stats.borrowers,
                (std::vector<Borrower>{Borrower::of_task(ids[0]), Borrower::of_task(ids[1])}));
      EXPECT_EQ(limiter.available_tokens(), 0);
      std::vector<TaskId> holders;
      limiter.holders(holders);
      EXPECT_EQ(holders, (std::vector<TaskId>{ids[0], ids[1]}));
      EXPECT_NE(limiter.state().find("2/2 tokens borrowed, 1 waiting"), std::string::npos) << limiter.state();
    });
    const RunResult result = sim.run();
    EXPECT_TRUE(result.ok()) << describe(result);
    EXPECT_EQ(limiter.borrowed_tokens(), 0U);
    EXPECT_EQ(result.end_time_ns, 20 * ms);
  });
}

// Order in which three queued tasks get the single token of a limiter.
std::vector<std::string> limiter_wake_order(Simulation& sim, LimiterWakeOrder wake_order) {
  CapacityLimiter limiter(1, "one", wake_order);
  std::vector<std::string> order;
  sim.spawn("holder", [&] { with_limiter(limiter, [&] { sim.sleep(10 * ms); }); });
  int delay = 0;
  for (const char* name : {"b", "c", "d"}) {
    ++delay;
    sim.spawn(name, [&, name, delay] {
      sim.sleep(delay * ms);
      with_limiter(limiter, [&] { order.push_back(name); });
    });
  }
  const RunResult result = sim.run();
  EXPECT_TRUE(result.ok()) << describe(result);
  return order;
}

TEST(CapacityLimiter, ReleaseWakesTheNewestWaiterLikeAnyio362) {
  under_every_schedule([](Simulation& sim) {
    EXPECT_EQ(limiter_wake_order(sim, LimiterWakeOrder::newest_first),
              (std::vector<std::string>{"d", "c", "b"}));
  });
}

TEST(CapacityLimiter, ReleaseWakesTheOldestWaiterLikeAnyio37) {
  under_every_schedule([](Simulation& sim) {
    EXPECT_EQ(limiter_wake_order(sim, LimiterWakeOrder::oldest_first),
              (std::vector<std::string>{"b", "c", "d"}));
  });
}

TEST(CapacityLimiter, MisuseRaisesUsageError) {
  Simulation sim;
  CapacityLimiter limiter(1);
  EXPECT_THROW(CapacityLimiter(0), std::invalid_argument);
  sim.spawn("task", [&] {
    limiter.acquire();
    EXPECT_THROW(limiter.acquire(), UsageError);
    EXPECT_THROW(limiter.acquire_nowait(), UsageError);
    limiter.release();
    EXPECT_THROW(limiter.release(), UsageError);
    EXPECT_THROW(limiter.release_on_behalf_of(Borrower::of_object(5)), UsageError);
    EXPECT_THROW(limiter.set_total_tokens(0), std::invalid_argument);
  });
  const RunResult result = sim.run();
  EXPECT_TRUE(result.ok()) << describe(result);
}

TEST(CapacityLimiter, BorrowsOnBehalfOfObjects) {
  under_every_schedule([](Simulation& sim) {
    CapacityLimiter limiter(1);
    const Borrower job = Borrower::of_object(7);
    sim.spawn("first", [&] {
      limiter.acquire_on_behalf_of(job);
      EXPECT_TRUE(limiter.holds_token(job));
      std::vector<TaskId> holders;
      limiter.holders(holders);
      EXPECT_TRUE(holders.empty());  // not a task
      sim.sleep(5 * ms);
      limiter.release_on_behalf_of(job);
    });
    sim.spawn("second", [&] {
      sim.sleep(1 * ms);
      EXPECT_THROW(limiter.acquire_on_behalf_of_nowait(Borrower::of_object(8)), WouldBlock);
      limiter.acquire_on_behalf_of(Borrower::of_object(8));
      EXPECT_EQ(sim.now(), 5 * ms);
      limiter.release_on_behalf_of(Borrower::of_object(8));
    });
    sim.spawn("same object", [&] {
      sim.sleep(2 * ms);
      EXPECT_THROW(limiter.acquire_on_behalf_of(job), UsageError);  // already holding
    });
    const RunResult result = sim.run();
    EXPECT_TRUE(result.ok()) << describe(result);
  });
}

TEST(CapacityLimiter, InfiniteTokens) {
  Simulation sim;
  CapacityLimiter limiter(kInfiniteTokens);
  sim.spawn("task", [&] {
    for (std::uint64_t i = 0; i < 100; ++i) limiter.acquire_on_behalf_of_nowait(Borrower::of_object(i));
    EXPECT_EQ(limiter.borrowed_tokens(), 100U);
    EXPECT_EQ(limiter.available_tokens(), std::numeric_limits<std::int64_t>::max());
    EXPECT_NE(limiter.state().find("100/inf"), std::string::npos);
  });
  const RunResult result = sim.run();
  EXPECT_TRUE(result.ok()) << describe(result);
}

TEST(CapacityLimiter, RaisingTheTotalWakesWaitersButLeavesStaleEntries) {
  under_every_schedule([](Simulation& sim) {
    CapacityLimiter limiter(1);
    sim.spawn("a", [&] {
      limiter.acquire();
      sim.sleep(10 * ms);
      limiter.set_total_tokens(4);  // wakes b and c; their entries stay queued
      sim.sleep(1 * ms);
      EXPECT_EQ(limiter.borrowed_tokens(), 3U);
      EXPECT_EQ(limiter.available_tokens(), 1);
      EXPECT_EQ(limiter.statistics().tasks_waiting, 2U);
      // A free token, but the stale entries make the queue look busy.
      EXPECT_THROW(limiter.acquire_on_behalf_of_nowait(Borrower::of_object(1)), WouldBlock);
      limiter.release();  // pops the newest entry, a stale one: wakes nobody
      EXPECT_EQ(limiter.statistics().tasks_waiting, 1U);
      EXPECT_EQ(limiter.borrowed_tokens(), 2U);
    });
    for (const char* name : {"b", "c"}) {
      sim.spawn(name, [&] {
        sim.sleep(1 * ms);
        limiter.acquire();
        EXPECT_EQ(sim.now(), 10 * ms);
        sim.sleep(10 * ms);
        limiter.release();
      });
    }
    const RunResult result = sim.run();
    EXPECT_TRUE(result.ok()) << describe(result);
    EXPECT_EQ(limiter.borrowed_tokens(), 0U);
    EXPECT_EQ(limiter.statistics().tasks_waiting, 0U);
    EXPECT_EQ(limiter.over_lent_count(), 0U);
  });
}

TEST(CapacityLimiter, AWokenWaiterCanBeOvertakenAndTheLimiterOverLends) {
  under_every_schedule([](Simulation& sim) {
    CapacityLimiter limiter(1);
    const Borrower other = Borrower::of_object(9);
    sim.spawn("a", [&] {
      limiter.acquire();
      sim.sleep(10 * ms);
      limiter.release();  // b is woken; the queue is empty, b is not a borrower yet
      limiter.acquire_on_behalf_of_nowait(other);
      sim.sleep(10 * ms);
      limiter.release_on_behalf_of(other);
    });
    sim.spawn("b", [&] {
      sim.sleep(1 * ms);
      limiter.acquire();
      EXPECT_EQ(limiter.borrowed_tokens(), 2U);
      EXPECT_EQ(limiter.available_tokens(), -1);
      limiter.release();
    });
    const RunResult result = sim.run();
    EXPECT_TRUE(result.ok()) << describe(result);
    EXPECT_EQ(limiter.over_lent_count(), 1U);
  });
}

TEST(CapacityLimiter, CancelledWhileWaitingLeavesTheQueue) {
  under_every_schedule([](Simulation& sim) {
    CapacityLimiter limiter(1);
    sim.spawn("holder", [&] { with_limiter(limiter, [&] { sim.sleep(10 * ms); }); });
    sim.spawn("waiter", [&] {
      sim.sleep(1 * ms);
      EXPECT_TRUE(move_on_after(5 * ms, [&] { limiter.acquire(); }));
      EXPECT_EQ(limiter.statistics().tasks_waiting, 0U);
      EXPECT_FALSE(limiter.holds_token(Borrower::of_task(sim.current_task().id())));
    });
    const RunResult result = sim.run();
    EXPECT_TRUE(result.ok()) << describe(result);
    EXPECT_EQ(limiter.borrowed_tokens(), 0U);
  });
}

TEST(CapacityLimiter, CancelledAfterTheHandOffLosesTheToken) {
  under_every_schedule([](Simulation& sim) {
    CapacityLimiter limiter(1);
    CancelScope* b_scope = nullptr;
    sim.spawn("a", [&] {
      limiter.acquire();
      sim.sleep(10 * ms);
      limiter.release();  // pops b, the newest waiter ...
      b_scope->cancel();  // ... which is cancelled before it resumes
      sim.sleep(1 * ms);
      // The token is free, c still waits, and nobody will wake it.
      EXPECT_EQ(limiter.borrowed_tokens(), 0U);
      EXPECT_EQ(limiter.statistics().tasks_waiting, 1U);
      EXPECT_THROW(limiter.acquire_nowait(), WouldBlock);
    });
    sim.spawn("c", [&] {
      sim.sleep(1 * ms);
      EXPECT_TRUE(move_on_after(20 * ms, [&] { limiter.acquire(); }));
    });
    sim.spawn("b", [&] {
      sim.sleep(2 * ms);
      EXPECT_TRUE(cancel_scope([&](CancelScope& s) {
        b_scope = &s;
        limiter.acquire();
      }));
    });
    const RunResult result = sim.run();
    EXPECT_TRUE(result.ok()) << describe(result);
    EXPECT_EQ(result.end_time_ns, 21 * ms);
  });
}

TEST(CapacityLimiter, WrongSide) {
  Simulation sim;
  CapacityLimiter limiter(1);
  sim.spawn_thread("worker", [&] {
    EXPECT_THROW(limiter.acquire(), WrongSideError);
    EXPECT_THROW(limiter.acquire_on_behalf_of(Borrower::of_object(1)), WrongSideError);
    EXPECT_THROW(limiter.acquire_on_behalf_of_nowait(Borrower::of_object(1)), WrongSideError);
    EXPECT_THROW(limiter.release_on_behalf_of(Borrower::of_object(1)), WrongSideError);
  });
  const RunResult result = sim.run();
  EXPECT_TRUE(result.ok()) << describe(result);
  EXPECT_EQ(limiter.borrowed_tokens(), 0U);
}

// ---- Condition -----------------------------------------------------------------------

TEST(Condition, NotifyWakesWaitersInOrderAndTheyReacquireTheLock) {
  under_every_schedule([](Simulation& sim) {
    Condition condition;
    std::vector<std::string> order;
    int delay = 0;
    for (const char* name : {"a", "b", "c"}) {
      ++delay;
      sim.spawn(name, [&, name, delay] {
        sim.sleep(delay * ms);
        condition.acquire();
        condition.wait();
        EXPECT_TRUE(condition.locked());
        EXPECT_EQ(condition.statistics().lock_statistics.owner, sim.current_task().id());
        order.push_back(name);
        condition.release();
      });
    }
    sim.spawn("notifier", [&] {
      sim.sleep(10 * ms);
      EXPECT_THROW(condition.notify(), UsageError);  // not holding the lock
      condition.acquire();
      EXPECT_EQ(condition.statistics().tasks_waiting, 3U);
      condition.notify(1);
      condition.release();
      sim.sleep(1 * ms);
      EXPECT_EQ(order, std::vector<std::string>{"a"});
      condition.acquire();
      condition.notify_all();
      condition.release();
    });
    const RunResult result = sim.run();
    EXPECT_TRUE(result.ok()) << describe(result);
    ASSERT_EQ(order.size(), 3U);
    std::sort(order.begin() + 1, order.end());
    EXPECT_EQ(order, (std::vector<std::string>{"a", "b", "c"}));
    EXPECT_FALSE(condition.locked());
  });
}

TEST(Condition, CancelledWaitReacquiresTheLockBeforeRaising) {
  under_every_schedule([](Simulation& sim) {
    Condition condition;
    sim.spawn("waiter", [&] {
      condition.acquire();
      EXPECT_TRUE(move_on_after(5 * ms, [&] { condition.wait(); }));
      EXPECT_EQ(sim.now(), 10 * ms);  // waited, shielded, for the holder
      EXPECT_EQ(condition.statistics().lock_statistics.owner, sim.current_task().id());
      EXPECT_EQ(condition.statistics().tasks_waiting, 0U);
      condition.release();
    });
    sim.spawn("holder", [&] {
      sim.sleep(4 * ms);
      condition.acquire();
      sim.sleep(6 * ms);
      condition.release();
    });
    const RunResult result = sim.run();
    EXPECT_TRUE(result.ok()) << describe(result);
    EXPECT_FALSE(condition.locked());
  });
}

}  // namespace
}  // namespace asgisim::sim
