// Tests of the hooks for a model layer (detail/runtime_hooks.hpp): the scope
// chain as a model walks it, from a child task on to its group's scope. The
// pollers are tested with the scheduler (scheduler_test.cpp, "Poller").
#include "asgisim/sim/detail/runtime_hooks.hpp"

#include <gtest/gtest.h>

#include <string>

#include "asgisim/sim/cancel.hpp"
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

}  // namespace
}  // namespace asgisim::sim
