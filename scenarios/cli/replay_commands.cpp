// Single runs: `replay` (a seed or a decision-log file, with --trace,
// --timeline and --html), `shrink` (a failing seed to a minimal decision log)
// and `trace` (a seed's Chrome trace JSON for Perfetto, its HTML report).
#include <cstdio>
#include <fstream>

#include <fmt/format.h>

#include "asgisim/scenarios/html_report.hpp"
#include "asgisim/version.hpp"
#include "atomic_file.hpp"
#include "commands.hpp"
#include "regressions.hpp"
#include "reporting.hpp"
#include "sweep_driver.hpp"

namespace asgisim::cli {

namespace {

scenarios::ConfigKind single_config(const RunOptions& options, std::string_view command) {
  switch (options.config) {
    case ConfigChoice::buggy:
      return scenarios::ConfigKind::buggy;
    case ConfigChoice::fixed:
      return scenarios::ConfigKind::fixed;
    case ConfigChoice::both:
      break;
  }
  throw UsageError(fmt::format("{} runs one configuration: give --config buggy or --config fixed", command));
}

std::uint64_t required_seed(const RunOptions& options, std::string_view command) {
  if (!options.seed) throw UsageError(fmt::format("{} needs --seed S", command));
  return *options.seed;
}

void write_file(std::string_view option, const std::string& path, std::string_view text) {
  try {
    write_file_atomically(path, text);
  } catch (const OutputError& error) {
    throw UsageError(fmt::format("{}: {}", option, error.what()));
  }
}

std::string run_facts(const scenarios::RunOutcome& outcome) {
  return fmt::format("{} steps, virtual time {:.3f} ms, trace hash {:#018x}", outcome.result.steps,
                     static_cast<double>(outcome.result.end_time_ns) / 1e6, outcome.trace_hash);
}

// Prints the verdict of a single run; a failure ends with `reproduce`.
void print_verdict(std::FILE* out, const scenarios::RunOutcome& outcome, std::string_view what,
                   const std::string& reproduce) {
  if (!outcome.failed()) {
    fmt::print(out, "{}: passed ({})\n", what, run_facts(outcome));
    return;
  }
  fmt::print(out, "{}: FAILED {} ({}; {})\n{}{}\n", what, outcome.invariant,
             scenarios::to_string(outcome.failure), run_facts(outcome),
             indented(scenarios::describe(outcome), 2), reproduce);
}

nlohmann::json run_json(const scenarios::RunOutcome& outcome, const scenarios::RunSettings& settings,
                        const std::string& reproduce) {
  nlohmann::json object = {{"scenario", outcome.scenario},
                           {"config", std::string(scenarios::to_string(outcome.config))},
                           {"strategy", std::string(sim::to_string(settings.strategy))},
                           {"seeds_run", 1},
                           {"failures", outcome.failed() ? 1 : 0},
                           {"failure_class", std::string(scenarios::to_string(outcome.failure))},
                           {"exit_code", scenarios::exit_code(outcome.failure)},
                           // a string: JSON readers hold numbers as doubles (53 bits)
                           {"trace_hash", fmt::format("{:#018x}", outcome.trace_hash)}};
  if (outcome.failed()) {
    object["invariant"] = outcome.invariant;
    object["layer"] = outcome.layer;
    object["reproduce"] = reproduce;
  }
  return object;
}

sim::DecisionLog load_schedule(const std::string& path) {
  try {
    return sim::DecisionLog::load(path);
  } catch (const sim::DecisionLogError& bad) {
    throw UsageError(fmt::format("bad --schedule file: {}", bad.what()));
  }
}

// Replays a decision-log file strictly, with the settings it recorded unless
// the command line overrides them.
int replay_schedule(const ReplayArgs& args, const scenarios::Scenario& scenario, RunOptions options) {
  const sim::DecisionLog log = load_schedule(args.schedule);
  if (const auto recorded = log.metadata.find("scenario");
      recorded != log.metadata.end() && recorded->second != scenario.info().name) {
    throw UsageError(fmt::format("--schedule '{}' was recorded for scenario '{}', not '{}'", args.schedule,
                                 recorded->second, scenario.info().name));
  }
  if (const auto recorded = log.metadata.find("config");
      recorded != log.metadata.end() && !options.config_given) {
    options.config = parse_config(recorded->second);
  }
  const scenarios::ConfigKind config = single_config(options, "replay");
  scenarios::RunSettings settings =
      recorded_settings(log, options.settings, options.strategy_given, options.pct_depth_given);
  settings.keep_trace = !args.trace.empty() || args.timeline || !args.html.empty();
  settings.keep_report = !args.html.empty();
  if (!args.compare.empty())
    throw UsageError("--compare runs a seed under another configuration: give --seed, not --schedule");
  if (!log.tool_version.empty() && log.tool_version != kVersion) {
    fmt::print(stderr, "warning: '{}' was recorded by asgisim {}; this is {}: the replay may diverge\n",
               args.schedule, log.tool_version, kVersion);
  }
  if (const std::uint64_t hash = scenarios::config_hash(scenario, config, settings);
      log.config_hash != 0 && log.config_hash != hash) {
    fmt::print(
        stderr,
        "warning: '{}' was recorded for another configuration of {} (config hash {:#018x}, now {:#018x}): "
        "the replay may diverge\n",
        args.schedule, scenario.info().name, log.config_hash, hash);
  }
  fmt::print(stderr, "asgisim replay {} --config {}: schedule {} ({} decisions), strategy {}{}\n",
             scenario.info().name, scenarios::to_string(config), args.schedule, log.size(),
             sim::to_string(settings.strategy), stack_summary(scenario, config, settings));
  std::fflush(stderr);
  const scenarios::RunOutcome outcome =
      scenarios::run_schedule(scenario, config, log, sim::ReplayMode::strict, settings);
  const std::string reproduce =
      fmt::format("{} replay {} --config {} --schedule {}", scenarios::reproduce_program(),
                  scenario.info().name, scenarios::to_string(config), args.schedule);
  std::FILE* human = options.json ? stderr : stdout;
  if (args.timeline) fmt::print(stdout, "{}", outcome.timeline);
  if (!args.trace.empty()) write_file("--trace", args.trace, outcome.chrome_trace);
  if (!args.html.empty()) write_file("--html", args.html, scenarios::html_report({outcome}, settings));
  print_verdict(human, outcome, fmt::format("schedule {}", args.schedule), reproduce);
  if (options.json) fmt::print(stdout, "{}\n", run_json(outcome, settings, reproduce).dump());
  return scenarios::exit_code(outcome.failure);
}

}  // namespace

int replay_command(const ReplayArgs& args) {
  RunOptions options = resolve(args.raw, ConfigChoice::buggy);
  const scenarios::Scenario& scenario = find_scenario(args.scenario);
  if (!args.trace.empty()) check_writable_file("--trace", args.trace);
  if (!args.html.empty()) check_writable_file("--html", args.html);
  if (!args.compare.empty() && args.html.empty())
    throw UsageError("--compare shows two runs in --html FILE: give --html");
  if (!args.schedule.empty()) return replay_schedule(args, scenario, options);

  const scenarios::ConfigKind config = single_config(options, "replay");
  if (!options.seed) throw UsageError("replay needs --seed S or --schedule FILE");
  const std::uint64_t seed = *options.seed;
  scenarios::RunSettings settings = options.settings;
  settings.keep_trace = !args.trace.empty() || args.timeline || !args.html.empty();
  settings.keep_report = !args.html.empty();
  fmt::print(stderr, "asgisim replay {} --config {}: {}{}\n", scenario.info().name,
             scenarios::to_string(config), settings_summary(options),
             stack_summary(scenario, config, settings));
  std::fflush(stderr);
  const scenarios::RunOutcome outcome = scenarios::run_seed(scenario, config, seed, settings);
  const std::string reproduce = scenarios::reproduce_command(outcome, options.settings);
  std::FILE* human = options.json ? stderr : stdout;
  if (args.timeline) fmt::print(stdout, "{}", outcome.timeline);
  if (!args.trace.empty()) write_file("--trace", args.trace, outcome.chrome_trace);
  if (!args.html.empty()) {
    std::vector<scenarios::RunOutcome> shown{outcome};
    if (!args.compare.empty()) {
      const scenarios::ConfigKind other = parse_config(args.compare) == ConfigChoice::buggy
                                              ? scenarios::ConfigKind::buggy
                                              : scenarios::ConfigKind::fixed;
      shown.push_back(scenarios::run_seed(scenario, other, seed, settings));
    }
    write_file("--html", args.html, scenarios::html_report(shown, settings));
  }
  print_verdict(human, outcome, fmt::format("seed {}", seed), reproduce);
  if (options.json) fmt::print(stdout, "{}\n", run_json(outcome, options.settings, reproduce).dump());
  return scenarios::exit_code(outcome.failure);
}

int shrink_command(const OutputArgs& args) {
  const RunOptions options = resolve(args.raw, ConfigChoice::buggy);
  const scenarios::Scenario& scenario = find_scenario(args.scenario);
  const scenarios::ConfigKind config = single_config(options, "shrink");
  const std::uint64_t seed = required_seed(options, "shrink");
  check_writable_file("-o", args.output);
  fmt::print(stderr, "asgisim shrink {} --config {}: {}{}\n", scenario.info().name,
             scenarios::to_string(config), settings_summary(options),
             stack_summary(scenario, config, options.settings));
  std::fflush(stderr);

  const scenarios::ShrinkResult shrunk = scenarios::shrink(scenario, config, seed, options.settings);
  if (!shrunk.outcome.failed()) {
    throw UsageError(fmt::format("seed {} of {} ({}) does not fail: nothing to shrink", seed,
                                 scenario.info().name, scenarios::to_string(config)));
  }
  sim::DecisionLog log = annotated_log(shrunk.outcome, std::nullopt);
  log.metadata["shrunk-from-seed"] = std::to_string(seed);
  write_file("-o", args.output, log.to_text());
  fmt::print(stdout, "shrunk seed {}: {} decisions -> {} in {} attempts; still fails {} ({})\n{}", seed,
             shrunk.original_decisions, shrunk.log.size(), shrunk.attempts, shrunk.outcome.invariant,
             scenarios::to_string(shrunk.outcome.failure), indented(scenarios::describe(shrunk.outcome), 2));
  fmt::print(stdout, "wrote {}; replay it with:\n{} replay {} --config {} --schedule {}\n", args.output,
             scenarios::reproduce_program(), scenario.info().name, scenarios::to_string(config), args.output);
  return 0;
}

int trace_command(const OutputArgs& args) {
  const RunOptions options = resolve(args.raw, ConfigChoice::buggy);
  const scenarios::Scenario& scenario = find_scenario(args.scenario);
  const scenarios::ConfigKind config = single_config(options, "trace");
  const std::uint64_t seed = required_seed(options, "trace");
  if (args.output.empty() && args.html.empty())
    throw UsageError("trace writes -o FILE (Chrome JSON) or --html FILE");
  if (!args.output.empty()) check_writable_file("-o", args.output);
  if (!args.html.empty()) check_writable_file("--html", args.html);
  fmt::print(stderr, "asgisim trace {} --config {}: {}{}\n", scenario.info().name,
             scenarios::to_string(config), settings_summary(options),
             stack_summary(scenario, config, options.settings));
  std::fflush(stderr);
  scenarios::RunSettings settings = options.settings;
  settings.keep_trace = true;
  settings.keep_report = !args.html.empty();
  const scenarios::RunOutcome outcome = scenarios::run_seed(scenario, config, seed, settings);
  if (!args.output.empty()) {
    write_file("-o", args.output, outcome.chrome_trace);
    fmt::print(stdout, "wrote {} ({} bytes of Chrome trace JSON): open it at https://ui.perfetto.dev\n",
               args.output, outcome.chrome_trace.size());
  }
  if (!args.html.empty()) {
    const std::string page = scenarios::html_report({outcome}, settings);
    write_file("--html", args.html, page);
    fmt::print(stdout, "wrote {} ({} bytes of HTML): open it in a browser\n", args.html, page.size());
  }
  print_verdict(stdout, outcome, fmt::format("seed {}", seed),
                scenarios::reproduce_command(outcome, options.settings));
  return scenarios::exit_code(outcome.failure);
}

}  // namespace asgisim::cli
