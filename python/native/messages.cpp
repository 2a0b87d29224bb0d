// Conversions between ASGI dicts and core messages, checking each field's type
// as uvicorn's protocol code would use it.
#include "messages.hpp"

#include <fmt/format.h>

namespace asgisim::python {
namespace {

// The keys of an ASGI message, made and interned once: a lookup with a
// `const char*` key would make (and hash) a new str object every time, and
// every message at every layer boundary is read here.
struct Keys {
  PyObject* type = PyUnicode_InternFromString("type");
  PyObject* status = PyUnicode_InternFromString("status");
  PyObject* headers = PyUnicode_InternFromString("headers");
  PyObject* body = PyUnicode_InternFromString("body");
  PyObject* more_body = PyUnicode_InternFromString("more_body");
  PyObject* message = PyUnicode_InternFromString("message");
};

const Keys& keys() {
  static const Keys made;  // never freed: the interpreter outlives every use
  return made;
}

// `dict[key]`, or a null object when the key is absent. A plain dict is read
// directly; a dict subclass as before (its `in`, then its own __getitem__).
py::object field(const py::dict& dict, PyObject* key) {
  if (PyDict_CheckExact(dict.ptr())) {
    PyObject* value = PyDict_GetItemWithError(dict.ptr(), key);
    if (value == nullptr && PyErr_Occurred()) throw py::error_already_set();
    return py::reinterpret_borrow<py::object>(value);
  }
  const int found = PyDict_Contains(dict.ptr(), key);
  if (found < 0) throw py::error_already_set();
  if (found == 0) return {};
  PyObject* value = PyObject_GetItem(dict.ptr(), key);
  if (value == nullptr) throw py::error_already_set();
  return py::reinterpret_steal<py::object>(value);
}

// A str's text (UTF-8), as py::str's conversion gives it.
std::string str_text(const py::handle& value) { return py::str(value); }

// `value` as bytes (bytes, bytearray or memoryview), or nullopt.
std::optional<std::string> as_bytes(const py::handle& value) {
  if (py::isinstance<py::bytes>(value)) return std::string(py::reinterpret_borrow<py::bytes>(value));
  if (PyByteArray_Check(value.ptr()) || PyMemoryView_Check(value.ptr())) {
    return std::string(py::bytes(py::reinterpret_borrow<py::object>(value)));
  }
  return std::nullopt;
}

std::string type_name(const py::handle& value) { return py::str(py::type::of(value).attr("__name__")); }

bool read_more_body(const py::dict& dict, const std::string& type, bool& out, std::string& problem) {
  const py::object value = field(dict, keys().more_body);
  if (!value) return true;
  if (!PyBool_Check(value.ptr())) {
    problem = fmt::format("{}: 'more_body' must be a bool, got {}", type, type_name(value));
    return false;
  }
  out = value.ptr() == Py_True;
  return true;
}

bool read_headers(const py::dict& dict, core::Headers& out, std::string& problem) {
  const py::object headers = field(dict, keys().headers);
  if (!headers) return true;
  if (!py::isinstance<py::iterable>(headers) || py::isinstance<py::str>(headers)) {
    problem = fmt::format("http.response.start: 'headers' must be an iterable of [name, value], got {}",
                          type_name(headers));
    return false;
  }
  for (py::handle pair : headers) {
    // A tuple or list pair is read in place; any other sequence through its
    // own length and indexing.
    const bool plain = PyTuple_CheckExact(pair.ptr()) || PyList_CheckExact(pair.ptr());
    if (plain ? PySequence_Fast_GET_SIZE(pair.ptr()) != 2
              : !py::isinstance<py::sequence>(pair) || py::len(pair) != 2) {
      problem = "http.response.start: every header must be a pair [name, value]";
      return false;
    }
    py::object first;
    py::object second;
    if (plain) {
      first = py::reinterpret_borrow<py::object>(PySequence_Fast_GET_ITEM(pair.ptr(), 0));
      second = py::reinterpret_borrow<py::object>(PySequence_Fast_GET_ITEM(pair.ptr(), 1));
    } else {
      const auto items = py::reinterpret_borrow<py::sequence>(pair);
      first = items[0];
      second = items[1];
    }
    std::optional<std::string> name = as_bytes(first);
    std::optional<std::string> value = as_bytes(second);
    if (!name || !value) {
      problem = fmt::format("http.response.start: header names and values must be bytes, got {} and {}",
                            type_name(first), type_name(second));
      return false;
    }
    for (char& c : *name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    out.emplace_back(std::move(*name), std::move(*value));
  }
  return true;
}

}  // namespace

const Names& names() {
  static const Names made;  // never freed: the interpreter outlives every use
  return made;
}

std::optional<core::Message> message_from_python(const py::handle& object, std::string& problem) {
  if (!py::isinstance<py::dict>(object)) {
    problem = fmt::format("an ASGI message must be a dict, got {}", type_name(object));
    return std::nullopt;
  }
  const py::dict dict = py::reinterpret_borrow<py::dict>(object);
  const py::object type_value = field(dict, keys().type);
  if (!type_value || !py::isinstance<py::str>(type_value)) {
    problem = "an ASGI message needs a str 'type'";
    return std::nullopt;
  }
  const std::string type = str_text(type_value);
  const std::optional<core::MessageType> kind = core::parse_message_type(type);
  if (!kind) {
    problem = fmt::format("unknown ASGI message type '{}'", type);
    return std::nullopt;
  }
  core::Message message{.type = *kind};
  switch (*kind) {
    case core::MessageType::http_response_start: {
      const py::object status = field(dict, keys().status);
      if (!status || !PyLong_Check(status.ptr()) || PyBool_Check(status.ptr())) {
        problem = status
                      ? fmt::format("http.response.start: 'status' must be an int, got {}", type_name(status))
                      : std::string("http.response.start: 'status' is missing");
        return std::nullopt;
      }
      message.status = status.cast<int>();
      if (!read_headers(dict, message.headers, problem)) return std::nullopt;
      break;
    }
    case core::MessageType::http_response_body:
    case core::MessageType::http_request: {
      if (const py::object body_value = field(dict, keys().body)) {
        std::optional<std::string> body = as_bytes(body_value);
        if (!body) {
          problem = fmt::format("{}: 'body' must be bytes, got {}", type, type_name(body_value));
          return std::nullopt;
        }
        message.body = std::move(*body);
      }
      if (!read_more_body(dict, type, message.more_body, problem)) return std::nullopt;
      break;
    }
    default: {
      const py::object text = field(dict, keys().message);
      if (text && py::isinstance<py::str>(text)) message.text = str_text(text);
      break;
    }
  }
  return message;
}

py::dict message_to_python(const core::Message& message) {
  const Keys& key = keys();
  py::dict dict;
  dict[py::handle(key.type)] = py::str(std::string(core::to_string(message.type)));
  switch (message.type) {
    case core::MessageType::http_request:
    case core::MessageType::http_response_body:
      dict[py::handle(key.body)] = py::bytes(message.body);
      dict[py::handle(key.more_body)] = py::bool_(message.more_body);
      break;
    case core::MessageType::http_response_start: {
      dict[py::handle(key.status)] = message.status;
      py::list headers;
      for (const auto& [name, value] : message.headers)
        headers.append(py::make_tuple(py::bytes(name), py::bytes(value)));
      dict[py::handle(key.headers)] = headers;
      break;
    }
    default:
      break;
  }
  return dict;
}

py::dict scope_to_python(const core::Scope& scope) {
  py::dict dict;
  dict["type"] = scope.type;
  py::dict asgi;
  asgi["version"] = scope.asgi_version;
  asgi["spec_version"] = scope.spec_version;
  dict["asgi"] = asgi;
  dict["http_version"] = scope.http_version;
  dict["server"] = py::make_tuple("127.0.0.1", 8000);
  dict["client"] = py::make_tuple("127.0.0.1", 50000 + static_cast<int>(scope.request_id % 10000));
  dict["scheme"] = scope.scheme;
  dict["method"] = scope.method;
  dict["root_path"] = scope.root_path;
  dict["path"] = scope.path;
  dict["raw_path"] = py::bytes(scope.raw_path.empty() ? scope.path : scope.raw_path);
  dict["query_string"] = py::bytes(scope.query_string);
  py::list headers;
  for (const auto& [name, value] : scope.headers)
    headers.append(py::make_tuple(py::bytes(name), py::bytes(value)));
  dict["headers"] = headers;
  dict["state"] = py::dict();
  return dict;
}

}  // namespace asgisim::python
