// The kernel's GoogleTest helpers (testing.hpp): SIM_TEST runs its body inside
// a simulation under every schedule, run_under_schedules hands each schedule a
// fresh simulation, and a failure (in the body, of the run itself, or a trace
// that differs between two runs of one schedule) names the seed, the strategy
// and the line that reproduces it.
#include "asgisim/sim/testing.hpp"

#include <gtest/gtest-spi.h>
#include <gtest/gtest.h>

#include <array>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "asgisim/sim/event.hpp"
#include "asgisim/sim/task_group.hpp"

namespace asgisim::sim {
namespace {

using sim_testing::run_sim_test;
using sim_testing::run_under_schedules;
using sim_testing::Schedule;
using sim_testing::SimTestSettings;

SIM_TEST(SimTest, BodyRunsAsATaskOfTheSimulation) {
  EXPECT_EQ(&Simulation::current(), &sim);
  Event done;
  task_group([&](TaskGroup& tg) {
    tg.start_soon("helper", [&] {
      sim.sleep(5 * kMillisecond);
      done.set();
    });
    done.wait();
  });
  EXPECT_EQ(sim.now(), 5 * kMillisecond);
}

std::vector<std::pair<Strategy, std::uint64_t>> seen_schedules(const SimTestSettings& settings) {
  std::vector<std::pair<Strategy, std::uint64_t>> seen;
  run_sim_test([&](Simulation& sim) { seen.emplace_back(sim.options().strategy, sim.options().seed); },
               settings);
  return seen;
}

TEST(SimTest, EveryStrategyAndSeedRunsAndTheFirstScheduleRunsTwice) {
  using P = std::pair<Strategy, std::uint64_t>;
  EXPECT_EQ(seen_schedules(SimTestSettings{.seed = 10, .seeds = 2}),
            (std::vector<P>{{Strategy::fifo, 10},
                            {Strategy::fifo, 10},  // the determinism check
                            {Strategy::fifo, 11},
                            {Strategy::random, 10},
                            {Strategy::random, 11},
                            {Strategy::pct, 10},
                            {Strategy::pct, 11}}));
  EXPECT_EQ(seen_schedules(SimTestSettings{
                .seed = 10, .seeds = 3, .strategies = {Strategy::random}, .check_determinism = false}),
            (std::vector<P>{{Strategy::random, 10}, {Strategy::random, 11}, {Strategy::random, 12}}));
}

TEST(SimTest, ADeadlockedBodyReportsTheScheduleAndTheWaitForGraph) {
  const auto deadlocked = [](Simulation&) {
    Event never("never-set");
    never.wait();
  };
  const SimTestSettings settings{.seed = 5, .strategies = {Strategy::random}};
  EXPECT_NONFATAL_FAILURE(run_sim_test(deadlocked, settings), "ASGISIM_SEED=5 ASGISIM_STRATEGY=random");
  EXPECT_NONFATAL_FAILURE(run_sim_test(deadlocked, settings), "waits on anyio.Event 'never-set'");
}

TEST(SimTest, AnExceptionInTheBodyReportsTheSchedule) {
  EXPECT_NONFATAL_FAILURE(run_sim_test([](Simulation&) { throw std::runtime_error("kaboom"); },
                                       SimTestSettings{.seed = 9, .strategies = {Strategy::pct}}),
                          "ASGISIM_SEED=9 ASGISIM_STRATEGY=pct ASGISIM_SEEDS=1");
}

TEST(SimTest, ABodyThatDependsOnMoreThanTheScheduleIsNondeterminism) {
  int runs = 0;
  EXPECT_NONFATAL_FAILURE(run_sim_test(
                              [&](Simulation& sim) {
                                ++runs;  // state outside the run: the second run sleeps longer
                                sim.sleep(runs * kMillisecond);
                              },
                              SimTestSettings{.seeds = 1, .strategies = {Strategy::random}}),
                          "nondeterminism");
}

TEST(SimTest, TheFilterNamesTheRunningTest) {
  EXPECT_NE(sim_testing::reproduce_line(1, Strategy::fifo)
                .find("--gtest_filter=SimTest.TheFilterNamesTheRunningTest"),
            std::string::npos);
}

TEST(RunUnderSchedules, EachScheduleGetsAFreshSimulationWithItsOptions) {
  std::vector<std::pair<Strategy, std::uint64_t>> seen;
  run_under_schedules(
      [&](Simulation& sim) {
        EXPECT_EQ(sim.now(), 0);
        seen.emplace_back(sim.options().strategy, sim.options().seed);
        sim.spawn("sleeper", [&] { sim.sleep(kMillisecond); });
        EXPECT_TRUE(sim.run().ok());
      },
      SimTestSettings{.seed = 4, .seeds = 1, .strategies = {Strategy::pct, Strategy::fifo}});
  using P = std::pair<Strategy, std::uint64_t>;
  EXPECT_EQ(seen, (std::vector<P>{{Strategy::pct, 4}, {Strategy::pct, 4}, {Strategy::fifo, 4}}));
}

TEST(Schedules, StrategyByStrategyFromTheFirstSeed) {
  const std::vector<Schedule> all = sim_testing::schedules(
      SimTestSettings{.seed = 7, .seeds = 2, .strategies = {Strategy::pct, Strategy::fifo}});
  ASSERT_EQ(all.size(), 4u);
  EXPECT_EQ(all[0].strategy, Strategy::pct);
  EXPECT_EQ(all[0].seed, 7u);
  EXPECT_EQ(all[1].seed, 8u);
  EXPECT_EQ(all[3].strategy, Strategy::fifo);
  EXPECT_EQ(all[3].seed, 8u);
}

// Fails on seed 3 only: run below as a child process with the environment set.
SIM_TEST(DISABLED_SimTestChild, FailsOnSeedThree) { EXPECT_NE(sim.options().seed, 3u) << "seed three"; }

// Fails on seed 2 of three random seeds from 1; prints how many runs it took.
TEST(DISABLED_SimTestChild, UnderSchedulesFailsOnSeedTwo) {
  int runs = 0;
  run_under_schedules(
      [&](Simulation& sim) {
        ++runs;
        EXPECT_NE(sim.options().seed, 2u) << "seed two";
      },
      SimTestSettings{.seed = 1, .seeds = 3, .strategies = {Strategy::random}});
  std::printf("runs %d\n", runs);
}

std::string run_child(const std::string& environment,
                      const std::string& filter = "DISABLED_SimTestChild.FailsOnSeedThree") {
  const std::string self = std::filesystem::read_symlink("/proc/self/exe").string();
  const std::string command =
      environment + " " + self + " --gtest_also_run_disabled_tests --gtest_filter=" + filter + " 2>&1";
  std::unique_ptr<FILE, decltype(&pclose)> pipe(popen(command.c_str(), "r"), &pclose);
  std::string out;
  std::array<char, 4096> buffer{};
  while (pipe && std::fgets(buffer.data(), buffer.size(), pipe.get()) != nullptr) out += buffer.data();
  return out;
}

TEST(SimTest, AFailingBodyPrintsItsScheduleAndTheReproduceLineFromTheEnvironment) {
  const std::string passing = run_child("ASGISIM_SEED=0 ASGISIM_SEEDS=3");
  EXPECT_NE(passing.find("[  PASSED  ] 1 test"), std::string::npos) << passing;
  const std::string failing = run_child("ASGISIM_SEED=1 ASGISIM_SEEDS=5 ASGISIM_STRATEGY=fifo");
  EXPECT_NE(failing.find("seed three"), std::string::npos) << failing;
  EXPECT_NE(failing.find("simulated test failed at seed 3 (strategy fifo)"), std::string::npos) << failing;
  // The listener repeats the line after the failure messages.
  EXPECT_NE(failing.find("reproduce: ASGISIM_SEED=3 ASGISIM_STRATEGY=fifo ASGISIM_SEEDS=1"),
            std::string::npos)
      << failing;
  EXPECT_NE(failing.find("--gtest_filter=DISABLED_SimTestChild.FailsOnSeedThree\n[  FAILED  ]"),
            std::string::npos)
      << failing;
  // Without ASGISIM_STRATEGY every strategy runs, fifo first.
  const std::string every = run_child("ASGISIM_SEED=3 ASGISIM_SEEDS=1");
  EXPECT_NE(every.find("simulated test failed at seed 3 (strategy fifo)"), std::string::npos) << every;
}

TEST(RunUnderSchedules, AFailureNamesTheScheduleAndStopsTheLaterOnes) {
  const std::string out = run_child("", "DISABLED_SimTestChild.UnderSchedulesFailsOnSeedTwo");
  EXPECT_NE(out.find("seed two"), std::string::npos) << out;
  EXPECT_NE(out.find("simulated test failed at seed 2 (strategy random)"), std::string::npos) << out;
  EXPECT_NE(out.find("reproduce: ASGISIM_SEED=2 ASGISIM_STRATEGY=random ASGISIM_SEEDS=1"), std::string::npos)
      << out;
  EXPECT_NE(out.find("runs 3\n"), std::string::npos) << out;  // seed 1 twice (the determinism check), seed 2
}

}  // namespace
}  // namespace asgisim::sim
