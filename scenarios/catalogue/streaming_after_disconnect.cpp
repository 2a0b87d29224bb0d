// Catalogue scenario 8: a streaming response that keeps producing after its
// client left. An `async def` endpoint returns a StreamingResponse over an
// endless event stream (server-sent events: a tick every interval until the
// client goes away); every client watches for a while and leaves. Starlette
// 0.42 dropped StreamingResponse's disconnect listener when the server
// advertises ASGI spec_version 2.4, relying on `send` to raise once the client
// is gone; uvicorn 0.28.1 to 0.32.0 advertised 2.4 yet dropped such sends
// silently, so nothing ever stops the stream. uvicorn 0.32.1 (PR #2513) went
// back to 2.3, and Starlette listens again.
//
// The stream never ends by itself, so a run ends only when every stream was
// stopped: a stack that cannot stop one runs into the run's budgets, which
// are small so that this is found in milliseconds.
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>

#include <fmt/format.h>

#include "asgisim/core/client.hpp"
#include "asgisim/core/endpoints.hpp"
#include "asgisim/core/response.hpp"
#include "asgisim/core/server.hpp"
#include "asgisim/scenarios/scenario.hpp"
#include "catalogue.hpp"

namespace asgisim::scenarios {
namespace {

constexpr std::uint64_t kClientsMax = 3;
// The event source's tick (one per run: the endpoint's polling interval).
constexpr sim::Nanoseconds kTickChoicesNs[] = {sim::kMillisecond, 10 * sim::kMillisecond,
                                               100 * sim::kMillisecond};
// A client watches this many events at most, or for at most this long.
constexpr std::uint64_t kEventsWatchedMax = 8;
constexpr std::uint64_t kWatchStepsMax = 20;
constexpr sim::Nanoseconds kWatchStepNs = 50 * sim::kMillisecond;
// A client arrives within this many steps of 10 ms.
constexpr std::uint64_t kArrivalStepsMax = 10;

constexpr sim::Label kClientsLabel{"streaming.clients", sim::Stream::clients};
constexpr sim::Label kArrivalLabel{"streaming.arrival", sim::Stream::clients};
constexpr sim::Label kLeaveLabel{"streaming.leave", sim::Stream::clients};
constexpr sim::Label kTickLabel{"streaming.tick", sim::Stream::other};

// What one stream produced, for the report: a stream whose last event is
// close to the end of a run that hit its budget was still producing.
struct StreamRecord {
  std::uint64_t events = 0;
  sim::Nanoseconds last_event_ns = 0;
};

// `async def events(): while True: await sleep(tick); yield f"data: {n}\n\n"`.
core::BodyIterator event_stream(sim::Nanoseconds tick_ns, StreamRecord& record) {
  return [&record, tick_ns]() -> std::optional<core::Bytes> {
    sim::sleep(tick_ns);
    record.last_event_ns = sim::now();
    return fmt::format("data: tick {}\n\n", ++record.events);
  };
}

// When a client leaves: after the headers, after some events, or after a
// while. Never "after the response completed": the stream does not end.
core::Disconnect choose_leave(sim::Simulation& sim) {
  switch (sim.choose(kLeaveLabel, 3)) {
    case 0:
      return {.point = core::DisconnectPoint::after_start};
    case 1:
      return {.point = core::DisconnectPoint::after_body_chunks,
              .count = 1 + sim.choose(kLeaveLabel, kEventsWatchedMax)};
    default:
      return {.point = core::DisconnectPoint::after_delay,
              .delay_ns =
                  static_cast<sim::Nanoseconds>(1 + sim.choose(kLeaveLabel, kWatchStepsMax)) * kWatchStepNs};
  }
}

struct Deployment {
  std::unique_ptr<core::Server> server{};
  std::deque<StreamRecord> streams{};  // one per request, stable addresses
};

void spawn_clients(RunContext& run, const std::shared_ptr<Deployment>& deployment) {
  sim::Simulation& sim = run.sim;
  const std::uint64_t clients = 1 + sim.choose(kClientsLabel, kClientsMax);
  for (std::uint64_t i = 1; i <= clients; ++i) {
    const sim::Nanoseconds arrival_ns =
        static_cast<sim::Nanoseconds>(sim.choose(kArrivalLabel, kArrivalStepsMax)) * 10 * sim::kMillisecond;
    const core::Disconnect leave = choose_leave(sim);
    sim.spawn(fmt::format("client {}", i), [&sim, &observer = run.observer, deployment, arrival_ns, leave] {
      sim.sleep(arrival_ns);
      core::Client client(*deployment->server, observer);
      client.request(core::RequestSpec{
          .path = "/events", .headers = {{"accept", "text/event-stream"}}, .disconnect = leave});
      client.close();
    });
  }
}

class StreamingAfterDisconnect final : public Scenario {
 public:
  const ScenarioInfo& info() const override { return kInfo; }

  void build(RunContext& run) const override {
    const sim::Nanoseconds tick_ns = kTickChoicesNs[run.sim.choose(kTickLabel, std::size(kTickChoicesNs))];
    const core::StreamingBehaviour behaviour = run.stack.streaming;
    auto deployment = std::make_shared<Deployment>();
    // The app refers to the deployment that owns its server (no cycle); the
    // deployment outlives the run (run.describe holds it).
    core::App app = core::request_response(
        [tick_ns, behaviour, streams = &deployment->streams](core::Request&) -> core::Response {
          StreamRecord& record = streams->emplace_back();
          return core::StreamingResponse(event_stream(tick_ns, record), {.media_type = "text/event-stream"},
                                         behaviour);
        });
    deployment->server =
        std::make_unique<core::Server>(run.sim, run.observer, std::move(app), run.stack.server);
    spawn_clients(run, deployment);
    run.describe = [deployment, server_options = run.stack.server, behaviour, tick_ns] {
      std::string text = fmt::format(
          "server advertises spec_version {}, send after disconnect: {}; StreamingResponse: {}; tick {} ms\n",
          server_options.spec_version,
          server_options.send_after_disconnect == core::SendAfterDisconnect::drop ? "dropped" : "raises",
          core::to_string(behaviour), tick_ns / sim::kMillisecond);
      for (std::size_t i = 0; i < deployment->streams.size(); ++i) {
        const StreamRecord& stream = deployment->streams[i];
        text += fmt::format("stream {}: {} events, the last at {} ms\n", i + 1, stream.events,
                            stream.last_event_ns / sim::kMillisecond);
      }
      return text;
    };
  }

 private:
  static inline const ScenarioInfo kInfo{
      .name = "streaming-after-disconnect",
      .title = "an endless StreamingResponse keeps producing after its client left",
      .upstream =
          "encode/starlette 0.42.0 (no disconnect listener at spec_version 2.4); fixed by "
          "encode/uvicorn#2513 (0.32.1)",
      .buggy = {.versions = {.starlette = "0.42.0", .uvicorn = "0.32.0"},
                .summary =
                    "Starlette 0.42 without a listener behind uvicorn 0.32.0 (spec 2.4, sends dropped)"},
      .fixed = {.versions = {.starlette = "0.42.0", .uvicorn = "0.32.1"},
                .summary = "uvicorn 0.32.1 advertises spec 2.3: Starlette 0.42 listens for http.disconnect"},
      .invariants = {"response-complete", "no-send-after-disconnect"},
      // Every client is gone within about a second (1.1 s and 6,100 steps at
      // most over 2,000 seeds of the fixed stack): a stream still running
      // after 5 s or 20,000 steps will never stop.
      .steps_max = 20'000,
      .time_max_ns = 5 * sim::kSecond,
  };
};

}  // namespace

std::unique_ptr<Scenario> catalogue::make_streaming_after_disconnect() {
  return std::make_unique<StreamingAfterDisconnect>();
}

}  // namespace asgisim::scenarios
