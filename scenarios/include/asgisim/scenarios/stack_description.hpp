// A plain description of an HTTP stack and its clients (a middleware chain,
// an endpoint, who sends what and when they leave), a builder that turns it
// into core apps, a server and client tasks, and `describe()` text for
// reports. The random-stack scenario draws descriptions from the choice
// stream; the RapidCheck generators (generators.hpp) make them for property
// tests; users can write one by hand to test a configuration of their own.
//
//   StackDescription stack{
//       .middleware = {{.kind = MiddlewareKind::base_http_passthrough,
//                       .behaviour = core::BaseHttpBehaviour::cancel}},
//       .endpoint = {.background = BackgroundKind::async_task, .background_ns = 5 * sim::kMillisecond},
//       .clients = {{.requests = {{.body_bytes = 10}}}}};
//   void build(RunContext& run) const override { start_stack(run, stack); }
//
// The kinds follow tests/differential/CASE_FORMAT.md where they overlap
// (P, R, C, E, X there are base_http_passthrough, base_http_reads_body,
// pure_asgi_context, server_error, exception here).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "asgisim/core/client.hpp"
#include "asgisim/core/endpoints.hpp"
#include "asgisim/core/middleware/base_http.hpp"
#include "asgisim/core/middleware/pure_asgi.hpp"
#include "asgisim/core/observe.hpp"
#include "asgisim/core/response.hpp"
#include "asgisim/core/server.hpp"
#include "asgisim/core/threadpool.hpp"
#include "asgisim/scenarios/scenario.hpp"
#include "asgisim/sim/simulation.hpp"

namespace asgisim::scenarios {

enum class MiddlewareKind : std::uint8_t {
  pure_asgi_passthrough,   // forwards receive and send untouched
  pure_asgi_context,       // `async with cm:` (or `with cm:`) around the downstream call
  base_http_passthrough,   // BaseHTTPMiddleware: return await call_next(request)
  base_http_reads_body,    // await request.body(), then return await call_next(request)
  base_http_own_response,  // await call_next(request), then returns its own response unread
  server_error,            // ServerErrorMiddleware
  exception,               // ExceptionMiddleware, no handlers
};
inline constexpr std::size_t kMiddlewareKindCount = 7;
std::string_view to_string(MiddlewareKind kind);
bool is_base_http(MiddlewareKind kind);

struct MiddlewareDescription {
  MiddlewareKind kind = MiddlewareKind::pure_asgi_passthrough;
  // base_http_* kinds: which Starlette era's BaseHTTPMiddleware.
  core::BaseHttpBehaviour behaviour = core::BaseHttpBehaviour::fixed;
  // pure_asgi_context: how the context manager exits, and for how long an
  // async exit awaits (upstream's sleep_and_set sleeps 0.1 s).
  core::ContextExit exit = core::ContextExit::async_awaits;
  sim::Nanoseconds exit_sleep_ns = 0;
};

enum class ResponseKind : std::uint8_t { plain, streaming };
enum class BodyRead : std::uint8_t { none, body, stream };
// Where the endpoint raises AppError.
enum class RaisePoint : std::uint8_t { never, before_start, in_stream, in_background };
enum class BackgroundKind : std::uint8_t { none, async_task, sync_task };

std::string_view to_string(ResponseKind kind);
std::string_view to_string(BodyRead read);
std::string_view to_string(RaisePoint point);
std::string_view to_string(BackgroundKind kind);

struct EndpointDescription {
  core::EndpointKind kind = core::EndpointKind::async_def;
  ResponseKind response = ResponseKind::plain;
  // streaming: chunks yielded ("chunk-0", ...); an async iterator passes a
  // checkpoint before each, a sync one runs each next() in the thread pool.
  std::uint32_t chunks = 0;
  // Read before the response is built; a sync endpoint reads nothing (it cannot await).
  BodyRead reads_body = BodyRead::none;
  RaisePoint raises = RaisePoint::never;
  BackgroundKind background = BackgroundKind::none;
  // What the background task does: sleeps this long (async) or blocks its
  // thread this long (sync), in `background_pauses` equal steps.
  sim::Nanoseconds background_ns = 0;
  std::uint32_t background_pauses = 1;
};

struct RequestDescription {
  std::string method = "POST";
  std::size_t body_bytes = 0;  // b"x" * body_bytes, chunked by the client's choices
  // Unset: the client draws it from the choice stream (client.disconnect).
  std::optional<core::Disconnect> disconnect{};
};

// One client: its requests, one after another on a keep-alive connection.
struct ClientDescription {
  std::vector<RequestDescription> requests{};
};

struct StackDescription {
  std::vector<MiddlewareDescription> middleware{};  // outermost first
  EndpointDescription endpoint{};
  std::vector<ClientDescription> clients{};  // all start at once, each on its own connection
};

// Empty when `description` can be built; otherwise why not (a raise point
// the response cannot reach, a sync endpoint reading the body, no clients).
std::string validation_error(const StackDescription& description);
// Multi-line text: the chain, the endpoint and the clients.
std::string describe(const StackDescription& description);
// One line: "P(cancel) > C(async) > endpoint(async streaming:2 bg:async)".
std::string summary(const StackDescription& description);

// Bounds for drawing a description from the choice stream.
struct DrawOptions {
  // The BaseHTTPMiddleware behaviours a base_http middleware may have
  // (each middleware draws one); must not be empty.
  std::vector<core::BaseHttpBehaviour> behaviours{core::BaseHttpBehaviour::fixed};
  std::size_t middleware_max = 4;
  std::uint32_t chunks_max = 4;
  std::size_t clients_max = 3;
  std::size_t requests_per_client_max = 2;
  std::size_t body_bytes_max = 64;
  // A drawn body size of 1 makes a HEAD request; off, every one is a POST.
  bool head_requests = true;
  // A background task or an async context exit lasts 0 to this long.
  sim::Nanoseconds work_max_ns = 20 * sim::kMillisecond;
};
// Every BaseHTTPMiddleware behaviour, oldest first.
const std::vector<core::BaseHttpBehaviour>& all_base_http_behaviours();

// Draws a valid description from `sim`'s choice stream (labels "stack.*",
// "endpoint.*" and "clients.*"); the clients' chunking, pauses and
// disconnect points are left to the clients themselves. The simplest
// choices (all zeros) give no middleware, a plain async endpoint and one
// client with one empty request.
StackDescription draw_stack(sim::Simulation& sim, const DrawOptions& options);

// How the described stack runs.
struct StackOptions {
  core::StreamingBehaviour streaming = core::StreamingBehaviour::listen;
  core::ServerOptions server{};
  core::AnyioToThreadOptions threadpool{};  // sync endpoints and background tasks
  core::ClientOptions client{};             // defaults for every client (name is replaced)
};

// AppError: what a raising endpoint raises (a plain Exception subclass).
class AppError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// A built stack with its server and clients, owning everything the run
// needs until it ends.
class StackRun {
 public:
  // Builds the app (validate_boundary at every boundary), a server and one
  // task per client in `sim`, which must not be running yet. Throws
  // std::invalid_argument for an invalid description.
  StackRun(sim::Simulation& sim, core::Observer& observer, StackDescription description,
           StackOptions options);
  StackRun(const StackRun&) = delete;
  StackRun& operator=(const StackRun&) = delete;
  ~StackRun();

  const StackDescription& description() const { return description_; }
  // What every client saw so far, client by client.
  std::vector<core::ClientRecord> records() const;
  // describe(description) plus one line per request of what its client saw.
  std::string report() const;

 private:
  StackDescription description_;
  std::unique_ptr<core::AnyioToThread> threadpool_;
  std::unique_ptr<core::Server> server_;
  std::vector<std::unique_ptr<core::Client>> clients_;
};

// The app of a description alone (no server, no clients), for users who
// drive it themselves. `threadpool` runs sync endpoints and tasks.
core::App build_app(const StackDescription& description, core::Observer& observer,
                    core::ThreadPoolRunner& threadpool, core::StreamingBehaviour streaming);

// A scenario's build() for a description: starts a StackRun with the
// run's resolved stack (streaming, server, thread limiter), keeps it alive
// through run.describe (which reports it) and sets run.params.threads_bound.
// `server` replaces the run's server options (run.stack.server) when given.
void start_stack(RunContext& run, StackDescription description,
                 std::optional<core::ServerOptions> server = std::nullopt);

// The invariant ids that apply to a described HTTP stack.
const std::vector<std::string>& stack_invariants();

// A scenario (not registered) that runs one fixed description in both
// configurations: for property tests and users' own stacks.
std::unique_ptr<Scenario> described_stack_scenario(StackDescription description,
                                                   std::string name = "described-stack");

}  // namespace asgisim::scenarios
