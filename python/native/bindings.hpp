// The pybind11 classes of a run's Python-facing objects (Run, AppCall), in one
// place for the extension and for the differential oracle's test module (which
// registers them module-locally, so that both can load into one process).
#pragma once

#include <pybind11/pybind11.h>

namespace asgisim::python {

void bind_run_types(pybind11::module_& m, bool module_local);

}  // namespace asgisim::python
