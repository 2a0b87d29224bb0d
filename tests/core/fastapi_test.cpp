// Tests of the FastAPI layer (fastapi.hpp): dependency solving order, per-
// request caching, which side each kind runs on, the exit stack (after the
// response, reverse order, errors, cancellation), and FastAPI #3205: sync
// `yield` dependencies holding a DB connection whose release needs another
// limiter token deadlock before 0.82, stall 30 s with a checkout timeout, and
// complete with 0.82's own exit limiter (PR #5122).
#include "asgisim/core/fastapi.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <any>
#include <stdexcept>
#include <string>
#include <vector>

#include "asgisim/core/observe.hpp"
#include "asgisim/core/resource_pool.hpp"
#include "asgisim/core/threadpool.hpp"
#include "asgisim/sim/cancel.hpp"
#include "asgisim/sim/simulation.hpp"
#include "asgisim/sim/testing.hpp"
#include "asgisim/sim/threading.hpp"

namespace asgisim::core {
namespace {

using sim::kSecond;
using sim::RunResult;
using sim::Simulation;
using sim::Strategy;

using sim_testing::describe;

// What one request saw.
struct Outcome {
  int status = 0;
  std::string error{};
  sim::Nanoseconds finished_ns = -1;
};

// Calls `app` for one request from the current loop task, as a server would.
void call(const App& app, Outcome& outcome, RequestId id, std::vector<std::string>* log = nullptr) {
  Scope scope;
  scope.path = "/items";
  scope.request_id = id;
  bool body_read = false;
  const Receive receive = [&body_read] {
    if (body_read) return Message::disconnect();
    body_read = true;
    return Message::request("");
  };
  const Send send = [&outcome, log](Message message) {
    if (message.type == MessageType::http_response_start) outcome.status = message.status;
    if (log != nullptr && message.type == MessageType::http_response_body && !message.more_body) {
      log->push_back("response sent");
    }
  };
  try {
    app(scope, receive, send);
  } catch (const std::exception& error) {
    outcome.error = error.what();
  }
  outcome.finished_ns = sim::now();
}

std::string side() {
  return Simulation::current().current_task().domain() == sim::Domain::thread ? "thread" : "loop";
}

TEST(FastApi, SolvesDepthFirstInDeclarationOrderAndCachesPerRequest) {
  AnyioToThread pool;
  std::vector<std::string> calls;
  auto b = Dependency::sync_def("b", [&](Request&, Deps&) -> std::any {
    calls.push_back("b on " + side());
    return static_cast<int>(calls.size());
  });
  auto a = Dependency::async_def("a",
                                 [&](Request&, Deps& values) -> std::any {
                                   calls.push_back("a on " + side());
                                   return values.get<int>("inner") * 10;
                                 },
                                 {{.parameter = "inner", .dependency = b}});
  std::vector<int> seen;
  App app = fastapi_route({.function =
                               [&](Request&, Deps& values) {
                                 seen = {values.get<int>("x"), values.get<int>("y"), values.get<int>("z")};
                                 return PlainTextResponse("ok");
                               },
                           .dependencies = {{.parameter = "x", .dependency = a},
                                            {.parameter = "y", .dependency = b},
                                            {.parameter = "z", .dependency = b, .use_cache = false}}},
                          {.threadpool = &pool});
  Simulation sim;
  Outcome outcome;
  sim.spawn("request", [&] { call(app, outcome, 1); });
  const RunResult result = sim.run();
  ASSERT_TRUE(result.ok()) << describe(result);
  EXPECT_EQ(outcome.status, 200);
  // b for a's parameter, then a; y is b's cached value; z calls b again.
  EXPECT_EQ(calls, (std::vector<std::string>{"b on thread", "a on loop", "b on thread"}));
  EXPECT_EQ(seen, (std::vector<int>{10, 1, 3}));
}

TEST(FastApi, YieldExitsRunAfterTheResponseInReverseOrder) {
  AnyioToThread pool;
  Observer observer;
  std::vector<std::string> log;
  auto sync_cm = Dependency::sync_yield(
      "sync_cm",
      [&](Request&, Deps&) -> std::any {
        log.push_back("sync_cm enter on " + side());
        return 1;
      },
      [&](std::any&, std::exception_ptr error) {
        log.push_back("sync_cm exit on " + side() + (error ? " with error" : ""));
      });
  auto async_cm = Dependency::async_yield(
      "async_cm",
      [&](Request&, Deps&) -> std::any {
        log.push_back("async_cm enter on " + side());
        return 2;
      },
      [&](std::any&, std::exception_ptr) { log.push_back("async_cm exit on " + side()); });
  App app = fastapi_route(
      {.function =
           [&](Request&, Deps&) {
             log.push_back("endpoint on " + side());
             return PlainTextResponse(
                 "ok", {.background = BackgroundTask("audit", [&] { log.push_back("background"); })});
           },
       .kind = EndpointKind::sync_def,
       .dependencies = {{.parameter = "s", .dependency = sync_cm},
                        {.parameter = "a", .dependency = async_cm}}},
      {.threadpool = &pool});
  Simulation sim({.seed = 2, .strategy = Strategy::random});
  observe_run(sim, observer);  // no server here: the test observes the run
  Outcome outcome;
  sim.spawn("request", [&] { call(app, outcome, 1, &log); });
  const RunResult result = sim.run();
  ASSERT_TRUE(result.ok()) << describe(result);
  EXPECT_EQ(log, (std::vector<std::string>{"sync_cm enter on thread", "async_cm enter on loop",
                                           "endpoint on thread", "response sent", "background",
                                           "async_cm exit on loop", "sync_cm exit on thread"}));
  int entered = 0;
  int exited = 0;
  for (const Observation& observation : observer.log()) {
    entered += observation.kind == ObservationKind::context_entered ? 1 : 0;
    exited += observation.kind == ObservationKind::context_exited ? 1 : 0;
  }
  EXPECT_EQ(entered, 2);
  EXPECT_EQ(exited, 2);
}

TEST(FastApi, ExitsSeeTheEndpointErrorWhichStillPropagates) {
  AnyioToThread pool;
  std::vector<std::string> log;
  auto cm = Dependency::sync_yield(
      "cm", [](Request&, Deps&) -> std::any { return 0; },
      [&](std::any&, std::exception_ptr error) {
        log.push_back(error ? "exit saw error" : "exit saw nothing");
      });
  App app = fastapi_route(
      {.function = [](Request&, Deps&) -> Response { throw std::runtime_error("endpoint failed"); },
       .dependencies = {{.parameter = "cm", .dependency = cm}}},
      {.threadpool = &pool});
  Simulation sim;
  Outcome outcome;
  sim.spawn("request", [&] { call(app, outcome, 1); });
  const RunResult result = sim.run();
  ASSERT_TRUE(result.ok()) << describe(result);
  EXPECT_EQ(log, std::vector<std::string>{"exit saw error"});
  EXPECT_EQ(outcome.error, "endpoint failed");
  EXPECT_EQ(outcome.status, 0);
}

TEST(FastApi, CancellationSkipsTheSyncYieldExit) {
  AnyioToThread pool;
  std::vector<std::string> log;
  auto sync_cm = Dependency::sync_yield(
      "sync_cm", [](Request&, Deps&) -> std::any { return 0; },
      [&](std::any&, std::exception_ptr) { log.push_back("sync exit"); });
  auto async_cm = Dependency::async_yield(
      "async_cm", [](Request&, Deps&) -> std::any { return 0; },
      [&](std::any&, std::exception_ptr error) {
        log.push_back(error ? "async exit (cancelled)" : "async exit");
      });
  App app = fastapi_route({.function =
                               [](Request&, Deps&) {
                                 sim::sleep(10 * kSecond);
                                 return PlainTextResponse("late");
                               },
                           .dependencies = {{.parameter = "s", .dependency = sync_cm},
                                            {.parameter = "a", .dependency = async_cm}}},
                          {.threadpool = &pool});
  Simulation sim;
  Outcome outcome;
  bool cancelled = false;
  sim.spawn("request", [&] { cancelled = sim::move_on_after(kSecond, [&] { call(app, outcome, 1); }); });
  const RunResult result = sim.run();
  ASSERT_TRUE(result.ok()) << describe(result);
  EXPECT_TRUE(cancelled);
  EXPECT_EQ(log, std::vector<std::string>{"async exit (cancelled)"});
}

// Which limiter the exit of a sync `yield` dependency borrows from.
TEST(FastApi, SyncExitLimiterDependsOnTheVersion) {
  for (YieldExitBehaviour behaviour : {YieldExitBehaviour::shared_pool, YieldExitBehaviour::own_limiter}) {
    AnyioToThread pool;
    std::uint64_t default_tokens_in_exit = 99;
    auto cm = Dependency::sync_yield(
        "cm", [](Request&, Deps&) -> std::any { return 0; },
        [&](std::any&, std::exception_ptr) {
          default_tokens_in_exit = pool.default_limiter().borrowed_tokens();
        });
    App app = fastapi_route({.function = [](Request&, Deps&) { return PlainTextResponse("ok"); },
                             .dependencies = {{.parameter = "cm", .dependency = cm}}},
                            {.threadpool = &pool, .exit_behaviour = behaviour});
    Simulation sim;
    Outcome outcome;
    sim.spawn("request", [&] { call(app, outcome, 1); });
    const RunResult result = sim.run();
    ASSERT_TRUE(result.ok()) << describe(result);
    EXPECT_EQ(default_tokens_in_exit, behaviour == YieldExitBehaviour::shared_pool ? 1U : 0U)
        << to_string(behaviour);
    EXPECT_EQ(pool.stats().threads_peak, 1U);  // the exit reuses the anyio worker either way
  }
}

// When the exits run against the response and its background task, by
// FastAPI release (YieldExitTiming): "db" is a plain `yield` dependency,
// "session" one with Depends(scope="function") where the release has it.
std::vector<std::string> exit_order(YieldExitTiming timing, bool function_scoped_session) {
  std::vector<std::string> log;
  auto cm = [&log](const char* name) {
    return Dependency::async_yield(
        name, [](Request&, Deps&) -> std::any { return 0; },
        [&log, name](std::any&, std::exception_ptr) { log.push_back(std::string(name) + " exit"); });
  };
  const DependencyScope session_scope =
      function_scoped_session ? DependencyScope::function : DependencyScope::request;
  App app = fastapi_route(
      {.function =
           [&log](Request& request, Deps&) {
             log.push_back("endpoint returned");
             return PlainTextResponse(
                 "ok", {.background = BackgroundTask("audit", [&log] { log.push_back("background"); },
                                                     {.request = request.scope().request_id})});
           },
       .dependencies = {{.parameter = "db", .dependency = cm("db")},
                        {.parameter = "session", .dependency = cm("session"), .scope = session_scope}}},
      {.exit_timing = timing});
  Simulation sim;
  Outcome outcome;
  sim.spawn("request", [&] { call(app, outcome, 1, &log); });
  const RunResult result = sim.run();
  EXPECT_TRUE(result.ok()) << describe(result);
  EXPECT_EQ(outcome.status, 200);
  return log;
}

TEST(FastApi, YieldExitsRunAfterOrBeforeTheResponseByRelease) {
  using Log = std::vector<std::string>;
  // <= 0.105 and 0.118 to 0.120: after the response and its background task.
  EXPECT_EQ(exit_order(YieldExitTiming::after_response, false),
            (Log{"endpoint returned", "response sent", "background", "session exit", "db exit"}));
  // 0.106 to 0.117 (#10831): before anything is sent.
  EXPECT_EQ(exit_order(YieldExitTiming::before_response, false),
            (Log{"endpoint returned", "session exit", "db exit", "response sent", "background"}));
  // >= 0.121 (#14262): a request-scoped dependency (the default) as before
  // 0.106, a function-scoped one before the response.
  EXPECT_EQ(exit_order(YieldExitTiming::by_scope, false),
            (Log{"endpoint returned", "response sent", "background", "session exit", "db exit"}));
  EXPECT_EQ(exit_order(YieldExitTiming::by_scope, true),
            (Log{"endpoint returned", "session exit", "response sent", "background", "db exit"}));
}

// Before 0.106 an exit that raises comes after the 200 went out; from 0.106
// to 0.117 it comes first, and no response is sent by the route.
TEST(FastApi, AnExitThatRaisesBeforeTheResponseReplacesIt) {
  for (YieldExitTiming timing : {YieldExitTiming::after_response, YieldExitTiming::before_response}) {
    auto cm = Dependency::async_yield(
        "cm", [](Request&, Deps&) -> std::any { return 0; },
        [](std::any&, std::exception_ptr) { throw std::runtime_error("exit failed"); });
    App app = fastapi_route({.function = [](Request&, Deps&) { return PlainTextResponse("ok"); },
                             .dependencies = {{.parameter = "cm", .dependency = cm}}},
                            {.exit_timing = timing});
    Simulation sim;
    Outcome outcome;
    sim.spawn("request", [&] { call(app, outcome, 1); });
    ASSERT_TRUE(sim.run().ok()) << to_string(timing);
    EXPECT_EQ(outcome.error, "exit failed") << to_string(timing);
    EXPECT_EQ(outcome.status, timing == YieldExitTiming::after_response ? 200 : 0) << to_string(timing);
  }
}

TEST(FastApi, ConfigurationErrorsAreCaughtEarly) {
  ThreadPoolExecutor executor;
  auto cm = Dependency::sync_yield(
      "cm", [](Request&, Deps&) -> std::any { return 0; }, [](std::any&, std::exception_ptr) {});
  const FastApiEndpoint endpoint{.function = [](Request&, Deps&) { return PlainTextResponse("ok"); },
                                 .dependencies = {{.parameter = "cm", .dependency = cm}}};
  EXPECT_THROW(fastapi_route(endpoint, {}), std::invalid_argument);  // no threadpool
  EXPECT_THROW(
      fastapi_route(endpoint, {.threadpool = &executor, .exit_behaviour = YieldExitBehaviour::own_limiter}),
      std::invalid_argument);  // 0.82 needs anyio
  EXPECT_NO_THROW(fastapi_route(endpoint, {.threadpool = &executor}));
  // Depends(scope="function") came with 0.121.0.
  const FastApiEndpoint scoped{
      .function = [](Request&, Deps&) { return PlainTextResponse("ok"); },
      .dependencies = {{.parameter = "cm", .dependency = cm, .scope = DependencyScope::function}}};
  for (YieldExitTiming timing : {YieldExitTiming::after_response, YieldExitTiming::before_response})
    EXPECT_THROW(fastapi_route(scoped, {.threadpool = &executor, .exit_timing = timing}),
                 std::invalid_argument);
  EXPECT_NO_THROW(fastapi_route(scoped, {.threadpool = &executor, .exit_timing = YieldExitTiming::by_scope}));
}

// ---- FastAPI #3205 ---------------------------------------------------------

struct Deadlock3205 {
  sim::Nanoseconds checkout_timeout_ns = sim::kWaitForever;
  YieldExitBehaviour behaviour = YieldExitBehaviour::shared_pool;
  std::uint64_t seed = 0;
  Strategy strategy = Strategy::fifo;

  std::vector<Outcome> outcomes{};
  RunResult result{};

  // 60 concurrent requests; `get_db` checks a connection out of a pool of 5
  // in its (sync) enter and gives it back in its (sync) exit.
  void run() {
    AnyioToThread pool;
    QueuePool db({.pool_size = 5, .max_overflow = 0, .timeout_ns = checkout_timeout_ns, .name = "engine"});
    db.set_holder_resolver([&pool](sim::TaskId thread) { return pool.caller_of(thread); });
    auto get_db = Dependency::sync_yield(
        "get_db", [&db](Request&, Deps&) -> std::any { return db.checkout(); },
        [&db](std::any& connection, std::exception_ptr) {
          db.checkin(std::any_cast<ConnectionId>(connection));
        });
    App app = fastapi_route({.function = [](Request&, Deps&) { return PlainTextResponse("ok"); },
                             .dependencies = {{.parameter = "db", .dependency = get_db}}},
                            {.threadpool = &pool, .exit_behaviour = behaviour});
    outcomes.assign(60, Outcome{});
    Simulation sim({.seed = seed, .strategy = strategy});
    for (std::size_t i = 0; i < outcomes.size(); ++i) {
      sim.spawn("request " + std::to_string(i + 1), [&, i] { call(app, outcomes[i], i + 1); });
    }
    result = sim.run();
  }
  int succeeded() const {
    return static_cast<int>(
        std::count_if(outcomes.begin(), outcomes.end(), [](const Outcome& o) { return o.status == 200; }));
  }
};

TEST(FastApi3205, SyncYieldExitsInTheSharedPoolDeadlock) {
  Deadlock3205 scenario;
  scenario.run();
  const RunResult& result = scenario.result;
  ASSERT_EQ(result.status, sim::RunStatus::deadlock) << describe(result);
  EXPECT_NE(result.report.find("sqlalchemy.QueuePool 'engine'"), std::string::npos) << result.report;
  EXPECT_NE(result.report.find("anyio.CapacityLimiter 'default thread limiter'"), std::string::npos)
      << result.report;
  EXPECT_NE(result.report.find("cycle:"), std::string::npos) << result.report;
  // The five requests that got a connection sent their response and then
  // hang in the exit; no app call returns.
  EXPECT_EQ(scenario.succeeded(), 5);
  for (const Outcome& outcome : scenario.outcomes) EXPECT_EQ(outcome.finished_ns, -1);
}

TEST(FastApi3205, WithACheckoutTimeoutRequestsFailAfter30Seconds) {
  Deadlock3205 scenario{.checkout_timeout_ns = 30 * kSecond};
  scenario.run();
  ASSERT_TRUE(scenario.result.ok()) << describe(scenario.result);
  int timed_out = 0;
  for (const Outcome& outcome : scenario.outcomes) {
    if (outcome.error.empty()) continue;
    ++timed_out;
    EXPECT_EQ(outcome.error.rfind("QueuePool limit of size 5 overflow 0 reached", 0), 0U) << outcome.error;
    EXPECT_EQ(outcome.finished_ns, 30 * kSecond);
  }
  EXPECT_GT(timed_out, 0);
  EXPECT_EQ(scenario.succeeded() + timed_out, 60);
  EXPECT_GE(scenario.result.end_time_ns, 30 * kSecond);
}

TEST(FastApi3205, OwnExitLimiterFrom082Completes) {
  for (std::uint64_t seed = 0; seed < 30; ++seed) {
    Deadlock3205 scenario{
        .behaviour = YieldExitBehaviour::own_limiter,
        .seed = seed,
        .strategy = seed == 0 ? Strategy::fifo : (seed % 2 ? Strategy::random : Strategy::pct)};
    scenario.run();
    ASSERT_TRUE(scenario.result.ok()) << "seed " << seed << ": " << describe(scenario.result);
    EXPECT_EQ(scenario.succeeded(), 60) << "seed " << seed;
    EXPECT_EQ(scenario.result.end_time_ns, 0) << "seed " << seed;
  }
}

}  // namespace
}  // namespace asgisim::core
