// _differential_bridge: the differential cases through the bridge. The real
// Python stack of a case (tests/differential/stack.py on the real Starlette)
// runs as a PythonApp on the bridge's SimLoop, under the kernel with the fifo
// strategy, behind the same server harness as the model (CASE_FORMAT.md 1.3).
// Its events land in one Recorder with the harness's, so the observation
// compares with the real side's on stock asyncio (bridge_oracle.py).
//
//   events_json = _differential_bridge.run_case(case_json, driver)
//
// `driver` (bridge_oracle.Driver) builds the case's app with the recorder,
// makes the run's SimLoop (begin), starts app calls (start_app_call), names
// Python exceptions (exception_name) and ends the run (end).
#include <pybind11/pybind11.h>

#include <memory>
#include <string>

#include "asgisim/sim/cancel.hpp"
#include "asgisim/sim/runner_options.hpp"
#include "asgisim/sim/simulation.hpp"
#include "bindings.hpp"
#include "bridge_run.hpp"
#include "case.hpp"
#include "python_app.hpp"
#include "recorder.hpp"
#include "uvicorn_harness.hpp"

namespace py = pybind11;

namespace asgisim::differential {
namespace {

constexpr std::size_t kBridgeStackBytes = 8 * 1024 * 1024;  // as asgisim._native

// The Python side's `record(ev, fields)`: fields as a JSON object text.
class PythonRecorder {
 public:
  explicit PythonRecorder(std::shared_ptr<Recorder> record) : record_(std::move(record)) {}
  void record(const std::string& event, const std::string& fields) {
    (*record_)(event, nlohmann::json::parse(fields));
  }

 private:
  std::shared_ptr<Recorder> record_;
};

std::string run_case(const std::string& case_json, const py::object& driver) {
  const Case the_case = parse_case(nlohmann::json::parse(case_json));
  auto record = std::make_shared<Recorder>();
  sim::Simulation simulation({.seed = 0,
                              .strategy = sim::Strategy::fifo,
                              .steps_max = the_case.step_budget,
                              .trace = {.records_max = 0},
                              .record_decisions = false});
  core::Observer observer;
  auto bridge = std::make_shared<python::BridgeRun>(simulation, observer);
  UvicornHarness harness(the_case, *record);
  const py::object loop = driver.attr("begin")(bridge, PythonRecorder(record));
  bridge->start_loop(loop);
  const core::App python_app =
      python::python_app(bridge, driver, driver.attr("app_name").cast<std::string>());
  const core::App app = [&](core::Scope& scope, const core::Receive& receive, const core::Send& send) {
    try {
      python_app(scope, receive, send);
    } catch (const python::PythonAppError& error) {
      throw ForeignError(driver.attr("exception_name")(error.exception()).cast<std::string>());
    }
  };
  harness.spawn_run_asgi(simulation, app);
  const sim::RunResult result = simulation.run();
  if (result.status == sim::RunStatus::liveness_steps) record->stop("step_budget");
  record->deactivate();
  driver.attr("end")();
  const bool hung = !record->events().empty() && record->events().back().at("ev") == "app_hung";
  if (result.status != sim::RunStatus::completed && result.status != sim::RunStatus::liveness_steps &&
      !(result.status == sim::RunStatus::deadlock && hung)) {
    return nlohmann::json{{"error", std::string("simulation ") + std::string(sim::to_string(result.status)) +
                                        ": " + result.report}}
        .dump();
  }
  return nlohmann::json{{"events", record->events()}}.dump();
}

}  // namespace
}  // namespace asgisim::differential

PYBIND11_MODULE(_differential_bridge, m) {
  m.doc() = "differential cases through the asgisim bridge (tests only)";
  asgisim::sim::configure_this_thread_runner(
      {.guarded_stack_bytes = asgisim::differential::kBridgeStackBytes});
  asgisim::python::bind_run_types(m, /*module_local=*/true);
  py::class_<asgisim::differential::PythonRecorder>(m, "Recorder", py::module_local())
      .def("record", &asgisim::differential::PythonRecorder::record);
  m.def("run_case", &asgisim::differential::run_case, "One case through the bridge; its events as JSON.");
}
