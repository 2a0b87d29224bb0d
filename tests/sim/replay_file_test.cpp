// Record and replay from files and bytes: a corrupted decision-log file is
// refused with the line named, and any fuzzer bytes give a valid run whose
// log replays strictly.
#include <gtest/gtest.h>
#include <rapidcheck.h>
#include <rapidcheck/gtest.h>
#include <unistd.h>

#include <cstdint>
#include <filesystem>
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
  ASSERT_TRUE(first.result.ok()) << describe(first.result);
  EXPECT_EQ(first.result.trace_hash, second.result.trace_hash);

  ByteChoiceSource empty(std::span<const std::uint8_t>{});
  const Recorded simplest = replay(empty, Strategy::random);
  ASSERT_TRUE(simplest.result.ok()) << describe(simplest.result);
  for (const Decision& d : simplest.log.decisions()) EXPECT_EQ(d.value, 0u) << d.label;
}

}  // namespace
}  // namespace asgisim::sim
