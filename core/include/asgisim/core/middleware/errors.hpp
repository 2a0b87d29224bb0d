// Starlette's error-handling middleware (0.21.0 to 0.29.0; the code did not
// change in ways the model sees): ServerErrorMiddleware
// (starlette/middleware/errors.py), the outermost layer, which answers 500
// "Internal Server Error" when nothing was started and always re-raises, and
// ExceptionMiddleware (starlette/middleware/exceptions.py and, from 0.28,
// starlette/_exception_handler.py), which turns handled exceptions, above all
// HTTPException (starlette/exceptions.py), into responses.
//
//   App app = server_error_middleware(exception_middleware(router_app));
//   // an endpoint: throw HTTPException(404, "no such user");  -> 404 "no such user"
//
// Not modelled: debug tracebacks, websocket handlers, sync handlers run in
// the thread pool (every handler runs on the loop).
#pragma once

#include <cstdint>
#include <exception>
#include <functional>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "asgisim/core/asgi.hpp"
#include "asgisim/core/observe.hpp"
#include "asgisim/core/request.hpp"
#include "asgisim/core/response.hpp"

namespace asgisim::core {

// http.HTTPStatus(status_code).phrase ("Not Found"); "" for a code Python's
// http module does not know.
std::string_view http_status_phrase(int status_code);

// starlette.exceptions.HTTPException: detail defaults to the status phrase;
// str() is "404: Not Found". Derives from std::exception only, as it derives
// from Exception only in Python: a handler for std::runtime_error (Python's
// RuntimeError) does not catch it.
class HTTPException : public std::exception {
 public:
  explicit HTTPException(int status_code, std::optional<std::string> detail = {},
                         std::optional<Headers> headers = {});

  const char* what() const noexcept override { return message_.c_str(); }
  int status_code() const { return status_code_; }
  const std::string& detail() const { return detail_; }
  const std::optional<Headers>& headers() const { return headers_; }

 private:
  int status_code_ = 500;
  std::string detail_{};
  std::string message_{};
  std::optional<Headers> headers_{};
};

// An exception handler: handler(request, exc) -> Response.
using ExceptionHandler = std::function<Response(Request& request, const std::exception_ptr& error)>;

struct ServerErrorOptions {
  // Starlette's `handler`: builds the 500 response; empty: PlainTextResponse
  // "Internal Server Error", 500.
  ExceptionHandler handler{};
  // The layer name in observations.
  std::string name = "ServerErrorMiddleware";
};

// ServerErrorMiddleware: for http scopes, an exception (not a cancellation)
// from the app is answered with the 500 response if the app had not sent
// http.response.start, and is re-raised in every case, "so that servers can
// log the error".
App server_error_middleware(App app, ServerErrorOptions options = {});

// What the default HTTPException handler sends.
enum class HttpExceptionBody : std::uint8_t {
  plain_text,  // Starlette: PlainTextResponse(detail, status_code, headers)
  json,        // FastAPI: JSONResponse({"detail": detail}, status_code, headers)
};

// A handler for the exceptions `matches` accepts (see handler_for).
struct ExceptionHandlerEntry {
  std::string name{};  // for reports
  std::function<bool(const std::exception_ptr&)> matches{};
  ExceptionHandler handler{};
};

// A handler for exceptions of type E (and types derived from it).
template <class E>
ExceptionHandlerEntry handler_for(std::string name, ExceptionHandler handler) {
  return ExceptionHandlerEntry{.name = std::move(name),
                               .matches =
                                   [](const std::exception_ptr& error) {
                                     try {
                                       std::rethrow_exception(error);
                                     } catch (const E&) {
                                       return true;
                                     } catch (...) {
                                       return false;
                                     }
                                   },
                               .handler = std::move(handler)};
}

struct ExceptionMiddlewareOptions {
  // add_exception_handler(status_code, handler): for an HTTPException of
  // that status, before any handler by type.
  std::map<int, ExceptionHandler> status_handlers{};
  // add_exception_handler(ExcClass, handler). Python picks the handler of
  // the most derived class in the MRO; C++ cannot walk a hierarchy, so the
  // first matching entry wins: list derived classes first. The default
  // HTTPException handler comes after these.
  std::vector<ExceptionHandlerEntry> exception_handlers{};
  HttpExceptionBody http_exception_body = HttpExceptionBody::plain_text;
  // The layer name in observations: error_raised is reported to the run's
  // observer for the RuntimeError raised when a handled exception arrives
  // after the response started.
  std::string name = "ExceptionMiddleware";
};

// The default HTTPException handler's response: status 204 and 304 carry no
// body (Response(status_code, headers)), others the detail.
Response http_exception_response(const HTTPException& error, HttpExceptionBody body);

// ExceptionMiddleware: an exception with a handler becomes that handler's
// response, sent through the same send; without a handler it propagates.
// A handled exception after http.response.start raises
// std::runtime_error("Caught handled exception, but response already started.").
App exception_middleware(App app, ExceptionMiddlewareOptions options = {});

}  // namespace asgisim::core
