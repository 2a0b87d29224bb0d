// Shrinking a failing run's decisions (shrink.cpp): the decisions that matter
// are found, a real stack's failure gets shorter and still fails the same way,
// and a passing seed is returned as is.
#include "asgisim/scenarios/engine.hpp"

#include <string>

#include <gtest/gtest.h>
#include <rapidcheck.h>
#include <rapidcheck/gtest.h>

#include "asgisim/scenarios/catalogue.hpp"
#include "asgisim/scenarios/scenario.hpp"
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

// The same failing run shrinks to the same log, however often it is shrunk:
// the passes, their order and the candidates tried depend on nothing else.
TEST(Shrink, IsDeterministic) {
  const Scenario& scenario = *built_in_catalogue().find("random-stack");
  std::uint64_t seed = 0;
  while (!run_seed(scenario, ConfigKind::buggy, seed, random_settings()).failed()) ++seed;
  const ShrinkOptions options{.max_attempts = 100'000, .time_budget = {}};
  const ShrinkResult first = shrink(scenario, ConfigKind::buggy, seed, random_settings(), options);
  const ShrinkResult second = shrink(scenario, ConfigKind::buggy, seed, random_settings(), options);
  ASSERT_TRUE(first.outcome.failed());
  EXPECT_FALSE(first.budget_exhausted);
  EXPECT_LT(first.log.size(), first.original_decisions);
  EXPECT_EQ(first.log.to_text(), second.log.to_text());
  EXPECT_EQ(first.attempts, second.attempts);
  EXPECT_EQ(first.outcome.trace_hash, second.outcome.trace_hash);
}

// Each decision records the task that asked it (for the shrinker's spans),
// in memory only: a log written before the field existed still replays
// strictly, and a log written now has the same four fields per decision.
TEST(Shrink, DecisionsKnowTheirTaskAndOldLogsStillReplay) {
  const std::string old_log =
      "asgisim-decisions 1\n"
      "tool-version 0.1.0\n"
      "config-hash 0x0000000000000000\n"
      "scenario test-coin\n"
      "decisions 2\n"
      "toy.count other 40 0\n"
      "toy.coin other 4 3\n"
      "end\n";
  toys::Coin scenario;
  const sim::DecisionLog parsed = sim::DecisionLog::parse(old_log);
  for (const sim::Decision& d : parsed.decisions()) EXPECT_EQ(d.task, sim::kNoTask);
  const RunOutcome replayed =
      run_schedule(scenario, ConfigKind::buggy, parsed, sim::ReplayMode::strict, random_settings());
  EXPECT_EQ(replayed.invariant, "no-swallowed-error");
  ASSERT_EQ(replayed.decisions.size(), 2u);
  for (const sim::Decision& d : replayed.decisions.decisions()) EXPECT_EQ(d.task, 1u);  // the "coin" task
  const std::string written = replayed.decisions.to_text();
  EXPECT_NE(written.find("\ndecisions 2\ntoy.count other 40 0\ntoy.coin other 4 3\nend\n"), std::string::npos)
      << written;
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
