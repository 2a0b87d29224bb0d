// Helpers of the uvicorn model's tests (server_test, server_response_test):
// running a body in a fresh simulation, a minimal response, and reading the
// server's observations.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "asgisim/core/asgi.hpp"
#include "asgisim/core/observe.hpp"
#include "asgisim/sim/simulation.hpp"

namespace asgisim::core::server_test_support {

// Runs `body(sim)` as the only task of a fresh fifo simulation.
template <class Body>
sim::RunResult in_sim(Body&& body, sim::SimulationOptions options = {}) {
  sim::Simulation sim(options);
  sim.spawn("test", [&] { body(sim); });
  return sim.run();
}

inline void respond(const Send& send, int status = 200, Bytes body = "ok") {
  send(Message::start(status, {{"content-length", std::to_string(body.size())}}));
  send(Message::body_chunk(std::move(body)));
}

// The server's observations of one request, in order.
inline std::vector<ObservationKind> server_kinds(const Observer& observer, RequestId request) {
  std::vector<ObservationKind> kinds;
  for (const Observation& o : observer.log()) {
    if (o.request == request && o.layer == "uvicorn") kinds.push_back(o.kind);
  }
  return kinds;
}

inline const Observation* find(const Observer& observer, ObservationKind kind) {
  for (const Observation& o : observer.log()) {
    if (o.kind == kind) return &o;
  }
  return nullptr;
}

}  // namespace asgisim::core::server_test_support
