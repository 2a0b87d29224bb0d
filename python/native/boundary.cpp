// BoundaryCall: a layer call's messages reported to the run's validator.
#include "boundary.hpp"

#include <utility>

namespace asgisim::python {

BoundaryCall::BoundaryCall(std::shared_ptr<BridgeRun> run, std::string outer, std::string inner,
                           std::uint64_t request, std::uint64_t call, std::string scope_detail)
    : run_(std::move(run)),
      outer_(std::move(outer)),
      inner_(std::move(inner)),
      boundary_(outer_ + "->" + inner_),
      request_(request),
      call_(call),
      scope_detail_(std::move(scope_detail)) {}

std::string BoundaryCall::received(const py::handle& message) const {
  return run_->observe_message(false, boundary_, outer_, request_, call_, scope_detail_, message);
}

std::string BoundaryCall::sent(const py::handle& message) const {
  return run_->observe_message(true, boundary_, inner_, request_, call_, scope_detail_, message);
}

void bind_boundary_call(py::module_& m, py::class_<BridgeRun, std::shared_ptr<BridgeRun>>& run,
                        bool module_local) {
  py::class_<BoundaryCall>(m, "BoundaryCall", py::module_local(module_local))
      .def("received", &BoundaryCall::received)
      .def("sent", &BoundaryCall::sent);
  run.def(
      "boundary_call",
      [](const std::shared_ptr<BridgeRun>& self, std::string outer, std::string inner, std::uint64_t request,
         std::uint64_t call, std::string scope_detail) {
        return BoundaryCall(self, std::move(outer), std::move(inner), request, call, std::move(scope_detail));
      },
      "The observer of one call of a layer at its boundary outer->inner.");
}

}  // namespace asgisim::python
