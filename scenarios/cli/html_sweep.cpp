// The sweep view of `asgisim run --html`.
#include "html_sweep.hpp"

#include <fmt/format.h>

#include "asgisim/scenarios/html_report.hpp"
#include "atomic_file.hpp"

namespace asgisim::cli {

void HtmlSweep::add(const SweepPlan& plan, const SweepReport& report) {
  if (!enabled()) return;
  report::SweepRow row{.scenario = report.result.scenario,
                       .config = std::string(scenarios::to_string(report.result.config)),
                       .seeds = report.result.seeds_run,
                       .seconds = report.result.seconds,
                       .failures = report.failures(),
                       .failures_by = report.failures_by,
                       .first_failures = {}};
  for (const auto& [key, seed] : report.first_seed_by) {
    scenarios::RunOutcome named;
    named.scenario = row.scenario;
    named.config = plan.config;
    named.seed = seed;
    report::SweepRow::Example example{.failure = key.substr(0, key.find(' ')),
                                      .invariant = key.substr(key.find(' ') + 1),
                                      .seed = seed,
                                      .reproduce = scenarios::reproduce_command(named, plan.settings),
                                      .run = -1};
    if (runs_.size() < kHtmlRunsMax) {
      scenarios::RunSettings settings = plan.settings;
      settings.keep_trace = settings.keep_report = true;
      settings.abandon = plan.options.abandon;
      try {
        // A seed is a pure function of its settings: the same run again.
        const scenarios::RunOutcome outcome =
            scenarios::run_seed(*plan.scenario, plan.config, seed, settings);
        example.run = static_cast<int>(runs_.size());
        runs_.push_back(scenarios::html_run(outcome, plan.settings));
      } catch (const scenarios::RunAbandoned&) {
        // Interrupted: the row still names the seed and its command.
      }
    }
    row.first_failures.push_back(std::move(example));
  }
  rows_.push_back(std::move(row));
}

void HtmlSweep::write() const {
  if (!enabled()) return;
  write_file_atomically(path_, report::html_page(runs_, "asgisim sweep", report::sweep_data(rows_)));
}

}  // namespace asgisim::cli
