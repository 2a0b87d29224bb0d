// The CLI's sweep: regressions first, then the engine's sweep with progress,
// then the files kept for each failing seed.
#include "sweep_driver.hpp"

#include <algorithm>
#include <fstream>

#include <fmt/format.h>

#include "options.hpp"
#include "progress.hpp"

namespace asgisim::cli {

namespace {

std::string progress_label(const SweepPlan& plan) {
  return fmt::format("{} ({})", plan.scenario->info().name, scenarios::to_string(plan.config));
}

// The stored log already says what this replay consumed: storing the replay
// too would keep the same failure twice (its header differs, so its name).
bool same_decisions(const sim::DecisionLog& a, const sim::DecisionLog& b) {
  return std::ranges::equal(a.decisions(), b.decisions(), [](const sim::Decision& x, const sim::Decision& y) {
    return x.label == y.label && x.stream == y.stream && x.n == y.n && x.value == y.value;
  });
}

void replay_regressions(const SweepPlan& plan, SweepReport& report) {
  for (const StoredRegression& stored : plan.regressions->load(plan.scenario->info().name, plan.config)) {
    const scenarios::RunSettings settings = recorded_settings(stored.log, plan.settings, false, false);
    // Lenient: a log recorded before the code changed still gives a run;
    // the log that run consumed replays strictly and is stored when it fails.
    scenarios::RunOutcome outcome =
        scenarios::run_schedule(*plan.scenario, plan.config, stored.log, sim::ReplayMode::lenient, settings);
    ++report.regressions_replayed;
    if (!outcome.failed()) continue;
    ++report.regressions_failed;
    const std::filesystem::path strict_path =
        same_decisions(outcome.decisions, stored.log) ? stored.path : plan.regressions->save(outcome);
    if (!report.first_regression_failure)
      report.first_regression_failure = RegressionFailure{strict_path, outcome};
  }
}

void write_text(const std::filesystem::path& path, std::string_view text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
  if (!out) throw std::runtime_error(fmt::format("cannot write '{}'", path.string()));
}

// Runs a failing seed again to keep its decision log and trace. A seed is a
// pure function of its settings, so this is the same run the sweep saw.
void keep_failure(const SweepPlan& plan, std::uint64_t seed, SweepReport& report) {
  // The first traces_max failing seeds of a sweep keep a trace (300 failing
  // seeds once wrote 2,119 files, 1.9 GB).
  const bool trace = !plan.trace_dir.empty() && report.traces_written.size() < plan.traces_max;
  if (!trace && plan.regressions == nullptr) return;
  scenarios::RunSettings settings = plan.settings;
  settings.keep_trace = trace;
  const scenarios::RunOutcome outcome = scenarios::run_seed(*plan.scenario, plan.config, seed, settings);
  if (trace && !outcome.chrome_trace.empty()) {
    const std::filesystem::path path = plan.trace_dir / fmt::format("{}-{}-seed-{}.json", outcome.scenario,
                                                                    scenarios::to_string(plan.config), seed);
    write_text(path, outcome.chrome_trace);
    report.traces_written.push_back(path);
  }
  if (plan.regressions != nullptr && outcome.failed()) {
    report.regressions_saved.push_back(plan.regressions->save(outcome));
  }
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

std::uint64_t shard_seed_count(std::uint64_t seeds, scenarios::Shard shard) {
  const std::uint64_t first = shard.index - 1;
  return seeds > first ? (seeds - first + shard.count - 1) / shard.count : 0;
}

std::uint64_t nth_shard_seed(std::uint64_t seed_base, scenarios::Shard shard, std::uint64_t done) {
  return seed_base + (shard.index - 1) + (done - 1) * shard.count;
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
  if (plan.regressions != nullptr) replay_regressions(plan, report);

  scenarios::SweepOptions options = plan.options;
  const std::uint64_t total = shard_seed_count(options.seeds, options.shard);
  Progress progress(progress_label(plan), total);
  std::uint64_t failures_seen = 0;
  options.progress = [&](std::uint64_t done, std::uint64_t failures) {
    if (failures > failures_seen)
      report.failing_seeds.push_back(nth_shard_seed(options.seed_base, options.shard, done));
    failures_seen = failures;
    if (plan.show_progress) progress.update(done, failures);
  };
  report.result = scenarios::sweep(*plan.scenario, plan.config, plan.settings, options);
  progress.finish();

  // Should the engine report progress in batches, still keep the failure it names.
  if (report.result.first_failure) {
    const std::uint64_t seed = report.result.first_failure->seed;
    if (std::find(report.failing_seeds.begin(), report.failing_seeds.end(), seed) ==
        report.failing_seeds.end()) {
      report.failing_seeds.insert(report.failing_seeds.begin(), seed);
    }
  }
  if (plan.regressions != nullptr || !plan.trace_dir.empty()) {
    for (const std::uint64_t seed : report.failing_seeds) keep_failure(plan, seed, report);
  }
  return report;
}

}  // namespace asgisim::cli
