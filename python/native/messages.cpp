// Conversions between ASGI dicts and core messages, checking each field's type
// as uvicorn's protocol code would use it.
#include "messages.hpp"

#include <fmt/format.h>

namespace asgisim::python {
namespace {

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
  if (!dict.contains("more_body")) return true;
  py::handle value = dict["more_body"];
  if (!PyBool_Check(value.ptr())) {
    problem = fmt::format("{}: 'more_body' must be a bool, got {}", type, type_name(value));
    return false;
  }
  out = value.cast<bool>();
  return true;
}

bool read_headers(const py::dict& dict, core::Headers& out, std::string& problem) {
  if (!dict.contains("headers")) return true;
  py::handle headers = dict["headers"];
  if (!py::isinstance<py::iterable>(headers) || py::isinstance<py::str>(headers)) {
    problem = fmt::format("http.response.start: 'headers' must be an iterable of [name, value], got {}",
                          type_name(headers));
    return false;
  }
  for (py::handle pair : headers) {
    py::sequence items;
    if (!py::isinstance<py::sequence>(pair) || py::len(pair) != 2) {
      problem = "http.response.start: every header must be a pair [name, value]";
      return false;
    }
    items = py::reinterpret_borrow<py::sequence>(pair);
    std::optional<std::string> name = as_bytes(items[0]);
    std::optional<std::string> value = as_bytes(items[1]);
    if (!name || !value) {
      problem = fmt::format("http.response.start: header names and values must be bytes, got {} and {}",
                            type_name(items[0]), type_name(items[1]));
      return false;
    }
    for (char& c : *name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    out.emplace_back(std::move(*name), std::move(*value));
  }
  return true;
}

}  // namespace

std::optional<core::Message> message_from_python(const py::handle& object, std::string& problem) {
  if (!py::isinstance<py::dict>(object)) {
    problem = fmt::format("an ASGI message must be a dict, got {}", type_name(object));
    return std::nullopt;
  }
  const py::dict dict = py::reinterpret_borrow<py::dict>(object);
  if (!dict.contains("type") || !py::isinstance<py::str>(dict["type"])) {
    problem = "an ASGI message needs a str 'type'";
    return std::nullopt;
  }
  const std::string type = py::str(dict["type"]);
  const std::optional<core::MessageType> kind = core::parse_message_type(type);
  if (!kind) {
    problem = fmt::format("unknown ASGI message type '{}'", type);
    return std::nullopt;
  }
  core::Message message{.type = *kind};
  switch (*kind) {
    case core::MessageType::http_response_start: {
      if (!dict.contains("status") || !PyLong_Check(dict["status"].ptr()) ||
          PyBool_Check(dict["status"].ptr())) {
        problem = dict.contains("status")
                      ? fmt::format("http.response.start: 'status' must be an int, got {}",
                                    type_name(dict["status"]))
                      : std::string("http.response.start: 'status' is missing");
        return std::nullopt;
      }
      message.status = dict["status"].cast<int>();
      if (!read_headers(dict, message.headers, problem)) return std::nullopt;
      break;
    }
    case core::MessageType::http_response_body:
    case core::MessageType::http_request: {
      if (dict.contains("body")) {
        std::optional<std::string> body = as_bytes(dict["body"]);
        if (!body) {
          problem = fmt::format("{}: 'body' must be bytes, got {}", type, type_name(dict["body"]));
          return std::nullopt;
        }
        message.body = std::move(*body);
      }
      if (!read_more_body(dict, type, message.more_body, problem)) return std::nullopt;
      break;
    }
    default:
      if (dict.contains("message") && py::isinstance<py::str>(dict["message"])) {
        message.text = py::str(dict["message"]);
      }
      break;
  }
  return message;
}

py::dict message_to_python(const core::Message& message) {
  py::dict dict;
  dict["type"] = py::str(std::string(core::to_string(message.type)));
  switch (message.type) {
    case core::MessageType::http_request:
    case core::MessageType::http_response_body:
      dict["body"] = py::bytes(message.body);
      dict["more_body"] = py::bool_(message.more_body);
      break;
    case core::MessageType::http_response_start: {
      dict["status"] = message.status;
      py::list headers;
      for (const auto& [name, value] : message.headers)
        headers.append(py::make_tuple(py::bytes(name), py::bytes(value)));
      dict["headers"] = headers;
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
