// Shrinking a failing run over its decision log, after Hypothesis' shrinker:
// passes propose smaller logs, ShrinkSearch (shrink_search.hpp) tries each
// and keeps the ones that still fail the same way.
//
// Broad passes first, until none helps: the shortest failing prefix; every
// decision of one label set to one value (larger ones too); each knob (a
// label asked once: a footprint, a pool size) tried at every value, and a
// change that still fails followed up by binary-searching the counts (how
// many clients, calls) down; each parameter (outside the scheduler's stream)
// set to 0 or binary-searched down; large aligned blocks deleted or zeroed;
// every decision one task asked, or with one label, deleted or zeroed at
// once. Then the fine passes: from every position a deletion and a zeroing
// that grow while they keep working (1, 2, 3, 4, then doubling, then a
// binary search: Hypothesis' find_integer), every other value of each small
// parameter, and every value binary-searched down. When a fine pass helps,
// the broad ones run again; the search ends at a fixpoint or at the budget.
#include <algorithm>
#include <bit>
#include <cstdint>
#include <functional>
#include <map>
#include <string_view>
#include <vector>

#include "asgisim/scenarios/engine.hpp"
#include "asgisim/sim/assert.hpp"
#include "shrink_search.hpp"

namespace asgisim::scenarios {
namespace {

using detail::Decisions;
using detail::ShrinkSearch;

// The largest k with f(k) true, given f(0): probes 1..4, then doubles, then
// binary-searches between the last success and the first failure.
std::size_t find_integer(const std::function<bool(std::size_t)>& f) {
  for (std::size_t k = 1; k <= 4; ++k) {
    if (!f(k)) return k - 1;
  }
  std::size_t low = 4;
  std::size_t high = 8;
  while (f(high)) {
    low = high;
    high *= 2;
  }
  while (low + 1 < high) {
    const std::size_t middle = low + (high - low) / 2;
    if (f(middle)) {
      low = middle;
    } else {
      high = middle;
    }
  }
  return low;
}

Decisions without(const Decisions& base, std::size_t at, std::size_t count) {
  Decisions out;
  out.reserve(base.size() - count);
  out.insert(out.end(), base.begin(), base.begin() + static_cast<std::ptrdiff_t>(at));
  out.insert(out.end(), base.begin() + static_cast<std::ptrdiff_t>(at + count), base.end());
  return out;
}

// Sets [at, at + count) to 0; false when they all were already.
bool zeroed(Decisions& candidate, std::size_t at, std::size_t count) {
  bool changed = false;
  for (std::size_t i = at; i < at + count; ++i) {
    changed = changed || candidate[i].value != 0;
    candidate[i].value = 0;
  }
  return changed;
}

// The values label_values() and alternatives() try.
constexpr std::uint64_t kAlternativesMax = 16;

class Shrinker {
 public:
  explicit Shrinker(ShrinkSearch& search) : search_(search) {}

  void run() {
    for (;;) {
      while (search_.budget_left() && broad_passes()) {
      }
      if (!search_.budget_left() || !fine_passes()) return;
    }
  }

 private:
  const Decisions& current() const { return search_.current(); }

  bool broad_passes() {
    bool improved = truncate();
    improved = label_values() || improved;
    improved = alternatives(/*knobs_only=*/true) || improved;
    improved = minimise_values(/*parameters_only=*/true) || improved;
    improved = blocks(/*remove=*/true) || improved;
    improved = blocks(/*remove=*/false) || improved;
    improved = spans([](const sim::Decision& d) { return std::uint64_t{d.task}; }) || improved;
    improved = spans([this](const sim::Decision& d) { return label_key(d); }) || improved;
    return improved;
  }

  bool fine_passes() {
    bool improved = adaptive(/*remove=*/true);
    improved = adaptive(/*remove=*/false) || improved;
    improved = alternatives(/*knobs_only=*/false) || improved;
    improved = minimise_values(/*parameters_only=*/false) || improved;
    return improved;
  }

  // The shortest failing prefix, by halving: an exhausted log answers 0.
  bool truncate() {
    bool improved = false;
    while (current().size() > 1 && search_.budget_left()) {
      const Decisions prefix(current().begin(),
                             current().begin() + static_cast<std::ptrdiff_t>(current().size() / 2));
      if (!search_.attempt(prefix)) break;
      improved = true;
    }
    return improved;
  }

  // Aligned blocks of n/2, n/4, ... down to kBlockMin decisions, deleted or
  // zeroed; smaller ones are left to adaptive().
  bool blocks(bool remove) {
    constexpr std::size_t kBlockMin = 8;
    bool improved = false;
    for (std::size_t span = std::bit_floor(std::max<std::size_t>(current().size() / 2, 1)); span >= kBlockMin;
         span /= 2) {
      for (std::size_t at = 0; at + span <= current().size() && search_.budget_left();) {
        Decisions candidate = current();
        const bool kept = remove ? search_.attempt(without(candidate, at, span))
                                 : zeroed(candidate, at, span) && search_.attempt(candidate);
        improved = kept || improved;
        // A kept deletion brings the next block to the same position.
        if (!(kept && remove)) at += span;
      }
    }
    return improved;
  }

  // Groups the decisions by `key` (the task that asked them, or their label)
  // and tries each group, in order of first appearance: all deleted, else
  // all zeroed.
  template <typename Key>
  bool spans(Key key) {
    std::map<std::uint64_t, std::size_t> first_seen;
    for (std::size_t i = 0; i < current().size(); ++i) first_seen.emplace(key(current()[i]), i);
    std::vector<std::pair<std::size_t, std::uint64_t>> groups;
    for (const auto& [k, first] : first_seen) groups.emplace_back(first, k);
    std::sort(groups.begin(), groups.end());
    bool improved = false;
    for (const auto& [first, k] : groups) {
      if (!search_.budget_left()) break;
      Decisions kept_part;
      Decisions candidate = current();
      bool any = false;
      bool nonzero = false;
      for (sim::Decision& d : candidate) {
        if (key(d) == k) {
          any = true;
          nonzero = nonzero || d.value != 0;
          d.value = 0;
        } else {
          kept_part.push_back(d);
        }
      }
      if (!any) continue;  // the group is gone from the current log
      if (search_.attempt(kept_part)) {
        improved = true;
      } else if (nonzero) {
        improved = search_.attempt(candidate) || improved;
      }
    }
    return improved;
  }

  // Every decision of one label set to the same value, each value in turn
  // (larger ones too): all arrivals spread out, every pick the first ready
  // task, ... A larger value is kept only when the run gets shorter, or
  // when it lets a count go down (follow_up()).
  bool label_values() {
    std::vector<std::string_view> order;
    for (const sim::Decision& d : current()) {
      if (std::find(order.begin(), order.end(), d.label) == order.end()) order.push_back(d.label);
    }
    bool improved = false;
    for (const std::string_view label : order) {
      for (std::uint64_t value = 0; value < kAlternativesMax && search_.budget_left(); ++value) {
        Decisions candidate = current();
        bool changed = false;
        bool present = false;
        for (sim::Decision& d : candidate) {
          if (d.label != label) continue;
          present = true;
          const std::uint64_t v = std::min(value, d.n - 1);
          changed = changed || d.value != v;
          d.value = v;
        }
        if (!present) break;
        if (changed && (search_.attempt(candidate) || follow_up())) improved = true;
      }
    }
    return improved;
  }

  // Each parameter (outside the scheduler's stream) with few alternatives
  // tried at every other value, larger ones too: a bigger per-thread
  // footprint reaches a memory bound in fewer calls. `knobs_only`: only the
  // decisions whose label occurs once (a configuration: a footprint, a pool
  // size), each followed up when it still fails.
  bool alternatives(bool knobs_only) {
    bool improved = false;
    for (std::size_t at = 0; at < current().size() && search_.budget_left(); ++at) {
      const sim::Decision d = current()[at];
      if (d.stream == sim::Stream::scheduler || d.n > kAlternativesMax) continue;
      if (knobs_only && std::count_if(current().begin(), current().end(), [&](const sim::Decision& other) {
                          return other.label == d.label;
                        }) != 1) {
        continue;
      }
      for (std::uint64_t value = 0; value < d.n && search_.budget_left(); ++value) {
        if (value == d.value) continue;
        Decisions candidate = current();
        candidate[at].value = value;
        if (search_.attempt(candidate) || (knobs_only && follow_up())) {
          improved = true;
          break;
        }
      }
    }
    return improved;
  }

  // The last attempt still failed the same way without being smaller: in
  // the log its run consumed, each count (a parameter with many
  // alternatives: how many calls, clients) binary-searched down. True when
  // that made the run smaller than the best.
  bool follow_up() {
    Decisions sibling = search_.sibling();
    for (std::size_t at = 0; at < sibling.size() && search_.budget_left(); ++at) {
      const sim::Decision d = sibling[at];
      if (d.stream == sim::Stream::scheduler || d.n <= kAlternativesMax || d.value == 0) continue;
      std::uint64_t failing = d.value;
      std::uint64_t passing = 0;
      bool first = true;
      while (passing + 1 < failing && search_.budget_left()) {
        const std::uint64_t value = first ? 0 : passing + (failing - passing) / 2;
        Decisions candidate = sibling;
        candidate[at].value = value;
        if (search_.attempt(candidate)) return true;
        if (!search_.sibling().empty() && at < search_.sibling().size() &&
            search_.sibling()[at].label == d.label) {
          sibling = search_.sibling();  // still fails: go on from there
          failing = value;
        } else if (!first) {
          passing = value;
        }
        first = false;
      }
    }
    return false;
  }

  // A small number per distinct label, in order of first appearance.
  std::uint64_t label_key(const sim::Decision& d) {
    const auto [it, inserted] = labels_.emplace(d.label, labels_.size());
    return it->second;
  }

  // From each position (back to front for deletions, so that the positions
  // still to visit do not move), the largest block that can be deleted or
  // zeroed, found with find_integer.
  bool adaptive(bool remove) {
    bool improved = false;
    const std::size_t size = current().size();
    for (std::size_t step = 0; step < size && search_.budget_left(); ++step) {
      const std::size_t at = remove ? size - 1 - step : step;
      if (at >= current().size() || (!remove && current()[at].value == 0)) continue;
      const Decisions base = current();
      const auto f = [&](std::size_t count) {
        if (at + count > base.size() || !search_.budget_left()) return false;
        if (remove) return search_.attempt(without(base, at, count));
        Decisions candidate = base;
        return zeroed(candidate, at, count) && search_.attempt(candidate);
      };
      improved = find_integer(f) > 0 || improved;
    }
    return improved;
  }

  // Each non-zero value (of the parameters only: outside the scheduler's
  // stream) tried at 0, then binary-searched down, assuming that smaller
  // values that fail are not interleaved with ones that pass.
  bool minimise_values(bool parameters_only) {
    bool improved = false;
    for (std::size_t at = 0; at < current().size() && search_.budget_left(); ++at) {
      const sim::Decision& d = current()[at];
      if (d.value == 0 || (parameters_only && d.stream == sim::Stream::scheduler)) continue;
      improved = minimise_at(at) || improved;
    }
    return improved;
  }

  bool minimise_at(std::size_t at) {
    const std::string_view label = current()[at].label;
    const auto with = [&](std::uint64_t value) {
      Decisions candidate = current();
      candidate[at].value = value;
      return search_.attempt(candidate);
    };
    if (with(0)) return true;
    std::uint64_t failing = current()[at].value;  // known to fail
    std::uint64_t passing = 0;                    // known not to (or not to be smaller)
    bool improved = false;
    while (passing + 1 < failing && search_.budget_left()) {
      const std::uint64_t middle = passing + (failing - passing) / 2;
      if (!with(middle)) {
        passing = middle;
        continue;
      }
      improved = true;
      // The run behind the new best may ask something else here: stop.
      if (at >= current().size() || current()[at].label != label) break;
      failing = current()[at].value;
    }
    return improved;
  }

  ShrinkSearch& search_;
  std::map<std::string_view, std::uint64_t> labels_;
};

}  // namespace

ShrinkResult shrink(const Scenario& scenario, ConfigKind config, std::uint64_t seed,
                    const RunSettings& settings, const ShrinkOptions& options) {
  RunSettings quiet = settings;
  quiet.keep_trace = false;  // thousands of replays: no trace export
  const ShrinkRunner run = [&](const ShrinkRun& which) {
    const bool attempt = which.kind == ShrinkRun::Kind::lenient || which.kind == ShrinkRun::Kind::resync;
    return run_for_shrink(scenario, config, which, attempt ? quiet : settings);
  };
  return shrink(seed, run, options);
}

ShrinkResult shrink(std::uint64_t seed, const ShrinkRunner& run, const ShrinkOptions& options) {
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
  ShrinkSearch search(run, options, original);
  Shrinker(search).run();
  result.attempts = search.attempts();
  result.budget_exhausted = search.budget_exhausted();
  ASGISIM_ASSERT(result.attempts <= options.max_attempts);
  ASGISIM_ASSERT(search.best().decisions.size() <= result.original_decisions,
                 "shrinking grew the log from {} to {} decisions", result.original_decisions,
                 search.best().decisions.size());
  ASGISIM_ASSERT(search.best().failure == original.failure && search.best().invariant == original.invariant);
  // The log a lenient run consumed replays strictly; confirm it does.
  result.log = search.best().decisions;
  result.log.metadata["seed"] = std::to_string(seed);
  result.log.metadata["shrunk-from"] = std::to_string(result.original_decisions);
  result.outcome = run({.kind = ShrinkRun::Kind::strict, .log = &result.log});
  result.outcome.seed = seed;
  return result;
}

ShrinkResult shrink(const Scenario& scenario, ConfigKind config, std::uint64_t seed,
                    const RunSettings& settings, std::size_t max_attempts) {
  return shrink(scenario, config, seed, settings,
                ShrinkOptions{.max_attempts = max_attempts, .time_budget = {}});
}

}  // namespace asgisim::scenarios
