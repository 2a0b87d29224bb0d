// ServerErrorMiddleware, ExceptionMiddleware and HTTPException (Starlette
// 0.21.0 to 0.29.0).
#include "asgisim/core/middleware/errors.hpp"

#include <array>
#include <utility>

#include "../python_exceptions.hpp"
#include "asgisim/core/json_text.hpp"
#include "asgisim/sim/errors.hpp"

namespace asgisim::core {

namespace {

// Python 3.11's http.HTTPStatus phrases.
constexpr std::array<std::pair<int, std::string_view>, 62> kPhrases{{
    {100, "Continue"},
    {101, "Switching Protocols"},
    {102, "Processing"},
    {103, "Early Hints"},
    {200, "OK"},
    {201, "Created"},
    {202, "Accepted"},
    {203, "Non-Authoritative Information"},
    {204, "No Content"},
    {205, "Reset Content"},
    {206, "Partial Content"},
    {207, "Multi-Status"},
    {208, "Already Reported"},
    {226, "IM Used"},
    {300, "Multiple Choices"},
    {301, "Moved Permanently"},
    {302, "Found"},
    {303, "See Other"},
    {304, "Not Modified"},
    {305, "Use Proxy"},
    {307, "Temporary Redirect"},
    {308, "Permanent Redirect"},
    {400, "Bad Request"},
    {401, "Unauthorized"},
    {402, "Payment Required"},
    {403, "Forbidden"},
    {404, "Not Found"},
    {405, "Method Not Allowed"},
    {406, "Not Acceptable"},
    {407, "Proxy Authentication Required"},
    {408, "Request Timeout"},
    {409, "Conflict"},
    {410, "Gone"},
    {411, "Length Required"},
    {412, "Precondition Failed"},
    {413, "Request Entity Too Large"},
    {414, "Request-URI Too Long"},
    {415, "Unsupported Media Type"},
    {416, "Requested Range Not Satisfiable"},
    {417, "Expectation Failed"},
    {418, "I'm a Teapot"},
    {421, "Misdirected Request"},
    {422, "Unprocessable Entity"},
    {423, "Locked"},
    {424, "Failed Dependency"},
    {425, "Too Early"},
    {426, "Upgrade Required"},
    {428, "Precondition Required"},
    {429, "Too Many Requests"},
    {431, "Request Header Fields Too Large"},
    {451, "Unavailable For Legal Reasons"},
    {500, "Internal Server Error"},
    {501, "Not Implemented"},
    {502, "Bad Gateway"},
    {503, "Service Unavailable"},
    {504, "Gateway Timeout"},
    {505, "HTTP Version Not Supported"},
    {506, "Variant Also Negotiates"},
    {507, "Insufficient Storage"},
    {508, "Loop Detected"},
    {510, "Not Extended"},
    {511, "Network Authentication Required"},
}};

std::string default_detail(int status_code, const std::optional<std::string>& detail) {
  return detail ? *detail : std::string(http_status_phrase(status_code));
}

// The `sender` both middlewares put in front of `send`: it notes whether
// http.response.start went out.
Send start_tracking_send(const Send& send, bool& response_started) {
  return [&send, &response_started](Message message) {
    if (message.type == MessageType::http_response_start) response_started = true;
    send(std::move(message));
  };
}

}  // namespace

std::string_view http_status_phrase(int status_code) {
  for (const auto& [code, phrase] : kPhrases) {
    if (code == status_code) return phrase;
  }
  return {};
}

HTTPException::HTTPException(int status_code, std::optional<std::string> detail,
                             std::optional<Headers> headers)
    : status_code_(status_code),
      detail_(default_detail(status_code, detail)),
      message_(std::to_string(status_code) + ": " + detail_),
      headers_(std::move(headers)) {}

App server_error_middleware(App app, ServerErrorOptions options) {
  return [app = std::move(app), options = std::move(options)](Scope& scope, const Receive& receive,
                                                              const Send& send) {
    if (scope.type != "http") {
      app(scope, receive, send);
      return;
    }
    bool response_started = false;
    const Send tracking_send = start_tracking_send(send, response_started);
    std::exception_ptr error;
    try {
      app(scope, receive, tracking_send);
      return;
    } catch (const sim::ExceptionGroup& group) {
      if (!detail::caught_by_except_exception(group)) throw;  // a BaseException in Python
      error = std::current_exception();
    } catch (const std::exception&) {
      // `except Exception`: cancellation (not a std::exception) passes untouched.
      error = std::current_exception();
    }
    Request request(scope);
    const Response response = options.handler
                                  ? options.handler(request, error)
                                  : PlainTextResponse("Internal Server Error", {.status_code = 500});
    if (!response_started) response(scope, receive, send);
    // "We always continue to raise the exception. This allows servers to log
    // the error, or allows test clients to optionally raise the error."
    std::rethrow_exception(error);
  };
}

Response http_exception_response(const HTTPException& error, HttpExceptionBody body) {
  const int status = error.status_code();
  if (status == 204 || status == 304)
    return Response(Bytes{}, {.status_code = status, .headers = error.headers()});
  if (body == HttpExceptionBody::json) {
    return JSONResponse("{\"detail\":" + json_string(error.detail()) + "}",
                        {.status_code = status, .headers = error.headers()});
  }
  return PlainTextResponse(error.detail(), {.status_code = status, .headers = error.headers()});
}

App exception_middleware(App app, ExceptionMiddlewareOptions options) {
  return [app = std::move(app), options = std::move(options)](Scope& scope, const Receive& receive,
                                                              const Send& send) {
    if (scope.type != "http") {
      app(scope, receive, send);
      return;
    }
    bool response_started = false;
    const Send sender = start_tracking_send(send, response_started);
    std::exception_ptr error;
    try {
      app(scope, receive, sender);
      return;
    } catch (const std::exception&) {
      error = std::current_exception();
    }
    // Outside the catch block: the handler's response may block, and the
    // exception is kept alive by `error`.
    const HTTPException* http_error = nullptr;
    try {
      std::rethrow_exception(error);
    } catch (const HTTPException& caught) {
      http_error = &caught;
    } catch (...) {
    }
    ExceptionHandler handler;
    if (http_error != nullptr) {
      if (auto found = options.status_handlers.find(http_error->status_code());
          found != options.status_handlers.end()) {
        handler = found->second;
      }
    }
    if (!handler) {
      for (const ExceptionHandlerEntry& entry : options.exception_handlers) {
        if (entry.matches(error)) {
          handler = entry.handler;
          break;
        }
      }
    }
    if (!handler && http_error != nullptr) {
      handler = [body = options.http_exception_body](Request&, const std::exception_ptr& caught) {
        try {
          std::rethrow_exception(caught);
        } catch (const HTTPException& http) {
          return http_exception_response(http, body);
        }
      };
    }
    if (!handler) std::rethrow_exception(error);
    if (response_started) {
      const std::string message = "Caught handled exception, but response already started.";
      observe(Observation{.kind = ObservationKind::error_raised,
                          .request = scope.request_id,
                          .layer = options.name,
                          .message = std::nullopt,
                          .detail = message + " (" + sim::describe(error) + ")",
                          .reporter = Reporter::middleware});
      throw std::runtime_error(message);
    }
    Request request(scope, receive);
    const Response response = handler(request, error);
    response(scope, receive, sender);
  };
}

}  // namespace asgisim::core
