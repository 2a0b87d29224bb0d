// Runs scenarios: one seed, a replayed decision log, a sweep of seeds (on
// OS threads, sharded), shrinking a failure to a minimal decision log. The
// CLI (scenarios/cli) and the GoogleTest helpers (testing.hpp) are thin
// layers over this.
//
//   RunSettings settings{.strategy = sim::Strategy::random};
//   RunOutcome outcome = run_seed(scenario, ConfigKind::buggy, 42, settings);
//   if (outcome.failed()) std::cerr << describe(outcome) << reproduce_command(outcome, settings) << "\n";
//
//   SweepResult result = sweep(scenario, ConfigKind::fixed, settings, {.seeds = 10'000, .jobs = 2});
//
// One run: the configuration's versions (merged with --stack) are resolved
// to a Stack, the scenario's build() sets up the stack and its clients on a
// fresh Simulation, the checkers of ScenarioInfo::invariants are installed
// with the CheckerParams build() chose, the simulation runs, and the verdict
// is classified: the kernel's deadlock -> FailureClass::deadlock
// ("no-deadlock", report = the wait-for graph), a step or time budget ->
// liveness, an exception nobody received -> invariant "no-swallowed-error",
// else the first checker violation that is not a warning -> invariant. The
// most severe class wins. Everything is deterministic in the seed; the only
// state shared between runs is the per-thread stack pool.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "asgisim/core/observe.hpp"
#include "asgisim/scenarios/scenario.hpp"
#include "asgisim/sim/decision_log.hpp"
#include "asgisim/sim/simulation.hpp"

namespace asgisim::scenarios {

// The failure classes, with their exit codes. When a sweep finds several,
// the most severe wins: nondeterminism, deadlock, liveness, invariant.
enum class FailureClass : std::uint8_t {
  none = 0,
  invariant = 1,
  deadlock = 3,
  liveness = 4,
  nondeterminism = 5,
};
std::string_view to_string(FailureClass failure);
int exit_code(FailureClass failure);
// Severity order: none < invariant < liveness < deadlock < nondeterminism.
FailureClass most_severe(FailureClass a, FailureClass b);

// How runs are made; everything here is part of what reproduces a run
// (reproduce_command() and the decision log's metadata carry it).
struct RunSettings {
  // How the next ready task is picked (--strategy).
  sim::Strategy strategy = sim::Strategy::random;
  // PCT's bug depth (--pct-depth); only read under Strategy::pct.
  std::uint32_t pct_depth = 3;
  // Overrides the configuration's versions (--stack); unset fields keep them.
  StackVersions stack_override{};
  // Virtual-time budget per run (--max-time); unset: the scenario's.
  std::optional<sim::Nanoseconds> max_time_ns{};
  // Keep the trace records (for --trace-dir, --timeline, trace) and fill
  // RunOutcome::chrome_trace and ::timeline: costs memory (a 32 MiB ring)
  // and time. Never changes the run or its hash.
  bool keep_trace = false;
  // With keep_trace: also fill RunOutcome::report_trace, the trace as the
  // HTML report draws it (html_report.hpp). Never changes the run.
  bool keep_report = false;
  // Set from outside (an interrupted sweep): a run in flight stops between
  // steps and run_seed throws RunAbandoned. Never changes a run it does not
  // stop, so it is no part of what reproduces one.
  const std::atomic<bool>* abandon = nullptr;
};

// Thrown by run_seed, run_schedule and run_source when RunSettings::abandon
// stopped the run: it has no verdict.
struct RunAbandoned : std::runtime_error {
  RunAbandoned() : std::runtime_error("the run was abandoned") {}
};

struct RunOutcome {
  std::string scenario{};
  ConfigKind config = ConfigKind::buggy;
  std::uint64_t seed = 0;                        // the seed (0 for a replayed schedule)
  bool from_schedule = false;                    // run_schedule: a decision log, not a seed
  std::optional<std::uint64_t> schedule_seed{};  // the seed the log came from, when it says
  FailureClass failure = FailureClass::none;
  // The invariant id that failed: a checker's, "no-deadlock", "liveness",
  // "deterministic" or, for an exception nobody caught, "no-swallowed-error".
  std::string invariant{};
  std::string layer{};                        // the layer to blame, when known
  std::string report{};                       // the explanation: violation detail, wait-for graph, ...
  std::vector<core::Violation> violations{};  // every violation, warnings included
  sim::RunResult result{};
  std::uint64_t trace_hash = 0;
  std::optional<std::uint64_t> second_trace_hash{};  // failing seeds are run twice
  // What the run consumed; replays strictly to the same trace hash. Its
  // metadata names scenario, config, strategy, pct-depth, seed (for a seeded
  // run), stack and max-time-ns; its config_hash is config_hash().
  sim::DecisionLog decisions{};
  std::string chrome_trace{};  // Chrome trace JSON, when RunSettings::keep_trace
  std::string timeline{};      // text timeline, when RunSettings::keep_trace
  std::string report_trace{};  // the HTML report's trace JSON, when RunSettings::keep_report
  bool failed() const { return failure != FailureClass::none; }
};

// One run from a seed. A failing run is executed a second time and the trace
// hashes compared (a mismatch: FailureClass::nondeterminism, invariant
// "deterministic"). Throws UsageError when the stack cannot be resolved, and
// std::invalid_argument when the scenario names an unknown invariant or
// leaves a checker's CheckerParams unset. Safe to call from several OS
// threads at once (one simulation per thread).
RunOutcome run_seed(const Scenario& scenario, ConfigKind config, std::uint64_t seed,
                    const RunSettings& settings);
// One run fed by a decision log: strict (replay --schedule; a failure is
// run twice, as run_seed does) or lenient (shrinking; once). A strict log
// that does not fit the run (another scenario, another build) throws
// UsageError naming the position and both labels. RunOutcome::seed is 0.
RunOutcome run_schedule(const Scenario& scenario, ConfigKind config, const sim::DecisionLog& log,
                        sim::ReplayMode mode, const RunSettings& settings);
// One run fed by any choice source (fuzzing, RapidCheck); run once.
RunOutcome run_source(const Scenario& scenario, ConfigKind config, sim::ChoiceSource& source,
                      const RunSettings& settings);

// The hash stored in a decision log's header: the scenario, configuration
// and resolved versions. Replay warns when a log's hash differs.
std::uint64_t config_hash(const Scenario& scenario, ConfigKind config, const RunSettings& settings);
// `base` with the settings a recorded log's metadata names (strategy,
// pct-depth, stack, max-time-ns); what the log does not say stays. Throws
// UsageError for malformed metadata. Every outcome's `decisions` carries them
// (and scenario, config, seed), so `replay --schedule FILE` needs no flags.
RunSettings settings_for_log(const sim::DecisionLog& log, RunSettings base);

// A multi-line human report of a failed run: invariant, layer, detail, and
// for a deadlock the wait-for graph.
std::string describe(const RunOutcome& outcome);

// --shard K/N: seed index i (0-based) belongs to shard K (1-based) when
// i % N == K - 1.
struct Shard {
  std::uint32_t index = 1;
  std::uint32_t count = 1;
};
Shard parse_shard(std::string_view text);  // "3/8"; throws UsageError ("--shard 3/2")

struct SweepOptions {
  // The most seed indices [0, seeds) the sweep runs (of which the shard's).
  std::uint64_t seeds = 100;
  std::uint64_t seed_base = 0;  // seed of index i is seed_base + i
  std::uint32_t jobs = 1;       // OS threads; results identical to jobs = 1
  Shard shard{};
  bool stop_at_first_failure = false;
  // --duration: no seed starts after this instant; runs in flight finish.
  // Which seeds ran is always a prefix of the shard's seeds, so `seeds =
  // SweepResult::seeds_covered()` repeats the same set without a deadline.
  std::optional<std::chrono::steady_clock::time_point> deadline{};  // nondeterminism-ok: when to stop
  // Set from outside (a signal): no seed starts after it is seen.
  const std::atomic<bool>* stop = nullptr;
  // Set from outside (a second signal, or a grace period over): runs in
  // flight stop between steps and are not counted.
  const std::atomic<bool>* abandon = nullptr;
  // Called after each finished seed (from the calling thread, in seed
  // order) for progress: seeds done, failures so far.
  std::function<void(std::uint64_t done, std::uint64_t failures)> progress{};
  // Called for each failing seed with its whole outcome, from the calling
  // thread, in seed order, before `progress` reports it. Lets a caller keep
  // what it wants of each failure while the sweep holds only a bounded window.
  std::function<void(const RunOutcome& outcome)> on_failure{};
  // Runs one seed instead of run_seed (the CLI's --isolate runs it in a
  // worker process); called on the sweep's threads with the sweep's settings.
  // It may throw SeedCrashed: the seed counts as run, is not a failure, is
  // reported through on_crash, and the sweep goes on.
  std::function<RunOutcome(const Scenario& scenario, ConfigKind config, std::uint64_t seed,
                           const RunSettings& settings)>
      run_seed{};
  // Called for each crashed seed (see run_seed), from the calling thread, in
  // seed order.
  std::function<void(std::uint64_t seed, const std::string& how)> on_crash{};
};

// Thrown by SweepOptions::run_seed when the process that ran the seed died
// (a segfault or a failed assertion in a scenario's code): `how` says how
// ("crashed with SIGSEGV").
struct SeedCrashed : std::runtime_error {
  SeedCrashed(std::uint64_t seed_, std::string how_)
      : std::runtime_error("seed " + std::to_string(seed_) + " " + how_), seed(seed_), how(std::move(how_)) {}
  std::uint64_t seed = 0;
  std::string how{};
};

// Why a sweep ended.
enum class SweepEnd : std::uint8_t {
  completed,    // every seed of the range ran (or fail-fast stopped at a failure)
  deadline,     // SweepOptions::deadline passed
  interrupted,  // SweepOptions::stop or ::abandon was set
};

struct SweepResult {
  std::string scenario{};
  ConfigKind config = ConfigKind::buggy;
  // The shard's first `seeds_run` seeds ran, no others: seed indices
  // shard.index - 1 + k * shard.count for k < seeds_run.
  std::uint64_t seeds_run = 0;
  std::uint64_t failures = 0;
  FailureClass worst = FailureClass::none;
  std::optional<RunOutcome> first_failure{};  // lowest seed index that failed
  std::optional<std::uint64_t> first_failure_index{};
  // The lowest seed that failed with each class found: the reproduce line of
  // the most severe class may name another seed than first_failure's.
  std::map<FailureClass, std::uint64_t> first_seed_by_class{};
  SweepEnd end = SweepEnd::completed;
  std::uint64_t runs_abandoned = 0;  // runs in flight when ::abandon was set
  std::uint64_t crashes = 0;  // seeds whose process died (SweepOptions::run_seed), counted in seeds_run
  double seconds = 0;         // wall time (reporting only; never affects a run)
  // With `seeds` set to this, a sweep of the same shard runs the same seeds.
  std::uint64_t seeds_covered(Shard shard) const {
    return seeds_run == 0 ? 0 : shard.index + (seeds_run - 1) * shard.count;
  }
};
// Runs the shard's seeds on `jobs` OS threads. Results are those of a
// sequential run whatever `jobs` is: counts over the seeds run, the first
// failure is the lowest index, and with stop_at_first_failure the seeds run
// are exactly those up to it. Memory does not grow with `seeds`: at most a
// window of a few outcomes per job is held, and each failing seed keeps only
// its class (the first failure is kept whole). Throws UsageError for a bad
// shard, and rethrows (after joining the threads) what any run threw, as a
// SeedError naming the seed unless it was a UsageError.
SweepResult sweep(const Scenario& scenario, ConfigKind config, const RunSettings& settings,
                  const SweepOptions& options);

// A run of a sweep threw something other than a UsageError: a bug in the
// tool or the scenario. what() names the seed and the original message.
struct SeedError : std::runtime_error {
  SeedError(std::uint64_t seed_, const std::string& what) : std::runtime_error(what), seed(seed_) {}
  std::uint64_t seed = 0;
};

// The seed the calling thread's sweep run is executing, for a crash handler
// (async-signal-safe: a thread-local read). False outside a sweep's run.
bool running_seed(std::uint64_t& seed) noexcept;

struct ShrinkResult {
  sim::DecisionLog log{};  // minimal; replays strictly to the same invariant
  std::size_t original_decisions = 0;
  std::size_t attempts = 0;  // runs made (a candidate may take two: lenient, then re-synchronised)
  // The search stopped at ShrinkOptions::max_attempts or ::time_budget
  // instead of at a fixpoint (no pass finds anything smaller).
  bool budget_exhausted = false;
  RunOutcome outcome{};  // the run of `log`
};

struct ShrinkOptions {
  // The most runs the search makes.
  std::size_t max_attempts = 100'000;
  // Wall time the search may take; unset: no limit. A search that ends at a
  // fixpoint is deterministic (the same failing run gives the same log); one
  // cut short by this budget ends wherever the machine's speed left it.
  using Budget = std::chrono::nanoseconds;
  std::optional<Budget> time_budget = std::chrono::seconds(30);
};

// Shrinks the failing run of `seed` in the style of Hypothesis' shrinker
// (docs/replay-and-shrink.md): passes over the decision log (the shortest
// failing prefix; zero and binary-search each parameter; delete blocks, the
// decisions of one task, of one label, adaptively growing each deletion;
// zero blocks; minimise every value) repeated until none finds anything
// smaller or the budget ends. Each candidate is replayed leniently, then
// re-synchronised by label, and kept when it fails with the same class and
// invariant and the log the run consumed is shortlex-smaller. The result is
// confirmed by a strict replay (ShrinkResult::outcome). A passing or
// nondeterministic seed is returned unshrunk (attempts == 0).
ShrinkResult shrink(const Scenario& scenario, ConfigKind config, std::uint64_t seed,
                    const RunSettings& settings, const ShrinkOptions& options = {});
// The same with at most `max_attempts` runs and no time budget.
ShrinkResult shrink(const Scenario& scenario, ConfigKind config, std::uint64_t seed,
                    const RunSettings& settings, std::size_t max_attempts);

// One run a shrink asks for: the failing seed (`seed`), a candidate replayed
// leniently or re-synchronised by label, or the strict confirmation of the
// result (`log`).
struct ShrinkRun {
  enum class Kind : std::uint8_t { seed, lenient, resync, strict };
  Kind kind = Kind::seed;
  std::uint64_t seed = 0;
  const sim::DecisionLog* log = nullptr;  // all kinds but seed
};
// Runs one of them; the shrinker reads failure, invariant and decisions.
using ShrinkRunner = std::function<RunOutcome(const ShrinkRun&)>;
// shrink() with every run made by `run` (the Python bridge runs each in a
// fresh fork, so that no state of one attempt reaches the next).
ShrinkResult shrink(std::uint64_t seed, const ShrinkRunner& run, const ShrinkOptions& options = {});
// The run shrink() makes in this process (lenient and resync runs with
// `settings` as given: shrink() passes them without trace export).
RunOutcome run_for_shrink(const Scenario& scenario, ConfigKind config, const ShrinkRun& run,
                          const RunSettings& settings);

// The one line that reproduces a run: "PROGRAM replay NAME --config buggy
// --strategy random --seed 42 [--pct-depth D] [--stack ...] [--max-time S]"
// (--pct-depth only under pct; --max-time in seconds, exact to the ns).
std::string reproduce_command(const RunOutcome& outcome, const RunSettings& settings);

// PROGRAM of reproduce lines: "asgisim" until set. asgisim::cli::main sets it
// to its argv[0] as invoked, so a line runs as printed from the same
// directory; a test program sets it to the command-line program that has
// its scenarios. Shell-quoted when needed. Set it before runs start.
void set_reproduce_program(std::string_view program);
const std::string& reproduce_program();

}  // namespace asgisim::scenarios
