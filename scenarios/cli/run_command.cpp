// `asgisim run SCENARIO|all`: sweeps seeds over one or every scenario, in
// one or both configurations, and exits with the most severe failure class.
#include <cstdio>
#include <optional>

#include <fmt/format.h>

#include "commands.hpp"
#include "junit.hpp"
#include "regressions.hpp"
#include "reporting.hpp"
#include "sweep_driver.hpp"

namespace asgisim::cli {

namespace {

std::string seeds_summary(const RunOptions& options) {
  if (options.seed) return fmt::format("seed {}", *options.seed);
  std::string text = fmt::format("seeds {}..{} ({})", options.seed_base,
                                 options.seed_base + options.seeds - 1, options.seeds);
  if (options.seed_base_random) {
    text += fmt::format(", seed base {} picked at random (pass --seed-base {} to repeat)", options.seed_base,
                        options.seed_base);
  }
  return text;
}

void check_outputs(const RunOptions& options) {
  if (!options.junit.empty()) check_writable_file("--junit", options.junit);
  if (!options.trace_dir.empty()) check_writable_directory("--trace-dir", options.trace_dir);
  if (!options.regressions.empty()) check_writable_directory("--regressions", options.regressions);
}

scenarios::SweepOptions sweep_options(const RunOptions& options) {
  scenarios::SweepOptions sweep;
  sweep.seeds = options.seed ? 1 : options.seeds;
  sweep.seed_base = options.seed ? *options.seed : options.seed_base;
  sweep.jobs = options.jobs;
  sweep.shard = options.shard;
  sweep.stop_at_first_failure = options.fail_fast;
  return sweep;
}

}  // namespace

std::string settings_summary(const RunOptions& options) {
  std::string text =
      fmt::format("{}, strategy {}", seeds_summary(options), sim::to_string(options.settings.strategy));
  if (options.settings.strategy == sim::Strategy::pct)
    text += fmt::format(", pct-depth {}", options.settings.pct_depth);
  if (!options.seed) text += fmt::format(", jobs {}", options.jobs);
  if (options.shard.count > 1) text += fmt::format(", shard {}/{}", options.shard.index, options.shard.count);
  if (options.settings.max_time_ns) {
    text += fmt::format(", max-time {} ns virtual", *options.settings.max_time_ns);
  }
  if (const std::string stack = scenarios::to_string(options.settings.stack_override); !stack.empty()) {
    text += fmt::format(", stack {}", stack);
  }
  if (options.fail_fast) text += ", fail-fast";
  if (!options.regressions.empty()) text += fmt::format(", regressions {}", options.regressions.string());
  if (!options.trace_dir.empty()) text += fmt::format(", trace-dir {}", options.trace_dir.string());
  if (!options.junit.empty()) text += fmt::format(", junit {}", options.junit.string());
  return text;
}

int run_command(const RunArgs& args) {
  const RunOptions options = resolve(args.raw, ConfigChoice::both);
  const std::vector<const scenarios::Scenario*> selected = find_scenarios(args.scenario);
  check_outputs(options);  // before a long sweep, not after it
  std::string stacks;      // one scenario: each configuration's resolved behaviours
  if (selected.size() == 1) {
    for (const scenarios::ConfigKind config : config_kinds(options.config)) {
      stacks += stack_summary(*selected.front(), config, options.settings);
    }
  }
  fmt::print(stderr, "asgisim run {} --config {}: {}{}\n", args.scenario, to_string(options.config),
             settings_summary(options), stacks);
  std::fflush(stderr);

  // Human lines go to stdout unless stdout carries the JSON lines.
  std::FILE* human = options.json ? stderr : stdout;
  const std::optional<RegressionStore> store =
      options.regressions.empty() ? std::nullopt : std::optional<RegressionStore>(options.regressions);
  JunitReport junit;
  scenarios::FailureClass worst = scenarios::FailureClass::none;
  std::string worst_reproduce;
  std::string wanted_reproduce;  // --want CLASS
  std::size_t sweeps = 0;
  std::size_t failed_sweeps = 0;
  for (const scenarios::Scenario* scenario : selected) {
    for (const scenarios::ConfigKind config : config_kinds(options.config)) {
      const SweepPlan plan{.scenario = scenario,
                           .config = config,
                           .settings = options.settings,
                           .options = sweep_options(options),
                           .regressions = store ? &*store : nullptr,
                           .trace_dir = options.trace_dir,
                           .traces_max = options.traces_max};
      const SweepReport report = run_sweep(plan);
      ++sweeps;
      fmt::print(human, "{}\n", summary_line(report));
      if (report.failed()) {
        ++failed_sweeps;
        fmt::print(human, "{}", failure_block(report, plan.settings));
        // The line of the sweep's most severe class: its lowest failing seed
        // may be a lesser class.
        const std::vector<ClassReproduce> by_class = class_reproduce_lines(report, plan.settings);
        if (scenarios::most_severe(worst, report.worst()) != worst) {
          worst = report.worst();
          worst_reproduce = !by_class.empty() && by_class.front().failure == worst
                                ? by_class.front().command
                                : reproduce_line(report, plan.settings);
        }
        for (const ClassReproduce& line : by_class) {
          if (options.want == line.failure && wanted_reproduce.empty()) wanted_reproduce = line.command;
        }
      }
      std::fflush(human);
      if (options.json) {
        fmt::print(stdout, "{}\n", sweep_json(report, plan.settings).dump());
        std::fflush(stdout);
      }
      junit.add(report, plan.settings);
    }
  }
  if (!options.junit.empty()) junit.write(options.junit);
  if (worst == scenarios::FailureClass::none) {
    fmt::print(human, "all {} sweeps passed\n", sweeps);
  } else if (options.want && wanted_reproduce.empty()) {
    fmt::print(human, "{} of {} sweeps failed; most severe: {} (exit {}); no seed failed with --want {}\n",
               failed_sweeps, sweeps, scenarios::to_string(worst), scenarios::exit_code(worst),
               scenarios::to_string(*options.want));
  } else if (options.want) {
    fmt::print(human, "{} of {} sweeps failed; most severe: {} (exit {}); the first {} failure:\n{}\n",
               failed_sweeps, sweeps, scenarios::to_string(worst), scenarios::exit_code(worst),
               scenarios::to_string(*options.want), wanted_reproduce);
  } else {
    fmt::print(human, "{} of {} sweeps failed; most severe: {} (exit {}); reproduce it with:\n{}\n",
               failed_sweeps, sweeps, scenarios::to_string(worst), scenarios::exit_code(worst),
               worst_reproduce);
  }
  std::fflush(human);
  return scenarios::exit_code(worst);
}

}  // namespace asgisim::cli
