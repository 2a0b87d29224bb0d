// BaseHTTPMiddleware after 0.29.0 (base_http.hpp): the behaviours
// no_listener (0.38.3, #2620), dispatch_background (0.38.5, #2688), reraise
// (0.46.0, #2812) and reraise_once (0.46.2, #2911), each against the one
// before it, mostly as ports of the upstream tests those pull requests added
// to tests/middleware/test_base.py.
#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "asgisim/sim/event.hpp"
#include "base_http_test_support.hpp"

namespace asgisim::core::testing {
namespace {

constexpr sim::Nanoseconds ms = sim::kMillisecond;

constexpr std::array<BaseHttpBehaviour, 5> kRecentBehaviours{
    BaseHttpBehaviour::fixed, BaseHttpBehaviour::no_listener, BaseHttpBehaviour::dispatch_background,
    BaseHttpBehaviour::reraise, BaseHttpBehaviour::reraise_once};

bool observed(const std::vector<Observation>& log, ObservationKind kind) {
  return std::any_of(log.begin(), log.end(), [kind](const Observation& o) { return o.kind == kind; });
}

TEST(BaseHttpRecent, NamesVersionsAndTraits) {
  for (BaseHttpBehaviour behaviour : kRecentBehaviours) {
    BaseHttpBehaviour parsed = BaseHttpBehaviour::cancel;
    ASSERT_TRUE(parse_base_http_behaviour(to_string(behaviour), parsed)) << to_string(behaviour);
    EXPECT_EQ(parsed, behaviour);
    EXPECT_NE(starlette_versions(behaviour), "?");
  }
  EXPECT_EQ(base_http_behaviour_for_starlette("0.38.2"), BaseHttpBehaviour::fixed);
  EXPECT_EQ(base_http_behaviour_for_starlette("0.38.3"), BaseHttpBehaviour::no_listener);
  EXPECT_EQ(base_http_behaviour_for_starlette("0.38.4"), BaseHttpBehaviour::no_listener);
  EXPECT_EQ(base_http_behaviour_for_starlette("0.38.5"), BaseHttpBehaviour::dispatch_background);
  EXPECT_EQ(base_http_behaviour_for_starlette("0.45.3"), BaseHttpBehaviour::dispatch_background);
  EXPECT_EQ(base_http_behaviour_for_starlette("0.46.0"), BaseHttpBehaviour::reraise);
  EXPECT_EQ(base_http_behaviour_for_starlette("0.46.1"), BaseHttpBehaviour::reraise);
  EXPECT_EQ(base_http_behaviour_for_starlette("0.46.2"), BaseHttpBehaviour::reraise_once);
  EXPECT_EQ(base_http_behaviour_for_starlette("0.47.3"), BaseHttpBehaviour::reraise_once);
  EXPECT_EQ(base_http_behaviour_for_starlette("1.0"), BaseHttpBehaviour::reraise_once);
  // Every recent behaviour keeps what 0.29.0 fixed.
  for (BaseHttpBehaviour behaviour : kRecentBehaviours) {
    const BaseHttpTraits t = traits(behaviour);
    EXPECT_FALSE(t.cancel_downstream);
    EXPECT_TRUE(t.stop_at_final_body && t.skip_empty_chunks && t.cache_request_body);
  }
}

class BaseHttpRecent : public BaseHttpEra {};

// Upstream: test_run_background_tasks_even_if_client_disconnects as #2620
// rewrote it: receive raises "Should not be called!". The endpoint neither
// reads the body nor streams, so only call_next's StreamingResponse, through
// its disconnect listener, ever calls receive (up to 0.38.2).
TEST_P(BaseHttpRecent, CallNextResponseNeverReceivesFrom0383) {
  const bool listens = !traits(behaviour()).no_response_listener;
  bool background_ran = false;
  const App app = starlette_app(
      {{.path = "/", .endpoint = Endpoint([&](Request& request) {
                       return PlainTextResponse(
                           "Hello", {.background = BackgroundTask("sleep_and_set",
                                                                  [&] {
                                                                    sim::sleep(100 * ms);
                                                                    background_ran = true;
                                                                  },
                                                                  {.request = request.scope().request_id})});
                     })}},
      {base_http(passthrough_dispatch(), options())});
  Scope scope = http_scope();
  int receive_calls = 0;
  const Receive receive = [&]() -> Message {
    ++receive_calls;
    throw std::runtime_error("NotImplementedError: Should not be called!");
  };
  std::vector<std::string> bodies;
  const Send send = [&](Message message) {
    if (message.type == MessageType::http_response_body) bodies.push_back(message.body);
  };
  const sim::RunResult result = run_app_call(app, scope, receive, send);
  EXPECT_EQ(receive_calls > 0, listens);
  EXPECT_EQ(result.ok(), !listens) << describe(result);
  if (!listens) {
    EXPECT_TRUE(background_ran);
    EXPECT_EQ(bodies, (std::vector<std::string>{"Hello", ""}));
  }
}

// The receive-order finding of random-stack: with the body read by the
// endpoint and a streaming endpoint response, 0.29.0 has two receive()
// calls waiting at once (the downstream StreamingResponse's listener through
// receive_or_disconnect, and call_next's response's listener); from 0.38.3
// only the downstream one.
TEST_P(BaseHttpRecent, AtMostOneReceiveWaitsFrom0383) {
  const bool listens = !traits(behaviour()).no_response_listener;
  const App app = starlette_app({{.path = "/", .endpoint = Endpoint([](Request&) {
                                                 auto left = std::make_shared<int>(3);
                                                 return StreamingResponse([left]() -> std::optional<Bytes> {
                                                   if (*left == 0) return std::nullopt;
                                                   sim::sleep(1 * ms);
                                                   return std::to_string((*left)--);
                                                 });
                                               })}},
                                {base_http(passthrough_dispatch(), options())});
  Scope scope = http_scope();
  bool request_sent = false;
  int waiting = 0;
  int most_waiting = 0;
  sim::Event response_complete("response_complete");
  const Receive receive = [&] {
    if (!request_sent) {
      request_sent = true;
      return Message::request("", false);
    }
    most_waiting = std::max(most_waiting, ++waiting);
    response_complete.wait();
    --waiting;
    return Message::disconnect();
  };
  const Send send = [&](Message message) {
    if (message.type == MessageType::http_response_body && !message.more_body) response_complete.set();
  };
  const sim::RunResult result = run_app_call(app, scope, receive, send);
  ASSERT_TRUE(result.ok()) << describe(result);
  EXPECT_EQ(most_waiting, listens ? 2 : 1);
}

// Upstream: test_multiple_middlewares_stacked_client_disconnected as #2688
// extended it: dispatch sets a background task on call_next's response.
// 0.38.3 and 0.38.4 never ran it.
TEST_P(BaseHttpRecent, BackgroundSetInDispatchRunsExceptIn0383To0384) {
  const bool dropped = traits(behaviour()).drop_dispatch_background;
  const DispatchFunction with_background = [](Request& request, const CallNext& call_next) {
    Response response = call_next(request);
    EXPECT_TRUE(response.background().empty());
    response.background() = BackgroundTask("background", [] {}, {.request = 1});
    return response;
  };
  const App app =
      starlette_app({{.path = "/", .endpoint = Endpoint([](Request&) { return PlainTextResponse("ok"); })}},
                    {base_http(with_background, options())});
  const ClientSession session = with_test_client(app, [](TestClient& client) { client.get("/"); });
  EXPECT_EQ(session.outcome(200), Outcome::passes) << describe(session.result);
  EXPECT_TRUE(observed(session.observations, ObservationKind::background_scheduled));
  EXPECT_EQ(observed(session.observations, ObservationKind::background_finished), !dropped)
      << observations_text(session.observations);
}

// Upstream: test_run_background_tasks_raise_exceptions (#2812, for #2625).
// Up to 0.45.x the background task's ValueError is swallowed once the
// response was sent; from 0.46.0 it surfaces (the TestClient raises it).
TEST_P(BaseHttpRecent, BackgroundTaskErrorSurfacesFrom0460) {
  const bool surfaces = traits(behaviour()).raise_app_exc_after_group;
  const App app = starlette_app(
      {{.path = "/", .endpoint = Endpoint([](Request& request) {
                       return PlainTextResponse(
                           "", {.background = BackgroundTask("sleep_and_set",
                                                             [] {
                                                               sim::sleep(100 * ms);
                                                               throw std::runtime_error("ValueError: TEST");
                                                             },
                                                             {.request = request.scope().request_id})});
                     })}},
      {base_http(passthrough_dispatch(), options())});
  const ClientSession session = with_test_client(app, [](TestClient& client) { client.get("/"); });
  ASSERT_TRUE(session.result.ok()) << describe(session.result);
  EXPECT_EQ(session.outcome(200), surfaces ? Outcome::raises : Outcome::passes)
      << observations_text(session.observations);
  if (surfaces) {
    EXPECT_NE(session.app_error().find("ValueError: TEST"), std::string::npos) << session.app_error();
  }
  EXPECT_TRUE(observed(session.observations, ObservationKind::error_raised));
}

// The same behind a response dispatch returns instead of call_next's: the
// downstream body send is swallowed once that response was sent, then its
// background task raises; up to 0.45.x nobody hears of it.
TEST_P(BaseHttpRecent, ErrorBehindOwnResponseSurfacesFrom0460) {
  const bool surfaces = traits(behaviour()).raise_app_exc_after_group;
  const DispatchFunction own_response = [](Request& request, const CallNext& call_next) -> Response {
    (void)call_next(request);
    return PlainTextResponse("from dispatch");
  };
  const App app = starlette_app(
      {{.path = "/", .endpoint = Endpoint([](Request&) {
                       return PlainTextResponse(
                           "dropped", {.background = BackgroundTask("raises", [] {
                                         throw std::runtime_error("AppError in the background task");
                                       })});
                     })}},
      {base_http(own_response, options())});
  const ClientSession session = with_test_client(app, [](TestClient& client) { client.get("/"); });
  ASSERT_TRUE(session.result.ok()) << describe(session.result);
  ASSERT_FALSE(session.records.empty());
  EXPECT_EQ(session.records.back().body, "from dispatch");
  EXPECT_EQ(session.outcome(200), surfaces ? Outcome::raises : Outcome::passes)
      << observations_text(session.observations);
}

// Upstream: test_exception_can_be_caught (#2812's test, passing from
// 0.46.2 by #2911). dispatch catches the error call_next raised and answers
// 400; 0.46.0 and 0.46.1 raise it again after that response.
TEST_P(BaseHttpRecent, ExceptionCaughtInDispatchIsNotRaisedAgainExceptIn0460To0461) {
  const bool raised_again = behaviour() == BaseHttpBehaviour::reraise;
  const DispatchFunction catches_error = [](Request& request, const CallNext& call_next) -> Response {
    try {
      return call_next(request);
    } catch (const std::runtime_error& error) {
      return PlainTextResponse(error.what(), {.status_code = 400});
    }
  };
  const App app = starlette_app(
      {{.path = "/", .endpoint = Endpoint([](Request&) -> Response { throw std::runtime_error("TEST"); })}},
      {base_http(catches_error, options())});
  const ClientSession session = with_test_client(app, [](TestClient& client) { client.get("/"); });
  ASSERT_TRUE(session.result.ok()) << describe(session.result);
  ASSERT_FALSE(session.records.empty());
  EXPECT_EQ(session.records.back().body, "TEST");
  EXPECT_EQ(session.outcome(400), raised_again ? Outcome::raises : Outcome::passes)
      << observations_text(session.observations);
}

INSTANTIATE_TEST_SUITE_P(Recent, BaseHttpRecent, ::testing::ValuesIn(kRecentBehaviours), behaviour_name);

}  // namespace
}  // namespace asgisim::core::testing
