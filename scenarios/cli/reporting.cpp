// Human and JSON reports of sweeps.
#include "reporting.hpp"

#include <algorithm>

#include <fmt/format.h>

namespace asgisim::cli {

namespace {

std::string replay_schedule_command(const RegressionFailure& failure) {
  return fmt::format("{} replay {} --config {} --schedule {}", scenarios::reproduce_program(),
                     failure.outcome.scenario, scenarios::to_string(failure.outcome.config),
                     failure.path.string());
}

}  // namespace

std::string_view to_string(scenarios::SweepEnd end) {
  switch (end) {
    case scenarios::SweepEnd::completed:
      return "completed";
    case scenarios::SweepEnd::deadline:
      return "deadline";
    case scenarios::SweepEnd::interrupted:
      return "interrupted";
  }
  return "?";
}

std::string indented(std::string_view text, std::size_t spaces) {
  std::string out;
  const std::string pad(spaces, ' ');
  std::size_t start = 0;
  while (start < text.size()) {
    const std::size_t end = std::min(text.find('\n', start), text.size());
    out += pad;
    out += text.substr(start, end - start);
    out += '\n';
    start = end + 1;
  }
  return out;
}

std::vector<ClassReproduce> class_reproduce_lines(const SweepReport& report,
                                                  const scenarios::RunSettings& settings) {
  std::vector<ClassReproduce> lines;
  for (const auto& [failure, seed] : report.result.first_seed_by_class) {
    scenarios::RunOutcome outcome;
    outcome.scenario = report.result.scenario;
    outcome.config = report.result.config;
    outcome.seed = seed;
    lines.push_back({failure, seed, scenarios::reproduce_command(outcome, settings)});
  }
  std::ranges::stable_sort(lines, [](const ClassReproduce& a, const ClassReproduce& b) {
    return a.failure != b.failure && scenarios::most_severe(a.failure, b.failure) == a.failure;
  });
  return lines;
}

std::string reproduce_line(const SweepReport& report, const scenarios::RunSettings& settings) {
  if (report.result.first_failure)
    return scenarios::reproduce_command(*report.result.first_failure, settings);
  if (report.first_regression_failure) return replay_schedule_command(*report.first_regression_failure);
  return "";
}

std::string plural(std::uint64_t count, std::string_view word) {
  return fmt::format("{} {}{}", count, word, count == 1 ? "" : "s");
}

std::string summary_line(const SweepReport& report) {
  std::string line =
      fmt::format("{}  {}  {}  {}, {}", report.result.scenario, scenarios::to_string(report.result.config),
                  report.failed() ? "FAILED" : "passed", plural(report.result.seeds_run, "seed"),
                  plural(report.failures(), "failure"));
  if (report.failed()) line += fmt::format(" ({})", scenarios::to_string(report.worst()));
  line += fmt::format(", {:.0f} seeds/s", report.seeds_per_second());
  if (report.result.end != scenarios::SweepEnd::completed) {
    // Which seeds ran, exactly, and how to run the same ones again.
    line += fmt::format("; {} ({}): ran {}, `--seeds {}` repeats them",
                        report.interrupted() ? "INTERRUPTED" : "time is up",
                        report.interrupted() ? "stopped by a signal" : "--duration", report.seeds_ran(),
                        report.result.seeds_covered(report.shard));
    if (report.result.runs_abandoned > 0)
      line += fmt::format(", {} abandoned", plural(report.result.runs_abandoned, "run in flight"));
  }
  if (report.regressions_replayed > 0) {
    line += fmt::format("; regressions: {} replayed, {} failed", report.regressions_replayed,
                        report.regressions_failed);
  }
  if (const scenarios::RunOutcome* first = report.first_failure(); first && report.result.first_failure) {
    line += fmt::format("; first failure: seed {} (index {}) {}", first->seed, first->seed - report.seed_base,
                        first->invariant);
  }
  return line;
}

std::string failure_block(const SweepReport& report, const scenarios::RunSettings& settings) {
  const scenarios::RunOutcome* first = report.first_failure();
  if (first == nullptr) return "";
  std::string block = indented(scenarios::describe(*first), 2);
  constexpr std::size_t kPathsListed = 5;
  const auto list = [&](const std::vector<std::filesystem::path>& paths, std::string_view what) {
    for (std::size_t i = 0; i < paths.size() && i < kPathsListed; ++i)
      block += fmt::format("  {}: {}\n", what, paths[i].string());
    if (paths.size() > kPathsListed)
      block += fmt::format("  ... and {} more {} files\n", paths.size() - kPathsListed, what);
  };
  list(report.traces_written, "trace");
  list(report.regressions_saved, "kept");
  if (report.failures_not_kept > 0) {
    block += fmt::format("  (files kept for the first {} failing seeds only; {} more failed)\n",
                         kKeptFailuresMax, report.failures_not_kept);
  }
  block += fmt::format("  reproduce: {}\n", reproduce_line(report, settings));
  const std::vector<ClassReproduce> by_class = class_reproduce_lines(report, settings);
  if (by_class.size() > 1) {  // one line per class, most severe first
    for (const ClassReproduce& line : by_class) {
      block += fmt::format("  reproduce {} (exit {}): {}\n", scenarios::to_string(line.failure),
                           scenarios::exit_code(line.failure), line.command);
    }
  }
  return block;
}

nlohmann::json sweep_json(const SweepReport& report, const scenarios::RunSettings& settings) {
  nlohmann::json object = {
      {"scenario", report.result.scenario},
      {"config", std::string(scenarios::to_string(report.result.config))},
      {"strategy", std::string(sim::to_string(settings.strategy))},
      // 64-bit values as decimal strings: jq and JavaScript read JSON numbers
      // as doubles, exact only up to 2^53 (seed indexes stay numbers).
      {"seed_base", std::to_string(report.seed_base)},
      {"seeds_run", report.result.seeds_run},
      {"failures", report.failures()},
      {"failure_class", std::string(scenarios::to_string(report.worst()))},
      {"exit_code", scenarios::exit_code(report.worst())},
      {"seconds", report.result.seconds},
      {"seeds_per_second", report.seeds_per_second()},
      {"regressions_replayed", report.regressions_replayed},
      {"regressions_failed", report.regressions_failed},
      {"end", std::string(to_string(report.result.end))},
      {"seeds_covered", report.result.seeds_covered(report.shard)},
      {"seeds_ran", report.seeds_ran()},
      {"runs_abandoned", report.result.runs_abandoned},
      {"problems", report.problems},
  };
  if (!report.error.empty()) {
    object["error"] = report.error;
    object["error_reproduce"] = report.error_reproduce;
  }
  if (const scenarios::RunOutcome* first = report.first_failure()) {
    if (report.result.first_failure) {
      object["seed"] = std::to_string(first->seed);
      object["seed_index"] = first->seed - report.seed_base;
    } else {
      object["schedule"] = report.first_regression_failure->path.string();
    }
    object["invariant"] = first->invariant;
    object["layer"] = first->layer;
    object["reproduce"] = reproduce_line(report, settings);
  }
  return object;
}

std::string Table::render() const {
  std::vector<std::size_t> widths(header_.size(), 0);
  const auto measure = [&](const std::vector<std::string>& row) {
    for (std::size_t i = 0; i < row.size() && i < widths.size(); ++i)
      widths[i] = std::max(widths[i], row[i].size());
  };
  measure(header_);
  for (const auto& row : rows_) measure(row);
  const auto line = [&](const std::vector<std::string>& row) {
    std::string out;
    for (std::size_t i = 0; i < widths.size(); ++i) {
      const std::string cell = i < row.size() ? row[i] : "";
      out += i == 0 ? "" : " | ";
      out += i + 1 == widths.size() ? cell : fmt::format("{:<{}}", cell, widths[i]);
    }
    return out + '\n';
  };
  std::string out = line(header_);
  std::vector<std::string> rule;
  for (const std::size_t width : widths) rule.emplace_back(width, '-');
  std::string separator;
  for (std::size_t i = 0; i < widths.size(); ++i) separator += (i == 0 ? "" : "-|-") + rule[i];
  out += separator + '\n';
  for (const auto& row : rows_) out += line(row);
  return out;
}

}  // namespace asgisim::cli
