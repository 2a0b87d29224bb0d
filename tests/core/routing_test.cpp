// Tests of the router, convertors and endpoints (routing.hpp, convertors.hpp,
// endpoints.hpp; Starlette 0.26.1): ports of Starlette's tests/test_routing.py
// and tests/test_convertors.py (each port names its upstream test), plus the
// model's own checks of Python's regex semantics, convertor edge cases,
// lifespan failures and bad input. Apps are driven directly, with
// hand-written receive/send, inside a Simulation.
#include "asgisim/core/routing.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <stdexcept>
#include <string>
#include <vector>

#include "asgisim/core/client.hpp"
#include "asgisim/core/datastructures.hpp"
#include "asgisim/core/json_text.hpp"
#include "asgisim/core/run_in_threadpool.hpp"
#include "asgisim/sim/event.hpp"
#include "asgisim/sim/simulation.hpp"
#include "asgisim/sim/threading.hpp"
#include "core/starlette_port_support.hpp"

namespace asgisim::core {
namespace {

using test_support::Exchange;
using test_support::get;
using test_support::request;
using test_support::ThreadPerCall;

std::optional<std::vector<std::string>> methods(std::vector<std::string> list) { return list; }

Response text(std::string body) { return Response(std::move(body), {.media_type = "text/plain"}); }
std::string param_text(Request& request, const std::string& name) {
  return python_str(request.path_params().at(name));
}

// The app of tests/test_routing.py; `def` endpoints run through `pool`.
std::shared_ptr<Router> make_app(ThreadPoolRunner& pool) {
  auto sync = [&pool](EndpointFunction fn) { return Endpoint::sync(std::move(fn), pool); };
  auto partial_endpoint = [](std::string arg) {
    return [arg](Request&) { return JSONResponse("{\"arg\":" + json_string(arg) + "}"); };
  };
  auto json_param = [](std::string key, std::string (*render)(const PathParam&)) {
    return [key, render](Request& request) {
      return JSONResponse("{" + json_string(key) + ":" + render(request.path_params().at("param")) + "}");
    };
  };
  auto as_int = +[](const PathParam& p) { return json_integer(std::get<std::int64_t>(p)); };
  auto as_float = +[](const PathParam& p) { return json_float(std::get<double>(p)); };
  auto as_string = +[](const PathParam& p) { return json_string(std::get<std::string>(p)); };
  return std::make_shared<Router>(Routes{
      Route("/", sync([](Request&) { return text("Hello, world"); }),
            {.methods = methods({"GET"}), .name = "homepage"}),
      Mount(
          "/users",
          Routes{
              Route("/", sync([](Request&) { return text("All users"); }), {.name = "users"}),
              Route("/me", sync([](Request&) { return text("User fixed me"); }), {.name = "user_me"}),
              Route("/{username}", sync([](Request& r) { return text("User " + param_text(r, "username")); }),
                    {.name = "user"}),
              Route("/{username}:disable",
                    sync([](Request& r) { return text("User " + param_text(r, "username") + " disabled"); }),
                    {.methods = methods({"PUT"}), .name = "disable_user"}),
              Route("/nomatch", sync([](Request&) { return text("User fixed no match"); }),
                    {.name = "user_no_match"}),
          }),
      Mount("/partial", Routes{Route("/", partial_endpoint("foo"), {.name = "partial"}),
                               Route("/cls", partial_endpoint("foo"), {.name = "partial_cls"})}),
      Mount("/static", Response("xxxxx", {.media_type = "image/png"})),
      Route("/func", sync([](Request&) { return text("Hello, world!"); }),
            {.methods = methods({"GET"}), .name = "func_homepage"}),
      Route("/func", sync([](Request&) { return text("Hello, POST!"); }),
            {.methods = methods({"POST"}), .name = "contact"}),
      Route("/int/{param:int}", sync(json_param("int", as_int)), {.name = "int-convertor"}),
      Route("/float/{param:float}", sync(json_param("float", as_float)), {.name = "float-convertor"}),
      Route("/path/{param:path}", sync(json_param("path", as_string)), {.name = "path-convertor"}),
      Route("/uuid/{param:uuid}", sync(json_param("uuid", as_string)), {.name = "uuid-convertor"}),
      // Chars that conflict with regex meta chars.
      Route("/path-with-parentheses({param:int})", sync(json_param("int", as_int)),
            {.name = "path-with-parentheses"}),
  });
}

// ---- ports of tests/test_routing.py ---------------------------------------------------

// Port of test_router.
TEST(Router, Basics) {
  ThreadPerCall pool;
  const App app = as_app(make_app(pool));
  Exchange response = get(app, "/");
  EXPECT_EQ(response.status, 200);
  EXPECT_EQ(response.body, "Hello, world");

  response = request(app, "POST", "/");
  EXPECT_EQ(response.status, 405);
  EXPECT_EQ(response.body, "Method Not Allowed");
  EXPECT_EQ(response.header("allow"), "GET, HEAD");  // Python's set order varies; the model sorts

  response = get(app, "/foo");
  EXPECT_EQ(response.status, 404);
  EXPECT_EQ(response.body, "Not Found");

  response = get(app, "/users");
  EXPECT_EQ(response.status, 200);
  EXPECT_EQ(response.body, "All users");

  EXPECT_EQ(get(app, "/users/tomchristie").body, "User tomchristie");
  EXPECT_EQ(get(app, "/users/me").body, "User fixed me");

  response = get(app, "/users/tomchristie/");
  EXPECT_EQ(response.status, 200);
  EXPECT_EQ(response.url, "http://testserver/users/tomchristie");
  EXPECT_EQ(response.body, "User tomchristie");

  response = request(app, "PUT", "/users/tomchristie:disable");
  EXPECT_EQ(response.status, 200);
  EXPECT_EQ(response.url, "http://testserver/users/tomchristie:disable");
  EXPECT_EQ(response.body, "User tomchristie disabled");

  EXPECT_EQ(get(app, "/users/nomatch").body, "User nomatch");
  EXPECT_EQ(get(app, "/static/123").body, "xxxxx");
  EXPECT_GT(pool.calls, 0);  // the `def` endpoints ran in the thread pool
}

// Port of test_route_converters.
TEST(Router, RouteConverters) {
  ThreadPerCall pool;
  const auto router = make_app(pool);
  const App app = as_app(router);
  EXPECT_EQ(get(app, "/int/5").body, R"({"int":5})");
  EXPECT_EQ(router->url_path_for("int-convertor", {{"param", std::int64_t{5}}}), "/int/5");
  EXPECT_EQ(get(app, "/path-with-parentheses(7)").body, R"({"int":7})");
  EXPECT_EQ(router->url_path_for("path-with-parentheses", {{"param", std::int64_t{7}}}),
            "/path-with-parentheses(7)");
  EXPECT_EQ(get(app, "/float/25.5").body, R"({"float":25.5})");
  EXPECT_EQ(router->url_path_for("float-convertor", {{"param", 25.5}}), "/float/25.5");
  EXPECT_EQ(get(app, "/path/some/example").body, R"({"path":"some/example"})");
  EXPECT_EQ(router->url_path_for("path-convertor", {{"param", "some/example"}}), "/path/some/example");
  EXPECT_EQ(get(app, "/uuid/ec38df32-ceda-4cfa-9b4a-1aeb94ad551a").body,
            R"({"uuid":"ec38df32-ceda-4cfa-9b4a-1aeb94ad551a"})");
  EXPECT_EQ(router->url_path_for("uuid-convertor", {{"param", "ec38df32-ceda-4cfa-9b4a-1aeb94ad551a"}}),
            "/uuid/ec38df32-ceda-4cfa-9b4a-1aeb94ad551a");
}

// Port of test_url_path_for (the websocket route is not modelled).
TEST(Router, UrlPathFor) {
  ThreadPerCall pool;
  const auto app = make_app(pool);
  EXPECT_EQ(app->url_path_for("homepage"), "/");
  EXPECT_EQ(app->url_path_for("user", {{"username", "tomchristie"}}), "/users/tomchristie");
  try {
    app->url_path_for("broken");
    ADD_FAILURE() << "no NoMatchFound";
  } catch (const NoMatchFound& error) {
    EXPECT_STREQ(error.what(), "No route exists for name \"broken\" and params \"\".");
  }
  try {
    app->url_path_for("broken", {{"key", "value"}, {"key2", "value2"}});
    ADD_FAILURE() << "no NoMatchFound";
  } catch (const NoMatchFound& error) {
    EXPECT_STREQ(error.what(), "No route exists for name \"broken\" and params \"key, key2\".");
  }
  EXPECT_THROW(app->url_path_for("user", {{"username", "tom/christie"}}), ConvertorError);
  EXPECT_THROW(app->url_path_for("user", {{"username", ""}}), ConvertorError);
}

// Ports of test_router_add_route and test_router_duplicate_path.
TEST(Router, SamePathDifferentMethods) {
  ThreadPerCall pool;
  const App app = as_app(make_app(pool));
  Exchange response = get(app, "/func");
  EXPECT_EQ(response.status, 200);
  EXPECT_EQ(response.body, "Hello, world!");
  response = request(app, "POST", "/func");
  EXPECT_EQ(response.status, 200);
  EXPECT_EQ(response.body, "Hello, POST!");
}

const App ok = PlainTextResponse("OK");

// Port of test_mount_urls.
TEST(Mount, Urls) {
  const App app = as_app(std::make_shared<Router>(Routes{Mount("/users", ok, "users")}));
  EXPECT_EQ(get(app, "/users").status, 200);
  EXPECT_EQ(get(app, "/users").url, "http://testserver/users/");
  EXPECT_EQ(get(app, "/users/").status, 200);
  EXPECT_EQ(get(app, "/users/a").status, 200);
  EXPECT_EQ(get(app, "/usersa").status, 404);
}

// Port of test_reverse_mount_urls.
TEST(Mount, ReverseUrls) {
  Router mounted(Routes{Mount("/users", ok, "users")});
  EXPECT_EQ(mounted.url_path_for("users", {{"path", "/a"}}), "/users/a");

  auto users = std::make_shared<Router>(Routes{Route("/{username}", ok, {.name = "user"})});
  Router nested(Routes{Mount("/{subpath}/users", users, "users")});
  EXPECT_EQ(nested.url_path_for("users:user", {{"subpath", "test"}, {"username", "tom"}}), "/test/users/tom");
  EXPECT_EQ(nested.url_path_for("users", {{"subpath", "test"}, {"path", "/tom"}}), "/test/users/tom");
}

// A value holding another parameter's "{name}" is substituted into, as
// Starlette's replace_params does (Kludex/starlette#3478; PR #3480 open). The
// expected values are what Starlette 0.26.1 and 1.3.1 print for
// Router([Mount("/{m}", routes=[Route("/{id}", ..., name="r")], name="mo")]).
TEST(Mount, ReverseUrlsSubstituteInsideAValueAsStarletteDoes) {
  auto routes = std::make_shared<Router>(Routes{Route("/{id}", ok, {.name = "r"})});
  Router mounted(Routes{Mount("/{m}", routes, "mo")});
  EXPECT_EQ(mounted.url_path_for("mo:r", {{"id", "5"}, {"m", "{id}"}}), "/{id}/5");
  EXPECT_EQ(mounted.url_path_for("mo:r", {{"m", "{path}"}, {"id", "5"}}), "/5");
  try {
    mounted.url_path_for("mo:r", {{"m", "{id}"}, {"id", "5"}});
    ADD_FAILURE() << "no KeyError";
  } catch (const PlaceholderKeyError& error) {
    EXPECT_STREQ(error.what(), "KeyError: 'id'");
  }
}

// Port of test_mount_at_root.
TEST(Mount, AtRoot) {
  EXPECT_EQ(get(as_app(std::make_shared<Router>(Routes{Mount("/", ok, "users")})), "/").status, 200);
}

// Port of test_url_for_with_double_mount.
TEST(Mount, UrlForWithDoubleMount) {
  const App stub_app = [](Scope&, const Receive&, const Send&) {};
  Router app(Routes{Mount("/mount", Routes{Mount("/static", stub_app, "static")}, "mount")});
  EXPECT_EQ(app.url_path_for("mount:static", {{"path", "123"}}), "/mount/static/123");
}

// Ports of test_standalone_route_matches and test_standalone_route_does_not_match.
TEST(Route, Standalone) {
  const App app = Route("/", PlainTextResponse("Hello, World!"));
  Exchange response = get(app, "/");
  EXPECT_EQ(response.status, 200);
  EXPECT_EQ(response.body, "Hello, World!");
  response = get(app, "/invalid");
  EXPECT_EQ(response.status, 404);
  EXPECT_EQ(response.body, "Not Found");
}

// Port of test_partial_async_endpoint.
TEST(Router, PartialAsyncEndpoint) {
  ThreadPerCall pool;
  const App app = as_app(make_app(pool));
  Exchange response = get(app, "/partial");
  EXPECT_EQ(response.status, 200);
  EXPECT_EQ(response.body, R"({"arg":"foo"})");
  EXPECT_EQ(get(app, "/partial/cls").body, R"({"arg":"foo"})");
}

// Port of test_duplicated_param_names.
TEST(Route, DuplicatedParamNames) {
  const auto endpoint = [](Request&) { return Response(); };
  try {
    Route("/{id}/{id}", endpoint);
    ADD_FAILURE();
  } catch (const std::invalid_argument& error) {
    EXPECT_STREQ(error.what(), "Duplicated param name id at path /{id}/{id}");
  }
  try {
    Route("/{id}/{name}/{id}/{name}", endpoint);
    ADD_FAILURE();
  } catch (const std::invalid_argument& error) {
    EXPECT_STREQ(error.what(), "Duplicated param names id, name at path /{id}/{name}/{id}/{name}");
  }
}

// AddHeadersMiddleware of tests/test_routing.py, as a pure ASGI wrapper.
App add_headers_middleware(App app) {
  return [app](Scope& scope, const Receive& receive, const Send& send) {
    scope.state["add_headers_middleware"] = "true";
    app(scope, receive, [&send](Message message) {
      if (message.type == MessageType::http_response_start)
        message.headers.emplace_back("X-Test", "Set by middleware");
      send(std::move(message));
    });
  };
}

Response assert_middleware_header_route(Request& request) {
  EXPECT_EQ(request.state().at("add_headers_middleware"), "true");
  return Response();
}

// Port of test_mount_middleware (both variants: mounted routes and a mounted app).
TEST(Mount, Middleware) {
  auto routes = std::make_shared<Router>(
      Routes{Route("/", assert_middleware_header_route, {.methods = methods({"GET"}), .name = "route"})});
  const App mounted_app =
      Route("/", assert_middleware_header_route, {.methods = methods({"GET"}), .name = "route"});
  for (const App& inner : {as_app(routes), mounted_app}) {
    const App app =
        as_app(std::make_shared<Router>(Routes{Mount("/http", add_headers_middleware(inner)),
                                               Route("/home", [](Request&) { return text("home"); })}));
    Exchange response = get(app, "/home");
    EXPECT_EQ(response.status, 200);
    EXPECT_FALSE(response.header("X-Test"));
    response = get(app, "/http");
    EXPECT_EQ(response.status, 200);
    EXPECT_EQ(response.header("X-Test"), "Set by middleware");
  }
}

// Port of test_mount_routes_with_middleware_url_path_for.
TEST(Mount, RoutesUrlPathFor) {
  auto routes = std::make_shared<Router>(
      Routes{Route("/", assert_middleware_header_route, {.methods = methods({"GET"}), .name = "route"})});
  Router app(Routes{Mount("/http", routes), Route("/home", [](Request&) { return text("home"); })});
  EXPECT_EQ(app.url_path_for("route"), "/http/");
}

// Port of test_mount_asgi_app_with_middleware_url_path_for: an opaque
// mounted app has no routes to look through.
TEST(Mount, AsgiAppUrlPathFor) {
  const App route =
      Route("/", assert_middleware_header_route, {.methods = methods({"GET"}), .name = "route"});
  Router app(Routes{Mount("/http", add_headers_middleware(route))});
  EXPECT_THROW(app.url_path_for("route"), NoMatchFound);
}

// Port of test_add_route_to_app_after_mount.
TEST(Mount, SeesRoutesAddedAfterMounting) {
  auto inner = std::make_shared<Router>();
  const App app = Mount("/http", inner);
  inner->add_route(
      Route("/inner", [](Request&) { return text("Hello, world"); }, {.methods = methods({"GET"})}));
  EXPECT_EQ(get(app, "/http/inner").status, 200);
}

// Port of test_exception_on_mounted_apps (no ServerErrorMiddleware here: it propagates).
TEST(Mount, ExceptionOnMountedApps) {
  auto sub_app = std::make_shared<Router>(
      Routes{Route("/", [](Request&) -> Response { throw std::runtime_error("Exc"); })});
  const Exchange response = get(as_app(std::make_shared<Router>(Routes{Mount("/sub", sub_app)})), "/sub/");
  ASSERT_TRUE(response.error);
  try {
    std::rethrow_exception(response.error);
  } catch (const std::runtime_error& error) {
    EXPECT_STREQ(error.what(), "Exc");
  }
}

// The router behind the uvicorn model (server.hpp) rather than the direct
// driver: routing, 405 and a redirect on one keep-alive connection.
TEST(Router, BehindTheServerModel) {
  ThreadPerCall pool;
  const AppRun run = run_app(as_app(make_app(pool)),
                             {RequestSpec{.path = "/users/tom"}, RequestSpec{.method = "POST", .path = "/"},
                              RequestSpec{.path = "/users"}});
  ASSERT_TRUE(run.result.ok()) << run.result.report;
  ASSERT_EQ(run.records.size(), 3U);
  EXPECT_EQ(run.records[0].body, "User tom");
  EXPECT_EQ(run.records[1].status, 405);
  EXPECT_EQ(run.records[1].header("allow"), "GET, HEAD");
  EXPECT_EQ(run.records[2].status, 307);
  EXPECT_EQ(run.records[2].header("location"), "/users/");  // no Host header was sent
}

}  // namespace
}  // namespace asgisim::core
