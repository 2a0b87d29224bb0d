// head-no-body is judged where the server writes, not at the app boundary:
// an ASGI app may send a body for HEAD (Starlette's Response does), and the
// server (uvicorn) keeps it off the wire. Only body bytes a HEAD request's
// client receives are a violation, blamed on the server.
#include <gtest/gtest.h>

#include <algorithm>
#include <string>

#include "asgisim/core/client.hpp"
#include "asgisim/core/observe.hpp"
#include "asgisim/core/validator.hpp"

namespace asgisim::core {
namespace {

bool has(const std::vector<Violation>& violations, std::string_view invariant) {
  return std::ranges::any_of(violations, [&](const Violation& v) { return v.invariant == invariant; });
}

// A plain endpoint that answers every method with a body, as Starlette's
// PlainTextResponse does for HEAD.
App hello_app() {
  return [](Scope&, const Receive&, const Send& send) {
    send(Message::start(200, {{"content-type", "text/plain"}, {"content-length", "5"}}));
    send(Message::body_chunk("hello"));
  };
}

TEST(HeadNoBody, AnAppAnsweringHeadWithABodyIsNotAViolationAndTheServerStripsIt) {
  Observer observer;
  observer.emplace<ProtocolValidator>();
  const App app = validated_chain({}, hello_app(), observer);
  const AppRun run =
      run_app(app, {RequestSpec{.method = "HEAD"}, RequestSpec{.method = "GET"}}, {.observer = &observer});
  ASSERT_TRUE(run.result.ok());
  ASSERT_EQ(run.records.size(), 2U);
  EXPECT_EQ(run.records[0].status, 200);
  EXPECT_TRUE(run.records[0].body.empty()) << run.records[0].body;  // stripped on the wire
  EXPECT_EQ(run.records[1].body, "hello");
  EXPECT_FALSE(has(observer.violations(), "head-no-body"));
  EXPECT_EQ(observer.first_failure(), nullptr) << observer.first_failure()->detail;
}

TEST(HeadNoBody, BodyBytesOnTheWireForHeadAreReportedOnceAndBlameTheServer) {
  Observer observer;
  observer.emplace<ProtocolValidator>();
  observer.observe({.kind = ObservationKind::request_started, .request = 7, .detail = "HEAD /"});
  observer.observe({.kind = ObservationKind::request_started, .request = 8, .detail = "GET /"});
  observer.observe({.kind = ObservationKind::client_got_body, .request = 8, .value = 5});  // GET: fine
  observer.observe({.kind = ObservationKind::client_got_body, .request = 7, .value = 0});  // no bytes
  EXPECT_TRUE(observer.violations().empty());
  observer.observe({.kind = ObservationKind::client_got_body, .request = 7, .value = 5});
  observer.observe({.kind = ObservationKind::client_got_body, .request = 7, .value = 3});
  ASSERT_EQ(observer.violations().size(), 1U);
  const Violation& v = observer.violations().front();
  EXPECT_EQ(v.invariant, "head-no-body");
  EXPECT_EQ(v.layer, "server");
  EXPECT_EQ(v.request, 7U);
  EXPECT_NE(v.detail.find("5 body bytes"), std::string::npos) << v.detail;
}

}  // namespace
}  // namespace asgisim::core
