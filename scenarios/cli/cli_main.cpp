// The asgisim command line (asgisim::cli::main, asgisim/cli.hpp): parses the
// subcommands and options with CLI11, runs one command over the registry it
// was given and maps bad input of any kind to exit 2 with one line. The
// commands themselves are in *_command.cpp; see `asgisim --help`.
#include <cstdio>
#include <exception>
#include <filesystem>
#include <functional>

#include <fmt/format.h>
#include <CLI/CLI.hpp>

#include "asgisim/cli.hpp"
#include "asgisim/scenarios/engine.hpp"
#include "asgisim/sim/decision_log.hpp"
#include "asgisim/version.hpp"
#include "commands.hpp"
#include "registry.hpp"

namespace cli = asgisim::cli;

namespace {

const asgisim::scenarios::Registry* g_registry = nullptr;  // set by cli::main, before any command

constexpr int kUsageExit = 2;

constexpr const char* kMainFooter = R"(Examples:
  asgisim list                                         # the scenarios, one line each
  asgisim catalogue                                    # every scenario, both configurations, a table
  asgisim run background-cancelled --seeds 1000        # sweep 1000 seeds, buggy and fixed
  asgisim run all --config fixed --seeds 10000 --jobs 8 --shard 2/4 --junit shard2.xml
  asgisim replay background-cancelled --config buggy --seed 3 --timeline
  asgisim shrink background-cancelled --seed 3 -o min.decisions
  asgisim replay background-cancelled --schedule min.decisions
  asgisim trace background-cancelled --seed 3 -o run.json      # open in https://ui.perfetto.dev

Exit codes: 0 passed, 1 invariant violated, 2 bad usage or bad input, 3 deadlock,
4 liveness, 5 nondeterminism. When a sweep finds several kinds, the most severe wins:
5, then 3, then 4, then 1. `catalogue` exits 0 only when every buggy configuration
failed and every fixed one passed.

The first line of a run (stderr) states its seeds, strategy and options; the last line
of a failure is the exact command that reproduces it. Run `asgisim COMMAND --help`
for each command's options.)";

// Options every command that runs a scenario takes.
void add_run_options(CLI::App& command, cli::RawOptions& raw, const char* config_default) {
  command
      .add_option("--config", raw.config,
                  fmt::format("Which configuration of the scenario: buggy, fixed or both (default {})",
                              config_default))
      ->type_name("buggy|fixed|both");
  command.add_option("--seed", raw.seed, "Run exactly this seed (decimal or 0x hex)")->type_name("S");
  command
      .add_option("--strategy", raw.strategy,
                  "Scheduling strategy: fifo (asyncio's order), random (default; uniform among ready tasks) "
                  "or pct (probabilistic concurrency testing)")
      ->type_name("fifo|random|pct");
  command.add_option("--pct-depth", raw.pct_depth, "PCT bug depth d: d-1 priority change points (default 3)")
      ->type_name("D");
  command
      .add_option(
          "--stack", raw.stack,
          "Choose behaviours by versions, overriding the configuration's: packages starlette, uvicorn, "
          "python, anyio, fastapi, e.g. starlette==0.20.4,uvicorn==0.28.0,python==3.7")
      ->type_name("PKG==VER,...");
  command
      .add_option(
          "--max-time", raw.max_time,
          "Virtual-time budget of each run in seconds (default: the scenario's); past it, liveness fails")
      ->type_name("SECONDS");
  command.add_flag("--json", raw.json, "Write one JSON object per line to stdout (human lines go to stderr)");
}

// Options of seed sweeps (run, catalogue).
void add_sweep_options(CLI::App& command, cli::RawOptions& raw) {
  CLI::Option* seeds =
      command
          .add_option("--seeds", raw.seeds,
                      "How many seeds each sweep runs (default 100; 1e9 is allowed; with --duration, a cap)")
          ->type_name("N");
  CLI::Option* duration =
      command
          .add_option(
              "--duration", raw.duration,
              "Run seeds from the base until this much wall-clock time is up (300, 90s, 5m, 1h30m), "
              "with --seeds as an optional cap; each sweep gets an equal share of the time left, runs "
              "in flight finish, and each summary says which seed indices ran")
          ->type_name("TIME");
  if (CLI::Option* seed = command.get_option_no_throw("--seed")) {
    seeds->excludes(seed);
    duration->excludes(seed);
  }
  command
      .add_option(
          "--seed-base", raw.seed_base,
          "Seed of index 0 (default 0, so CI repeats the same seeds); 'random' picks one and prints it")
      ->type_name("B|random");
  command
      .add_option("--jobs", raw.jobs,
                  fmt::format("OS threads running seeds in parallel (default {}, every hardware thread); "
                              "results are identical to --jobs 1",
                              cli::default_jobs()))
      ->type_name("J");
  command
      .add_option("--shard", raw.shard,
                  "Run only shard K of N (1 <= K <= N): seed index i belongs to shard i % N + 1. The shards "
                  "are disjoint and together give the full sweep")
      ->type_name("K/N");
  command
      .add_option("--regressions", raw.regressions,
                  "Keep every failing decision log in DIR and replay the stored ones first next time")
      ->type_name("DIR");
  command
      .add_option("--junit", raw.junit,
                  "Write JUnit XML (one testcase per scenario and configuration) to FILE")
      ->type_name("FILE");
  command
      .add_option("--trace-dir", raw.trace_dir,
                  "Write the Chrome trace JSON of failing runs to DIR/<scenario>-<config>-seed-<S>.json: the "
                  "first --traces-max of each sweep")
      ->type_name("DIR");
  command
      .add_option("--traces-max", raw.traces_max,
                  "With --trace-dir: traces kept per scenario and configuration, lowest failing seeds first "
                  "(default 10)")
      ->type_name("N");
  command.add_flag("--fail-fast", raw.fail_fast, "Stop each sweep at its first failing seed");
  command.add_flag("--isolate", raw.isolate,
                   "Run each seed in a worker process (a fork): a run that crashes (a segfault or a failed "
                   "assertion in a scenario's code) is reported with its seed and reproduce line and the "
                   "sweep goes on; results are the same as without it");
  command
      .add_option("--want", raw.want,
                  "End with the command that reproduces the first seed failing with this class (default: "
                  "the most severe class found)")
      ->type_name("invariant|deadlock|liveness|nondeterminism");
}

struct Parsed {
  cli::ListArgs list{};
  cli::CatalogueArgs catalogue{};
  cli::RunArgs run{};
  cli::ReplayArgs replay{};
  cli::OutputArgs shrink{};
  cli::OutputArgs trace{};
  std::function<int()> command{};
};

void add_list(CLI::App& app, Parsed& parsed) {
  CLI::App* list = app.add_subcommand("list", "List the scenarios: name, title, upstream issue, invariants");
  list->add_flag("--invariants", parsed.list.invariants,
                 "List the invariant ids and what each means instead");
  list->footer("Example:\n  asgisim list\n  asgisim list --invariants");
  list->callback([&parsed] { parsed.command = [&parsed] { return cli::list_command(parsed.list); }; });
}

void add_catalogue(CLI::App& app, Parsed& parsed) {
  CLI::App* catalogue = app.add_subcommand(
      "catalogue",
      "The main job: every scenario in both configurations, as a table (buggy: found after N seeds "
      "by which invariant; fixed: passed M seeds)");
  cli::RawOptions& raw = parsed.catalogue.raw;
  catalogue
      ->add_option("--buggy-seeds", parsed.catalogue.buggy_seeds,
                   fmt::format("Most seeds a buggy sweep may take before its bug counts as not found "
                               "(default {})",
                               cli::kCatalogueBuggySeeds))
      ->type_name("N");
  catalogue
      ->add_option(
          "--fixed-seeds", parsed.catalogue.fixed_seeds,
          fmt::format("Seeds each fixed configuration must pass (default {})", cli::kCatalogueFixedSeeds))
      ->type_name("M");
  catalogue->add_option("--seed-base", raw.seed_base, "Seed of index 0 (default 0); 'random' picks one")
      ->type_name("B|random");
  catalogue->add_option("--jobs", raw.jobs, "OS threads (default: every hardware thread)")->type_name("J");
  catalogue->add_option("--strategy", raw.strategy, "fifo, random (default) or pct")
      ->type_name("fifo|random|pct");
  catalogue->add_option("--pct-depth", raw.pct_depth, "PCT bug depth (default 3)")->type_name("D");
  catalogue->add_flag("--json", raw.json, "One JSON object per scenario and configuration on stdout");
  catalogue
      ->add_option("--python", parsed.catalogue.python,
                   "A python3 with asgisim's bridge (<build>/python/asgisim-python): adds the column of the "
                   "real stack, the scenarios whose configuration is the installed Starlette run against the "
                   "real code, which must agree with the model")
      ->type_name("CMD");
  catalogue->footer(
      "Exits 0 only when every buggy configuration failed and every fixed one passed (5 if any run was "
      "nondeterministic), else 1; with --python, also 1 when the real stack disagrees with the model.\n"
      "Example:\n  asgisim catalogue --fixed-seeds 10000 --jobs 8\n"
      "  asgisim catalogue --python build/release/python/asgisim-python");
  catalogue->callback(
      [&parsed] { parsed.command = [&parsed] { return cli::catalogue_command(parsed.catalogue); }; });
}

void add_run(CLI::App& app, Parsed& parsed) {
  CLI::App* run = app.add_subcommand("run", "Sweep seeds over one scenario or all of them");
  run->add_option("scenario", parsed.run.scenario, "A scenario name (see `asgisim list`) or 'all'")
      ->required()
      ->type_name("SCENARIO|all");
  add_run_options(*run, parsed.run.raw, "both");
  add_sweep_options(*run, parsed.run.raw);
  run->add_option("--html", parsed.run.html,
                  "Write the sweeps as one self-contained HTML page: per scenario and configuration the "
                  "seeds, seeds/s, failures by class and invariant, and the run of each class's first "
                  "failing seed (the first few embedded)")
      ->type_name("FILE");
  run->footer(R"(Each sweep prints a summary line; a failing one prints the report of its lowest failing
seed (invariant, layer, details, the wait-for graph of a deadlock) and the command that
reproduces it. The last line of a failing run is that command for the most severe failure.
Examples:
  asgisim run background-cancelled --config buggy --seeds 100
  asgisim run all --seeds 10000 --jobs 8 --json > results.jsonl
  asgisim run all --seeds 100000 --shard 3/8 --junit shard3.xml --regressions .asgisim/regressions
  asgisim run threadpool-deadlock --strategy pct --pct-depth 4 --seed-base random
  asgisim run all --config fixed --duration 5m --jobs 2 --junit out.xml    # a time-boxed CI job
SIGINT or SIGTERM stops taking seeds; the runs in flight get 2 s to finish (a second
signal abandons them at once), then every report is written (summary, JSON lines, JUnit
marked interrupted, regressions, traces) and the exit code is the most severe failure
found, else 130 (SIGINT) or 143 (SIGTERM). Files are written atomically; a file that
cannot be written is named in a warning and the verdict still stands (exit 2 if nothing
failed). A crash in a run prints its seed and the line that reproduces it.)");
  run->callback([&parsed] { parsed.command = [&parsed] { return cli::run_command(parsed.run); }; });
}

void add_replay(CLI::App& app, Parsed& parsed) {
  CLI::App* replay = app.add_subcommand("replay", "Run one seed, or a decision-log file, again");
  replay->add_option("scenario", parsed.replay.scenario, "The scenario name")
      ->required()
      ->type_name("SCENARIO");
  add_run_options(*replay, parsed.replay.raw, "buggy");
  CLI::Option* schedule =
      replay
          ->add_option(
              "--schedule", parsed.replay.schedule,
              "Replay this decision-log file strictly (from `shrink` or --regressions); its recorded "
              "configuration and strategy apply unless given")
          ->type_name("FILE");
  if (CLI::Option* seed = replay->get_option_no_throw("--seed")) schedule->excludes(seed);
  replay->add_option("--trace", parsed.replay.trace, "Also write the run's Chrome trace JSON to FILE")
      ->type_name("FILE");
  replay->add_flag(
      "--timeline", parsed.replay.timeline,
      "Print the run as a text timeline on stdout: one column per task, virtual time down the side");
  replay
      ->add_option("--html", parsed.replay.html,
                   "Also write the run as one self-contained HTML page (no network): swimlanes per task, "
                   "the ASGI messages between the layers, the violation, a deadlock's wait-for graph")
      ->type_name("FILE");
  replay
      ->add_option("--compare", parsed.replay.compare,
                   "With --html: also run the same seed under this configuration and show both runs, "
                   "aligned on the client's events, with where they part")
      ->check(CLI::IsMember({"buggy", "fixed"}))
      ->type_name("buggy|fixed");
  replay->footer(R"(Exits with the run's failure class (0 when it passes).
Examples:
  asgisim replay background-cancelled --config buggy --strategy random --seed 3
  asgisim replay background-cancelled --seed 3 --timeline --trace run.json
  asgisim replay background-cancelled --seed 3 --html run.html --compare fixed
  asgisim replay background-cancelled --schedule min.decisions)");
  replay->callback([&parsed] { parsed.command = [&parsed] { return cli::replay_command(parsed.replay); }; });
}

void add_output_command(CLI::App& app, Parsed& parsed, cli::OutputArgs& args, const char* name,
                        const char* description, const char* output_help, const char* footer) {
  CLI::App* command = app.add_subcommand(name, description);
  command->add_option("scenario", args.scenario, "The scenario name")->required()->type_name("SCENARIO");
  add_run_options(*command, args.raw, "buggy");
  command->get_option("--seed")->required();
  const bool shrinking = std::string_view(name) == "shrink";
  CLI::Option* output = command->add_option("-o,--output", args.output, output_help)->type_name("FILE");
  if (shrinking) {
    output->required();
  } else {
    command
        ->add_option("--html", args.html,
                     "Write the run as one self-contained HTML page (no network); with or without -o")
        ->type_name("FILE");
  }
  command->footer(footer);
  command->callback([&parsed, &args, shrinking] {
    parsed.command = [&args, shrinking] {
      return shrinking ? cli::shrink_command(args) : cli::trace_command(args);
    };
  });
}

int usage_error(const std::string& message) {
  fmt::print(stderr, "asgisim: error: {}\n", message);
  return kUsageExit;
}

}  // namespace

const asgisim::scenarios::Registry& cli::registry() { return *g_registry; }

int cli::main(int argc, char** argv, const asgisim::scenarios::Registry& registry) {
  g_registry = &registry;
  if (argc > 0 && argv[0] != nullptr && *argv[0] != '\0') asgisim::scenarios::set_reproduce_program(argv[0]);
  CLI::App app{
      fmt::format("asgisim {}: deterministic simulation of async Python HTTP (ASGI) stacks. Every run is "
                  "a function of one 64-bit seed; a failure is found again, byte for byte, from the line "
                  "asgisim prints.",
                  asgisim::kVersion),
      "asgisim"};
  app.footer(kMainFooter);
  app.require_subcommand(1);
  app.set_version_flag("--version", asgisim::kVersion);
  Parsed parsed;
  add_list(app, parsed);
  add_catalogue(app, parsed);
  add_run(app, parsed);
  add_replay(app, parsed);
  add_output_command(app, parsed, parsed.shrink, "shrink",
                     "Shrink a failing seed to a minimal decision log that still fails the same invariant",
                     "Write the decision log to FILE",
                     R"(Then `asgisim replay SCENARIO --schedule FILE` reproduces it.
Exits 0 when FILE was written, 2 when the seed does not fail.
Example:
  asgisim shrink background-cancelled --config buggy --seed 3 -o min.decisions)");
  add_output_command(app, parsed, parsed.trace, "trace",
                     "Write one seed's run as Chrome trace-event JSON (open it in https://ui.perfetto.dev) "
                     "and/or as an HTML report (--html)",
                     "Write the Chrome trace JSON to FILE",
                     R"(Exits with the run's failure class, like replay.
Example:
  asgisim trace background-cancelled --config buggy --seed 3 -o run.json
  asgisim trace background-cancelled --config buggy --seed 3 --html run.html)");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& error) {
    if (error.get_exit_code() == 0) return app.exit(error);  // --help, --version
    return usage_error(fmt::format("{} (see asgisim --help)", error.what()));
  }
  try {
    return parsed.command();
  } catch (const asgisim::scenarios::UsageError& error) {
    return usage_error(error.what());
  } catch (const asgisim::sim::DecisionLogError& error) {
    return usage_error(error.what());
  } catch (const std::exception& error) {
    // An output that became unwritable mid-run, and the like: the input
    // (the environment) is at fault, and the message says where.
    return usage_error(error.what());
  }
}
