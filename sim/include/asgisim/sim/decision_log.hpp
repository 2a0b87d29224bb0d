// The decision log: every labelled decision a run made, in order, and its
// small versioned text format. A log recorded by any source replays strictly.
//
// File format (version 1), one item per line, '#' starts a comment line:
//
//   asgisim-decisions 1
//   tool-version 0.1.0
//   config-hash 0x9f3c2a10d4e5b6c7
//   strategy random              (free-form key/value metadata lines follow,
//   seed 42                       one "key value" each, until "decisions N")
//   decisions 3
//   sched.pick scheduler 2 1
//   client.disconnect clients 4 0
//   fault.slow faults 2 1
//   end
//
// Each decision line is "<label> <stream> <n> <value>" with 2 <= n and
// value < n. The trailing "end" line detects truncation.
#pragma once

#include <cstdint>
#include <deque>
#include <filesystem>
#include <map>
#include <set>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "asgisim/sim/choice.hpp"

namespace asgisim::sim {

// A malformed, truncated or unreadable decision-log file. what() names the
// file, the line and the problem.
class DecisionLogError : public std::runtime_error {
 public:
  DecisionLogError(const std::string& message, std::size_t line);
  std::size_t line() const { return line_; }

 private:
  std::size_t line_;
};

class DecisionLog {
 public:
  static constexpr int kFormatVersion = 1;

  DecisionLog() = default;
  // A copy owns its labels again when the original did: decisions must not
  // point into another log's storage, which may die first.
  DecisionLog(const DecisionLog& other);
  DecisionLog& operator=(const DecisionLog& other);
  // Moving keeps label storage in place (std::deque/std::set moves do not
  // relocate elements), so decisions stay valid.
  DecisionLog(DecisionLog&&) = default;
  DecisionLog& operator=(DecisionLog&&) = default;

  void record(const Decision& decision) { decisions_.push_back(decision); }
  void clear() { decisions_.clear(); }
  const std::vector<Decision>& decisions() const { return decisions_; }
  std::vector<Decision>& mutable_decisions() { return decisions_; }
  std::size_t size() const { return decisions_.size(); }

  // Metadata stored in the header. `tool_version` and `config_hash` are
  // compared by callers (replay warns when they differ from the running
  // build's); the rest is free-form ("strategy", "seed", "scenario", ...).
  std::string tool_version;
  std::uint64_t config_hash = 0;
  std::map<std::string, std::string> metadata;

  // Copies label names into storage owned by this log, so that the log stays
  // valid after the run that recorded it (and its literals) is gone.
  void own_labels();

  // Throws std::invalid_argument when the log cannot be written faithfully:
  // an invalid label, n < 2, value >= n, a metadata key that is not a token or
  // is reserved, or a newline in a value.
  std::string to_text() const;
  // Throws DecisionLogError ("<origin>:<line>: <problem>") on any malformed,
  // truncated or trailing input; never accepts a log it could not write back.
  static DecisionLog parse(std::string_view text, const std::string& origin = "<memory>");

  void save(const std::filesystem::path& path) const;          // throws std::runtime_error naming the path
  static DecisionLog load(const std::filesystem::path& path);  // throws DecisionLogError

  // Line number (1-based) of the first decision line in the text it was
  // parsed from; 0 for a log recorded in memory.
  std::size_t first_decision_line() const { return first_decision_line_; }

 private:
  std::string_view intern(std::string_view name);

  std::vector<Decision> decisions_;
  std::deque<std::string> label_storage_;
  std::set<std::string_view, std::less<>> label_index_;  // views into label_storage_
  std::size_t first_decision_line_ = 0;
};

}  // namespace asgisim::sim
