// asgisim._native: the thin pybind11 surface over the kernel, the uvicorn
// model, the checkers and the engine. Everything a run decides stays in C++;
// the Python package (python/asgisim) adds the asyncio loop, the patches and
// the command line.
#include "native_module.hpp"

#include <pybind11/stl.h>

#include <cstdint>
#include <span>
#include <string>

#include "asgisim/scenarios/checkers.hpp"
#include "asgisim/scenarios/engine.hpp"
#include "asgisim/sim/choice.hpp"
#include "asgisim/sim/decision_log.hpp"
#include "asgisim/sim/runner_options.hpp"
#include "asgisim/version.hpp"
#include "bindings.hpp"
#include "bridge_run.hpp"
#include "python_app.hpp"
#include "python_scenario.hpp"

namespace py = pybind11;
namespace scn = asgisim::scenarios;
using asgisim::python::PythonScenario;

namespace {

// The loop task runs the whole of Starlette's call chain: Python's C
// recursion (coroutine sends, pybind11 calls) needs far more than the
// kernel's default 256 KiB.
constexpr std::size_t kBridgeStackBytes = 8 * 1024 * 1024;

scn::RunSettings settings_from(const py::dict& options) {
  scn::RunSettings settings;
  if (!asgisim::sim::parse_strategy(options["strategy"].cast<std::string>(), settings.strategy)) {
    throw scn::UsageError("unknown strategy " + options["strategy"].cast<std::string>());
  }
  settings.pct_depth = options["pct_depth"].cast<std::uint32_t>();
  settings.keep_trace = options["keep_trace"].cast<bool>();
  if (!options["max_time_ns"].is_none()) settings.max_time_ns = options["max_time_ns"].cast<std::int64_t>();
  return settings;
}

py::dict outcome_dict(scn::RunOutcome& outcome, const py::dict& metadata) {
  for (auto item : metadata) {
    outcome.decisions.metadata[item.first.cast<std::string>()] = item.second.cast<std::string>();
  }
  py::dict result;
  result["failure"] = scn::exit_code(outcome.failure);
  result["failure_name"] = std::string(scn::to_string(outcome.failure));
  result["invariant"] = outcome.invariant;
  result["layer"] = outcome.layer;
  result["report"] = outcome.report;
  result["describe"] = outcome.failed() ? scn::describe(outcome) : std::string();
  result["trace_hash"] = outcome.trace_hash;
  result["steps"] = outcome.result.steps;
  result["end_time_ns"] = outcome.result.end_time_ns;
  result["decisions"] = outcome.decisions.to_text();
  result["decision_count"] = outcome.decisions.size();
  result["chrome_trace"] = outcome.chrome_trace;
  result["timeline"] = outcome.timeline;
  py::list warnings;
  for (const auto& violation : outcome.violations) {
    if (violation.warning)
      warnings.append(violation.invariant + " (" + violation.layer + "): " + violation.detail);
  }
  result["warnings"] = warnings;
  return result;
}

asgisim::sim::DecisionLog parse_log(const std::string& text, const std::string& origin) {
  try {
    return asgisim::sim::DecisionLog::parse(text, origin);
  } catch (const asgisim::sim::DecisionLogError& e) {
    throw scn::UsageError(e.what());
  }
}

constexpr std::pair<scn::ShrinkRun::Kind, std::string_view> kShrinkRunNames[] = {
    {scn::ShrinkRun::Kind::seed, "seed"},
    {scn::ShrinkRun::Kind::lenient, "lenient"},
    {scn::ShrinkRun::Kind::resync, "resync"},
    {scn::ShrinkRun::Kind::strict, "strict"}};

std::string_view shrink_run_name(scn::ShrinkRun::Kind kind) {
  for (const auto& [k, name] : kShrinkRunNames) {
    if (k == kind) return name;
  }
  return "?";
}

scn::ShrinkRun::Kind shrink_run_kind(const std::string& name) {
  for (const auto& [kind, n] : kShrinkRunNames) {
    if (n == name) return kind;
  }
  throw scn::UsageError("unknown shrink run kind " + name);
}

// A strict replay, once: run_schedule() would run it twice in this process,
// and the second run would see the state the first left in the app.
scn::RunOutcome run_strict_once(const PythonScenario& scenario, const asgisim::sim::DecisionLog& log,
                                const scn::RunSettings& settings) {
  asgisim::sim::ReplayChoiceSource source(log.decisions(), asgisim::sim::ReplayMode::strict,
                                          log.first_decision_line());
  scn::RunOutcome outcome = scn::run_source(scenario, scn::ConfigKind::buggy, source, settings);
  if (!source.exhausted()) {
    throw scn::UsageError("the decision log does not fit this run: the run ended after " +
                          std::to_string(source.position()) + " of its " + std::to_string(log.size()) +
                          " decisions");
  }
  return outcome;
}

// What the shrinker reads of a run, back from outcome_dict()'s form.
scn::RunOutcome outcome_from_dict(const py::dict& result) {
  scn::RunOutcome outcome;
  const auto name = result["failure_name"].cast<std::string>();
  for (scn::FailureClass failure :
       {scn::FailureClass::none, scn::FailureClass::invariant, scn::FailureClass::deadlock,
        scn::FailureClass::liveness, scn::FailureClass::nondeterminism}) {
    if (scn::to_string(failure) == name) outcome.failure = failure;
  }
  outcome.invariant = result["invariant"].cast<std::string>();
  outcome.decisions = parse_log(result["decisions"].cast<std::string>(), "shrink attempt");
  return outcome;
}

}  // namespace

namespace asgisim::python {

void define_native_module(py::module_& m) {
  m.doc() = "asgisim's kernel, uvicorn model, checkers and engine, for real Python ASGI apps";
  asgisim::sim::configure_this_thread_runner({.guarded_stack_bytes = kBridgeStackBytes});
  py::register_exception<scn::UsageError>(m, "UsageError");
  m.attr("version") = asgisim::kVersion;

  asgisim::python::bind_run_types(m, /*module_local=*/false);

  py::class_<PythonScenario, std::shared_ptr<PythonScenario>>(m, "Scenario")
      .def(py::init([](py::object host, std::string name, std::vector<std::string> invariants,
                       std::uint64_t steps_max, std::int64_t time_max_ns) {
             scn::ScenarioInfo info;
             info.name = std::move(name);
             info.title = "a real Python ASGI app";
             info.invariants = std::move(invariants);
             info.steps_max = steps_max;
             info.time_max_ns = time_max_ns;
             return std::make_shared<PythonScenario>(std::move(host), std::move(info));
           }),
           py::arg("host"), py::arg("name"), py::arg("invariants"), py::arg("steps_max"),
           py::arg("time_max_ns"));

  m.def("invariant_ids", [] {
    std::vector<std::string> ids;
    for (std::string_view id : scn::invariant_ids()) ids.emplace_back(id);
    return ids;
  });
  m.def(
      "run_seed",
      [](const PythonScenario& scenario, std::uint64_t seed, const py::dict& options,
         const py::dict& metadata) {
        // Once: the caller re-runs a failing seed in a fresh fork, not in this
        // process. The seeded source makes exactly the run run_seed() would.
        asgisim::sim::PrngChoiceSource source(seed);
        scn::RunOutcome outcome =
            scn::run_source(scenario, scn::ConfigKind::buggy, source, settings_from(options));
        outcome.seed = seed;
        outcome.decisions.metadata["seed"] = std::to_string(seed);
        return outcome_dict(outcome, metadata);
      },
      "One run from a seed, once (the caller re-runs failures in a fresh fork).");
  m.def(
      "run_bytes",
      [](const PythonScenario& scenario, const py::bytes& data, const py::dict& options,
         const py::dict& metadata) {
        // The fuzz target's run: the bytes are a lenient choice stream (a
        // value out of range is reduced, an exhausted input answers 0); the
        // decisions the run consumed become a log that replays it strictly.
        const std::string bytes = data;
        asgisim::sim::ByteChoiceSource source(
            std::span<const std::uint8_t>(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size()));
        scn::RunOutcome outcome =
            scn::run_source(scenario, scn::ConfigKind::buggy, source, settings_from(options));
        return outcome_dict(outcome, metadata);
      },
      "One run whose choices are read from fuzz bytes (lenient).");
  m.def(
      "replay",
      [](const PythonScenario& scenario, const std::string& log_text, const std::string& origin, bool strict,
         const py::dict& options, const py::dict& metadata) {
        const asgisim::sim::DecisionLog log = parse_log(log_text, origin);
        const scn::RunSettings settings = scn::settings_for_log(log, settings_from(options));
        // Once: the caller re-runs a strict replay in a fresh fork and compares.
        scn::RunOutcome outcome = strict ? run_strict_once(scenario, log, settings)
                                         : scn::run_schedule(scenario, scn::ConfigKind::buggy, log,
                                                             asgisim::sim::ReplayMode::lenient, settings);
        return outcome_dict(outcome, metadata);
      },
      "One run fed by a decision log (text), strictly or leniently.");
  m.def("log_metadata", [](const std::string& log_text, const std::string& origin) {
    const asgisim::sim::DecisionLog log = parse_log(log_text, origin);
    std::map<std::string, std::string> metadata = log.metadata;
    metadata["tool-version"] = log.tool_version;
    return metadata;
  });
  m.def(
      "shrink_run",
      [](const PythonScenario& scenario, const std::string& kind, std::uint64_t seed,
         const std::string& log_text, const py::dict& options, const py::dict& metadata) {
        scn::ShrinkRun run{.kind = shrink_run_kind(kind), .seed = seed};
        asgisim::sim::DecisionLog log;
        if (run.kind != scn::ShrinkRun::Kind::seed) {
          log = parse_log(log_text, "shrink attempt");
          run.log = &log;
        }
        scn::RunSettings settings = settings_from(options);
        if (run.kind == scn::ShrinkRun::Kind::lenient || run.kind == scn::ShrinkRun::Kind::resync)
          settings.keep_trace = false;  // many attempts: no trace export
        if (run.kind == scn::ShrinkRun::Kind::seed) {
          // Once, as run_seed here: a second run in this process would see the
          // state the first left (the CLI checks determinism in fresh forks).
          asgisim::sim::PrngChoiceSource source(seed);
          scn::RunOutcome outcome = scn::run_source(scenario, scn::ConfigKind::buggy, source, settings);
          outcome.seed = seed;
          outcome.decisions.metadata["seed"] = std::to_string(seed);
          return outcome_dict(outcome, metadata);
        }
        if (run.kind == scn::ShrinkRun::Kind::strict) {
          scn::RunOutcome outcome = run_strict_once(scenario, log, settings);
          outcome.seed = seed;
          return outcome_dict(outcome, metadata);
        }
        scn::RunOutcome outcome = scn::run_for_shrink(scenario, scn::ConfigKind::buggy, run, settings);
        return outcome_dict(outcome, metadata);
      },
      "One run of a shrink (seed, lenient, resync or strict), as run_seed's dict.");
  m.def(
      "shrink",
      [](std::uint64_t seed, const py::function& run_one, std::size_t max_attempts) {
        // Every run goes through `run_one(kind, seed, log_text)` (the caller
        // forks a fresh child for each); the search itself stays here.
        py::dict last;
        const scn::ShrinkRunner runner = [&](const scn::ShrinkRun& which) {
          const std::string log_text = which.log != nullptr ? which.log->to_text() : std::string();
          py::dict result = run_one(std::string(shrink_run_name(which.kind)), which.seed, log_text);
          scn::RunOutcome outcome = outcome_from_dict(result);
          last = std::move(result);
          return outcome;
        };
        const scn::ShrinkResult result = scn::shrink(seed, runner, {.max_attempts = max_attempts});
        py::dict shrunk = last;  // the dict of the result's own run (the strict confirmation)
        shrunk["log"] = result.log.to_text();
        shrunk["original_decisions"] = result.original_decisions;
        shrunk["shrunk_decisions"] = result.log.size();
        shrunk["attempts"] = result.attempts;
        return shrunk;
      },
      "Shrinks a failing seed to a minimal decision log (Hypothesis style), each run by run_one.");
}

}  // namespace asgisim::python
