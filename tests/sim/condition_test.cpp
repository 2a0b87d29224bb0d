// Tests of anyio.Condition (condition.hpp): notification order, and re-acquiring
// the lock before a cancelled wait raises.
#include "asgisim/sim/condition.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "asgisim/sim/cancel.hpp"
#include "asgisim/sim/lock.hpp"
#include "asgisim/sim/simulation.hpp"
#include "asgisim/sim/testing.hpp"

namespace asgisim::sim {
namespace {

using sim_testing::describe;
using sim_testing::run_under_schedules;

constexpr Nanoseconds ms = kMillisecond;

TEST(Condition, NotifyWakesWaitersInOrderAndTheyReacquireTheLock) {
  run_under_schedules([](Simulation& sim) {
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
  run_under_schedules([](Simulation& sim) {
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
