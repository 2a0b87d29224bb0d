// Tests of responses and background tasks (response.hpp, Starlette 0.26.1;
// StreamingResponse's 0.42+ branch): ports of Starlette's
// tests/test_responses.py and tests/test_background.py (each port names its
// upstream test), plus the model's own checks of StreamingResponse's two
// disconnect behaviours and of the background-task observations. Apps are
// driven directly, with hand-written receive/send, inside a Simulation.
#include "asgisim/core/response.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <stdexcept>
#include <string>
#include <vector>

#include "asgisim/core/datastructures.hpp"
#include "asgisim/core/json_text.hpp"
#include "asgisim/core/request.hpp"
#include "asgisim/core/run_in_threadpool.hpp"
#include "asgisim/sim/event.hpp"
#include "asgisim/sim/simulation.hpp"
#include "asgisim/sim/threading.hpp"
#include "core/starlette_port_support.hpp"

namespace asgisim::core {
namespace {

using test_support::call;
using test_support::Exchange;
using test_support::get;
using test_support::in_sim;
using test_support::ThreadPerCall;
using ::testing::ElementsAre;

// ---- plain responses -----------------------------------------------------------

// Port of test_text_response.
TEST(Responses, TextResponse) {
  App app = [](Scope& scope, const Receive& receive, const Send& send) {
    Response("hello, world", {.media_type = "text/plain"})(scope, receive, send);
  };
  EXPECT_EQ(get(app, "/").body, "hello, world");
}

// Port of test_bytes_response.
TEST(Responses, BytesResponse) {
  App app = Response("xxxxx", {.media_type = "image/png"});
  const Exchange response = get(app, "/");
  EXPECT_EQ(response.body, "xxxxx");
  EXPECT_EQ(response.header("content-type"), "image/png");
}

// Port of test_json_none_response.
TEST(Responses, JsonNoneResponse) {
  const Exchange response = get(JSONResponse("null"), "/");
  EXPECT_EQ(response.body, "null");
  EXPECT_EQ(response.header("content-type"), "application/json");
  EXPECT_THROW(JSONResponse("{'not': json}"), JSONDecodeError);
}

// Port of test_redirect_response.
TEST(Responses, RedirectResponse) {
  App app = [](Scope& scope, const Receive& receive, const Send& send) {
    if (scope.path == "/") {
      Response("hello, world", {.media_type = "text/plain"})(scope, receive, send);
    } else {
      RedirectResponse("/")(scope, receive, send);
    }
  };
  const Exchange redirect = get(app, "/redirect", /*follow_redirects=*/false);
  EXPECT_EQ(redirect.status, 307);
  EXPECT_EQ(redirect.header("location"), "/");
  const Exchange response = get(app, "/redirect");
  EXPECT_EQ(response.body, "hello, world");
  EXPECT_EQ(response.url, "http://testserver/");
}

// Port of test_quoting_redirect_response.
TEST(Responses, QuotingRedirectResponse) {
  App app = [](Scope& scope, const Receive& receive, const Send& send) {
    if (scope.path == "/I \xE2\x99\xA5 Starlette/") {
      Response("hello, world", {.media_type = "text/plain"})(scope, receive, send);
    } else {
      RedirectResponse("/I \xE2\x99\xA5 Starlette/")(scope, receive, send);
    }
  };
  const Exchange response = get(app, "/redirect");
  EXPECT_EQ(response.body, "hello, world");
  EXPECT_EQ(response.url, "http://testserver/I%20%E2%99%A5%20Starlette/");
}

// Port of test_redirect_response_content_length_header.
TEST(Responses, RedirectResponseContentLengthHeader) {
  const Exchange response = get(RedirectResponse("/"), "/redirect", /*follow_redirects=*/false);
  EXPECT_EQ(response.url, "http://testserver/redirect");
  EXPECT_EQ(response.header("content-length"), "0");
  EXPECT_EQ(response.headers, (Headers{{"content-length", "0"}, {"location", "/"}}));
}

// Port of test_response_headers.
TEST(Responses, ResponseHeaders) {
  Response response("hello, world", {.headers = Headers{{"x-header-1", "123"}, {"x-header-2", "456"}},
                                     .media_type = "text/plain"});
  response.set_header("x-header-2", "789");
  const Exchange sent = get(response, "/");
  EXPECT_EQ(sent.header("x-header-1"), "123");
  EXPECT_EQ(sent.header("x-header-2"), "789");
}

// Port of test_populate_headers.
TEST(Responses, PopulateHeaders) {
  const Exchange response = get(Response("hi", {.headers = Headers{}, .media_type = "text/html"}), "/");
  EXPECT_EQ(response.body, "hi");
  EXPECT_EQ(response.header("content-length"), "2");
  EXPECT_EQ(response.header("content-type"), "text/html; charset=utf-8");
}

// Port of test_empty_response.
TEST(Responses, EmptyResponse) {
  const Exchange response = get(Response(), "/");
  EXPECT_EQ(response.body, "");
  EXPECT_EQ(response.header("content-length"), "0");
  EXPECT_FALSE(response.header("content-type"));
}

// Port of test_empty_204_response (and the 1xx/304 rule of init_headers).
TEST(Responses, Empty204Response) {
  EXPECT_FALSE(get(Response("", {.status_code = 204}), "/").header("content-length"));
  EXPECT_TRUE(Response("", {.status_code = 304}).headers().empty());
  EXPECT_TRUE(Response("", {.status_code = 123}).headers().empty());
}

// Port of test_non_empty_response.
TEST(Responses, NonEmptyResponse) { EXPECT_EQ(get(Response("hi"), "/").header("content-length"), "2"); }

// init_headers: explicit content-length/content-type win; names lower-cased.
TEST(Responses, InitHeadersRespectsGivenHeaders) {
  PlainTextResponse response("abc", {.headers = Headers{{"Content-Type", "text/csv"}, {"X-A", "1"}}});
  EXPECT_EQ(response.headers(),
            (Headers{{"content-type", "text/csv"}, {"x-a", "1"}, {"content-length", "3"}}));
}

// ---- StreamingResponse -----------------------------------------------------------

// An async generator of "1, 2, ..., max", checkpointing after each number.
BodyIterator numbers(int minimum, int maximum) {
  auto next = std::make_shared<int>(minimum);
  auto separator = std::make_shared<bool>(false);
  return [=]() -> std::optional<Bytes> {
    if (*separator) {
      *separator = false;
      return Bytes(", ");
    }
    if (*next > maximum) return std::nullopt;
    const int value = (*next)++;
    if (value != maximum) *separator = true;
    sim::checkpoint();  // await anyio.sleep(0)
    return std::to_string(value);
  };
}

// Port of test_streaming_response.
TEST(StreamingResponse, StreamsThenRunsBackground) {
  std::string filled_by_background;
  App app = [&](Scope& scope, const Receive& receive, const Send& send) {
    BackgroundTask cleanup("numbers_for_cleanup", [&] {
      BodyIterator more = numbers(6, 9);
      while (auto thing = more()) filled_by_background += *thing;
    });
    StreamingResponse(numbers(1, 5), {.media_type = "text/plain", .background = cleanup})(scope, receive,
                                                                                          send);
  };
  EXPECT_EQ(filled_by_background, "");
  const Exchange response = get(app, "/");
  EXPECT_EQ(response.body, "1, 2, 3, 4, 5");
  EXPECT_EQ(response.header("content-type"), "text/plain; charset=utf-8");
  EXPECT_EQ(filled_by_background, "6, 7, 8, 9");
}

// Port of test_streaming_response_custom_iterator.
TEST(StreamingResponse, CustomIterator) {
  auto called = std::make_shared<int>(0);
  BodyIterator iterator = [called]() -> std::optional<Bytes> {
    if (*called == 5) return std::nullopt;
    return std::to_string(++*called);
  };
  EXPECT_EQ(get(StreamingResponse(iterator, {.media_type = "text/plain"}), "/").body, "12345");
}

// Port of test_sync_streaming_response: a sync iterator goes through the thread pool.
TEST(StreamingResponse, SyncIteratorRunsInThreadpool) {
  ThreadPerCall pool;
  auto remaining = std::make_shared<std::vector<Bytes>>(std::vector<Bytes>{"1", ", ", "2", ", ", "3"});
  BodyIterator sync_iterator = [remaining]() -> std::optional<Bytes> {
    if (remaining->empty()) return std::nullopt;
    Bytes chunk = remaining->front();
    remaining->erase(remaining->begin());
    return chunk;
  };
  const Exchange response = get(StreamingResponse(iterate_in_threadpool(sync_iterator, pool)), "/");
  EXPECT_EQ(response.body, "1, 2, 3");
  EXPECT_EQ(pool.calls, 6);  // five chunks and the StopIteration
}

// Ports of test_streaming_response_unknown_size and test_streaming_response_known_size.
TEST(StreamingResponse, ContentLengthOnlyWhenGiven) {
  auto chunks = [] {
    auto left = std::make_shared<int>(2);
    return BodyIterator([left]() -> std::optional<Bytes> {
      if (*left == 0) return std::nullopt;
      return (*left)-- == 2 ? Bytes("hello") : Bytes("world");
    });
  };
  const Exchange unknown = get(StreamingResponse(chunks()), "/");
  EXPECT_FALSE(unknown.header("content-length"));
  EXPECT_EQ(unknown.body, "helloworld");
  const Exchange known =
      get(StreamingResponse(chunks(), {.headers = Headers{{"content-length", "10"}}}), "/");
  EXPECT_EQ(known.header("content-length"), "10");
}

// An endless body: "chunk " after a checkpoint, forever.
BodyIterator stream_indefinitely(Bytes chunk = "chunk ") {
  return [chunk]() -> std::optional<Bytes> {
    sim::checkpoint();  // "Need a sleep for the event loop to switch to another task"
    return chunk;
  };
}

// Port of test_streaming_response_stops_if_receiving_http_disconnect (listen):
// the listener sees http.disconnect and cancels the endless body.
TEST(StreamingResponse, StopsIfReceivingHttpDisconnect) {
  for (StreamingBehaviour behaviour : {StreamingBehaviour::listen, StreamingBehaviour::by_spec_version}) {
    std::size_t streamed = 0;
    bool cancel_called = true;
    ASSERT_TRUE(in_sim([&] {
                  sim::Event disconnected;
                  const Receive receive_disconnect = [&] {
                    disconnected.wait();
                    return Message::disconnect();
                  };
                  const Send send = [&](Message message) {
                    if (message.type != MessageType::http_response_body) return;
                    streamed += message.body.size();
                    if (streamed >= 16) disconnected.set();  // the download has started
                  };
                  StreamingResponse response(stream_indefinitely(), {}, behaviour);
                  Scope scope;
                  scope.spec_version = "2.0";  // Starlette's default for a scope without "asgi"
                  cancel_called =
                      sim::move_on_after(sim::kSecond, [&] { response(scope, receive_disconnect, send); });
                }).ok());
    EXPECT_FALSE(cancel_called) << "Content streaming should stop itself (" << to_string(behaviour) << ")";
    EXPECT_GE(streamed, 16U);
  }
}

// Port of test_streaming_response_on_client_disconnects (Starlette 0.42+,
// spec_version 2.4): no listener; the error send raises becomes ClientDisconnect.
TEST(StreamingResponse, NoListenTurnsSendErrorIntoClientDisconnect) {
  for (StreamingBehaviour behaviour : {StreamingBehaviour::no_listen, StreamingBehaviour::by_spec_version}) {
    Bytes chunks;
    bool streamed = false;
    bool raised = false;
    bool cancel_called = true;
    ASSERT_TRUE(in_sim([&] {
                  const Receive receive_disconnect = []() -> Message {
                    throw std::logic_error("NotImplementedError: receive must not be called");
                  };
                  const Send send = [&](Message message) {
                    if (message.type != MessageType::http_response_body) return;
                    if (streamed) throw ClientDisconnected();  // the OSError
                    chunks += message.body;
                    streamed = true;
                  };
                  StreamingResponse response(stream_indefinitely("chunk"), {}, behaviour);
                  Scope scope;
                  scope.spec_version = "2.4";
                  cancel_called = sim::move_on_after(sim::kSecond, [&] {
                    try {
                      response(scope, receive_disconnect, send);
                    } catch (const ClientDisconnect&) {
                      raised = true;
                    }
                  });
                }).ok());
    EXPECT_TRUE(raised) << to_string(behaviour);
    EXPECT_FALSE(cancel_called) << "Content streaming should stop itself.";
    EXPECT_EQ(chunks, "chunk");
  }
}

// The model's scenario 8: no listener behind a server that drops sends after
// a disconnect: nothing stops the body. With a body that takes time, only an
// outer deadline ends it; with one that only checkpoints, virtual time never
// moves and the run ends as a liveness failure (the step budget).
TEST(StreamingResponse, NoListenWithSilentlyDroppedSendsNeverStops) {
  const Receive receive = [] { return Message::disconnect(); };
  const Send drop = [](const Message&) {};
  bool cancel_called = false;
  ASSERT_TRUE(in_sim([&] {
                BodyIterator slow_forever = [] {
                  sim::sleep(sim::kMillisecond);
                  return std::optional<Bytes>("chunk");
                };
                StreamingResponse response(slow_forever, {}, StreamingBehaviour::no_listen);
                Scope scope;
                cancel_called = sim::move_on_after(sim::kSecond, [&] { response(scope, receive, drop); });
              }).ok());
  EXPECT_TRUE(cancel_called);

  const sim::RunResult run = in_sim(
      [&] {
        StreamingResponse response(stream_indefinitely(), {}, StreamingBehaviour::no_listen);
        Scope scope;
        response(scope, receive, drop);
      },
      {.seed = 1, .steps_max = 10'000});
  EXPECT_EQ(run.status, sim::RunStatus::liveness_steps);
}

// A malformed spec_version is a clear error, as int() would raise.
TEST(StreamingResponse, MalformedSpecVersionRaises) {
  Scope scope;
  scope.spec_version = "2.x";
  const Exchange result =
      call(StreamingResponse(stream_indefinitely(), {}, StreamingBehaviour::by_spec_version), scope);
  ASSERT_TRUE(result.error);
  EXPECT_THROW(std::rethrow_exception(result.error), std::invalid_argument);
}

// ---- background tasks (tests/test_background.py) -----------------------------------

// Port of test_async_task.
TEST(Background, AsyncTask) {
  bool task_complete = false;
  App app = [&](Scope& scope, const Receive& receive, const Send& send) {
    BackgroundTask task("async_task", [&] { task_complete = true; });
    Response("task initiated", {.media_type = "text/plain", .background = task})(scope, receive, send);
  };
  EXPECT_EQ(get(app, "/").body, "task initiated");
  EXPECT_TRUE(task_complete);
}

// Port of test_sync_task.
TEST(Background, SyncTask) {
  ThreadPerCall pool;
  bool task_complete = false;
  App app = [&](Scope& scope, const Receive& receive, const Send& send) {
    BackgroundTask task("sync_task", [&] { task_complete = true; }, {.sync = true, .threadpool = &pool});
    Response("task initiated", {.media_type = "text/plain", .background = task})(scope, receive, send);
  };
  EXPECT_EQ(get(app, "/").body, "task initiated");
  EXPECT_TRUE(task_complete);
  EXPECT_EQ(pool.calls, 1);
}

// Port of test_multiple_tasks.
TEST(Background, MultipleTasks) {
  ThreadPerCall pool;
  int task_counter = 0;
  App app = [&](Scope& scope, const Receive& receive, const Send& send) {
    BackgroundTasks tasks;
    for (int amount : {1, 2, 3}) {
      tasks.add_task(BackgroundTask("increment", [&task_counter, amount] { task_counter += amount; },
                                    {.sync = true, .threadpool = &pool}));
    }
    Response("tasks initiated", {.media_type = "text/plain", .background = tasks})(scope, receive, send);
  };
  EXPECT_EQ(get(app, "/").body, "tasks initiated");
  EXPECT_EQ(task_counter, 1 + 2 + 3);
}

// Port of test_multi_tasks_failure_avoids_next_execution.
TEST(Background, FailureAvoidsNextExecution) {
  ThreadPerCall pool;
  int task_counter = 0;
  App app = [&](Scope& scope, const Receive& receive, const Send& send) {
    BackgroundTasks tasks;
    for (int i = 0; i < 2; ++i) {
      tasks.add_task(BackgroundTask("increment",
                                    [&] {
                                      if (++task_counter == 1) throw std::runtime_error("task failed");
                                    },
                                    {.sync = true, .threadpool = &pool}));
    }
    Response("tasks initiated", {.media_type = "text/plain", .background = tasks})(scope, receive, send);
  };
  const Exchange response = get(app, "/");
  EXPECT_TRUE(response.complete);  // the body went out before the tasks ran
  ASSERT_TRUE(response.error);
  EXPECT_THROW(std::rethrow_exception(response.error), std::runtime_error);
  EXPECT_EQ(task_counter, 1);
}

std::vector<ObservationKind> kinds(const Observer& observer) {
  std::vector<ObservationKind> out;
  for (const Observation& o : observer.log()) out.push_back(o.kind);
  return out;
}

// The observations: scheduled at construction, started and finished around the run.
TEST(Background, ReportsItsLifecycle) {
  Observer observer;
  App app = [&](Scope& scope, const Receive& receive, const Send& send) {
    observe_run(sim::Simulation::current(), observer);  // no server here: the test observes the run
    BackgroundTask task("audit", [] { sim::sleep(sim::kMillisecond); }, {.request = 7});
    PlainTextResponse("ok", {.background = task})(scope, receive, send);
  };
  EXPECT_TRUE(get(app, "/").complete);
  EXPECT_THAT(kinds(observer),
              ElementsAre(ObservationKind::background_scheduled, ObservationKind::background_started,
                          ObservationKind::background_finished));
  EXPECT_EQ(observer.log().back().request, 7U);
  EXPECT_EQ(observer.log().back().detail, "audit");
  EXPECT_EQ(observer.log().back().time_ns, sim::kMillisecond);
}

// Cancelled passing through a running task is reported as background_cancelled;
// an exception as error_raised.
TEST(Background, ReportsCancellationAndErrors) {
  Observer observer;
  ASSERT_TRUE(in_sim([&] {
                observe_run(sim::Simulation::current(), observer);
                BackgroundTask slow("slow", [] { sim::sleep(sim::kSecond); });
                EXPECT_TRUE(sim::move_on_after(sim::kMillisecond, [&] { slow(); }));
                BackgroundTask failing("failing", [] { throw std::runtime_error("boom"); });
                EXPECT_THROW(failing(), std::runtime_error);
              }).ok());
  EXPECT_THAT(kinds(observer),
              ElementsAre(ObservationKind::background_scheduled, ObservationKind::background_started,
                          ObservationKind::background_cancelled, ObservationKind::background_scheduled,
                          ObservationKind::background_started, ObservationKind::error_raised));
  EXPECT_THAT(observer.log().back().detail, ::testing::HasSubstr("boom"));
}

// A sync task without a pool is a clear error, not a crash.
TEST(Background, SyncTaskWithoutPoolIsAnError) {
  BackgroundTask task("sync", [] {}, {.sync = true});
  ASSERT_TRUE(in_sim([&] { EXPECT_THROW(task(), std::logic_error); }).ok());
}

// With `listen`, a disconnect stops the stream but the background still runs
// (it is outside the task group).
TEST(Background, RunsAfterStreamStoppedByDisconnect) {
  bool ran = false;
  ASSERT_TRUE(in_sim([&] {
                int sent = 0;
                sim::Event gone;
                const Receive receive = [&] {
                  gone.wait();
                  return Message::disconnect();
                };
                const Send send = [&](const Message&) {
                  if (++sent == 3) gone.set();
                };
                StreamingResponse response(stream_indefinitely(),
                                           {.background = BackgroundTask("bg", [&] { ran = true; })});
                Scope scope;
                response(scope, receive, send);
              }).ok());
  EXPECT_TRUE(ran);
}

}  // namespace
}  // namespace asgisim::core
