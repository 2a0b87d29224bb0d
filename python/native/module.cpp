// The extension module asgisim._native (native_module.cpp defines it).
#include "native_module.hpp"

PYBIND11_MODULE(_native, m) { asgisim::python::define_native_module(m); }
