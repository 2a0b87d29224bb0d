// Record and replay: a run's decision log, saved to a file and loaded again,
// replays strictly to the same trace hash; lenient replay of a damaged log
// still runs, and the log it consumed replays strictly; a changed workload
// stops a strict replay with a report naming the position and both labels.
#include <gtest/gtest.h>
#include <rapidcheck.h>
#include <rapidcheck/gtest.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "asgisim/sim/choice.hpp"
#include "asgisim/sim/decision_log.hpp"
#include "asgisim/sim/simulation.hpp"
#include "asgisim/sim/testing.hpp"
#include "asgisim/version.hpp"
#include "sim/replay_workload.hpp"

namespace asgisim::sim {
namespace {

using namespace replay_workload;
using namespace sim_testing;
using sim_testing::describe;

class Replay : public ::testing::TestWithParam<Strategy> {};

TEST_P(Replay, ASavedLogReplaysStrictlyToTheSameHash) {
  for (std::uint64_t seed = 0; seed < 25; ++seed) {
    SCOPED_TRACE(testing::Message() << "seed " << seed << " strategy " << to_string(GetParam()));
    Recorded original = record(seed, GetParam());
    ASSERT_TRUE(original.result.ok()) << describe(original.result);
    ASSERT_GT(original.log.size(), 0u);

    original.log.tool_version = kVersion;
    original.log.config_hash = 0x1234abcd5678ef00ULL + seed;
    original.log.metadata["strategy"] = std::string(to_string(GetParam()));
    original.log.metadata["seed"] = std::to_string(seed);
    TempFile file("asgisim-replay");
    original.log.save(file.path());

    const DecisionLog loaded = DecisionLog::load(file.path());
    EXPECT_EQ(loaded.tool_version, kVersion);
    EXPECT_EQ(loaded.config_hash, 0x1234abcd5678ef00ULL + seed);
    EXPECT_EQ(loaded.metadata.at("seed"), std::to_string(seed));
    ASSERT_EQ(loaded.size(), original.log.size());
    EXPECT_GT(loaded.first_decision_line(), 0u);

    ReplayChoiceSource source(loaded.decisions(), ReplayMode::strict, loaded.first_decision_line());
    const Recorded replayed = replay(source, GetParam());
    ASSERT_TRUE(replayed.result.ok()) << describe(replayed.result);
    EXPECT_EQ(replayed.result.trace_hash, original.result.trace_hash);
    EXPECT_EQ(replayed.result.steps, original.result.steps);
    EXPECT_EQ(replayed.result.end_time_ns, original.result.end_time_ns);
    EXPECT_TRUE(source.exhausted()) << "every recorded decision was used";
    EXPECT_EQ(replayed.log.size(), original.log.size());
  }
}

TEST_P(Replay, LenientReplayOfADamagedLogRunsAndItsConsumedLogReplaysStrictly) {
  for (std::uint64_t seed = 0; seed < 25; ++seed) {
    SCOPED_TRACE(testing::Message() << "seed " << seed << " strategy " << to_string(GetParam()));
    const Recorded original = record(seed, GetParam());
    ASSERT_TRUE(original.result.ok()) << describe(original.result);

    // Three kinds of damage: truncated to half, every value perturbed (some
    // out of range), labels scrambled (lenient replay ignores labels).
    std::vector<std::vector<Decision>> damaged(3, original.log.decisions());
    damaged[0].resize(damaged[0].size() / 2);
    for (std::size_t i = 0; i < damaged[1].size(); ++i) damaged[1][i].value += 1 + i % 7;
    for (std::size_t i = 0; i < damaged[2].size(); ++i) {
      damaged[2][i].label = i % 2 ? "x.y" : "z";
      damaged[2][i].value = (damaged[2][i].value * 31 + seed) % damaged[2][i].n;
    }
    for (std::size_t kind = 0; kind < damaged.size(); ++kind) {
      SCOPED_TRACE(testing::Message() << "damage kind " << kind);
      ReplayChoiceSource lenient(damaged[kind], ReplayMode::lenient);
      Recorded consumed = replay(lenient, GetParam());
      ASSERT_TRUE(consumed.result.ok()) << describe(consumed.result);

      // The consumed log, written out and read back, replays strictly.
      consumed.log.tool_version = kVersion;
      TempFile file("asgisim-consumed");
      consumed.log.save(file.path());
      const DecisionLog loaded = DecisionLog::load(file.path());
      ReplayChoiceSource strict(loaded.decisions(), ReplayMode::strict, loaded.first_decision_line());
      const Recorded again = replay(strict, GetParam());
      ASSERT_TRUE(again.result.ok()) << describe(again.result);
      EXPECT_EQ(again.result.trace_hash, consumed.result.trace_hash);
      EXPECT_TRUE(strict.exhausted());
    }
  }
}

TEST_P(Replay, StrictReplayOfATruncatedLogStopsAtItsEnd) {
  const Recorded original = record(3, GetParam(), /*with_group=*/false);
  ASSERT_TRUE(original.result.ok()) << describe(original.result);
  ASSERT_GT(original.log.size(), 2u);
  std::vector<Decision> truncated = original.log.decisions();
  truncated.resize(truncated.size() - 2);
  ReplayChoiceSource strict(truncated, ReplayMode::strict);
  const Recorded replayed = replay(strict, GetParam(), false, /*with_group=*/false);
  EXPECT_EQ(replayed.result.status, RunStatus::replay_divergence) << describe(replayed.result);
  EXPECT_NE(replayed.result.report.find("found the end of the log"), std::string::npos)
      << replayed.result.report;
  EXPECT_NE(replayed.result.report.find("decision " + std::to_string(truncated.size())), std::string::npos)
      << replayed.result.report;
}

TEST_P(Replay, StrictReplayAgainstAChangedWorkloadStopsWithADivergence) {
  int diverged = 0;
  for (std::uint64_t seed = 0; seed < 25; ++seed) {
    SCOPED_TRACE(testing::Message() << "seed " << seed);
    const Recorded original = record(seed, GetParam(), /*with_group=*/false);
    ASSERT_TRUE(original.result.ok()) << describe(original.result);
    ReplayChoiceSource strict(original.log.decisions(), ReplayMode::strict);
    const Recorded replayed = replay(strict, GetParam(), /*changed=*/true, /*with_group=*/false);
    if (replayed.result.ok()) continue;  // this run never reached the changed code
    ++diverged;
    EXPECT_EQ(replayed.result.status, RunStatus::replay_divergence) << describe(replayed.result);
    EXPECT_NE(replayed.result.report.find("replay diverged at decision"), std::string::npos)
        << replayed.result.report;
    // The extra question is the new label; a recorded label is found instead.
    EXPECT_NE(replayed.result.report.find("client.extra"), std::string::npos) << replayed.result.report;
  }
  EXPECT_GT(diverged, 5);
}

INSTANTIATE_TEST_SUITE_P(Strategies, Replay,
                         ::testing::Values(Strategy::fifo, Strategy::random, Strategy::pct),
                         [](const auto& info) { return std::string(to_string(info.param)); });

// With fifo only the model's own questions are decisions, so the divergence
// point is known exactly.
TEST(ReplayDivergence, TheReportNamesThePositionTheLineAndBothLabels) {
  static constexpr Label kFirst{"client.first", Stream::clients};
  static constexpr Label kSecond{"client.second", Stream::clients};
  static constexpr Label kChanged{"client.changed", Stream::faults};
  auto workload = [&](Simulation& sim, bool changed, std::vector<std::uint64_t>& answers) {
    sim.spawn("client", [&answers, changed] {
      answers.push_back(choose(kFirst, 3));
      answers.push_back(changed ? choose(kChanged, 5) : choose(kSecond, 4));
      answers.push_back(choose(kFirst, 3));
    });
  };
  std::vector<std::uint64_t> recorded_answers;
  Simulation recorder({.seed = 99});
  workload(recorder, false, recorded_answers);
  ASSERT_TRUE(recorder.run().ok());
  DecisionLog log = recorder.decisions();
  ASSERT_EQ(log.size(), 3u);
  log.tool_version = kVersion;
  TempFile file("asgisim-diverge");
  log.save(file.path());
  const DecisionLog loaded = DecisionLog::load(file.path());

  ReplayChoiceSource strict(loaded.decisions(), ReplayMode::strict, loaded.first_decision_line());
  std::vector<std::uint64_t> answers;
  bool reached_after_divergence = false;
  Simulation replayer({}, strict);
  replayer.spawn("client", [&] {
    answers.push_back(choose(kFirst, 3));
    answers.push_back(choose(kChanged, 5));
    reached_after_divergence = true;
  });
  const RunResult result = replayer.run();
  ASSERT_EQ(result.status, RunStatus::replay_divergence) << describe(result);
  const std::string line = std::to_string(loaded.first_decision_line() + 1);
  EXPECT_NE(result.report.find("decision 1 (line " + line + ")"), std::string::npos) << result.report;
  EXPECT_NE(result.report.find("expected 'client.changed' (faults, n=5)"), std::string::npos)
      << result.report;
  EXPECT_NE(result.report.find("found 'client.second' (clients, n=4"), std::string::npos) << result.report;
  EXPECT_FALSE(reached_after_divergence) << "a divergence stops the task at once";
  EXPECT_EQ(answers, (std::vector<std::uint64_t>{recorded_answers[0]}));
}

TEST(ReplayDivergence, AValueOutOfRangeIsADivergenceInStrictModeOnly) {
  static constexpr Label kPick{"client.pick", Stream::clients};
  const std::vector<Decision> log = {{kPick.name, kPick.stream, 10, 7}};
  {
    ReplayChoiceSource strict(log, ReplayMode::strict);
    Simulation sim({}, strict);
    sim.spawn("client", [] { (void)choose(kPick, 5); });
    const RunResult result = sim.run();
    EXPECT_EQ(result.status, RunStatus::replay_divergence);
    EXPECT_NE(result.report.find("value out of range"), std::string::npos) << result.report;
  }
  {
    ReplayChoiceSource lenient(log, ReplayMode::lenient);
    Simulation sim({}, lenient);
    std::uint64_t value = 99;
    sim.spawn("client", [&] { value = choose(kPick, 5); });
    EXPECT_TRUE(sim.run().ok());
    EXPECT_EQ(value, 2u);  // 7 mod 5
  }
}

// A log recorded under one strategy replayed under another must stop with a
// divergence report, even when the first mismatch is met while tasks are
// being spawned (pct draws each task's priority at spawn, before run()).
TEST(ReplayDivergence, ReplayingUnderAnotherStrategyIsReportedNotThrown) {
  const Recorded original = record(5, Strategy::random, /*with_group=*/false);
  ASSERT_TRUE(original.result.ok()) << describe(original.result);
  ReplayChoiceSource strict(original.log.decisions(), ReplayMode::strict);
  RunResult result;
  EXPECT_NO_THROW(result = replay(strict, Strategy::pct, false, /*with_group=*/false).result);
  EXPECT_EQ(result.status, RunStatus::replay_divergence) << describe(result);
  EXPECT_NE(result.report.find("pct.priority"), std::string::npos) << result.report;
}

// Under pct every spawn draws the new task's priority. When a strict replay
// diverges at that draw inside a running task, the run must stop with a
// divergence report and tear down cleanly (run in a child process: a broken
// teardown aborts or hangs).
void diverge_while_spawning_inside_a_task() {
  static constexpr Label kFirst{"client.first", Stream::clients};
  auto workload = [](Simulation& sim, bool changed) {
    sim.spawn("parent", [changed] {
      if (!changed) (void)choose(kFirst, 3);
      TaskHandle child = Simulation::current().spawn("child", [] { checkpoint(); });
      child.join();
    });
  };
  Simulation recorder({.seed = 4, .strategy = Strategy::pct});
  workload(recorder, false);
  if (!recorder.run().ok()) std::_Exit(3);
  const DecisionLog log = recorder.decisions();
  ReplayChoiceSource strict(log.decisions(), ReplayMode::strict);
  Simulation replayer({.strategy = Strategy::pct}, strict);
  workload(replayer, true);  // asks for the child's priority where client.first was recorded
  const RunResult result = replayer.run();
  if (result.status != RunStatus::replay_divergence) std::_Exit(4);
  if (result.report.find("pct.priority") == std::string::npos) std::_Exit(5);
  std::_Exit(0);
}

TEST(ReplayDivergence, ADivergenceWhileSpawningInsideATaskIsReported) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(
      {
        ::alarm(5);
        diverge_while_spawning_inside_a_task();
      },
      ::testing::ExitedWithCode(0), "");
}

}  // namespace
}  // namespace asgisim::sim
