// Tests of how the uvicorn model ends a response (server.hpp, uvicorn 0.28.x to
// 0.32.x): the 500 and close rules, keep-alive sequencing and pipelining, write
// flow control, Content-Length, HEAD, and bad messages from the app (clear
// ProtocolErrors, never a crash).
#include "asgisim/core/server.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>
#include <stdexcept>
#include <string>
#include <vector>

#include "asgisim/core/client.hpp"
#include "core/server_test_support.hpp"

namespace asgisim::core {
namespace {

using ::testing::HasSubstr;
using namespace server_test_support;
constexpr sim::Nanoseconds ms = sim::kMillisecond;

// ---- the 500 and close rules ---------------------------------------------------

TEST(Server, ExceptionBeforeStartGives500AndClosesTheConnection) {
  App app = [](Scope&, const Receive&, const Send&) { throw std::runtime_error("boom"); };
  Observer observer;
  ASSERT_TRUE(in_sim([&](sim::Simulation& sim) {
                TestClient client(sim, observer, app);
                const ClientRecord first = client.get("/");
                EXPECT_EQ(first.status, 500);
                EXPECT_EQ(first.body, "Internal Server Error");
                EXPECT_EQ(first.header("connection"), "close");
                EXPECT_TRUE(first.complete);
                EXPECT_EQ(client.get("/").connection, 2U);  // the first connection was closed
              }).ok());
  EXPECT_EQ(
      server_kinds(observer, 1),
      (std::vector{ObservationKind::request_started, ObservationKind::app_raised, ObservationKind::server_500,
                   ObservationKind::response_completed, ObservationKind::connection_closed}));
  EXPECT_EQ(find(observer, ObservationKind::app_raised)->detail, "boom");
}

TEST(Server, ExceptionAfterStartClosesWithout500) {
  App app = [](Scope&, const Receive&, const Send& send) {
    send(Message::start(200, {{"content-length", "10"}}));
    send(Message::body_chunk("abc", true));
    throw std::runtime_error("boom");
  };
  Observer observer;
  ClientRecord record;
  ASSERT_TRUE(in_sim([&](sim::Simulation& sim) { record = TestClient(sim, observer, app).get("/"); }).ok());
  EXPECT_EQ(record.status, 200);
  EXPECT_EQ(record.body, "abc");
  EXPECT_FALSE(record.complete);
  EXPECT_TRUE(record.closed_by_server);
  EXPECT_EQ(find(observer, ObservationKind::server_500), nullptr);
  EXPECT_EQ(find(observer, ObservationKind::connection_closed)->detail,
            "app raised after http.response.start");
}

TEST(Server, ExceptionInBackgroundWorkClosesTheKeepAliveConnection) {
  App app = [](Scope& scope, const Receive&, const Send& send) {
    if (scope.request_id == 1) {
      respond(send);
      sim::sleep(10 * ms);  // background work after the response
      throw std::runtime_error("background failed");
    }
    sim::sleep(20 * ms);
    respond(send);  // dropped: the connection closed at 10 ms
  };
  Observer observer;
  ASSERT_TRUE(in_sim([&](sim::Simulation& sim) {
                TestClient client(sim, observer, app);
                EXPECT_TRUE(client.get("/1").complete);
                const ClientRecord second = client.get("/2");
                EXPECT_EQ(second.connection, 1U);
                EXPECT_TRUE(second.closed_by_server);
                EXPECT_FALSE(second.started);
                EXPECT_EQ(*second.ended_ns, 10 * ms);
              }).ok());
  EXPECT_EQ(server_kinds(observer, 2),
            (std::vector{ObservationKind::request_started, ObservationKind::send_dropped,
                         ObservationKind::send_dropped, ObservationKind::app_returned}));
}

TEST(Server, ReturningWithoutAResponseGives500OnlyIfTheClientIsThere) {
  App app = [](Scope&, const Receive&, const Send&) { sim::sleep(10 * ms); };
  Observer observer;
  ASSERT_TRUE(in_sim([&](sim::Simulation& sim) {
                TestClient client(sim, observer, app);
                EXPECT_EQ(client.get("/").status, 500);
                const ClientRecord left = client.request(
                    {.disconnect = Disconnect{.point = DisconnectPoint::after_delay, .delay_ns = 5 * ms}});
                EXPECT_TRUE(left.disconnected);
              }).ok());
  EXPECT_EQ(find(observer, ObservationKind::server_500)->detail,
            "app returned without starting the response");
  EXPECT_EQ(server_kinds(observer, 2),
            (std::vector{ObservationKind::request_started, ObservationKind::app_returned}));
}

TEST(Server, ReturningWithAStartedResponseClosesWithout500) {
  App app = [](Scope&, const Receive&, const Send& send) { send(Message::start(200)); };
  Observer observer;
  ClientRecord record;
  ASSERT_TRUE(in_sim([&](sim::Simulation& sim) { record = TestClient(sim, observer, app).get("/"); }).ok());
  EXPECT_TRUE(record.started);
  EXPECT_FALSE(record.complete);
  EXPECT_TRUE(record.closed_by_server);
  EXPECT_EQ(find(observer, ObservationKind::server_500), nullptr);
  EXPECT_EQ(find(observer, ObservationKind::connection_closed)->detail,
            "app returned without completing the response");
}

// ---- keep-alive ------------------------------------------------------------------

TEST(Server, NextKeepAliveRequestStartsWhileThePreviousAppStillRuns) {
  sim::Nanoseconds first_returned_ns = -1, second_started_ns = -1;
  App app = [&](Scope& scope, const Receive&, const Send& send) {
    if (scope.request_id == 2) second_started_ns = sim::now();
    respond(send);
    if (scope.request_id == 1) {
      sim::sleep(100 * ms);  // a background task
      first_returned_ns = sim::now();
    }
  };
  Observer observer;
  ASSERT_TRUE(in_sim([&](sim::Simulation& sim) {
                TestClient client(sim, observer, app);
                EXPECT_EQ(client.get("/1").connection, 1U);
                EXPECT_EQ(client.get("/2").connection, 1U);
              }).ok());
  EXPECT_EQ(second_started_ns, 0);
  EXPECT_EQ(first_returned_ns, 100 * ms);
}

TEST(Server, PipelinedRequestWaitsForThePreviousResponse) {
  sim::Nanoseconds second_started_ns = -1;
  App app = [&](Scope& scope, const Receive&, const Send& send) {
    if (scope.request_id == 1) sim::sleep(30 * ms);
    if (scope.request_id == 2) second_started_ns = sim::now();
    respond(send);
  };
  Observer observer;
  ASSERT_TRUE(in_sim([&](sim::Simulation& sim) {
                Server server(sim, observer, app);
                auto connection = server.connect();
                EXPECT_EQ(connection->send_head({.path = "/1"}), 1U);
                connection->end_request();
                EXPECT_EQ(connection->send_head({.path = "/2"}), 2U);
                connection->end_request();
                int ends = 0;
                while (ends < 2) ends += connection->read().kind == ResponseEvent::Kind::end ? 1 : 0;
              }).ok());
  EXPECT_EQ(second_started_ns, 30 * ms);
}

TEST(Server, ConnectionCloseAndDisabledKeepAliveCloseAfterTheResponse) {
  App app = [](Scope&, const Receive&, const Send& send) { respond(send); };
  Observer observer;
  ASSERT_TRUE(in_sim([&](sim::Simulation& sim) {
                TestClient client(sim, observer, app);
                EXPECT_EQ(client.get("/", {{"connection", "close"}}).header("connection"), "close");
                EXPECT_EQ(client.get("/").connection, 2U);
                TestClient no_keep_alive(sim, observer, app, {.keep_alive = false});
                EXPECT_EQ(no_keep_alive.get("/").connection, 1U);
                EXPECT_EQ(no_keep_alive.get("/").connection, 2U);
              }).ok());
  EXPECT_EQ(find(observer, ObservationKind::connection_closed)->detail, "connection: close");
}

TEST(Server, SendWaitsWhileASlowClientHasTooMuchUnread) {
  std::vector<sim::Nanoseconds> sent_ns;
  App app = [&](Scope&, const Receive&, const Send& send) {
    send(Message::start(200));
    for (int i = 0; i < 3; ++i) {
      send(Message::body_chunk(Bytes(40 * 1024, 'x'), i < 2));
      sent_ns.push_back(sim::now());
    }
  };
  Observer observer;
  ASSERT_TRUE(in_sim([&](sim::Simulation& sim) {
                EXPECT_TRUE(TestClient(sim, observer, app).request({.read_pause_ns = 50 * ms}).complete);
              }).ok());
  // 80 KiB unread pauses writing; reading down to 16 KiB (start at 50 ms,
  // chunks at 100 and 150 ms) resumes it.
  EXPECT_EQ(sent_ns, (std::vector<sim::Nanoseconds>{0, 0, 150 * ms}));
}

// ---- protocol errors ----------------------------------------------------------------

TEST(Server, ContentLengthMismatchAndSendAfterCompletionRaiseIntoTheApp) {
  std::vector<std::string> errors;
  App app = [&](Scope& scope, const Receive&, const Send& send) {
    try {
      send(Message::start(200, {{"content-length", "3"}}));
      if (scope.path == "/long") send(Message::body_chunk("abcd"));
      if (scope.path == "/short") send(Message::body_chunk("ab"));
      if (scope.path == "/twice") {
        send(Message::body_chunk("abc"));
        send(Message::body_chunk("more"));
      }
    } catch (const ProtocolError& e) {
      errors.push_back(e.what());
    }
  };
  Observer observer;
  ASSERT_TRUE(in_sim([&](sim::Simulation& sim) {
                TestClient client(sim, observer, app);
                EXPECT_TRUE(client.get("/long").closed_by_server);
                EXPECT_TRUE(client.get("/short").closed_by_server);
                EXPECT_TRUE(client.get("/twice").complete);
              }).ok());
  ASSERT_EQ(errors.size(), 3U);
  EXPECT_THAT(errors[0], HasSubstr("longer than Content-Length"));
  EXPECT_THAT(errors[1], HasSubstr("shorter than Content-Length"));
  EXPECT_EQ(errors[2],
            "Unexpected ASGI message 'http.response.body' sent, after response already completed.");
  EXPECT_EQ(find(observer, ObservationKind::protocol_error)->detail, errors[0]);
}

TEST(Server, HeadResponsesCarryNoBodyAndResponsesWithoutLengthAreChunked) {
  App app = [](Scope& scope, const Receive&, const Send& send) {
    if (scope.path == "/no-content") {
      send(Message::start(204));
      send(Message::body_chunk(""));
      return;
    }
    send(Message::start(200, scope.path == "/sized" ? Headers{{"content-length", "5"}} : Headers{}));
    send(Message::body_chunk("hello"));
  };
  Observer observer;
  ASSERT_TRUE(in_sim([&](sim::Simulation& sim) {
                TestClient client(sim, observer, app);
                const ClientRecord head = client.head("/sized");
                EXPECT_TRUE(head.complete);
                EXPECT_EQ(head.body, "");
                EXPECT_EQ(head.header("content-length"), "5");
                EXPECT_EQ(client.head("/").header("transfer-encoding"), std::nullopt);
                EXPECT_EQ(client.get("/").header("transfer-encoding"), "chunked");
                EXPECT_EQ(client.get("/").body, "hello");
                EXPECT_EQ(client.get("/no-content").header("transfer-encoding"), std::nullopt);
              }).ok());
}

TEST(Server, BadMessagesFromTheAppRaiseClearProtocolErrors) {
  struct Case {
    std::vector<Message> messages;
    std::string error;
  };
  const std::vector<Case> cases = {
      {{Message::body_chunk("x")},
       "Expected ASGI message 'http.response.start', but got 'http.response.body'."},
      {{Message::request("x")}, "Expected ASGI message 'http.response.start', but got 'http.request'."},
      {{Message::start(200), Message::start(200)}, "but got 'http.response.start'."},
      {{Message{.type = MessageType::lifespan_startup_complete}}, "but got 'lifespan.startup.complete'."},
      {{Message::start(42)}, "Invalid HTTP status code 42"},
      {{Message::start(600)}, "Invalid HTTP status code 600"},
      {{Message::start(200, {{"bad name", "v"}})}, "Invalid HTTP header name 'bad name'"},
      {{Message::start(200, {{"x\r\n", "v"}})}, "Invalid HTTP header name 'x\\x0d\\x0a'"},
      {{Message::start(200, {{std::string("x\0y", 3), "v"}})}, "byte 0x00 is not allowed"},
      {{Message::start(200, {{"", "v"}})}, "Invalid HTTP header name ''"},
      {{Message::start(200, {{"x-a", "a\r\nb"}})}, "Invalid HTTP header value 'a\\x0d\\x0ab' for 'x-a'"},
      {{Message::start(200, {{"content-length", "abc"}})}, "Invalid Content-Length value 'abc'"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.error);
    std::string error;
    App app = [&](Scope&, const Receive&, const Send& send) {
      try {
        for (const Message& message : c.messages) send(message);
      } catch (const ProtocolError& e) {
        error = e.what();
      }
    };
    AppRun run = run_app(app, {RequestSpec{.disconnect = Disconnect{}}});
    ASSERT_TRUE(run.result.ok()) << run.result.report;
    EXPECT_THAT(error, HasSubstr(c.error));
  }
}

TEST(Server, UncaughtProtocolErrorsFollowThe500AndCloseRules) {
  App wrong_type = [](Scope&, const Receive&, const Send& send) { send(Message::body_chunk("x")); };
  AppRun run = run_app(wrong_type, {RequestSpec{.disconnect = Disconnect{}}});
  ASSERT_TRUE(run.result.ok());
  EXPECT_EQ(run.records[0].status, 500);  // nothing was started
  // uvicorn marks the response started before it checks the status code.
  App bad_status = [](Scope&, const Receive&, const Send& send) { send(Message::start(1000)); };
  run = run_app(bad_status, {RequestSpec{.disconnect = Disconnect{}}});
  ASSERT_TRUE(run.result.ok());
  EXPECT_FALSE(run.records[0].started);
  EXPECT_TRUE(run.records[0].closed_by_server);
}

TEST(Server, HeaderNamesAreLoweredAndTabsAllowedInValues) {
  App app = [](Scope&, const Receive&, const Send& send) {
    send(Message::start(200, {{"X-Custom", "a\tb"}, {"content-length", "0"}}));
    send(Message::body_chunk(""));
  };
  AppRun run = run_app(app, {RequestSpec{.disconnect = Disconnect{}}});
  ASSERT_TRUE(run.result.ok());
  EXPECT_EQ(run.records[0].header("x-custom"), "a\tb");
}

TEST(Server, AppWaitingForItselfIsReportedAsADeadlock) {
  App app = [](Scope&, const Receive& receive, const Send& send) {
    receive();
    receive();  // the body is done: waits for a response that only this app can send
    respond(send);
  };
  AppRun run = run_app(app, {RequestSpec{.disconnect = Disconnect{}}});
  EXPECT_EQ(run.result.status, sim::RunStatus::deadlock);
  EXPECT_THAT(run.result.report, HasSubstr("request 1 message_event"));
}

// receive-order and disconnect-sticky under random and PCT schedules, with
// chunking, pauses and disconnects chosen by the clients' stream.
TEST(Server, ReceiveOrderAndStickyDisconnectHoldUnderEverySchedule) {
  const Bytes body(100 * 1024, 'b');
  for (std::uint64_t seed = 0; seed < 60; ++seed) {
    SCOPED_TRACE(seed);
    std::map<RequestId, std::vector<Message>> seen;
    App app = [&](Scope& scope, const Receive& receive, const Send& send) {
      std::vector<Message>& log = seen[scope.request_id];
      do log.push_back(receive());
      while (log.back().more_body);
      send(Message::start(200));
      for (int i = 0; i < 2; ++i) {
        sim::sleep(sim::kMillisecond);
        send(Message::body_chunk("part", true));
      }
      send(Message::body_chunk("", false));
      log.push_back(receive());
    };
    const RequestSpec spec{.method = "POST", .body = body};
    const sim::Strategy strategy = seed % 3 == 0 ? sim::Strategy::pct : sim::Strategy::random;
    AppRun run = run_app(app, {spec, spec, spec},
                         {.simulation = {.seed = seed, .strategy = strategy},
                          .client = {.disconnect_one_in = 2},
                          .concurrent = seed % 2 == 0});
    ASSERT_TRUE(run.result.ok()) << run.result.report;
    for (const auto& [request, log] : seen) {
      Bytes received;
      std::size_t i = 0;
      for (; i < log.size() && log[i].type == MessageType::http_request; ++i) received += log[i].body;
      EXPECT_EQ(received, body.substr(0, received.size()));
      const bool ended = i > 0 && !log[i - 1].more_body;
      EXPECT_TRUE(ended || log[i].type == MessageType::http_disconnect);
      for (std::size_t j = ended ? i : i + 1; j < log.size(); ++j) {
        EXPECT_EQ(log[j].type, MessageType::http_disconnect) << "request " << request << " message " << j;
      }
    }
    for (const ClientRecord& record : run.records) {
      if (record.disconnected || record.closed_by_server) continue;
      EXPECT_TRUE(record.complete);
      EXPECT_EQ(record.body, "partpart");
    }
  }
}

}  // namespace
}  // namespace asgisim::core
