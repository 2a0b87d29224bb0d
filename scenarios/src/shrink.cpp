// Shrinking a failing run, Hypothesis style, over its decision log: shorter
// logs and smaller values are tried by lenient replay, and a candidate is
// kept only when it fails the same invariant and the log the run actually
// consumed is smaller (shortlex), so the search always terminates.
//
// Each candidate is replayed twice if need be: plainly (lenient: values by
// position), then re-synchronised by label, so that lowering a count (a
// loop's length, how many clients) also drops the decisions the shorter
// loop no longer asks for, instead of shifting every later answer.
#include <algorithm>
#include <bit>
#include <vector>

#include "asgisim/scenarios/engine.hpp"
#include "asgisim/sim/assert.hpp"

namespace asgisim::scenarios {
namespace {

using Decisions = std::vector<sim::Decision>;

// Shortlex: fewer decisions first, then smaller values in order.
bool smaller(const Decisions& a, const Decisions& b) {
  if (a.size() != b.size()) return a.size() < b.size();
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (a[i].value != b[i].value) return a[i].value < b[i].value;
  }
  return false;
}

// Answers each question with the next recorded decision of the same label,
// skipping the ones in between; 0 when no later decision has that label.
class ResyncChoiceSource final : public sim::ChoiceSource {
 public:
  explicit ResyncChoiceSource(const Decisions& decisions) : decisions_(decisions) {}
  std::uint64_t choose(sim::Label where, std::uint64_t n) override {
    for (std::size_t i = position_; i < decisions_.size(); ++i) {
      if (decisions_[i].label == where.name && decisions_[i].stream == where.stream) {
        position_ = i + 1;
        return std::min(decisions_[i].value, n - 1);
      }
    }
    return 0;
  }

 private:
  const Decisions& decisions_;
  std::size_t position_ = 0;
};

class Shrinker {
 public:
  Shrinker(const ShrinkRunner& run, std::size_t max_attempts, RunOutcome failing)
      : run_(run), max_attempts_(max_attempts), best_(std::move(failing)) {}

  void run() {
    // Coarse to fine: spans no shorter than `min_span_` until they stop
    // helping, then shorter ones; single values last. A long log (thousands
    // of scheduling decisions) would otherwise spend the whole budget on
    // single-decision deletions near its start.
    min_span_ = std::max<std::size_t>(1, current().size() / 64);
    bool improved = true;
    while (improved && budget_left()) {
      // Cheap and broad first: a shorter prefix, then whole spans of zeros
      // (the simplest schedule), then deletions, then single values.
      improved = truncate();
      improved = zero_spans() || improved;
      improved = delete_spans() || improved;
      if (min_span_ == 1) improved = reduce_values() || improved;
      if (!improved && min_span_ > 1) {
        min_span_ /= 4;
        min_span_ = std::max<std::size_t>(min_span_, 1);
        improved = true;
      }
    }
  }

  RunOutcome& best() { return best_; }
  std::size_t attempts() const { return attempts_; }

 private:
  bool budget_left() const { return attempts_ < max_attempts_; }
  const Decisions& current() const { return best_.decisions.decisions(); }

  // Replays `candidate` (by position, then by label); keeps it when it
  // still fails the same way.
  bool attempt(const Decisions& candidate) {
    bool aligned = false;
    if (attempt_lenient(candidate, aligned)) return true;
    // When every answer went to the question it was recorded for, the
    // re-synchronised run would be the same run.
    return !aligned && attempt_resync(candidate);
  }

  bool attempt_lenient(const Decisions& candidate, bool& aligned) {
    if (!budget_left()) return false;
    ++attempts_;
    sim::DecisionLog log;
    for (const sim::Decision& d : candidate) log.record(d);
    RunOutcome outcome = run_({.kind = ShrinkRun::Kind::lenient, .log = &log});
    const Decisions& asked = outcome.decisions.decisions();
    aligned = asked.size() >= candidate.size() &&
              std::equal(candidate.begin(), candidate.end(), asked.begin(), [](const auto& a, const auto& b) {
                return a.label == b.label && a.stream == b.stream;
              });
    return keep_if_better(std::move(outcome));
  }

  bool attempt_resync(const Decisions& candidate) {
    if (!budget_left()) return false;
    ++attempts_;
    sim::DecisionLog log;
    for (const sim::Decision& d : candidate) log.record(d);
    return keep_if_better(run_({.kind = ShrinkRun::Kind::resync, .log = &log}));
  }

  bool keep_if_better(RunOutcome outcome) {
    if (outcome.failure != best_.failure || outcome.invariant != best_.invariant) return false;
    if (!smaller(outcome.decisions.decisions(), current())) return false;
    const std::size_t size_before = current().size();
    best_ = std::move(outcome);
    // Each step is strictly smaller (shortlex): the search terminates and a
    // shrunk log is never longer than the failing one.
    ASGISIM_ASSERT(current().size() <= size_before && best_.failed());
    return true;
  }

  // The shortest failing prefix, by halving: an exhausted log answers 0.
  bool truncate() {
    bool improved = false;
    std::size_t keep = current().size() / 2;
    while (keep > 0 && budget_left()) {
      const Decisions prefix(current().begin(), current().begin() + static_cast<std::ptrdiff_t>(keep));
      if (attempt(prefix)) {
        improved = true;
        keep = std::min(keep, current().size()) / 2;
      } else {
        break;
      }
    }
    return improved;
  }

  bool delete_spans() {
    bool improved = false;
    for (std::size_t span = std::bit_floor(std::max<std::size_t>(current().size() / 2, 1)); span >= min_span_;
         span /= 2) {
      for (std::size_t at = 0; at + span <= current().size() && budget_left();) {
        Decisions candidate = current();
        candidate.erase(candidate.begin() + static_cast<std::ptrdiff_t>(at),
                        candidate.begin() + static_cast<std::ptrdiff_t>(at + span));
        if (attempt(candidate)) {
          improved = true;  // the same position now holds the next span
        } else {
          at += span;
        }
      }
    }
    return improved;
  }

  bool zero_spans() {
    bool improved = false;
    for (std::size_t span = std::bit_floor(std::max<std::size_t>(current().size() / 2, 1)); span >= min_span_;
         span /= 2) {
      for (std::size_t at = 0; at + span <= current().size() && budget_left(); at += span) {
        Decisions candidate = current();
        bool changed = false;
        for (std::size_t i = at; i < at + span; ++i) {
          changed = changed || candidate[i].value != 0;
          candidate[i].value = 0;
        }
        if (changed) improved = attempt(candidate) || improved;
      }
    }
    return improved;
  }

  // Halve, then decrement, each value that is still non-zero.
  bool reduce_values() {
    bool improved = false;
    for (std::size_t i = 0; i < current().size() && budget_left(); ++i) {
      for (const bool halve : {true, false}) {
        if (i >= current().size() || current()[i].value == 0) break;
        Decisions candidate = current();
        candidate[i].value = halve ? candidate[i].value / 2 : candidate[i].value - 1;
        improved = attempt(candidate) || improved;
      }
    }
    return improved;
  }

  const ShrinkRunner& run_;
  const std::size_t max_attempts_;
  RunOutcome best_;
  std::size_t attempts_ = 0;
  std::size_t min_span_ = 1;
};

}  // namespace

RunOutcome run_for_shrink(const Scenario& scenario, ConfigKind config, const ShrinkRun& run,
                          const RunSettings& settings) {
  switch (run.kind) {
    case ShrinkRun::Kind::seed:
      return run_seed(scenario, config, run.seed, settings);
    case ShrinkRun::Kind::lenient:
      return run_schedule(scenario, config, *run.log, sim::ReplayMode::lenient, settings);
    case ShrinkRun::Kind::resync: {
      ResyncChoiceSource source(run.log->decisions());
      return run_source(scenario, config, source, settings);
    }
    case ShrinkRun::Kind::strict:
      break;
  }
  return run_schedule(scenario, config, *run.log, sim::ReplayMode::strict, settings);
}

ShrinkResult shrink(const Scenario& scenario, ConfigKind config, std::uint64_t seed,
                    const RunSettings& settings, std::size_t max_attempts) {
  RunSettings quiet = settings;
  quiet.keep_trace = false;  // thousands of replays: no trace export
  const ShrinkRunner run = [&](const ShrinkRun& which) {
    const bool attempt = which.kind == ShrinkRun::Kind::lenient || which.kind == ShrinkRun::Kind::resync;
    return run_for_shrink(scenario, config, which, attempt ? quiet : settings);
  };
  return shrink(seed, run, max_attempts);
}

ShrinkResult shrink(std::uint64_t seed, const ShrinkRunner& run, std::size_t max_attempts) {
  RunOutcome original = run({.kind = ShrinkRun::Kind::seed, .seed = seed});
  ShrinkResult result;
  result.original_decisions = original.decisions.size();
  // A passing run has nothing to shrink; a nondeterministic one cannot be
  // shrunk by replay (its failure does not follow from its choices).
  if (!original.failed() || original.failure == FailureClass::nondeterminism) {
    result.log = original.decisions;
    result.outcome = std::move(original);
    return result;
  }
  Shrinker shrinker(run, max_attempts, original);
  shrinker.run();
  result.attempts = shrinker.attempts();
  ASGISIM_ASSERT(result.attempts <= max_attempts);
  ASGISIM_ASSERT(shrinker.best().decisions.size() <= result.original_decisions,
                 "shrinking grew the log from {} to {} decisions", result.original_decisions,
                 shrinker.best().decisions.size());
  ASGISIM_ASSERT(shrinker.best().failure == original.failure &&
                 shrinker.best().invariant == original.invariant);
  // The log a lenient run consumed replays strictly; confirm it does.
  result.log = shrinker.best().decisions;
  result.log.metadata["seed"] = std::to_string(seed);
  result.log.metadata["shrunk-from"] = std::to_string(result.original_decisions);
  result.outcome = run({.kind = ShrinkRun::Kind::strict, .log = &result.log});
  result.outcome.seed = seed;
  return result;
}

}  // namespace asgisim::scenarios
