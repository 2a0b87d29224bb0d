// A run (or several, side by side) as the self-contained HTML report
// (`asgisim replay ... --html FILE`; asgisim/report/report.hpp draws it).
//
//   RunSettings settings{.keep_trace = true, .keep_report = true};
//   RunOutcome outcome = run_seed(scenario, ConfigKind::buggy, 0, settings);
//   write(path, html_report({outcome}, settings));
#pragma once

#include <string>
#include <vector>

#include "asgisim/report/report.hpp"
#include "asgisim/scenarios/engine.hpp"

namespace asgisim::scenarios {

// What the report says about `outcome` besides its trace: title, metadata,
// verdict, violations, the wait-for graph, the command that reproduces it.
report::RunInfo report_info(const RunOutcome& outcome, const RunSettings& settings);

// `outcome` as one run of report::html_page().
std::string html_run(const RunOutcome& outcome, const RunSettings& settings);

// The page for `outcomes` (each run with RunSettings::keep_report, else
// shown without its trace), in order.
std::string html_report(const std::vector<RunOutcome>& outcomes, const RunSettings& settings);

}  // namespace asgisim::scenarios
