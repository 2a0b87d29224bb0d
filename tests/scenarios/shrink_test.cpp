// Shrinking a failing run's decisions (shrink.cpp): the decisions that matter
// are found, a real stack's failure gets shorter and still fails the same way,
// and a passing seed is returned as is.
#include "asgisim/scenarios/engine.hpp"

#include <gtest/gtest.h>
#include <rapidcheck.h>
#include <rapidcheck/gtest.h>

#include "scenarios/toy_scenarios.hpp"

namespace asgisim::scenarios {
namespace {

RunSettings random_settings() { return RunSettings{.strategy = sim::Strategy::random}; }

TEST(Shrink, FindsTheTwoDecisionsThatMatter) {
  toys::Coin scenario;
  std::uint64_t seed = 0;
  while (!run_seed(scenario, ConfigKind::buggy, seed, random_settings()).failed()) ++seed;
  const ShrinkResult shrunk = shrink(scenario, ConfigKind::buggy, seed, random_settings());
  ASSERT_TRUE(shrunk.outcome.failed());
  EXPECT_EQ(shrunk.outcome.invariant, "no-swallowed-error");
  ASSERT_EQ(shrunk.log.size(), 2u) << shrunk.log.to_text();
  EXPECT_EQ(shrunk.log.decisions()[0].value, 0u);  // no noise
  EXPECT_EQ(shrunk.log.decisions()[1].value, 3u);  // the coin
  EXPECT_GT(shrunk.attempts, 0u);
}

TEST(Shrink, ARealStackFailureGetsShorterAndStillFailsTheSameWay) {
  toys::BackgroundBehindBaseHttp scenario;
  std::uint64_t seed = 0;
  RunOutcome original;
  for (;; ++seed) {
    original = run_seed(scenario, ConfigKind::buggy, seed, random_settings());
    if (original.failed()) break;
  }
  const ShrinkResult shrunk = shrink(scenario, ConfigKind::buggy, seed, random_settings(), 300);
  EXPECT_EQ(shrunk.original_decisions, original.decisions.size());
  EXPECT_LT(shrunk.log.size(), original.decisions.size());
  // The file a user gets replays strictly to the same failure.
  const sim::DecisionLog file = sim::DecisionLog::parse(shrunk.log.to_text());
  const RunOutcome replayed =
      run_schedule(scenario, ConfigKind::buggy, file, sim::ReplayMode::strict, random_settings());
  EXPECT_EQ(replayed.failure, original.failure);
  EXPECT_EQ(replayed.invariant, original.invariant);
  EXPECT_EQ(replayed.trace_hash, shrunk.outcome.trace_hash);
}

TEST(Shrink, APassingSeedIsReturnedAsIs) {
  toys::BackgroundBehindBaseHttp scenario;
  const ShrinkResult result = shrink(scenario, ConfigKind::fixed, 1, random_settings());
  EXPECT_FALSE(result.outcome.failed());
  EXPECT_EQ(result.attempts, 0u);
  EXPECT_EQ(result.log.size(), result.original_decisions);
}

}  // namespace
}  // namespace asgisim::scenarios
