// The observation spine of the model. Every layer (server, client, validators
// at ASGI boundaries, responses, background tasks, middleware, thread pool)
// reports what happens as Observations to one Observer per run; Checkers
// subscribe to it and report Violations with an invariant id (DESIGN.md's
// table) and the layer to blame. The protocol validator is one Checker; the
// scenario layer adds one per invariant on the same interface.
//
// The run's Observer is ambient: observe_run(sim, observer) installs it on
// the Simulation (the Server does, for the observer it is given), and any
// layer reports with core::observe(observation), without a pointer of its
// own, so no layer can be left unwired inside a run:
//
//   Observer observer;
//   observer.emplace<ProtocolValidator>();
//   Server server(sim, observer, app);        // installs `observer` on `sim`
//   ... inside the run, anywhere:  observe({.kind = ..., .reporter = Reporter::middleware});
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "asgisim/core/asgi.hpp"
#include "asgisim/sim/types.hpp"

namespace asgisim::sim {
class Simulation;
}  // namespace asgisim::sim

namespace asgisim::core {

using RequestId = std::uint64_t;  // numbered by the server in arrival order, from 1

enum class ObservationKind : std::uint8_t {
  // A message crossing an ASGI boundary. `layer` names the boundary as
  // "outer->inner" (e.g. "server->ServerErrorMiddleware").
  received,  // the inner app's receive() returned `message`
  sent,      // the inner app called send(message)
  // Server side.
  request_started,     // the server started the app call for a request
  app_returned,        // the app call returned normally
  app_raised,          // the app call raised; `detail` has the exception
  response_completed,  // the server saw the final body message (more_body=false)
  connection_closed,   // the server closed the connection; `detail` says why
  server_500,          // the server answered 500 on the app's behalf
  send_dropped,        // a send after disconnect was dropped silently
  protocol_error,      // the server raised ProtocolError into the app; `detail` has the message
  // Client side.
  client_sent_request,  // all request body bytes sent
  client_disconnected,  // the client closed the connection; `detail` says when
  client_got_start,     // the client received the status line; `value` = status
  client_got_body,      // body bytes arrived; `value` = byte count
  client_got_complete,  // the response ended properly
  // Work the stack does on the request's behalf.
  background_scheduled,  // `detail` names the task
  background_started,
  background_finished,     // ran to the end
  background_cancelled,    // was cancelled / killed before the end
  context_entered,         // a context manager (`async with` / `with`) entered; `detail` names it
  context_exited,          // its exit ran to the end; `value` = 1 if it saw a cancellation
  context_exit_cancelled,  // its exit was itself cut short by cancellation
  error_raised,            // an endpoint or middleware raised; `detail` has it
  iterator_closed,         // an async generator's `finally` runs (async_generator.hpp); `layer` names
                           // it, `detail` says how ("exhausted", "raised: ...", "GeneratorExit"),
                           // `value` who ran it (GeneratorCloser: 0 inline, 1 finalizer, 2 shutdown)
  // Threads and memory.
  thread_started,   // a worker thread started; `value` = threads now
  thread_stopped,   // a worker thread exited; `value` = threads now
  memory_retained,  // retained bytes changed; `value` = bytes now
};

std::string_view to_string(ObservationKind kind);

// What kind of layer made an observation. Checkers classify observations by
// this, never by the text of `layer` (which names the layer for reports).
enum class Reporter : std::uint8_t {
  other,            // a scenario's or test's own code
  boundary,         // a protocol validator at an ASGI boundary (received / sent)
  server,           // the server
  client,           // a client
  endpoint,         // an endpoint (request_response, a FastAPI route)
  dependency,       // a FastAPI dependency
  middleware,       // a middleware's own code (errors, BaseHTTPMiddleware, ...)
  context_manager,  // an `async with` / `with` around downstream work
  background_task,  // a Starlette BackgroundTask
  thread_pool,      // a thread pool's accounting (threads, memory)
};

std::string_view to_string(Reporter reporter);

struct Observation {
  ObservationKind kind = ObservationKind::received;
  sim::Nanoseconds time_ns = 0;
  RequestId request = 0;             // 0 when not tied to one request
  std::string layer{};               // who reports (or the boundary, for messages)
  std::optional<Message> message{};  // for received / sent
  std::string detail{};
  std::uint64_t value = 0;
  Reporter reporter = Reporter::other;
};

struct Violation {
  std::string invariant{};  // an id from DESIGN.md's table, e.g. "start-once"
  std::string layer{};      // the layer to blame
  RequestId request = 0;
  sim::Nanoseconds time_ns = 0;
  std::string detail{};
  bool warning = false;  // reported but not a failure (e.g. no-send-after-disconnect)
  // Records in the run's trace when it was reported (0 outside a run, e.g.
  // at the end): it follows record number trace_records - 1. For reports.
  std::uint64_t trace_records = 0;
};

class Observer;

class Checker {
 public:
  virtual ~Checker() = default;
  virtual void observe(const Observation& observation, Observer& observer) = 0;
  // Called once when the run has ended, for invariants judged at the end
  // (every background task completed, every request answered, ...).
  virtual void finish(Observer& observer) { (void)observer; }
};

class Observer {
 public:
  void add(std::unique_ptr<Checker> checker) { checkers_.push_back(std::move(checker)); }
  template <class C, class... Args>
  C& emplace(Args&&... args) {
    auto owned = std::make_unique<C>(std::forward<Args>(args)...);
    C& ref = *owned;
    checkers_.push_back(std::move(owned));
    return ref;
  }

  // Stamps the virtual time (and notes the observation in the run's trace
  // when a simulation is running), then shows it to every checker.
  void observe(Observation observation);
  void report(Violation violation);
  void finish();

  const std::vector<Violation>& violations() const { return violations_; }
  // The first violation that is not a warning, if any.
  const Violation* first_failure() const;
  // Everything observed, in order (kept for reports and differential tests).
  const std::vector<Observation>& log() const { return log_; }
  void set_keep_log(bool keep) { keep_log_ = keep; }

 private:
  std::vector<std::unique_ptr<Checker>> checkers_;
  std::vector<Violation> violations_;
  std::vector<Observation> log_;
  bool keep_log_ = true;
  bool finished_ = false;
};

// ---- the run's observer, ambient ------------------------------------------------

// Makes `observer` the observer of every run of `sim`: core::observe() in
// code running inside `sim` reaches it. A Simulation has one observer: the
// same one again is a no-op, another one is a UsageError. The observer must
// outlive the Simulation's run.
void observe_run(sim::Simulation& sim, Observer& observer);

// The observer of the simulation running on this thread; nullptr outside a
// run or when nothing was installed.
Observer* current_observer();

// Reports to the current observer. Outside a run, or in a run that nothing
// observes (a unit test of one layer without a server), it does nothing:
// that is by design, a run with a server is always observed.
void observe(Observation observation);

}  // namespace asgisim::core
