// Tests of joining (task_handle.cpp): join() waits and rethrows, and an
// exception nobody joins fails the run.
#include <gtest/gtest.h>

#include <stdexcept>
#include <string>

#include "asgisim/sim/cancel.hpp"
#include "asgisim/sim/simulation.hpp"
#include "asgisim/sim/testing.hpp"

namespace asgisim::sim {
namespace {

using namespace sim_testing;
using sim_testing::describe;

// ---- task errors and joins --------------------------------------------------------

TEST(TaskErrors, AnExceptionNobodyReceivesFailsTheRunWithItsMessage) {
  Simulation sim;
  bool other_unwound = false;
  sim.spawn("bystander", [&] {
    SetOnDestruction guard{other_unwound};
    sim::sleep(kSecond);
  });
  sim.spawn("boom", [] {
    sim::sleep(kMillisecond);
    throw std::runtime_error("kaboom");
  });
  const RunResult result = sim.run();
  ASSERT_EQ(result.status, RunStatus::task_error) << describe(result);
  EXPECT_NE(result.report.find("kaboom"), std::string::npos) << result.report;
  EXPECT_NE(result.report.find("'boom'"), std::string::npos) << result.report;
  EXPECT_EQ(result.end_time_ns, kMillisecond);
  ASSERT_TRUE(result.error);
  EXPECT_THROW(std::rethrow_exception(result.error), std::runtime_error);
  EXPECT_TRUE(other_unwound);
}

TEST(TaskErrors, JoinReturnsAfterTheTaskEnds) {
  Simulation sim;
  int value = 0;
  Nanoseconds joined_at = -1;
  sim.spawn("parent", [&] {
    TaskHandle child = Simulation::current().spawn("child", [&] {
      sim::sleep(7 * kMillisecond);
      value = 42;
    });
    EXPECT_FALSE(child.done());
    child.join();
    joined_at = now();
    EXPECT_TRUE(child.done());
    child.join();  // joining again returns at once
  });
  const RunResult result = sim.run();
  ASSERT_TRUE(result.ok()) << describe(result);
  EXPECT_EQ(value, 42);
  EXPECT_EQ(joined_at, 7 * kMillisecond);
}

TEST(TaskErrors, JoinRethrowsAndTheRunCompletes) {
  Simulation sim;
  std::string caught;
  sim.spawn("parent", [&] {
    TaskHandle child = Simulation::current().spawn("child", [] {
      sim::sleep(kMillisecond);
      throw std::runtime_error("child failed");
    });
    try {
      child.join();
    } catch (const std::runtime_error& error) {
      caught = error.what();
    }
  });
  const RunResult result = sim.run();
  EXPECT_TRUE(result.ok()) << describe(result);
  EXPECT_EQ(caught, "child failed");
}

TEST(TaskErrors, JoinOfATaskThatAlreadyFailedRethrowsAtOnce) {
  Simulation sim;
  std::string caught;
  sim.spawn("parent", [&] {
    TaskHandle child = Simulation::current().spawn("child", [] { throw std::logic_error("early"); });
    sim::sleep(kSecond);
    EXPECT_TRUE(child.done());
    const Nanoseconds before = now();
    try {
      child.join();
    } catch (const std::logic_error& error) {
      caught = error.what();
    }
    EXPECT_EQ(now(), before);
  });
  const RunResult result = sim.run();
  EXPECT_TRUE(result.ok()) << describe(result);
  EXPECT_EQ(caught, "early");
}

TEST(TaskErrors, ATaskThatFailsAfterItsHandleWasDroppedFailsTheRun) {
  Simulation sim;
  sim.spawn("parent", [] {
    {
      TaskHandle child = Simulation::current().spawn("child", [] {
        sim::sleep(kMillisecond);
        throw std::runtime_error("late failure");
      });
    }  // handle dropped while the child still runs
    sim::sleep(kSecond);
  });
  const RunResult result = sim.run();
  ASSERT_EQ(result.status, RunStatus::task_error) << describe(result);
  EXPECT_NE(result.report.find("late failure"), std::string::npos);
  EXPECT_NE(result.report.find("'child'"), std::string::npos);
  EXPECT_EQ(result.end_time_ns, kMillisecond);
}

TEST(TaskErrors, DroppingTheLastHandleOfAFailedTaskWithoutJoiningFailsTheRun) {
  Simulation sim;
  sim.spawn("parent", [] {
    TaskHandle child = Simulation::current().spawn("child", [] { throw std::runtime_error("never joined"); });
    sim::sleep(kMillisecond);
    EXPECT_TRUE(child.done());
    TaskHandle copy = child;  // copies share the task
    child = TaskHandle();
    copy = TaskHandle();  // the last handle goes: the error has no receiver
    sim::sleep(kSecond);
  });
  const RunResult result = sim.run();
  ASSERT_EQ(result.status, RunStatus::task_error) << describe(result);
  EXPECT_NE(result.report.find("never joined"), std::string::npos);
  EXPECT_EQ(result.end_time_ns, kMillisecond);
}

TEST(TaskErrors, JoinIsCancellable) {
  Simulation sim;
  bool child_finished = false;
  bool parent_cancelled = false;
  sim.spawn("parent", [&] {
    TaskHandle child = Simulation::current().spawn("child", [&] {
      sim::sleep(kSecond);
      child_finished = true;
    });
    parent_cancelled = move_on_after(kMillisecond, [&] { child.join(); });
    EXPECT_EQ(now(), kMillisecond);
  });
  const RunResult result = sim.run();
  ASSERT_TRUE(result.ok()) << describe(result);
  EXPECT_TRUE(parent_cancelled);
  EXPECT_TRUE(child_finished) << "cancelling a join does not cancel the task joined";
  EXPECT_EQ(result.end_time_ns, kSecond);
}

TEST(TaskErrors, JoinOfAnEmptyHandleIsAUsageError) {
  TaskHandle empty;
  EXPECT_TRUE(empty.done());
  EXPECT_THROW(empty.join(), UsageError);
}

}  // namespace
}  // namespace asgisim::sim
