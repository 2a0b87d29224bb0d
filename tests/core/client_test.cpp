// Tests of the simulated clients (client.hpp) against the uvicorn model
// (uvicorn 0.28.x to 0.32.x): TestClient inside a task, run_app in sequence
// and concurrently, choices from the clients' stream (chunking, pauses, read
// pace, disconnect points), what a ClientRecord holds at every disconnect
// point, and determinism (same seed, same trace hash; strict replay).
#include "asgisim/core/client.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include "asgisim/sim/choice.hpp"

namespace asgisim::core {
namespace {

constexpr sim::Nanoseconds ms = sim::kMillisecond;

// Echoes "METHOD path?query body" after reading the whole body; stops early
// on http.disconnect.
void echo(Scope& scope, const Receive& receive, const Send& send) {
  Bytes body;
  for (;;) {
    const Message message = receive();
    if (message.type == MessageType::http_disconnect) return;
    body += message.body;
    if (!message.more_body) break;
  }
  const Bytes text = scope.method + " " + scope.path + "?" + scope.query_string + " " + body;
  send(Message::start(200, {{"content-length", std::to_string(text.size())}}));
  send(Message::body_chunk(text));
}

// A streamed response: start, three 5-byte chunks 5 ms apart, end.
void stream(Scope&, const Receive&, const Send& send) {
  send(Message::start(200));
  for (int i = 0; i < 3; ++i) {
    send(Message::body_chunk("chunk", true));
    sim::sleep(5 * ms);
  }
  send(Message::body_chunk("", false));
}

std::vector<ObservationKind> client_kinds(const Observer& observer) {
  std::vector<ObservationKind> kinds;
  for (const Observation& o : observer.log()) {
    if (o.layer != "uvicorn") kinds.push_back(o.kind);
  }
  return kinds;
}

TEST(TestClient, RunsInsideASimulatedTask) {
  Observer observer;
  sim::Simulation sim;
  sim.spawn("test", [&] {
    TestClient client(sim, observer, echo);
    const ClientRecord get = client.get("/items?limit=3");
    EXPECT_EQ(get.status, 200);
    EXPECT_EQ(get.body, "GET /items?limit=3 ");
    EXPECT_EQ(get.header("content-length"), "19");
    EXPECT_EQ(client.post("/upload", "payload").body, "POST /upload? payload");
    const ClientRecord head = client.head("/");
    EXPECT_TRUE(head.complete);
    EXPECT_EQ(head.body, "");
    EXPECT_EQ(head.connection, 1U);  // one keep-alive connection throughout
    EXPECT_EQ(head.request, 3U);
  });
  ASSERT_TRUE(sim.run().ok());
  // The TestClient's fixed choices take no decisions.
  EXPECT_EQ(sim.decisions().size(), 0U);
  EXPECT_EQ(client_kinds(observer).front(), ObservationKind::client_sent_request);
}

TEST(Client, ObservesWhatItSees) {
  Observer observer;
  AppRun run =
      run_app(stream, {RequestSpec{.read_pause_ns = 0, .disconnect = Disconnect{}}}, {.observer = &observer});
  ASSERT_TRUE(run.result.ok());
  EXPECT_EQ(client_kinds(observer),
            (std::vector{ObservationKind::client_sent_request, ObservationKind::client_got_start,
                         ObservationKind::client_got_body, ObservationKind::client_got_body,
                         ObservationKind::client_got_body, ObservationKind::client_got_complete}));
  const ClientRecord& record = run.records.at(0);
  EXPECT_EQ(record.body, "chunkchunkchunk");
  EXPECT_EQ(record.body_chunks, 3U);
  EXPECT_EQ(*record.completed_ns, 15 * ms);
}

TEST(Client, ReadsAtItsOwnPace) {
  AppRun run = run_app(stream, {RequestSpec{.read_pause_ns = 20 * ms, .disconnect = Disconnect{}}});
  ASSERT_TRUE(run.result.ok());
  EXPECT_EQ(*run.records[0].started_ns, 20 * ms);
  EXPECT_EQ(*run.records[0].completed_ns, 100 * ms);  // five reads, 20 ms apart
}

TEST(Client, SendsRequestsInOrderOnOneKeepAliveConnection) {
  const RequestSpec spec{.method = "POST", .body = "abc", .disconnect = Disconnect{}};
  AppRun run = run_app(echo, {spec, spec, spec});
  ASSERT_TRUE(run.result.ok());
  ASSERT_EQ(run.records.size(), 3U);
  for (std::size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(run.records[i].request, i + 1);
    EXPECT_EQ(run.records[i].connection, 1U);
    EXPECT_EQ(run.records[i].body, "POST /? abc");
  }
}

TEST(Client, ReconnectsWhenTheServerClosedTheConnection) {
  const RequestSpec spec{.disconnect = Disconnect{}};
  AppRun run = run_app(echo, {spec, spec}, {.server = {.keep_alive = false}});
  ASSERT_TRUE(run.result.ok());
  EXPECT_EQ(run.records[0].connection, 1U);
  EXPECT_EQ(run.records[1].connection, 2U);
  EXPECT_TRUE(run.records[1].complete);
}

TEST(Client, ConcurrentClientsUseTheirOwnConnections) {
  App slow = [](Scope& scope, const Receive& receive, const Send& send) {
    sim::sleep(10 * ms);
    echo(scope, receive, send);
  };
  const RequestSpec spec{.read_pause_ns = 0, .disconnect = Disconnect{}};
  AppRun run = run_app(slow, {spec, spec, spec}, {.concurrent = true});
  ASSERT_TRUE(run.result.ok());
  std::set<std::uint64_t> connections;
  for (const ClientRecord& record : run.records) {
    connections.insert(record.connection);
    EXPECT_EQ(*record.completed_ns, 10 * ms);  // they overlapped
  }
  EXPECT_EQ(connections.size(), 3U);
}

TEST(Client, RecordsEachDisconnectPoint) {
  struct Case {
    Disconnect disconnect;
    void (*check)(const ClientRecord&);
  };
  const std::vector<Case> cases = {
      {{.point = DisconnectPoint::before_sending}, [](const ClientRecord& r) { EXPECT_EQ(r.request, 0U); }},
      {{.point = DisconnectPoint::mid_body, .count = 1},
       [](const ClientRecord& r) {
         EXPECT_EQ(r.request_chunks_sent, 1U);
         EXPECT_FALSE(r.request_sent);
       }},
      {{.point = DisconnectPoint::after_start},
       [](const ClientRecord& r) {
         EXPECT_TRUE(r.started);
         EXPECT_EQ(r.body_chunks, 0U);
       }},
      {{.point = DisconnectPoint::after_body_chunks, .count = 2},
       [](const ClientRecord& r) { EXPECT_EQ(r.body, "chunkchunk"); }},
      {{.point = DisconnectPoint::after_complete}, [](const ClientRecord& r) { EXPECT_TRUE(r.complete); }},
      {{.point = DisconnectPoint::after_delay, .delay_ns = 7 * ms},
       [](const ClientRecord& r) {
         EXPECT_EQ(*r.ended_ns, 7 * ms);
         EXPECT_EQ(r.body_chunks, 2U);  // at 0 and 5 ms
       }},
  };
  App app = [](Scope& scope, const Receive& receive, const Send& send) {
    while (receive().more_body) {
    }
    stream(scope, receive, send);
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(std::string(to_string(c.disconnect.point)));
    Observer observer;
    AppRun run = run_app(app,
                         {RequestSpec{.method = "POST",
                                      .chunks = {{"a", "b", "c"}},
                                      .chunk_pause_ns = 0,
                                      .read_pause_ns = 0,
                                      .disconnect = c.disconnect}},
                         {.observer = &observer});
    ASSERT_TRUE(run.result.ok()) << run.result.report;
    const ClientRecord& record = run.records.at(0);
    EXPECT_TRUE(record.disconnected);
    EXPECT_EQ(record.plan.point, c.disconnect.point);
    EXPECT_FALSE(record.disconnect_detail.empty());
    EXPECT_EQ(client_kinds(observer).back(), ObservationKind::client_disconnected);
    c.check(record);
  }
}

TEST(Client, ChoosesChunkingPausesAndDisconnectsFromTheClientsStream) {
  const Bytes body = "0123456789abcdefghijklmnopqrstuvwxyz";
  std::set<std::size_t> chunk_counts;
  std::set<DisconnectPoint> points;
  for (std::uint64_t seed = 0; seed < 40; ++seed) {
    SCOPED_TRACE(seed);
    AppRun run = run_app(echo, {RequestSpec{.method = "POST", .body = body}},
                         {.simulation = {.seed = seed, .strategy = sim::Strategy::random},
                          .client = {.disconnect_one_in = 2}});
    ASSERT_TRUE(run.result.ok()) << run.result.report;
    const ClientRecord& record = run.records.at(0);
    points.insert(record.plan.point);
    if (record.plan.point == DisconnectPoint::never) {
      EXPECT_EQ(record.body, "POST /? " + body);  // chunk boundaries never leak into the body
      chunk_counts.insert(record.request_chunks_sent);
    }
  }
  EXPECT_GE(chunk_counts.size(), 3U);
  EXPECT_GE(points.size(), 4U);
}

TEST(Client, UnsetChoicesAreLabelledClientDecisions) {
  sim::Simulation sim({.seed = 3});
  Observer observer;
  Server server(sim, observer, echo);
  sim.spawn("client",
            [&] { Client(server, observer).run({RequestSpec{.method = "POST", .body = "abcdef"}}); });
  ASSERT_TRUE(sim.run().ok());
  std::set<std::string> labels;
  for (const sim::Decision& decision : sim.decisions().decisions()) {
    EXPECT_EQ(decision.stream, sim::Stream::clients);  // fifo: no scheduler decisions
    labels.insert(std::string(decision.label));
  }
  EXPECT_TRUE(labels.count("client.chunking"));
  EXPECT_TRUE(labels.count("client.read_pace"));
  EXPECT_TRUE(labels.count("client.disconnect"));
}

TEST(Client, NeverDisconnectsWhenTheOptionSaysSo) {
  for (std::uint64_t seed = 0; seed < 10; ++seed) {
    AppRun run = run_app(echo, {RequestSpec{}, RequestSpec{}},
                         {.simulation = {.seed = seed}, .client = {.disconnect_one_in = 0}});
    ASSERT_TRUE(run.result.ok());
    for (const ClientRecord& record : run.records) EXPECT_TRUE(record.complete && !record.disconnected);
  }
}

// ---- determinism -------------------------------------------------------------------

AppRun explore(std::uint64_t seed) {
  const RequestSpec spec{.method = "POST", .body = "some request body"};
  return run_app(
      [](Scope& scope, const Receive& receive, const Send& send) {
        sim::Simulation::current().spawn("background", [] { sim::sleep(3 * ms); });
        echo(scope, receive, send);
      },
      {spec, spec, spec},
      {.simulation = {.seed = seed, .strategy = sim::Strategy::random}, .concurrent = true});
}

TEST(Determinism, SameSeedGivesTheSameTraceHashAndRecords) {
  std::set<std::uint64_t> hashes;
  for (std::uint64_t seed = 0; seed < 8; ++seed) {
    const AppRun first = explore(seed);
    const AppRun second = explore(seed);
    ASSERT_TRUE(first.result.ok()) << first.result.report;
    EXPECT_EQ(first.result.trace_hash, second.result.trace_hash);
    ASSERT_EQ(first.records.size(), second.records.size());
    for (std::size_t i = 0; i < first.records.size(); ++i) {
      EXPECT_EQ(first.records[i].body, second.records[i].body);
      EXPECT_EQ(first.records[i].ended_ns, second.records[i].ended_ns);
      EXPECT_EQ(first.records[i].disconnect_detail, second.records[i].disconnect_detail);
    }
    hashes.insert(first.result.trace_hash);
  }
  EXPECT_GE(hashes.size(), 4U);  // the seed matters
}

TEST(Determinism, StrictReplayOfTheDecisionLogReproducesTheRun) {
  auto run_with = [](sim::Simulation& sim) {
    Observer observer;
    Server server(sim, observer, echo);
    sim.spawn("client", [&] {
      Client(server, observer).run({RequestSpec{.method = "POST", .body = "abcdefgh"}, RequestSpec{}});
    });
    return sim.run();
  };
  sim::Simulation recorded({.seed = 11, .strategy = sim::Strategy::random});
  const sim::RunResult first = run_with(recorded);
  sim::DecisionLog log = recorded.decisions();
  log.own_labels();
  sim::ReplayChoiceSource source(log.decisions(), sim::ReplayMode::strict);
  sim::Simulation replayed({.strategy = sim::Strategy::random}, source);
  const sim::RunResult second = run_with(replayed);
  ASSERT_TRUE(second.ok()) << second.report;
  EXPECT_EQ(first.trace_hash, second.trace_hash);
  EXPECT_TRUE(source.exhausted());
}

}  // namespace
}  // namespace asgisim::core
