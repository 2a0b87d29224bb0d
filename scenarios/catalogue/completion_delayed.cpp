// Catalogue entry 3: the response's completion held back until the
// background work has finished (encode/starlette#1940, a regression in
// 0.23.1; fixed by #2194 in 0.29.0). BaseHTTPMiddleware's body iterator no
// longer stops at the final body message, so the closing more_body=false
// message waits for the downstream app, background task included: the
// client sees its response end late, and the next request on the keep-alive
// connection starts late.
#include "asgisim/core/request.hpp"
#include "asgisim/core/response.hpp"
#include "catalogue.hpp"
#include "starlette_stack.hpp"

namespace asgisim::scenarios::catalogue {
namespace {

constexpr sim::Label kWork{"background.work", sim::Stream::other};

class CompletionDelayed final : public Scenario {
 public:
  const ScenarioInfo& info() const override { return info_; }

  void build(RunContext& run) const override {
    core::Observer& observer = run.observer;
    const core::Endpoint endpoint = [](core::Request& request) {
      const sim::Nanoseconds work_ns = choose_duration(
          kWork, {sim::kMillisecond, 10 * sim::kMillisecond, 100 * sim::kMillisecond, sim::kSecond});
      return core::PlainTextResponse(
          "Hello", {.background = core::BackgroundTask("update_stats", [work_ns] { sim::sleep(work_ns); },
                                                       {.request = request.scope().request_id})});
    };
    const core::App app =
        starlette_app(observer, endpoint, {base_http_layer(run, core::passthrough_dispatch())});
    spawn_traffic(run, app, {.clients_max = 2, .requests_max = 3});
  }

 private:
  ScenarioInfo info_{
      .name = "completion-delayed",
      .title = "A response's completion (and the next keep-alive request) waits for its background task",
      .upstream = "encode/starlette#1940 (regression in 0.23.1); fixed by #2194 (0.29.0)",
      .buggy = {.versions = {.starlette = "0.26.1"},
                .summary = "BaseHTTPMiddleware no_break (Starlette 0.26.1; 0.28.0 cached_body too): the body "
                           "iterator reads until the downstream app has finished"},
      .fixed = {.versions = {.starlette = "0.29.0"},
                .summary =
                    "BaseHTTPMiddleware fixed (Starlette 0.29.0): the body iterator stops at the final "
                    "body message"},
      .invariants = with_protocol_invariants({"response-not-delayed", "background-complete"}),
      .steps_max = 200'000,
      .time_max_ns = 60 * sim::kSecond,
  };
};

}  // namespace

std::unique_ptr<Scenario> make_completion_delayed() { return std::make_unique<CompletionDelayed>(); }

}  // namespace asgisim::scenarios::catalogue
