// The shrinker's state: trying a candidate decision log (lenient replay, then
// re-synchronised by label) and keeping the smallest run that still fails the
// same way. The passes that make candidates are in shrink.cpp.
#include "shrink_search.hpp"

#include <algorithm>

#include "asgisim/sim/assert.hpp"

namespace asgisim::scenarios::detail {

namespace {

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

// Two independent hashes of what a candidate asks and answers.
std::pair<std::uint64_t, std::uint64_t> fingerprint(const Decisions& candidate) {
  constexpr std::uint64_t kFnvPrime = 0x100000001b3ULL;
  std::uint64_t a = 0xcbf29ce484222325ULL;  // FNV-1a
  std::uint64_t b = 0x9e3779b97f4a7c15ULL;  // a multiply-rotate mix
  const auto mix = [&](std::uint64_t word) {
    a = (a ^ word) * kFnvPrime;
    b = std::rotl((b ^ word) * 0xbf58476d1ce4e5b9ULL, 29) + 0x94d049bb133111ebULL;
  };
  mix(candidate.size());
  for (const sim::Decision& d : candidate) {
    for (const char c : d.label) mix(static_cast<unsigned char>(c));
    mix(static_cast<std::uint64_t>(d.stream));
    mix(d.n);
    mix(d.value);
  }
  return {a, b};
}

}  // namespace

bool shortlex_smaller(const Decisions& a, const Decisions& b) {
  if (a.size() != b.size()) return a.size() < b.size();
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (a[i].value != b[i].value) return a[i].value < b[i].value;
  }
  return false;
}

ShrinkSearch::ShrinkSearch(const ShrinkRunner& run, const ShrinkOptions& options, RunOutcome failing)
    : run_(run), max_attempts_(options.max_attempts), best_(std::move(failing)) {
  if (options.time_budget) {
    deadline_ = std::chrono::steady_clock::now() + *options.time_budget;  // nondeterminism-ok: time budget
  }
  relabel(best_.decisions.mutable_decisions());
  tried_.insert(fingerprint(current()));
}

void ShrinkSearch::relabel(Decisions& decisions) {
  for (sim::Decision& d : decisions) d.label = *labels_.emplace(d.label).first;
}

bool ShrinkSearch::budget_left() {
  if (exhausted_) return false;
  // The time budget only ends the search (outside any run); where it ends is
  // the machine's speed, as ShrinkOptions::time_budget says.
  const bool out_of_time =
      deadline_ && std::chrono::steady_clock::now() >= *deadline_;  // nondeterminism-ok: ends the search
  if (attempts_ >= max_attempts_ || out_of_time) {
    exhausted_ = true;
  }
  return !exhausted_;
}

bool ShrinkSearch::first_time(const Decisions& candidate) {
  return tried_.insert(fingerprint(candidate)).second;
}

bool ShrinkSearch::attempt(const Decisions& candidate) {
  sibling_.clear();
  if (!first_time(candidate)) return false;
  bool aligned = false;
  if (attempt_lenient(candidate, aligned)) return true;
  // When every answer went to the question it was recorded for, the
  // re-synchronised run would be the same run.
  return !aligned && attempt_resync(candidate);
}

bool ShrinkSearch::attempt_lenient(const Decisions& candidate, bool& aligned) {
  aligned = true;
  if (!budget_left()) return false;
  ++attempts_;
  sim::DecisionLog log;
  for (const sim::Decision& d : candidate) log.record(d);
  RunOutcome outcome = run_({.kind = ShrinkRun::Kind::lenient, .log = &log});
  const Decisions& asked = outcome.decisions.decisions();
  aligned = asked.size() >= candidate.size() &&
            std::equal(candidate.begin(), candidate.end(), asked.begin(), [](const auto& x, const auto& y) {
              return x.label == y.label && x.stream == y.stream;
            });
  return keep_if_better(std::move(outcome));
}

bool ShrinkSearch::attempt_resync(const Decisions& candidate) {
  if (!budget_left()) return false;
  ++attempts_;
  sim::DecisionLog log;
  for (const sim::Decision& d : candidate) log.record(d);
  return keep_if_better(run_({.kind = ShrinkRun::Kind::resync, .log = &log}));
}

bool ShrinkSearch::keep_if_better(RunOutcome outcome) {
  if (outcome.failure != best_.failure || outcome.invariant != best_.invariant) return false;
  if (!shortlex_smaller(outcome.decisions.decisions(), current())) {
    if (sibling_.empty()) {
      sibling_ = outcome.decisions.decisions();
      relabel(sibling_);
    }
    return false;
  }
  const std::size_t size_before = current().size();
  relabel(outcome.decisions.mutable_decisions());
  best_ = std::move(outcome);
  // Each step is strictly smaller (shortlex): the search terminates and a
  // shrunk log is never longer than the failing one.
  ASGISIM_ASSERT(current().size() <= size_before && best_.failed());
  // The consumed log is itself a candidate whose verdict is now known.
  tried_.insert(fingerprint(current()));
  return true;
}

}  // namespace asgisim::scenarios::detail

namespace asgisim::scenarios {

RunOutcome run_for_shrink(const Scenario& scenario, ConfigKind config, const ShrinkRun& run,
                          const RunSettings& settings) {
  switch (run.kind) {
    case ShrinkRun::Kind::seed:
      return run_seed(scenario, config, run.seed, settings);
    case ShrinkRun::Kind::lenient:
      return run_schedule(scenario, config, *run.log, sim::ReplayMode::lenient, settings);
    case ShrinkRun::Kind::resync: {
      detail::ResyncChoiceSource source(run.log->decisions());
      return run_source(scenario, config, source, settings);
    }
    case ShrinkRun::Kind::strict:
      break;
  }
  return run_schedule(scenario, config, *run.log, sim::ReplayMode::strict, settings);
}

}  // namespace asgisim::scenarios
