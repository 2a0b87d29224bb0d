// The server side of one differential case: uvicorn's RequestResponseCycle
// reduced to CASE_FORMAT.md section 1.3, line for line as asgi_server.py has
// it (the model's own core/server.hpp is not used: its client sends body
// chunks on its own schedule, and differential runs need the scripted one).
// receive() hands out one http.request per client chunk and yields only while
// waiting for the response to complete; send() never yields; disconnects
// happen inside the call that triggers them.
//
//   Recorder record;
//   UvicornHarness harness(the_case, record);
//   sim.spawn("run_asgi", [&] { harness.run_asgi(app); });
#pragma once

#include <cstdint>
#include <string>

#include "asgisim/core/asgi.hpp"
#include "asgisim/core/server.hpp"
#include "asgisim/sim/cancel.hpp"
#include "asgisim/sim/simulation.hpp"
#include "case.hpp"
#include "recorder.hpp"

namespace asgisim::differential {

class UvicornHarness {
 public:
  UvicornHarness(const Case& the_case, Recorder& record);
  UvicornHarness(const UvicornHarness&) = delete;
  UvicornHarness& operator=(const UvicornHarness&) = delete;

  core::Scope& scope() { return scope_; }
  core::Message receive();
  void send(core::Message message, const char* origin);
  // uvicorn's run_asgi: the app call, then the 500 or the connection close.
  void run_asgi(const core::App& app);
  // Spawns run_asgi(app) as the runner does it, `with anyio.move_on_after(
  // timebox_s): await cycle.run_asgi(app)`, with the recording stopped when
  // the time box expires. `app` must outlive the run.
  void spawn_run_asgi(sim::Simulation& simulation, const core::App& app);

 private:
  void client_disconnects();
  void send_500_response();

  const Case& case_;
  Recorder& record_;
  core::Scope scope_{};
  bool disconnected_ = false;
  std::size_t chunks_given_ = 0;          // request-body chunks handed to the app
  bool body_done_ = false;                // the app has received more_body=false
  std::uint64_t messages_delivered_ = 0;  // messages the client received, any origin
  bool response_started_ = false;
  bool response_complete_ = false;
  core::detail::AsyncioEvent message_event_{"message_event"};
  sim::CancelScope* server_scope_ = nullptr;
};

}  // namespace asgisim::differential
