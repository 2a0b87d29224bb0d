// Catalogue entry 10: a keep-alive connection cut after a completed
// request's error. The endpoint answers and, for some requests, leaves a
// notification to a BackgroundTask that may fail; Starlette does not swallow that exception
// (the response's __call__ awaits the task, ExceptionMiddleware and
// ServerErrorMiddleware re-raise once the response has started), so it
// reaches uvicorn after the response has completed.
//
// uvicorn's run_asgi (h11_impl.py and httptools_impl.py, read at 0.28.0,
// 0.32.1, 0.40.0 and 0.51.0) answers any exception after
// http.response.start with `self.transport.close()`, completed response or
// not. The client, done with that response, may already have sent its next
// request on the same connection; the server is serving it, and its response
// is lost when the connection goes (Kludex/uvicorn#3153). The open PR #3156
// closes only while the failing response is incomplete (or after a protocol
// error the server raised), the fixed configuration here.
#include "asgisim/core/request.hpp"
#include "asgisim/core/response.hpp"
#include "catalogue.hpp"
#include "starlette_stack.hpp"

namespace asgisim::scenarios::catalogue {
namespace {

constexpr sim::Label kHandle{"endpoint.work", sim::Stream::other};
constexpr sim::Label kWork{"background.work", sim::Stream::other};
constexpr sim::Label kNotify{"traffic.notify", sim::Stream::clients};

class TaskError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class KeepaliveCutAfterError final : public Scenario {
 public:
  const ScenarioInfo& info() const override { return info_; }

  void build(RunContext& run) const override {
    const core::Endpoint endpoint = [](core::Request& request) {
      // The request's own work (a query), then the response.
      await_work(
          choose_duration(kHandle, {sim::kMillisecond, 10 * sim::kMillisecond, 100 * sim::kMillisecond}));
      if (request.scope().query_string != "notify=1") return core::Response(core::PlainTextResponse("Hello"));
      // A notification left to the background, from a yield to a slow call
      // to another service, that fails (the service is down).
      const sim::Nanoseconds work_ns =
          choose_duration(kWork, {0, sim::kMillisecond, 10 * sim::kMillisecond, 100 * sim::kMillisecond});
      return core::Response(core::PlainTextResponse(
          "Hello", {.background = core::BackgroundTask("notify",
                                                       [work_ns] {
                                                         await_work(work_ns);
                                                         throw TaskError("the notification failed");
                                                       },
                                                       {.request = request.scope().request_id})}));
    };
    const core::App app = starlette_app(run.observer, endpoint, {});
    // Each request of a keep-alive connection is a plain GET / or one that
    // asks for a notification (GET /?notify=1).
    const auto make_request = [] {
      const bool notify = sim::Simulation::current().choose(kNotify, 2) == 0;
      return core::RequestSpec{.query = notify ? "notify=1" : ""};
    };
    spawn_traffic(run, app, {.clients_max = 2, .requests_max = 4, .make_request = make_request});
  }

 private:
  ScenarioInfo info_{
      .name = "keepalive-cut-after-error",
      .title =
          "An error after a completed response closes the keep-alive connection, cutting off the next "
          "request",
      .upstream = "Kludex/uvicorn#3153, every release to 0.51.0; fix proposed in PR #3156 (open)",
      .buggy = {.versions = {.starlette = "0.46.2", .uvicorn = "0.51.0"},
                .summary = "uvicorn 0.51.0: run_asgi closes the transport on any error after "
                           "http.response.start, completed response or not"},
      .fixed = {.versions = {.starlette = "0.46.2", .uvicorn = "0.51.0+pr3156"},
                .summary = "uvicorn 0.51.0 with Kludex/uvicorn#3156: the connection is closed only while the "
                           "failing response is incomplete"},
      .invariants = with_protocol_invariants({"background-complete", "no-swallowed-error"}),
      .steps_max = 200'000,
      .time_max_ns = 60 * sim::kSecond,
  };
};

}  // namespace

std::unique_ptr<Scenario> make_keepalive_cut_after_error() {
  return std::make_unique<KeepaliveCutAfterError>();
}

}  // namespace asgisim::scenarios::catalogue
