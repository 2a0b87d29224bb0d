// Tests of the decision-log parser (decision_log.hpp): every kind of malformed
// input names its line, and parsing random or damaged text is total.
#include "asgisim/sim/decision_log.hpp"

#include <gtest/gtest.h>
#include <rapidcheck.h>
#include <rapidcheck/gtest.h>

#include <string>
#include <vector>

#include "sim/decision_log_examples.hpp"

namespace asgisim::sim {
namespace {

using namespace log_examples;

// ---- malformed input ---------------------------------------------------------

// The example with line `number` (1-based) replaced; an empty replacement
// list removes it.
std::string with_line(std::size_t number, std::vector<std::string> replacement) {
  std::vector<std::string> lines = example_lines();
  lines.erase(lines.begin() + static_cast<std::ptrdiff_t>(number - 1));
  lines.insert(lines.begin() + static_cast<std::ptrdiff_t>(number - 1), replacement.begin(),
               replacement.end());
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
