// Run and AppCall as Python classes.
#include "bindings.hpp"

#include <pybind11/stl.h>

#include <chrono>
#include <memory>
#include <string>

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
      .def_property_readonly("handles_run", &BridgeRun::handles_run)
      .def("loop_busy", &BridgeRun::loop_busy)
      // Python threads under the baton (threads.hpp), for asgisim/threads.py.
      .def("on_thread", [](BridgeRun&) { return BridgeThreads::on_thread(); })
      .def("start_thread",
           [](BridgeRun& run, py::object bootstrap, std::string name) {
             return run.threads().start(std::move(bootstrap), std::move(name));
           })
      .def("join_thread", [](BridgeRun& run, std::uint64_t number, bool block,
                             double timeout) { return run.threads().join(number, block, timeout); })
      .def("thread_sleep", [](BridgeRun& run, double seconds) { run.threads().sleep(seconds); })
      .def("lock_new", [](BridgeRun& run, std::string name,
                          bool locked) { return run.threads().new_lock(std::move(name), locked); })
      .def("lock_acquire",
           [](BridgeRun& run, std::uint64_t index, bool blocking, double timeout) {
             return run.threads().lock_acquire(index, blocking, timeout);
           })
      .def("lock_release", [](BridgeRun& run, std::uint64_t index) { run.threads().lock_release(index); })
      .def("lock_locked",
           [](BridgeRun& run, std::uint64_t index) { return run.threads().lock_locked(index); })
      .def("escape", [](BridgeRun& run, const std::string& report) { run.threads().escape(report); })
      .def("release_threads", [](BridgeRun& run, bool unwind) { run.threads().release(unwind); })
      .def("threads_table", [](BridgeRun& run) { return run.threads().table(); })
      .def("configure_threads",
           [](BridgeRun& run, double watchdog_s, py::object escape_report, std::uint64_t thread_bytes) {
             run.threads().set_watchdog(
                 std::chrono::milliseconds(static_cast<std::int64_t>(watchdog_s * 1000)));
             run.threads().set_escape_report(std::move(escape_report));
             run.threads().set_thread_bytes(thread_bytes);
           })
      .def_property_readonly("threads_started", [](BridgeRun& run) { return run.threads().started(); })
      .def_property_readonly("threads_alive_max", [](BridgeRun& run) { return run.threads().alive_max(); });

  py::class_<AppCall, std::shared_ptr<AppCall>>(m, "AppCall", py::module_local(module_local))
      .def("receive", &AppCall::receive)
      .def("send", &AppCall::send)
      .def("cancel_receive", &AppCall::cancel_receive)
      .def("finish", &AppCall::finish)
      .def_property_readonly("request", &AppCall::request);
}

}  // namespace asgisim::python
