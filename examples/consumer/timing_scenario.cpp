#include "timing_scenario.hpp"

#include <memory>
#include <utility>

#include "asgisim/core/client.hpp"
#include "asgisim/core/endpoints.hpp"
#include "asgisim/core/middleware/base_http.hpp"
#include "asgisim/core/response.hpp"
#include "asgisim/core/routing.hpp"
#include "asgisim/core/server.hpp"
#include "asgisim/core/validator.hpp"
#include "timing.hpp"

namespace timing {
namespace {

// [doc:scenario]
namespace core = asgisim::core;
namespace sim = asgisim::sim;
namespace scn = asgisim::scenarios;

class TimingScenario final : public scn::Scenario {
 public:
  const scn::ScenarioInfo& info() const override { return info_; }

  void build(scn::RunContext& run) const override {
    core::Endpoint endpoint = [](core::Request&) { return core::PlainTextResponse("hello"); };
    core::Routes routes;
    routes.emplace_back(core::Route("/", std::move(endpoint), {.methods = {{"GET"}}, .name = "hello"}));
    // Our code in the configuration's version: the bug, or the fix.
    const TimingOptions ours{.flush_before_final_body = run.config == scn::ConfigKind::buggy};
    // A protocol validator at every boundary, so a violation names the layer.
    core::App app = core::validated_chain(
        {{"Timing", [ours](core::App inner) { return timing(std::move(inner), ours); }},
         {"BaseHTTPMiddleware",
          [&run](core::App inner) {  // in the run's Starlette behaviour
            return core::base_http_middleware(std::move(inner), core::passthrough_dispatch(),
                                              {.behaviour = run.stack.base_http});
          }}},
        core::as_app(std::make_shared<core::Router>(std::move(routes))), run.observer, "router");
    run.params.latency_budget_ns = sim::kSecond;  // for request-latency

    // The client's chunking, pauses and disconnect points: all chosen.
    auto server = std::make_shared<core::Server>(run.sim, run.observer, app, run.stack.server);
    run.sim.spawn("client", [server] {
      core::Client client(*server, server->observer());
      client.run({core::RequestSpec{}, core::RequestSpec{}});  // two keep-alive requests
    });
  }

 private:
  scn::ScenarioInfo info_{
      .name = "timing-flush",
      .title = "Timing middleware flushes metrics before the final body",
      .upstream = "our-org/api#123",
      .buggy = {.versions = {.starlette = "0.29.0"}, .summary = "our code before the fix"},
      .fixed = {.versions = {.starlette = "0.29.0"}, .summary = "our code after the fix"},
      .invariants = {"start-once", "body-after-start", "response-complete", "request-latency"},
      .steps_max = 200'000,  // a hang is reported in milliseconds
      .time_max_ns = 60 * sim::kSecond,
  };
};
// [/doc:scenario]

}  // namespace

std::unique_ptr<scn::Scenario> make_timing_scenario() { return std::make_unique<TimingScenario>(); }

}  // namespace timing
