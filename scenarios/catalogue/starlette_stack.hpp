// What the BaseHTTPMiddleware scenarios of the catalogue (DESIGN.md entries
// 1 to 5) share: a Starlette application with a protocol validator at every
// boundary, a pure-ASGI middleware holding a context manager (a DB session),
// and uvicorn traffic whose clients, requests and durations all come from the
// choice stream. Private to scenarios/catalogue/.
//
//   App app = starlette_app(run.observer, endpoint, {base_http_layer(run, passthrough_dispatch())});
//   spawn_traffic(run, app, {.clients_max = 2, .requests_max = 3});
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "asgisim/core/client.hpp"
#include "asgisim/core/endpoints.hpp"
#include "asgisim/core/middleware/base_http.hpp"
#include "asgisim/core/middleware/errors.hpp"
#include "asgisim/core/middleware/pure_asgi.hpp"
#include "asgisim/core/routing.hpp"
#include "asgisim/core/server.hpp"
#include "asgisim/core/validator.hpp"
#include "asgisim/scenarios/scenario.hpp"
#include "asgisim/sim/simulation.hpp"

namespace asgisim::scenarios::catalogue {

// The protocol invariants every HTTP scenario of the catalogue checks, plus
// response-complete.
inline std::vector<std::string> protocol_invariants() {
  return {"start-once",     "body-after-start",         "response-complete",
          "content-length", "no-send-after-disconnect", "disconnect-sticky",
          "receive-order"};
}

// protocol_invariants() followed by `extra`, for ScenarioInfo::invariants.
inline std::vector<std::string> with_protocol_invariants(std::vector<std::string> extra) {
  std::vector<std::string> ids = protocol_invariants();
  ids.insert(ids.end(), extra.begin(), extra.end());
  return ids;
}

// One of `choices_ns`, picked by the choice stream at `where`.
inline sim::Nanoseconds choose_duration(sim::Label where, const std::vector<sim::Nanoseconds>& choices_ns) {
  return choices_ns[sim::Simulation::current().choose(where, choices_ns.size())];
}

// Awaits for `duration_ns` of virtual time; zero still yields once, like
// `await anyio.sleep(0)`, so even instant work offers a cancellation point.
inline void await_work(sim::Nanoseconds duration_ns) {
  if (duration_ns == 0) {
    sim::checkpoint();
  } else {
    sim::sleep(duration_ns);
  }
}

// Starlette(routes=[Route("/", endpoint, methods)], middleware=user) as
// build_middleware_stack builds it: ServerErrorMiddleware, the user
// middleware (the first outermost), ExceptionMiddleware, the router. Every
// boundary has a protocol validator, so a violation names the layer.
inline core::App starlette_app(core::Observer& observer, core::Endpoint endpoint,
                               std::vector<core::NamedMiddleware> user_middleware,
                               std::vector<std::string> methods = {"GET"}) {
  core::Routes routes;
  routes.emplace_back(
      core::Route("/", std::move(endpoint), {.methods = std::move(methods), .name = "endpoint"}));
  std::vector<core::NamedMiddleware> chain;
  chain.push_back(
      {"ServerErrorMiddleware", [](core::App app) { return core::server_error_middleware(std::move(app)); }});
  for (core::NamedMiddleware& layer : user_middleware) chain.push_back(std::move(layer));
  chain.push_back(
      {"ExceptionMiddleware", [](core::App app) { return core::exception_middleware(std::move(app)); }});
  return core::validated_chain(
      std::move(chain), core::as_app(std::make_shared<core::Router>(std::move(routes))), observer, "router");
}

// Middleware(BaseHTTPMiddleware, dispatch=dispatch) in the run's Starlette behaviour.
inline core::NamedMiddleware base_http_layer(const RunContext& run, core::DispatchFunction dispatch) {
  core::BaseHttpOptions options{.behaviour = run.stack.base_http};
  return {options.name, [dispatch = std::move(dispatch), options](core::App app) {
            return core::base_http_middleware(std::move(app), dispatch, options);
          }};
}

// A pure-ASGI middleware whose __call__ is `async with session:` (or, as
// chosen per request, `with session:`) around the downstream call, as in the
// comment on encode/starlette#1678 that PR #1715 tests. The async exit awaits
// a chosen time; the sync one cannot await but can see a cancellation.
inline core::NamedMiddleware session_layer() {
  static constexpr sim::Label kExitKind{"session.exit_kind", sim::Stream::other};
  static constexpr sim::Label kExitWork{"session.exit_work", sim::Stream::other};
  return {"SessionMiddleware", [](core::App app) -> core::App {
            return [app = std::move(app)](core::Scope& scope, const core::Receive& receive,
                                          const core::Send& send) {
              if (scope.type != "http") return app(scope, receive, send);
              const core::ContextReport report{
                  .request = scope.request_id, .layer = "SessionMiddleware", .name = "session"};
              const auto downstream = [&] { app(scope, receive, send); };
              if (sim::Simulation::current().choose(kExitKind, 2) == 0) {
                const sim::Nanoseconds exit_ns = choose_duration(
                    kExitWork, {0, sim::kMillisecond, 10 * sim::kMillisecond, 100 * sim::kMillisecond});
                core::async_with(report, downstream, [exit_ns] { await_work(exit_ns); });
              } else {
                core::sync_with(report, downstream);
              }
            };
          }};
}

// The load: 1 to clients_max clients, each on its own keep-alive connection
// sending 1 to requests_max requests made by make_request (GET / by
// default), every open choice of a request (chunking, pauses, disconnect
// point) left to the choice stream.
struct Traffic {
  std::uint64_t clients_max = 2;
  std::uint64_t requests_max = 2;
  std::function<core::RequestSpec()> make_request{};
  core::ClientOptions options{};
};

// Spawns the traffic against a uvicorn server (run.stack.server) around
// `app`. The server lives as long as some client task does; request tasks
// keep what they need.
inline void spawn_traffic(RunContext& run, core::App app, Traffic traffic) {
  static constexpr sim::Label kClients{"traffic.clients", sim::Stream::clients};
  static constexpr sim::Label kRequests{"traffic.requests", sim::Stream::clients};
  auto server = std::make_shared<core::Server>(run.sim, run.observer, std::move(app), run.stack.server);
  run.sim.spawn("traffic", [server, traffic = std::move(traffic)] {
    sim::Simulation& sim = sim::Simulation::current();
    const std::uint64_t clients = 1 + sim.choose(kClients, traffic.clients_max);
    for (std::uint64_t index = 1; index <= clients; ++index) {
      sim.spawn("client-" + std::to_string(index), [server, traffic] {
        const std::uint64_t count = 1 + sim::Simulation::current().choose(kRequests, traffic.requests_max);
        std::vector<core::RequestSpec> requests;
        for (std::uint64_t i = 0; i < count; ++i) {
          requests.push_back(traffic.make_request ? traffic.make_request() : core::RequestSpec{});
        }
        core::Client client(*server, server->observer(), traffic.options);
        client.run(requests);
      });
    }
  });
}

}  // namespace asgisim::scenarios::catalogue
