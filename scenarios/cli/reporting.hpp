// What the CLI prints about sweeps: the human lines (a summary per sweep, a
// failure block ending with its reproduce line, aligned tables) and the
// machine lines (--json: one object per scenario and configuration).
//
//   SweepReport report = run_sweep(plan);
//   out << summary_line(report) << '\n';
//   if (report.failed()) out << failure_block(report, plan.settings);   // ends with the reproduce line
//   if (json) std::cout << sweep_json(report, plan.settings).dump() << '\n';
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "asgisim/scenarios/engine.hpp"
#include "sweep_driver.hpp"

namespace asgisim::cli {

// The exact command that reproduces the report's first failure.
std::string reproduce_line(const SweepReport& report, const scenarios::RunSettings& settings);

// The lowest failing seed of each failure class a sweep found, most severe
// first, with the command that reproduces it.
struct ClassReproduce {
  scenarios::FailureClass failure = scenarios::FailureClass::none;
  std::uint64_t seed = 0;
  std::string command{};
};
std::vector<ClassReproduce> class_reproduce_lines(const SweepReport& report,
                                                  const scenarios::RunSettings& settings);
// "background-cancelled  buggy  FAILED  100 seeds, 37 failures (invariant), 2345 seeds/s".
std::string summary_line(const SweepReport& report);
// The failure report (invariant, layer, detail, wait-for graph), indented,
// then the files kept, then "reproduce: <command>" as its last line.
std::string failure_block(const SweepReport& report, const scenarios::RunSettings& settings);
// One --json object: scenario, config, strategy, seed_base, seeds_run,
// failures, failure_class, exit_code, seconds, seeds_per_second, the
// regression counts, how the sweep ended (end: completed, deadline,
// interrupted), seeds_covered (the --seeds that repeats the seeds run),
// seeds_ran (in words), runs_abandoned, problems, error and
// error_reproduce (a run that threw), and for the first failure seed, seed_index, invariant,
// layer, reproduce.
nlohmann::json sweep_json(const SweepReport& report, const scenarios::RunSettings& settings);

// "completed", "deadline" (--duration), "interrupted" (a signal).
std::string_view to_string(scenarios::SweepEnd end);

// A plain-text table with aligned columns separated by " | ".
class Table {
 public:
  explicit Table(std::vector<std::string> header) : header_(std::move(header)) {}
  void add(std::vector<std::string> row) { rows_.push_back(std::move(row)); }
  std::string render() const;

 private:
  std::vector<std::string> header_;
  std::vector<std::vector<std::string>> rows_;
};

// "1 seed", "2 seeds".
std::string plural(std::uint64_t count, std::string_view word);
// Indents every line of `text` by `spaces`.
std::string indented(std::string_view text, std::size_t spaces);

}  // namespace asgisim::cli
