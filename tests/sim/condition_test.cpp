// Tests of anyio.Condition (condition.hpp): notification order, and re-acquiring
// the lock before a cancelled wait raises.
#include "asgisim/sim/condition.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "asgisim/sim/cancel.hpp"
#include "asgisim/sim/lock.hpp"
#include "asgisim/sim/simulation.hpp"
#include "asgisim/sim/task_group.hpp"
#include "asgisim/sim/testing.hpp"

namespace asgisim::sim {
namespace {

using sim_testing::ms;

SIM_TEST(Condition, NotifyWakesWaitersInOrderAndTheyReacquireTheLock) {
  Condition condition;
  std::vector<std::string> order;
  task_group([&](TaskGroup& tg) {
    int delay = 0;
    for (const char* name : {"a", "b", "c"}) {
      ++delay;
      tg.start_soon(name, [&, name, delay] {
        sim.sleep(delay * ms);
        condition.acquire();
        condition.wait();
        EXPECT_TRUE(condition.locked());
        EXPECT_EQ(condition.statistics().lock_statistics.owner, sim.current_task().id());
        order.push_back(name);
        condition.release();
      });
    }
    tg.start_soon("notifier", [&] {
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
  });
  ASSERT_EQ(order.size(), 3U);
  std::sort(order.begin() + 1, order.end());
  EXPECT_EQ(order, (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_FALSE(condition.locked());
}

SIM_TEST(Condition, CancelledWaitReacquiresTheLockBeforeRaising) {
  Condition condition;
  task_group([&](TaskGroup& tg) {
    tg.start_soon("waiter", [&] {
      condition.acquire();
      EXPECT_TRUE(move_on_after(5 * ms, [&] { condition.wait(); }));
      EXPECT_EQ(sim.now(), 10 * ms);  // waited, shielded, for the holder
      EXPECT_EQ(condition.statistics().lock_statistics.owner, sim.current_task().id());
      EXPECT_EQ(condition.statistics().tasks_waiting, 0U);
      condition.release();
    });
    tg.start_soon("holder", [&] {
      sim.sleep(4 * ms);
      condition.acquire();
      sim.sleep(6 * ms);
      condition.release();
    });
  });
  EXPECT_FALSE(condition.locked());
}

}  // namespace
}  // namespace asgisim::sim
