// Run and AppCall as Python classes.
#include "bindings.hpp"

#include <memory>

#include "boundary.hpp"
#include "bridge_run.hpp"
#include "python_app.hpp"

namespace asgisim::python {

void bind_run_types(py::module_& m, bool module_local) {
  py::class_<BridgeRun, std::shared_ptr<BridgeRun>> run(m, "Run", py::module_local(module_local));
  bind_boundary_call(m, run, module_local);
  run.def("wake_loop", &BridgeRun::wake_loop)
      .def("now_ns", &BridgeRun::now_ns)
      .def("choose", &BridgeRun::choose)
      .def("note", &BridgeRun::note)
      .def("live", &BridgeRun::live)
      .def("observe", &BridgeRun::observe)
      .def("observe_message", &BridgeRun::observe_message)
      .def("report_violation", &BridgeRun::report_violation)
      .def_property_readonly("handles_run", &BridgeRun::handles_run);

  py::class_<AppCall, std::shared_ptr<AppCall>>(m, "AppCall", py::module_local(module_local))
      .def("receive", &AppCall::receive)
      .def("send", &AppCall::send)
      .def("cancel_receive", &AppCall::cancel_receive)
      .def("finish", &AppCall::finish)
      .def_property_readonly("request", &AppCall::request);
}

}  // namespace asgisim::python
