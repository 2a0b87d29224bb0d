// GoogleTest assertions on scenarios (DESIGN.md "Property tests and fuzzing"):
// every failure ends with the seed and the exact line that reproduces it.
// SIM_TEST, run_sim_test and the reproduce listener are the kernel's
// (asgisim/sim/testing.hpp); they are named here too. Header-only: the
// scenario library does not depend on GoogleTest.
//
//   TEST(Catalogue, FixedPasses) {
//     EXPECT_SCENARIO_PASSES(*built_in_catalogue().find("background-cancelled"), ConfigKind::fixed, 200);
//   }
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <string_view>

#include "asgisim/scenarios/engine.hpp"
#include "asgisim/sim/simulation.hpp"
#include "asgisim/sim/testing.hpp"

namespace asgisim::scenarios::testing {

using sim_testing::note_reproduce_line;
using sim_testing::reproduce_line;
using sim_testing::run_sim_test;
using sim_testing::settings_from_environment;
using sim_testing::SimTestSettings;

// The scenario passes `seeds` seeds; on failure, the report and reproduce line.
inline ::testing::AssertionResult scenario_passes(const Scenario& scenario, ConfigKind config,
                                                  std::uint64_t seeds, const RunSettings& settings = {}) {
  const SweepResult result = sweep(scenario, config, settings, SweepOptions{.seeds = seeds});
  if (!result.first_failure) return ::testing::AssertionSuccess();
  const std::string line = reproduce_command(*result.first_failure, settings);
  note_reproduce_line(line);
  return ::testing::AssertionFailure()
         << scenario.info().name << " [" << to_string(config) << "] failed " << result.failures << " of "
         << result.seeds_run << " seeds; the first:\n"
         << describe(*result.first_failure) << "reproduce: " << line;
}

// Some seed among the first `seeds` fails, by `invariant` when it is not empty.
inline ::testing::AssertionResult scenario_fails(const Scenario& scenario, ConfigKind config,
                                                 std::uint64_t seeds, std::string_view invariant = {},
                                                 const RunSettings& settings = {}) {
  const SweepResult result =
      sweep(scenario, config, settings, SweepOptions{.seeds = seeds, .stop_at_first_failure = true});
  if (!result.first_failure) {
    return ::testing::AssertionFailure() << scenario.info().name << " [" << to_string(config)
                                         << "] passed all " << result.seeds_run << " seeds";
  }
  if (!invariant.empty() && result.first_failure->invariant != invariant) {
    return ::testing::AssertionFailure()
           << "expected " << invariant << ", got:\n"
           << describe(*result.first_failure)
           << "reproduce: " << reproduce_command(*result.first_failure, settings);
  }
  return ::testing::AssertionSuccess() << "failed at seed index " << *result.first_failure_index;
}

}  // namespace asgisim::scenarios::testing

#define EXPECT_SCENARIO_PASSES(scenario, config, seeds) \
  EXPECT_TRUE(::asgisim::scenarios::testing::scenario_passes((scenario), (config), (seeds)))
#define ASSERT_SCENARIO_PASSES(scenario, config, seeds) \
  ASSERT_TRUE(::asgisim::scenarios::testing::scenario_passes((scenario), (config), (seeds)))
#define EXPECT_SCENARIO_FAILS(scenario, config, seeds, invariant) \
  EXPECT_TRUE(::asgisim::scenarios::testing::scenario_fails((scenario), (config), (seeds), (invariant)))
