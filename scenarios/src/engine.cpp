// One run of a scenario: build the simulation, the stack and the checkers,
// run it, classify the result, and check determinism for failures.
#include "asgisim/scenarios/engine.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <cstdlib>
#include <stdexcept>
#include <string_view>
#include <utility>

#include "asgisim/report/report.hpp"
#include "asgisim/scenarios/checkers.hpp"
#include "asgisim/scenarios/timeline.hpp"
#include "asgisim/sim/assert.hpp"
#include "asgisim/sim/chrome_trace.hpp"
#include "asgisim/sim/errors.hpp"
#include "asgisim/version.hpp"

namespace asgisim::scenarios {
namespace {

// The flight recorder's size when a trace is kept (--trace-dir, --timeline).
constexpr std::size_t kKeptTraceRecords = std::size_t{1} << 20;

std::uint64_t fnv1a(std::string_view text) {
  std::uint64_t hash = 0xcbf29ce484222325ULL;
  for (const char c : text) {
    hash ^= static_cast<unsigned char>(c);
    hash *= 0x100000001b3ULL;
  }
  return hash;
}

StackVersions versions_for(const Scenario& scenario, ConfigKind config, const RunSettings& settings) {
  const ScenarioInfo& info = scenario.info();
  const Configuration& configuration = config == ConfigKind::buggy ? info.buggy : info.fixed;
  return merge(configuration.versions, settings.stack_override);
}

sim::SimulationOptions simulation_options(const ScenarioInfo& info, const Stack& stack, std::uint64_t seed,
                                          const RunSettings& settings) {
  sim::SimulationOptions options;
  options.seed = seed;
  options.strategy = settings.strategy;
  options.pct_depth = settings.pct_depth;
  options.steps_max = info.steps_max;
  options.time_max_ns = settings.max_time_ns.value_or(info.time_max_ns);
  options.task_group_errors = stack.task_group_errors;
  options.record_decisions = true;
  options.abandon = settings.abandon;
  // The hash is always computed; records are only kept when someone will read them.
  options.trace.records_max = settings.keep_trace ? kKeptTraceRecords : 0;
  return options;
}

// The checkers' verdict and the kernel's, folded into one failure.
void classify(RunOutcome& outcome, const core::Observer& observer) {
  ASGISIM_ASSERT(!outcome.failed() && outcome.invariant.empty(), "a run is classified once");
  const sim::RunResult& result = outcome.result;
  outcome.violations = observer.violations();
  switch (result.status) {
    case sim::RunStatus::completed:
      break;
    case sim::RunStatus::deadlock:
      outcome.failure = FailureClass::deadlock;
      outcome.invariant = "no-deadlock";
      outcome.layer = "scheduler";
      outcome.report = result.report;
      return;
    case sim::RunStatus::liveness_steps:
    case sim::RunStatus::liveness_time:
      outcome.failure = FailureClass::liveness;
      outcome.invariant = "liveness";
      outcome.layer = "scheduler";
      outcome.report = result.report;
      return;
    case sim::RunStatus::escaped:
      outcome.failure = FailureClass::liveness;
      outcome.invariant = "escape";
      outcome.layer = "simulation";
      outcome.report = result.report;
      return;
    case sim::RunStatus::task_error:
      outcome.failure = FailureClass::invariant;
      outcome.invariant = "no-swallowed-error";
      outcome.layer = "simulation";
      outcome.report =
          fmt::format("an exception reached the top of a task and nobody received it: {}\n{}",
                      result.error ? sim::describe(result.error) : std::string("?"), result.report);
      return;
    case sim::RunStatus::abandoned:
      throw RunAbandoned();
    case sim::RunStatus::replay_divergence:
      throw UsageError("the decision log does not fit this run: " + result.report);
    case sim::RunStatus::not_run:
      throw std::logic_error("the simulation did not run");
  }
  if (const core::Violation* violation = observer.first_failure()) {
    outcome.failure = FailureClass::invariant;
    outcome.invariant = violation->invariant;
    outcome.layer = violation->layer;
    outcome.report = violation->request != 0
                         ? fmt::format("request {} at {} ns: {}", violation->request, violation->time_ns,
                                       violation->detail)
                         : fmt::format("at {} ns: {}", violation->time_ns, violation->detail);
  }
}

void record_metadata(RunOutcome& outcome, const Scenario& scenario, const RunSettings& settings,
                     const std::optional<std::uint64_t>& seed) {
  sim::DecisionLog& log = outcome.decisions;
  log.tool_version = asgisim::kVersion;
  log.config_hash = config_hash(scenario, outcome.config, settings);
  log.metadata["scenario"] = scenario.info().name;
  log.metadata["config"] = std::string(to_string(outcome.config));
  log.metadata["strategy"] = std::string(sim::to_string(settings.strategy));
  log.metadata["pct-depth"] = std::to_string(settings.pct_depth);
  if (seed) log.metadata["seed"] = std::to_string(*seed);
  const std::string stack = to_string(settings.stack_override);
  if (!stack.empty()) log.metadata["stack"] = stack;
  if (settings.max_time_ns) log.metadata["max-time-ns"] = std::to_string(*settings.max_time_ns);
}

// What a run is for: judged (checkers, decisions, verdict), or only hashed
// (the determinism re-run: the checkers only read observations, so the
// trace hash does not depend on them).
enum class RunPurpose { judged, hashed };

// Everything one run needs, whatever feeds its choices.
RunOutcome run_once(const Scenario& scenario, ConfigKind config, std::uint64_t seed,
                    sim::ChoiceSource* source, const RunSettings& settings,
                    RunPurpose purpose = RunPurpose::judged) {
  const ScenarioInfo& info = scenario.info();
  const Stack stack = resolve(versions_for(scenario, config, settings));
  sim::Simulation sim(simulation_options(info, stack, seed, settings), source, sim::Runner::this_thread());
  core::Observer observer;
  observer.set_keep_log(false);
  core::observe_run(sim, observer);  // for the whole run: every layer reports to it, wired or not
  RunContext context{.sim = sim, .observer = observer, .config = config, .stack = stack};
  scenario.build(context);
  if (purpose == RunPurpose::judged) install_checkers(observer, info.invariants, context.params);

  RunOutcome outcome;
  outcome.scenario = info.name;
  outcome.config = config;
  outcome.seed = seed;
  outcome.result = sim.run();
  observer.finish();
  outcome.trace_hash = outcome.result.trace_hash;
  if (purpose == RunPurpose::hashed) {
    classify(outcome, observer);  // the kernel's verdict (and an abandoned run) only
    return outcome;
  }
  outcome.decisions = sim.decisions();
  outcome.decisions.own_labels();  // labels may point into the run's storage
  classify(outcome, observer);
  // A run fails exactly when it names the invariant it broke.
  ASGISIM_ASSERT(outcome.failed() != outcome.invariant.empty(), "invariant '{}'", outcome.invariant);
  // Not `"\n" + describe()`: GCC 12 at -O3 reports a false -Wrestrict (GCC bug 105651).
  if (outcome.failed() && context.describe) outcome.report += fmt::format("\n{}", context.describe());
  if (settings.keep_trace) {
    sim::ChromeTraceOptions chrome{.process_name = "asgisim " + info.name, .metadata = {}};
    chrome.metadata["scenario"] = info.name;
    chrome.metadata["config"] = std::string(to_string(config));
    chrome.metadata["seed"] = std::to_string(seed);
    chrome.metadata["strategy"] = std::string(sim::to_string(settings.strategy));
    if (outcome.failed()) chrome.metadata["invariant"] = outcome.invariant;
    outcome.chrome_trace = sim::chrome_trace_json(sim.trace(), sim.task_names(), chrome);
    outcome.timeline = text_timeline(sim.trace(), sim.task_names());
    if (settings.keep_report) outcome.report_trace = report::trace_data(sim.trace(), sim.task_names());
  }
  return outcome;
}

// A failing run is run again; a different trace hash is nondeterminism,
// which outranks whatever the first run found.
void check_determinism(RunOutcome& outcome, const std::function<RunOutcome()>& again,
                       RunPurpose second_purpose) {
  if (!outcome.failed()) return;
  const RunOutcome second = again();
  outcome.second_trace_hash = second.trace_hash;
  if (second.trace_hash == outcome.trace_hash) return;
  const std::string second_verdict = fmt::format(
      "{}: {} '{}'", second_purpose == RunPurpose::judged ? "second run" : "second run (no checkers)",
      to_string(second.failure), second.invariant);
  outcome.report = fmt::format(
      "the same run gave two trace hashes: {:#018x} then {:#018x} (first run: {} '{}'; {}). "
      "Something outside the choice stream (a wall clock, an address, unordered iteration) steered it.\n{}",
      outcome.trace_hash, second.trace_hash, to_string(outcome.failure), outcome.invariant, second_verdict,
      outcome.report);
  outcome.failure = FailureClass::nondeterminism;
  outcome.invariant = "deterministic";
  outcome.layer = "simulation";
}

}  // namespace

std::string_view to_string(FailureClass failure) {
  switch (failure) {
    case FailureClass::none:
      return "passed";
    case FailureClass::invariant:
      return "invariant";
    case FailureClass::deadlock:
      return "deadlock";
    case FailureClass::liveness:
      return "liveness";
    case FailureClass::nondeterminism:
      return "nondeterminism";
  }
  return "?";
}

int exit_code(FailureClass failure) { return static_cast<int>(failure); }

FailureClass most_severe(FailureClass a, FailureClass b) {
  const auto rank = [](FailureClass f) {
    switch (f) {
      case FailureClass::none:
        return 0;
      case FailureClass::invariant:
        return 1;
      case FailureClass::liveness:
        return 2;
      case FailureClass::deadlock:
        return 3;
      case FailureClass::nondeterminism:
        return 4;
    }
    return 0;
  };
  return rank(a) >= rank(b) ? a : b;
}

std::uint64_t config_hash(const Scenario& scenario, ConfigKind config, const RunSettings& settings) {
  return fnv1a(fmt::format("{}|{}|{}", scenario.info().name, to_string(config),
                           to_string(versions_for(scenario, config, settings))));
}

RunOutcome run_seed(const Scenario& scenario, ConfigKind config, std::uint64_t seed,
                    const RunSettings& settings) {
  RunOutcome outcome = run_once(scenario, config, seed, nullptr, settings);
  // The second run only needs its hash: no trace export, no checkers.
  RunSettings quiet = settings;
  quiet.keep_trace = false;
  check_determinism(
      outcome, [&] { return run_once(scenario, config, seed, nullptr, quiet, RunPurpose::hashed); },
      RunPurpose::hashed);
  record_metadata(outcome, scenario, settings, seed);
  return outcome;
}

RunOutcome run_schedule(const Scenario& scenario, ConfigKind config, const sim::DecisionLog& log,
                        sim::ReplayMode mode, const RunSettings& settings) {
  const auto replay = [&](const RunSettings& run_settings) {
    sim::ReplayChoiceSource source(log.decisions(), mode, log.first_decision_line());
    RunOutcome outcome = run_once(scenario, config, 0, &source, run_settings);
    // A strict log is exactly what a run consumed: decisions left over mean
    // it was recorded by another run (or edited), and its verdict means nothing.
    if (mode == sim::ReplayMode::strict && !source.exhausted()) {
      const std::size_t line = log.first_decision_line();
      throw UsageError(
          fmt::format("the decision log does not fit this run: the run ended after {} of its {} "
                      "decisions (the first one left over is {})",
                      source.position(), log.size(),
                      line == 0 ? fmt::format("decision {}", source.position() + 1)
                                : fmt::format("on line {}", line + source.position())));
    }
    return outcome;
  };
  RunOutcome outcome = replay(settings);
  outcome.from_schedule = true;
  for (const char* key : {"seed", "shrunk-from-seed"}) {
    const auto found = log.metadata.find(key);
    std::uint64_t seed = 0;
    if (found != log.metadata.end() && !outcome.schedule_seed &&
        std::from_chars(found->second.data(), found->second.data() + found->second.size(), seed).ec ==
            std::errc()) {
      outcome.schedule_seed = seed;
    }
  }
  // Shrinking replays leniently thousands of times; only a strict replay
  // (what a user runs) pays for the second run.
  RunSettings quiet = settings;
  quiet.keep_trace = false;
  if (mode == sim::ReplayMode::strict)
    check_determinism(
        outcome, [&] { return replay(quiet); }, RunPurpose::judged);
  record_metadata(outcome, scenario, settings, std::nullopt);
  return outcome;
}

RunOutcome run_source(const Scenario& scenario, ConfigKind config, sim::ChoiceSource& source,
                      const RunSettings& settings) {
  RunOutcome outcome = run_once(scenario, config, 0, &source, settings);
  record_metadata(outcome, scenario, settings, std::nullopt);
  return outcome;
}

RunSettings settings_for_log(const sim::DecisionLog& log, RunSettings base) {
  const auto get = [&](const std::string& key) -> const std::string* {
    auto it = log.metadata.find(key);
    return it == log.metadata.end() ? nullptr : &it->second;
  };
  if (const std::string* strategy = get("strategy")) {
    if (!sim::parse_strategy(*strategy, base.strategy)) {
      throw UsageError("decision log: unknown strategy '" + *strategy + "'");
    }
  }
  const auto number = [&](const std::string& key, const std::string& text) {
    char* end = nullptr;
    const unsigned long long value = std::strtoull(text.c_str(), &end, 10);
    if (text.empty() || end == nullptr || *end != '\0')
      throw UsageError("decision log: malformed " + key + " '" + text + "'");
    return static_cast<std::uint64_t>(value);
  };
  if (const std::string* depth = get("pct-depth"))
    base.pct_depth = static_cast<std::uint32_t>(number("pct-depth", *depth));
  if (const std::string* stack = get("stack")) base.stack_override = parse_stack_spec(*stack);
  if (const std::string* time = get("max-time-ns")) {
    base.max_time_ns = static_cast<sim::Nanoseconds>(number("max-time-ns", *time));
  }
  return base;
}

}  // namespace asgisim::scenarios
