// Scale and stack safety: 100,000 concurrent tasks on canary stacks, guarded
// stacks up to their limit and canary stacks past it, stacks reused across
// runs, and stack overflows reported clearly on both kinds of stack.
#include <gtest/gtest.h>

#include <cstdint>
#include <string>

#include "asgisim/sim/simulation.hpp"
#include "asgisim/sim/stack_pool.hpp"
#include "asgisim/sim/testing.hpp"

namespace asgisim::sim {
namespace {

using namespace sim_testing;
using sim_testing::describe;

// Spawns `count` tasks that each sleep once (for 0..99 ms), all alive at
// once, and runs them; returns how many finished.
std::uint64_t run_sleepers(Runner& runner, std::uint64_t count, std::uint64_t seed, Strategy strategy) {
  SCOPED_TRACE(testing::Message() << "seed " << seed << " strategy " << to_string(strategy) << " tasks "
                                  << count);
  std::uint64_t finished = 0;
  Simulation sim({.seed = seed, .strategy = strategy, .trace = {.records_max = 1024}}, nullptr, runner);
  for (std::uint64_t i = 0; i < count; ++i) {
    sim.spawn("sleeper", [&finished, i] {
      sim::sleep(static_cast<Nanoseconds>(i % 100) * kMillisecond);
      ++finished;
    });
  }
  const RunResult result = sim.run();
  EXPECT_TRUE(result.ok()) << describe(result);
  EXPECT_EQ(result.end_time_ns, 99 * kMillisecond);
  return finished;
}

TEST(Stress, OneHundredThousandTasksOnCanaryStacks) {
  constexpr std::uint64_t kTasks = 100'000;
  Runner runner(StackPoolOptions{.guarded_stacks_max = 0});
  EXPECT_EQ(run_sleepers(runner, kTasks, 1, Strategy::fifo), kTasks);
  EXPECT_EQ(runner.stacks().guarded_created(), 0u);
  EXPECT_EQ(runner.stacks().canary_created(), kTasks) << "every task was alive at once";
  EXPECT_EQ(runner.stacks().free_count(), kTasks) << "every stack went back to the pool";
}

TEST(Stress, OneHundredThousandTasksUnderRandomSchedulingReuseThePool) {
  constexpr std::uint64_t kTasks = 100'000;
  Runner runner(StackPoolOptions{.guarded_stacks_max = 0});
  EXPECT_EQ(run_sleepers(runner, kTasks, 2, Strategy::random), kTasks);
  EXPECT_EQ(run_sleepers(runner, kTasks, 3, Strategy::random), kTasks);
  EXPECT_EQ(runner.stacks().canary_created(), kTasks) << "the second run reused the first run's stacks";
}

TEST(Stress, GuardedStacksUpToTheLimitThenCanaryStacks) {
  Runner runner(StackPoolOptions{.guarded_stacks_max = 1'000});
  EXPECT_EQ(run_sleepers(runner, 3'000, 4, Strategy::random), 3'000u);
  EXPECT_EQ(runner.stacks().guarded_created(), 1'000u);
  EXPECT_EQ(runner.stacks().canary_created(), 2'000u);
  // A second run takes guarded stacks first and creates nothing new.
  EXPECT_EQ(run_sleepers(runner, 3'000, 5, Strategy::fifo), 3'000u);
  EXPECT_EQ(runner.stacks().guarded_created(), 1'000u);
  EXPECT_EQ(runner.stacks().canary_created(), 2'000u);
}

TEST(Stress, TheDefaultGuardedLimitStaysWithinTheKernelsMappingLimit) {
  // 30,000 guarded stacks cost 60,000 mappings of Linux's default 65,530.
  constexpr std::uint64_t kTasks = 40'000;
  Runner runner;
  ASSERT_EQ(runner.stacks().options().guarded_stacks_max, 30'000u);
  EXPECT_EQ(run_sleepers(runner, kTasks, 6, Strategy::fifo), kTasks);
  EXPECT_EQ(runner.stacks().guarded_created(), 30'000u);
  EXPECT_EQ(runner.stacks().canary_created(), kTasks - 30'000u);
}

// ---- stack overflow ---------------------------------------------------------------

// Under AddressSanitizer the kernel leaves guard-page faults to ASan, which
// reports them as its own "stack-overflow".
#if defined(__SANITIZE_ADDRESS__) || defined(ASGISIM_ASAN)
#define ASGISIM_TEST_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define ASGISIM_TEST_ASAN 1
#endif
#endif
#if defined(ASGISIM_TEST_ASAN)
constexpr const char* kGuardedOverflowMessage =
    "stack-overflow|stack overflow in task 'bottomless'.*guard page";
#else
constexpr const char* kGuardedOverflowMessage = "stack overflow in task 'bottomless'.*guard page";
#endif

// Recurses until the stack runs out. The volatile array keeps every frame
// real; the addition after the call keeps it from being a tail call.
int recurse_forever(int depth) {
  if (depth < 0) return 0;  // never: depth only grows
  volatile char frame[256];
  for (auto& c : frame) c = static_cast<char>(depth);
  return recurse_forever(depth + 1) + frame[depth % 256];
}

// Recurses until the frames reach just past `stack`'s canary word (into its
// red zone, never beyond it): a small overflow a guard page cannot see.
int recurse_past_canary(const Stack& stack, int depth) {
  volatile char frame[64];
  for (auto& c : frame) c = static_cast<char>(0x5a);
  const auto here = reinterpret_cast<std::uintptr_t>(&frame[0]);
  const auto canary = reinterpret_cast<std::uintptr_t>(stack.canary);
  const bool overwritten = *stack.canary != kStackCanary;
  if (overwritten || here + 2'048 < canary) return depth;
  return recurse_past_canary(stack, depth + 1) + frame[depth % 64];
}

// Runs a task called "deep" that overflows its canary stack, then either
// switches to another task or just returns.
void overflow_canary_stack(bool switch_afterwards, bool* overwritten_out = nullptr) {
  Runner runner(StackPoolOptions{.guarded_stacks_max = 0});
  Simulation sim({}, nullptr, runner);
  sim.spawn("deep", [switch_afterwards, overwritten_out] {
    const Stack& stack = Simulation::current().current_task().stack();
    (void)recurse_past_canary(stack, 0);
    if (overwritten_out != nullptr) {
      *overwritten_out = *stack.canary != kStackCanary;
      *stack.canary = kStackCanary;  // repair it: this run only checks the recursion
    }
    if (switch_afterwards) checkpoint();
  });
  sim.spawn("other", [] { checkpoint(); });
  (void)sim.run();
}

TEST(StackOverflow, TheCanaryRecursionReallyOverwritesTheCanary) {
  bool overwritten = false;
  overflow_canary_stack(true, &overwritten);
  EXPECT_TRUE(overwritten);
}

TEST(StackOverflowDeathTest, AGuardedStackOverflowIsReportedClearly) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH(
      {
        Runner runner(StackPoolOptions{.guarded_stacks_max = 8});
        Simulation sim({}, nullptr, runner);
        sim.spawn("bottomless", [] { (void)recurse_forever(0); });
        (void)sim.run();
      },
      kGuardedOverflowMessage);
}

TEST(StackOverflowDeathTest, ACanaryStackOverflowIsReportedAtTheNextSwitch) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH(overflow_canary_stack(true), "stack overflow in task #1 'deep'.*canary");
}

// The canary is checked when a task switches away at a checkpoint; a task
// that overflows and then ends switches away too, for the last time.
TEST(StackOverflowDeathTest, ACanaryStackOverflowIsReportedWhenTheTaskEnds) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH(overflow_canary_stack(false), "stack overflow in task #1 'deep'.*canary");
}

}  // namespace
}  // namespace asgisim::sim
