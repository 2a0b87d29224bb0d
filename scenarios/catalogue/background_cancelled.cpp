// Catalogue entry 1: a background task cancelled behind BaseHTTPMiddleware
// (encode/starlette#1438 "Background tasks are cancelled if the client closes
// connection"; #919 is the asyncio-era report of the same family). A
// middleware that only calls call_next, and an endpoint whose response has a
// background task that awaits something. Before 0.21 the middleware's task
// group is cancelled after the response (0.20.1 to 0.20.4: right after it,
// whatever the client does; up to 0.20.0: when the client leaves early), and
// the background task dies with it.
#include <string>

#include "asgisim/core/request.hpp"
#include "asgisim/core/response.hpp"
#include "catalogue.hpp"
#include "starlette_stack.hpp"

namespace asgisim::scenarios::catalogue {
namespace {

constexpr sim::Label kWork{"background.work", sim::Stream::other};
// A slow endpoint (a fault site): clients that leave after a delay then
// leave before the response, the case #1438 reports.
constexpr sim::Label kSlowEndpoint{"endpoint.slow", sim::Stream::faults};

class BackgroundCancelled final : public Scenario {
 public:
  const ScenarioInfo& info() const override { return info_; }

  void build(RunContext& run) const override {
    core::Observer& observer = run.observer;
    const core::Endpoint endpoint = [](core::Request& request) {
      if (sim::Simulation::current().buggify(kSlowEndpoint, 0.5)) sim::sleep(50 * sim::kMillisecond);
      // Anything from a yield to a slow e-mail call.
      const sim::Nanoseconds work_ns =
          choose_duration(kWork, {0, sim::kMillisecond, 10 * sim::kMillisecond, 100 * sim::kMillisecond});
      return core::PlainTextResponse(
          "Hello", {.background = core::BackgroundTask("send_email", [work_ns] { await_work(work_ns); },
                                                       {.request = request.scope().request_id})});
    };
    const core::App app =
        starlette_app(observer, endpoint, {base_http_layer(run, core::passthrough_dispatch())});
    spawn_traffic(run, app, {.clients_max = 2, .requests_max = 2});
  }

 private:
  ScenarioInfo info_{
      .name = "background-cancelled",
      .title = "A background task behind a pass-through BaseHTTPMiddleware is cancelled",
      .upstream = "encode/starlette#1438, #919; fixed by #1715 (0.21.0)",
      .buggy = {.versions = {.starlette = "0.20.4"},
                .summary =
                    "BaseHTTPMiddleware cancel (Starlette 0.20.4): the task group is cancelled right after "
                    "the response; 0.20.0 (cancel_drain) kills it when the client leaves early"},
      .fixed = {.versions = {.starlette = "0.29.0"},
                .summary =
                    "BaseHTTPMiddleware fixed (Starlette 0.29.0): no cancellation, the downstream app is "
                    "told http.disconnect and runs to the end"},
      .invariants = with_protocol_invariants({"background-complete"}),
      .steps_max = 200'000,
      .time_max_ns = 60 * sim::kSecond,
  };
};

}  // namespace

std::unique_ptr<Scenario> make_background_cancelled() { return std::make_unique<BackgroundCancelled>(); }

}  // namespace asgisim::scenarios::catalogue
