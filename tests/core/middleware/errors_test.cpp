// ServerErrorMiddleware, ExceptionMiddleware and HTTPException (errors.hpp):
// ports of upstream tests/middleware/test_errors.py and tests/test_exceptions.py
// (0.29.0; the behaviour is the same from 0.21.0), driven through the
// uvicorn-model TestClient, where "the exception is raised to the test"
// becomes "the server saw the app raise it" (app_raised).
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "base_http_test_support.hpp"

namespace asgisim::core::testing {
namespace {

std::vector<std::string> raised(const ClientSession& session) {
  std::vector<std::string> details;
  for (const Observation& observation : session.observations) {
    if (observation.kind == ObservationKind::app_raised) details.push_back(observation.detail);
  }
  return details;
}

bool contains(const std::string& text, std::string_view part) { return text.find(part) != std::string::npos; }

// Upstream: tests/middleware/test_errors.py::test_handler.
TEST(ServerErrorMiddleware, Handler) {
  const App failing = [](Scope&, const Receive&, const Send&) {
    throw std::runtime_error("Something went wrong");
  };
  const App app =
      server_error_middleware(failing, {.handler = [](Request&, const std::exception_ptr&) -> Response {
                                return JSONResponse("{\"detail\":\"Server Error\"}", {.status_code = 500});
                              }});
  const ClientSession session = with_test_client(app, [](TestClient& client) { client.get("/"); });
  ASSERT_TRUE(session.result.ok()) << describe(session.result);
  ASSERT_EQ(session.records.size(), 1U);
  EXPECT_EQ(session.records[0].status, 500);
  EXPECT_EQ(session.records[0].body, "{\"detail\":\"Server Error\"}");
  // "We always continue to raise the exception."
  ASSERT_EQ(raised(session).size(), 1U);
  EXPECT_TRUE(contains(raised(session)[0], "Something went wrong"));
}

TEST(ServerErrorMiddleware, DefaultResponseIsPlainText500) {
  const App failing = [](Scope&, const Receive&, const Send&) { throw std::runtime_error("boom"); };
  const ClientSession session =
      with_test_client(server_error_middleware(failing), [](TestClient& client) { client.get("/"); });
  ASSERT_EQ(session.records.size(), 1U) << describe(session.result);
  EXPECT_EQ(session.records[0].status, 500);
  EXPECT_EQ(session.records[0].body, "Internal Server Error");
  EXPECT_EQ(session.records[0].header("content-type"), "text/plain; charset=utf-8");
  EXPECT_EQ(raised(session).size(), 1U);
}

// Upstream: tests/middleware/test_errors.py::test_debug_after_response_sent
// (debug tracebacks are not modelled; what matters is that nothing is sent
// after the start and the error is raised).
TEST(ServerErrorMiddleware, AfterResponseSent) {
  const App app = server_error_middleware([](Scope& scope, const Receive& receive, const Send& send) {
    Response(Bytes{}, {.status_code = 204})(scope, receive, send);
    throw std::runtime_error("Something went wrong");
  });
  const ClientSession session = with_test_client(app, [](TestClient& client) { client.get("/"); });
  ASSERT_TRUE(session.result.ok()) << describe(session.result);
  EXPECT_EQ(session.records[0].status, 204);
  ASSERT_EQ(raised(session).size(), 1U);
  EXPECT_TRUE(contains(raised(session)[0], "Something went wrong"));
}

// Upstream: tests/middleware/test_errors.py::test_background_task.
// Starlette(exception_handlers={Exception: error_handler}) installs the
// handler on ServerErrorMiddleware; a background task that raises after the
// 204 reaches it, but nothing more is sent.
TEST(ServerErrorMiddleware, BackgroundTask) {
  bool accessed_error_handler = false;
  const App routed = exception_middleware(as_app(std::make_shared<Router>(Routes{Route(
      "/", Endpoint([](Request&) {
        return Response(Bytes{}, {.status_code = 204, .background = BackgroundTask("raise_exception", [] {
                                                        throw std::runtime_error("Something went wrong");
                                                      })});
      }))})));
  const App app = server_error_middleware(routed, {.handler = [&](Request&, const std::exception_ptr&) {
                                            accessed_error_handler = true;
                                            return Response();
                                          }});
  const ClientSession session = with_test_client(app, [](TestClient& client) { client.get("/"); });
  ASSERT_TRUE(session.result.ok()) << describe(session.result);
  EXPECT_EQ(session.records[0].status, 204);
  EXPECT_TRUE(accessed_error_handler);
}

// The app of upstream tests/test_exceptions.py: ExceptionMiddleware around a router.
App exceptions_app(ExceptionMiddlewareOptions options = {}) {
  const auto raising = [](int status, std::optional<Headers> headers = {}) {
    return Endpoint(
        [status, headers](Request&) -> Response { throw HTTPException(status, std::nullopt, headers); });
  };
  const App handled_exc_after_response = [](Scope& scope, const Receive& receive, const Send& send) {
    PlainTextResponse("OK")(scope, receive, send);
    throw HTTPException(406);
  };
  auto router = std::make_shared<Router>(Routes{
      Route("/runtime_error", Endpoint([](Request&) -> Response { throw std::runtime_error("Yikes"); })),
      Route("/not_acceptable", raising(406)),
      Route("/no_content", raising(204)),
      Route("/not_modified", raising(304)),
      Route("/with_headers", raising(200, Headers{{"x-potato", "always"}})),
      Route("/handled_exc_after_response", handled_exc_after_response),
  });
  return exception_middleware(as_app(router), std::move(options));
}

ClientRecord get_one(const App& app, std::string_view path, ClientSession* out = nullptr) {
  ClientSession session = with_test_client(app, [path](TestClient& client) { client.get(path); });
  EXPECT_TRUE(session.result.ok()) << describe(session.result);
  EXPECT_EQ(session.records.size(), 1U);
  ClientRecord record = session.records.empty() ? ClientRecord{} : session.records[0];
  if (out != nullptr) *out = std::move(session);
  return record;
}

// Upstream: tests/test_exceptions.py::test_not_acceptable.
TEST(ExceptionMiddleware, NotAcceptable) {
  const ClientRecord response = get_one(exceptions_app(), "/not_acceptable");
  EXPECT_EQ(response.status, 406);
  EXPECT_EQ(response.body, "Not Acceptable");
}

// Upstream: tests/test_exceptions.py::test_no_content.
TEST(ExceptionMiddleware, NoContent) {
  const ClientRecord response = get_one(exceptions_app(), "/no_content");
  EXPECT_EQ(response.status, 204);
  EXPECT_FALSE(response.header("content-length").has_value());
}

// Upstream: tests/test_exceptions.py::test_not_modified.
TEST(ExceptionMiddleware, NotModified) {
  const ClientRecord response = get_one(exceptions_app(), "/not_modified");
  EXPECT_EQ(response.status, 304);
  EXPECT_EQ(response.body, "");
}

// Upstream: tests/test_exceptions.py::test_with_headers.
TEST(ExceptionMiddleware, WithHeaders) {
  const ClientRecord response = get_one(exceptions_app(), "/with_headers");
  EXPECT_EQ(response.status, 200);
  EXPECT_EQ(response.header("x-potato"), "always");
}

// Upstream: tests/test_exceptions.py::test_handled_exc_after_response: a
// RuntimeError is raised, and the client still sees the 200 "OK".
// The middleware reports it to the run's observer (the test client's).
TEST(ExceptionMiddleware, HandledExceptionAfterResponse) {
  ClientSession session;
  const ClientRecord response = get_one(exceptions_app(), "/handled_exc_after_response", &session);
  EXPECT_EQ(response.status, 200);
  EXPECT_EQ(response.body, "OK");
  ASSERT_EQ(raised(session).size(), 1U);
  EXPECT_TRUE(contains(raised(session)[0], "Caught handled exception, but response already started."));
  bool reported = false;
  for (const Observation& observation : session.observations) {
    reported |=
        observation.kind == ObservationKind::error_raised && observation.layer == "ExceptionMiddleware";
  }
  EXPECT_TRUE(reported);
}

// An exception without a handler passes through (to ServerErrorMiddleware).
TEST(ExceptionMiddleware, UnhandledExceptionPropagates) {
  ClientSession session;
  const ClientRecord response =
      get_one(server_error_middleware(exceptions_app()), "/runtime_error", &session);
  EXPECT_EQ(response.status, 500);
  EXPECT_EQ(response.body, "Internal Server Error");
  ASSERT_EQ(raised(session).size(), 1U);
  EXPECT_TRUE(contains(raised(session)[0], "Yikes"));
}

// Handlers: by status first, then by type in order; FastAPI's JSON body.
TEST(ExceptionMiddleware, HandlersByStatusTypeAndJsonBody) {
  ExceptionMiddlewareOptions options;
  options.status_handlers[406] = [](Request&, const std::exception_ptr&) {
    return PlainTextResponse("by status", {.status_code = 406});
  };
  options.exception_handlers.push_back(
      handler_for<std::runtime_error>("RuntimeError", [](Request&, const std::exception_ptr&) {
        return PlainTextResponse("by type", {.status_code = 418});
      }));
  EXPECT_EQ(get_one(exceptions_app(options), "/not_acceptable").body, "by status");
  // A handler for RuntimeError does not catch HTTPException (an Exception only).
  EXPECT_EQ(get_one(exceptions_app(options), "/no_content").status, 204);
  const ClientRecord teapot = get_one(exceptions_app(options), "/runtime_error");
  EXPECT_EQ(teapot.status, 418);
  EXPECT_EQ(teapot.body, "by type");

  const ClientRecord json =
      get_one(exceptions_app({.http_exception_body = HttpExceptionBody::json}), "/not_acceptable");
  EXPECT_EQ(json.status, 406);
  EXPECT_EQ(json.body, "{\"detail\":\"Not Acceptable\"}");
  EXPECT_EQ(json.header("content-type"), "application/json");
}

// Upstream: tests/test_exceptions.py::test_http_str.
TEST(HTTPException, Str) {
  EXPECT_STREQ(HTTPException(404).what(), "404: Not Found");
  EXPECT_STREQ(HTTPException(404, "Not Found: foo").what(), "404: Not Found: foo");
  EXPECT_STREQ(HTTPException(404, std::nullopt, Headers{{"key", "value"}}).what(), "404: Not Found");
  EXPECT_EQ(HTTPException(418).detail(), "I'm a Teapot");
  EXPECT_EQ(http_status_phrase(599), "");
}

}  // namespace
}  // namespace asgisim::core::testing
