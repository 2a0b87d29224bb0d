// The invariant checkers (checkers.hpp) on small real stacks run by
// core::run_app: each checker catches the behaviour it is for.
#include "asgisim/scenarios/checkers.hpp"

#include <gtest/gtest.h>

#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "asgisim/core/async_generator.hpp"
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
using core::ObservationKind;
using K = ObservationKind;
using sim::kMillisecond;
using sim::kSecond;

std::string only(const std::vector<core::Violation>& violations) {
  if (violations.size() != 1) return "count " + std::to_string(violations.size());
  return violations[0].invariant + " @" + violations[0].layer;
}

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

TEST(RealStack, TruncatedNotCompleteCatchesBaseHttpFrom0460) {
  // A stream that raises after one chunk, reporting the error as the
  // catalogue's endpoints do, behind a pass-through BaseHTTPMiddleware.
  const auto make = [](std::optional<core::BaseHttpBehaviour> behaviour) {
    return [behaviour](core::Observer& observer) {
      core::App endpoint = core::request_response([](core::Request& request) {
        auto sent = std::make_shared<bool>(false);
        const core::RequestId id = request.scope().request_id;
        return core::StreamingResponse([sent, id]() -> std::optional<core::Bytes> {
          if (*sent) {
            core::observe({.kind = K::error_raised, .request = id, .layer = "endpoint", .detail = "boom"});
            throw std::runtime_error("boom");
          }
          *sent = true;
          return core::Bytes("row");
        });
      });
      std::vector<core::NamedMiddleware> chain;
      if (behaviour) chain.push_back(base_http(*behaviour, observer));
      return core::validated_chain(std::move(chain), std::move(endpoint), observer);
    };
  };
  EXPECT_EQ(only(run_stack({"truncated-not-complete"}, {}, make(core::BaseHttpBehaviour::reraise))),
            "truncated-not-complete @BaseHTTPMiddleware");
  EXPECT_EQ(only(run_stack({"truncated-not-complete"}, {}, make(core::BaseHttpBehaviour::reraise_once))),
            "truncated-not-complete @BaseHTTPMiddleware");
  EXPECT_TRUE(
      run_stack({"truncated-not-complete"}, {}, make(core::BaseHttpBehaviour::dispatch_background)).empty());
  EXPECT_TRUE(run_stack({"truncated-not-complete"}, {}, make(std::nullopt)).empty());
}

// A StreamingResponse of Starlette 0.42+ over rows from a cursor that the
// iterator's `finally` releases (`log` says when and by whom).
// [doc:iterator-cleanup]
core::App streaming_rows(int rows, std::vector<std::string>& log) {
  return core::request_response([rows, &log](core::Request& request) {
    log.push_back("cursor taken");
    auto next = std::make_shared<int>(0);
    core::BodyIterator body = core::async_generator(
        [next, rows]() -> std::optional<core::Bytes> {  // the body between two yields
          if (*next == rows) return std::nullopt;
          sim::sleep(kMillisecond);  // await cursor.fetchone()
          return "row " + std::to_string((*next)++) + "\n";
        },
        [&log](const core::GeneratorClose& close) {  // finally: release the cursor
          log.push_back("cursor released by " + std::string(core::to_string(close.by)));
        },
        {.name = "rows", .request = request.scope().request_id});
    return core::StreamingResponse(std::move(body), {.media_type = "text/plain"},
                                   core::StreamingBehaviour::by_spec_version);
  });
}
// [/doc:iterator-cleanup]

TEST(RealStack, IteratorClosedCatchesAnIteratorLeftToTheFinalizer) {
  // uvicorn 0.28.0 (ASGI 2.4, a send after the client left raises) under a
  // Starlette that then has no disconnect listener (0.42+).
  const auto run = [](std::optional<core::Disconnect> disconnect, std::vector<std::string>& log) {
    core::Observer observer;
    install_checkers(observer, {"iterator-closed"}, {});
    const core::AppRun result = core::run_app(
        streaming_rows(5, log), {core::RequestSpec{.read_pause_ns = 0, .disconnect = disconnect}},
        {.server = {.spec_version = "2.4", .send_after_disconnect = core::SendAfterDisconnect::raise},
         .client = {.disconnect_one_in = 0},
         .observer = &observer});
    EXPECT_TRUE(result.result.ok()) << result.result.report;
    return result.violations;
  };
  // The client reads one chunk and leaves: the next send raises, the
  // iterator is left at its yield. The server drops the exception, the
  // finalizer hook schedules aclose(), and the run ends before that task's
  // first step: asyncio.run cancels it.
  std::vector<std::string> left_log;
  const auto leaves =
      run(core::Disconnect{.point = core::DisconnectPoint::after_body_chunks, .count = 1}, left_log);
  ASSERT_EQ(only(leaves), "iterator-closed @StreamingResponse");
  EXPECT_NE(leaves[0].detail.find("body iterator 'rows'"), std::string::npos) << leaves[0].detail;
  EXPECT_NE(leaves[0].detail.find("finalizer hook"), std::string::npos) << leaves[0].detail;
  EXPECT_EQ(left_log, (std::vector<std::string>{"cursor taken", "cursor released by finalizer"}));
  // A client that reads it all: the iterator ends and its finally runs inline.
  std::vector<std::string> stayed_log;
  EXPECT_TRUE(run(core::Disconnect{}, stayed_log).empty());
  EXPECT_EQ(stayed_log, (std::vector<std::string>{"cursor taken", "cursor released by inline"}));
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
