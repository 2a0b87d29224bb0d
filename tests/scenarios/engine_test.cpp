// The engine: classification, determinism, replay, reports and trace exports,
// on the toy scenarios.
#include "asgisim/scenarios/engine.hpp"

#include <gtest/gtest.h>
#include <rapidcheck.h>
#include <rapidcheck/gtest.h>

#include <sstream>
#include <string>
#include <vector>

#include "scenarios/toy_scenarios.hpp"

namespace asgisim::scenarios {
namespace {

RunSettings random_settings() { return RunSettings{.strategy = sim::Strategy::random}; }

TEST(RunSeed, SameSeedSameHash) {
  toys::BackgroundBehindBaseHttp scenario;
  for (std::uint64_t seed = 0; seed < 5; ++seed) {
    const RunOutcome a = run_seed(scenario, ConfigKind::fixed, seed, random_settings());
    const RunOutcome b = run_seed(scenario, ConfigKind::fixed, seed, random_settings());
    EXPECT_EQ(a.trace_hash, b.trace_hash) << "seed " << seed;
    EXPECT_EQ(a.decisions.size(), b.decisions.size());
  }
  const RunOutcome a = run_seed(scenario, ConfigKind::fixed, 1, random_settings());
  const RunOutcome b = run_seed(scenario, ConfigKind::fixed, 2, random_settings());
  EXPECT_NE(a.trace_hash, b.trace_hash);
}

TEST(RunSeed, FixedPassesAndBuggyFailsByBackgroundComplete) {
  toys::BackgroundBehindBaseHttp scenario;
  const RunOutcome fixed = run_seed(scenario, ConfigKind::fixed, 3, random_settings());
  EXPECT_FALSE(fixed.failed()) << describe(fixed);
  std::optional<RunOutcome> failing;
  for (std::uint64_t seed = 0; seed < 20 && !failing; ++seed) {
    RunOutcome outcome = run_seed(scenario, ConfigKind::buggy, seed, random_settings());
    if (outcome.failed()) failing = std::move(outcome);
  }
  ASSERT_TRUE(failing.has_value());
  EXPECT_EQ(failing->failure, FailureClass::invariant);
  EXPECT_EQ(failing->invariant, "background-complete");
  EXPECT_EQ(failing->layer, "BackgroundTask");
  ASSERT_TRUE(failing->second_trace_hash.has_value());  // a failure is run twice
  EXPECT_EQ(*failing->second_trace_hash, failing->trace_hash);
  const std::string text = describe(*failing);
  EXPECT_NE(text.find("invariant: background-complete"), std::string::npos) << text;
  EXPECT_NE(text.find("was cancelled before it finished"), std::string::npos) << text;
}

TEST(RunSchedule, StrictReplayOfTheRecordedLogGivesTheSameHash) {
  toys::BackgroundBehindBaseHttp scenario;
  for (const ConfigKind config : {ConfigKind::buggy, ConfigKind::fixed}) {
    const RunOutcome original = run_seed(scenario, config, 7, random_settings());
    ASSERT_GT(original.decisions.size(), 10u);
    // Through the file format too: what `shrink -o` writes, `replay --schedule` reads.
    const sim::DecisionLog parsed = sim::DecisionLog::parse(original.decisions.to_text());
    EXPECT_EQ(parsed.metadata.at("scenario"), "test-background");
    EXPECT_EQ(parsed.metadata.at("seed"), "7");
    EXPECT_EQ(parsed.config_hash, config_hash(scenario, config, random_settings()));
    const RunSettings settings = settings_for_log(parsed, RunSettings{.strategy = sim::Strategy::fifo});
    EXPECT_EQ(settings.strategy, sim::Strategy::random);
    const RunOutcome replayed = run_schedule(scenario, config, parsed, sim::ReplayMode::strict, settings);
    EXPECT_EQ(replayed.trace_hash, original.trace_hash);
    EXPECT_EQ(replayed.failure, original.failure);
    EXPECT_EQ(replayed.invariant, original.invariant);
  }
}

TEST(RunSchedule, TheLogCarriesEverySettingThatShapesTheRun) {
  toys::BackgroundBehindBaseHttp scenario;
  RunSettings settings{.strategy = sim::Strategy::pct, .pct_depth = 4};
  settings.stack_override = {.starlette = "0.21.0", .python = "3.7"};
  settings.max_time_ns = 30 * sim::kSecond + 5;
  const RunOutcome original = run_seed(scenario, ConfigKind::buggy, 11, settings);
  const sim::DecisionLog parsed = sim::DecisionLog::parse(original.decisions.to_text());
  const RunSettings restored = settings_for_log(parsed, {});
  EXPECT_EQ(restored.strategy, sim::Strategy::pct);
  EXPECT_EQ(restored.pct_depth, 4u);
  EXPECT_EQ(to_string(restored.stack_override), "starlette==0.21.0,python==3.7");
  EXPECT_EQ(restored.max_time_ns, settings.max_time_ns);
  EXPECT_EQ(parsed.config_hash, config_hash(scenario, ConfigKind::buggy, restored));
  EXPECT_NE(parsed.config_hash, config_hash(scenario, ConfigKind::buggy, {}));  // another stack, another hash
  const RunOutcome replayed =
      run_schedule(scenario, ConfigKind::buggy, parsed, sim::ReplayMode::strict, restored);
  EXPECT_EQ(replayed.trace_hash, original.trace_hash);
}

TEST(RunSchedule, StrictReplayOfAForeignLogIsAUsageError) {
  toys::BackgroundBehindBaseHttp scenario;
  toys::Coin coin;
  const RunOutcome original = run_seed(coin, ConfigKind::buggy, 1, random_settings());
  try {
    run_schedule(scenario, ConfigKind::fixed, original.decisions, sim::ReplayMode::strict, random_settings());
    FAIL() << "expected a UsageError";
  } catch (const UsageError& error) {
    EXPECT_NE(std::string(error.what()).find("does not fit"), std::string::npos) << error.what();
  }
}

TEST(RunSchedule, StrictReplayRejectsLeftOverDecisions) {
  toys::Coin coin;
  RunOutcome original = run_seed(coin, ConfigKind::buggy, 1, random_settings());
  sim::DecisionLog longer = sim::DecisionLog::parse(original.decisions.to_text());
  longer.record({.label = "toy.coin", .stream = sim::Stream::other, .n = 4, .value = 1});
  try {
    run_schedule(coin, ConfigKind::buggy, sim::DecisionLog::parse(longer.to_text()), sim::ReplayMode::strict,
                 random_settings());
    FAIL() << "expected a UsageError";
  } catch (const UsageError& error) {
    EXPECT_NE(std::string(error.what()).find("left over"), std::string::npos) << error.what();
  }
  // Leniently, extra decisions are simply not asked for.
  EXPECT_EQ(
      run_schedule(coin, ConfigKind::buggy, longer, sim::ReplayMode::lenient, random_settings()).trace_hash,
      original.trace_hash);
}

TEST(RunSeed, DeadlockReportsTheWaitForGraph) {
  toys::WaitsForever scenario;
  const RunOutcome outcome = run_seed(scenario, ConfigKind::buggy, 0, random_settings());
  EXPECT_EQ(outcome.failure, FailureClass::deadlock);
  EXPECT_EQ(outcome.invariant, "no-deadlock");
  EXPECT_EQ(exit_code(outcome.failure), 3);
  EXPECT_NE(outcome.report.find("waits on"), std::string::npos) << outcome.report;
  EXPECT_NE(outcome.report.find("never-set"), std::string::npos) << outcome.report;
  EXPECT_NE(describe(outcome).find("'waiter'"), std::string::npos) << describe(outcome);
}

TEST(RunSeed, SpinningIsALivenessFailure) {
  toys::Spins scenario;
  const RunOutcome outcome = run_seed(scenario, ConfigKind::buggy, 0, random_settings());
  EXPECT_EQ(outcome.failure, FailureClass::liveness);
  EXPECT_EQ(outcome.invariant, "liveness");
  EXPECT_EQ(exit_code(outcome.failure), 4);
  EXPECT_EQ(outcome.result.status, sim::RunStatus::liveness_steps);
}

TEST(RunSeed, MaxTimeOverridesTheScenarioBudget) {
  toys::Coin scenario;  // up to 40 ms of sleeping
  RunSettings settings = random_settings();
  settings.max_time_ns = sim::kMillisecond / 2;
  bool liveness = false;
  for (std::uint64_t seed = 0; seed < 10; ++seed) {
    liveness =
        liveness || run_seed(scenario, ConfigKind::buggy, seed, settings).failure == FailureClass::liveness;
  }
  EXPECT_TRUE(liveness);
}

TEST(RunSeed, StateOutsideTheChoiceStreamIsNondeterminism) {
  toys::Unseeded scenario;
  const RunOutcome outcome = run_seed(scenario, ConfigKind::buggy, 0, random_settings());
  EXPECT_EQ(outcome.failure, FailureClass::nondeterminism);
  EXPECT_EQ(outcome.invariant, "deterministic");
  EXPECT_EQ(exit_code(outcome.failure), 5);
  ASSERT_TRUE(outcome.second_trace_hash.has_value());
  EXPECT_NE(*outcome.second_trace_hash, outcome.trace_hash);
}

TEST(RunSeed, AnUncaughtExceptionIsASwallowedError) {
  toys::Coin scenario;
  std::uint64_t failures = 0;
  for (std::uint64_t seed = 0; seed < 40; ++seed) {
    const RunOutcome outcome = run_seed(scenario, ConfigKind::buggy, seed, random_settings());
    if (!outcome.failed()) continue;
    ++failures;
    EXPECT_EQ(outcome.invariant, "no-swallowed-error");
    EXPECT_NE(outcome.report.find("the coin showed 3"), std::string::npos) << outcome.report;
  }
  EXPECT_GT(failures, 3u);
  EXPECT_LT(failures, 20u);
}

// A scenario that names an invariant nobody checks is a bug in the
// scenario: it must say so, not pass silently.
class NamesAnUnknownInvariant final : public Scenario {
 public:
  const ScenarioInfo& info() const override { return info_; }
  void build(RunContext& run) const override {
    run.sim.spawn("idle", [] { sim::sleep(1); });
  }

 private:
  ScenarioInfo info_{.name = "test-unknown-invariant", .invariants = {"no-such-invariant"}};
};

TEST(RunSeed, AnUnknownInvariantIsReportedBeforeTheRun) {
  NamesAnUnknownInvariant scenario;
  EXPECT_THROW(run_seed(scenario, ConfigKind::buggy, 0, random_settings()), std::invalid_argument);
}

TEST(Severity, MostSevereWins) {
  EXPECT_EQ(most_severe(FailureClass::invariant, FailureClass::liveness), FailureClass::liveness);
  EXPECT_EQ(most_severe(FailureClass::deadlock, FailureClass::liveness), FailureClass::deadlock);
  EXPECT_EQ(most_severe(FailureClass::deadlock, FailureClass::nondeterminism), FailureClass::nondeterminism);
  EXPECT_EQ(most_severe(FailureClass::none, FailureClass::invariant), FailureClass::invariant);
  EXPECT_EQ(exit_code(FailureClass::none), 0);
  EXPECT_EQ(exit_code(FailureClass::invariant), 1);
}

// Any decision sequence is a valid run (lenient), and the log that run
// consumed replays strictly to the same trace and the same verdict.
RC_GTEST_PROP(RunScheduleProperty, LenientRunsReplayStrictly,
              (const std::vector<std::uint8_t>& values, bool buggy)) {
  toys::BackgroundBehindBaseHttp scenario;
  const ConfigKind config = buggy ? ConfigKind::buggy : ConfigKind::fixed;
  sim::DecisionLog log;
  for (const std::uint8_t value : values)
    log.record({.label = "any", .stream = sim::Stream::other, .n = 256, .value = value});
  const RunOutcome lenient = run_schedule(scenario, config, log, sim::ReplayMode::lenient, random_settings());
  const RunOutcome strict =
      run_schedule(scenario, config, lenient.decisions, sim::ReplayMode::strict, random_settings());
  RC_ASSERT(strict.trace_hash == lenient.trace_hash);
  RC_ASSERT(strict.failure == lenient.failure);
  RC_ASSERT(strict.invariant == lenient.invariant);
  // The fixed configuration passes under every schedule, not only seeded ones.
  if (!buggy) RC_ASSERT(!lenient.failed());
}

// ---- reports -----------------------------------------------------------------------

TEST(Reproduce, NamesEveryOptionThatShapesTheRun) {
  RunOutcome outcome;
  outcome.scenario = "bg";
  outcome.config = ConfigKind::fixed;
  outcome.seed = 42;
  EXPECT_EQ(reproduce_command(outcome, random_settings()),
            "asgisim replay bg --config fixed --strategy random --seed 42");
  RunSettings settings{.strategy = sim::Strategy::pct, .pct_depth = 5};
  settings.stack_override = {.starlette = "0.20.4", .python = "3.7"};
  settings.max_time_ns = 1'500 * sim::kMillisecond;
  EXPECT_EQ(reproduce_command(outcome, settings),
            "asgisim replay bg --config fixed --strategy pct --seed 42 --pct-depth 5 "
            "--stack starlette==0.20.4,python==3.7 --max-time 1.500000000");
}

TEST(Reproduce, StackOverrideChangesTheBehaviour) {
  toys::BackgroundBehindBaseHttp scenario;
  RunSettings settings = random_settings();
  settings.stack_override = {.starlette = "0.29.0"};
  const SweepResult result = sweep(scenario, ConfigKind::buggy, settings, SweepOptions{.seeds = 20});
  EXPECT_EQ(result.failures, 0u);
  settings.stack_override = {.starlette = "0.13.0"};
  EXPECT_THROW(run_seed(scenario, ConfigKind::buggy, 0, settings), UsageError);
}

TEST(Trace, KeptTraceExportsChromeJsonAndATimeline) {
  toys::BackgroundBehindBaseHttp scenario;
  RunSettings settings = random_settings();
  settings.keep_trace = true;
  const RunOutcome outcome = run_seed(scenario, ConfigKind::buggy, 0, settings);
  ASSERT_FALSE(outcome.chrome_trace.empty());
  EXPECT_EQ(outcome.chrome_trace.front(), '{');
  EXPECT_NE(outcome.chrome_trace.find("traceEvents"), std::string::npos);
  ASSERT_FALSE(outcome.timeline.empty());
  EXPECT_NE(outcome.timeline.find("columns: 1="), std::string::npos);
  EXPECT_NE(outcome.timeline.find("request_started"), std::string::npos);
  std::istringstream lines(outcome.timeline);
  std::size_t count = 0;
  for (std::string line; std::getline(lines, line); ++count) EXPECT_LE(line.size(), 120u) << line;
  EXPECT_GT(count, 10u);
  // Keeping the trace does not change the run.
  EXPECT_EQ(run_seed(scenario, ConfigKind::buggy, 0, random_settings()).trace_hash, outcome.trace_hash);
  EXPECT_TRUE(run_seed(scenario, ConfigKind::buggy, 0, random_settings()).timeline.empty());
}

}  // namespace
}  // namespace asgisim::scenarios
