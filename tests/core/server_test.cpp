// Tests of the uvicorn model (server.hpp, uvicorn 0.28.x to 0.32.x): the
// scope, receive merging and the 64 KiB read pause, disconnects, both
// send-after-disconnect modes, and the close on an app error with the open
// Kludex/uvicorn#3156 (every release's close: server_response_test.cpp).
#include "asgisim/core/server.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "asgisim/core/client.hpp"
#include "asgisim/core/validator.hpp"
#include "asgisim/sim/cancel.hpp"
#include "core/server_test_support.hpp"

namespace asgisim::core {
namespace {

using ::testing::HasSubstr;
using namespace server_test_support;
constexpr sim::Nanoseconds ms = sim::kMillisecond;

TEST(ServerOptions, UvicornReleases) {
  EXPECT_EQ(uvicorn_options("0.27.1").spec_version, "2.3");
  EXPECT_EQ(uvicorn_options("0.28.0").spec_version, "2.4");
  EXPECT_EQ(uvicorn_options("0.28.0").send_after_disconnect, SendAfterDisconnect::raise);
  EXPECT_EQ(uvicorn_options("0.28.1").send_after_disconnect, SendAfterDisconnect::drop);
  EXPECT_EQ(uvicorn_options("0.32.0").spec_version, "2.4");
  EXPECT_EQ(uvicorn_options("0.32.1").spec_version, "2.3");
  EXPECT_EQ(uvicorn_options("0.51.0").close_on_error, ErrorClose::always);  // every release read
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

// receive_or_cancelled() (asgi.hpp): the server's receive and a validated
// boundary's report the cancellation of their wait as nullopt, observe
// nothing for it, and their call form still raises; a receive the stack did
// not make is called as it is.
TEST(Server, ACancelledReceiveIsAValueThroughTheServerAndABoundaryAndRaisedElsewhere) {
  std::optional<Message> first;
  std::optional<Message> cancelled = Message{};
  bool value_scope_swallowed = false;
  int raised = 0;
  App inner = [&](Scope&, const Receive& receive, const Send& send) {
    first = receive_or_cancelled(receive);  // the GET's empty body: no wait
    value_scope_swallowed = sim::move_on_after(ms, [&] {
      cancelled = receive_or_cancelled(receive);  // waits for a disconnect that does not come
      return cancelled ? sim::BodyEnd::returned : sim::BodyEnd::cancelled;
    });
    const auto count_raised = [&](const auto& call) {
      sim::move_on_after(ms, [&] {
        try {
          call();
        } catch (const sim::Cancelled&) {
          ++raised;
          throw;
        }
      });
    };
    count_raised([&] { receive(); });  // the call form still raises
    const Receive own = [&] { return receive(); };
    count_raised([&] { receive_or_cancelled(own); });  // a wrapper the stack did not make
    respond(send);
  };
  Observer observer;
  ASSERT_TRUE(in_sim([&](sim::Simulation& sim) {
                const App app = validate_boundary(inner, "server", "app", observer);
                TestClient client(sim, observer, app);
                EXPECT_EQ(client.get("/").status, 200);
              }).ok());
  ASSERT_TRUE(first.has_value());
  EXPECT_EQ(first->type, MessageType::http_request);
  EXPECT_FALSE(cancelled.has_value());
  EXPECT_TRUE(value_scope_swallowed);
  EXPECT_EQ(raised, 2);
  int received_at_boundary = 0;
  for (const Observation& o : observer.log()) {
    if (o.kind == ObservationKind::received && o.layer == "server->app") ++received_at_boundary;
  }
  EXPECT_EQ(received_at_boundary, 1);
  EXPECT_TRUE(observer.violations().empty());
}

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

// ---- an app error after the response completed (Kludex/uvicorn#3156) -----------------

// Request 1 raises 10 ms after its response completed (background work);
// request 2, sent on the same connection, answers at 20 ms.
App raises_after_completing(bool send_after_completion) {
  return [send_after_completion](Scope& scope, const Receive&, const Send& send) {
    if (scope.request_id == 1) {
      send(Message::start(200, {{"content-length", "2"}}));
      send(Message::body_chunk("ok"));
      sim::sleep(10 * ms);
      if (send_after_completion) send(Message::body_chunk("more"));  // raises ProtocolError
      throw std::runtime_error("background failed");
    }
    sim::sleep(20 * ms);
    send(Message::start(200, {{"content-length", "2"}}));
    send(Message::body_chunk("ok"));
  };
}

TEST(Server, WithPr3156AnErrorAfterACompletedResponseKeepsTheConnection) {
  Observer observer;
  ASSERT_TRUE(in_sim([&](sim::Simulation& sim) {
                TestClient client(sim, observer, raises_after_completing(false),
                                  {.close_on_error = ErrorClose::incomplete_or_protocol_error});
                EXPECT_TRUE(client.get("/1").complete);
                const ClientRecord second = client.get("/2");
                EXPECT_EQ(second.connection, 1U);
                EXPECT_TRUE(second.complete);
              }).ok());
  EXPECT_EQ(find(observer, ObservationKind::connection_closed), nullptr);
  EXPECT_NE(find(observer, ObservationKind::app_raised), nullptr);
}

TEST(Server, WithPr3156AProtocolErrorAfterCompletionStillCloses) {
  Observer observer;
  ASSERT_TRUE(in_sim([&](sim::Simulation& sim) {
                TestClient client(sim, observer, raises_after_completing(true),
                                  {.close_on_error = ErrorClose::incomplete_or_protocol_error});
                EXPECT_TRUE(client.get("/1").complete);
                EXPECT_TRUE(client.get("/2").closed_by_server);
              }).ok());
  EXPECT_EQ(find(observer, ObservationKind::connection_closed)->request, 1U);
}

}  // namespace
}  // namespace asgisim::core
