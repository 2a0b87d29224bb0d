// ASGISIM_ASSERT: on in every build type, cheap when it holds, and a failure
// names the condition, the message and the run it happened in, then aborts.
// This file is compiled with NDEBUG (tests/sim/CMakeLists.txt), as a plain
// Release build would be: the macro must not depend on it.
#include "asgisim/sim/assert.hpp"

#include <gtest/gtest.h>

#include <string>

#include "asgisim/sim/simulation.hpp"

#ifndef NDEBUG
#error "assert_test.cpp must be compiled with NDEBUG to show the assertions stay on"
#endif

namespace asgisim::sim {
namespace {

TEST(Assert, AHoldingConditionIsEvaluatedOnceAndItsMessageNever) {
  int evaluated = 0;
  int formatted = 0;
  const auto count_format = [&formatted] { return ++formatted; };
  ASGISIM_ASSERT(++evaluated == 1);
  ASGISIM_ASSERT(++evaluated == 2, "formatted {} time(s)", count_format());
  EXPECT_EQ(evaluated, 2);
  EXPECT_EQ(formatted, 0);
}

TEST(AssertDeathTest, AFailureAbortsWithTheConditionAndWhereItIs) {
  const int queue_size = 3;
  EXPECT_DEATH(ASGISIM_ASSERT(queue_size == 2),
               "assertion failed: queue_size == 2\n  at .*assert_test.cpp:[0-9]+");
}

TEST(AssertDeathTest, AFailureFormatsItsMessage) {
  const int used = 5;
  const int size_max = 4;
  EXPECT_DEATH(ASGISIM_ASSERT(used <= size_max, "a stream holds {} of {} items", used, size_max),
               "assertion failed: used <= size_max\n.*\n  a stream holds 5 of 4 items");
}

TEST(AssertDeathTest, AFailureInsideARunNamesTheSeedTheTaskAndTheVirtualTime) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH(
      {
        Simulation sim({.seed = 1234});
        sim.spawn("checker", [] {
          sleep(250);
          ASGISIM_ASSERT(now() < 100, "woke at {} ns", now());
        });
        (void)sim.run();
      },
      "assertion failed: now\\(\\) < 100\n.*\n  woke at 250 ns\n  in the simulation with seed 1234 at "
      "virtual "
      "time 250 ns, in task #[0-9]+ 'checker'");
}

}  // namespace
}  // namespace asgisim::sim
