// `asgisim run ... --html FILE`: the sweeps as one HTML page (the sweep view)
// with the runs of the first failing seeds embedded.
//
//   HtmlSweep page(options.html);
//   for (...) { SweepReport report = run_sweep(plan); page.add(plan, report); }
//   page.write();   // throws OutputError naming the file
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "asgisim/report/report.hpp"
#include "sweep_driver.hpp"

namespace asgisim::cli {

// Runs embedded in the page at most (each first failing seed of a class and
// invariant, in sweep order, runs again with its trace kept); the others are
// listed with the command that writes their report.
inline constexpr std::size_t kHtmlRunsMax = 6;

class HtmlSweep {
 public:
  explicit HtmlSweep(std::filesystem::path path) : path_(std::move(path)) {}
  bool enabled() const { return !path_.empty(); }
  // Adds the sweep's row; runs its first failing seeds again for their
  // reports while fewer than kHtmlRunsMax are embedded.
  void add(const SweepPlan& plan, const SweepReport& report);
  void write() const;

 private:
  std::filesystem::path path_;
  std::vector<report::SweepRow> rows_;
  std::vector<std::string> runs_;
};

}  // namespace asgisim::cli
