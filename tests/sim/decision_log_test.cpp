// Tests of the decision-log text format (decision_log.hpp): the documented
// layout, labels' storage, files, and random logs round-tripping.
#include "asgisim/sim/decision_log.hpp"

#include <gtest/gtest.h>
#include <rapidcheck.h>
#include <rapidcheck/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "sim/decision_log_examples.hpp"

namespace asgisim::sim {
namespace {

using namespace log_examples;

void expect_same(const DecisionLog& actual, const DecisionLog& expected) {
  EXPECT_EQ(actual.tool_version, expected.tool_version);
  EXPECT_EQ(actual.config_hash, expected.config_hash);
  EXPECT_EQ(actual.metadata, expected.metadata);
  ASSERT_EQ(actual.size(), expected.size());
  for (std::size_t i = 0; i < actual.size(); ++i) {
    const Decision& a = actual.decisions()[i];
    const Decision& e = expected.decisions()[i];
    EXPECT_EQ(a.label, e.label) << "decision " << i;
    EXPECT_EQ(a.stream, e.stream) << "decision " << i;
    EXPECT_EQ(a.n, e.n) << "decision " << i;
    EXPECT_EQ(a.value, e.value) << "decision " << i;
  }
}

TEST(DecisionLogTest, WritesTheDocumentedFormat) { EXPECT_EQ(example_log().to_text(), kExample); }

TEST(DecisionLogTest, ParsesTheDocumentedFormat) {
  const DecisionLog log = DecisionLog::parse(kExample, "example.log");
  expect_same(log, example_log());
  EXPECT_EQ(log.first_decision_line(), 7u);
  EXPECT_EQ(example_log().first_decision_line(), 0u);
}

TEST(DecisionLogTest, ParsedLabelsOutliveTheText) {
  DecisionLog log;
  {
    std::string text = kExample;
    log = DecisionLog::parse(text);
    text.assign(text.size(), 'x');
  }
  EXPECT_EQ(log.decisions()[1].label, "client.disconnect");
}

TEST(DecisionLogTest, CopyOwnsItsLabels) {
  DecisionLog copy;
  {
    const DecisionLog original = DecisionLog::parse(kExample);
    copy = original;
    EXPECT_NE(copy.decisions()[0].label.data(), original.decisions()[0].label.data());
    const DecisionLog constructed(original);
    EXPECT_NE(constructed.decisions()[0].label.data(), original.decisions()[0].label.data());
  }
  EXPECT_EQ(copy.decisions()[0].label, "sched.pick");
  EXPECT_EQ(copy.to_text(), kExample);
}

TEST(DecisionLogTest, OwnLabelsSharesStorageBetweenEqualLabels) {
  std::string name = "sched.pick";
  DecisionLog log;
  log.record({name, Stream::scheduler, 2, 0});
  log.record({name, Stream::scheduler, 3, 2});
  log.own_labels();
  name = "xxxxx.xxxx";
  EXPECT_EQ(log.decisions()[0].label, "sched.pick");
  EXPECT_EQ(log.decisions()[0].label.data(), log.decisions()[1].label.data());
}

TEST(DecisionLogTest, AcceptsCommentsBlankLinesCrlfTabsAndNoFinalNewline) {
  const std::string text =
      "# recorded by asgisim\r\n"
      "\r\n"
      "asgisim-decisions 1\r\n"
      "# a comment in the header\r\n"
      "tool-version 0.1.0\r\n"
      "config-hash 0x9F3C2A10D4E5B6C7\r\n"
      "seed\t42\r\n"
      "strategy random\r\n"
      "decisions 3\r\n"
      "sched.pick  scheduler\t2 1\r\n"
      "client.disconnect clients 4 000\r\n"
      "fault.slow faults 2 1\r\n"
      "end\r\n"
      "\r\n"
      "# trailing comment without a final newline";
  const DecisionLog log = DecisionLog::parse(text);
  expect_same(log, example_log());
  EXPECT_EQ(log.first_decision_line(), 10u);
  expect_same(DecisionLog::parse(kExample.substr(0, kExample.size() - 1)), example_log());
}

TEST(DecisionLogTest, MetadataValuesKeepSpaces) {
  DecisionLog log = example_log();
  log.metadata["scenario"] = "base http middleware  (buggy) ";
  log.metadata["empty"] = "";
  log.tool_version = "";
  const DecisionLog parsed = DecisionLog::parse(log.to_text());
  expect_same(parsed, log);
  EXPECT_EQ(parsed.to_text(), log.to_text());
}

TEST(DecisionLogTest, EmptyLogRoundTrips) {
  const DecisionLog log;
  const DecisionLog parsed = DecisionLog::parse(log.to_text());
  expect_same(parsed, log);
  EXPECT_EQ(parsed.size(), 0u);
}

TEST(DecisionLogTest, RefusesToWriteWhatCannotBeReadBack) {
  const auto rejects = [](auto&& change) {
    DecisionLog log = example_log();
    change(log);
    EXPECT_THROW(log.to_text(), std::invalid_argument);
  };
  rejects([](DecisionLog& log) { log.mutable_decisions()[0].label = "two words"; });
  rejects([](DecisionLog& log) { log.mutable_decisions()[0].label = ""; });
  rejects([](DecisionLog& log) { log.mutable_decisions()[0].n = 1; });
  rejects([](DecisionLog& log) { log.mutable_decisions()[0].value = 2; });
  rejects([](DecisionLog& log) { log.mutable_decisions()[0].stream = static_cast<Stream>(9); });
  rejects([](DecisionLog& log) { log.metadata["two words"] = "x"; });
  rejects([](DecisionLog& log) { log.metadata["#hash"] = "x"; });
  rejects([](DecisionLog& log) { log.metadata["decisions"] = "x"; });
  rejects([](DecisionLog& log) { log.metadata["end"] = "x"; });
  rejects([](DecisionLog& log) { log.metadata[""] = "x"; });
  rejects([](DecisionLog& log) { log.metadata["key"] = "line\nbreak"; });
  rejects([](DecisionLog& log) { log.metadata["key"] = "carriage\rreturn"; });
  rejects([](DecisionLog& log) { log.tool_version = "0.1\n"; });
}

// ---- files -------------------------------------------------------------------

std::filesystem::path temp_path(const std::string& name) {
  return std::filesystem::path(::testing::TempDir()) / ("asgisim_decision_log_test_" + name);
}

TEST(DecisionLogFileTest, SaveAndLoadRoundTrip) {
  const auto path = temp_path("round_trip.log");
  example_log().save(path);
  const DecisionLog loaded = DecisionLog::load(path);
  expect_same(loaded, example_log());
  EXPECT_EQ(loaded.first_decision_line(), 7u);
  std::filesystem::remove(path);
}

TEST(DecisionLogFileTest, LoadErrorsNameThePath) {
  const auto missing = temp_path("does_not_exist.log");
  try {
    DecisionLog::load(missing);
    ADD_FAILURE() << "loaded a missing file";
  } catch (const DecisionLogError& error) {
    EXPECT_NE(std::string(error.what()).find(missing.string()), std::string::npos) << error.what();
    EXPECT_NE(std::string(error.what()).find("No such file"), std::string::npos) << error.what();
  }

  const auto truncated = temp_path("truncated.log");
  {
    std::ofstream out(truncated, std::ios::binary);
    out << first_lines(8);
  }
  try {
    DecisionLog::load(truncated);
    ADD_FAILURE() << "loaded a truncated file";
  } catch (const DecisionLogError& error) {
    EXPECT_EQ(std::string(error.what()).rfind(truncated.string() + ":8: ", 0), 0u) << error.what();
  }
  std::filesystem::remove(truncated);

  EXPECT_THROW(DecisionLog::load(::testing::TempDir()), DecisionLogError);  // a directory
}

TEST(DecisionLogFileTest, SaveErrorNamesThePath) {
  const std::filesystem::path unwritable = temp_path("no_such_directory") / "run.log";
  try {
    example_log().save(unwritable);
    ADD_FAILURE() << "saved into a missing directory";
  } catch (const std::runtime_error& error) {
    EXPECT_NE(std::string(error.what()).find(unwritable.string()), std::string::npos) << error.what();
  }
}

RC_GTEST_PROP(DecisionLogProperty, AnyLogRoundTrips, ()) {
  std::vector<std::string> labels;
  const DecisionLog log = gen_log(labels);
  const std::string text = log.to_text();
  const DecisionLog parsed = DecisionLog::parse(text);
  RC_ASSERT(same(parsed, log));
  RC_ASSERT(parsed.to_text() == text);
}

}  // namespace
}  // namespace asgisim::sim
