// `asgisim run SCENARIO|all`: sweeps seeds over one or every scenario, in
// one or both configurations, and exits with the most severe failure class.
#include <chrono>
#include <cstdio>
#include <limits>
#include <optional>

#include <fmt/format.h>

#include "atomic_file.hpp"
#include "commands.hpp"
#include "html_sweep.hpp"
#include "interruption.hpp"
#include "junit.hpp"
#include "regressions.hpp"
#include "reporting.hpp"
#include "sweep_driver.hpp"

namespace asgisim::cli {

namespace {

// How long the runs in flight may take to finish after SIGINT or SIGTERM
// before they are abandoned: CI runners send SIGKILL a few seconds after
// their first signal (GitHub Actions 7.5 s after SIGINT, then SIGTERM and
// 2.5 s), and the reports still have to be written.
constexpr auto kInterruptGrace = std::chrono::seconds(2);

std::string seeds_summary(const RunOptions& options) {
  if (options.seed) return fmt::format("seed {}", *options.seed);
  std::string text =
      options.duration && !options.seeds_given
          ? fmt::format("seeds from {} until the duration is up", options.seed_base)
          : fmt::format("seeds {}..{} ({}{})", options.seed_base, options.seed_base + options.seeds - 1,
                        options.seeds, options.duration ? ", or fewer when the duration is up" : "");
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

scenarios::SweepOptions sweep_options(const RunOptions& options, const Interruption& interruption) {
  scenarios::SweepOptions sweep;
  sweep.seeds = options.seed ? 1 : options.seeds;
  sweep.seed_base = options.seed ? *options.seed : options.seed_base;
  sweep.jobs = options.jobs;
  sweep.shard = options.shard;
  sweep.stop_at_first_failure = options.fail_fast;
  sweep.stop = &interruption.stop_flag();
  sweep.abandon = &interruption.abandon_flag();
  return sweep;
}

std::string duration_text(std::chrono::milliseconds duration) {
  const auto seconds = std::chrono::duration_cast<std::chrono::seconds>(duration).count();
  if (seconds % 3600 == 0) return fmt::format("{}h", seconds / 3600);
  if (seconds % 60 == 0) return fmt::format("{}m", seconds / 60);
  return fmt::format("{}s", seconds);
}

// What the whole command found, across its sweeps.
struct Verdict {
  scenarios::FailureClass worst = scenarios::FailureClass::none;
  std::string worst_reproduce{};                  // the most severe class's line
  std::optional<scenarios::FailureClass> want{};  // --want CLASS
  std::string wanted_reproduce{};                 // ... and its first line
  std::size_t sweeps = 0;
  std::size_t sweeps_planned = 0;
  std::size_t failed_sweeps = 0;
  std::uint64_t errors = 0;    // runs that threw
  std::uint64_t crashes = 0;   // seeds whose worker process died (--isolate)
  std::uint64_t problems = 0;  // files not written or read
};

// The exit code: the most severe failure class found; else 130/143 when a
// signal stopped the run; else 2 when a run threw or a file could not be
// written; else 0.
int exit_code(const Verdict& verdict, int signal) {
  if (verdict.worst != scenarios::FailureClass::none) return scenarios::exit_code(verdict.worst);
  if (signal != 0) return 128 + signal;
  return verdict.errors + verdict.crashes + verdict.problems > 0 ? 2 : 0;
}

void print_final_lines(std::FILE* human, const Verdict& verdict, int signal) {
  if (signal != 0) {
    fmt::print(human,
               "interrupted by {}: {} of {} sweeps ran (the last one in part); each summary says "
               "which seeds ran\n",
               Interruption::signal_name(signal), verdict.sweeps, verdict.sweeps_planned);
  }
  if (verdict.problems > 0) {
    fmt::print(human, "{} could not be written or read (see the warnings above)\n",
               plural(verdict.problems, "file"));
  }
  if (verdict.crashes > 0) {
    fmt::print(human, "{} crashed in {} (see above: each with its reproduce line)\n",
               plural(verdict.crashes, "seed"),
               verdict.crashes == 1 ? "its worker process" : "their worker processes");
  }
  if (verdict.worst == scenarios::FailureClass::none) {
    if (verdict.errors > 0) {
      fmt::print(human, "{} of {} sweeps stopped at a run that threw (see the errors above)\n",
                 verdict.errors, verdict.sweeps);
    } else if (signal == 0 && verdict.crashes == 0) {
      fmt::print(human, "all {} sweeps passed\n", verdict.sweeps);
    } else {
      fmt::print(human, "no failures in what ran (exit {})\n", exit_code(verdict, signal));
    }
    return;
  }
  const std::string head =
      fmt::format("{} of {} sweeps failed; most severe: {} (exit {})", verdict.failed_sweeps, verdict.sweeps,
                  scenarios::to_string(verdict.worst), scenarios::exit_code(verdict.worst));
  if (!verdict.want) {
    fmt::print(human, "{}; reproduce it with:\n{}\n", head, verdict.worst_reproduce);
  } else if (verdict.wanted_reproduce.empty()) {
    fmt::print(human, "{}; no seed failed with --want {}\n", head, scenarios::to_string(*verdict.want));
  } else {
    fmt::print(human, "{}; the first {} failure:\n{}\n", head, scenarios::to_string(*verdict.want),
               verdict.wanted_reproduce);
  }
}

}  // namespace

std::string settings_summary(const RunOptions& options) {
  std::string text =
      fmt::format("{}, strategy {}", seeds_summary(options), sim::to_string(options.settings.strategy));
  if (options.settings.strategy == sim::Strategy::pct)
    text += fmt::format(", pct-depth {}", options.settings.pct_depth);
  if (!options.seed) text += fmt::format(", jobs {}", options.jobs);
  if (options.shard.count > 1) text += fmt::format(", shard {}/{}", options.shard.index, options.shard.count);
  if (options.duration && !options.seed)
    text += fmt::format(", duration {}", duration_text(*options.duration));
  if (options.settings.max_time_ns) {
    text += fmt::format(", max-time {} ns virtual", *options.settings.max_time_ns);
  }
  if (const std::string stack = scenarios::to_string(options.settings.stack_override); !stack.empty()) {
    text += fmt::format(", stack {}", stack);
  }
  if (options.fail_fast) text += ", fail-fast";
  if (options.isolate) text += ", isolate";
  if (!options.regressions.empty()) text += fmt::format(", regressions {}", options.regressions.string());
  if (!options.trace_dir.empty()) text += fmt::format(", trace-dir {}", options.trace_dir.string());
  if (!options.junit.empty()) text += fmt::format(", junit {}", options.junit.string());
  return text;
}

int run_command(const RunArgs& args) {
  RunOptions options = resolve(args.raw, ConfigChoice::both);
  if (options.duration && !options.seeds_given) options.seeds = std::numeric_limits<std::uint64_t>::max();
  const std::vector<const scenarios::Scenario*> selected = find_scenarios(args.scenario);
  const std::vector<scenarios::ConfigKind> configs = config_kinds(options.config);
  check_outputs(options);  // before a long sweep, not after it
  if (!args.html.empty()) check_writable_file("--html", args.html);
  HtmlSweep html(args.html);
  const Interruption interruption(kInterruptGrace);
  std::string stacks;  // one scenario: each configuration's resolved behaviours
  if (selected.size() == 1) {
    for (const scenarios::ConfigKind config : configs) {
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
  Verdict verdict;
  verdict.want = options.want;
  verdict.sweeps_planned = selected.size() * configs.size();
  using Clock = std::chrono::steady_clock;  // nondeterminism-ok: --duration, outside any run
  const Clock::time_point started = Clock::now();
  for (const scenarios::Scenario* scenario : selected) {
    for (const scenarios::ConfigKind config : configs) {
      if (interruption.signal() != 0) {
        junit.add_not_run(scenario->info().name, config);
        continue;
      }
      SweepPlan plan{.scenario = scenario,
                     .config = config,
                     .settings = options.settings,
                     .options = sweep_options(options, interruption),
                     .regressions = store ? &*store : nullptr,
                     .trace_dir = options.trace_dir,
                     .traces_max = options.traces_max,
                     .isolate = options.isolate};
      if (options.duration && !options.seed) {
        // Each sweep left gets an equal share of the time left.
        const Clock::time_point now = Clock::now();
        const auto left = std::max(Clock::duration::zero(), started + *options.duration - now);
        plan.options.deadline = now + left / static_cast<long>(verdict.sweeps_planned - verdict.sweeps);
      }
      const SweepReport report = run_sweep(plan);
      ++verdict.sweeps;
      verdict.problems += report.problems_total;
      fmt::print(human, "{}\n", summary_line(report));
      if (!report.error.empty()) {
        ++verdict.errors;
        fmt::print(human, "  error: {}\n  reproduce: {}\n", report.error, report.error_reproduce);
      }
      verdict.crashes += report.result.crashes;
      for (const CrashedSeed& crashed : report.crashed) {
        fmt::print(human, "  crash: seed {} {} in its worker process\n  reproduce: {}\n", crashed.seed,
                   crashed.how, crashed.reproduce);
      }
      if (report.result.crashes > report.crashed.size()) {
        fmt::print(human, "  ... and {} more crashed seeds\n", report.result.crashes - report.crashed.size());
      }
      if (report.failed()) {
        ++verdict.failed_sweeps;
        fmt::print(human, "{}", failure_block(report, plan.settings));
        // The line of the sweep's most severe class: its lowest failing seed
        // may be a lesser class.
        const std::vector<ClassReproduce> by_class = class_reproduce_lines(report, plan.settings);
        if (scenarios::most_severe(verdict.worst, report.worst()) != verdict.worst) {
          verdict.worst = report.worst();
          verdict.worst_reproduce = !by_class.empty() && by_class.front().failure == verdict.worst
                                        ? by_class.front().command
                                        : reproduce_line(report, plan.settings);
        }
        for (const ClassReproduce& line : by_class) {
          if (options.want == line.failure && verdict.wanted_reproduce.empty()) {
            verdict.wanted_reproduce = line.command;
          }
        }
      }
      std::fflush(human);
      if (options.json) {
        fmt::print(stdout, "{}\n", sweep_json(report, plan.settings).dump());
        std::fflush(stdout);
      }
      junit.add(report, plan.settings);
      html.add(plan, report);
    }
  }
  const int signal = interruption.signal();
  if (signal != 0) junit.set_interrupted(fmt::format("interrupted by {}", Interruption::signal_name(signal)));
  if (!options.junit.empty()) {
    try {
      junit.write(options.junit);
    } catch (const OutputError& error) {
      ++verdict.problems;
      fmt::print(stderr, "asgisim: error: --junit: {}\n", error.what());
    }
  }
  try {
    html.write();
  } catch (const OutputError& error) {
    ++verdict.problems;
    fmt::print(stderr, "asgisim: error: --html: {}\n", error.what());
  }
  print_final_lines(human, verdict, signal);
  std::fflush(human);
  return exit_code(verdict, signal);
}

}  // namespace asgisim::cli
