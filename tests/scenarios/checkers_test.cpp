// The invariant checkers: hand-written observation sequences (each checker
// passing and failing) and small real stacks run by core::run_app.
#include "asgisim/scenarios/checkers.hpp"

#include <gtest/gtest.h>

#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "asgisim/core/client.hpp"
#include "asgisim/core/endpoints.hpp"
#include "asgisim/core/middleware/base_http.hpp"
#include "asgisim/core/middleware/errors.hpp"
#include "asgisim/core/middleware/pure_asgi.hpp"
#include "asgisim/core/request.hpp"
#include "asgisim/core/response.hpp"
#include "asgisim/core/threadpool.hpp"
#include "asgisim/core/validator.hpp"
#include "asgisim/sim/threading.hpp"

namespace asgisim::scenarios {
namespace {

using core::Message;
using core::Observation;
using core::ObservationKind;
using K = ObservationKind;
using sim::kMillisecond;
using sim::kSecond;

// ---- hand-written sequences -----------------------------------------------------

class Sequence {
 public:
  explicit Sequence(std::vector<std::string> ids, CheckerParams params = {}) {
    install_checkers(observer_, ids, params);
  }
  Sequence& at(sim::Nanoseconds time_ns) {
    time_ns_ = time_ns;
    return *this;
  }
  Sequence& add(K kind, core::RequestId request, std::string layer = "x", std::string detail = {},
                std::uint64_t value = 0) {
    observer_.observe(Observation{.kind = kind,
                                  .time_ns = time_ns_,
                                  .request = request,
                                  .layer = std::move(layer),
                                  .message = std::nullopt,
                                  .detail = std::move(detail),
                                  .value = value});
    return *this;
  }
  // What a BackgroundTask reports (layer "BackgroundTask"; detail: the task's name).
  Sequence& background(K kind, core::RequestId request, std::string name) {
    observer_.observe(Observation{.kind = kind,
                                  .time_ns = time_ns_,
                                  .request = request,
                                  .layer = "BackgroundTask",
                                  .message = std::nullopt,
                                  .detail = std::move(name),
                                  .value = 0,
                                  .reporter = core::Reporter::background_task});
    return *this;
  }
  Sequence& sent(core::RequestId request, std::string boundary, Message message) {
    observer_.observe(Observation{.kind = K::sent,
                                  .time_ns = time_ns_,
                                  .request = request,
                                  .layer = std::move(boundary),
                                  .message = std::move(message),
                                  .detail = "http GET",
                                  .value = 1});
    return *this;
  }
  // The violations after the run ended.
  const std::vector<core::Violation>& finish() {
    observer_.finish();
    return observer_.violations();
  }

 private:
  core::Observer observer_;
  sim::Nanoseconds time_ns_ = 0;
};

std::string only(const std::vector<core::Violation>& violations) {
  if (violations.size() != 1) return "count " + std::to_string(violations.size());
  return violations[0].invariant + " @" + violations[0].layer;
}

TEST(ResponseComplete, PassesWhenTheClientGotItOrLeft) {
  Sequence s({"response-complete"});
  s.add(K::request_started, 1, "uvicorn", "GET /").add(K::client_got_complete, 1, "client");
  s.add(K::request_started, 2, "uvicorn", "GET /").add(K::client_disconnected, 2, "client");
  s.add(K::request_started, 3, "uvicorn", "GET /")
      .add(K::client_got_start, 3, "client", {}, 200)
      .add(K::app_raised, 3, "uvicorn", "boom");
  EXPECT_TRUE(s.finish().empty());
}

TEST(ResponseComplete, BlamesTheLayerThatKeptTheFinalBody) {
  Sequence s({"response-complete"});
  s.add(K::request_started, 1, "uvicorn", "GET /");
  s.sent(1, "server->Gzip", Message::start(200));
  s.sent(1, "Gzip->endpoint", Message::start(200));
  s.sent(1, "Gzip->endpoint", Message::body_chunk("hi", false));
  s.add(K::client_got_start, 1, "client", {}, 200);
  const auto& v = s.finish();
  ASSERT_EQ(only(v), "response-complete @Gzip");
  EXPECT_NE(v[0].detail.find("request 1 (GET /)"), std::string::npos) << v[0].detail;
  EXPECT_NE(v[0].detail.find("never passed the final body on"), std::string::npos) << v[0].detail;
}

TEST(BackgroundComplete, PassesWhenEveryTaskFinished) {
  Sequence s({"background-complete"});
  s.background(K::background_scheduled, 1, "audit")
      .background(K::background_started, 1, "audit")
      .background(K::background_finished, 1, "audit");
  s.background(K::background_scheduled, 2, "mail")
      .background(K::background_started, 2, "mail")
      .background(K::error_raised, 2, "mail: ValueError");  // an error is no-swallowed-error's
  EXPECT_TRUE(s.finish().empty());
}

TEST(BackgroundComplete, ReportsCancelledAndNeverRun) {
  Sequence s({"background-complete"});
  s.add(K::request_started, 1, "uvicorn", "GET /");
  s.background(K::background_scheduled, 1, "audit").background(K::background_started, 1, "audit");
  s.at(5 * kMillisecond).background(K::background_cancelled, 1, "audit");
  s.background(K::background_scheduled, 2, "mail");
  const auto& v = s.finish();
  ASSERT_EQ(v.size(), 2u);
  EXPECT_EQ(v[0].invariant, "background-complete");
  EXPECT_NE(v[0].detail.find("'audit' of request 1 (GET /) was cancelled"), std::string::npos) << v[0].detail;
  EXPECT_EQ(v[0].time_ns, 5 * kMillisecond);
  EXPECT_NE(v[1].detail.find("'mail' of request 2 was scheduled but never started"), std::string::npos)
      << v[1].detail;
}

TEST(CleanupRuns, ACancellationIsAllowedOnlyAfterTheClientLeft) {
  Sequence passing({"cleanup-runs"});
  passing.add(K::context_entered, 1, "Db", "session").add(K::context_exited, 1, "Db", "session", 0);
  passing.add(K::context_entered, 2, "Db", "session")
      .add(K::client_disconnected, 2, "client")
      .add(K::context_exited, 2, "Db", "session", 1);
  EXPECT_TRUE(passing.finish().empty());

  Sequence failing({"cleanup-runs"});
  failing.add(K::context_entered, 1, "Db", "session")
      .add(K::client_got_complete, 1, "client")
      .add(K::context_exited, 1, "Db", "session", 1);
  const auto& v = failing.finish();
  ASSERT_EQ(only(v), "cleanup-runs @Db");
  EXPECT_NE(v[0].detail.find("saw a cancellation although the client did not leave"), std::string::npos);
}

TEST(CleanupRuns, AnExitCutShortOrNeverRunFails) {
  Sequence s({"cleanup-runs"});
  s.add(K::context_entered, 1, "Db", "session")
      .add(K::client_disconnected, 1, "client")
      .add(K::context_exit_cancelled, 1, "Db", "session", 1);
  s.add(K::context_entered, 2, "Lock", "lock");
  const auto& v = s.finish();
  ASSERT_EQ(v.size(), 2u);
  EXPECT_NE(v[0].detail.find("was cut short by a cancellation"), std::string::npos) << v[0].detail;
  EXPECT_EQ(v[1].layer, "Lock");
  EXPECT_NE(v[1].detail.find("its exit never ran to the end"), std::string::npos) << v[1].detail;
}

TEST(ResponseNotDelayed, CompletionBeforeOrAtTheStartOfBackgroundWorkPasses) {
  Sequence s({"response-not-delayed"});
  s.background(K::background_started, 1, "audit").add(K::response_completed, 1, "uvicorn");
  s.at(10 * kMillisecond).background(K::background_finished, 1, "audit");
  // Work that takes no time may finish first without anything waiting for it.
  s.background(K::background_started, 2, "audit")
      .background(K::background_finished, 2, "audit")
      .add(K::response_completed, 2, "uvicorn");
  EXPECT_TRUE(s.finish().empty());
}

TEST(ResponseNotDelayed, CompletionThatWaitedForBackgroundWorkFails) {
  Sequence s({"response-not-delayed"});
  s.add(K::request_started, 1, "uvicorn", "GET /");
  s.sent(1, "BaseHTTPMiddleware->endpoint", Message::body_chunk("hi", false));
  s.background(K::background_started, 1, "audit");
  s.at(10 * kMillisecond).background(K::background_finished, 1, "audit");
  s.sent(1, "server->BaseHTTPMiddleware", Message::body_chunk("", false));
  s.add(K::response_completed, 1, "uvicorn");
  const auto& v = s.finish();
  ASSERT_EQ(only(v), "response-not-delayed @BaseHTTPMiddleware");
  EXPECT_NE(v[0].detail.find("completed at 10000000 ns, after its background work"), std::string::npos)
      << v[0].detail;
}

TEST(NoSwallowedError, AnErrorMustSurface) {
  Sequence passing({"no-swallowed-error"});
  passing.add(K::error_raised, 1, "endpoint", "ValueError").add(K::app_raised, 1, "uvicorn", "ValueError");
  passing.add(K::error_raised, 2, "endpoint", "ValueError").add(K::client_got_start, 2, "client", {}, 500);
  passing.add(K::error_raised, 3, "endpoint", "HTTPException(404)")
      .add(K::client_got_start, 3, "client", {}, 404);
  EXPECT_TRUE(passing.finish().empty());

  Sequence failing({"no-swallowed-error"});
  failing.sent(1, "server->Silencer", Message::start(200));
  failing.sent(1, "Silencer->endpoint", Message::start(200));
  failing.add(K::error_raised, 1, "endpoint", "ValueError: boom");
  failing.add(K::client_got_start, 1, "client", {}, 200).add(K::client_got_complete, 1, "client");
  const auto& v = failing.finish();
  ASSERT_EQ(only(v), "no-swallowed-error @Silencer");
  EXPECT_NE(v[0].detail.find("ValueError: boom"), std::string::npos) << v[0].detail;
}

TEST(RequestLatency, JudgesFromTheRequestStartToItsCompletion) {
  Sequence s({"request-latency"}, {.latency_budget_ns = kSecond});
  s.add(K::request_started, 1, "uvicorn", "GET /fast").add(K::request_started, 2, "uvicorn", "GET /slow");
  s.add(K::request_started, 3, "uvicorn", "GET /gone").add(K::request_started, 4, "uvicorn", "GET /stuck");
  s.at(500 * kMillisecond).add(K::client_got_complete, 1, "client").add(K::client_disconnected, 3, "client");
  s.at(2 * kSecond).add(K::client_got_complete, 2, "client");
  s.at(3 * kSecond).background(K::background_finished, 9, "x");
  const auto& v = s.finish();
  ASSERT_EQ(v.size(), 2u);
  EXPECT_NE(v[0].detail.find("request 2 (GET /slow): completed after 2000 ms"), std::string::npos)
      << v[0].detail;
  EXPECT_NE(v[1].detail.find("request 4 (GET /stuck): still incomplete after 3000 ms"), std::string::npos)
      << v[1].detail;
}

TEST(Bounds, ThreadsAndMemoryReportTheFirstExcessAndThePeak) {
  Sequence s({"threads-bounded", "memory-budget"}, {.threads_bound = 3, .memory_budget_bytes = 1'000});
  for (std::uint64_t n = 1; n <= 5; ++n) {
    s.at(static_cast<sim::Nanoseconds>(n)).add(K::thread_started, 0, "executor", {}, n);
    s.add(K::memory_retained, 0, "executor", {}, n * 300);
  }
  const auto& v = s.finish();
  ASSERT_EQ(v.size(), 2u);
  EXPECT_EQ(v[0].invariant, "threads-bounded");
  EXPECT_EQ(v[0].time_ns, 4);
  EXPECT_NE(v[0].detail.find("bound of 3 threads at 4 ns and peaked at 5 threads"), std::string::npos)
      << v[0].detail;
  EXPECT_EQ(v[1].invariant, "memory-budget");
  EXPECT_NE(v[1].detail.find("peaked at 1500 bytes"), std::string::npos) << v[1].detail;

  Sequence within({"threads-bounded"}, {.threads_bound = 5});
  for (std::uint64_t n = 1; n <= 5; ++n) within.add(K::thread_started, 0, "executor", {}, n);
  EXPECT_TRUE(within.finish().empty());
}

TEST(Protocol, OneSharedValidatorReportsOnlyTheIdsAskedFor) {
  Sequence asked({"start-once"});
  asked.sent(1, "server->endpoint", Message::start(200)).sent(1, "server->endpoint", Message::start(200));
  EXPECT_EQ(only(asked.finish()), "start-once @endpoint");

  Sequence not_asked({"content-length"});
  not_asked.sent(1, "server->endpoint", Message::start(200)).sent(1, "server->endpoint", Message::start(200));
  EXPECT_TRUE(not_asked.finish().empty());
}

TEST(Install, RejectsUnknownIdsAndMissingParameters) {
  core::Observer observer;
  EXPECT_THROW(install_checkers(observer, {"no-such-invariant"}, {}), std::invalid_argument);
  EXPECT_THROW(install_checkers(observer, {"request-latency"}, {}), std::invalid_argument);
  EXPECT_THROW(install_checkers(observer, {"memory-budget"}, {}), std::invalid_argument);
  EXPECT_NO_THROW(install_checkers(observer, {"no-deadlock", "liveness", "deterministic"}, {}));
}

TEST(Table, EveryIdHasADescriptionInDesignOrder) {
  const auto& ids = invariant_ids();
  ASSERT_EQ(ids.size(), 18u);
  EXPECT_EQ(ids.front(), "start-once");
  EXPECT_EQ(ids.back(), "deterministic");
  for (const auto id : ids) EXPECT_FALSE(invariant_description(id).empty()) << id;
  EXPECT_TRUE(invariant_description("nope").empty());
}

// ---- real stacks ------------------------------------------------------------------

// Runs `make_app(observer)` under checkers `ids` with `requests`; returns the violations.
std::vector<core::Violation> run_stack(const std::vector<std::string>& ids, CheckerParams params,
                                       const std::function<core::App(core::Observer&)>& make_app,
                                       std::vector<core::RequestSpec> requests = {core::RequestSpec{}}) {
  core::Observer observer;
  install_checkers(observer, ids, params);
  core::App app = make_app(observer);
  const core::AppRun run = core::run_app(std::move(app), std::move(requests),
                                         {.client = {.disconnect_one_in = 0}, .observer = &observer});
  EXPECT_TRUE(run.result.ok()) << run.result.report;
  return run.violations;
}

core::NamedMiddleware base_http(core::BaseHttpBehaviour behaviour, core::Observer& /*observer*/) {
  const core::BaseHttpOptions options{.behaviour = behaviour};
  return {"BaseHTTPMiddleware", [options](core::App app) {
            return core::base_http_middleware(std::move(app), core::passthrough_dispatch(), options);
          }};
}

core::App endpoint_with_background(core::Observer& observer, sim::Nanoseconds work_ns) {
  return core::request_response([&observer, work_ns](core::Request& request) {
    return core::PlainTextResponse(
        "ok", {.background = core::BackgroundTask("audit", [work_ns] { sim::sleep(work_ns); },
                                                  {.request = request.scope().request_id})});
  });
}

TEST(RealStack, BackgroundCompleteCatchesTheCancelBehaviour) {
  for (const auto& [behaviour, fails] :
       {std::pair{core::BaseHttpBehaviour::cancel, true}, std::pair{core::BaseHttpBehaviour::fixed, false}}) {
    const auto v = run_stack({"background-complete", "response-complete"}, {}, [&](core::Observer& observer) {
      return core::validated_chain({base_http(behaviour, observer)},
                                   endpoint_with_background(observer, 10 * kMillisecond), observer);
    });
    EXPECT_EQ(only(v), fails ? "background-complete @BackgroundTask" : "count 0")
        << core::to_string(behaviour);
  }
}

TEST(RealStack, ResponseNotDelayedCatchesNoBreak) {
  for (const auto& [behaviour, fails] : {std::pair{core::BaseHttpBehaviour::no_break, true},
                                         std::pair{core::BaseHttpBehaviour::cached_body, true},
                                         std::pair{core::BaseHttpBehaviour::fixed, false}}) {
    const auto v = run_stack({"response-not-delayed"}, {}, [&](core::Observer& observer) {
      return core::validated_chain({base_http(behaviour, observer)},
                                   endpoint_with_background(observer, 10 * kMillisecond), observer);
    });
    EXPECT_EQ(only(v), fails ? "response-not-delayed @BaseHTTPMiddleware" : "count 0")
        << core::to_string(behaviour);
  }
}

TEST(RealStack, CleanupRunsCatchesAnExitCutShortBelowBaseHttp) {
  for (const auto& [behaviour, fails] :
       {std::pair{core::BaseHttpBehaviour::cancel, true}, std::pair{core::BaseHttpBehaviour::fixed, false}}) {
    const auto v = run_stack({"cleanup-runs"}, {}, [&](core::Observer& observer) {
      core::NamedMiddleware session{"Session", [&observer](core::App app) {
                                      return core::context_manager_middleware(std::move(app),
                                                                              {.name = "Session"});
                                    }};
      return core::validated_chain({base_http(behaviour, observer), session},
                                   endpoint_with_background(observer, 0), observer);
    });
    EXPECT_EQ(only(v), fails ? "cleanup-runs @Session" : "count 0") << core::to_string(behaviour);
  }
}

TEST(RealStack, NoSwallowedErrorCatchesAMiddlewareThatHidesAnError) {
  const auto raising = [](core::Observer& /*observer*/) {
    core::Endpoint endpoint = [](core::Request&) -> core::Response { throw std::runtime_error("boom"); };
    return core::request_response(std::move(endpoint));
  };
  // Starlette's ServerErrorMiddleware answers 500 and re-raises: surfaced.
  EXPECT_TRUE(run_stack({"no-swallowed-error"}, {}, [&](core::Observer& observer) {
                return core::validated_chain(
                    {{"ServerErrorMiddleware",
                      [](core::App app) { return core::server_error_middleware(std::move(app)); }}},
                    raising(observer), observer);
              }).empty());
  // A user middleware that answers 200 whatever happened: silence.
  const auto v = run_stack({"no-swallowed-error"}, {}, [&](core::Observer& observer) {
    core::NamedMiddleware silencer{"Silencer", [](core::App app) -> core::App {
                                     return [app](core::Scope& scope, const core::Receive& receive,
                                                  const core::Send& send) {
                                       try {
                                         app(scope, receive, send);
                                       } catch (const std::runtime_error&) {
                                         send(Message::start(200));
                                         send(Message::body_chunk("fine", false));
                                       }
                                     };
                                   }};
    return core::validated_chain({silencer}, raising(observer), observer);
  });
  EXPECT_EQ(only(v), "no-swallowed-error @Silencer");
}

TEST(RealStack, ResponseCompleteCatchesAMiddlewareThatDropsTheFinalBody) {
  const auto make = [](bool drop) {
    return [drop](core::Observer& observer) {
      core::NamedMiddleware dropper{"Dropper", [drop](core::App app) {
                                      return core::pure_asgi_middleware(
                                          std::move(app),
                                          {.on_send = [drop](Message m) -> std::optional<Message> {
                                            if (drop && m.type == core::MessageType::http_response_body)
                                              return std::nullopt;
                                            return m;
                                          }});
                                    }};
      return core::validated_chain({dropper}, endpoint_with_background(observer, 0), observer);
    };
  };
  EXPECT_TRUE(run_stack({"response-complete"}, {}, make(false)).empty());
  EXPECT_EQ(only(run_stack({"response-complete"}, {}, make(true))), "response-complete @Dropper");
}

TEST(RealStack, RequestLatencyAgainstTheBudget) {
  const auto sleeping = [](sim::Nanoseconds ns) {
    return [ns](core::Observer&) {
      return core::request_response([ns](core::Request&) {
        sim::sleep(ns);
        return core::PlainTextResponse("ok");
      });
    };
  };
  const CheckerParams params{.latency_budget_ns = kSecond};
  EXPECT_TRUE(run_stack({"request-latency"}, params, sleeping(10 * kMillisecond)).empty());
  EXPECT_EQ(only(run_stack({"request-latency"}, params, sleeping(2 * kSecond))), "request-latency @app");
}

TEST(RealStack, ThreadsAndMemoryOfConcurrentSyncCalls) {
  const auto run_calls = [](core::ThreadPoolRunner& pool, core::Observer& observer) {
    sim::Simulation sim({.strategy = sim::Strategy::fifo});
    core::observe_run(sim, observer);  // no server here: the pool reports to the run's observer
    for (int i = 0; i < 10; ++i) {
      sim.spawn("caller", [&pool] { pool.run_sync([] { sim::thread_sleep(10 * kMillisecond); }); });
    }
    EXPECT_TRUE(sim.run().ok());
    observer.finish();
    return observer.violations();
  };
  const CheckerParams params{.threads_bound = 4, .memory_budget_bytes = 4'000};
  {
    core::Observer observer;
    install_checkers(observer, {"threads-bounded", "memory-budget"}, params);
    // Python 3.7's default executor on 4 CPUs: up to 20 threads, one per concurrent call.
    core::ThreadPoolExecutor executor(
        {.python = core::PythonVersion::py37, .cpu_count = 4, .retained_bytes_per_thread = 1'000});
    const auto v = run_calls(executor, observer);
    ASSERT_EQ(v.size(), 2u);
    EXPECT_EQ(v[0].invariant, "threads-bounded");
    EXPECT_NE(v[0].detail.find("peaked at 10 threads"), std::string::npos) << v[0].detail;
    EXPECT_EQ(v[1].invariant, "memory-budget");
  }
  {
    core::Observer observer;
    install_checkers(observer, {"threads-bounded", "memory-budget"}, params);
    core::AnyioToThread limited({.total_tokens = 4, .retained_bytes_per_thread = 1'000});
    EXPECT_TRUE(run_calls(limited, observer).empty());
  }
}

}  // namespace
}  // namespace asgisim::scenarios
