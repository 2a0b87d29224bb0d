// Catalogue entry 9: a truncated stream reported as complete. An endpoint
// streams a body whose iterator may raise part-way (a database cursor that
// fails, a generator with a bug), behind a pass-through BaseHTTPMiddleware.
//
// Kludex/starlette PR #2812 (0.46.0, "Raise exception from background task on
// BaseHTTPMiddleware") moved `raise app_exc` from the end of call_next's
// body_stream() to after the middleware's task group (base.py at 0.45.3 and
// 0.46.0; unchanged in this respect to 1.3.1). Since then, when the
// downstream app raises mid-body, body_stream() sees only the end of the
// stream and stops quietly; the outer _StreamingResponse then sends its
// closing `http.response.body` (b"", more_body=False), uvicorn writes the
// chunked terminator, and only afterwards does the exception reach the
// server. The client reads a 200 whose body ends early as a complete
// response. Before 0.46.0, body_stream() raised app_exc itself: no final
// message, the server closes the connection, and the client sees the
// response cut short. Found by random-stack and checked on the real code
// (Starlette 0.46.0 to 1.3.1 with anyio 4.14.2 behind uvicorn 0.51 h11); no
// upstream report found as of 2026-12.
#include <memory>
#include <optional>
#include <string>

#include <fmt/format.h>

#include "asgisim/core/request.hpp"
#include "asgisim/core/response.hpp"
#include "catalogue.hpp"
#include "starlette_stack.hpp"

namespace asgisim::scenarios::catalogue {
namespace {

// Whether a stream fails, after how many chunks, and the pause between chunks.
constexpr sim::Label kFails{"stream.fails", sim::Stream::faults};
constexpr sim::Label kChunksBeforeFailure{"stream.chunks_before_failure", sim::Stream::other};
constexpr sim::Label kChunkPause{"stream.chunk_pause", sim::Stream::other};
constexpr std::uint64_t kChunksMax = 3;

class StreamError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// `async def rows(): for n in range(chunks): await sleep(pause); yield row(n)`,
// raising after `fail_after` rows when the stream fails. The error is
// reported before it is raised, as request_response reports an endpoint's.
core::BodyIterator rows(core::RequestId request, std::optional<std::uint64_t> fail_after,
                        sim::Nanoseconds pause_ns) {
  auto sent = std::make_shared<std::uint64_t>(0);
  return [sent, request, fail_after, pause_ns]() -> std::optional<core::Bytes> {
    await_work(pause_ns);
    if (fail_after && *sent == *fail_after) {
      const std::string what = fmt::format("StreamError: the cursor failed after {} row(s)", *sent);
      core::observe({.kind = core::ObservationKind::error_raised,
                     .request = request,
                     .layer = "endpoint",
                     .detail = what,
                     .reporter = core::Reporter::endpoint});
      throw StreamError(what);
    }
    if (*sent == kChunksMax) return std::nullopt;
    return fmt::format("row {}\n", (*sent)++);
  };
}

class TruncatedStream final : public Scenario {
 public:
  const ScenarioInfo& info() const override { return info_; }

  void build(RunContext& run) const override {
    const core::StreamingBehaviour streaming = run.stack.streaming;
    const core::Endpoint endpoint = [streaming](core::Request& request) {
      sim::Simulation& sim = sim::Simulation::current();
      std::optional<std::uint64_t> fail_after;
      if (sim.buggify(kFails, 0.5)) fail_after = sim.choose(kChunksBeforeFailure, kChunksMax + 1);
      const sim::Nanoseconds pause_ns = choose_duration(kChunkPause, {0, sim::kMillisecond});
      return core::StreamingResponse(rows(request.scope().request_id, fail_after, pause_ns),
                                     {.media_type = "text/plain"}, streaming);
    };
    const core::App app =
        starlette_app(run.observer, endpoint, {base_http_layer(run, core::passthrough_dispatch())});
    spawn_traffic(run, app, {.clients_max = 2, .requests_max = 2});
  }

 private:
  ScenarioInfo info_{
      .name = "truncated-stream",
      .title =
          "A StreamingResponse that raises mid-body behind BaseHTTPMiddleware reaches the client complete",
      .upstream =
          "Kludex/starlette PR #2812 (0.46.0) moved BaseHTTPMiddleware's re-raise after the response; no "
          "upstream report as of 2026-12 (found by random-stack)",
      .buggy = {.versions = {.starlette = "0.46.2"},
                .summary = "BaseHTTPMiddleware reraise_once (Starlette 0.46.2; 0.46.0 on, PR #2812): the "
                           "outer response sends its final body, then the error is raised"},
      .fixed = {.versions = {.starlette = "0.45.3"},
                .summary = "BaseHTTPMiddleware dispatch_background (Starlette 0.45.3): body_stream raises "
                           "the error mid-body, no final body; the server closes the connection"},
      .invariants = with_protocol_invariants({"truncated-not-complete", "no-swallowed-error"}),
      .steps_max = 200'000,
      .time_max_ns = 60 * sim::kSecond,
  };
};

}  // namespace

std::unique_ptr<Scenario> make_truncated_stream() { return std::make_unique<TruncatedStream>(); }

}  // namespace asgisim::scenarios::catalogue
