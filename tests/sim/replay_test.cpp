// Record and replay: a run's decision log, saved to a file and loaded again,
// replays strictly to the same trace hash; lenient replay of a damaged log
// still runs, and the log it consumed replays strictly; a changed workload
// stops a strict replay with a report naming the position and both labels;
// a corrupted file is refused with the line named; any fuzzer bytes give a
// valid run.
#include <gtest/gtest.h>
#include <rapidcheck.h>
#include <rapidcheck/gtest.h>

#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "asgisim/sim/choice.hpp"
#include "asgisim/sim/decision_log.hpp"
#include "asgisim/sim/event.hpp"
#include "asgisim/sim/lock.hpp"
#include "asgisim/sim/simulation.hpp"
#include "asgisim/sim/stream.hpp"
#include "asgisim/version.hpp"

namespace asgisim::sim {
namespace {

constexpr Label kItems{"client.items", Stream::clients};
constexpr Label kNap{"client.nap", Stream::clients};
constexpr Label kPause{"client.pause", Stream::clients};
constexpr Label kExtra{"client.extra", Stream::clients};
constexpr Label kSlow{"fault.slow", Stream::faults};

std::string status_text(const RunResult& result) {
  return std::string(to_string(result.status)) + ": " + result.report;
}

// A workload that cannot deadlock or fail whatever its choices are. With
// `changed`, it asks one extra question (a new build of the model). Without
// `with_group` it has no task group: the divergence tests use that, because
// a run stopped while a task group has live children cannot yet be torn
// down (see task_group_test's TaskGroupTeardown tests).
void spawn_workload(Simulation& sim, Lock& lock, Event& go, bool changed = false, bool with_group = true) {
  auto [send, receive] = create_memory_object_stream<int>(0, "items");
  sim.spawn("producer", [&go, &lock, changed, send = std::move(send)]() mutable {
    go.wait();
    const auto items = 1 + static_cast<int>(choose(kItems, 4));
    for (int i = 0; i < items; ++i) {
      if (changed && i == 1) (void)choose(kExtra, 3);
      if (buggify(kSlow, 0.5)) sim::sleep(2 * kMillisecond);
      with_lock(lock, [] { checkpoint(); });
      send.send(i);
    }
  });
  sim.spawn("consumer", [&lock, receive = std::move(receive)]() mutable {
    receive.for_each([&](int) {
      with_lock(lock, [] { sim::sleep(static_cast<Nanoseconds>(choose(kNap, 3)) * kMillisecond); });
    });
  });
  sim.spawn("starter", [&go] {
    sim::sleep(static_cast<Nanoseconds>(choose(kPause, 2)) * kMillisecond);
    go.set();
  });
  if (!with_group) return;
  sim.spawn("group", [] {
    task_group([](TaskGroup& tg) {
      for (int i = 0; i < 2; ++i) {
        tg.start_soon("child", [] {
          move_on_after(3 * kMillisecond, [] {
            for (int k = 0; k < 4; ++k) sim::sleep(static_cast<Nanoseconds>(choose(kNap, 3)) * kMillisecond);
          });
        });
      }
    });
  });
}

struct Recorded {
  RunResult result;
  DecisionLog log;
};

// Runs the workload with the seeded source and keeps the decisions it made.
Recorded record(std::uint64_t seed, Strategy strategy, bool with_group = true) {
  Lock lock("lock");
  Event go("go");
  Simulation sim({.seed = seed, .strategy = strategy});
  spawn_workload(sim, lock, go, false, with_group);
  Recorded out{sim.run(), sim.decisions()};
  return out;
}

// Runs the workload with decisions from `source`.
Recorded replay(ChoiceSource& source, Strategy strategy, bool changed = false, bool with_group = true) {
  Lock lock("lock");
  Event go("go");
  // The seed must not matter when a source is given.
  Simulation sim({.seed = 0xdeadbeef, .strategy = strategy}, source);
  spawn_workload(sim, lock, go, changed, with_group);
  Recorded out{sim.run(), sim.decisions()};
  return out;
}

// The running test's name, usable in a file name ("Suite/Name/param" has slashes).
std::string sanitized_test_name() {
  std::string name = ::testing::UnitTest::GetInstance()->current_test_info()->name();
  for (char& c : name) {
    if (c == '/') c = '_';
  }
  return name;
}

// A file in the temporary directory, removed at the end of the test.
class TempFile {
 public:
  explicit TempFile(const std::string& stem)
      : path_(std::filesystem::temp_directory_path() /
              (stem + "-" + std::to_string(::getpid()) + "-" + sanitized_test_name() + ".log")) {}
  ~TempFile() {
    std::error_code ignored;
    std::filesystem::remove(path_, ignored);
  }
  const std::filesystem::path& path() const { return path_; }
  std::string read() const {
    std::ifstream in(path_, std::ios::binary);
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
  }
  void write(const std::string& text) const {
    std::ofstream out(path_, std::ios::binary | std::ios::trunc);
    out << text;
  }

 private:
  std::filesystem::path path_;
};

std::vector<std::string> split_lines(const std::string& text) {
  std::vector<std::string> lines;
  std::stringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

std::string join_lines(const std::vector<std::string>& lines) {
  std::string out;
  for (const auto& line : lines) out += line + "\n";
  return out;
}

class Replay : public ::testing::TestWithParam<Strategy> {};

TEST_P(Replay, ASavedLogReplaysStrictlyToTheSameHash) {
  for (std::uint64_t seed = 0; seed < 25; ++seed) {
    SCOPED_TRACE(testing::Message() << "seed " << seed << " strategy " << to_string(GetParam()));
    Recorded original = record(seed, GetParam());
    ASSERT_TRUE(original.result.ok()) << status_text(original.result);
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
    ASSERT_TRUE(replayed.result.ok()) << status_text(replayed.result);
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
    ASSERT_TRUE(original.result.ok()) << status_text(original.result);

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
      ASSERT_TRUE(consumed.result.ok()) << status_text(consumed.result);

      // The consumed log, written out and read back, replays strictly.
      consumed.log.tool_version = kVersion;
      TempFile file("asgisim-consumed");
      consumed.log.save(file.path());
      const DecisionLog loaded = DecisionLog::load(file.path());
      ReplayChoiceSource strict(loaded.decisions(), ReplayMode::strict, loaded.first_decision_line());
      const Recorded again = replay(strict, GetParam());
      ASSERT_TRUE(again.result.ok()) << status_text(again.result);
      EXPECT_EQ(again.result.trace_hash, consumed.result.trace_hash);
      EXPECT_TRUE(strict.exhausted());
    }
  }
}

TEST_P(Replay, StrictReplayOfATruncatedLogStopsAtItsEnd) {
  const Recorded original = record(3, GetParam(), /*with_group=*/false);
  ASSERT_TRUE(original.result.ok()) << status_text(original.result);
  ASSERT_GT(original.log.size(), 2u);
  std::vector<Decision> truncated = original.log.decisions();
  truncated.resize(truncated.size() - 2);
  ReplayChoiceSource strict(truncated, ReplayMode::strict);
  const Recorded replayed = replay(strict, GetParam(), false, /*with_group=*/false);
  EXPECT_EQ(replayed.result.status, RunStatus::replay_divergence) << status_text(replayed.result);
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
    ASSERT_TRUE(original.result.ok()) << status_text(original.result);
    ReplayChoiceSource strict(original.log.decisions(), ReplayMode::strict);
    const Recorded replayed = replay(strict, GetParam(), /*changed=*/true, /*with_group=*/false);
    if (replayed.result.ok()) continue;  // this run never reached the changed code
    ++diverged;
    EXPECT_EQ(replayed.result.status, RunStatus::replay_divergence) << status_text(replayed.result);
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
  ASSERT_EQ(result.status, RunStatus::replay_divergence) << status_text(result);
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
  ASSERT_TRUE(original.result.ok()) << status_text(original.result);
  ReplayChoiceSource strict(original.log.decisions(), ReplayMode::strict);
  RunResult result;
  EXPECT_NO_THROW(result = replay(strict, Strategy::pct, false, /*with_group=*/false).result);
  EXPECT_EQ(result.status, RunStatus::replay_divergence) << status_text(result);
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

// ---- corrupted files ------------------------------------------------------------------

class CorruptedFile : public ::testing::Test {
 protected:
  void SetUp() override {
    const Recorded original = record(1, Strategy::random);
    ASSERT_TRUE(original.result.ok());
    DecisionLog log = original.log;
    log.tool_version = kVersion;
    log.config_hash = 0xabc;
    log.save(file_.path());
    lines_ = split_lines(file_.read());
    first_decision_index_ = DecisionLog::load(file_.path()).first_decision_line() - 1;
    ASSERT_GT(lines_.size(), first_decision_index_ + 3);
  }

  // Loads the file after `damage` and returns the error (fails if none).
  DecisionLogError load_damaged() {
    file_.write(join_lines(lines_));
    try {
      DecisionLog::load(file_.path());
    } catch (const DecisionLogError& error) {
      return error;
    }
    ADD_FAILURE() << "a corrupted log was accepted:\n" << join_lines(lines_);
    return DecisionLogError("accepted", 0);
  }

  TempFile file_{"asgisim-corrupt"};
  std::vector<std::string> lines_;
  std::size_t first_decision_index_ = 0;
};

TEST_F(CorruptedFile, ATruncatedFileIsRefused) {
  lines_.resize(first_decision_index_ + 2);  // two decisions, no "end"
  const DecisionLogError error = load_damaged();
  EXPECT_NE(std::string(error.what()).find("truncated"), std::string::npos) << error.what();
  EXPECT_NE(std::string(error.what()).find(file_.path().string()), std::string::npos) << error.what();
}

TEST_F(CorruptedFile, AFileCutMidLineIsRefusedNamingTheLine) {
  lines_.resize(first_decision_index_ + 3);
  std::string& last = lines_.back();
  last = last.substr(0, last.rfind(' '));  // "label stream n" without the value
  const DecisionLogError error = load_damaged();
  EXPECT_EQ(error.line(), first_decision_index_ + 3);
  EXPECT_NE(std::string(error.what())
                .find(std::string(":").append(std::to_string(first_decision_index_ + 3)) + ":"),
            std::string::npos)
      << error.what();
}

TEST_F(CorruptedFile, AGarbledNumberIsRefusedNamingTheLine) {
  lines_[first_decision_index_ + 1] += "x";  // "... <n> <value>x"
  const DecisionLogError error = load_damaged();
  EXPECT_EQ(error.line(), first_decision_index_ + 2);
  EXPECT_NE(std::string(error.what()).find("value is not a decimal number"), std::string::npos)
      << error.what();
}

TEST_F(CorruptedFile, ABadLabelIsRefusedNamingTheLine) {
  std::string& line = lines_[first_decision_index_ + 2];
  line = "bad$label" + line.substr(line.find(' '));
  const DecisionLogError error = load_damaged();
  EXPECT_EQ(error.line(), first_decision_index_ + 3);
  EXPECT_NE(std::string(error.what()).find("invalid label"), std::string::npos) << error.what();
}

TEST_F(CorruptedFile, AnOutOfRangeValueIsRefusedNamingTheLine) {
  std::string& line = lines_[first_decision_index_];
  const std::size_t value_at = line.rfind(' ');
  const std::size_t n_at = line.rfind(' ', value_at - 1);
  const std::string n = line.substr(n_at + 1, value_at - n_at - 1);
  line = line.substr(0, value_at + 1) + n;  // value == n
  const DecisionLogError error = load_damaged();
  EXPECT_EQ(error.line(), first_decision_index_ + 1);
  EXPECT_NE(std::string(error.what()).find("out of range"), std::string::npos) << error.what();
}

TEST_F(CorruptedFile, AMissingFileIsRefused) {
  const std::filesystem::path missing = file_.path().string() + ".missing";
  EXPECT_THROW(DecisionLog::load(missing), DecisionLogError);
}

// ---- fuzzer bytes ---------------------------------------------------------------------

RC_GTEST_PROP(ByteReplay, AnyBytesGiveAValidRunWhoseLogReplaysStrictly,
              (const std::vector<std::uint8_t>& bytes)) {
  const auto strategy = *rc::gen::element(Strategy::fifo, Strategy::random, Strategy::pct);
  ByteChoiceSource source(bytes);
  const Recorded run = replay(source, strategy);
  RC_ASSERT(run.result.ok());
  RC_ASSERT(source.consumed() <= bytes.size());
  ReplayChoiceSource strict(run.log.decisions(), ReplayMode::strict);
  const Recorded again = replay(strict, strategy);
  RC_ASSERT(again.result.ok());
  RC_ASSERT(again.result.trace_hash == run.result.trace_hash);
}

TEST(ByteReplay, TheSameBytesGiveTheSameRunAndEmptyInputIsTheSimplestRun) {
  const std::vector<std::uint8_t> bytes = {7, 1, 200, 3, 99, 42, 0, 5, 17, 250, 8, 8, 8, 1};
  ByteChoiceSource a(bytes);
  ByteChoiceSource b(bytes);
  const Recorded first = replay(a, Strategy::random);
  const Recorded second = replay(b, Strategy::random);
  ASSERT_TRUE(first.result.ok()) << status_text(first.result);
  EXPECT_EQ(first.result.trace_hash, second.result.trace_hash);

  ByteChoiceSource empty(std::span<const std::uint8_t>{});
  const Recorded simplest = replay(empty, Strategy::random);
  ASSERT_TRUE(simplest.result.ok()) << status_text(simplest.result);
  for (const Decision& d : simplest.log.decisions()) EXPECT_EQ(d.value, 0u) << d.label;
}

}  // namespace
}  // namespace asgisim::sim
