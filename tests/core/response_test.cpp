// Tests of responses and background tasks (response.hpp, Starlette 0.26.1):
// ports of Starlette's tests/test_responses.py and tests/test_background.py
// (each port names its upstream test), plus the model's own checks of the
// background-task observations. Apps are driven directly, with hand-written
// receive/send, inside a Simulation.
#include "asgisim/core/response.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <stdexcept>
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

}  // namespace
}  // namespace asgisim::core
