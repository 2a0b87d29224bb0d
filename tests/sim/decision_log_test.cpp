// Tests of the decision-log text format: the documented layout, every kind of
// malformed input, files, and properties over random logs and random text.
#include "asgisim/sim/decision_log.hpp"

#include <gtest/gtest.h>
#include <rapidcheck.h>
#include <rapidcheck/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <limits>
#include <string>
#include <vector>

namespace asgisim::sim {
namespace {

const std::string kExample =
    "asgisim-decisions 1\n"
    "tool-version 0.1.0\n"
    "config-hash 0x9f3c2a10d4e5b6c7\n"
    "seed 42\n"
    "strategy random\n"
    "decisions 3\n"
    "sched.pick scheduler 2 1\n"
    "client.disconnect clients 4 0\n"
    "fault.slow faults 2 1\n"
    "end\n";

DecisionLog example_log() {
  DecisionLog log;
  log.tool_version = "0.1.0";
  log.config_hash = 0x9f3c2a10d4e5b6c7ULL;
  log.metadata["strategy"] = "random";
  log.metadata["seed"] = "42";
  log.record({"sched.pick", Stream::scheduler, 2, 1});
  log.record({"client.disconnect", Stream::clients, 4, 0});
  log.record({"fault.slow", Stream::faults, 2, 1});
  return log;
}

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

// ---- malformed input ---------------------------------------------------------

std::vector<std::string> example_lines() {
  std::vector<std::string> lines;
  std::size_t start = 0;
  while (start < kExample.size()) {
    const std::size_t end = kExample.find('\n', start);
    lines.push_back(kExample.substr(start, end - start));
    start = end + 1;
  }
  return lines;
}

std::string join(const std::vector<std::string>& lines) {
  std::string text;
  for (const std::string& line : lines) text += line + "\n";
  return text;
}

// The example with line `number` (1-based) replaced; an empty replacement
// list removes it.
std::string with_line(std::size_t number, std::vector<std::string> replacement) {
  std::vector<std::string> lines = example_lines();
  lines.erase(lines.begin() + static_cast<std::ptrdiff_t>(number - 1));
  lines.insert(lines.begin() + static_cast<std::ptrdiff_t>(number - 1), replacement.begin(),
               replacement.end());
  return join(lines);
}

std::string first_lines(std::size_t count) {
  std::vector<std::string> lines = example_lines();
  lines.resize(count);
  return join(lines);
}

struct Malformed {
  std::string name;
  std::string text;
  std::size_t line;
  std::string problem;  // a fragment of the message
};

std::vector<Malformed> malformed_cases() {
  const std::string u64_max = std::to_string(std::numeric_limits<std::uint64_t>::max());
  return {
      {"empty", "", 1, "empty decision log"},
      {"only comments", "# nothing\n\n", 2, "empty decision log"},
      {"bad magic", with_line(1, {"asgisim-decision 1"}), 1, "not a decision log"},
      {"json instead", "{\"traceEvents\": []}\n", 1, "not a decision log"},
      {"unsupported version", with_line(1, {"asgisim-decisions 2"}), 1, "unsupported format version 2"},
      {"garbled version", with_line(1, {"asgisim-decisions one"}), 1, "garbled format version"},
      {"missing version", with_line(1, {"asgisim-decisions"}), 1, "garbled format version"},
      {"duplicate magic", with_line(2, {"asgisim-decisions 1", "tool-version 0.1.0"}), 2, "duplicate"},
      {"missing tool-version", with_line(2, {}), 5, "missing 'tool-version'"},
      {"missing config-hash", with_line(3, {}), 5, "missing 'config-hash'"},
      {"duplicate tool-version", with_line(2, {"tool-version 0.1.0", "tool-version 0.2.0"}), 3, "duplicate"},
      {"config-hash without 0x", with_line(3, {"config-hash 9f3c2a10d4e5b6c7"}), 3, "config-hash"},
      {"config-hash not hex", with_line(3, {"config-hash 0x9g"}), 3, "config-hash"},
      {"config-hash empty", with_line(3, {"config-hash 0x"}), 3, "config-hash"},
      {"config-hash too long", with_line(3, {"config-hash 0x19f3c2a10d4e5b6c7"}), 3, "config-hash"},
      {"duplicate metadata", with_line(4, {"seed 42", "seed 43"}), 5, "duplicate metadata key 'seed'"},
      {"indented header line", with_line(4, {" seed 42"}), 4, "expected 'key value'"},
      {"carriage return in key", with_line(4, {"se\red 42"}), 4, "invalid metadata key"},
      {"carriage return in value", with_line(4, {"seed 4\r2"}), 4, "carriage return"},
      {"end in header", with_line(4, {"end"}), 4, "'end' before"},
      {"count not a number", with_line(6, {"decisions three"}), 6, "decision count is not a decimal number"},
      {"count negative", with_line(6, {"decisions -3"}), 6, "decision count is not a decimal number"},
      {"count missing", with_line(6, {"decisions"}), 6, "decision count is not a decimal number"},
      {"count overflow", with_line(6, {"decisions 18446744073709551616"}), 6, "decision count out of range"},
      {"count too large", with_line(6, {"decisions 4"}), 10, "'end' after 3 decisions, but line 6 says 4"},
      {"huge count", with_line(6, {"decisions " + u64_max}), 10, "'end' after 3 decisions"},
      {"count too small", with_line(6, {"decisions 2"}), 9, "expected 'end' after 2 decisions"},
      {"too few fields", with_line(7, {"sched.pick scheduler 2"}), 7,
       "expected '<label> <stream> <n> <value>'"},
      {"too many fields", with_line(7, {"sched.pick scheduler 2 1 0"}), 7, "extra text"},
      {"invalid label", with_line(7, {"sched#pick scheduler 2 1"}), 7, "invalid label 'sched#pick'"},
      {"unknown stream", with_line(7, {"sched.pick schedulers 2 1"}), 7, "unknown stream 'schedulers'"},
      {"n of one", with_line(7, {"sched.pick scheduler 1 0"}), 7, "n must be at least 2"},
      {"n of zero", with_line(7, {"sched.pick scheduler 0 0"}), 7, "n must be at least 2"},
      {"value equals n", with_line(7, {"sched.pick scheduler 2 2"}), 7, "value 2 out of range for n=2"},
      {"value above n", with_line(7, {"sched.pick scheduler 2 " + u64_max}), 7, "out of range"},
      {"n not a number", with_line(7, {"sched.pick scheduler two 1"}), 7, "n is not a decimal number"},
      {"n negative", with_line(7, {"sched.pick scheduler -2 1"}), 7, "n is not a decimal number"},
      {"n hex", with_line(7, {"sched.pick scheduler 0x2 1"}), 7, "n is not a decimal number"},
      {"value not a number", with_line(7, {"sched.pick scheduler 2 1.0"}), 7,
       "value is not a decimal number"},
      {"n overflow", with_line(7, {"sched.pick scheduler 18446744073709551616 1"}), 7, "n out of range"},
      {"value overflow", with_line(7, {"sched.pick scheduler 2 99999999999999999999"}), 7,
       "value out of range"},
      {"comment in block", with_line(8, {"# note", "client.disconnect clients 4 0"}), 8,
       "inside the decision block"},
      {"blank line in block", with_line(8, {"", "client.disconnect clients 4 0"}), 8,
       "inside the decision block"},
      {"truncated before end", first_lines(9), 9, "without the 'end' line"},
      {"truncated mid-block", first_lines(8), 8, "file ends after 2 of 3 decisions"},
      {"truncated mid-line", kExample.substr(0, kExample.find("client.disconnect") + 12), 8,
       "expected '<label>"},
      {"truncated header", first_lines(3), 3, "file ends before the 'decisions N' line"},
      {"trailing garbage", kExample + "sched.pick scheduler 2 1\n", 11, "unexpected text after 'end'"},
      {"second log appended", kExample + kExample, 11, "unexpected text after 'end'"},
      {"end with suffix", with_line(10, {"end."}), 10, "expected 'end' after 3 decisions"},
  };
}

TEST(DecisionLogTest, MalformedInputNamesTheLine) {
  for (const Malformed& bad : malformed_cases()) {
    SCOPED_TRACE(bad.name);
    try {
      DecisionLog::parse(bad.text, "bad.log");
      ADD_FAILURE() << "parsed without error";
    } catch (const DecisionLogError& error) {
      const std::string message = error.what();
      EXPECT_EQ(error.line(), bad.line) << message;
      EXPECT_EQ(message.rfind("bad.log:" + std::to_string(bad.line) + ": ", 0), 0u) << message;
      EXPECT_NE(message.find(bad.problem), std::string::npos) << message;
      EXPECT_EQ(message.find('\n'), std::string::npos) << message;
    }
  }
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

// ---- properties --------------------------------------------------------------

rc::Gen<std::string> gen_text_without_newlines() {
  return rc::gen::container<std::string>(
      rc::gen::suchThat(rc::gen::arbitrary<char>(), [](char c) { return c != '\n' && c != '\r'; }));
}

rc::Gen<std::string> gen_label() {
  static const std::string kChars = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-:/";
  return rc::gen::nonEmpty(rc::gen::container<std::string>(rc::gen::elementOf(kChars)));
}

rc::Gen<std::string> gen_metadata_key() {
  const auto key_char = rc::gen::suchThat(
      rc::gen::arbitrary<char>(), [](char c) { return c != ' ' && c != '\t' && c != '\n' && c != '\r'; });
  return rc::gen::suchThat(
      rc::gen::nonEmpty(rc::gen::container<std::string>(key_char)), [](const std::string& key) {
        return key.front() != '#' && key != "asgisim-decisions" && key != "tool-version" &&
               key != "config-hash" && key != "decisions" && key != "end";
      });
}

// A random log whose labels live in `labels` (reserved so views stay valid).
DecisionLog gen_log(std::vector<std::string>& labels) {
  DecisionLog log;
  log.tool_version = *gen_text_without_newlines();
  log.config_hash = *rc::gen::arbitrary<std::uint64_t>();
  const auto metadata_count = *rc::gen::inRange<std::size_t>(0, 5);
  for (std::size_t i = 0; i < metadata_count; ++i)
    log.metadata[*gen_metadata_key()] = *gen_text_without_newlines();
  const auto decision_count = *rc::gen::inRange<std::size_t>(0, 40);
  labels.reserve(decision_count);
  for (std::size_t i = 0; i < decision_count; ++i) {
    labels.push_back(*gen_label());
    const auto stream = static_cast<Stream>(*rc::gen::inRange<std::size_t>(0, kStreamCount));
    const auto n =
        *rc::gen::oneOf(rc::gen::inRange<std::uint64_t>(2, 10),
                        rc::gen::inRange<std::uint64_t>(2, std::numeric_limits<std::uint64_t>::max()),
                        rc::gen::just(std::numeric_limits<std::uint64_t>::max()));
    const auto value = *rc::gen::inRange<std::uint64_t>(0, n);
    log.record({labels.back(), stream, n, value});
  }
  return log;
}

bool same(const DecisionLog& a, const DecisionLog& b) {
  if (a.tool_version != b.tool_version || a.config_hash != b.config_hash || a.metadata != b.metadata ||
      a.size() != b.size()) {
    return false;
  }
  for (std::size_t i = 0; i < a.size(); ++i) {
    const Decision& x = a.decisions()[i];
    const Decision& y = b.decisions()[i];
    if (x.label != y.label || x.stream != y.stream || x.n != y.n || x.value != y.value) return false;
  }
  return true;
}

RC_GTEST_PROP(DecisionLogProperty, AnyLogRoundTrips, ()) {
  std::vector<std::string> labels;
  const DecisionLog log = gen_log(labels);
  const std::string text = log.to_text();
  const DecisionLog parsed = DecisionLog::parse(text);
  RC_ASSERT(same(parsed, log));
  RC_ASSERT(parsed.to_text() == text);
}

// Parsing either succeeds with a log that writes back and parses to itself,
// or throws DecisionLogError naming the origin; nothing else.
void check_parse_is_total(const std::string& text) {
  try {
    const DecisionLog parsed = DecisionLog::parse(text, "fuzz");
    const DecisionLog again = DecisionLog::parse(parsed.to_text(), "fuzz");
    RC_ASSERT(same(again, parsed));
    RC_TAG("accepted");
  } catch (const DecisionLogError& error) {
    const std::string message = error.what();
    RC_ASSERT(message.rfind("fuzz:" + std::to_string(error.line()) + ": ", 0) == 0);
    RC_ASSERT(error.line() >= 1);
    RC_ASSERT(message.find('\n') == std::string::npos);
    RC_TAG("rejected");
  }
}

RC_GTEST_PROP(DecisionLogProperty, ArbitraryTextNeverCrashes, (const std::string& text)) {
  check_parse_is_total(text);
}

RC_GTEST_PROP(DecisionLogProperty, DamagedLogsNeverCrash, ()) {
  // Random text rarely gets past the first line, so damage valid logs too:
  // truncate, overwrite, insert and delete bytes.
  std::vector<std::string> labels;
  std::string text = gen_log(labels).to_text();
  const auto edits = *rc::gen::inRange(1, 4);
  static const std::string kInteresting = " \t\r\n#0129x-.:";
  for (int i = 0; i < edits && !text.empty(); ++i) {
    const auto at = *rc::gen::inRange<std::size_t>(0, text.size());
    const char byte = *rc::gen::oneOf(rc::gen::elementOf(kInteresting), rc::gen::arbitrary<char>());
    switch (*rc::gen::inRange(0, 4)) {
      case 0:
        text.resize(at);
        break;
      case 1:
        text[at] = byte;
        break;
      case 2:
        text.insert(text.begin() + static_cast<std::ptrdiff_t>(at), byte);
        break;
      default:
        text.erase(at, 1);
        break;
    }
  }
  check_parse_is_total(text);
}

}  // namespace
}  // namespace asgisim::sim
