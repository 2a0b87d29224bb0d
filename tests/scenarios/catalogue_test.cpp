// The catalogue's promise, for every registered scenario (DESIGN.md,
// "Catalogue of real bugs to reproduce"): the buggy configuration fails within
// 100 seeds of the default strategy, the fixed one passes a long sweep, and a
// failing run is reproducible (same seed, same trace hash; its decision log
// replays to the same trace hash). Generic over built_in_catalogue().all(), so
// a new scenario is covered by registering itself.
//
// Built twice: catalogue_test (label sim) sweeps kFixedSeeds fixed seeds;
// catalogue_slow_test (label slow, ASGISIM_CATALOGUE_SLOW) sweeps 10,000.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <iostream>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "asgisim/scenarios/catalogue.hpp"
#include "asgisim/scenarios/engine.hpp"
#include "asgisim/scenarios/scenario.hpp"

namespace asgisim::scenarios {
namespace {

constexpr std::uint64_t kBuggySeeds = 100;
#ifdef ASGISIM_CATALOGUE_SLOW
constexpr std::uint64_t kFixedSeeds = 10'000;
// Results do not depend on the number of OS threads (engine.hpp).
const std::uint32_t kJobs = std::max(1U, std::thread::hardware_concurrency());
#else
constexpr std::uint64_t kFixedSeeds = 300;
constexpr std::uint32_t kJobs = 1;
#endif

const RunSettings kDefaultSettings{.strategy = sim::Strategy::random};

class Catalogue : public ::testing::TestWithParam<const Scenario*> {
 protected:
  const Scenario& scenario() const { return *GetParam(); }
};

std::string test_name(const ::testing::TestParamInfo<const Scenario*>& info) {
  std::string name = info.param->info().name;
  for (char& c : name) {
    if (c == '-') c = '_';
  }
  return name;
}

#ifndef ASGISIM_CATALOGUE_SLOW

// The first failing seed of the buggy configuration, with its index.
struct FirstFailure {
  RunOutcome outcome{};
  std::uint64_t index = 0;
};

std::optional<FirstFailure> first_buggy_failure(const Scenario& scenario) {
  const SweepResult result = sweep(scenario, ConfigKind::buggy, kDefaultSettings,
                                   {.seeds = kBuggySeeds, .stop_at_first_failure = true});
  if (!result.first_failure) return std::nullopt;
  return FirstFailure{*result.first_failure, result.first_failure_index.value_or(0)};
}

TEST_P(Catalogue, BuggyConfigurationFailsWithin100Seeds) {
  const std::optional<FirstFailure> failure = first_buggy_failure(scenario());
  ASSERT_TRUE(failure.has_value()) << scenario().info().name << " [buggy, " << scenario().info().buggy.summary
                                   << "] passed " << kBuggySeeds << " seeds";
  const RunOutcome& outcome = failure->outcome;
  std::cout << "[ catalogue ] " << outcome.scenario << " buggy: first failing seed index " << failure->index
            << " (seed " << outcome.seed << "), " << to_string(outcome.failure) << " '" << outcome.invariant
            << "'\n"
            << describe(outcome) << "  reproduce: " << reproduce_command(outcome, kDefaultSettings) << "\n";
  // run_seed ran it twice: a mismatch would be reported as nondeterminism.
  EXPECT_NE(outcome.failure, FailureClass::nondeterminism) << describe(outcome);
  ASSERT_TRUE(outcome.second_trace_hash.has_value());
  EXPECT_EQ(*outcome.second_trace_hash, outcome.trace_hash);
}

TEST_P(Catalogue, FirstFailureReplaysToTheSameTraceHash) {
  const std::optional<FirstFailure> failure = first_buggy_failure(scenario());
  ASSERT_TRUE(failure.has_value()) << scenario().info().name << ": no failing buggy seed to replay";
  const RunOutcome& original = failure->outcome;

  const RunOutcome again = run_seed(scenario(), ConfigKind::buggy, original.seed, kDefaultSettings);
  EXPECT_EQ(again.trace_hash, original.trace_hash);
  EXPECT_EQ(again.invariant, original.invariant);

  const RunOutcome replayed = run_schedule(scenario(), ConfigKind::buggy, original.decisions,
                                           sim::ReplayMode::strict, kDefaultSettings);
  EXPECT_EQ(replayed.trace_hash, original.trace_hash) << describe(replayed);
  EXPECT_EQ(replayed.failure, original.failure);
  EXPECT_EQ(replayed.invariant, original.invariant);
}

TEST_P(Catalogue, SameSeedTwiceGivesTheSameTraceHash) {
  for (const ConfigKind config : {ConfigKind::buggy, ConfigKind::fixed}) {
    for (const std::uint64_t seed : {std::uint64_t{1}, std::uint64_t{977}}) {
      const RunOutcome first = run_seed(scenario(), config, seed, kDefaultSettings);
      const RunOutcome second = run_seed(scenario(), config, seed, kDefaultSettings);
      EXPECT_EQ(first.trace_hash, second.trace_hash) << to_string(config) << " seed " << seed;
      EXPECT_EQ(first.failure, second.failure) << to_string(config) << " seed " << seed;
      EXPECT_EQ(first.decisions.size(), second.decisions.size());
    }
  }
}

TEST(CatalogueRegistry, HasEveryScenarioOfTheDesign) {
  for (const char* name :
       {"background-cancelled", "cleanup-cancelled", "completion-delayed", "body-read-twice",
        "orphaned-body-iterator", "threadpool-growth", "threadpool-deadlock", "streaming-after-disconnect",
        "truncated-stream", "keepalive-cut-after-error"}) {
    EXPECT_NE(built_in_catalogue().find(name), nullptr) << name;
  }
  EXPECT_GE(built_in_catalogue().all().size(), 11U);  // the ten entries and random-stack
}

#endif  // !ASGISIM_CATALOGUE_SLOW

void expect_fixed_configuration_passes(const Scenario& scenario) {
  const SweepResult result =
      sweep(scenario, ConfigKind::fixed, kDefaultSettings, {.seeds = kFixedSeeds, .jobs = kJobs});
  const double seconds = result.seconds > 0 ? result.seconds : 1e-9;
  std::cout << "[ catalogue ] " << scenario.info().name << " fixed: " << result.seeds_run - result.failures
            << " of " << result.seeds_run << " seeds passed, "
            << static_cast<std::uint64_t>(result.seeds_run / seconds) << " seeds/s\n";
  EXPECT_EQ(result.seeds_run, kFixedSeeds);
  EXPECT_EQ(result.failures, 0U) << (result.first_failure
                                         ? describe(*result.first_failure) + "  reproduce: " +
                                               reproduce_command(*result.first_failure, kDefaultSettings)
                                         : std::string());
}

#ifndef ASGISIM_CATALOGUE_SLOW
TEST_P(Catalogue, FixedConfigurationPasses300Seeds) { expect_fixed_configuration_passes(scenario()); }
INSTANTIATE_TEST_SUITE_P(Registered, Catalogue, ::testing::ValuesIn(built_in_catalogue().all()), test_name);
#else
// Its own suite, so that the two executables' ctest names differ.
class CatalogueSlow : public Catalogue {};
TEST_P(CatalogueSlow, FixedConfigurationPasses10000Seeds) { expect_fixed_configuration_passes(scenario()); }
INSTANTIATE_TEST_SUITE_P(Registered, CatalogueSlow, ::testing::ValuesIn(built_in_catalogue().all()),
                         test_name);
#endif

}  // namespace
}  // namespace asgisim::scenarios
