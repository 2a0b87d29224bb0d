// BaseHTTPMiddleware (base_http.hpp): ports of the upstream Starlette tests in
// tests/middleware/test_base.py about background tasks, context-manager
// exits and http.disconnect, run under every behaviour with the outcome
// upstream history gives each; then tests of the model's own claims
// (DESIGN.md catalogue entries 1, 3 and 5). The request-body ports of 0.28
// are in base_http_body_test.cpp.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "asgisim/core/middleware/pure_asgi.hpp"
#include "asgisim/sim/event.hpp"
#include "asgisim/sim/task_group.hpp"
#include "base_http_test_support.hpp"

namespace asgisim::core::testing {
namespace {

constexpr sim::Nanoseconds ms = sim::kMillisecond;
constexpr Outcome passes = Outcome::passes;
constexpr Outcome fails = Outcome::fails;

TEST(BaseHttpBehaviour, NamesVersionsAndTraits) {
  for (BaseHttpBehaviour behaviour : kAllBehaviours) {
    BaseHttpBehaviour parsed = BaseHttpBehaviour::fixed;
    ASSERT_TRUE(parse_base_http_behaviour(to_string(behaviour), parsed));
    EXPECT_EQ(parsed, behaviour);
  }
  EXPECT_EQ(base_http_behaviour_for_starlette("0.14.2"), std::nullopt);
  EXPECT_EQ(base_http_behaviour_for_starlette("0.15.0"), BaseHttpBehaviour::cancel_drain);
  EXPECT_EQ(base_http_behaviour_for_starlette("0.20.0"), BaseHttpBehaviour::cancel_drain);
  EXPECT_EQ(base_http_behaviour_for_starlette("0.20.4"), BaseHttpBehaviour::cancel);
  EXPECT_EQ(base_http_behaviour_for_starlette("0.23.0"), BaseHttpBehaviour::disconnect);
  EXPECT_EQ(base_http_behaviour_for_starlette("0.23.1"), BaseHttpBehaviour::no_break);
  EXPECT_EQ(base_http_behaviour_for_starlette("0.27.0"), BaseHttpBehaviour::no_break);
  EXPECT_EQ(base_http_behaviour_for_starlette("0.28.0"), BaseHttpBehaviour::cached_body);
  EXPECT_EQ(base_http_behaviour_for_starlette("0.29.0"), BaseHttpBehaviour::fixed);
  EXPECT_EQ(base_http_behaviour_for_starlette("0.29"), BaseHttpBehaviour::fixed);
  EXPECT_EQ(base_http_behaviour_for_starlette("0.2x"), std::nullopt);
  // Only the fixed behaviour neither cancels, nor delays, nor loses the body.
  const BaseHttpTraits fixed = traits(BaseHttpBehaviour::fixed);
  EXPECT_FALSE(fixed.cancel_downstream);
  EXPECT_TRUE(fixed.stop_at_final_body && fixed.skip_empty_chunks && fixed.cache_request_body);
  EXPECT_TRUE(traits(BaseHttpBehaviour::cancel_drain).cancel_downstream);
  EXPECT_FALSE(traits(BaseHttpBehaviour::no_break).stop_at_final_body);
}

// What upstream's tests share: a receive that answers http.request once and
// then http.disconnect once the response is complete, and a send that notes
// the completion ("a client that disconnects immediately after receiving
// the response").
struct DisconnectingClient {
  bool request_body_sent = false;
  sim::Event response_complete{"response_complete"};
  std::vector<std::string> events{};
  Receive receive() {
    return [this] {
      if (!request_body_sent) {
        request_body_sent = true;
        return Message::request("", false);
      }
      response_complete.wait();
      return Message::disconnect();
    };
  }
  Send send() {
    return [this](Message message) {
      if (message.type != MessageType::http_response_body) return;
      events.push_back("body '" + message.body + "' more_body=" + (message.more_body ? "True" : "False"));
      if (!message.more_body) response_complete.set();
    };
  }
};

// Upstream: tests/middleware/test_base.py::test_run_background_tasks_even_if_client_disconnects
// (0.21.0, PR #1715, for #1438). `cancel` cancels the task group right after
// the response and kills the task in its sleep; `cancel_drain` completes the
// response only after the downstream app, background task included, ended.
TEST_P(BaseHttpEra, RunBackgroundTasksEvenIfClientDisconnects) {
  constexpr EraOutcomes kUpstream{{passes, fails, passes, passes, passes, passes}};
  Observer observer;
  DisconnectingClient client;
  sim::Event background_task_run("background_task_run");
  const auto sleep_and_set = [&] {
    sim::sleep(100 * ms);  // "small delay to give BaseHTTPMiddleware a chance to cancel us"
    background_task_run.set();
  };
  const App app = starlette_app(
      {{.path = "/", .endpoint = Endpoint([&](Request& request) {
                       return PlainTextResponse(
                           "", {.background = BackgroundTask("sleep_and_set", sleep_and_set,
                                                             {.request = request.scope().request_id})});
                     })}},
      {base_http(passthrough_dispatch(), options())});
  Scope scope = http_scope();
  const sim::RunResult result = run_app_call(app, scope, client.receive(), client.send(), {}, &observer);
  EXPECT_EQ(outcome_of(result, background_task_run.is_set()), kUpstream[behaviour()])
      << describe(result) << "\n"
      << observations_text(observer.log());
}

// Upstream: tests/middleware/test_base.py::test_do_not_block_on_background_tasks
// (0.29.0, PR #2194, fixing the #1940 regression of 0.23.1). Two app calls
// at once; the closing body messages must go out before background work.
TEST_P(BaseHttpEra, DoNotBlockOnBackgroundTasks) {
  constexpr EraOutcomes kUpstream{{fails, fails, passes, fails, fails, passes}};
  DisconnectingClient client;
  const auto sleep_and_set = [&] {
    client.events.push_back("Background task started");
    sim::sleep(100 * ms);
    client.events.push_back("Background task finished");
  };
  const App app = starlette_app(
      {{.path = "/", .endpoint = Endpoint([&](Request&) {
                       return PlainTextResponse(
                           "Hello", {.background = BackgroundTask("sleep_and_set", sleep_and_set)});
                     })}},
      {base_http(passthrough_dispatch(), options())});
  Scope scope = http_scope();  // upstream passes the same scope dict to both calls
  const Receive receive = client.receive();
  const Send send = client.send();
  sim::Simulation sim;
  sim.spawn("test", [&] {
    sim::task_group([&](sim::TaskGroup& task_group) {
      task_group.start_soon("app 1", [&] { app(scope, receive, send); });
      task_group.start_soon("app 2", [&] { app(scope, receive, send); });
    });
  });
  const sim::RunResult result = sim.run();
  const std::vector<std::string> expected{
      "body 'Hello' more_body=True", "body '' more_body=False",  "body 'Hello' more_body=True",
      "body '' more_body=False",     "Background task started",  "Background task started",
      "Background task finished",    "Background task finished",
  };
  EXPECT_EQ(outcome_of(result, client.events == expected), kUpstream[behaviour()])
      << describe(result) << "\n"
      << ::testing::PrintToString(client.events);
}

// Upstream: tests/middleware/test_base.py::test_run_context_manager_exit_even_if_client_disconnects
// (0.21.0, PR #1715, for the comment on #1678). A pure ASGI middleware below
// BaseHTTPMiddleware whose `async with` exit awaits: the cancellation cuts it short.
TEST_P(BaseHttpEra, RunContextManagerExitEvenIfClientDisconnects) {
  constexpr EraOutcomes kUpstream{{passes, fails, passes, passes, passes, passes}};
  Observer observer;
  DisconnectingClient client;
  sim::Event context_manager_exited("context_manager_exited");
  const auto sleep_and_set = [&] {
    sim::sleep(100 * ms);
    context_manager_exited.set();
  };
  const auto context_manager = [&](App app) {
    return context_manager_middleware(std::move(app), {.exit_work = sleep_and_set});
  };
  const App app =
      starlette_app({{.path = "/", .endpoint = Endpoint([&](Request&) {
                                     return PlainTextResponse(
                                         "", {.background = BackgroundTask("sleep_and_set", sleep_and_set)});
                                   })}},
                    {base_http(passthrough_dispatch(), options()), context_manager});
  Scope scope = http_scope();
  const sim::RunResult result = run_app_call(app, scope, client.receive(), client.send(), {}, &observer);
  EXPECT_EQ(outcome_of(result, context_manager_exited.is_set()), kUpstream[behaviour()]) << describe(result);
  // The spine tells the two apart: an exit that ran to the end, or one cut short.
  const ObservationKind exit_kind = kUpstream[behaviour()] == passes
                                        ? ObservationKind::context_exited
                                        : ObservationKind::context_exit_cancelled;
  bool reported = false;
  for (const Observation& observation : observer.log()) reported |= observation.kind == exit_kind;
  EXPECT_TRUE(reported) << observations_text(observer.log());
}

// DiscardingMiddleware of the two upstream tests below.
DispatchFunction discarding_dispatch() {
  return [](Request& request, const CallNext& call_next) {
    call_next(request);
    return PlainTextResponse("Custom");
  };
}

// Upstream: tests/middleware/test_base.py::test_app_receives_http_disconnect_while_sending_if_discarded
// (0.21.0, PR #1715). Passes in every era: before 0.21 the cancellation ends
// the downstream app, from 0.21 http.disconnect does.
TEST_P(BaseHttpEra, AppReceivesHttpDisconnectWhileSendingIfDiscarded) {
  const App downstream_app = [](Scope&, const Receive& receive, const Send& send) {
    send(Message::start(200, {{"content-type", "text/plain"}}));
    sim::task_group([&](sim::TaskGroup& task_group) {
      task_group.start_soon("cancel_on_disconnect", [&] {
        for (;;) {
          if (receive().type == MessageType::http_disconnect) {
            task_group.cancel_scope().cancel();
            break;
          }
        }
      });
      // "A timeout is set for 0.1 second in order to ensure that
      // cancel_on_disconnect is scheduled by the event loop"
      sim::move_on_after(100 * ms, [&] {
        for (;;) send(Message::body_chunk("chunk ", true));
      });
      throw PytestFail{"http.disconnect should have been received and canceled the scope"};
    });
  };
  const App app = base_http_middleware(downstream_app, discarding_dispatch(), options());
  const ClientSession session =
      with_test_client(app, [](TestClient& client) { client.get("/does_not_exist"); });
  const bool custom = !session.records.empty() && session.records.back().body == "Custom";
  EXPECT_EQ(session.outcome(200, custom), passes) << describe(session.result) << "\n"
                                                  << observations_text(session.observations);
}

// Upstream: tests/middleware/test_base.py::test_app_receives_http_disconnect_after_sending_if_discarded
// (0.21.0, PR #1715). Passes in every era (before 0.21 the downstream app is
// cancelled in its first send, so its assertion is never reached).
TEST_P(BaseHttpEra, AppReceivesHttpDisconnectAfterSendingIfDiscarded) {
  const App downstream_app = [](Scope&, const Receive& receive, const Send& send) {
    send(Message::start(200, {{"content-type", "text/plain"}}));
    send(Message::body_chunk("first chunk, ", true));
    send(Message::body_chunk("second chunk", true));
    check(receive().type == MessageType::http_disconnect, "message['type'] == 'http.disconnect'");
  };
  const App app = base_http_middleware(downstream_app, discarding_dispatch(), options());
  const ClientSession session =
      with_test_client(app, [](TestClient& client) { client.get("/does_not_exist"); });
  const bool custom = !session.records.empty() && session.records.back().body == "Custom";
  EXPECT_EQ(session.outcome(200, custom), passes) << describe(session.result) << "\n"
                                                  << observations_text(session.observations);
}

// Upstream: tests/middleware/test_base.py::test_custom_middleware (0.15.0;
// the exception paths as of 0.20.0, PRs #1262 and #1459), http routes only.
// /exc-stream's generator is an async one here (no thread pool in this test).
TEST_P(BaseHttpEra, CustomMiddleware) {
  const DispatchFunction custom = [](Request& request, const CallNext& call_next) {
    Response response = call_next(request);
    response.set_header("custom-header", "Example");
    return response;
  };
  const App no_response = [](Scope&, const Receive&, const Send&) {};
  const App app = starlette_app(
      {{.path = "/", .endpoint = Endpoint([](Request&) { return PlainTextResponse("Homepage"); })},
       {.path = "/exc", .endpoint = Endpoint([](Request&) -> Response { throw std::runtime_error("Exc"); })},
       {.path = "/exc-stream", .endpoint = Endpoint([](Request&) {
                                 auto sent = std::make_shared<bool>(false);
                                 return StreamingResponse([sent]() -> std::optional<Bytes> {
                                   if (*sent) throw std::runtime_error("Faulty Stream");
                                   *sent = true;
                                   return Bytes("Ok");
                                 });
                               })},
       {.path = "/no-response", .app = no_response}},
      {base_http(custom, options())});
  const ClientSession session = with_test_client(app, [](TestClient& client) {
    const ClientRecord home = client.get("/");
    check(home.header("custom-header") == "Example", "response.headers['Custom-Header'] == 'Example'");
    client.get("/exc");
    client.get("/exc-stream");
    client.get("/no-response");
  });
  ASSERT_TRUE(session.result.ok()) << describe(session.result);
  std::vector<std::string> raised;
  for (const Observation& observation : session.observations) {
    if (observation.kind == ObservationKind::app_raised) raised.push_back(observation.detail);
  }
  ASSERT_EQ(raised.size(), 3U) << observations_text(session.observations);
  EXPECT_NE(raised[0].find("Exc"), std::string::npos) << raised[0];
  EXPECT_NE(raised[1].find("Faulty Stream"), std::string::npos) << raised[1];
  EXPECT_NE(raised[2].find("No response returned."), std::string::npos) << raised[2];
}

// Upstream: tests/middleware/test_base.py::test_state_data_across_multiple_middlewares (0.15.0).
TEST_P(BaseHttpEra, StateDataAcrossMultipleMiddlewares) {
  const DispatchFunction a = [](Request& request, const CallNext& call_next) {
    request.state()["foo"] = "foo";
    return call_next(request);
  };
  const DispatchFunction b = [](Request& request, const CallNext& call_next) {
    request.state()["bar"] = "bar";
    Response response = call_next(request);
    response.set_header("x-state-foo", request.state()["foo"]);
    return response;
  };
  const DispatchFunction c = [](Request& request, const CallNext& call_next) {
    Response response = call_next(request);
    response.set_header("x-state-bar", request.state()["bar"]);
    return response;
  };
  const App app =
      starlette_app({{.path = "/", .endpoint = Endpoint([](Request&) { return PlainTextResponse("OK"); })}},
                    {base_http(a, options()), base_http(b, options()), base_http(c, options())});
  const ClientSession session = with_test_client(app, [](TestClient& client) { client.get("/"); });
  ASSERT_EQ(session.records.size(), 1U) << describe(session.result);
  const ClientRecord& response = session.records.back();
  EXPECT_EQ(session.outcome(200, response.body == "OK"), passes);
  EXPECT_EQ(response.header("x-state-foo"), "foo");
  EXPECT_EQ(response.header("x-state-bar"), "bar");
}

// Upstream: tests/middleware/test_base.py::test_fully_evaluated_response
// (0.15.0, for #1022): dispatch returns another response than call_next's.
TEST_P(BaseHttpEra, FullyEvaluatedResponse) {
  const App app = starlette_app({}, {base_http(discarding_dispatch(), options())});
  const ClientSession session =
      with_test_client(app, [](TestClient& client) { client.get("/does_not_exist"); });
  const bool custom = !session.records.empty() && session.records.back().body == "Custom";
  EXPECT_EQ(session.outcome(200, custom), passes) << describe(session.result);
}

INSTANTIATE_TEST_SUITE_P(Eras, BaseHttpEra, ::testing::ValuesIn(kAllBehaviours), behaviour_name);

}  // namespace
}  // namespace asgisim::core::testing
