// Catalogue entry 4: the request body read in dispatch, then again in the
// endpoint (encode/starlette#847 "Middleware Request parse Hangs forever";
// fixed by #1692 in 0.28.0). Before 0.28 dispatch's request.body() consumes
// the server's http.request messages, so the endpoint's receive() waits for a
// body that is gone: it hangs until the client gives up (then raises on the
// disconnect). From 0.28 the body dispatch read is replayed downstream.
#include <cstdint>
#include <string>

#include "asgisim/core/request.hpp"
#include "asgisim/core/response.hpp"
#include "catalogue.hpp"
#include "starlette_stack.hpp"

namespace asgisim::scenarios::catalogue {
namespace {

constexpr sim::Label kBodySize{"request.body_bytes", sim::Stream::clients};
constexpr sim::Nanoseconds kLatencyBudgetNs = sim::kSecond;

// A POST of 1 to 4096 bytes; chunking, pauses and disconnects are the client's choice.
core::RequestSpec post_request() {
  const std::uint64_t size_bytes = 1 + sim::Simulation::current().choose(kBodySize, 4096);
  return {.method = "POST", .path = "/", .body = core::Bytes(size_bytes, 'x')};
}

// `body = await request.body(); log(body); return await call_next(request)`.
core::Response logging_dispatch(core::Request& request, const core::CallNext& call_next) {
  const core::Bytes body = request.body();
  core::Response response = call_next(request);
  response.set_header("x-logged-bytes", std::to_string(body.size()));
  return response;
}

class BodyReadTwice final : public Scenario {
 public:
  const ScenarioInfo& info() const override { return info_; }

  void build(RunContext& run) const override {
    run.params.latency_budget_ns = kLatencyBudgetNs;
    const core::Endpoint echo = [](core::Request& request) {
      return core::PlainTextResponse(request.body());
    };
    const core::App app =
        starlette_app(run.observer, echo, {base_http_layer(run, logging_dispatch)}, {"POST"});
    spawn_traffic(run, app, {.clients_max = 2, .requests_max = 2, .make_request = post_request});
  }

 private:
  ScenarioInfo info_{
      .name = "body-read-twice",
      .title = "The request body read in dispatch, then in the endpoint: the endpoint hangs",
      .upstream = "encode/starlette#847; fixed by #1692 (0.28.0)",
      .buggy = {.versions = {.starlette = "0.26.1"},
                .summary = "BaseHTTPMiddleware no_break (Starlette 0.26.1): the endpoint gets the server's "
                           "receive, whose body dispatch already consumed"},
      .fixed = {.versions = {.starlette = "0.29.0"},
                .summary =
                    "BaseHTTPMiddleware fixed (Starlette 0.29.0, _CachedRequest since 0.28.0): the body "
                    "read in dispatch is replayed downstream"},
      .invariants = with_protocol_invariants({"request-latency"}),
      .steps_max = 200'000,
      .time_max_ns = 60 * sim::kSecond,
  };
};

}  // namespace

std::unique_ptr<Scenario> make_body_read_twice() { return std::make_unique<BodyReadTwice>(); }

}  // namespace asgisim::scenarios::catalogue
