// `asgisim catalogue`, the main job: every registered scenario, its buggy
// configuration swept until the first failure (at most --buggy-seeds seeds)
// and its fixed configuration over --fixed-seeds seeds, as one table. Exits 0
// only when every buggy configuration failed and every fixed one passed.
#include <chrono>
#include <cstdio>

#include <fmt/format.h>

#include "commands.hpp"
#include "registry.hpp"
#include "reporting.hpp"
#include "sweep_driver.hpp"

namespace asgisim::cli {

namespace {

struct Row {
  SweepReport buggy{};
  SweepReport fixed{};
  bool expected() const { return buggy.failed() && !fixed.failed(); }
};

std::string buggy_cell(const SweepReport& report) {
  if (!report.result.first_failure)
    return fmt::format("NOT FOUND in {}", plural(report.result.seeds_run, "seed"));
  const scenarios::RunOutcome& first = *report.result.first_failure;
  return fmt::format("found after {} by {}", plural(first.seed - report.seed_base + 1, "seed"),
                     first.invariant);
}

std::string fixed_cell(const SweepReport& report) {
  if (!report.failed()) return fmt::format("passed {}", plural(report.result.seeds_run, "seed"));
  return fmt::format("FAILED {} of {} seeds ({})", report.failures(), report.result.seeds_run,
                     report.first_failure()->invariant);
}

SweepReport sweep_one(const scenarios::Scenario& scenario, scenarios::ConfigKind config,
                      const RunOptions& options, std::uint64_t seeds, bool stop_at_first_failure) {
  const SweepPlan plan{.scenario = &scenario,
                       .config = config,
                       .settings = options.settings,
                       .options = {.seeds = seeds,
                                   .seed_base = options.seed_base,
                                   .jobs = options.jobs,
                                   .shard = {},
                                   .stop_at_first_failure = stop_at_first_failure,
                                   .progress = {}}};
  return run_sweep(plan);
}

}  // namespace

int catalogue_command(const CatalogueArgs& args) {
  const RunOptions options = resolve(args.raw, ConfigChoice::both);
  constexpr std::uint64_t kSeedsMax = std::uint64_t{1} << 40;
  const std::uint64_t buggy_seeds = args.buggy_seeds.empty()
                                        ? kCatalogueBuggySeeds
                                        : parse_positive("--buggy-seeds", args.buggy_seeds, kSeedsMax);
  const std::uint64_t fixed_seeds = args.fixed_seeds.empty()
                                        ? kCatalogueFixedSeeds
                                        : parse_positive("--fixed-seeds", args.fixed_seeds, kSeedsMax);
  const std::vector<const scenarios::Scenario*> all = registry().all();
  if (all.empty()) throw UsageError("no scenarios are registered");
  fmt::print(stderr,
             "asgisim catalogue: {} scenarios; buggy: up to {} seeds, stopping at the first failure; fixed: "
             "{} seeds; "
             "seed base {}, strategy {}, jobs {}\n",
             all.size(), buggy_seeds, fixed_seeds, options.seed_base,
             sim::to_string(options.settings.strategy), options.jobs);
  std::fflush(stderr);

  const auto started = std::chrono::steady_clock::now();  // nondeterminism-ok: wall time, reporting only
  Table table({"scenario", fmt::format("buggy (up to {} seeds)", buggy_seeds), "fixed"});
  std::vector<Row> rows;
  bool nondeterministic = false;
  for (const scenarios::Scenario* scenario : all) {
    Row row{sweep_one(*scenario, scenarios::ConfigKind::buggy, options, buggy_seeds, true),
            sweep_one(*scenario, scenarios::ConfigKind::fixed, options, fixed_seeds, false)};
    for (const SweepReport* report : {&row.buggy, &row.fixed}) {
      nondeterministic |= report->worst() == scenarios::FailureClass::nondeterminism;
      if (options.json) {
        nlohmann::json line = sweep_json(*report, options.settings);
        line["expected"] = report == &row.buggy ? "fail" : "pass";
        fmt::print(stdout, "{}\n", line.dump());
        std::fflush(stdout);
      }
    }
    table.add({scenario->info().name, buggy_cell(row.buggy), fixed_cell(row.fixed)});
    rows.push_back(std::move(row));
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();  // nondeterminism-ok

  std::FILE* out = options.json ? stderr : stdout;
  fmt::print(out, "\n{}\n", table.render());
  std::size_t expected = 0;
  for (const Row& row : rows) {
    expected += row.expected() ? 1 : 0;
    if (row.fixed.failed()) {
      fmt::print(out, "{} (fixed) should pass but failed:\n{}", row.fixed.result.scenario,
                 failure_block(row.fixed, options.settings));
    }
  }
  fmt::print(out, "Reproduce the buggy failures:\n");
  for (const Row& row : rows) {
    if (row.buggy.failed()) fmt::print(out, "  {}\n", reproduce_line(row.buggy, options.settings));
  }
  fmt::print(out, "\n{} of {} scenarios as expected (buggy failed, fixed passed) in {:.1f} s wall time\n",
             expected, rows.size(), seconds);
  std::fflush(out);
  if (nondeterministic) return scenarios::exit_code(scenarios::FailureClass::nondeterminism);
  return expected == rows.size() ? 0 : 1;
}

}  // namespace asgisim::cli
