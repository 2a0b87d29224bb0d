// GoogleTest integration (DESIGN.md "Property tests and fuzzing"): run a test
// body inside a simulation, and assert on scenarios, so that every failure
// ends with the seed and the exact line that reproduces it. Header-only: the
// scenario library does not depend on GoogleTest.
//
//   SIM_TEST(Stream, SendWaitsForAReceiver) {   // `sim` is the running Simulation
//     sim::Event done;
//     sim.spawn("receiver", [&] { sim::sleep(5 * sim::kMillisecond); done.set(); });
//     done.wait();
//     EXPECT_EQ(sim.now(), 5 * sim::kMillisecond);
//   }
//
//   TEST(Catalogue, FixedPasses) {
//     EXPECT_SCENARIO_PASSES(*built_in_catalogue().find("background-cancelled"), ConfigKind::fixed, 200);
//   }
//
// Environment: ASGISIM_SEED (first seed; default 0), ASGISIM_SEEDS (how
// many seeds a SIM_TEST runs; default 1), ASGISIM_STRATEGY (fifo, random or
// pct; default random). A failing SIM_TEST prints
//   ASGISIM_SEED=3 ASGISIM_STRATEGY=random ./sim_test --gtest_filter=Stream.SendWaitsForAReceiver
#pragma once

#include <errno.h>  // program_invocation_name (GNU)
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "asgisim/scenarios/engine.hpp"
#include "asgisim/sim/errors.hpp"
#include "asgisim/sim/simulation.hpp"

namespace asgisim::scenarios::testing {

struct SimTestSettings {
  std::uint64_t seed = 0;   // the first seed
  std::uint64_t seeds = 1;  // seeds run, from `seed` on; the first failing one stops
  sim::Strategy strategy = sim::Strategy::random;
  std::uint64_t steps_max = 10'000'000;  // liveness budgets of each run
  sim::Nanoseconds time_max_ns = 3'600 * sim::kSecond;
};

namespace detail {

inline std::uint64_t env_number(const char* name, std::uint64_t fallback) {
  const char* text = std::getenv(name);
  if (text == nullptr || *text == '\0') return fallback;
  const std::string_view view(text);
  const bool hex = view.starts_with("0x") || view.starts_with("0X");
  char* end = nullptr;
  const unsigned long long value = std::strtoull(text, &end, hex ? 16 : 10);
  if (*end != '\0') {
    ADD_FAILURE() << name << "='" << text << "' is not a number; using " << fallback;
    return fallback;
  }
  return value;
}

// Reproduce lines of the running test, printed by ReproduceListener when it fails.
inline std::vector<std::string>& pending_reproduce_lines() {
  static std::vector<std::string> lines;
  return lines;
}

// How many failures the running test has recorded so far.
inline int failures_so_far() {
  const ::testing::TestInfo* info = ::testing::UnitTest::GetInstance()->current_test_info();
  if (info == nullptr) return 0;
  int failures = 0;
  for (int i = 0; i < info->result()->total_part_count(); ++i) {
    failures += info->result()->GetTestPartResult(i).failed() ? 1 : 0;
  }
  return failures;
}

inline std::string current_test_filter() {
  const ::testing::TestInfo* info = ::testing::UnitTest::GetInstance()->current_test_info();
  return info == nullptr ? std::string("*") : std::string(info->test_suite_name()) + "." + info->name();
}

}  // namespace detail

// Settings from ASGISIM_SEED, ASGISIM_SEEDS and ASGISIM_STRATEGY.
inline SimTestSettings settings_from_environment() {
  SimTestSettings settings;
  settings.seed = detail::env_number("ASGISIM_SEED", settings.seed);
  settings.seeds = std::max<std::uint64_t>(1, detail::env_number("ASGISIM_SEEDS", settings.seeds));
  if (const char* strategy = std::getenv("ASGISIM_STRATEGY"); strategy != nullptr && *strategy != '\0') {
    if (!sim::parse_strategy(strategy, settings.strategy)) {
      ADD_FAILURE() << "ASGISIM_STRATEGY='" << strategy << "' is not fifo, random or pct";
    }
  }
  return settings;
}

// The command that runs the current test again with one seed.
inline std::string reproduce_line(std::uint64_t seed, sim::Strategy strategy) {
  return "ASGISIM_SEED=" + std::to_string(seed) +
         " ASGISIM_STRATEGY=" + std::string(sim::to_string(strategy)) + " " + program_invocation_name +
         " --gtest_filter=" + detail::current_test_filter();
}

// Keeps `line` to print when the current test ends failed (ReproduceListener).
inline void note_reproduce_line(std::string line) {
  detail::pending_reproduce_lines().push_back(std::move(line));
}

// Runs `body` as the one task of a fresh Simulation for each seed. A seed
// fails when the body recorded a failure or the run did not complete (an
// exception, a deadlock with its wait-for graph, a liveness budget); the
// failure names the seed and the reproduce line, and later seeds are skipped.
inline void run_sim_test(const std::function<void(sim::Simulation&)>& body,
                         const SimTestSettings& settings = settings_from_environment()) {
  for (std::uint64_t i = 0; i < settings.seeds; ++i) {
    const std::uint64_t seed = settings.seed + i;
    const int failures_before = detail::failures_so_far();
    sim::Simulation simulation({.seed = seed,
                                .strategy = settings.strategy,
                                .steps_max = settings.steps_max,
                                .time_max_ns = settings.time_max_ns});
    simulation.spawn("test body", [&] { body(simulation); });
    const sim::RunResult result = simulation.run();
    const bool body_failed = detail::failures_so_far() > failures_before;
    if (result.ok() && !body_failed) continue;
    const std::string line = reproduce_line(seed, settings.strategy);
    note_reproduce_line(line);
    std::string why = result.ok() ? "the test body failed"
                                  : "the run ended with " + std::string(sim::to_string(result.status));
    if (result.error) why += ": " + sim::describe(result.error);
    if (!result.ok() && !result.report.empty()) why += "\n" + result.report;
    ADD_FAILURE() << "simulated test failed at seed " << seed << " (strategy "
                  << sim::to_string(settings.strategy) << "): " << why << "\nreproduce: " << line;
    return;
  }
}

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

// Prints the reproduce lines of a failed test at its end, after its
// failure messages. Installed once by ASGISIM_INSTALL_REPRODUCE_LISTENER()
// or by hand: UnitTest::GetInstance()->listeners().Append(new ReproduceListener).
class ReproduceListener final : public ::testing::EmptyTestEventListener {
 public:
  void OnTestStart(const ::testing::TestInfo&) override { detail::pending_reproduce_lines().clear(); }
  void OnTestEnd(const ::testing::TestInfo& info) override {
    if (info.result()->Failed()) {
      for (const std::string& line : detail::pending_reproduce_lines())
        std::printf("reproduce: %s\n", line.c_str());
    }
    detail::pending_reproduce_lines().clear();
  }
};

inline bool install_reproduce_listener() {
  ::testing::UnitTest::GetInstance()->listeners().Append(new ReproduceListener);
  return true;
}

}  // namespace asgisim::scenarios::testing

// Installs the ReproduceListener at static initialisation; use once per test program.
#define ASGISIM_INSTALL_REPRODUCE_LISTENER()                                \
  [[maybe_unused]] static const bool asgisim_reproduce_listener_installed = \
      ::asgisim::scenarios::testing::install_reproduce_listener()

// A test whose body runs inside a simulation (as its one task), over the
// seeds of the environment; the body sees the Simulation as `sim`.
#define SIM_TEST(Suite, Name)                                                             \
  static void asgisim_sim_test_body_##Suite##_##Name(::asgisim::sim::Simulation& sim);    \
  TEST(Suite, Name) {                                                                     \
    ::asgisim::scenarios::testing::run_sim_test(&asgisim_sim_test_body_##Suite##_##Name); \
  }                                                                                       \
  static void asgisim_sim_test_body_##Suite##_##Name([[maybe_unused]] ::asgisim::sim::Simulation& sim)

#define EXPECT_SCENARIO_PASSES(scenario, config, seeds) \
  EXPECT_TRUE(::asgisim::scenarios::testing::scenario_passes((scenario), (config), (seeds)))
#define ASSERT_SCENARIO_PASSES(scenario, config, seeds) \
  ASSERT_TRUE(::asgisim::scenarios::testing::scenario_passes((scenario), (config), (seeds)))
#define EXPECT_SCENARIO_FAILS(scenario, config, seeds, invariant) \
  EXPECT_TRUE(::asgisim::scenarios::testing::scenario_fails((scenario), (config), (seeds), (invariant)))
