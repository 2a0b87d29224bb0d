// The GoogleTest helpers: SIM_TEST runs its body inside a simulation, and a
// failure (in the body, or of the run itself) names the seed and the line
// that reproduces it; the scenario assertions print describe() and the
// asgisim replay line.
#include "asgisim/scenarios/testing.hpp"

#include <gtest/gtest-spi.h>
#include <gtest/gtest.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>

#include "asgisim/sim/event.hpp"
#include "scenarios/toy_scenarios.hpp"

ASGISIM_INSTALL_REPRODUCE_LISTENER();

namespace asgisim::scenarios {
namespace {

using testing::run_sim_test;
using testing::SimTestSettings;

SIM_TEST(SimTest, BodyRunsAsATaskOfTheSimulation) {
  EXPECT_EQ(&sim::Simulation::current(), &sim);
  sim::Event done;
  sim.spawn("helper", [&] {
    sim::sleep(5 * sim::kMillisecond);
    done.set();
  });
  done.wait();
  EXPECT_EQ(sim.now(), 5 * sim::kMillisecond);
}

TEST(SimTest, EverySeedRunsUntilOneFails) {
  std::vector<std::uint64_t> seen;
  run_sim_test([&](sim::Simulation& sim) { seen.push_back(sim.options().seed); },
               SimTestSettings{.seed = 10, .seeds = 3});
  EXPECT_EQ(seen, (std::vector<std::uint64_t>{10, 11, 12}));
}

TEST(SimTest, ADeadlockedBodyReportsTheSeedAndTheWaitForGraph) {
  EXPECT_NONFATAL_FAILURE(run_sim_test(
                              [](sim::Simulation&) {
                                sim::Event never("never-set");
                                never.wait();
                              },
                              SimTestSettings{.seed = 5}),
                          "ASGISIM_SEED=5 ASGISIM_STRATEGY=random");
  EXPECT_NONFATAL_FAILURE(run_sim_test(
                              [](sim::Simulation&) {
                                sim::Event never("never-set");
                                never.wait();
                              },
                              SimTestSettings{.seed = 5}),
                          "waits on anyio.Event 'never-set'");
}

TEST(SimTest, AnExceptionInTheBodyReportsTheSeed) {
  EXPECT_NONFATAL_FAILURE(run_sim_test([](sim::Simulation&) { throw std::runtime_error("kaboom"); },
                                       SimTestSettings{.seed = 9, .strategy = sim::Strategy::pct}),
                          "ASGISIM_SEED=9 ASGISIM_STRATEGY=pct");
}

TEST(SimTest, TheFilterNamesTheRunningTest) {
  EXPECT_NE(testing::reproduce_line(1, sim::Strategy::fifo)
                .find("--gtest_filter=SimTest.TheFilterNamesTheRunningTest"),
            std::string::npos);
}

// Fails on seed 3 only: run below as a child process with the environment set.
SIM_TEST(DISABLED_SimTestChild, FailsOnSeedThree) { EXPECT_NE(sim.options().seed, 3u) << "seed three"; }

std::string run_child(const std::string& environment) {
  const std::string self = std::filesystem::read_symlink("/proc/self/exe").string();
  const std::string command = environment + " " + self +
                              " --gtest_also_run_disabled_tests "
                              "--gtest_filter=DISABLED_SimTestChild.FailsOnSeedThree 2>&1";
  std::unique_ptr<FILE, decltype(&pclose)> pipe(popen(command.c_str(), "r"), &pclose);
  std::string out;
  std::array<char, 4096> buffer{};
  while (pipe && std::fgets(buffer.data(), buffer.size(), pipe.get()) != nullptr) out += buffer.data();
  return out;
}

TEST(SimTest, AFailingBodyPrintsItsSeedAndTheReproduceLineFromTheEnvironment) {
  const std::string passing = run_child("ASGISIM_SEED=0 ASGISIM_SEEDS=3");
  EXPECT_NE(passing.find("[  PASSED  ] 1 test"), std::string::npos) << passing;
  const std::string failing = run_child("ASGISIM_SEED=1 ASGISIM_SEEDS=5 ASGISIM_STRATEGY=fifo");
  EXPECT_NE(failing.find("seed three"), std::string::npos) << failing;
  EXPECT_NE(failing.find("simulated test failed at seed 3 (strategy fifo)"), std::string::npos) << failing;
  // The listener repeats the line after the failure messages.
  EXPECT_NE(failing.find("reproduce: ASGISIM_SEED=3 ASGISIM_STRATEGY=fifo"), std::string::npos) << failing;
  EXPECT_NE(failing.find("--gtest_filter=DISABLED_SimTestChild.FailsOnSeedThree\n[  FAILED  ]"),
            std::string::npos)
      << failing;
}

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
