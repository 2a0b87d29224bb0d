// The model's own checks of path templates and convertors (convertors.hpp,
// Starlette 0.26.1) against Python's behaviour: compile_path's messages,
// re.match's backtracking and its `$` before a trailing newline, what each
// convertor accepts, converts and refuses; then the router on bad input
// (malformed paths, overflowing ints, odd scopes): clear errors, never a crash.
#include "asgisim/core/convertors.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <limits>
#include <stdexcept>
#include <string>
#include <variant>

#include "asgisim/core/json_text.hpp"
#include "asgisim/core/observe.hpp"
#include "asgisim/core/response.hpp"
#include "asgisim/core/routing.hpp"
#include "core/starlette_port_support.hpp"

namespace asgisim::core {
namespace {

using test_support::call;
using test_support::get;
using test_support::http_scope;
using ::testing::ElementsAre;
using ::testing::Pair;

using Captured = std::vector<std::pair<std::string, std::string>>;

std::optional<Captured> match(std::string_view templ, std::string_view path) {
  return match_path(compile_path(templ), path);
}

std::string error_of(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const std::exception& error) {
    return error.what();
  }
  return "<no error>";
}

TEST(CompilePath, FormatParamsAndLiterals) {
  const CompiledPath compiled = compile_path("/users/{id:int}/{rest:path}");
  EXPECT_EQ(compiled.format, "/users/{id}/{rest}");
  EXPECT_THAT(compiled.params,
              ElementsAre(Pair("id", ConvertorType::integer), Pair("rest", ConvertorType::path)));
  // Braces that do not form {identifier} or {identifier:identifier} stay literal.
  const CompiledPath literal = compile_path("/{a b}/{1}/{x:}/{y:int");
  EXPECT_TRUE(literal.params.empty());
  EXPECT_TRUE(match("/{a b}/{1}/{x:}/{y:int", "/{a b}/{1}/{x:}/{y:int"));
  EXPECT_EQ(error_of([] { compile_path("/{a:unknown}"); }), "Unknown path convertor 'unknown'");
  EXPECT_EQ(error_of([] { compile_path("/{b}/{a}/{b}/{a}/{c}"); }),
            "Duplicated param names a, b at path /{b}/{a}/{b}/{a}/{c}");
}

// re.match with greedy quantifiers: the first parameter takes the most it can.
TEST(MatchPath, BacktracksLikePython) {
  EXPECT_THAT(*match("/{a}-{b}", "/x-y-z"), ElementsAre(Pair("a", "x-y"), Pair("b", "z")));
  EXPECT_THAT(*match("/{a:path}/{b}", "/x/y/z"), ElementsAre(Pair("a", "x/y"), Pair("b", "z")));
  EXPECT_THAT(*match("/{f:float}.{ext}", "/1.5.json"), ElementsAre(Pair("f", "1.5"), Pair("ext", "json")));
  EXPECT_THAT(*match("/{f:float}.{ext}", "/1.json"), ElementsAre(Pair("f", "1"), Pair("ext", "json")));
  EXPECT_THAT(*match("/{n:int}{s}", "/123"), ElementsAre(Pair("n", "12"), Pair("s", "3")));
  EXPECT_FALSE(match("/{a}-{b}", "/xyz"));
  EXPECT_FALSE(match("/{a}", "/"));
  EXPECT_THAT(*match("/{a:path}", "/"), ElementsAre(Pair("a", "")));
}

// Python's `$` also matches before one final '\n'; `.` never matches '\n'.
TEST(MatchPath, TrailingNewlineAndDot) {
  EXPECT_THAT(*match("/{n:int}", "/12\n"), ElementsAre(Pair("n", "12")));
  EXPECT_TRUE(match("/x", "/x\n"));
  EXPECT_FALSE(match("/x", "/x\n\n"));
  EXPECT_THAT(*match("/{s}", "/ab\n"), ElementsAre(Pair("s", "ab\n")));
  EXPECT_THAT(*match("/m/{path:path}", "/m/ab\n"), ElementsAre(Pair("path", "ab")));
  EXPECT_FALSE(match("/m/{path:path}", "/m/a\nb"));
}

TEST(Convertors, WhatTheyAccept) {
  EXPECT_TRUE(convertor_accepts(ConvertorType::integer, "007"));
  EXPECT_FALSE(convertor_accepts(ConvertorType::integer, "-1"));
  EXPECT_FALSE(convertor_accepts(ConvertorType::integer, "\xD9\xA3"));  // a non-ASCII digit
  for (const char* text : {"1.5.5", "1.", ".5", "1e5", ""}) {
    EXPECT_FALSE(convertor_accepts(ConvertorType::floating, text)) << text;
  }
  EXPECT_TRUE(convertor_accepts(ConvertorType::uuid, "ec38df32-ceda-4cfa-9b4a-1aeb94ad551a"));
  EXPECT_FALSE(convertor_accepts(ConvertorType::uuid, "EC38DF32-CEDA-4CFA-9B4A-1AEB94AD551A"));
  EXPECT_FALSE(convertor_accepts(ConvertorType::str, ""));
  EXPECT_TRUE(convertor_accepts(ConvertorType::path, ""));
}

TEST(Convertors, Convert) {
  EXPECT_EQ(std::get<std::int64_t>(convertor_convert(ConvertorType::integer, "007")), 7);
  EXPECT_EQ(std::get<std::int64_t>(convertor_convert(ConvertorType::integer, "9223372036854775807")),
            std::numeric_limits<std::int64_t>::max());
  EXPECT_THROW(convertor_convert(ConvertorType::integer, "9223372036854775808"), PathParamOverflow);
  EXPECT_EQ(std::get<double>(convertor_convert(ConvertorType::floating, "0025.50")), 25.5);
  EXPECT_EQ(std::get<double>(convertor_convert(ConvertorType::floating, std::string(400, '9'))),
            std::numeric_limits<double>::infinity());  // float("9" * 400) is inf
}

// to_string() runs Python's int()/float()/str() first, then the assertions.
TEST(Convertors, ToString) {
  EXPECT_EQ(convertor_to_string(ConvertorType::integer, std::string(" +1_000 ")), "1000");
  EXPECT_EQ(convertor_to_string(ConvertorType::integer, 2.7), "2");
  EXPECT_EQ(error_of([] { convertor_to_string(ConvertorType::integer, std::int64_t{-1}); }),
            "Negative integers are not supported");
  EXPECT_THROW(convertor_to_string(ConvertorType::integer, std::string("1.5")), std::invalid_argument);
  EXPECT_EQ(convertor_to_string(ConvertorType::floating, 0.1), "0.10000000000000000555");
  EXPECT_EQ(convertor_to_string(ConvertorType::floating, 1e22), "10000000000000000000000");
  EXPECT_EQ(convertor_to_string(ConvertorType::floating, std::int64_t{3}), "3");
  EXPECT_EQ(convertor_to_string(ConvertorType::floating, std::string("2.50")), "2.5");
  // NaN fails the first assertion (NaN >= 0 is false), as in Python.
  EXPECT_EQ(error_of([] {
              convertor_to_string(ConvertorType::floating, std::numeric_limits<double>::quiet_NaN());
            }),
            "Negative floats are not supported");
  EXPECT_EQ(error_of([] { convertor_to_string(ConvertorType::floating, std::string("inf")); }),
            "Infinite values are not supported");
  EXPECT_THROW(convertor_to_string(ConvertorType::floating, std::string("abc")), std::invalid_argument);
  EXPECT_EQ(convertor_to_string(ConvertorType::str, 1e16), "1e+16");
  EXPECT_EQ(error_of([] { convertor_to_string(ConvertorType::str, std::string("a/b")); }),
            "May not contain path separators");
  EXPECT_EQ(convertor_to_string(ConvertorType::path, std::string("a/b")), "a/b");
}

TEST(Convertors, ReplaceParamsConsumesWhatItUses) {
  const CompiledPath compiled = compile_path("/{a}/{n:int}");
  PathParams params{{"a", "x"}, {"extra", "y"}, {"n", std::int64_t{4}}};
  EXPECT_EQ(replace_params(compiled.format, compiled, params), "/x/4");
  EXPECT_THAT(params, ElementsAre(Pair("extra", PathParam("y"))));
}

// Python's loop of str.replace calls: a later parameter also replaces its
// "{name}" inside an earlier value, so the order of the arguments matters
// (Kludex/starlette#3478).
TEST(Convertors, ReplaceParamsSubstitutesInsideAnEarlierValue) {
  const CompiledPath compiled = compile_path("/{name}/users/{id}");
  PathParams name_first{{"name", "{id}"}, {"id", "100"}};
  EXPECT_EQ(replace_params(compiled.format, compiled, name_first), "/100/users/100");
  PathParams id_first{{"id", "100"}, {"name", "{id}"}};
  EXPECT_EQ(replace_params(compiled.format, compiled, id_first), "/{id}/users/100");
  PathParams unknown{{"name", "{other}"}, {"other", "1"}, {"id", "7"}};
  EXPECT_EQ(error_of([&] { replace_params(compiled.format, compiled, unknown); }), "KeyError: 'other'");
}

// ---- the router on bad or unusual input -------------------------------------------------

App user_app() {
  auto users = std::make_shared<Router>(Routes{
      Route(
          "/{username}",
          [](Request& r) { return PlainTextResponse("User " + python_str(r.path_params().at("username"))); },
          {.name = "user"}),
  });
  return as_app(std::make_shared<Router>(Routes{
      Mount("/users", users),
      Route("/n/{n:int}", [](Request& r) { return PlainTextResponse(python_str(r.path_params().at("n"))); }),
  }));
}

TEST(RouterInput, RedirectSlashesKeepsTheQueryAndCanBeTurnedOff) {
  const App app = user_app();
  const test_support::Exchange redirect = get(app, "/users?x=1&y=%zz", /*follow=*/false);
  EXPECT_EQ(redirect.status, 307);
  EXPECT_EQ(redirect.header("location"), "http://testserver/users/?x=1&y=%zz");
  Scope no_host = http_scope("GET", "/users", {});
  EXPECT_EQ(call(app, no_host).header("location"), "/users/");

  auto strict =
      std::make_shared<Router>(Routes{Mount("/users", user_app())}, RouterOptions{.redirect_slashes = false});
  EXPECT_EQ(get(as_app(strict), "/users").status, 404);
  // A query string that is not UTF-8 cannot be put in the redirect URL: a clear error.
  Scope bad_query = http_scope("GET", "/users");
  bad_query.query_string = "q=\xFF";
  EXPECT_THROW(std::rethrow_exception(call(app, bad_query).error), UnicodeDecodeError);
}

TEST(RouterInput, OddPathsGiveNotFoundOrLiteralText) {
  const App app = user_app();
  EXPECT_EQ(get(app, "//").status, 404);
  EXPECT_EQ(get(app, "").status, 404);
  EXPECT_EQ(get(app, "/users/%zz%").body, "User %zz%");  // malformed escapes stay literal
  EXPECT_EQ(get(app, "/users/a%2Fb").status, 404);       // a decoded '/' is a separator
  EXPECT_EQ(get(app, "/n/007").body, "7");
  EXPECT_EQ(get(app, "/n/-1").status, 404);
}

TEST(RouterInput, ClearErrorsNeverCrashes) {
  const App app = user_app();
  EXPECT_THROW(std::rethrow_exception(get(app, "/n/99999999999999999999").error), PathParamOverflow);
  Scope websocket = http_scope("GET", "/users/x");
  websocket.type = "websocket";
  EXPECT_THROW(std::rethrow_exception(call(app, websocket).error), std::invalid_argument);
  EXPECT_THROW(Route("users", PlainTextResponse("x")), std::invalid_argument);
  EXPECT_THROW(Mount("users", PlainTextResponse("x")), std::invalid_argument);
  EXPECT_THROW(Mount("/users", std::shared_ptr<Router>()), std::invalid_argument);
  EXPECT_THROW(Router().url_path_for("x", {{"a", "1"}, {"a", "2"}}), std::invalid_argument);
}

TEST(RouterInput, DefaultAppAndEndpointErrors) {
  Observer observer;
  Endpoint failing = [](Request&) -> Response { throw std::runtime_error("endpoint broke"); };
  Endpoint sync_without_pool = [](Request&) { return Response(); };
  sync_without_pool.kind = EndpointKind::sync_def;
  const App fallback = PlainTextResponse("fallback", {.status_code = 418});
  const App app =
      as_app(std::make_shared<Router>(Routes{Route("/fail", failing), Route("/sync", sync_without_pool)},
                                      RouterOptions{.default_app = fallback}));
  EXPECT_EQ(get(app, "/nowhere").status, 418);
  Scope scope = http_scope("GET", "/fail");
  scope.request_id = 9;
  const App observed = [&](Scope& inner_scope, const Receive& receive, const Send& send) {
    observe_run(sim::Simulation::current(), observer);  // no server here: the test observes the run
    app(inner_scope, receive, send);
  };
  EXPECT_TRUE(call(observed, scope).error);
  ASSERT_EQ(observer.log().size(), 1U);
  EXPECT_EQ(observer.log()[0].kind, ObservationKind::error_raised);
  EXPECT_EQ(observer.log()[0].request, 9U);
  EXPECT_THAT(observer.log()[0].detail, ::testing::HasSubstr("endpoint broke"));
  EXPECT_THROW(std::rethrow_exception(get(app, "/sync").error), std::logic_error);
}

// ---- tests/test_convertors.py ----------------------------------------------------------

// Port of test_default_float_convertor.
TEST(Convertors, DefaultFloatConvertor) {
  const App app = as_app(std::make_shared<Router>(Routes{Route("/{param:float}", [](Request& request) {
    EXPECT_TRUE(std::holds_alternative<double>(request.path_params().at("param")));
    return JSONResponse("{\"float\":" + json_float(std::get<double>(request.path_params().at("param"))) +
                        "}");
  })}));
  EXPECT_EQ(get(app, "/1.0").status, 200);
  EXPECT_EQ(get(app, "/1.0").body, R"({"float":1.0})");
  EXPECT_EQ(get(app, "/1-0").status, 404);
}

// Port of test_default_uuid_convertor with Starlette 0.26.1's regex: only
// lower-case, hyphenated UUIDs match (0.45 also accepted upper case and no hyphens).
TEST(Convertors, DefaultUuidConvertor) {
  const App app = as_app(std::make_shared<Router>(
      Routes{Route("/{param:uuid}", [](Request&) { return JSONResponse("\"ok\""); })}));
  EXPECT_EQ(get(app, "/00000000-aaaa-ffff-9999-000000000000").status, 200);
  EXPECT_EQ(get(app, "/00000000aaaaffff9999000000000000").status, 404);
  EXPECT_EQ(get(app, "/00000000-AAAA-FFFF-9999-000000000000").status, 404);
  EXPECT_EQ(get(app, "/not-a-uuid").status, 404);
}

}  // namespace
}  // namespace asgisim::core
