// Shared pieces of the BaseHTTPMiddleware tests: the outcome an upstream
// Starlette test has under each behaviour, Python's `assert` and
// `pytest.fail`, a Starlette application builder, and runners that drive an
// app with hand-written receive/send (upstream's `await app(scope, receive,
// send)`) or with the TestClient.
#pragma once

#include <gtest/gtest.h>

#include <array>
#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <ostream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "asgisim/core/client.hpp"
#include "asgisim/core/middleware/base_http.hpp"
#include "asgisim/core/middleware/errors.hpp"
#include "asgisim/core/observe.hpp"
#include "asgisim/core/routing.hpp"
#include "asgisim/sim/simulation.hpp"

namespace asgisim::core::testing {

// What an upstream test does under one behaviour.
enum class Outcome : std::uint8_t {
  passes,
  fails,   // runs to the end, but an assertion of the upstream test does not hold
  hangs,   // the run deadlocks (pytest would hang forever)
  raises,  // an exception escapes the app (pytest reports the error)
};
inline std::string_view to_string(Outcome outcome) {
  switch (outcome) {
    case Outcome::passes:
      return "passes";
    case Outcome::fails:
      return "fails";
    case Outcome::hangs:
      return "hangs";
    case Outcome::raises:
      return "raises";
  }
  return "?";
}
inline void PrintTo(Outcome outcome, std::ostream* out) { *out << to_string(outcome); }

inline constexpr std::array<BaseHttpBehaviour, 6> kAllBehaviours{
    BaseHttpBehaviour::cancel_drain, BaseHttpBehaviour::cancel,      BaseHttpBehaviour::disconnect,
    BaseHttpBehaviour::no_break,     BaseHttpBehaviour::cached_body, BaseHttpBehaviour::fixed,
};

// An upstream test's outcome per behaviour, in the order of kAllBehaviours:
// cancel_drain, cancel, disconnect, no_break, cached_body, fixed.
struct EraOutcomes {
  std::array<Outcome, 6> by_behaviour{};
  Outcome operator[](BaseHttpBehaviour behaviour) const {
    return by_behaviour[static_cast<std::size_t>(behaviour)];
  }
};
// The body-reading tests of 0.28 (PR #1692): the endpoint hangs before it.
inline constexpr EraOutcomes kHangsBefore028{
    {Outcome::hangs, Outcome::hangs, Outcome::hangs, Outcome::hangs, Outcome::passes, Outcome::passes}};

// The test fixture: one instance per behaviour.
class BaseHttpEra : public ::testing::TestWithParam<BaseHttpBehaviour> {
 protected:
  BaseHttpBehaviour behaviour() const { return GetParam(); }
  BaseHttpOptions options() const { return {.behaviour = GetParam()}; }
};
inline std::string behaviour_name(const ::testing::TestParamInfo<BaseHttpBehaviour>& info) {
  return std::string(to_string(info.param));
}

// Python's `assert` in test code: AssertionError is an Exception.
class AssertionError : public std::logic_error {
 public:
  using std::logic_error::logic_error;
};
inline void check(bool condition, const std::string& what) {
  if (!condition) throw AssertionError("assert " + what);
}
// pytest.fail() raises Failed, a BaseException: `except Exception` does not catch it.
struct PytestFail {
  std::string what{};
};

// Route(path, endpoint, methods=...) or, when `app` is set, Route(path, app).
struct TestRoute {
  std::string path{};
  std::optional<Endpoint> endpoint{};
  std::vector<std::string> methods{"GET"};
  App app{};
};

// Starlette(routes=..., middleware=[...]) as build_middleware_stack builds
// it: ServerErrorMiddleware, then the user middleware (the first is the
// outermost), then ExceptionMiddleware around the router.
inline App starlette_app(std::vector<TestRoute> routes,
                         std::vector<std::function<App(App)>> middleware = {}) {
  Routes table;
  for (TestRoute& route : routes) {
    if (route.app) {
      table.emplace_back(Route(route.path, std::move(route.app), {.name = route.path}));
    } else {
      table.emplace_back(
          Route(route.path, std::move(*route.endpoint), {.methods = route.methods, .name = route.path}));
    }
  }
  App app = exception_middleware(as_app(std::make_shared<Router>(std::move(table))));
  for (auto it = middleware.rbegin(); it != middleware.rend(); ++it) app = (*it)(std::move(app));
  return server_error_middleware(std::move(app));
}

// Middleware(BaseHTTPMiddleware, dispatch=dispatch) for starlette_app().
inline std::function<App(App)> base_http(DispatchFunction dispatch, BaseHttpOptions options) {
  return [dispatch = std::move(dispatch), options](App app) {
    return base_http_middleware(std::move(app), dispatch, options);
  };
}

inline std::string describe(const sim::RunResult& result) {
  return std::string(sim::to_string(result.status)) + ": " + result.report +
         (result.error ? " (" + sim::describe(result.error) + ")" : "");
}

// A scope like upstream's hand-written {"type": "http", "method": ..., "path": ...}.
inline Scope http_scope(std::string method = "GET", std::string path = "/") {
  Scope scope;
  scope.type = "http";
  scope.method = std::move(method);
  scope.path = std::move(path);
  scope.request_id = 1;
  return scope;
}

// `await app(scope, receive, send)` in a task of a fresh simulation (fifo:
// asyncio's order unless `options` says otherwise).
// With `observer`, the run is observed (there is no server to install it).
inline sim::RunResult run_app_call(const App& app, Scope& scope, const Receive& receive, const Send& send,
                                   sim::SimulationOptions options = {}, Observer* observer = nullptr) {
  sim::Simulation sim(options);
  if (observer != nullptr) observe_run(sim, *observer);
  sim.spawn("test", [&] { app(scope, receive, send); });
  return sim.run();
}

// Outcome of a hand-written run whose assertions are checked after it ended.
inline Outcome outcome_of(const sim::RunResult& result, bool assertions_hold) {
  if (result.status == sim::RunStatus::deadlock) return Outcome::hangs;
  if (!result.ok()) return Outcome::raises;
  return assertions_hold ? Outcome::passes : Outcome::fails;
}

// A TestClient session: `body(client)` runs in a task "test"; the server
// keeps running until every request task (background work included) ended.
struct ClientSession {
  sim::RunResult result{};
  // The test gave up waiting (kClientPatience) and closed the connection.
  bool timed_out = false;
  std::vector<ClientRecord> records{};
  std::vector<Observation> observations{};

  // The first app_raised observation's detail, or "".
  std::string app_error() const {
    for (const Observation& observation : observations) {
      if (observation.kind == ObservationKind::app_raised) return observation.detail;
    }
    return {};
  }
  // hangs on deadlock; raises when the app raised; else passes if the last
  // response had `status` and `extra` holds.
  Outcome outcome(int status = 200, bool extra = true) const {
    if (result.status == sim::RunStatus::deadlock || timed_out) return Outcome::hangs;
    if (!result.ok() || !app_error().empty()) return Outcome::raises;
    const bool status_ok = !records.empty() && records.back().status == status;
    return status_ok && extra ? Outcome::passes : Outcome::fails;
  }
};

// How long a test waits for its requests (virtual time) before it gives
// up, like pytest-timeout, and closes the connection: a test that would hang
// forever ends as `hangs`, and the disconnect lets the app unwind so that the
// run still ends cleanly.
inline constexpr sim::Nanoseconds kClientPatience = 10 * sim::kSecond;

inline ClientSession with_test_client(App app, const std::function<void(TestClient&)>& body,
                                      sim::SimulationOptions options = {}) {
  sim::Simulation sim(options);
  Observer observer;
  ClientSession session;
  TestClient client(sim, observer, std::move(app));
  sim.spawn("test", [&] {
    session.timed_out = sim::move_on_after(kClientPatience, [&] { body(client); });
    if (session.timed_out) client.close();
  });
  session.result = sim.run();
  session.records = client.client().records();
  session.observations = observer.log();
  return session;
}

inline std::string observations_text(const std::vector<Observation>& observations) {
  std::string text;
  for (const Observation& observation : observations) {
    text += std::to_string(observation.time_ns) + " " + std::string(to_string(observation.kind)) + " " +
            observation.layer + " " + observation.detail + "\n";
  }
  return text;
}

}  // namespace asgisim::core::testing
