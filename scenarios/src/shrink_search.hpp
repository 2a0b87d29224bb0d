// The shrinker's state (shrink.cpp holds its passes): the smallest failing
// run found so far, and how a candidate decision log is tried against it.
//
// A candidate is replayed leniently (values by position; an exhausted log
// answers 0), then, when its decisions did not all go to the questions they
// were recorded for, re-synchronised by label, so that lowering a count (a
// loop's length, how many clients) drops the decisions the shorter loop no
// longer asks for instead of shifting every later answer. It is kept when
// the run fails with the same class and invariant and the log the run
// consumed is smaller (shortlex: fewer decisions, then smaller values in
// order), so the search always terminates. A candidate tried once is never
// run again (its verdict cannot change).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "asgisim/scenarios/engine.hpp"

namespace asgisim::scenarios::detail {

using Decisions = std::vector<sim::Decision>;

// Shortlex: fewer decisions first, then smaller values in order.
bool shortlex_smaller(const Decisions& a, const Decisions& b);

class ShrinkSearch {
 public:
  // Every run goes through `run` (lenient and resync kinds).
  ShrinkSearch(const ShrinkRunner& run, const ShrinkOptions& options, RunOutcome failing);

  // Tries `candidate`; true when its run became the new best.
  bool attempt(const Decisions& candidate);
  // After an attempt that was not kept: the log its run consumed when that
  // run failed the same way (but was not smaller); empty otherwise.
  const Decisions& sibling() const { return sibling_; }
  // False once the attempts or the time budget are spent.
  bool budget_left();

  const Decisions& current() const { return best_.decisions.decisions(); }
  RunOutcome& best() { return best_; }
  std::size_t attempts() const { return attempts_; }
  bool budget_exhausted() const { return exhausted_; }

 private:
  bool attempt_lenient(const Decisions& candidate, bool& aligned);
  bool attempt_resync(const Decisions& candidate);
  bool keep_if_better(RunOutcome outcome);
  // Points the labels of `decisions` into labels_, so that candidates made
  // from a best that was since replaced keep valid labels.
  void relabel(Decisions& decisions);
  // Records the candidate; false when it was tried before.
  bool first_time(const Decisions& candidate);

  const ShrinkRunner& run_;
  const std::size_t max_attempts_;
  std::optional<std::chrono::steady_clock::time_point> deadline_;  // nondeterminism-ok: the time budget
  RunOutcome best_;
  std::size_t attempts_ = 0;
  bool exhausted_ = false;
  Decisions sibling_;
  std::set<std::string, std::less<>> labels_;  // nodes never move
  // Two independent 64-bit hashes of each candidate tried: a collision only
  // skips a candidate, it never keeps a wrong one.
  std::set<std::pair<std::uint64_t, std::uint64_t>> tried_;
};

}  // namespace asgisim::scenarios::detail
