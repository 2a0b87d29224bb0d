// Tests of anyio.Semaphore (semaphore.hpp): limiting concurrency, FIFO
// hand-off, bounds, cancellation while waiting and after the hand-off, wrong side.
#include "asgisim/sim/semaphore.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "asgisim/sim/cancel.hpp"
#include "asgisim/sim/simulation.hpp"
#include "asgisim/sim/testing.hpp"

namespace asgisim::sim {
namespace {

using namespace sim_testing;
using sim_testing::describe;

TEST(Semaphore, LimitsConcurrency) {
  run_under_schedules([](Simulation& sim) {
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
  run_under_schedules([](Simulation& sim) {
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
  run_under_schedules([](Simulation& sim) {
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
  run_under_schedules([](Simulation& sim) {
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
  run_under_schedules([](Simulation& sim) {
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

}  // namespace
}  // namespace asgisim::sim
