// The GoogleTest assertions on scenarios (testing.hpp): EXPECT_SCENARIO_PASSES
// and EXPECT_SCENARIO_FAILS print describe() and the asgisim replay line.
#include "asgisim/scenarios/testing.hpp"

#include <gtest/gtest-spi.h>
#include <gtest/gtest.h>

#include "scenarios/toy_scenarios.hpp"

namespace asgisim::scenarios {
namespace {

TEST(ScenarioAssertions, PassesAndFailsWithTheReplayLine) {
  toys::Coin coin;
  EXPECT_NONFATAL_FAILURE(EXPECT_SCENARIO_PASSES(coin, ConfigKind::buggy, 20),
                          "asgisim replay test-coin --config buggy --strategy random --seed");
  EXPECT_SCENARIO_FAILS(coin, ConfigKind::buggy, 20, "no-swallowed-error");
  EXPECT_NONFATAL_FAILURE(EXPECT_SCENARIO_FAILS(coin, ConfigKind::buggy, 20, "background-complete"),
                          "expected background-complete");
  toys::BackgroundBehindBaseHttp background;
  EXPECT_SCENARIO_PASSES(background, ConfigKind::fixed, 10);
  EXPECT_NONFATAL_FAILURE(EXPECT_SCENARIO_FAILS(background, ConfigKind::fixed, 5, ""), "passed all 5 seeds");
}

}  // namespace
}  // namespace asgisim::scenarios
