// BaseHTTPMiddleware (base_http.hpp): the model's own claims, from DESIGN.md
// (catalogue entries 1, 2, 3 and 5) rather than from an upstream test, under
// every behaviour and, where the outcome depends on the schedule, under
// random and PCT schedules too.
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "asgisim/core/middleware/pure_asgi.hpp"
#include "asgisim/sim/event.hpp"
#include "base_http_test_support.hpp"

namespace asgisim::core::testing {
namespace {

constexpr sim::Nanoseconds ms = sim::kMillisecond;

class BaseHttpModel : public BaseHttpEra {};

bool observed(const std::vector<Observation>& log, ObservationKind kind, std::uint64_t value = 0) {
  for (const Observation& observation : log) {
    if (observation.kind == kind && observation.value == value) return true;
  }
  return false;
}

// Starlette app: passthrough BaseHTTPMiddleware (then `extra` middleware)
// around an endpoint answering "Hello" with a background task that runs `work`.
App hello_with_background(std::function<void()> work, BaseHttpOptions options,
                          std::vector<std::function<App(App)>> extra = {}) {
  std::vector<std::function<App(App)>> middleware{base_http(passthrough_dispatch(), options)};
  for (auto& layer : extra) middleware.push_back(std::move(layer));
  return starlette_app({{.path = "/", .endpoint = Endpoint([work = std::move(work)](Request& request) {
                                        return PlainTextResponse(
                                            "Hello",
                                            {.background = BackgroundTask(
                                                 "work", work, {.request = request.scope().request_id})});
                                      })}},
                       std::move(middleware));
}

// Catalogue entry 1 (#1438): the client leaves as soon as it sees the first
// body bytes, before the response is complete. cancel_drain and cancel kill
// the background task; from 0.21 it runs to the end.
TEST_P(BaseHttpModel, ClientLeavingEarlyKillsBackgroundTaskBefore021) {
  const bool killed = traits(behaviour()).cancel_downstream;
  Observer observer;
  const App app = hello_with_background([] { sim::sleep(100 * ms); }, options());
  bool request_sent = false;
  sim::Event client_left("client_left");
  const Receive receive = [&] {
    if (!request_sent) {
      request_sent = true;
      return Message::request("", false);
    }
    client_left.wait();
    return Message::disconnect();
  };
  const Send send = [&](Message message) {
    if (message.type == MessageType::http_response_body && !message.body.empty()) client_left.set();
  };
  Scope scope = http_scope();
  const sim::RunResult result = run_app_call(app, scope, receive, send, {}, &observer);
  ASSERT_TRUE(result.ok()) << describe(result);
  // Killed in its sleep in both cancelling eras: under `cancel` the task
  // starts before the cancellation lands, as the real 0.20.4 does with a
  // plain response behind one pass-through layer (the differential test,
  // docs/fidelity.md: a one-checkpoint task even finishes there).
  EXPECT_EQ(observed(observer.log(), ObservationKind::background_finished), !killed)
      << observations_text(observer.log());
  EXPECT_EQ(observed(observer.log(), ObservationKind::background_cancelled), killed);
}

// Catalogue entry 3 (#1940 in 0.23.1, fixed by #2194 in 0.29): the closing
// more_body=false message, and so the response's completion as the client
// sees it, waits for the background task under no_break and cached_body
// (and under cancel_drain, which drains the downstream app by design).
TEST_P(BaseHttpModel, ResponseCompletionWaitsForBackgroundWork) {
  const BaseHttpTraits t = traits(behaviour());
  const bool delayed = !t.stop_at_final_body;
  const App app = hello_with_background([] { sim::sleep(100 * ms); }, options());
  const ClientSession session = with_test_client(app, [](TestClient& client) {
    client.get("/");
    client.get("/");  // the next keep-alive request starts after the first completed
  });
  ASSERT_TRUE(session.result.ok()) << describe(session.result);
  ASSERT_EQ(session.records.size(), 2U);
  const ClientRecord& first = session.records[0];
  ASSERT_TRUE(first.complete && first.completed_ns.has_value());
  EXPECT_EQ(first.body, "Hello");
  EXPECT_EQ(*first.completed_ns >= 100 * ms, delayed) << "completed at " << *first.completed_ns;
  EXPECT_EQ(session.records[1].began_ns >= 100 * ms, delayed);
  EXPECT_EQ(session.outcome(200, session.records[1].body == "Hello"), Outcome::passes);
}

// Catalogue entry 5: dispatch returns another response without reading the
// streaming one call_next gave it. The downstream app must never block
// forever in send(): before 0.21 it is cancelled (its background task never
// starts), from 0.21 its sends are swallowed and it finishes normally.
TEST_P(BaseHttpModel, OrphanedBodyIteratorNeverBlocksTheDownstreamApp) {
  const bool cancelled = traits(behaviour()).cancel_downstream;
  const DispatchFunction discarding = [](Request& request, const CallNext& call_next) {
    call_next(request);
    return PlainTextResponse("Custom");
  };
  const App app = starlette_app(
      {{.path = "/", .endpoint = Endpoint([](Request& request) {
                       auto chunks = std::make_shared<std::vector<Bytes>>(std::vector<Bytes>{"c", "b", "a"});
                       return StreamingResponse(
                           [chunks]() -> std::optional<Bytes> {
                             if (chunks->empty()) return std::nullopt;
                             Bytes chunk = chunks->back();
                             chunks->pop_back();
                             return chunk;
                           },
                           {.background = BackgroundTask("work", [] { sim::sleep(10 * ms); },
                                                         {.request = request.scope().request_id})});
                     })}},
      {base_http(discarding, options())});
  const ClientSession session = with_test_client(app, [](TestClient& client) { client.get("/"); });
  ASSERT_TRUE(session.result.ok()) << describe(session.result);
  EXPECT_EQ(session.outcome(200, session.records.back().body == "Custom"), Outcome::passes);
  EXPECT_EQ(observed(session.observations, ObservationKind::background_finished), !cancelled)
      << observations_text(session.observations);
  EXPECT_EQ(observed(session.observations, ObservationKind::background_started), !cancelled);
}

// Catalogue entry 2, the sync variant: a `with` whose __exit__ cannot await
// always runs to the end, but under `cancel` it sees the cancellation
// (context_exited with value 1) although the client stayed to the end.
TEST_P(BaseHttpModel, SyncContextManagerExitSeesCancellationOnlyUnderCancel) {
  const bool sees_cancel = behaviour() == BaseHttpBehaviour::cancel;
  const auto sync_context = [](App app) {
    return context_manager_middleware(std::move(app), {.exit = ContextExit::sync});
  };
  const App app = hello_with_background([] { sim::sleep(100 * ms); }, options(), {sync_context});
  const ClientSession session = with_test_client(app, [](TestClient& client) { client.get("/"); });
  ASSERT_TRUE(session.result.ok()) << describe(session.result);
  EXPECT_TRUE(observed(session.observations, ObservationKind::context_exited, sees_cancel ? 1 : 0))
      << observations_text(session.observations);
  EXPECT_FALSE(observed(session.observations, ObservationKind::context_exit_cancelled));
}

INSTANTIATE_TEST_SUITE_P(Eras, BaseHttpModel, ::testing::ValuesIn(kAllBehaviours), behaviour_name);

// Catalogue entry 1 across schedules: a background task that only yields
// once (no sleep) is killed by `cancel` on some schedules and not others; it
// is never killed from 0.21 on, and never under cancel_drain when the client
// stays to the end.
TEST(BaseHttpSchedules, CancelKillsBackgroundWorkOnSomeSchedulesOthersNever) {
  for (BaseHttpBehaviour behaviour : kAllBehaviours) {
    std::size_t killed = 0;
    std::size_t runs = 0;
    for (const sim::Strategy strategy : {sim::Strategy::fifo, sim::Strategy::random, sim::Strategy::pct}) {
      for (std::uint64_t seed = 1; seed <= 24; ++seed) {
        Observer observer;
        const App app = hello_with_background([] { sim::checkpoint(); }, {.behaviour = behaviour});
        bool request_sent = false;
        sim::Event response_complete("response_complete");
        const Receive receive = [&] {
          if (!request_sent) {
            request_sent = true;
            return Message::request("", false);
          }
          response_complete.wait();
          return Message::disconnect();
        };
        const Send send = [&](Message message) {
          if (message.type == MessageType::http_response_body && !message.more_body) response_complete.set();
        };
        Scope scope = http_scope();
        const sim::RunResult result =
            run_app_call(app, scope, receive, send, {.seed = seed, .strategy = strategy}, &observer);
        ASSERT_TRUE(result.ok()) << to_string(behaviour) << " seed " << seed << ": " << describe(result);
        ++runs;
        if (!observed(observer.log(), ObservationKind::background_finished)) ++killed;
      }
    }
    SCOPED_TRACE(std::string(to_string(behaviour)) + ": killed in " + std::to_string(killed) + " of " +
                 std::to_string(runs) + " runs");
    if (behaviour == BaseHttpBehaviour::cancel) {
      EXPECT_GT(killed, 0U);
    } else {
      EXPECT_EQ(killed, 0U);
    }
  }
}

}  // namespace
}  // namespace asgisim::core::testing
