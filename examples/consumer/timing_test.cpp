// Our scenario in our test suite. A failing assertion prints the line that
// reproduces it with our own command-line program, timing-sim.
#include <gtest/gtest.h>

#include "asgisim/scenarios/testing.hpp"
#include "timing_scenario.hpp"

// [doc:test]
namespace scn = asgisim::scenarios;

const scn::Scenario& timing_flush() {
  static const std::unique_ptr<scn::Scenario> scenario = timing::make_timing_scenario();
  return *scenario;
}

TEST(Timing, FixedPasses) {
  scn::set_reproduce_program(TIMING_SIM);  // reproduce lines name our timing-sim
  EXPECT_SCENARIO_PASSES(timing_flush(), scn::ConfigKind::fixed, 1000);
}
TEST(Timing, BuggyIsFound) {
  EXPECT_SCENARIO_FAILS(timing_flush(), scn::ConfigKind::buggy, 100, "request-latency");
}
// [/doc:test]
