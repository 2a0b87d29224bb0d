// Example decision logs shared by the decision-log tests: the documented
// example (text and object), RapidCheck generators of random logs, and a
// field-by-field comparison.
#pragma once

#include <rapidcheck.h>

#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "asgisim/sim/decision_log.hpp"

namespace asgisim::sim::log_examples {

inline const std::string kExample =
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

inline DecisionLog example_log() {
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

// The example's lines, without their newlines.
inline std::vector<std::string> example_lines() {
  std::vector<std::string> lines;
  std::size_t start = 0;
  while (start < kExample.size()) {
    const std::size_t end = kExample.find('\n', start);
    lines.push_back(kExample.substr(start, end - start));
    start = end + 1;
  }
  return lines;
}

inline std::string join(const std::vector<std::string>& lines) {
  std::string text;
  for (const std::string& line : lines) text += line + "\n";
  return text;
}

// The first `count` lines of the example.
inline std::string first_lines(std::size_t count) {
  std::vector<std::string> lines = example_lines();
  lines.resize(count);
  return join(lines);
}

inline rc::Gen<std::string> gen_text_without_newlines() {
  return rc::gen::container<std::string>(
      rc::gen::suchThat(rc::gen::arbitrary<char>(), [](char c) { return c != '\n' && c != '\r'; }));
}

inline rc::Gen<std::string> gen_label() {
  static const std::string kChars = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-:/";
  return rc::gen::nonEmpty(rc::gen::container<std::string>(rc::gen::elementOf(kChars)));
}

inline rc::Gen<std::string> gen_metadata_key() {
  const auto key_char = rc::gen::suchThat(
      rc::gen::arbitrary<char>(), [](char c) { return c != ' ' && c != '\t' && c != '\n' && c != '\r'; });
  return rc::gen::suchThat(
      rc::gen::nonEmpty(rc::gen::container<std::string>(key_char)), [](const std::string& key) {
        return key.front() != '#' && key != "asgisim-decisions" && key != "tool-version" &&
               key != "config-hash" && key != "decisions" && key != "end";
      });
}

// A random log whose labels live in `labels` (reserved so views stay valid).
inline DecisionLog gen_log(std::vector<std::string>& labels) {
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

inline bool same(const DecisionLog& a, const DecisionLog& b) {
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

}  // namespace asgisim::sim::log_examples
