// Tests of async generators with a `finally` (async_generator.hpp): when the
// `finally` runs (inline, by asyncio's finalizer hook, at loop shutdown,
// never), who runs it, what it sees, and that StreamingResponse abandons its
// iterator to the shutdown when a send raises. The differential grid with
// `--cleanup` checks the same against the real Starlette (docs/fidelity.md).
#include "asgisim/core/async_generator.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "asgisim/core/observe.hpp"
#include "asgisim/core/request.hpp"
#include "asgisim/core/response.hpp"
#include "asgisim/sim/cancel.hpp"
#include "asgisim/sim/errors.hpp"
#include "asgisim/sim/event.hpp"
#include "asgisim/sim/simulation.hpp"
#include "asgisim/sim/task_group.hpp"

namespace asgisim::core {
namespace {

using ::testing::ElementsAre;

// What happened, in order: "chunk N", "finally <how> by <who> in <task>", and
// the test's own marks.
using Log = std::vector<std::string>;

// `chunks` chunks, a checkpoint before each (`await anyio.sleep(0)`); its
// `finally` writes to `log`.
BodyIterator counting(int chunks, Log& log, bool raises_at_end = false) {
  auto next = std::make_shared<int>(0);
  return async_generator(
      [next, chunks, raises_at_end, &log]() -> std::optional<Bytes> {
        if (*next == chunks) {
          if (raises_at_end) throw std::runtime_error("in_stream");
          return std::nullopt;
        }
        sim::checkpoint();
        log.push_back("chunk " + std::to_string(*next));
        return std::to_string((*next)++);
      },
      [&log](const GeneratorClose& close) {
        log.push_back("finally " + std::string(to_string(close.kind)) + (close.error ? "!" : "") + " by " +
                      std::string(to_string(close.by)) + " in " +
                      sim::Simulation::current().task_name(sim::Simulation::current().current_task().id()));
      },
      {.name = "counting", .request = 7});
}

// Runs `body` in a task "app" of a fresh simulation with an observer; returns the run.
template <class Body>
sim::RunResult run(Body&& body, Observer& observer) {
  sim::Simulation sim({.seed = 1});
  observe_run(sim, observer);
  sim.spawn("app", [&] { body(); });
  return sim.run();
}

std::vector<const Observation*> closes(const Observer& observer) {
  std::vector<const Observation*> found;
  for (const Observation& o : observer.log())
    if (o.kind == ObservationKind::iterator_closed) found.push_back(&o);
  return found;
}

TEST(AsyncGenerator, ExhaustedRunsFinallyInlineAtTheLastNext) {
  Log log;
  Observer observer;
  const sim::RunResult result = run(
      [&] {
        BodyIterator body = counting(2, log);
        while (body()) {
        }
        log.push_back("loop left");
        EXPECT_EQ(body(), std::nullopt) << "an exhausted generator stays exhausted";
      },
      observer);
  ASSERT_TRUE(result.ok()) << result.report;
  EXPECT_THAT(log, ElementsAre("chunk 0", "chunk 1", "finally exhausted by inline in app", "loop left"));
  const auto found = closes(observer);
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(found[0]->layer, "counting");
  EXPECT_EQ(found[0]->request, 7u);
  EXPECT_EQ(found[0]->detail, "exhausted");
  EXPECT_EQ(found[0]->value, static_cast<std::uint64_t>(GeneratorCloser::iterating_task));
}

TEST(AsyncGenerator, AnExceptionOfItsOwnPassesThroughFinallyInline) {
  Log log;
  Observer observer;
  const sim::RunResult result = run(
      [&] {
        BodyIterator body = counting(1, log, /*raises_at_end=*/true);
        body();
        EXPECT_THROW(body(), std::runtime_error);
        log.push_back("caught");
      },
      observer);
  ASSERT_TRUE(result.ok()) << result.report;
  EXPECT_THAT(log, ElementsAre("chunk 0", "finally raised! by inline in app", "caught"));
  ASSERT_EQ(closes(observer).size(), 1u);
  EXPECT_THAT(closes(observer)[0]->detail, ::testing::StartsWith("raised: "));
}

TEST(AsyncGenerator, ACancellationAtAnAwaitInsideItRunsFinallyInline) {
  Log log;
  Observer observer;
  const sim::RunResult result = run(
      [&] {
        BodyIterator body = counting(3, log);
        sim::cancel_scope([&](sim::CancelScope& scope) {
          body();
          scope.cancel();
          body();  // raises Cancelled at its checkpoint
          log.push_back("not reached");
        });
        log.push_back("scope left");
      },
      observer);
  ASSERT_TRUE(result.ok()) << result.report;
  EXPECT_THAT(log, ElementsAre("chunk 0", "finally raised! by inline in app", "scope left"));
}

TEST(AsyncGenerator, NeverStartedNeverRunsFinally) {
  Log log;
  Observer observer;
  const sim::RunResult result = run([&] { BodyIterator body = counting(3, log); }, observer);
  ASSERT_TRUE(result.ok()) << result.report;
  EXPECT_TRUE(log.empty());
  EXPECT_TRUE(closes(observer).empty());
}

TEST(AsyncGenerator, DroppedAtAYieldIsClosedByTheFinalizerHookInATaskOfItsOwn) {
  Log log;
  Observer observer;
  const sim::RunResult result = run(
      [&] {
        {
          BodyIterator body = counting(3, log);
          body();
        }  // the last reference goes here
        log.push_back("dropped");
        sim::checkpoint();
        log.push_back("one pass later");
        sim::checkpoint();
        log.push_back("two passes later");
      },
      observer);
  ASSERT_TRUE(result.ok()) << result.report;
  // call_soon_threadsafe(create_task, aclose()): the task is created a pass
  // later and takes its first step the pass after.
  EXPECT_THAT(log, ElementsAre("chunk 0", "dropped", "one pass later",
                               "finally GeneratorExit by finalizer in counting.aclose", "two passes later"));
  ASSERT_EQ(closes(observer).size(), 1u);
  EXPECT_EQ(closes(observer)[0]->value, static_cast<std::uint64_t>(GeneratorCloser::finalizer));
}

TEST(AsyncGenerator, AbandonedByAnExceptionInsideATaskGroupIsClosedAtLoopShutdownAfterEveryTask) {
  Log log;
  Observer observer;
  const sim::RunResult result = run(
      [&] {
        sim::task_group([&](sim::TaskGroup&) {
          // The group's host (BaseHTTPMiddleware sending the response dispatch
          // returned): the group will keep the exception in a reference cycle.
          BodyIterator body = counting(3, log);
          body();
          abandoned_by_exception(body);
        });
        exception_handled();  // the server drops its exception; the cycle still holds it
        log.push_back("group left");
        sim::sleep(10);
        log.push_back("app done");
      },
      observer);
  ASSERT_TRUE(result.ok()) << result.report;
  EXPECT_THAT(log, ElementsAre("chunk 0", "group left", "app done",
                               "finally GeneratorExit by shutdown in loop.shutdown"));
  ASSERT_EQ(closes(observer).size(), 1u);
  EXPECT_EQ(closes(observer)[0]->time_ns, 10);
  EXPECT_EQ(closes(observer)[0]->value, static_cast<std::uint64_t>(GeneratorCloser::loop_shutdown));
}

TEST(AsyncGenerator, AbandonedOutsideAnyGroupGoesWithTheHandledExceptionToTheFinalizer) {
  Log log;
  Observer observer;
  const sim::RunResult result = run(
      [&] {
        {
          BodyIterator body = counting(3, log);
          body();
          abandoned_by_exception(body);
        }
        log.push_back("unwound");  // the exception still holds it
        sim::checkpoint();
        sim::checkpoint();
        log.push_back("server handles the exception");
        exception_handled();
        sim::checkpoint();
        sim::checkpoint();
        log.push_back("server goes on");
      },
      observer);
  ASSERT_TRUE(result.ok()) << result.report;
  EXPECT_THAT(log, ElementsAre("chunk 0", "unwound", "server handles the exception",
                               "finally GeneratorExit by finalizer in counting.aclose", "server goes on"));
}

TEST(AsyncGenerator, AFinalizerTaskTheRunEndsBeforeIsCancelledBeforeItsFirstStep) {
  Log log;
  Observer observer;
  const sim::RunResult result = run(
      [&] {
        {
          BodyIterator body = counting(3, log);
          body();
        }
        log.push_back("app done");  // and nothing else keeps the loop running
      },
      observer);
  ASSERT_TRUE(result.ok()) << result.report;
  EXPECT_THAT(log, ElementsAre("chunk 0", "app done", "finally raised! by finalizer in loop.shutdown"));
  ASSERT_EQ(closes(observer).size(), 1u);
  EXPECT_THAT(closes(observer)[0]->detail, ::testing::StartsWith("raised: "));
  EXPECT_EQ(closes(observer)[0]->value, static_cast<std::uint64_t>(GeneratorCloser::finalizer));
}

TEST(AsyncGenerator, AbandonedByAnExceptionNobodyHandlesIsClosedAtLoopShutdown) {
  Log log;
  Observer observer;
  const sim::RunResult result = run(
      [&] {
        {
          BodyIterator body = counting(3, log);
          body();
          abandoned_by_exception(body);
        }
        log.push_back("dropped");
        sim::sleep(10);
        log.push_back("app done");
      },
      observer);
  ASSERT_TRUE(result.ok()) << result.report;
  EXPECT_THAT(log, ElementsAre("chunk 0", "dropped", "app done",
                               "finally GeneratorExit by shutdown in loop.shutdown"));
  ASSERT_EQ(closes(observer).size(), 1u);
  EXPECT_EQ(closes(observer)[0]->time_ns, 10);
}

TEST(AsyncGenerator, IteratedAgainAfterAnAbandonItIsAnOrdinaryGeneratorAgain) {
  Log log;
  Observer observer;
  const sim::RunResult result = run(
      [&] {
        BodyIterator body = counting(2, log);
        body();
        abandoned_by_exception(body);  // ... and the exception was caught
        while (body()) {
        }
        log.push_back("loop left");
      },
      observer);
  ASSERT_TRUE(result.ok()) << result.report;
  EXPECT_THAT(log, ElementsAre("chunk 0", "chunk 1", "finally exhausted by inline in app", "loop left"));
  EXPECT_EQ(closes(observer).size(), 1u) << "closed once, not again at shutdown";
}

TEST(AsyncGenerator, StillSuspendedAndReferencedAtTheEndIsClosedAtShutdown) {
  Log log;
  Observer observer;
  BodyIterator kept;  // outlives the run, like a generator a global holds
  const sim::RunResult result = run(
      [&] {
        kept = counting(3, log);
        kept();
      },
      observer);
  ASSERT_TRUE(result.ok()) << result.report;
  EXPECT_THAT(log, ElementsAre("chunk 0", "finally GeneratorExit by shutdown in loop.shutdown"));
  kept = nullptr;  // after the run: nothing runs any more
  EXPECT_EQ(log.size(), 2u);
}

TEST(AsyncGenerator, AFailedRunNeverRunsTheFinallyOfASuspendedGenerator) {
  Log log;
  Observer observer;
  const sim::RunResult result = run(
      [&] {
        BodyIterator body = counting(3, log);
        body();
        abandoned_by_exception(body);
        sim::Event never;
        never.wait();
      },
      observer);
  EXPECT_EQ(result.status, sim::RunStatus::deadlock);
  EXPECT_THAT(log, ElementsAre("chunk 0"));
}

// StreamingResponse: a send that raises leaves the `async for` by an
// exception; the generator waits for the loop's shutdown.
TEST(AsyncGenerator, StreamingResponseWhoseSendRaisesLeavesItsIteratorToTheException) {
  Log log;
  Observer observer;
  const sim::RunResult result = run(
      [&] {
        Scope scope;
        scope.type = "http";
        scope.spec_version = "2.4";  // no listener: the send's error ends stream_response
        int sent = 0;
        const Receive receive = [] { return Message::request(""); };
        const Send send = [&](Message) {
          if (++sent == 3) throw ClientDisconnected();
        };
        StreamingResponse response(counting(5, log), {}, StreamingBehaviour::no_listen);
        EXPECT_THROW(response(scope, receive, send), ClientDisconnect);
        log.push_back("response raised");
        sim::checkpoint();
        sim::checkpoint();
        log.push_back("still held");
        exception_handled();
        sim::checkpoint();  // the response object still refers to it
        log.push_back("response kept");
      },
      observer);
  ASSERT_TRUE(result.ok()) << result.report;
  // The app's frame (and `response` in it) goes when the task ends; the run
  // ends with it, before the aclose() task's first step.
  EXPECT_THAT(log, ElementsAre("chunk 0", "chunk 1", "response raised", "still held", "response kept",
                               "finally raised! by finalizer in loop.shutdown"));
}

TEST(AsyncGenerator, AFinallyThatRaisesAtShutdownIsObservedNotFatal) {
  Observer observer;
  const sim::RunResult result = run(
      [&] {
        BodyIterator body = async_generator(
            []() -> std::optional<Bytes> { return Bytes("x"); },
            [](const GeneratorClose&) { throw std::runtime_error("in finally"); }, {.name = "bad"});
        body();
        abandoned_by_exception(body);
      },
      observer);
  ASSERT_TRUE(result.ok()) << result.report;  // asyncio logs it; the loop goes on
  bool seen = false;
  for (const Observation& o : observer.log()) {
    if (o.kind == ObservationKind::error_raised && o.layer == "bad") {
      seen = true;
      EXPECT_THAT(o.detail, ::testing::HasSubstr("in finally"));
    }
  }
  EXPECT_TRUE(seen);
}

TEST(AsyncGenerator, SameSeedSameTraceHash) {
  auto hash = [] {
    Log log;
    Observer observer;
    return run(
               [&] {
                 {
                   BodyIterator dropped = counting(3, log);
                   dropped();
                 }
                 BodyIterator abandoned = counting(3, log);
                 abandoned();
                 abandoned_by_exception(abandoned);
                 sim::checkpoint();
               },
               observer)
        .trace_hash;
  };
  EXPECT_EQ(hash(), hash());
}

}  // namespace
}  // namespace asgisim::core
