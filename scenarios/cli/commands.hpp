// The asgisim subcommands. main() parses the command line with CLI11 into
// these argument structs and calls one function; each returns the process's
// exit code (0 passed, 1 invariant, 3 deadlock, 4 liveness, 5
// nondeterminism) or throws UsageError for bad input (exit 2).
//
//   RawOptions raw{.seeds = "1000", .strategy = "pct"};
//   return run_command({.scenario = "all", .raw = raw});
#pragma once

#include <string>

#include "options.hpp"

namespace asgisim::cli {

struct ListArgs {
  bool invariants = false;  // list the invariant ids instead of the scenarios
};

struct CatalogueArgs {
  std::string buggy_seeds{};  // --buggy-seeds N: the most seeds a buggy sweep may take
  std::string fixed_seeds{};  // --fixed-seeds M
  std::string python{};       // --python CMD: also the real stack's column (real_stack.hpp)
  RawOptions raw{};           // --jobs, --strategy, --pct-depth, --seed-base, --json
};

struct RunArgs {
  std::string scenario{};  // a name or "all"
  RawOptions raw{};
  std::string html{};  // --html FILE: the sweep view, with the first failures' runs
};

struct ReplayArgs {
  std::string scenario{};
  RawOptions raw{};
  std::string schedule{};  // --schedule FILE (instead of --seed)
  std::string trace{};     // --trace FILE: Chrome trace JSON of the run
  bool timeline = false;   // --timeline: text timeline on stdout
  std::string html{};      // --html FILE: the run as a self-contained HTML report
  std::string compare{};   // --compare buggy|fixed: the same seed under that configuration too (with --html)
};

struct OutputArgs {  // shrink and trace
  std::string scenario{};
  RawOptions raw{};
  std::string output{};  // -o FILE
  std::string html{};    // trace --html FILE: the run as a self-contained HTML report
};

// The catalogue's default fixed-configuration sweep: sized so that the whole
// catalogue finishes within two minutes on two cores in the release build
// (measured: 10,000 seeds took 77 s of CPU, so 5,000 take about 20 s of wall
// time on two idle cores, leaving room for a slower or busier machine).
inline constexpr std::uint64_t kCatalogueFixedSeeds = 5'000;
inline constexpr std::uint64_t kCatalogueBuggySeeds = 100;

int list_command(const ListArgs& args);
int catalogue_command(const CatalogueArgs& args);
int run_command(const RunArgs& args);
int replay_command(const ReplayArgs& args);
int shrink_command(const OutputArgs& args);
int trace_command(const OutputArgs& args);

// "seeds 0..99 (100), strategy random, pct-depth 3, jobs 2": the settings
// part of a run's first line.
std::string settings_summary(const RunOptions& options);

// "; buggy stack: starlette 0.20.4 (BaseHTTPMiddleware cancel, ...), ...":
// the resolved behaviour of each layer, appended to a run's first line.
std::string stack_summary(const scenarios::Scenario& scenario, scenarios::ConfigKind config,
                          const scenarios::RunSettings& settings);

}  // namespace asgisim::cli
