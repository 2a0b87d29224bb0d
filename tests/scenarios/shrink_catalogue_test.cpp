// Shrinking every catalogue scenario's first failure (issue 18): the shrunk
// log still fails the same way, replays strictly, and has at most 10% of the
// original's decisions or at most 100. One scenario has a floor above that,
// named below with the structural minimum it must reach instead.
//
// Built twice: shrink_catalogue_test (label unit) shrinks the failures of at
// most kShortMax decisions; shrink_catalogue_slow_test (label slow,
// ASGISIM_SHRINK_SLOW) the longer ones (thousands of decisions: tens of
// seconds of runs in a release build, minutes in a debug one). Neither has a
// time budget, only one of runs, so each result is deterministic.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <iostream>
#include <string>

#include "asgisim/scenarios/catalogue.hpp"
#include "asgisim/scenarios/engine.hpp"
#include "asgisim/scenarios/scenario.hpp"

namespace asgisim::scenarios {
namespace {

constexpr std::uint64_t kBuggySeeds = 100;  // as `asgisim catalogue`
constexpr std::size_t kShortMax = 1'000;
// No time budget (it would make the result depend on the machine): runs.
constexpr std::size_t kAttemptsMax = 20'000;
const RunSettings kDefaultSettings{.strategy = sim::Strategy::random};

class ShrinkCatalogue : public ::testing::TestWithParam<const Scenario*> {};

std::string test_name(const ::testing::TestParamInfo<const Scenario*>& info) {
  std::string name = info.param->info().name;
  std::replace(name.begin(), name.end(), '-', '_');
  return name;
}

std::uint64_t value_of(const sim::DecisionLog& log, std::string_view label) {
  for (const sim::Decision& d : log.decisions()) {
    if (d.label == label) return d.value;
  }
  ADD_FAILURE() << "no decision labelled " << label;
  return 0;
}

TEST_P(ShrinkCatalogue, TheFirstFailureShrinksToAtMostATenthOrAHundredDecisions) {
  const Scenario& scenario = *GetParam();
  const SweepResult found = sweep(scenario, ConfigKind::buggy, kDefaultSettings,
                                  {.seeds = kBuggySeeds, .stop_at_first_failure = true});
  ASSERT_TRUE(found.first_failure.has_value());
  const RunOutcome& original = *found.first_failure;
  const bool slow = original.decisions.size() > kShortMax;
#ifdef ASGISIM_SHRINK_SLOW
  if (!slow) GTEST_SKIP() << "short: shrunk by shrink_catalogue_test";
#else
  if (slow) GTEST_SKIP() << "long: shrunk by shrink_catalogue_slow_test (label slow)";
#endif
  const bool floor = scenario.info().name == "threadpool-deadlock";
  const ShrinkResult shrunk = shrink(scenario, ConfigKind::buggy, original.seed, kDefaultSettings,
                                     ShrinkOptions{.max_attempts = kAttemptsMax, .time_budget = {}});
  // Every other scenario reaches its fixpoint; the floor's keeps finding a
  // decision or two per round of passes long after it reached its minimum.
  if (!floor) {
    EXPECT_FALSE(shrunk.budget_exhausted) << shrunk.attempts << " attempts";
  }
  EXPECT_EQ(shrunk.original_decisions, original.decisions.size());
  EXPECT_EQ(shrunk.outcome.failure, original.failure);
  EXPECT_EQ(shrunk.outcome.invariant, original.invariant);
  // What a user gets, through the file format, replays strictly to the same run.
  const RunOutcome replayed =
      run_schedule(scenario, ConfigKind::buggy, sim::DecisionLog::parse(shrunk.log.to_text()),
                   sim::ReplayMode::strict, kDefaultSettings);
  EXPECT_EQ(replayed.invariant, original.invariant);
  EXPECT_EQ(replayed.trace_hash, shrunk.outcome.trace_hash);

  const std::size_t bound = std::max<std::size_t>(100, original.decisions.size() / 10);
  if (floor) {
    // The floor: the deadlock needs 40 requests holding the 40 limiter tokens
    // plus the one holding the connection, all in flight at once, and each
    // such request asks about 30 scheduling decisions (docs/replay-and-shrink.md).
    // The shrinker must reach that minimum, at most 42 clients, and at
    // least halve the log (the 10% target is missed: see the doc's table).
    EXPECT_LE(value_of(shrunk.log, "deadlock.clients") + 1, 42u) << shrunk.log.to_text();
    EXPECT_LE(shrunk.log.size(), original.decisions.size() / 2);
  } else {
    EXPECT_LE(shrunk.log.size(), bound) << "from " << original.decisions.size() << " decisions";
  }
  std::cout << scenario.info().name << ": seed " << original.seed << ", " << original.decisions.size()
            << " decisions -> " << shrunk.log.size() << " in " << shrunk.attempts << " runs\n";
}

INSTANTIATE_TEST_SUITE_P(All, ShrinkCatalogue, ::testing::ValuesIn(built_in_catalogue().all()), test_name);

}  // namespace
}  // namespace asgisim::scenarios
