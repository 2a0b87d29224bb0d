// Catalogue entry 5: an orphaned body iterator. dispatch calls call_next and
// returns a different response without reading the streaming one it got, so
// the downstream app blocks sending its first body chunk into the
// middleware's zero-buffer stream. Before 0.21 the task group's cancellation
// gets it out of there by killing it (its background task and its session's
// exit with it); since #1715 the stream is closed once the outer response is
// sent and the downstream sends are swallowed, so it must run to the end and
// never block forever.
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "asgisim/core/request.hpp"
#include "asgisim/core/response.hpp"
#include "catalogue.hpp"
#include "starlette_stack.hpp"

namespace asgisim::scenarios::catalogue {
namespace {

constexpr sim::Label kChunks{"stream.chunks", sim::Stream::other};
constexpr sim::Label kChunkWork{"stream.chunk_work", sim::Stream::other};
constexpr sim::Label kWork{"background.work", sim::Stream::other};

// `await call_next(request); return PlainTextResponse("Custom")`: the
// downstream response is never read.
core::Response discarding_dispatch(core::Request& request, const core::CallNext& call_next) {
  call_next(request);
  return core::PlainTextResponse("Custom");
}

// 1 to 4 chunks, each produced after a chosen pause.
core::BodyIterator chunk_iterator() {
  const std::uint64_t count = 1 + sim::Simulation::current().choose(kChunks, 4);
  auto produced = std::make_shared<std::uint64_t>(0);
  return [count, produced]() -> std::optional<core::Bytes> {
    if (*produced == count) return std::nullopt;
    await_work(choose_duration(kChunkWork, {0, sim::kMillisecond}));
    ++*produced;
    return core::Bytes("chunk ") + std::to_string(*produced) + "\n";
  };
}

class OrphanedBodyIterator final : public Scenario {
 public:
  const ScenarioInfo& info() const override { return info_; }

  void build(RunContext& run) const override {
    core::Observer& observer = run.observer;
    const core::StreamingBehaviour streaming = run.stack.streaming;
    const core::Endpoint endpoint = [streaming](core::Request& request) {
      const sim::Nanoseconds work_ns = choose_duration(kWork, {0, sim::kMillisecond, 10 * sim::kMillisecond});
      return core::StreamingResponse(
          chunk_iterator(),
          {.background = core::BackgroundTask("audit", [work_ns] { await_work(work_ns); },
                                              {.request = request.scope().request_id})},
          streaming);
    };
    const core::App app =
        starlette_app(observer, endpoint, {base_http_layer(run, discarding_dispatch), session_layer()});
    spawn_traffic(run, app, {.clients_max = 2, .requests_max = 2});
  }

 private:
  ScenarioInfo info_{
      .name = "orphaned-body-iterator",
      .title = "dispatch returns another response without reading call_next's body",
      .upstream = "encode/starlette#1438, #1697 discussion; fixed by #1715 (0.21.0)",
      .buggy = {.versions = {.starlette = "0.20.4"},
                .summary = "BaseHTTPMiddleware cancel (Starlette 0.20.4): the blocked downstream app is "
                           "cancelled, its background task and session exit with it"},
      .fixed = {.versions = {.starlette = "0.29.0"},
                .summary = "BaseHTTPMiddleware fixed (Starlette 0.29.0): the stream is closed after the "
                           "response, downstream sends are swallowed and it runs to the end"},
      .invariants = with_protocol_invariants({"background-complete", "cleanup-runs"}),
      .steps_max = 200'000,
      .time_max_ns = 60 * sim::kSecond,
  };
};

}  // namespace

std::unique_ptr<Scenario> make_orphaned_body_iterator() { return std::make_unique<OrphanedBodyIterator>(); }

}  // namespace asgisim::scenarios::catalogue
