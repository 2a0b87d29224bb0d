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

}  // namespace asgisim::python
