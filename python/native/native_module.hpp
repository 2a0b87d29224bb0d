// The contents of asgisim._native, defined once for its two homes: the
// extension module a python3 process imports (module.cpp), and the module a
// program that embeds the interpreter registers before it starts it (the fuzz
// target for real apps, fuzz/python_app_fuzz.cpp).
#pragma once

#include <pybind11/pybind11.h>

namespace asgisim::python {

void define_native_module(pybind11::module_& m);

}  // namespace asgisim::python
