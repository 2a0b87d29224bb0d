// Catalogue entry 2: a context manager's exit cut short in a pure-ASGI
// middleware below BaseHTTPMiddleware (the comment on encode/starlette#1678;
// upstream's test_run_context_manager_exit_even_if_client_disconnects came
// with the fix, #1715). The session middleware's `async with` exit awaits,
// and the cancellation BaseHTTPMiddleware sends after the response (0.20.1
// to 0.20.4) cuts it short; a sync `with` exit runs but sees a cancellation
// although the client stayed.
#include "asgisim/core/request.hpp"
#include "asgisim/core/response.hpp"
#include "catalogue.hpp"
#include "starlette_stack.hpp"

namespace asgisim::scenarios::catalogue {
namespace {

constexpr sim::Label kWork{"endpoint.work", sim::Stream::other};

class CleanupCancelled final : public Scenario {
 public:
  const ScenarioInfo& info() const override { return info_; }

  void build(RunContext& run) const override {
    core::Observer& observer = run.observer;
    const core::Endpoint endpoint = [](core::Request&) {
      await_work(choose_duration(kWork, {0, sim::kMillisecond, 10 * sim::kMillisecond}));
      return core::PlainTextResponse("Hello");
    };
    const core::App app = starlette_app(
        observer, endpoint, {base_http_layer(run, core::passthrough_dispatch()), session_layer()});
    spawn_traffic(run, app, {.clients_max = 2, .requests_max = 2});
  }

 private:
  ScenarioInfo info_{
      .name = "cleanup-cancelled",
      .title = "A context manager's exit below BaseHTTPMiddleware is cancelled",
      .upstream = "encode/starlette#1678 (comment); fixed by #1715 (0.21.0)",
      .buggy = {.versions = {.starlette = "0.20.4"},
                .summary =
                    "BaseHTTPMiddleware cancel (Starlette 0.20.4): the cancellation after the response "
                    "reaches the session middleware's exit"},
      .fixed = {.versions = {.starlette = "0.29.0"},
                .summary =
                    "BaseHTTPMiddleware fixed (Starlette 0.29.0): nothing is cancelled, the exit runs to "
                    "the end"},
      .invariants = with_protocol_invariants({"cleanup-runs"}),
      .steps_max = 200'000,
      .time_max_ns = 60 * sim::kSecond,
  };
};

}  // namespace

std::unique_ptr<Scenario> make_cleanup_cancelled() { return std::make_unique<CleanupCancelled>(); }

}  // namespace asgisim::scenarios::catalogue
