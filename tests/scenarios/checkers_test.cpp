// The invariant checkers (checkers.hpp) on hand-written observation sequences:
// each checker passing and failing.
#include "asgisim/scenarios/checkers.hpp"

#include <gtest/gtest.h>

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

// server -> Base -> endpoint: the endpoint sends a start and one chunk, then
// raises. `ending` says what follows: Base makes up the final body
// ("made-up"), the connection closes ("closed"), or Base had already sent a
// response of its own, complete before the error ("replaced").
const std::vector<core::Violation>& truncated(Sequence& s, std::string_view ending) {
  s.add(K::request_started, 1, "uvicorn", "GET /");
  if (ending == "replaced") {
    s.sent(1, "server->Base", Message::start(200)).sent(1, "server->Base", Message::body_chunk("own", false));
    s.add(K::response_completed, 1, "uvicorn").add(K::client_got_complete, 1, "client", {}, 3);
  }
  s.sent(1, "Base->endpoint", Message::start(200)).sent(1, "Base->endpoint", Message::body_chunk("ab", true));
  if (ending != "replaced") {
    s.sent(1, "server->Base", Message::start(200)).sent(1, "server->Base", Message::body_chunk("ab", true));
  }
  s.add(K::error_raised, 1, "endpoint", "StreamError");
  if (ending == "made-up") {
    s.sent(1, "server->Base", Message::body_chunk("", false)).add(K::response_completed, 1, "uvicorn");
    s.add(K::client_got_body, 1, "client", {}, 2).add(K::client_got_complete, 1, "client", {}, 2);
  }
  if (ending == "closed") s.add(K::app_raised, 1, "uvicorn").add(K::connection_closed, 1, "uvicorn");
  return s.finish();
}

TEST(TruncatedNotComplete, AFinalBodyMadeUpAfterAMidBodyErrorFails) {
  Sequence s({"truncated-not-complete"});
  const auto& v = truncated(s, "made-up");
  ASSERT_EQ(only(v), "truncated-not-complete @Base");
  EXPECT_NE(v[0].detail.find("'endpoint' raised (StreamError) after 2 body byte(s) had crossed "
                             "'Base->endpoint' without a final body, yet the client read a complete"),
            std::string::npos)
      << v[0].detail;
}

TEST(TruncatedNotComplete, AClosedConnectionOrAResponseCompleteBeforeTheErrorPasses) {
  Sequence closed({"truncated-not-complete"});
  EXPECT_TRUE(truncated(closed, "closed").empty());
  Sequence replaced({"truncated-not-complete"});
  EXPECT_TRUE(truncated(replaced, "replaced").empty());
  // A background task that fails after a complete body is not a truncation.
  Sequence background({"truncated-not-complete"});
  background.add(K::request_started, 1, "uvicorn", "GET /");
  background.sent(1, "server->endpoint", Message::start(200))
      .sent(1, "server->endpoint", Message::body_chunk("ok", false))
      .add(K::response_completed, 1, "uvicorn");
  background.background(K::error_raised, 1, "notify").add(K::client_got_complete, 1, "client", {}, 2);
  EXPECT_TRUE(background.finish().empty());
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
  ASSERT_EQ(ids.size(), 20u);
  EXPECT_EQ(ids.front(), "start-once");
  EXPECT_EQ(ids.back(), "deterministic");
  for (const auto id : ids) EXPECT_FALSE(invariant_description(id).empty()) << id;
  EXPECT_TRUE(invariant_description("nope").empty());
}

}  // namespace
}  // namespace asgisim::scenarios
