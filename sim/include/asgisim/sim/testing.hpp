// GoogleTest helpers for kernel-level tests (DESIGN.md "Property tests and
// fuzzing"): run a test body under several schedules (strategies and seeds),
// check that a seed gives the same trace twice, and end every failure with the
// seed, the strategy and the line that reproduces it. Header-only: the kernel
// library does not depend on GoogleTest; a test program that includes this
// header links GoogleTest itself.
//
//   SIM_TEST(Event, SetWakesEveryWaiter) {   // the body is a task; `sim` is its Simulation
//     Event ready;
//     task_group([&](TaskGroup& tg) {
//       tg.start_soon("waiter", [&] { ready.wait(); });
//       tg.start_soon("setter", [&] { sim.sleep(5 * kMillisecond); ready.set(); });
//     });
//     EXPECT_EQ(sim.now(), 5 * kMillisecond);
//   }
//
//   TEST(Lock, DeadlockReport) {              // the body drives a fresh Simulation itself
//     run_under_schedules([](Simulation& sim) {
//       ...; const RunResult result = sim.run(); EXPECT_EQ(result.status, RunStatus::deadlock);
//     });
//   }
//
// Environment: ASGISIM_SEED (first seed; default 0), ASGISIM_SEEDS (seeds per
// strategy; default 3), ASGISIM_STRATEGY (fifo, random or pct; default all
// three). A failing test prints
//   reproduce: ASGISIM_SEED=3 ASGISIM_STRATEGY=pct ASGISIM_SEEDS=1 ./lock_test --gtest_filter=Lock.Deadlock
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
#include <utility>
#include <vector>

#include "asgisim/sim/errors.hpp"
#include "asgisim/sim/simulation.hpp"

namespace asgisim::sim_testing {

using sim::kSecond;
using sim::Nanoseconds;
using sim::RunResult;
using sim::Simulation;
using sim::SimulationOptions;
using sim::Strategy;
using sim::WrongSideError;

// Virtual time as tests write it: `sim.sleep(5 * ms)`.
inline constexpr Nanoseconds ms = sim::kMillisecond;

// One run of a test body: how tasks are picked, and the seed of the picks.
struct Schedule {
  Strategy strategy = Strategy::random;
  std::uint64_t seed = 0;
};

struct SimTestSettings {
  std::uint64_t seed = 0;   // the first seed of every strategy
  std::uint64_t seeds = 3;  // seeds run per strategy, from `seed` on; the first failing one stops
  std::vector<Strategy> strategies = {Strategy::fifo, Strategy::random, Strategy::pct};
  std::uint64_t steps_max = 10'000'000;  // liveness budgets of each run
  Nanoseconds time_max_ns = 3'600 * kSecond;
  // Runs the first schedule twice and compares the trace hashes (the
  // FoundationDB "unseed" check); the body must then be safe to run twice.
  bool check_determinism = true;
};

// Every schedule of `settings`, strategy by strategy.
inline std::vector<Schedule> schedules(const SimTestSettings& settings) {
  std::vector<Schedule> out;
  for (const Strategy strategy : settings.strategies) {
    for (std::uint64_t i = 0; i < settings.seeds; ++i) out.push_back({strategy, settings.seed + i});
  }
  return out;
}

// "completed", or the status and the report of a run that did not complete;
// with `using testing::describe`, the kernel's describe(std::exception_ptr) too.
using sim::describe;
inline std::string describe(const RunResult& result) {
  std::string text(sim::to_string(result.status));
  if (!result.report.empty()) text += ": " + result.report;
  return text;
}

// Runs `body` as the only task of a fresh simulation under one fixed schedule
// (`options`) and checks that the run completed; for tests of one schedule.
template <class Body>
RunResult run_task(Body&& body, SimulationOptions options = {}) {
  Simulation sim(options);
  sim.spawn("test", std::forward<Body>(body));
  RunResult result = sim.run();
  EXPECT_TRUE(result.ok()) << describe(result);
  return result;
}

// Sets a flag when destroyed: shows that a task's stack was unwound.
struct SetOnDestruction {
  bool& flag;
  ~SetOnDestruction() { flag = true; }
};

// Runs `body` and returns the message of the WrongSideError it raised ("" if none).
template <class Body>
std::string wrong_side_message(Body&& body) {
  try {
    body();
  } catch (const WrongSideError& error) {
    return error.what();
  }
  return {};
}

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

// Settings from ASGISIM_SEED, ASGISIM_SEEDS and ASGISIM_STRATEGY, over `defaults`.
inline SimTestSettings settings_from_environment(SimTestSettings defaults = {}) {
  SimTestSettings settings = std::move(defaults);
  settings.seed = detail::env_number("ASGISIM_SEED", settings.seed);
  settings.seeds = std::max<std::uint64_t>(1, detail::env_number("ASGISIM_SEEDS", settings.seeds));
  if (const char* text = std::getenv("ASGISIM_STRATEGY"); text != nullptr && *text != '\0') {
    Strategy strategy = Strategy::random;
    if (sim::parse_strategy(text, strategy)) {
      settings.strategies = {strategy};
    } else {
      ADD_FAILURE() << "ASGISIM_STRATEGY='" << text << "' is not fifo, random or pct";
    }
  }
  return settings;
}

// The command that runs the current test again under one schedule.
inline std::string reproduce_line(std::uint64_t seed, Strategy strategy) {
  return "ASGISIM_SEED=" + std::to_string(seed) +
         " ASGISIM_STRATEGY=" + std::string(sim::to_string(strategy)) + " ASGISIM_SEEDS=1 " +
         program_invocation_name + " --gtest_filter=" + detail::current_test_filter();
}

// Keeps `line` to print when the current test ends failed (ReproduceListener).
inline void note_reproduce_line(std::string line) {
  detail::pending_reproduce_lines().push_back(std::move(line));
}

// Records the failure of one schedule: why, the seed, the strategy and the reproduce line.
inline void fail_schedule(const Schedule& schedule, const std::string& why) {
  const std::string line = reproduce_line(schedule.seed, schedule.strategy);
  note_reproduce_line(line);
  ADD_FAILURE() << "simulated test failed at seed " << schedule.seed << " (strategy "
                << sim::to_string(schedule.strategy) << "): " << why << "\nreproduce: " << line;
}

// Runs `scenario(sim)` on a fresh Simulation for every schedule of
// `settings`; the scenario spawns its tasks, runs the simulation and checks
// the result itself. A schedule fails when the scenario recorded a failure or
// the first schedule's trace hash differs between two runs; the failure names
// the schedule and the reproduce line, and later schedules are skipped.
inline void run_under_schedules(const std::function<void(Simulation&)>& scenario,
                                const SimTestSettings& settings = settings_from_environment()) {
  const std::vector<Schedule> all = schedules(settings);
  for (std::size_t index = 0; index < all.size(); ++index) {
    const Schedule& schedule = all[index];
    const SimulationOptions options{.seed = schedule.seed,
                                    .strategy = schedule.strategy,
                                    .steps_max = settings.steps_max,
                                    .time_max_ns = settings.time_max_ns};
    const int failures_before = detail::failures_so_far();
    std::uint64_t trace_hash = 0;
    {
      SCOPED_TRACE(std::string(sim::to_string(schedule.strategy)) + " seed " + std::to_string(schedule.seed));
      Simulation sim(options);
      scenario(sim);
      trace_hash = sim.trace_hash();
    }
    if (detail::failures_so_far() > failures_before) {
      fail_schedule(schedule, "the test body failed");
      return;
    }
    if (index == 0 && settings.check_determinism) {
      Simulation again(options);
      scenario(again);
      if (again.trace_hash() != trace_hash) {
        fail_schedule(schedule, "nondeterminism: the same schedule gave two different traces");
        return;
      }
    }
  }
}

// Runs `body` as the one task of a fresh Simulation for every schedule of
// `settings`. A schedule fails when the body recorded a failure, the run did
// not complete (an exception, a deadlock with its wait-for graph, a liveness
// budget) or the first schedule's trace hash differs between two runs; the
// failure names the schedule and the reproduce line, and later schedules are
// skipped.
inline void run_sim_test(const std::function<void(Simulation&)>& body,
                         const SimTestSettings& settings = settings_from_environment()) {
  const std::vector<Schedule> all = schedules(settings);
  for (std::size_t index = 0; index < all.size(); ++index) {
    const Schedule& schedule = all[index];
    const auto run_once = [&] {
      Simulation sim({.seed = schedule.seed,
                      .strategy = schedule.strategy,
                      .steps_max = settings.steps_max,
                      .time_max_ns = settings.time_max_ns});
      sim.spawn("test body", [&] { body(sim); });
      return sim.run();
    };
    const int failures_before = detail::failures_so_far();
    const RunResult result = run_once();
    const bool body_failed = detail::failures_so_far() > failures_before;
    if (!result.ok() || body_failed) {
      std::string why = result.ok() ? "the test body failed"
                                    : "the run ended with " + std::string(sim::to_string(result.status));
      if (result.error) why += ": " + sim::describe(result.error);
      if (!result.ok() && !result.report.empty()) why += "\n" + result.report;
      fail_schedule(schedule, why);
      return;
    }
    if (index == 0 && settings.check_determinism && run_once().trace_hash != result.trace_hash) {
      fail_schedule(schedule, "nondeterminism: the same schedule gave two different traces");
      return;
    }
  }
}

// Prints the reproduce lines of a failed test at its end, after its failure
// messages. Every program that includes this header installs it once.
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

// Installs the ReproduceListener; later calls do nothing.
inline bool install_reproduce_listener() {
  static const bool installed = [] {
    ::testing::UnitTest::GetInstance()->listeners().Append(new ReproduceListener);
    return true;
  }();
  return installed;
}

// Installed at static initialisation of any program that includes this header.
inline const bool reproduce_listener_installed = install_reproduce_listener();

}  // namespace asgisim::sim_testing

// A test whose body runs inside a simulation (as its one task) under every
// schedule of the environment; the body sees the Simulation as `sim`.
#define SIM_TEST(Suite, Name)                                                                          \
  static void asgisim_sim_test_body_##Suite##_##Name(::asgisim::sim::Simulation& sim);                 \
  TEST(Suite, Name) { ::asgisim::sim_testing::run_sim_test(&asgisim_sim_test_body_##Suite##_##Name); } \
  static void asgisim_sim_test_body_##Suite##_##Name([[maybe_unused]] ::asgisim::sim::Simulation& sim)
