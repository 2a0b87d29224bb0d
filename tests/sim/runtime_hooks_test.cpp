// Tests of the hooks for a model layer (detail/runtime_hooks.hpp): the scope
// chain as a model walks it, from a child task on to its group's scope.
// The pollers: the "Poller" test at the end of this file.
#include "asgisim/sim/detail/runtime_hooks.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "asgisim/sim/cancel.hpp"
#include "asgisim/sim/event.hpp"
#include "asgisim/sim/simulation.hpp"
#include "asgisim/sim/task_group.hpp"

namespace asgisim::sim {
namespace {

std::string status_text(const RunResult& result) {
  return std::string(to_string(result.status)) + ": " + result.report;
}

TEST(RuntimeHooks, CurrentScopeIsTheInnermostAndParentLeadsOut) {
  Simulation sim;
  bool checked = false;
  sim.spawn("host", [&] {
    const detail::RuntimeHooks hooks = Simulation::current().runtime_hooks();
    EXPECT_EQ(hooks.current_scope(), nullptr) << "a task starts outside any scope";
    cancel_scope([&](CancelScope& outer) {
      EXPECT_EQ(hooks.current_scope(), &outer);
      EXPECT_EQ(detail::RuntimeHooks::parent(outer), nullptr);
      cancel_scope(
          [&](CancelScope& inner) {
            EXPECT_EQ(hooks.current_scope(), &inner);
            EXPECT_EQ(detail::RuntimeHooks::parent(inner), &outer);
            checked = true;
          },
          kNoDeadline, /*shield=*/true);
      EXPECT_EQ(hooks.current_scope(), &outer) << "leaving a scope restores its parent";
    });
    EXPECT_EQ(hooks.current_scope(), nullptr);
  });
  const RunResult result = sim.run();
  ASSERT_TRUE(result.ok()) << status_text(result);
  EXPECT_TRUE(checked);
}

TEST(RuntimeHooks, AChildTasksFirstScopeLeadsToItsGroupsScope) {
  Simulation sim;
  const CancelScope* group_scope = nullptr;
  const CancelScope* child_first = nullptr;
  const CancelScope* child_first_parent = nullptr;
  sim.spawn("host", [&] {
    task_group([&](TaskGroup& group) {
      group_scope = &group.cancel_scope();
      group.start_soon("child", [&] {
        const detail::RuntimeHooks hooks = Simulation::current().runtime_hooks();
        EXPECT_EQ(hooks.current_scope(), group_scope) << "a child starts in its group's scope";
        cancel_scope([&](CancelScope& own) {
          child_first = &own;
          child_first_parent = detail::RuntimeHooks::parent(own);
        });
      });
    });
  });
  const RunResult result = sim.run();
  ASSERT_TRUE(result.ok()) << status_text(result);
  ASSERT_NE(child_first, nullptr);
  EXPECT_EQ(child_first_parent, group_scope);
}

TEST(RuntimeHooks, CurrentScopeOutsideATaskIsAWrongSideError) {
  Simulation sim;
  EXPECT_THROW((void)sim.runtime_hooks().current_scope(), WrongSideError);
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

TEST(RuntimeHooks, InsideTaskGroupForItsHostAndItsChildrenOnly) {
  Simulation sim;
  std::vector<std::string> seen;
  const auto note = [&](const std::string& where) {
    seen.push_back(where +
                   (Simulation::current().runtime_hooks().inside_task_group() ? " inside" : " outside"));
  };
  sim.spawn("host", [&] {
    note("before");
    cancel_scope([&] { note("plain scope"); });
    task_group([&](TaskGroup& group) {
      note("host");
      group.start_soon("child", [&] {
        cancel_scope([&] { note("child's own scope"); });
        note("child");
      });
    });
    note("after");
  });
  sim.spawn("other", [&] { note("other task"); });
  const RunResult result = sim.run();
  ASSERT_TRUE(result.ok()) << status_text(result);
  EXPECT_EQ(seen, (std::vector<std::string>{"before outside", "plain scope outside", "host inside",
                                            "other task outside", "child's own scope inside", "child inside",
                                            "after outside"}));
}

TEST(RuntimeHooks, LoopShutdownHooksRunAfterTheLastTaskInOrderAndMayRegisterMore) {
  Simulation sim;
  std::vector<std::string> order;
  sim.spawn("main", [&] {
    detail::RuntimeHooks hooks = Simulation::current().runtime_hooks();
    hooks.at_loop_shutdown([&] {
      order.push_back("first hook");
      Simulation::current().runtime_hooks().at_loop_shutdown(
          [&] { order.push_back("registered by a hook"); });
      checkpoint();  // a hook is a task like any other: it may wait
      order.push_back("first hook resumed");
    });
    hooks.at_loop_shutdown([&] { order.push_back("second hook"); });
    sleep(5);
    order.push_back("main done");
  });
  sim.spawn("daemon", [&] { sleep(1'000'000); }, {.daemon = true});
  const RunResult result = sim.run();
  ASSERT_TRUE(result.ok()) << status_text(result);
  EXPECT_EQ(order, (std::vector<std::string>{"main done", "first hook", "second hook", "first hook resumed",
                                             "registered by a hook"}));
  EXPECT_EQ(result.end_time_ns, 5) << "the shutdown does not wait for daemons";
}

// The shutdown starts as the last non-daemon task finishes, on its stack: the
// hook's task must get a stack of its own while daemons keep switching.
TEST(RuntimeHooks, LoopShutdownStartedByAFinishingTaskRunsBesideTickingDaemons) {
  Simulation sim;
  int hook_steps = 0;
  int ticks = 0;
  sim.spawn("last", [&] {
    Simulation::current().runtime_hooks().at_loop_shutdown([&] {
      for (int i = 0; i < 20; ++i) {
        sleep(1);
        ++hook_steps;
      }
    });
  });
  for (int d = 0; d < 3; ++d) {
    sim.spawn("ticker",
              [&] {
                for (;;) {
                  sleep(1);
                  ++ticks;
                }
              },
              {.daemon = true});
  }
  const RunResult result = sim.run();
  ASSERT_TRUE(result.ok()) << status_text(result);
  EXPECT_EQ(hook_steps, 20);
  EXPECT_GE(ticks, 3 * 19);
}

TEST(RuntimeHooks, AFailedRunEndsWithoutItsLoopShutdownHooks) {
  Simulation sim;
  bool ran = false;
  sim.spawn("stuck", [&] {
    Simulation::current().runtime_hooks().at_loop_shutdown([&] { ran = true; });
    Event never;
    never.wait();
  });
  const RunResult result = sim.run();
  EXPECT_EQ(result.status, RunStatus::deadlock);
  EXPECT_FALSE(ran);
}

}  // namespace
}  // namespace asgisim::sim
