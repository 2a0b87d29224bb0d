// A scenario written in Python, as a scenarios::Scenario: the engine runs,
// replays and shrinks it like any catalogue scenario. Its build() asks the
// Python host (asgisim.host.Host) for the run's plan (the loop, the clients
// and their requests), then builds the uvicorn model around the PythonApp
// and spawns the clients.
#pragma once

#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include "asgisim/scenarios/scenario.hpp"

namespace asgisim::python {

namespace py = pybind11;

class PythonScenario final : public scenarios::Scenario {
 public:
  PythonScenario(py::object host, scenarios::ScenarioInfo info)
      : host_(std::move(host)), info_(std::move(info)) {}
  const scenarios::ScenarioInfo& info() const override { return info_; }
  void build(scenarios::RunContext& run) const override;

 private:
  py::object host_;
  scenarios::ScenarioInfo info_;
};

}  // namespace asgisim::python
