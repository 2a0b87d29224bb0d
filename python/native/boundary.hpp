// One call of an app layer, observed at its boundary "outer->inner": what
// asgisim.layers.Boundary hands every message crossing that call to. The
// boundary's names, the request, the call number and the scope's detail are
// converted once per call, so a message costs one crossing with one argument.
#pragma once

#include <pybind11/pybind11.h>

#include <cstdint>
#include <memory>
#include <string>

#include "bridge_run.hpp"

namespace asgisim::python {

namespace py = pybind11;

class BoundaryCall {
 public:
  BoundaryCall(std::shared_ptr<BridgeRun> run, std::string outer, std::string inner, std::uint64_t request,
               std::uint64_t call, std::string scope_detail);

  // A message the outer layer passed in (its receive), blamed on the outer
  // layer; one the inner layer sent out, blamed on the inner layer. "" when
  // the message is valid, else the problem (BridgeRun::observe_message).
  std::string received(const py::handle& message) const;
  std::string sent(const py::handle& message) const;

 private:
  std::shared_ptr<BridgeRun> run_;
  std::string outer_;
  std::string inner_;
  std::string boundary_;  // "outer->inner"
  std::uint64_t request_;
  std::uint64_t call_;
  std::string scope_detail_;
};

// The class, and Run.boundary_call(...) that makes one.
void bind_boundary_call(py::module_& m, py::class_<BridgeRun, std::shared_ptr<BridgeRun>>& run,
                        bool module_local);

}  // namespace asgisim::python
