// asgisim._native: the thin pybind11 surface over the kernel, the uvicorn
// model, the checkers and the engine. Everything a run decides stays in C++;
// the Python package (python/asgisim) adds the asyncio loop, the patches and
// the command line.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include "asgisim/scenarios/checkers.hpp"
#include "asgisim/scenarios/engine.hpp"
#include "asgisim/sim/decision_log.hpp"
#include "asgisim/sim/runner_options.hpp"
#include "asgisim/version.hpp"
#include "bridge_run.hpp"
#include "python_app.hpp"
#include "python_scenario.hpp"

namespace py = pybind11;
namespace scn = asgisim::scenarios;
using asgisim::python::AppCall;
using asgisim::python::BridgeRun;
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

}  // namespace

PYBIND11_MODULE(_native, m) {
  m.doc() = "asgisim's kernel, uvicorn model, checkers and engine, for real Python ASGI apps";
  asgisim::sim::configure_this_thread_runner({.guarded_stack_bytes = kBridgeStackBytes});
  py::register_exception<scn::UsageError>(m, "UsageError");
  m.attr("version") = asgisim::kVersion;

  py::class_<BridgeRun, std::shared_ptr<BridgeRun>>(m, "Run")
      .def("wake_loop", &BridgeRun::wake_loop)
      .def("now_ns", &BridgeRun::now_ns)
      .def("choose", &BridgeRun::choose)
      .def("note", &BridgeRun::note)
      .def("live", &BridgeRun::live)
      .def("observe", &BridgeRun::observe)
      .def("observe_message", &BridgeRun::observe_message)
      .def("report_violation", &BridgeRun::report_violation)
      .def_property_readonly("handles_run", &BridgeRun::handles_run);

  py::class_<AppCall, std::shared_ptr<AppCall>>(m, "AppCall")
      .def("receive", &AppCall::receive)
      .def("send", &AppCall::send)
      .def("cancel_receive", &AppCall::cancel_receive)
      .def("finish", &AppCall::finish)
      .def_property_readonly("request", &AppCall::request);

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
      "replay",
      [](const PythonScenario& scenario, const std::string& log_text, const std::string& origin, bool strict,
         const py::dict& options, const py::dict& metadata) {
        const asgisim::sim::DecisionLog log = parse_log(log_text, origin);
        const scn::RunSettings settings = scn::settings_for_log(log, settings_from(options));
        scn::RunOutcome outcome = scn::run_schedule(
            scenario, scn::ConfigKind::buggy, log,
            strict ? asgisim::sim::ReplayMode::strict : asgisim::sim::ReplayMode::lenient, settings);
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
      "shrink",
      [](const PythonScenario& scenario, std::uint64_t seed, const py::dict& options,
         const py::dict& metadata, std::size_t max_attempts) {
        scn::ShrinkResult result =
            scn::shrink(scenario, scn::ConfigKind::buggy, seed, settings_from(options), max_attempts);
        py::dict shrunk = outcome_dict(result.outcome, metadata);
        for (auto item : metadata) {
          result.log.metadata[item.first.cast<std::string>()] = item.second.cast<std::string>();
        }
        shrunk["log"] = result.log.to_text();
        shrunk["original_decisions"] = result.original_decisions;
        shrunk["shrunk_decisions"] = result.log.size();
        shrunk["attempts"] = result.attempts;
        return shrunk;
      },
      "Shrinks a failing seed to a minimal decision log (Hypothesis style).");
}
