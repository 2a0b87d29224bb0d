// One sweep of one scenario and configuration as the CLI runs it: replay the
// regression store first, sweep the seeds with a progress display, then keep
// each failing run's decision log (--regressions) and Chrome trace
// (--trace-dir).
//
//   SweepPlan plan{.scenario = &scenario, .config = ConfigKind::fixed, .settings = settings,
//                  .options = {.seeds = 1000, .jobs = 2}};
//   SweepReport report = run_sweep(plan);
//   if (report.failed()) std::cout << reproduce_line(report, plan.settings);
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "asgisim/scenarios/engine.hpp"
#include "regressions.hpp"

namespace asgisim::cli {

struct SweepPlan {
  const scenarios::Scenario* scenario = nullptr;
  scenarios::ConfigKind config = scenarios::ConfigKind::buggy;
  scenarios::RunSettings settings{};
  // Its progress and on_failure callbacks are the driver's; its stop and
  // abandon flags also stop the regression replay.
  scenarios::SweepOptions options{};
  const RegressionStore* regressions = nullptr;  // replayed first; failures saved
  std::filesystem::path trace_dir{};             // empty: no traces
  std::uint64_t traces_max = 10;                 // traces kept at most, lowest failing seeds first
  bool show_progress = true;
  bool isolate = false;  // --isolate: each seed in a worker process (isolation.hpp)
};

// A seed whose worker process died (--isolate).
struct CrashedSeed {
  std::uint64_t seed = 0;
  std::string how{};        // "crashed with SIGSEGV"
  std::string reproduce{};  // the line that runs it again
};

// The failing seeds whose files (--regressions, --trace-dir) a sweep keeps:
// the first ones in seed order. A buggy configuration may fail every seed of
// an overnight sweep; the count of the others is reported.
inline constexpr std::uint64_t kKeptFailuresMax = 100;
// Problems (files that could not be written or read) a report lists; the
// others are counted.
inline constexpr std::size_t kProblemsListedMax = 10;

// A stored regression that failed again.
struct RegressionFailure {
  std::filesystem::path path{};  // the log that replays the failure strictly
  scenarios::RunOutcome outcome{};
};

struct SweepReport {
  scenarios::SweepResult result{};
  scenarios::Shard shard{};
  std::uint64_t regressions_replayed = 0;
  std::uint64_t regressions_failed = 0;
  std::optional<RegressionFailure> first_regression_failure{};
  std::vector<std::filesystem::path> traces_written{};     // at most kKeptFailuresMax
  std::vector<std::filesystem::path> regressions_saved{};  // at most kKeptFailuresMax
  std::uint64_t failures_not_kept = 0;                     // failing seeds past kKeptFailuresMax
  // Failing seeds per "<class> <invariant>", and the lowest of each.
  std::map<std::string, std::uint64_t> failures_by{};
  std::map<std::string, std::uint64_t> first_seed_by{};
  // Files that could not be written or read, one line each, naming the path
  // (at most kProblemsListedMax; problems_total counts them all).
  std::vector<std::string> problems{};
  std::uint64_t problems_total = 0;
  // A run threw (a bug in the tool or the scenario): the message naming the
  // seed, and the line that reproduces it. The sweep stopped there.
  std::string error{};
  std::string error_reproduce{};
  // Seeds whose worker process died (--isolate), lowest first: at most
  // kProblemsListedMax; result.crashes counts them all.
  std::vector<CrashedSeed> crashed{};
  std::uint64_t seed_base = 0;

  scenarios::FailureClass worst() const;
  // Failing seeds of this sweep; stored regressions that failed again are
  // counted apart (regressions_failed), over regressions_replayed.
  std::uint64_t failures() const { return result.failures; }
  bool failed() const { return worst() != scenarios::FailureClass::none; }
  bool interrupted() const { return result.end == scenarios::SweepEnd::interrupted; }
  // The failure to report: the sweep's lowest failing seed, else the first
  // stored regression that failed again.
  const scenarios::RunOutcome* first_failure() const;
  double seeds_per_second() const;
  // "seed indices 0..99 (100 seeds)", "seed indices 2, 6, .. 38 of shard 3/4
  // (10 seeds)", "no seeds": exactly which seeds ran.
  std::string seeds_ran() const;
};

SweepReport run_sweep(const SweepPlan& plan);

// How many of seed indices [0, seeds) belong to `shard`.
std::uint64_t shard_seed_count(std::uint64_t seeds, scenarios::Shard shard);

// Settings for replaying `log`: what it recorded (strategy, pct-depth, stack,
// max-time-ns), except where `explicit_settings` was given on the command line.
scenarios::RunSettings recorded_settings(const sim::DecisionLog& log,
                                         const scenarios::RunSettings& explicit_settings, bool strategy_given,
                                         bool pct_depth_given);

}  // namespace asgisim::cli
