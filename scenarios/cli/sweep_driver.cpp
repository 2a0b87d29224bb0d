// The CLI's sweep: regressions first, then the engine's sweep with progress,
// keeping each failing run's files as the sweep reports it (so an
// interrupted sweep has written everything it found, and memory stays flat).
#include "sweep_driver.hpp"

#include <algorithm>

#include <fmt/format.h>

#include "atomic_file.hpp"
#include "interruption.hpp"
#include "isolation.hpp"
#include "options.hpp"
#include "progress.hpp"
#include "reporting.hpp"

namespace asgisim::cli {

namespace {

std::string progress_label(const SweepPlan& plan) {
  return fmt::format("{} ({})", plan.scenario->info().name, scenarios::to_string(plan.config));
}

bool stopping(const SweepPlan& plan) {
  const auto set = [](const std::atomic<bool>* flag) { return flag != nullptr && flag->load(); };
  return set(plan.options.stop) || set(plan.options.abandon);
}

// Says a problem at once (stderr) and keeps it for the report.
void note_problem(SweepReport& report, std::string message) {
  ++report.problems_total;
  if (report.problems.size() >= kProblemsListedMax) return;
  fmt::print(stderr, "asgisim: warning: {}\n", message);
  std::fflush(stderr);
  report.problems.push_back(std::move(message));
}

// The stored log already says what this replay consumed: storing the replay
// too would keep the same failure twice (its header differs, so its name).
bool same_decisions(const sim::DecisionLog& a, const sim::DecisionLog& b) {
  return std::ranges::equal(a.decisions(), b.decisions(), [](const sim::Decision& x, const sim::Decision& y) {
    return x.label == y.label && x.stream == y.stream && x.n == y.n && x.value == y.value;
  });
}

scenarios::RunSettings with_abandon(const SweepPlan& plan) {
  scenarios::RunSettings settings = plan.settings;
  settings.abandon = plan.options.abandon;
  return settings;
}

void replay_regressions(const SweepPlan& plan, SweepReport& report) {
  std::vector<std::string> set_aside;
  const std::vector<StoredRegression> stored =
      plan.regressions->load(plan.scenario->info().name, plan.config, set_aside);
  for (std::string& line : set_aside) note_problem(report, std::move(line));
  for (const StoredRegression& entry : stored) {
    if (stopping(plan)) return;
    scenarios::RunSettings settings = recorded_settings(entry.log, plan.settings, false, false);
    settings.abandon = plan.options.abandon;
    // Lenient: a log recorded before the code changed still gives a run;
    // the log that run consumed replays strictly and is stored when it fails.
    scenarios::RunOutcome outcome;
    try {
      outcome =
          scenarios::run_schedule(*plan.scenario, plan.config, entry.log, sim::ReplayMode::lenient, settings);
    } catch (const scenarios::RunAbandoned&) {
      return;
    }
    ++report.regressions_replayed;
    if (!outcome.failed()) continue;
    ++report.regressions_failed;
    std::filesystem::path strict_path = entry.path;
    try {
      if (!same_decisions(outcome.decisions, entry.log)) strict_path = plan.regressions->save(outcome);
    } catch (const OutputError& error) {
      note_problem(report, error.what());
    }
    if (!report.first_regression_failure)
      report.first_regression_failure = RegressionFailure{strict_path, outcome};
  }
}

// Keeps a failing seed's decision log and, with --trace-dir, its trace (the
// seed runs again with the trace kept: a seed is a pure function of its
// settings, so it is the same run). A file that cannot be written is a
// problem to report, not the end of the sweep.
void keep_failure(const SweepPlan& plan, const scenarios::RunOutcome& outcome, SweepReport& report,
                  WorkerPool* workers) {
  if (plan.regressions != nullptr) {
    try {
      report.regressions_saved.push_back(plan.regressions->save(outcome));
    } catch (const OutputError& error) {
      note_problem(report, error.what());
    }
  }
  // The first traces_max failing seeds of a sweep keep a trace (300 failing
  // seeds once wrote 2,119 files, 1.9 GB).
  if (plan.trace_dir.empty() || report.traces_written.size() >= plan.traces_max) return;
  scenarios::RunSettings settings = with_abandon(plan);
  settings.keep_trace = true;
  try {
    const scenarios::RunOutcome traced =
        workers != nullptr ? workers->run(outcome.seed, settings)
                           : scenarios::run_seed(*plan.scenario, plan.config, outcome.seed, settings);
    if (traced.chrome_trace.empty()) return;
    const std::filesystem::path path =
        plan.trace_dir /
        fmt::format("{}-{}-seed-{}.json", traced.scenario, scenarios::to_string(plan.config), outcome.seed);
    write_file_atomically(path, traced.chrome_trace);
    report.traces_written.push_back(path);
  } catch (const scenarios::RunAbandoned&) {
    // Interrupted: the decision log above replays it.
  } catch (const scenarios::SeedCrashed& crashed) {
    note_problem(report, fmt::format("the trace of seed {}: its worker {}", outcome.seed, crashed.how));
  } catch (const OutputError& error) {
    note_problem(report, error.what());
  }
}

// A seed whose worker process died (--isolate): said at once, kept for the
// report, and the sweep goes on.
void note_crash(const SweepPlan& plan, std::uint64_t seed, const std::string& how, SweepReport& report) {
  scenarios::RunOutcome crashed;
  crashed.scenario = plan.scenario->info().name;
  crashed.config = plan.config;
  crashed.seed = seed;
  CrashedSeed entry{
      .seed = seed, .how = how, .reproduce = scenarios::reproduce_command(crashed, plan.settings)};
  if (report.crashed.size() >= kProblemsListedMax) return;
  fmt::print(
      stderr,
      "asgisim: seed {} of {} {} in its worker process (--isolate): a bug in the scenario's code or in "
      "asgisim, not a finding of the simulation; the sweep goes on. Reproduce with:\n  {}\n",
      seed, progress_label(plan), how, entry.reproduce);
  std::fflush(stderr);
  report.crashed.push_back(std::move(entry));
}

// Tells the crash handler which sweep runs and how to reproduce its seeds.
void set_crash_context_for(const SweepPlan& plan) {
  constexpr std::uint64_t kMarker = 18'446'744'073'709'551'615ULL;
  scenarios::RunOutcome marker;
  marker.scenario = plan.scenario->info().name;
  marker.config = plan.config;
  marker.seed = kMarker;
  const std::string line = scenarios::reproduce_command(marker, plan.settings);
  const std::string seed_part = fmt::format(" --seed {}", kMarker);
  const std::size_t at = line.find(seed_part);
  set_crash_context(progress_label(plan), line.substr(0, at),
                    at == std::string::npos ? "" : line.substr(at + seed_part.size()));
}

}  // namespace

scenarios::FailureClass SweepReport::worst() const {
  scenarios::FailureClass worst = result.worst;
  if (first_regression_failure)
    worst = scenarios::most_severe(worst, first_regression_failure->outcome.failure);
  return worst;
}

const scenarios::RunOutcome* SweepReport::first_failure() const {
  if (result.first_failure) return &*result.first_failure;
  if (first_regression_failure) return &first_regression_failure->outcome;
  return nullptr;
}

double SweepReport::seeds_per_second() const {
  return result.seconds > 0 ? static_cast<double>(result.seeds_run) / result.seconds : 0.0;
}

std::string SweepReport::seeds_ran() const {
  const std::uint64_t count = result.seeds_run;
  if (count == 0) return "no seeds";
  const std::uint64_t last = result.seeds_covered(shard) - 1;
  if (shard.count == 1) return fmt::format("seed indices 0..{} ({})", last, plural(count, "seed"));
  return fmt::format("seed indices {}, {}, .. {} of shard {}/{} ({})", shard.index - 1,
                     shard.index - 1 + shard.count, last, shard.index, shard.count, plural(count, "seed"));
}

std::uint64_t shard_seed_count(std::uint64_t seeds, scenarios::Shard shard) {
  const std::uint64_t first = shard.index - 1;
  return seeds > first ? (seeds - first - 1) / shard.count + 1 : 0;
}

scenarios::RunSettings recorded_settings(const sim::DecisionLog& log,
                                         const scenarios::RunSettings& explicit_settings, bool strategy_given,
                                         bool pct_depth_given) {
  scenarios::RunSettings settings = scenarios::settings_for_log(log, explicit_settings);
  // What the command line names wins over what the file recorded.
  if (strategy_given) settings.strategy = explicit_settings.strategy;
  if (pct_depth_given) settings.pct_depth = explicit_settings.pct_depth;
  if (!scenarios::to_string(explicit_settings.stack_override).empty()) {
    settings.stack_override = explicit_settings.stack_override;
  }
  if (explicit_settings.max_time_ns) settings.max_time_ns = explicit_settings.max_time_ns;
  settings.keep_trace = explicit_settings.keep_trace;
  return settings;
}

SweepReport run_sweep(const SweepPlan& plan) {
  SweepReport report;
  report.seed_base = plan.options.seed_base;
  report.shard = plan.options.shard;
  report.result.scenario = plan.scenario->info().name;
  report.result.config = plan.config;
  if (plan.regressions != nullptr) replay_regressions(plan, report);
  if (stopping(plan)) {
    report.result.end = scenarios::SweepEnd::interrupted;
    return report;
  }

  scenarios::SweepOptions options = plan.options;
  const std::uint64_t total = options.deadline ? 0 : shard_seed_count(options.seeds, options.shard);
  Progress progress(progress_label(plan), total);
  // --isolate: the sweep's worker processes, killed and reaped when it ends.
  std::optional<WorkerPool> workers;
  if (plan.isolate) workers.emplace(*plan.scenario, plan.config, with_abandon(plan));
  std::uint64_t kept = 0;
  const bool keeping = plan.regressions != nullptr || !plan.trace_dir.empty();
  options.on_failure = [&](const scenarios::RunOutcome& outcome) {
    const std::string key = fmt::format("{} {}", scenarios::to_string(outcome.failure), outcome.invariant);
    ++report.failures_by[key];
    report.first_seed_by.try_emplace(key, outcome.seed);  // failures come in seed order
    if (!keeping) return;
    if (kept == kKeptFailuresMax) {
      ++report.failures_not_kept;
      return;
    }
    ++kept;
    keep_failure(plan, outcome, report, workers ? &*workers : nullptr);
  };
  if (workers) {
    options.run_seed = [&](const scenarios::Scenario&, scenarios::ConfigKind, std::uint64_t seed,
                           const scenarios::RunSettings& settings) { return workers->run(seed, settings); };
    options.on_crash = [&](std::uint64_t seed, const std::string& how) {
      note_crash(plan, seed, how, report);
    };
  }
  options.progress = [&](std::uint64_t done, std::uint64_t failures) {
    if (done == 1) keep_crash_handlers_first();
    if (plan.show_progress) progress.update(done, failures);
  };
  set_crash_context_for(plan);
  try {
    report.result = scenarios::sweep(*plan.scenario, plan.config, plan.settings, options);
  } catch (const scenarios::SeedError& error) {
    report.error = error.what();
    scenarios::RunOutcome failed_seed;
    failed_seed.scenario = plan.scenario->info().name;
    failed_seed.config = plan.config;
    failed_seed.seed = error.seed;
    report.error_reproduce = scenarios::reproduce_command(failed_seed, plan.settings);
  }
  progress.finish();
  return report;
}

}  // namespace asgisim::cli
