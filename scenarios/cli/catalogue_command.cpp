// `asgisim catalogue`, the main job: every registered scenario, its buggy
// configuration swept until the first failure (at most --buggy-seeds seeds)
// and its fixed configuration over --fixed-seeds seeds, as one table. Exits 0
// only when every buggy configuration failed and every fixed one passed.
// With --python, a column beside the model's: the scenarios whose buggy or
// fixed configuration is the installed Starlette, run against the real code
// through the bridge (real_stack.hpp); it must agree with the model.
#include <chrono>
#include <cstdio>
#include <map>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "commands.hpp"
#include "real_stack.hpp"
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

// Whether the real code's run of one configuration agrees with the model's:
// a buggy one fails with the same invariant, a fixed one passes, and a
// failure's second run (a fresh fork) gives the same trace hash.
bool agrees(const RealRun& real, const SweepReport& model) {
  if (!real.skipped.empty()) return true;
  if (!real.deterministic) return false;
  if (real.failed != model.failed()) return false;
  return !real.failed || real.invariant == model.first_failure()->invariant;
}

std::string real_part(const RealRun& real, const SweepReport& model) {
  if (!real.skipped.empty()) return fmt::format("{}: not run ({})", real.config, real.skipped);
  const std::string outcome =
      real.failed ? fmt::format("found after {} by {}", plural(real.seed + 1, "seed"), real.invariant)
                  : fmt::format("passed {}", plural(real.seeds_run, "seed"));
  if (agrees(real, model)) return fmt::format("{}: {}, agrees", real.config, outcome);
  if (!real.deterministic) return fmt::format("{}: {}, NONDETERMINISTIC", real.config, outcome);
  return fmt::format("{}: {}, DISAGREES", real.config, outcome);
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
  // The real stack first (the model's sweeps print progress after it).
  std::map<std::string, std::vector<RealRun>> real;
  std::string real_versions;
  if (!args.python.empty()) {
    fmt::print(stderr, "asgisim catalogue: the real stack through {} ...\n", args.python);
    std::fflush(stderr);
    real = run_real_catalogue(args.python, buggy_seeds);
    for (const auto& [name, runs] : real) {
      for (const RealRun& run : runs) {
        if (run.skipped.empty() && real_versions.find(run.starlette) == std::string::npos)
          real_versions += (real_versions.empty() ? "" : ", ") + run.starlette;
      }
    }
  }
  std::vector<std::string> header{"scenario", fmt::format("buggy (up to {} seeds)", buggy_seeds), "fixed"};
  if (!args.python.empty())
    header.push_back(real_versions.empty() ? "real stack" : "real Starlette " + real_versions);
  Table table(std::move(header));
  std::size_t real_agreeing = 0;
  std::size_t real_ran = 0;
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
    std::vector<std::string> cells{scenario->info().name, buggy_cell(row.buggy), fixed_cell(row.fixed)};
    if (!args.python.empty()) {
      std::string cell;
      const auto found = real.find(scenario->info().name);
      for (const RealRun& run : found == real.end() ? std::vector<RealRun>{} : found->second) {
        const SweepReport& model = run.config == "fixed" ? row.fixed : row.buggy;
        cell += (cell.empty() ? "" : "; ") + real_part(run, model);
        if (run.skipped.empty()) {
          ++real_ran;
          real_agreeing += agrees(run, model) ? 1 : 0;
        }
        if (options.json) {
          nlohmann::json line = nlohmann::json::parse(run.line);
          line["real"] = true;
          line["agrees"] = agrees(run, model);
          fmt::print(stdout, "{}\n", line.dump());
          std::fflush(stdout);
        }
      }
      cells.push_back(cell.empty() ? "-" : cell);
    }
    table.add(std::move(cells));
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
  if (!args.python.empty()) {
    fmt::print(out, "real stack: {} of {} configurations run against the real code agree with the model\n",
               real_agreeing, real_ran);
  }
  std::fflush(out);
  if (nondeterministic) return scenarios::exit_code(scenarios::FailureClass::nondeterminism);
  return expected == rows.size() && real_agreeing == real_ran ? 0 : 1;
}

}  // namespace asgisim::cli
