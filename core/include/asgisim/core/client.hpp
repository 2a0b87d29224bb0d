// Simulated HTTP/1.1 clients for the uvicorn model (server.hpp, uvicorn
// 0.28.x to 0.32.x): a Client that sends requests in chunks with pauses,
// reads at its own pace and may leave at any point, every unspecified choice
// coming from the run's choice stream (Stream::clients), and records what it
// saw; a TestClient in the spirit of Starlette's on top; and run_app(), which
// runs a whole Simulation around an app for tests.
//
//   sim.spawn("test", [&] {
//     TestClient client(sim, observer, app);
//     ClientRecord response = client.get("/items?limit=3");
//     EXPECT_EQ(response.status, 200);
//   });
//
//   AppRun run = run_app(app, {RequestSpec{.method = "POST", .body = "hello"}});
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "asgisim/core/asgi.hpp"
#include "asgisim/core/observe.hpp"
#include "asgisim/core/server.hpp"
#include "asgisim/sim/simulation.hpp"

namespace asgisim::core {

// Where the client leaves (closes the connection) during one request.
enum class DisconnectPoint : std::uint8_t {
  never,
  before_sending,     // connects, then closes without sending anything
  mid_body,           // after `count` request-body chunks, before the request ends
  after_start,        // right after reading the status line and headers
  after_body_chunks,  // after reading `count` response-body chunks
  after_complete,     // right after the response's final body
  after_delay,        // `delay_ns` after the request began, unless it completed
};
std::string_view to_string(DisconnectPoint point);

struct Disconnect {
  DisconnectPoint point = DisconnectPoint::never;
  std::size_t count = 0;          // for mid_body / after_body_chunks
  sim::Nanoseconds delay_ns = 0;  // for after_delay
};

// One request. Every unset optional field is chosen from the choice stream.
struct RequestSpec {
  std::string method = "GET";
  std::string path = "/";
  Bytes query{};      // without the '?'
  Headers headers{};  // content-length is added for a non-empty body unless given
  // The body, split into chunks by the choice stream ("client.chunking").
  Bytes body{};
  // The exact chunks to send instead (overrides `body`).
  std::optional<std::vector<Bytes>> chunks{};
  // Pause before every chunk but the first; unset: chosen per gap ("client.pause").
  std::optional<sim::Nanoseconds> chunk_pause_ns{};
  // Pause before every read of the response; unset: chosen once ("client.read_pace").
  std::optional<sim::Nanoseconds> read_pause_ns{};
  // When the client leaves; unset: chosen ("client.disconnect").
  std::optional<Disconnect> disconnect{};
};

struct ClientOptions {
  // The layer name in observations.
  std::string name = "client";
  // A request whose disconnect point is unset leaves early with chance
  // 1/disconnect_one_in (then at a uniformly chosen point); 0: never.
  std::uint64_t disconnect_one_in = 4;
  // Most chunks a body is split into when the split is chosen.
  std::size_t chunks_max = 4;
  // What a chosen pause (between chunks, before reads) may be.
  std::vector<sim::Nanoseconds> pause_choices_ns = {0, sim::kMillisecond, 10 * sim::kMillisecond};
  // A chosen after_delay disconnect falls in (0, delay_max_ns].
  sim::Nanoseconds delay_max_ns = 100 * sim::kMillisecond;
  // A chosen after_body_chunks disconnect comes after 1 to this many chunks.
  std::size_t response_chunks_max = 4;
};

// What the client saw of one request, for checkers and tests.
struct ClientRecord {
  RequestId request = 0;         // the server's id; 0 if the head was never sent
  std::uint64_t connection = 0;  // the connection's id (from 1 per server)
  std::string method{};
  std::string path{};
  Disconnect plan{};  // the disconnect point, as resolved
  std::size_t request_chunks_sent = 0;
  bool request_sent = false;  // head, every body chunk and the end were delivered
  int status = 0;
  Headers headers{};
  Bytes body{};
  std::size_t body_chunks = 0;    // response-body chunks read
  bool started = false;           // read the status line
  bool complete = false;          // read the end of the response
  bool disconnected = false;      // the client closed the connection
  bool closed_by_server = false;  // the connection closed before the response was complete
  std::string disconnect_detail{};
  sim::Nanoseconds began_ns = 0;
  std::optional<sim::Nanoseconds> request_sent_ns{};
  std::optional<sim::Nanoseconds> started_ns{};
  std::optional<sim::Nanoseconds> completed_ns{};
  std::optional<sim::Nanoseconds> ended_ns{};  // when the client was done with it

  // The first response header `name` (lower-case), if present.
  std::optional<std::string_view> header(std::string_view name) const { return find_header(headers, name); }
};

// A client that sends requests one after another on a keep-alive connection,
// opening a new one when the server or the client closed the last. Call its
// methods from a simulated loop task.
class Client {
 public:
  Client(Server& server, Observer& observer, ClientOptions options = {});

  // Sends one request and reads its response; returns what it saw.
  ClientRecord request(const RequestSpec& spec);
  // Sends each request in order, then closes the connection.
  std::vector<ClientRecord> run(const std::vector<RequestSpec>& specs);
  void close();

  // Every request so far; the last one is updated as it progresses, so a run
  // that ended in a deadlock still shows how far each request got.
  const std::vector<ClientRecord>& records() const { return records_; }
  const ClientOptions& options() const { return options_; }

 private:
  struct Plan;
  Plan resolve(const RequestSpec& spec);
  void exchange(const RequestSpec& spec, const Plan& plan, std::size_t index);
  void leave(std::size_t index, std::string detail);
  void observe(ObservationKind kind, RequestId request, std::string detail = {}, std::uint64_t value = 0);

  Server& server_;
  Observer& observer_;
  ClientOptions options_;
  std::shared_ptr<Connection> connection_;
  std::vector<ClientRecord> records_;
};

// Starlette-TestClient-like: a server around `app` and a client with the
// simplest choices (one chunk, no pauses, never leaving) for anything a
// request leaves unset. Call from a simulated loop task.
class TestClient {
 public:
  TestClient(sim::Simulation& sim, Observer& observer, App app, ServerOptions options = {});

  // `url` is a path with an optional "?query".
  ClientRecord get(std::string_view url, Headers headers = {});
  ClientRecord head(std::string_view url, Headers headers = {});
  ClientRecord post(std::string_view url, Bytes body, Headers headers = {});
  ClientRecord request(RequestSpec spec);
  void close() { client_.close(); }

  Server& server() { return server_; }
  Client& client() { return client_; }

 private:
  Server server_;
  Client client_;
};

struct RunAppOptions {
  sim::SimulationOptions simulation{};
  ServerOptions server{};
  ClientOptions client{};
  // true: one client per request, each on its own connection, all starting at
  // once; false: one client sends them in order on a keep-alive connection.
  bool concurrent = false;
  // Where observations go (e.g. an Observer with checkers); null: an internal one.
  Observer* observer = nullptr;
};

struct AppRun {
  sim::RunResult result{};
  std::vector<ClientRecord> records{};  // in request order (fewer if the run stopped early)
  std::vector<Observation> observations{};
  std::vector<Violation> violations{};
};

// Runs a fresh Simulation with a Server around `app` and clients sending
// `requests`, to the end. Call outside any running simulation.
AppRun run_app(App app, std::vector<RequestSpec> requests, RunAppOptions options = {});

}  // namespace asgisim::core
