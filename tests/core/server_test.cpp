// Tests of the uvicorn model (server.hpp, uvicorn 0.28.x to 0.32.x): the
// scope, receive merging and the 64 KiB read pause, disconnects, both
// send-after-disconnect modes, the 500 and close rules, Content-Length, HEAD,
// keep-alive sequencing and pipelining, write flow control, and bad messages
// from the app (clear ProtocolErrors, never a crash).
#include "asgisim/core/server.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>
#include <stdexcept>
#include <string>
#include <vector>

#include "asgisim/core/client.hpp"

namespace asgisim::core {
namespace {

using ::testing::HasSubstr;
constexpr sim::Nanoseconds ms = sim::kMillisecond;

// Runs `body(sim)` as the only task of a fresh fifo simulation.
template <class Body>
sim::RunResult in_sim(Body&& body, sim::SimulationOptions options = {}) {
  sim::Simulation sim(options);
  sim.spawn("test", [&] { body(sim); });
  return sim.run();
}

void respond(const Send& send, int status = 200, Bytes body = "ok") {
  send(Message::start(status, {{"content-length", std::to_string(body.size())}}));
  send(Message::body_chunk(std::move(body)));
}

// The server's observations of one request, in order.
std::vector<ObservationKind> server_kinds(const Observer& observer, RequestId request) {
  std::vector<ObservationKind> kinds;
  for (const Observation& o : observer.log()) {
    if (o.request == request && o.layer == "uvicorn") kinds.push_back(o.kind);
  }
  return kinds;
}

const Observation* find(const Observer& observer, ObservationKind kind) {
  for (const Observation& o : observer.log()) {
    if (o.kind == kind) return &o;
  }
  return nullptr;
}

TEST(ServerOptions, UvicornReleases) {
  EXPECT_EQ(uvicorn_options("0.27.1").spec_version, "2.3");
  EXPECT_EQ(uvicorn_options("0.28.0").spec_version, "2.4");
  EXPECT_EQ(uvicorn_options("0.28.0").send_after_disconnect, SendAfterDisconnect::raise);
  EXPECT_EQ(uvicorn_options("0.28.1").send_after_disconnect, SendAfterDisconnect::drop);
  EXPECT_EQ(uvicorn_options("0.32.0").spec_version, "2.4");
  EXPECT_EQ(uvicorn_options("0.32.1").spec_version, "2.3");
}

TEST(Server, ScopeCarriesTheRequestAndIdsInArrivalOrder) {
  std::vector<Scope> scopes;
  App app = [&](Scope& scope, const Receive&, const Send& send) {
    scopes.push_back(scope);
    respond(send);
  };
  Observer observer;
  ASSERT_TRUE(in_sim([&](sim::Simulation& sim) {
                TestClient client(sim, observer, app, {.spec_version = "2.4", .root_path = "/api"});
                EXPECT_EQ(client.get("/items?limit=3", {{"X-Token", "abc"}}).status, 200);
                client.close();
                client.post("/upload", "data");
              }).ok());
  ASSERT_EQ(scopes.size(), 2U);
  EXPECT_EQ(scopes[0].spec_version, "2.4");
  EXPECT_EQ(scopes[0].method, "GET");
  EXPECT_EQ(scopes[0].path, "/api/items");
  EXPECT_EQ(scopes[0].raw_path, "/api/items");
  EXPECT_EQ(scopes[0].root_path, "/api");
  EXPECT_EQ(scopes[0].query_string, "limit=3");
  EXPECT_EQ(find_header(scopes[0].headers, "x-token"), "abc");  // names lowered
  EXPECT_EQ(scopes[0].request_id, 1U);
  EXPECT_EQ(scopes[1].request_id, 2U);  // a new connection: ids are server-wide
  EXPECT_EQ(find_header(scopes[1].headers, "content-length"), "4");
}

// ---- receive -------------------------------------------------------------------------

TEST(Server, ReceiveMergesEverythingThatArrivedSinceTheLastCall) {
  std::vector<Message> got;
  App app = [&](Scope&, const Receive& receive, const Send& send) {
    sim::sleep(50 * ms);  // all three chunks arrive meanwhile
    got.push_back(receive());
    respond(send);
  };
  Observer observer;
  ASSERT_TRUE(in_sim([&](sim::Simulation& sim) {
                TestClient(sim, observer, app)
                    .request({.method = "POST", .chunks = {{"ab", "cd", "ef"}}, .chunk_pause_ns = 10 * ms});
              }).ok());
  ASSERT_EQ(got.size(), 1U);
  EXPECT_EQ(got[0].type, MessageType::http_request);
  EXPECT_EQ(got[0].body, "abcdef");
  EXPECT_FALSE(got[0].more_body);
}

TEST(Server, ReceiveHandsOutBytesAsTheyArriveAndTheEndWithTheLastChunk) {
  std::vector<Message> got;
  App app = [&](Scope&, const Receive& receive, const Send& send) {
    do got.push_back(receive());
    while (got.back().more_body);
    respond(send);
  };
  Observer observer;
  ASSERT_TRUE(in_sim([&](sim::Simulation& sim) {
                TestClient(sim, observer, app)
                    .request({.method = "POST", .chunks = {{"ab", "cd", "ef"}}, .chunk_pause_ns = 10 * ms});
              }).ok());
  ASSERT_EQ(got.size(), 3U);
  EXPECT_EQ(got[0].body, "ab");
  EXPECT_TRUE(got[0].more_body);
  EXPECT_EQ(got[1].body, "cd");
  EXPECT_EQ(got[2].body, "ef");  // no separate empty more_body=false message
  EXPECT_FALSE(got[2].more_body);
}

TEST(Server, ReadingPausesAbove64KiBUntilTheAppReceives) {
  const Bytes chunk(40 * 1024, 'x');
  std::vector<Message> got;
  bool paused_at_10ms = false;
  std::shared_ptr<Connection> connection;
  App app = [&](Scope&, const Receive& receive, const Send& send) {
    sim::sleep(10 * ms);
    paused_at_10ms = connection->reading_paused();
    sim::sleep(40 * ms);
    do got.push_back(receive());
    while (got.back().more_body);
    respond(send);
  };
  Observer observer;
  sim::Nanoseconds sent_ns = 0;
  ASSERT_TRUE(in_sim([&](sim::Simulation& sim) {
                Server server(sim, observer, app);
                connection = server.connect();
                connection->send_head({.method = "POST"});
                for (int i = 0; i < 3; ++i) ASSERT_TRUE(connection->send_body(chunk));
                ASSERT_TRUE(connection->end_request());
                sent_ns = sim.now();
                while (connection->read().kind != ResponseEvent::Kind::end) {
                }
              }).ok());
  EXPECT_TRUE(paused_at_10ms);
  EXPECT_EQ(sent_ns, 50 * ms);  // the third chunk waited for the app's receive()
  ASSERT_EQ(got.size(), 2U);
  EXPECT_EQ(got[0].body.size(), 80U * 1024);  // 80 KiB buffered: above the limit
  EXPECT_TRUE(got[0].more_body);
  EXPECT_EQ(got[1].body.size(), 40U * 1024);
}

TEST(Server, OnceTheBodyIsDoneReceiveWaitsForTheResponseThenDisconnectsForever) {
  sim::Nanoseconds listener_woke_ns = -1;
  std::vector<Message> got;
  App app = [&](Scope&, const Receive& receive, const Send& send) {
    got.push_back(receive());
    sim::Simulation::current().spawn("listener", [receive, &listener_woke_ns, &got] {
      got.push_back(receive());
      listener_woke_ns = sim::now();
    });
    sim::sleep(20 * ms);
    respond(send);
    got.push_back(receive());
  };
  Observer observer;
  ASSERT_TRUE(in_sim([&](sim::Simulation& sim) { TestClient(sim, observer, app).post("/", "body"); }).ok());
  EXPECT_EQ(listener_woke_ns, 20 * ms);
  ASSERT_EQ(got.size(), 3U);
  EXPECT_EQ(got[0].body, "body");
  EXPECT_EQ(got[1].type, MessageType::http_disconnect);
  EXPECT_EQ(got[2].type, MessageType::http_disconnect);
}

// ---- disconnects -----------------------------------------------------------------

TEST(Server, DisconnectMidBodyDropsBufferedBytesWithoutAFinalRequestMessage) {
  std::vector<Message> got;
  App app = [&](Scope&, const Receive& receive, const Send&) {
    sim::sleep(50 * ms);
    got.push_back(receive());
    got.push_back(receive());
  };
  Observer observer;
  ASSERT_TRUE(in_sim([&](sim::Simulation& sim) {
                TestClient(sim, observer, app)
                    .request({.method = "POST",
                              .chunks = {{"aa", "bb", "cc"}},
                              .disconnect = Disconnect{.point = DisconnectPoint::mid_body, .count = 2}});
              }).ok());
  ASSERT_EQ(got.size(), 2U);
  EXPECT_EQ(got[0].type, MessageType::http_disconnect);
  EXPECT_EQ(got[1].type, MessageType::http_disconnect);
  EXPECT_EQ(server_kinds(observer, 1),
            (std::vector{ObservationKind::request_started, ObservationKind::app_returned}));
}

// The app reads the body, starts a streaming response, waits for the client
// to leave, then keeps sending.
struct StreamAfterLeaving {
  std::vector<Message> got;
  std::string error;
  App app() {
    return [this](Scope&, const Receive& receive, const Send& send) {
      got.push_back(receive());
      send(Message::start(200));
      got.push_back(receive());  // blocks until the client leaves
      try {
        send(Message::body_chunk("late", true));
        send(Message::body_chunk("", false));
      } catch (const ClientDisconnected& e) {
        error = e.what();
      }
    };
  }
};

TEST(Server, SendAfterAnEarlyDisconnectIsDroppedByDefault) {
  StreamAfterLeaving app;
  Observer observer;
  ASSERT_TRUE(in_sim([&](sim::Simulation& sim) {
                TestClient(sim, observer, app.app())
                    .request({.disconnect = Disconnect{.point = DisconnectPoint::after_start}});
              }).ok());
  ASSERT_EQ(app.got.size(), 2U);
  EXPECT_EQ(app.got[1].type, MessageType::http_disconnect);
  EXPECT_EQ(app.error, "");
  EXPECT_EQ(server_kinds(observer, 1),
            (std::vector{ObservationKind::request_started, ObservationKind::send_dropped,
                         ObservationKind::send_dropped, ObservationKind::app_returned}));
}

TEST(Server, SendAfterAnEarlyDisconnectRaisesInUvicorn0280) {
  StreamAfterLeaving app;
  Observer observer;
  ASSERT_TRUE(in_sim([&](sim::Simulation& sim) {
                TestClient(sim, observer, app.app(), uvicorn_options("0.28.0"))
                    .request({.disconnect = Disconnect{.point = DisconnectPoint::after_start}});
              }).ok());
  EXPECT_EQ(app.error, "client disconnected");
}

TEST(Server, ClientDisconnectedLeavingTheAppIsIgnoredInUvicorn0280) {
  App app = [](Scope&, const Receive& receive, const Send& send) {
    receive();
    send(Message::start(200));
    receive();
    send(Message::body_chunk("late"));  // raises ClientDisconnected out of the app
  };
  Observer observer;
  ASSERT_TRUE(in_sim([&](sim::Simulation& sim) {
                TestClient(sim, observer, app, uvicorn_options("0.28.0"))
                    .request({.disconnect = Disconnect{.point = DisconnectPoint::after_start}});
              }).ok());
  EXPECT_EQ(server_kinds(observer, 1),
            (std::vector{ObservationKind::request_started, ObservationKind::send_dropped,
                         ObservationKind::app_raised}));
  EXPECT_THAT(find(observer, ObservationKind::app_raised)->detail, HasSubstr("ignored"));
}

TEST(Server, EveryDisconnectPointEndsCleanly) {
  for (int point = 0; point <= static_cast<int>(DisconnectPoint::after_delay); ++point) {
    SCOPED_TRACE(std::string(to_string(static_cast<DisconnectPoint>(point))));
    App app = [](Scope&, const Receive& receive, const Send& send) {
      while (receive().more_body) {
      }
      send(Message::start(200));
      for (int i = 0; i < 3; ++i) {
        sim::sleep(5 * ms);
        send(Message::body_chunk("chunk", true));
      }
      send(Message::body_chunk("", false));
    };
    const Disconnect disconnect{.point = static_cast<DisconnectPoint>(point), .count = 1, .delay_ns = 7 * ms};
    AppRun run = run_app(app, {RequestSpec{.method = "POST", .body = "abcdef", .disconnect = disconnect}});
    ASSERT_TRUE(run.result.ok()) << run.result.report;
    ASSERT_EQ(run.records.size(), 1U);
    EXPECT_EQ(run.records[0].disconnected, point != 0);
    EXPECT_EQ(run.records[0].complete, point == 0 || disconnect.point == DisconnectPoint::after_complete);
  }
}

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
