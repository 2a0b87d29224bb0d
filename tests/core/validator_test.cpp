// Tests of the ASGI protocol validator (validator.hpp): one misbehaving app or
// outer receive per invariant, blame and request ids, first-violation-only,
// and blame by name inside a validated middleware chain.
#include "asgisim/core/validator.hpp"

#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <algorithm>
#include <ostream>
#include <string>
#include <utility>
#include <vector>

#include "asgisim/sim/simulation.hpp"

#include "core/validator_test_support.hpp"

namespace asgisim::core {
namespace {

using namespace validator_test_support;

struct Fixture {
  explicit Fixture(ProtocolValidatorOptions options = {}) { observer.emplace<ProtocolValidator>(options); }
  // Runs `app` behind one boundary "server->app" for one request.
  void run(const App& app, Scope scope, std::vector<Message> incoming = {}) {
    server.incoming = std::move(incoming);
    run_calls(validate_boundary(app, "server", "app", observer), {{std::move(scope), &server}});
  }
  Observer observer;
  FakeServer server;
};

void expect_one(const Observer& observer, std::string_view invariant, std::string_view layer,
                RequestId request, bool warning = false) {
  ASSERT_EQ(observer.violations().size(), 1U) << "first: " << observer.violations().front().detail;
  const Violation& violation = observer.violations().front();
  EXPECT_EQ(violation.invariant, invariant) << violation.detail;
  EXPECT_EQ(violation.layer, layer) << violation.detail;
  EXPECT_EQ(violation.request, request);
  EXPECT_EQ(violation.warning, warning);
}

// ---- well-behaved traffic ------------------------------------------------------------

TEST(Validator, WellBehavedAppHasNoViolationsAndMessagesPassThrough) {
  Fixture fixture;
  fixture.run(scripted({kReceive, kReceive, sends(Message::start(200, {{"content-length", "5"}})),
                        sends(Message::body_chunk("he", true)), sends(Message::body_chunk("llo")), kReceive,
                        kReceive}),
              http_scope(7), {Message::request("ab", true), Message::request("c")});
  EXPECT_TRUE(fixture.observer.violations().empty());
  ASSERT_EQ(fixture.server.sent.size(), 3U);
  EXPECT_EQ(fixture.server.sent[2].body, "llo");
  const auto& log = fixture.observer.log();
  ASSERT_EQ(log.size(), 7U);
  EXPECT_EQ(log[1].message->body, "c");
  EXPECT_EQ(log[2].kind, ObservationKind::sent);
  EXPECT_EQ(log[6].message->type, MessageType::http_disconnect);
  for (const Observation& observation : log) {
    EXPECT_EQ(observation.layer, "server->app");
    EXPECT_EQ(observation.request, 7U);
    EXPECT_EQ(observation.detail, "http GET");
    EXPECT_EQ(observation.value, 1U);
  }
}

TEST(Validator, ExceptionsPassThroughUnreported) {
  Fixture fixture;
  const App raising = validate_boundary([](Scope&, const Receive&, const Send&) { throw ProtocolError("x"); },
                                        "server", "app", fixture.observer);
  Scope scope = http_scope(2);
  EXPECT_THROW(raising(
                   scope, [] { return Message::disconnect(); }, [](Message) {}),
               ProtocolError);
  EXPECT_TRUE(fixture.observer.violations().empty());
}

// ---- one misbehaviour per invariant -----------------------------------------------

// One app call behind "server->app" that breaks exactly one invariant.
struct Case {
  const char* name = "";
  std::vector<Message> incoming{};  // what the server's receive() hands out
  std::vector<Step> script{};       // what the app does
  std::string invariant{};
  std::string layer{};  // "app" for sent, "server" for received
  std::string scope_type = "http";
  std::string method = "GET";
};

Headers length(const char* bytes) { return {{"content-length", bytes}}; }
const Message kLifespanStartup{.type = MessageType::lifespan_startup};

const Case kCases[] = {
    // sent: the inner app is blamed; after the first failure nothing more is judged.
    {"SecondStart",
     {},
     {sends(Message::start(200)), sends(Message::start(500)), sends(Message::start(500))},
     "start-once",
     "app"},
    {"BodyBeforeStart", {}, {sends(Message::body_chunk("early"))}, "body-after-start", "app"},
    {"BodyAfterTheFinalOne",
     {},
     {sends(Message::start(200)), sends(Message::body_chunk("done")), sends(Message::body_chunk("more"))},
     "body-after-start",
     "app"},
    {"ShortBodyJudgedAtTheEnd",
     {},
     {sends(Message::start(200, length("10"))), sends(Message::body_chunk("12345", true)),
      sends(Message::body_chunk("678"))},
     "content-length",
     "app"},
    {"LongBodyJudgedWhenItExceeds",
     {},  // the server would raise into the app here
     {sends(Message::start(200, length("3"))), sends(Message::body_chunk("1234", true))},
     "content-length",
     "app"},
    {"AppSendsAServerMessage", {}, {sends(Message::request("x"))}, "message-type", "app"},
    {"LifespanAppSendsHttp",
     {kLifespanStartup},
     {kReceive, sends({.type = MessageType::lifespan_startup_complete}), sends(Message::start(200))},
     "message-type",
     "app",
     "lifespan"},
    // received: the outer side is blamed.
    {"RequestAfterDisconnect",
     {Message::disconnect(), Message::request("late")},
     {kReceive, kReceive},
     "disconnect-sticky",
     "server"},
    {"RequestAfterTheFinalOne",
     {Message::request("a"), Message::request("again")},
     {kReceive, kReceive},
     "receive-order",
     "server"},
    {"LifespanMessageInHttpScope", {kLifespanStartup}, {kReceive}, "message-type", "server"},
};

void PrintTo(const Case& test_case, std::ostream* out) { *out << test_case.name; }

class Misbehaviour : public testing::TestWithParam<Case> {};

TEST_P(Misbehaviour, IsReportedOnceWithItsIdBlameAndRequest) {
  const Case& test_case = GetParam();
  Fixture fixture;
  Scope scope = http_scope(40, test_case.method);
  scope.type = test_case.scope_type;
  fixture.run(scripted(test_case.script), scope, test_case.incoming);
  expect_one(fixture.observer, test_case.invariant, test_case.layer, 40);
  EXPECT_EQ(fixture.server.sent.size() + fixture.server.next, test_case.script.size());  // it only watches
}

INSTANTIATE_TEST_SUITE_P(Validator, Misbehaviour, testing::ValuesIn(kCases),
                         [](const testing::TestParamInfo<Case>& info) {
                           return std::string(info.param.name);
                         });

App sends_after_disconnect() {
  return scripted({kReceive, sends(Message::start(200)), sends(Message::body_chunk("still here", true)),
                   sends(Message::start(200))});
}

TEST(Validator, SendAfterDisconnectIsAWarningThatDoesNotHideAFailure) {
  Fixture fixture;
  fixture.run(sends_after_disconnect(), http_scope(9));
  const auto& violations = fixture.observer.violations();
  ASSERT_EQ(violations.size(), 2U);
  EXPECT_EQ(violations[0].invariant, "no-send-after-disconnect");
  EXPECT_EQ(violations[0].layer, "app");
  EXPECT_TRUE(violations[0].warning);
  EXPECT_EQ(violations[1].invariant, "start-once");
  EXPECT_EQ(fixture.observer.first_failure(), &violations[1]);
}

TEST(Validator, SendAfterDisconnectCanBeAnError) {
  Fixture fixture({.send_after_disconnect_is_error = true});
  fixture.run(sends_after_disconnect(), http_scope(10));
  expect_one(fixture.observer, "no-send-after-disconnect", "app", 10, /*warning=*/false);
}

TEST(Validator, DisconnectMidBodyIsFine) {
  Fixture fixture;
  fixture.run(scripted({kReceive, kReceive, sends(Message::start(200)), sends(Message::body_chunk(""))}),
              http_scope(14), {Message::request("a", true), Message::disconnect()});
  ASSERT_EQ(fixture.observer.violations().size(), 1U);    // it answers the client that left:
  EXPECT_TRUE(fixture.observer.violations()[0].warning);  // no-send-after-disconnect
  EXPECT_EQ(fixture.observer.first_failure(), nullptr);
}

// ---- conversations are separate -------------------------------------------------------

TEST(Validator, RequestsAndCallsAreJudgedSeparately) {
  Observer observer;
  const ProtocolValidator& validator = observer.emplace<ProtocolValidator>();
  const App app = validate_boundary(
      [](Scope& scope, const Receive&, const Send& send) {
        send(Message::start(200));
        sim::sleep(sim::kMillisecond);  // interleave the requests
        if (scope.request_id == 2) send(Message::start(200));
        send(Message::body_chunk("ok"));
      },
      "server", "app", observer);
  FakeServer servers[4];
  // Requests 1 and 2 at once; then two calls that both carry request id 0.
  run_calls(app, {{http_scope(1), &servers[0]},
                  {http_scope(2), &servers[1]},
                  {http_scope(0), &servers[2]},
                  {http_scope(0), &servers[3]}});
  expect_one(observer, "start-once", "app", 2);
  EXPECT_EQ(validator.conversations(), 4U);
}

// ---- blame inside a validated chain ------------------------------------------------------

TEST(Validator, BadMiddlewareBetweenGoodLayersIsBlamedByName) {
  Observer observer;
  observer.emplace<ProtocolValidator>();
  // "Doubler" repeats every start message on its way out.
  const auto doubler = [](App app) -> App {
    return [app](Scope& scope, const Receive& receive, const Send& send) {
      app(scope, receive, [&send](Message message) {
        if (message.type == MessageType::http_response_start) send(message);
        send(std::move(message));
      });
    };
  };
  const App endpoint = scripted({kReceive, sends(Message::start(204)), sends(Message::body_chunk(""))});
  const App app = validated_chain({{"Outer", pass_through}, {"Doubler", doubler}, {"Inner", pass_through}},
                                  endpoint, observer, "home");
  FakeServer server;
  server.incoming = {Message::request("")};
  run_calls(app, {{http_scope(21), &server}});
  expect_one(observer, "start-once", "Doubler", 21);
  EXPECT_NE(observer.violations()[0].detail.find("Outer->Doubler"), std::string::npos);
  std::vector<std::string> boundaries;
  for (const Observation& observation : observer.log()) {
    if (std::find(boundaries.begin(), boundaries.end(), observation.layer) == boundaries.end()) {
      boundaries.push_back(observation.layer);
    }
  }
  // received goes outside-in, so the first receive lists the chain in order.
  EXPECT_EQ(boundaries,
            (std::vector<std::string>{"server->Outer", "Outer->Doubler", "Doubler->Inner", "Inner->home"}));
}

TEST(Validator, MiddlewareReplayingTheBodyTwiceIsBlamedOnTheReceiveSide) {
  Observer observer;
  observer.emplace<ProtocolValidator>();
  const auto replayer = [](App app) -> App {
    return [app](Scope& scope, const Receive& receive, const Send& send) {
      Message first = receive();
      int calls = 0;
      app(
          scope, [&]() { return ++calls <= 2 ? first : receive(); }, send);
    };
  };
  const App app = validated_chain(
      {{"Replayer", replayer}},
      scripted({kReceive, kReceive, sends(Message::start(200)), sends(Message::body_chunk(""))}), observer);
  FakeServer server;
  server.incoming = {Message::request("body")};
  run_calls(app, {{http_scope(22), &server}});
  expect_one(observer, "receive-order", "Replayer", 22);
  EXPECT_NE(observer.violations()[0].detail.find("Replayer->endpoint"), std::string::npos);
}

TEST(Validator, EchoesThroughPassThroughLayersAreReportedOnceUnlessAsked) {
  // Request 30: the server hands out a request after the final one (travels
  // inwards); request 31: the endpoint sends a body first (travels outwards).
  const App endpoint = [](Scope& scope, const Receive& receive, const Send& send) {
    if (scope.request_id == 30) {
      receive();
      receive();
    } else {
      send(Message::body_chunk("no start"));
    }
  };
  for (const bool report_echoes : {false, true}) {
    Observer observer;
    observer.emplace<ProtocolValidator>(ProtocolValidatorOptions{.report_echoes = report_echoes});
    const App app = validated_chain({{"A", pass_through}, {"B", pass_through}}, endpoint, observer);
    FakeServer servers[2];
    servers[0].incoming = {Message::request("x"), Message::request("y")};
    run_calls(app, {{http_scope(30), &servers[0]}, {http_scope(31), &servers[1]}});
    std::vector<std::string> blamed;
    for (const Violation& violation : observer.violations()) {
      blamed.push_back(violation.invariant + " " + violation.layer + " " + std::to_string(violation.request));
    }
    if (report_echoes) {
      EXPECT_EQ(blamed, (std::vector<std::string>{"receive-order server 30", "receive-order A 30",
                                                  "receive-order B 30", "body-after-start endpoint 31",
                                                  "body-after-start B 31", "body-after-start A 31"}));
    } else {
      EXPECT_EQ(blamed,
                (std::vector<std::string>{"receive-order server 30", "body-after-start endpoint 31"}));
    }
  }
}

}  // namespace
}  // namespace asgisim::core
