// Tests of anyio.CapacityLimiter (capacity_limiter.hpp): lending tokens, the
// wake order of anyio 3.6.2 and 3.7, borrowers, anyio's quirks (stale entries,
// over-lending, lost hand-offs), cancellation and wrong-side use.
#include "asgisim/sim/capacity_limiter.hpp"

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

TEST(CapacityLimiter, LendsUpToItsTotal) {
  run_under_schedules([](Simulation& sim) {
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
  run_under_schedules([](Simulation& sim) {
    EXPECT_EQ(limiter_wake_order(sim, LimiterWakeOrder::newest_first),
              (std::vector<std::string>{"d", "c", "b"}));
  });
}

TEST(CapacityLimiter, ReleaseWakesTheOldestWaiterLikeAnyio37) {
  run_under_schedules([](Simulation& sim) {
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
  run_under_schedules([](Simulation& sim) {
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
  run_under_schedules([](Simulation& sim) {
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
  run_under_schedules([](Simulation& sim) {
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
  run_under_schedules([](Simulation& sim) {
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
  run_under_schedules([](Simulation& sim) {
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

}  // namespace
}  // namespace asgisim::sim
