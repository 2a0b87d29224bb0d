// ASGI messages and scopes between Python dicts and core's types. A dict that
// is not a valid ASGI message is never a crash: the conversion says what is
// wrong, and the caller reports it as a violation with blame.
#pragma once

#include <pybind11/pybind11.h>

#include <optional>
#include <string>

#include "asgisim/core/asgi.hpp"

namespace asgisim::python {

namespace py = pybind11;

// The message `object` stands for, or nullopt with `problem` set
// ("http.response.start: 'status' must be an int, got str").
std::optional<core::Message> message_from_python(const py::handle& object, std::string& problem);
py::dict message_to_python(const core::Message& message);
// The ASGI HTTP scope uvicorn builds (asgi, http_version, server, client, ...).
py::dict scope_to_python(const core::Scope& scope);

// Attribute names the bridge looks up on every request, made and interned
// once (`attr("done")` makes and interns a new str on every call).
struct Names {
  py::handle done = PyUnicode_InternFromString("done");
  py::handle set_result = PyUnicode_InternFromString("set_result");
  py::handle set_exception = PyUnicode_InternFromString("set_exception");
  py::handle bridge_front = PyUnicode_InternFromString("_bridge_front");
  py::handle call_soon = PyUnicode_InternFromString("call_soon");
  py::handle start_app_call = PyUnicode_InternFromString("start_app_call");
};
const Names& names();

}  // namespace asgisim::python
