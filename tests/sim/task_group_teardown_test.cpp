// Tests of task groups at the end of a run (task_group.hpp): a run that ends
// while a group still has live children unwinds them without hanging or aborting.
#include "asgisim/sim/task_group.hpp"

#include <gtest/gtest.h>

#include <unistd.h>

#include <cstdlib>

#include "asgisim/sim/simulation.hpp"
#include "asgisim/sim/testing.hpp"

namespace asgisim::sim {
namespace {

// Runs `scenario` in a child process with a watchdog: the process must exit
// with status 0, not hang (SIGALRM) and not abort.
#define EXPECT_RUNS_CLEANLY(scenario) \
  EXPECT_EXIT(                        \
      {                               \
        ::alarm(5);                   \
        scenario();                   \
        std::_Exit(0);                \
      },                              \
      ::testing::ExitedWithCode(0), "")

// A group's child is not a daemon even when its host is: an idle child
// says so itself, so that it does not keep the run alive.
void idle_reader() {
  Simulation& sim = Simulation::current();
  sim.set_daemon(sim.current_task(), true);
  for (;;) sim::sleep(kSecond);
}

// A daemon (a keep-alive connection, say) whose task group still has a child
// when the last non-daemon task ends: the run completes and must unwind
// both the host blocked in the group and the child.
void daemon_blocked_leaving_a_group() {
  Simulation sim;
  sim.spawn(
      "connection", [] { task_group([](TaskGroup& tg) { tg.start_soon("reader", idle_reader); }); },
      SpawnOptions{.daemon = true});
  sim.spawn("request", [] { sim::sleep(2 * kSecond); });
  const RunResult result = sim.run();
  if (!result.ok()) std::_Exit(3);
}

// As above, but the host is still inside the group's body.
void daemon_blocked_inside_a_group_body() {
  Simulation sim;
  sim.spawn(
      "connection",
      [] {
        task_group([](TaskGroup& tg) {
          tg.start_soon("reader", idle_reader);
          for (;;) sim::sleep(kSecond);
        });
      },
      SpawnOptions{.daemon = true});
  sim.spawn("request", [] { sim::sleep(2 * kSecond); });
  const RunResult result = sim.run();
  if (!result.ok()) std::_Exit(3);
}

// A liveness failure inside a task group: the run stops with the group's
// host and children suspended, and tearing it down must not hang or abort.
void liveness_failure_inside_a_group() {
  Simulation sim({.time_max_ns = 10 * kSecond});
  sim.spawn("server", [] {
    task_group([](TaskGroup& tg) {
      tg.start_soon("poller", [] {
        for (;;) sim::sleep(kSecond);
      });
      tg.start_soon("spinner", [] {
        for (;;) sim::sleep(kSecond);
      });
    });
  });
  const RunResult result = sim.run();
  if (result.status != RunStatus::liveness_time) std::_Exit(3);
}

TEST(TaskGroupTeardown, ADaemonBlockedLeavingAGroupIsUnwound) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_RUNS_CLEANLY(daemon_blocked_leaving_a_group);
}

TEST(TaskGroupTeardown, ADaemonBlockedInsideAGroupBodyIsUnwound) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_RUNS_CLEANLY(daemon_blocked_inside_a_group_body);
}

TEST(TaskGroupTeardown, ALivenessFailureInsideAGroupIsTornDown) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_RUNS_CLEANLY(liveness_failure_inside_a_group);
}

}  // namespace
}  // namespace asgisim::sim
