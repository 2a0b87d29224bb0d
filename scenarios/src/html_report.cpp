// A run's outcome as the HTML report's run: everything but the trace, which
// the engine kept as RunOutcome::report_trace while the run's Simulation lived.
#include "asgisim/scenarios/html_report.hpp"

#include <fmt/format.h>

namespace asgisim::scenarios {

report::RunInfo report_info(const RunOutcome& outcome, const RunSettings& settings) {
  report::RunInfo info;
  const bool seeded = outcome.decisions.metadata.contains("seed");
  info.title = fmt::format("{} [{}] {}", outcome.scenario, to_string(outcome.config),
                           seeded ? fmt::format("seed {}", outcome.seed) : std::string("replayed schedule"));
  for (const auto& [key, value] : outcome.decisions.metadata) info.metadata[key] = value;
  info.metadata["status"] = std::string(sim::to_string(outcome.result.status));
  info.metadata["steps"] = std::to_string(outcome.result.steps);
  info.metadata["virtual time"] = fmt::format("{} ns", outcome.result.end_time_ns);
  info.metadata["decisions"] = std::to_string(outcome.decisions.size());
  info.metadata["trace hash"] = fmt::format("{:#018x}", outcome.trace_hash);
  if (outcome.failed()) {
    info.failure = std::string(to_string(outcome.failure));
    info.invariant = outcome.invariant;
    info.layer = outcome.layer;
    info.explanation = outcome.report;
    if (seeded) info.reproduce = reproduce_command(outcome, settings);
  }
  for (const core::Violation& v : outcome.violations) {
    info.violations.push_back({.invariant = v.invariant,
                               .layer = v.layer,
                               .request = v.request,
                               .time_ns = v.time_ns,
                               .detail = v.detail,
                               .warning = v.warning,
                               .trace_records = v.trace_records});
  }
  info.blocked = outcome.result.blocked;
  return info;
}

std::string html_run(const RunOutcome& outcome, const RunSettings& settings) {
  return report::run_data(report_info(outcome, settings), outcome.report_trace);
}

std::string html_report(const std::vector<RunOutcome>& outcomes, const RunSettings& settings) {
  std::vector<std::string> runs;
  std::string title;
  for (const RunOutcome& outcome : outcomes) {
    const report::RunInfo info = report_info(outcome, settings);
    title += (title.empty() ? "" : " | ") + info.title;
    runs.push_back(report::run_data(info, outcome.report_trace));
  }
  // Two runs with their traces (`--compare`): aligned on the client's events.
  std::string compare;
  if (outcomes.size() == 2 && !outcomes[0].report_trace.empty() && !outcomes[1].report_trace.empty()) {
    compare = report::compare_data(outcomes[0].report_trace, outcomes[1].report_trace,
                                   std::string(to_string(outcomes[0].config)),
                                   std::string(to_string(outcomes[1].config)));
  }
  return report::html_page(runs, title.empty() ? "asgisim" : title, "", compare);
}

}  // namespace asgisim::scenarios
